// Audit log (GET /api/auditlogs): every change made through the API (who, what, on which target,
// with what result), newest first, filtered with OData by time, actor, action and result, and paged.
import { useMemo, useState } from "preact/hooks";
import { apiGet, odata, odataString, type ODataList } from "../../api/client";
import { DataGrid, formatTime, type Column } from "../../components/DataGrid";
import { Badge, Facts, Page } from "../../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../../components/States";
import type { PageProps } from "../../routes";
import { setQuery } from "../../router";
import { cellBadge, isoToLocalInput, localInputToIso, Panel } from "../configure/kit";

interface AuditEntry {
  id: number;
  timestamp: string;
  actorType: string;
  actorId: string;
  actorName: string;
  action: string;
  target: string;
  result: string;
  httpStatus: number;
  requestId: string;
  details: string;
}

const PAGE = 100;
const ranges: [string, string][] = [
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
  ["all", "All time"],
  ["custom", "Custom range"],
];
const rangeMs: Record<string, number> = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };

// An OData datetime literal (whole seconds, UTC).
function odataTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, "Z");
}

export function AuditPage({ match }: PageProps) {
  const q = match.query;
  const range = q.get("range") ?? "7d";
  const from = q.get("from") ?? "";
  const to = q.get("to") ?? "";
  const actor = q.get("actor") ?? "";
  const action = q.get("action") ?? "";
  const result = q.get("result") ?? "";
  const actorType = q.get("actorType") ?? "";
  const page = Number(q.get("page") ?? "0") || 0;
  const [actorText, setActorText] = useState(actor);
  const [actionText, setActionText] = useState(action);
  const [detail, setDetail] = useState<AuditEntry | null>(null);
  // "Now" is fixed per query so paging through a range stays stable.
  const [now, setNow] = useState(() => Date.now());

  const filter: string[] = [];
  if (rangeMs[range]) filter.push(`timestamp ge ${odataTime(new Date(now - rangeMs[range]).toISOString())}`);
  if (range === "custom" && from) filter.push(`timestamp ge ${odataTime(from)}`);
  if (range === "custom" && to) filter.push(`timestamp le ${odataTime(to)}`);
  if (actor) filter.push(`contains(tolower(actorName), ${odataString(actor.toLowerCase())})`);
  if (action) filter.push(`contains(tolower(action), ${odataString(action.toLowerCase())})`);
  if (result) filter.push(`result eq ${odataString(result)}`);
  if (actorType) filter.push(`actorType eq ${odataString(actorType)}`);
  const query = odata({ filter, top: PAGE, skip: page * PAGE });
  const list = useAsync(() => apiGet<ODataList<AuditEntry>>(`/api/auditlogs${query}`), [query]);
  const rows = list.data?.value ?? [];
  const more = !!list.data?.["@odata.nextLink"];

  const columns = useMemo<Column<AuditEntry>[]>(
    () => [
      { field: "timestamp", headerName: "Time", width: 190, flex: 0, valueFormatter: (p) => formatTime(p.value), sortable: false },
      { field: "actorName", headerName: "Actor", flex: 1.2, sortable: false, tooltipField: "actorId" },
      { field: "actorType", headerName: "Actor type", width: 120, flex: 0, sortable: false },
      { field: "action", headerName: "Action", flex: 1.6, sortable: false, tooltipField: "action" },
      { field: "target", headerName: "Target", flex: 1.6, sortable: false, tooltipField: "target" },
      { field: "result", headerName: "Result", width: 110, flex: 0, sortable: false, cellRenderer: (p: { value: unknown }) => cellBadge(p.value) },
      { field: "httpStatus", headerName: "HTTP", width: 90, flex: 0, sortable: false },
    ],
    [],
  );

  const apply = (e: Event) => {
    e.preventDefault();
    setNow(Date.now());
    setQuery({ actor: actorText.trim() || undefined, action: actionText.trim() || undefined, page: undefined });
  };

  return (
    <Page title="Audit log" subtitle="Every change made through the portal and the API: who did what, to what, and whether it succeeded.">
      <form class="toolbar" onSubmit={apply} role="search" aria-label="Filter the audit log">
        <label class="field">
          Time
          <select data-testid="audit-range" value={range} onChange={(e) => { setNow(Date.now()); setQuery({ range: (e.target as HTMLSelectElement).value, page: undefined }); }}>
            {ranges.map(([v, l]) => (
              <option key={v} value={v}>{l}</option>
            ))}
          </select>
        </label>
        {range === "custom" && (
          <>
            <label class="field">
              From
              <input type="datetime-local" value={isoToLocalInput(from)} onChange={(e) => setQuery({ from: localInputToIso((e.target as HTMLInputElement).value) ?? undefined, page: undefined })} />
            </label>
            <label class="field">
              To
              <input type="datetime-local" value={isoToLocalInput(to)} onChange={(e) => setQuery({ to: localInputToIso((e.target as HTMLInputElement).value) ?? undefined, page: undefined })} />
            </label>
          </>
        )}
        <label class="field">
          Actor contains
          <input type="search" data-testid="audit-actor" value={actorText} placeholder="user or app name" onInput={(e) => setActorText((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          Action contains
          <input type="search" data-testid="audit-action" value={actionText} placeholder="e.g. indicators, DELETE" onInput={(e) => setActionText((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          Actor type
          <select value={actorType} onChange={(e) => setQuery({ actorType: (e.target as HTMLSelectElement).value || undefined, page: undefined })}>
            <option value="">Any</option>
            {["User", "Application", "Device", "System"].map((t) => (
              <option key={t} value={t}>{t}</option>
            ))}
          </select>
        </label>
        <label class="field">
          Result
          <select data-testid="audit-result" value={result} onChange={(e) => setQuery({ result: (e.target as HTMLSelectElement).value || undefined, page: undefined })}>
            <option value="">Any</option>
            <option value="Success">Success</option>
            <option value="Failure">Failure</option>
          </select>
        </label>
        <button type="submit" class="btn">Search</button>
        <span class="cfg-spacer" />
        <button type="button" class="btn" onClick={() => { setNow(Date.now()); list.reload(); }}>Refresh</button>
      </form>
      {list.error ? (
        <ErrorBox error={list.error} retry={list.reload} />
      ) : list.data === undefined ? (
        <Loading what="Loading the audit log" />
      ) : rows.length === 0 && page === 0 ? (
        <Empty>No audit entries match these filters.</Empty>
      ) : (
        <>
          <DataGrid<AuditEntry> rows={rows} columns={columns} rowId={(r) => String(r.id)} label="Audit log" testId="audit-grid" height={560} onRowClick={setDetail} />
          <div class="pager">
            <span>
              Entries {page * PAGE + 1}–{page * PAGE + rows.length}
              {list.loading && " · loading…"}
            </span>
            <button type="button" class="btn small" disabled={page === 0} onClick={() => setQuery({ page: page > 1 ? String(page - 1) : undefined })}>
              Newer
            </button>
            <button type="button" class="btn small" disabled={!more} onClick={() => setQuery({ page: String(page + 1) })} data-testid="audit-next">
              Older
            </button>
          </div>
        </>
      )}
      {detail && (
        <Panel title="Audit entry" onClose={() => setDetail(null)} side testId="audit-details">
          <p>
            <Badge tone={detail.result}>{detail.result}</Badge> <code>{detail.action}</code>
          </p>
          <Facts
            items={[
              ["Time", formatTime(detail.timestamp)],
              ["Actor", detail.actorName],
              ["Actor type", detail.actorType],
              ["Actor id", <code>{detail.actorId}</code>],
              ["Target", <code class="cfg-break">{detail.target}</code>],
              ["HTTP status", String(detail.httpStatus)],
              ["Request id", <code>{detail.requestId}</code>],
              ["Entry id", String(detail.id)],
            ]}
          />
          {detail.details && (
            <>
              <h3 class="cfg-h3">Details</h3>
              <pre class="cfg-pre">{prettyJson(detail.details)}</pre>
            </>
          )}
        </Panel>
      )}
    </Page>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
