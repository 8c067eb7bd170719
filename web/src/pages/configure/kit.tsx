// Small building blocks shared by the Respond/Configure screens (indicators, action center,
// streaming, onboarding and the settings pages): a modal panel, value-list and checkbox editors,
// polling and links.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { apiSend } from "../../api/client";
import { navigate } from "../../router";
import "../configure.css";

// A modal panel on <dialog>: focus moves into it, Escape closes it. `side` renders it as a drawer.
export function Panel(p: { title: string; onClose: () => void; children: ComponentChildren; side?: boolean; testId?: string; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog
      ref={ref}
      class={`dialog cfg-panel${p.side ? " cfg-drawer" : ""}${p.wide ? " cfg-wide" : ""}`}
      onClose={p.onClose}
      aria-labelledby="cfg-panel-title"
      data-testid={p.testId}
    >
      <div class="cfg-panel-head">
        <h2 id="cfg-panel-title">{p.title}</h2>
        <button type="button" class="btn small" aria-label="Close" onClick={() => ref.current?.close()}>
          ✕
        </button>
      </div>
      {p.children}
    </dialog>
  );
}

// Closes the <dialog> a button sits in (the dialog's onClose then unmounts it).
export function closeDialog(e: Event): void {
  (e.currentTarget as HTMLElement).closest("dialog")?.close();
}

// A list of string values edited as chips: type a value, Enter or "Add" appends it.
export function ValueList(p: { label: string; values: string[]; onChange: (v: string[]) => void; placeholder?: string; hint?: string; testId?: string; max?: number }) {
  const [text, setText] = useState("");
  const add = () => {
    const v = text.trim();
    if (!v || p.values.includes(v)) return setText("");
    p.onChange([...p.values, v]);
    setText("");
  };
  const full = p.max !== undefined && p.values.length >= p.max;
  return (
    <div class="field cfg-values" data-testid={p.testId}>
      <label>
        {p.label}
        <div class="cfg-values-input">
          <input
            value={text}
            placeholder={p.placeholder}
            disabled={full}
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                add();
              }
            }}
          />
          <button type="button" class="btn small" onClick={add} disabled={!text.trim() || full}>
            Add
          </button>
        </div>
      </label>
      {p.hint && <span class="muted small">{p.hint}</span>}
      {p.values.length > 0 && (
        <ul class="cfg-chips" aria-label={`${p.label} values`}>
          {p.values.map((v) => (
            <li key={v} class="cfg-chip">
              <span>{v}</span>
              <button type="button" aria-label={`Remove ${v}`} onClick={() => p.onChange(p.values.filter((x) => x !== v))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

// A group of checkboxes over named options.
export function CheckList(p: {
  legend: string;
  options: { value: string; label: string; hint?: string }[];
  selected: string[];
  onChange: (v: string[]) => void;
  disabled?: boolean;
  columns?: number;
  testId?: string;
  bulk?: boolean; // "All" and "None" buttons
}) {
  const toggle = (v: string, on: boolean) => p.onChange(on ? [...p.selected, v] : p.selected.filter((x) => x !== v));
  return (
    <fieldset class="cfg-checks" disabled={p.disabled} data-testid={p.testId}>
      <legend>{p.legend}</legend>
      {p.bulk && p.options.length > 1 && (
        <div class="cfg-bulk">
          <button type="button" class="btn small" onClick={() => p.onChange(Array.from(new Set([...p.selected, ...p.options.map((o) => o.value)])))}>
            All
          </button>
          <button type="button" class="btn small" onClick={() => p.onChange([])}>
            None
          </button>
        </div>
      )}
      {p.options.length === 0 && <span class="muted small">None available.</span>}
      <div class="cfg-checks-grid" style={{ gridTemplateColumns: `repeat(${p.columns ?? 1}, minmax(0, 1fr))` }}>
        {p.options.map((o) => (
          <label key={o.value} class="cfg-check" title={o.hint}>
            <input type="checkbox" checked={p.selected.includes(o.value)} onChange={(e) => toggle(o.value, (e.target as HTMLInputElement).checked)} />
            <span>
              {o.label}
              {o.hint && <span class="muted small cfg-check-hint">{o.hint}</span>}
            </span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

// Calls `fn` every `ms` while `active`; stops when the page unmounts or the tab is hidden.
export function useInterval(fn: () => void, ms: number, active = true): void {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => {
      if (!document.hidden) latest.current();
    }, ms);
    return () => clearInterval(t);
  }, [ms, active]);
}

// An absolute link the server built (download links) as a same-origin path, so it works behind the
// dev proxy and a reverse proxy alike.
export function sameOrigin(url: string): string {
  try {
    const u = new URL(url, location.origin);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Non-secure origins have no clipboard API: fall back to a selection copy.
    const ta = document.createElement("textarea");
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    return ok;
  }
}

export function CopyButton({ text, label = "Copy", testId }: { text: string; label?: string; testId?: string }) {
  const [done, setDone] = useState<boolean | null>(null);
  return (
    <button
      type="button"
      class="btn small"
      data-testid={testId}
      onClick={async () => {
        setDone(await copyText(text));
        setTimeout(() => setDone(null), 2000);
      }}
    >
      {done === true ? "Copied" : done === false ? "Copy failed" : label}
    </button>
  );
}

// A grid cell holding an in-app link (AG Grid cells are plain DOM).
export function cellLink(href: string, text: string): HTMLElement {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  a.addEventListener("click", (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    e.stopPropagation();
    navigate(href);
  });
  return a;
}

// A grid cell holding a badge.
export function cellBadge(value: unknown): HTMLElement | string {
  if (typeof value !== "string" || !value) return "";
  const s = document.createElement("span");
  s.className = `badge badge-${value.toLowerCase()}`;
  s.textContent = value;
  return s;
}

// <input type="datetime-local"> value ↔ ISO-8601 UTC.
export function isoToLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function localInputToIso(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// Debounces a value: the returned value follows `value` after `ms` of quiet.
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

// For async submit handlers: the event's currentTarget is gone after the first await, so the
// dialog is found up front.
export function closer(e: Event): () => void {
  const dialog = (e.currentTarget as HTMLElement | null)?.closest("dialog");
  return () => dialog?.close();
}

// A panel form's submit: runs `send`, then `onSaved` with its answer and closes the panel; a failure
// (the server's, or an Error `send` throws for its own checks) is shown and the form enabled again.
export function usePanelSubmit<T>(send: () => Promise<T>, onSaved: (answer: T) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const close = closer(e);  // before the first await: the event's target is gone afterwards
    setBusy(true);
    setError(null);
    try {
      const answer = await send();
      close();
      onSaved(answer);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

// Creates (POST to the collection) or, with an id, updates (PATCH) one entity of a management API.
export function saveEntity<T = unknown>(collection: string, id: string | number | undefined, body: unknown): Promise<T> {
  return id === undefined
    ? apiSend<T>("POST", collection, body as object)
    : apiSend<T>("PATCH", `${collection}/${encodeURIComponent(String(id))}`, body as object);
}
