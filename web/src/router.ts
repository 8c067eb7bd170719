// A small history router: routes are data (pattern → page), links push history entries, and the
// server answers index.html for any portal path, so deep links and reloads work.
import { useEffect, useState } from "preact/hooks";

export interface Match {
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
}

export function matchPattern(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/").filter(Boolean);
  const s = path.split("/").filter(Boolean);
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i].toLowerCase() !== s[i].toLowerCase()) return null;
  }
  return params;
}

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.dispatchEvent(new Event("ward:navigate"));
  window.scrollTo(0, 0);
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const read = () => ({ path: location.pathname, query: new URLSearchParams(location.search) });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const on = () => setLoc(read());
    window.addEventListener("popstate", on);
    window.addEventListener("ward:navigate", on);
    return () => {
      window.removeEventListener("popstate", on);
      window.removeEventListener("ward:navigate", on);
    };
  }, []);
  return loc;
}

// Replaces the query string without a new history entry (filters, paging).
export function setQuery(values: Record<string, string | undefined>): void {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === "") q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(location.pathname + (s ? `?${s}` : ""), true);
}
