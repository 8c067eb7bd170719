// Advanced hunting: a KQL editor (CodeMirror, completion from the schema), the schema browser, saved
// and shared queries, and the result as a grid, with a chart when the query ends with `render`.
// Queries run through MDE's POST /api/advancedqueries/run with the user's token, so a scoped user
// sees only the rows of devices in their device groups. The query is kept in the URL (?query=,
// base64url) so a link shares it, and the last one in localStorage.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, apiGet, apiSend } from "../api/client";
import { Page } from "../components/Page";
import { Empty, ErrorBox, useAsync } from "../components/States";
import type { PageProps } from "../routes";
import { KqlEditor, type EditorHandle } from "./hunting/editor";
import { setHighlightSchema, type HuntingSchema } from "./hunting/kql-language";
import { HuntResults, type HuntResult } from "./hunting/results";
import { SaveDialog, SavedQueries, type SavedQuery } from "./hunting/saved";
import { SchemaBrowser } from "./hunting/schema-browser";
import { examples } from "./hunting/examples";
import "./hunting/hunting.css";

const LAST_KEY = "ward.hunting.lastQuery";
const PANEL_KEY = "ward.hunting.panel";
const DEFAULT_QUERY = "DeviceProcessEvents\n| where Timestamp > ago(1d)\n| take 100";

