// Tabs with the ARIA tab pattern: a tablist of buttons (arrow keys, Home and End move between them),
// and one tabpanel labelled by the selected tab.
import type { ComponentChildren } from "preact";
import { useRef } from "preact/hooks";

export function Tabs({ label, tabs, current, onSelect, idPrefix, children }: {
  label: string;
  tabs: { id: string; label: string; badge?: ComponentChildren }[];
  current: string;
  onSelect: (id: string) => void;
  idPrefix: string;
  children: ComponentChildren;
}) {
  const list = useRef<HTMLDivElement>(null);
  const move = (e: KeyboardEvent) => {
    const i = tabs.findIndex((t) => t.id === current);
    let next = -1;
    if (e.key === "ArrowRight") next = (i + 1) % tabs.length;
    else if (e.key === "ArrowLeft") next = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = tabs.length - 1;
    if (next < 0) return;
    e.preventDefault();
    onSelect(tabs[next].id);
    requestAnimationFrame(() => list.current?.querySelector<HTMLButtonElement>(`#${idPrefix}-tab-${tabs[next].id}`)?.focus());
  };
  return (
    <>
      <div class="tabs" role="tablist" aria-label={label} ref={list} onKeyDown={move}>
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`${idPrefix}-tab-${t.id}`}
            aria-selected={t.id === current}
            aria-controls={`${idPrefix}-panel`}
            tabIndex={t.id === current ? 0 : -1}
            onClick={() => onSelect(t.id)}
          >
            {t.label}
            {t.badge}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${idPrefix}-panel`} aria-labelledby={`${idPrefix}-tab-${current}`}>
        {children}
      </div>
    </>
  );
}
