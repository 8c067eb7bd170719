// Pieces the investigation screens share: the pager, labelled filter selects, and the list of
// filter values that the caller's own devices hold (device groups, OS platforms, tags).
import type { ComponentChildren } from "preact";
import { apiGetAll } from "../../api/client";
import { useMe } from "../../auth/access";
import { useAsync } from "../../components/States";
import type { Machine } from "./model";
import { words } from "./model";

export function Pager({ page, more, total, pageSize, onPage, busy }: {
  page: number; // 1-based
  more: boolean;
  total?: number;
  pageSize: number;
  onPage: (page: number) => void;
  busy?: boolean;
}) {
  const pages = total !== undefined ? Math.max(1, Math.ceil(total / pageSize)) : undefined;
  return (
    <nav class="pager" aria-label="Pages">
      {total !== undefined && <span data-testid="pager-total">{total.toLocaleString()} in all</span>}
      <button type="button" class="btn small" disabled={busy || page <= 1} onClick={() => onPage(page - 1)}>
        ‹ Previous
      </button>
      <span aria-live="polite" data-testid="pager-page">
        Page {page}{pages !== undefined ? ` of ${pages}` : ""}
      </span>
      <button type="button" class="btn small" disabled={busy || !more} onClick={() => onPage(page + 1)}>
        Next ›
      </button>
    </nav>
  );
}

// A labelled <select> with an "Any" first option; "" means no filter.
export function FilterSelect({ label, value, options, onChange, name, anyLabel = "Any", testId }: {
  label: string;
  testId?: string;
  name: string;
  value: string;
  options: (string | { value: string; label: string })[];
  onChange: (v: string) => void;
  anyLabel?: string;
}) {
  return (
    <label class="field">
      {label}
      <select name={name} data-testid={testId} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        <option value="">{anyLabel}</option>
        {options.map((o) => {
          const v = typeof o === "string" ? o : o.value;
          const l = typeof o === "string" ? words(o) : o.label;
          return (
            <option value={v} key={v}>{l}</option>
          );
        })}
      </select>
    </label>
  );
}

export interface Facets {
  groups: { id: number; name: string }[];
  platforms: string[];
  tags: string[];
}

// The filter values present on the devices this user may see: one scoped, narrow read of the
// device list. Device groups the user is granted but that hold no device come from /api/rbac/me.
export function useFacets() {
  const me = useMe();
  return useAsync<Facets>(async () => {
    const rows = await apiGetAll<Pick<Machine, "osPlatform" | "machineTags" | "rbacGroupId" | "rbacGroupName">>(
      "/api/machines?$select=osPlatform,machineTags,rbacGroupId,rbacGroupName",
    );
    const groups = new Map<number, string>();
    for (const g of me.deviceGroups) groups.set(g.id, g.name);
    const platforms = new Set<string>();
    const tags = new Set<string>();
    for (const r of rows) {
      if (r.rbacGroupId && r.rbacGroupName) groups.set(r.rbacGroupId, r.rbacGroupName);
      if (r.osPlatform) platforms.add(r.osPlatform);
      for (const t of r.machineTags ?? []) tags.add(t);
    }
    const byName = (a: string, b: string) => a.localeCompare(b);
    return {
      groups: [...groups].map(([id, name]) => ({ id, name })).sort((a, b) => byName(a.name, b.name)),
      platforms: [...platforms].sort(byName),
      tags: [...tags].sort(byName),
    };
  }, []);
}

export function Toolbar({ children, label }: { children: ComponentChildren; label: string }) {
  return (
    <div class="toolbar" role="search" aria-label={label}>
      {children}
    </div>
  );
}

// AG Grid cell renderers return DOM; a badge with the value's tone.
export function badgeHtml(value: string | null | undefined): HTMLElement {
  const span = document.createElement("span");
  if (value) {
    span.className = `badge badge-${value.toLowerCase()}`;
    span.textContent = words(value);
  }
  return span;
}