export function encodeQuery(q: string): string {
  const bytes = new TextEncoder().encode(q);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeQuery(s: string): string {
  try {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return s; // not base64: the query itself
  }
}

function initialQuery(param: string | null): string {
  if (param) return decodeQuery(param);
  try {
    return localStorage.getItem(LAST_KEY) || DEFAULT_QUERY;
  } catch {
    return DEFAULT_QUERY;
  }
}

type Run =
  | { status: "idle" }
  | { status: "running"; id: string; started: number }
  | { status: "done"; result: HuntResult; elapsedMs: number; query: string }
  | { status: "error"; error: unknown; query: string };

type Tab = "schema" | "saved" | "examples";

export function HuntingPage({ match }: PageProps) {
  const param = match.query.get("query");
  const [query, setQueryText] = useState(() => initialQuery(param));
  const [load, setLoad] = useState(() => ({ text: query, seq: 0 }));
  const loadQuery = (q: string) => {
    setQueryText(q);
    setLoad((l) => ({ text: q, seq: l.seq + 1 }));
  };
  const [run, setRun] = useState<Run>({ status: "idle" });
  const [tab, setTab] = useState<Tab>("schema");
  const [panelOpen, setPanelOpen] = useState(() => localStorage.getItem(PANEL_KEY) !== "closed");
  const [filter, setFilter] = useState("");
  const [current, setCurrent] = useState<SavedQuery | null>(null);
  const [saving, setSaving] = useState<"save" | "saveas" | null>(null);
  const [copied, setCopied] = useState(false);
  const editor = useRef<EditorHandle | null>(null);
  const runRef = useRef<() => void>(() => {});
  const runButton = useRef<HTMLButtonElement>(null);

  const schema = useAsync(
    () =>
      apiGet<HuntingSchema>("/api/advancedhunting/schema").then((s) => {
        setHighlightSchema(s); // before the editor re-tokenizes with it
        return s;
      }),
    [],
  );
  const saved = useAsync(() => apiGet<{ value: SavedQuery[] }>("/api/advancedhunting/savedqueries").then((r) => r.value), []);

  // A link to /hunting?query=… while the page is open loads that query.
  useEffect(() => {
    if (param && decodeQuery(param) !== query) loadQuery(decodeQuery(param));
  }, [param]);

  useEffect(() => {
    localStorage.setItem(PANEL_KEY, panelOpen ? "open" : "closed");
  }, [panelOpen]);

  const remember = (q: string) => {
    try {
      localStorage.setItem(LAST_KEY, q);
    } catch {
      /* storage full or blocked: the URL still has it */
    }
    const u = new URL(location.href);
    u.searchParams.set("query", encodeQuery(q));
    history.replaceState(history.state, "", u.pathname + u.search);
  };

  const execute = async () => {
    const q = query;
    if (!q.trim() || run.status === "running") return;
    remember(q);
    const id = crypto.randomUUID();
    const started = performance.now();
    setRun({ status: "running", id, started });
    try {
      const result = await apiSend<HuntResult>("POST", "/api/advancedqueries/run", { Query: q, QueryId: id });
      setRun((r) => (r.status === "running" && r.id === id ? { status: "done", result, elapsedMs: performance.now() - started, query: q } : r));
    } catch (error) {
      setRun((r) => (r.status === "running" && r.id === id ? { status: "error", error, query: q } : r));
    }
  };
  runRef.current = execute;

  const cancel = async () => {
    if (run.status !== "running") return;
    try {
      await apiSend("DELETE", `/api/advancedhunting/queries/${run.id}`);
    } catch {
      /* it may have just finished; the run's own answer tells */
    }
  };

  const openQuery = (q: string, savedQuery: SavedQuery | null) => {
    loadQuery(q);
    setCurrent(savedQuery);
    remember(q);
    editor.current?.focus();
  };

  const copyLink = async () => {
    remember(query);
    try {
      await navigator.clipboard.writeText(location.href);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      prompt("Copy this link", location.href);
    }
  };

  const running = run.status === "running";
  const modified = current !== null && current.query !== query;

  return (
    <Page
      title="Advanced hunting"
      subtitle={current ? <>Saved query: <strong>{current.name}</strong>{modified ? " (modified)" : ""}</> : "Hunt across device telemetry with KQL"}
    >
      <div class={`hunt-layout ${panelOpen ? "" : "collapsed"}`}>
        {panelOpen && (
          <aside class="hunt-panel" aria-label="Schema and queries">
            <div class="hunt-panel-head">
              <div class="hunt-tabs" role="tablist" aria-label="Side panel">
                {(["schema", "saved", "examples"] as Tab[]).map((t) => (
                  <button
                    key={t}
                    type="button"
                    role="tab"
                    id={`hunt-tab-${t}`}
                    aria-selected={tab === t}
                    aria-controls="hunt-tabpanel"
                    class={tab === t ? "active" : ""}
                    onClick={() => setTab(t)}
                  >
                    {t === "schema" ? "Schema" : t === "saved" ? "Queries" : "Examples"}
                  </button>
                ))}
              </div>
              <button type="button" class="btn small" onClick={() => setPanelOpen(false)} aria-label="Collapse side panel" title="Collapse side panel">
                «
              </button>
            </div>
            <label class="field hunt-filter">
              <span class="sr-only-hunt">{tab === "schema" ? "Filter tables and columns" : "Filter queries"}</span>
              <input
                type="search"
                placeholder={tab === "schema" ? "Filter tables and columns" : "Filter queries"}
                value={filter}
                onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
              />
            </label>
            <div class="hunt-panel-body" role="tabpanel" id="hunt-tabpanel" aria-labelledby={`hunt-tab-${tab}`}>
              {tab === "schema" && <SchemaBrowser state={schema} filter={filter} onInsert={(n) => editor.current?.insert(n)} />}
              {tab === "saved" && (
                <SavedQueries
                  state={saved}
                  filter={filter}
                  currentId={current?.id ?? null}
                  onOpen={(q) => openQuery(q.query, q)}
                  onDeleted={(id) => {
                    if (current?.id === id) setCurrent(null);
                    saved.reload();
                  }}
                />
              )}
              {tab === "examples" && <Examples filter={filter} onOpen={(q) => openQuery(q, null)} />}
            </div>
          </aside>
        )}
        <div class="hunt-main">
          <div class="hunt-editor-wrap">
            <KqlEditor load={load} onChange={setQueryText} onRun={() => runRef.current()} schema={schema.data} handle={editor} onEscape={() => runButton.current?.focus()} />
          </div>
          <div class="toolbar hunt-actions">
            {!panelOpen && (
              <button type="button" class="btn" onClick={() => setPanelOpen(true)} aria-label="Show schema and queries panel">
                » Schema &amp; queries
              </button>
            )}
            <button ref={runButton} type="button" class="btn primary" onClick={execute} disabled={running || !query.trim()} data-testid="hunting-run" title="Run query (Ctrl+Enter)">
              {running ? "Running…" : "▶ Run query"}
            </button>
            {running && (
              <button type="button" class="btn" onClick={cancel}>
                Cancel
              </button>
            )}
            <span class="muted hunt-hint" id="hunt-keys" title="Ctrl+Enter or Shift+Enter runs the query, Ctrl+Space lists completions, Escape leaves the editor">
              Ctrl+Enter runs · Esc leaves editor
            </span>
            <span class="hunt-spacer" />
            {current?.canEdit && (
              <button type="button" class="btn" onClick={() => setSaving("save")} disabled={!query.trim()}>
                Save
              </button>
            )}
            <button type="button" class="btn" onClick={() => setSaving("saveas")} disabled={!query.trim()}>
              {current ? "Save as…" : "Save…"}
            </button>
            <button type="button" class="btn" onClick={copyLink} disabled={!query.trim()}>
              {copied ? "Link copied" : "Copy link"}
            </button>
            {current && (
              <button type="button" class="btn" onClick={() => setCurrent(null)} title="Detach the editor from the saved query">
                New query
              </button>
            )}
          </div>
          <div aria-live="polite" class="hunt-output">
            {run.status === "idle" && <Empty>Write a query and run it to see results here.</Empty>}
            {run.status === "running" && (
              <div class="state" role="status">
                <span class="spinner" aria-hidden="true" /> Running query…
              </div>
            )}
            {run.status === "error" && (
              <div data-testid="hunting-error">
                {run.error instanceof ApiError && run.error.status === 400 ? (
                  <div class="state error" role="alert">
                    <strong>{run.error.code === "QueryCancelled" ? "The query was cancelled." : "The query could not run."}</strong>{" "}
                    <span class="hunt-errmsg">{run.error.message}</span>
                  </div>
                ) : (
                  <ErrorBox error={run.error} retry={execute} />
                )}
              </div>
            )}
            {run.status === "done" && <HuntResults result={run.result} elapsedMs={run.elapsedMs} query={run.query} />}
          </div>
        </div>
      </div>
      {saving && (
        <SaveDialog
          existing={saving === "save" ? current : null}
          query={query}
          onSaved={(q) => {
            setCurrent(q);
            saved.reload();
            setTab("saved");
          }}
          onClose={() => setSaving(null)}
        />
      )}
    </Page>
  );
}

function Examples({ filter, onOpen }: { filter: string; onOpen: (q: string) => void }) {
  const f = filter.trim().toLowerCase();
  const list = examples.filter((e) => !f || e.name.toLowerCase().includes(f) || e.query.toLowerCase().includes(f));
  if (!list.length) return <Empty>No example matches “{filter}”.</Empty>;
  return (
    <ul class="hunt-list" data-testid="hunting-examples">
      {list.map((e) => (
        <li key={e.name}>
          <button type="button" class="hunt-item" onClick={() => onOpen(e.query)} title={e.query}>
            <span class="hunt-item-name">{e.name}</span>
            <span class="hunt-item-meta muted">{e.source}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}
