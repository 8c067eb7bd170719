// Indicators of compromise (MDE's /api/indicators): a filtered, paged grid; add and edit (POST
// upserts on type + value); delete one or many (BatchDelete); import a portal CSV or a STIX 2.x
// bundle, which Ward parses server-side (POST /api/indicators/import, text/csv or
// application/stix+json) with a result per row.
import { FilterSelect } from "./investigate/parts";
import { useMemo, useState } from "preact/hooks";
import { apiGet, apiSend, odata, odataString, type ODataList } from "../api/client";
import { can, useCan, useMe } from "../auth/access";
import { ConfirmDialog } from "../components/Dialog";
import { DataGrid, formatTime, type Column } from "../components/DataGrid";
import { Badge, Facts, Page } from "../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../components/States";
import type { PageProps } from "../routes";
import { setQuery } from "../router";
import { cellBadge, CheckList, closeDialog, isoToLocalInput, localInputToIso, Panel, usePanelSubmit } from "./configure/kit";

export interface Indicator {
  id: string;
  indicatorValue: string;
  indicatorType: string;
  action: string;
  title: string;
  description: string;
  severity: string;
  expirationTime: string | null;
  recommendedActions: string | null;
  rbacGroupNames: string[];
  rbacGroupIds: string[];
  generateAlert: boolean;
  createdBy: string | null;
  createdByDisplayName: string | null;
  creationTimeDateTimeUtc: string | null;
  lastUpdateTime: string | null;
  lastUpdatedBy: string | null;
  source: string | null;
  sourceType: string | null;
  externalID: string | null;
  application: string | null;
}

interface ImportResult {
  id: string | null;
  indicator: string;
  isFailed: boolean;
  failureReason: string | null;
}

// What Ward accepts (src/api/indicator_routes.cc).
export const indicatorTypes = ["FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "IpAddress", "DomainName", "Url"];
export const indicatorActions = ["Alert", "AlertAndBlock", "Block", "BlockAndRemediate", "Warn", "Audit", "Allowed"];
const severities = ["Informational", "Low", "Medium", "High"];
const PAGE = 100;

const valueHints: Record<string, string> = {
  FileSha1: "40 hex digits",
  FileSha256: "64 hex digits",
  FileMd5: "32 hex digits",
  CertificateThumbprint: "40 hex digits (SHA-1 thumbprint)",
  IpAddress: "IPv4 or IPv6 address, or a CIDR range such as 10.0.0.0/8",
  DomainName: "e.g. malicious.example.com",
  Url: "e.g. https://bad.example.com/path",
};

export function IndicatorsPage({ match }: PageProps) {
  const mayWrite = useCan(can.manageIndicators);
  const type = match.query.get("type") ?? "";
  const action = match.query.get("action") ?? "";
  const search = match.query.get("q") ?? "";
  const page = Number(match.query.get("page") ?? "0") || 0;
  const [searchText, setSearchText] = useState(search);
  const [sort, setSort] = useState<{ field: string; desc: boolean } | null>(null);
  const [selected, setSelected] = useState<Indicator[]>([]);
  const [editing, setEditing] = useState<Indicator | "new" | null>(null);
  const [importing, setImporting] = useState(false);
  const [deleting, setDeleting] = useState<Indicator[] | null>(null);

  const query = odata({
    filter: [
      type && `indicatorType eq ${odataString(type)}`,
      action && `action eq ${odataString(action)}`,
      search && `contains(tolower(indicatorValue), ${odataString(search.toLowerCase())})`,
    ].filter(Boolean) as string[],
    top: PAGE,
    skip: page * PAGE,
    count: true,
    orderby: sort ? `${sort.field} ${sort.desc ? "desc" : "asc"}` : "creationTimeDateTimeUtc desc",
  });
  const list = useAsync(() => apiGet<ODataList<Indicator>>(`/api/indicators${query}`), [query]);
  const total = list.data?.["@odata.count"] ?? 0;

  const columns = useMemo<Column<Indicator>[]>(
    () => [
      { field: "indicatorValue", headerName: "Value", flex: 2, minWidth: 170, tooltipField: "indicatorValue" },
      { field: "indicatorType", headerName: "Type", width: 120, flex: 0 },
      { field: "action", headerName: "Action", width: 135, flex: 0, cellRenderer: (p: { value: unknown }) => cellBadge(p.value) },
      { field: "severity", headerName: "Severity", width: 135, flex: 0, cellRenderer: (p: { value: unknown }) => cellBadge(p.value) },
      { field: "title", headerName: "Title", flex: 1.4, minWidth: 110, tooltipField: "title" },
      { field: "rbacGroupNames", headerName: "Device groups", sortable: false, minWidth: 110, valueFormatter: (p) => ((p.value as string[])?.length ? (p.value as string[]).join(", ") : "All") },
      { field: "expirationTime", headerName: "Expires", minWidth: 95, valueFormatter: (p) => formatTime(p.value) || "Never" },
      { field: "creationTimeDateTimeUtc", headerName: "Created", minWidth: 150, valueFormatter: (p) => formatTime(p.value) },
    ],
    [],
  );

  const applySearch = (e: Event) => {
    e.preventDefault();
    setQuery({ q: searchText.trim() || undefined, page: undefined });
  };
  const reload = () => {
    setSelected([]);
    list.reload();
  };

  return (
    <Page
      title="Indicators"
      subtitle="Files, IP addresses, domains, URLs and certificates the sensors alert on, block or allow."
      actions={
        mayWrite && (
          <>
            <button type="button" class="btn primary" data-testid="indicator-add" onClick={() => setEditing("new")}>
              Add indicator
            </button>
            <button type="button" class="btn" data-testid="indicator-import" onClick={() => setImporting(true)}>
              Import…
            </button>
          </>
        )
      }
    >
      <form class="toolbar" onSubmit={applySearch} role="search" aria-label="Filter indicators">
        <FilterSelect label="Type" name="type" testId="indicator-filter-type" value={type} anyLabel="All types"
          options={indicatorTypes.map((v) => ({ value: v, label: v }))} onChange={(v) => setQuery({ type: v, page: undefined })} />
        <FilterSelect label="Action" name="action" testId="indicator-filter-action" value={action} anyLabel="All actions"
          options={indicatorActions.map((v) => ({ value: v, label: v }))} onChange={(v) => setQuery({ action: v, page: undefined })} />
        <label class="field">
          Value contains
          <input type="search" data-testid="indicator-search" value={searchText} placeholder="hash, IP, domain, URL…" onInput={(e) => setSearchText((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="btn">Search</button>
        {(type || action || search) && (
          <button type="button" class="btn" onClick={() => { setSearchText(""); setQuery({ type: undefined, action: undefined, q: undefined, page: undefined }); }}>
            Clear filters
          </button>
        )}
        <span class="cfg-spacer" />
        {mayWrite && (
          <button type="button" class="btn danger" data-testid="indicator-bulk-delete" disabled={!selected.length} onClick={() => setDeleting(selected)}>
            Delete selected{selected.length ? ` (${selected.length})` : ""}
          </button>
        )}
        <button type="button" class="btn" onClick={reload}>Refresh</button>
      </form>

      {list.error !== undefined && list.error !== null ? (
        <ErrorBox error={list.error} retry={list.reload} />
      ) : list.data === undefined ? (
        <Loading what="Loading indicators" />
      ) : list.data.value.length === 0 && page === 0 ? (
        <Empty>{type || action || search ? "No indicator matches these filters." : "No indicators yet."}{mayWrite && !(type || action || search) && " Add one or import a CSV file or STIX bundle."}</Empty>
      ) : (
        <>
          <DataGrid<Indicator>
            rows={list.data.value}
            columns={columns}
            rowId={(r) => r.id}
            label="Indicators"
            testId="indicators-grid"
            height={520}
            onRowClick={(r) => setEditing(r)}
            onSelectionChange={mayWrite ? setSelected : undefined}
            onSortChange={setSort}
          />
          <div class="pager" data-testid="indicators-pager">
            <span>
              {total ? `${page * PAGE + 1}–${page * PAGE + list.data.value.length} of ${total}` : "0"}
              {list.loading && " · refreshing…"}
            </span>
            <button type="button" class="btn small" disabled={page === 0} onClick={() => setQuery({ page: page > 1 ? String(page - 1) : undefined })}>
              Previous
            </button>
            <button type="button" class="btn small" disabled={(page + 1) * PAGE >= total} onClick={() => setQuery({ page: String(page + 1) })}>
              Next
            </button>
          </div>
        </>
      )}

      {editing && (
        <IndicatorForm
          initial={editing === "new" ? null : editing}
          mayWrite={mayWrite}
          onClose={() => setEditing(null)}
          onSaved={reload}
          onDelete={(i) => {
            setEditing(null);
            setDeleting([i]);
          }}
        />
      )}
      {importing && <ImportPanel onClose={() => setImporting(false)} onImported={reload} />}
      {deleting && (
        <ConfirmDialog
          title={deleting.length === 1 ? "Delete indicator" : `Delete ${deleting.length} indicators`}
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            if (deleting.length === 1) {
              await apiSend("DELETE", `/api/indicators/${encodeURIComponent(deleting[0].id)}`);
            } else {
              for (let i = 0; i < deleting.length; i += 500) {
                await apiSend("POST", "/api/indicators/BatchDelete", { IndicatorIds: deleting.slice(i, i + 500).map((d) => d.id) });
              }
            }
            reload();
          }}
        >
          <p>
            {deleting.length === 1 ? (
              <>
                Sensors stop acting on <code>{deleting[0].indicatorValue}</code> ({deleting[0].indicatorType}).
              </>
            ) : (
              "Sensors stop acting on these indicators. All of them are deleted, or none if one cannot be."
            )}
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}

interface FormState {
  indicatorType: string;
  indicatorValue: string;
  action: string;
  title: string;
  description: string;
  severity: string;
  expiration: string;
  recommendedActions: string;
  rbacGroupNames: string[];
  generateAlert: boolean;
}

function IndicatorForm({ initial, mayWrite, onClose, onSaved, onDelete }: { initial: Indicator | null; mayWrite: boolean; onClose: () => void; onSaved: () => void; onDelete: (i: Indicator) => void }) {
  const me = useMe();
  const mayListGroups = useCan(can.manageSettings);
  const groups = useAsync<string[]>(
    async () =>
      mayListGroups
        ? (await apiGet<ODataList<{ name: string; isDefault: boolean }>>("/api/rbac/devicegroups")).value.map((g) => g.name)
        : me.deviceGroups.map((g) => g.name),
    [mayListGroups],
  );
  const [f, setF] = useState<FormState>(() => ({
    indicatorType: initial?.indicatorType ?? "FileSha256",
    indicatorValue: initial?.indicatorValue ?? "",
    action: initial?.action ?? "Alert",
    title: initial?.title ?? "",
    description: initial?.description ?? "",
    severity: initial?.severity || "Medium",
    expiration: isoToLocalInput(initial?.expirationTime),
    recommendedActions: initial?.recommendedActions ?? "",
    rbacGroupNames: initial?.rbacGroupNames ?? [],
    generateAlert: initial?.generateAlert ?? true,
  }));
  const set = (patch: Partial<FormState>) => setF((s) => ({ ...s, ...patch }));
  const readOnly = !mayWrite;

  const { busy, error, submit: save } = usePanelSubmit(
    () =>
      apiSend("POST", "/api/indicators", {
        indicatorType: f.indicatorType,
        indicatorValue: f.indicatorValue.trim(),
        action: f.action,
        title: f.title,
        description: f.description,
        severity: f.severity,
        expirationTime: localInputToIso(f.expiration),
        recommendedActions: f.recommendedActions,
        rbacGroupNames: f.rbacGroupNames,
        generateAlert: f.generateAlert,
      }),
    onSaved,
  );

  return (
    <Panel title={initial ? (readOnly ? "Indicator" : "Edit indicator") : "Add indicator"} onClose={onClose} side testId="indicator-form">
      <form onSubmit={save} class="cfg-form">
        <fieldset disabled={readOnly || busy} class="cfg-plain">
          <div class="cfg-two">
            <label class="field">
              Indicator type
              <select name="indicatorType" value={f.indicatorType} disabled={!!initial} onChange={(e) => set({ indicatorType: (e.target as HTMLSelectElement).value })}>
                {indicatorTypes.map((t) => (
                  <option key={t} value={t}>{t}</option>
                ))}
              </select>
            </label>
            <label class="field">
              Action
              <select name="action" value={f.action} onChange={(e) => set({ action: (e.target as HTMLSelectElement).value })}>
                {indicatorActions.map((a) => (
                  <option key={a} value={a}>{a}</option>
                ))}
              </select>
            </label>
          </div>
          <label class="field">
            Value
            <input name="indicatorValue" required value={f.indicatorValue} readOnly={!!initial} placeholder={valueHints[f.indicatorType]} onInput={(e) => set({ indicatorValue: (e.target as HTMLInputElement).value })} />
            <span class="muted small">{valueHints[f.indicatorType]}{initial ? " — type and value identify the indicator; add a new one to change them." : ""}</span>
          </label>
          <label class="field">
            Title
            <input name="title" required maxLength={512} value={f.title} onInput={(e) => set({ title: (e.target as HTMLInputElement).value })} />
          </label>
          <label class="field">
            Description
            <textarea name="description" rows={3} maxLength={4096} value={f.description} onInput={(e) => set({ description: (e.target as HTMLTextAreaElement).value })} />
          </label>
          <div class="cfg-two">
            <label class="field">
              Severity
              <select name="severity" value={f.severity} onChange={(e) => set({ severity: (e.target as HTMLSelectElement).value })}>
                {severities.map((s) => (
                  <option key={s} value={s}>{s}</option>
                ))}
              </select>
            </label>
            <label class="field">
              Expires (empty: never)
              <input name="expirationTime" type="datetime-local" value={f.expiration} onInput={(e) => set({ expiration: (e.target as HTMLInputElement).value })} />
            </label>
          </div>
          <label class="field">
            Recommended actions
            <textarea name="recommendedActions" rows={2} value={f.recommendedActions} onInput={(e) => set({ recommendedActions: (e.target as HTMLTextAreaElement).value })} />
          </label>
          <label class="cfg-check cfg-inline">
            <input type="checkbox" name="generateAlert" checked={f.generateAlert} onChange={(e) => set({ generateAlert: (e.target as HTMLInputElement).checked })} />
            <span>Generate an alert when a device matches{f.action === "Audit" && " (required for Audit)"}</span>
          </label>
          {groups.error ? (
            <ErrorBox error={groups.error} retry={groups.reload} />
          ) : groups.data === undefined ? (
            <Loading what="Loading device groups" />
          ) : (
            <CheckList
              legend="Device groups (none selected: all devices)"
              options={Array.from(new Set([...groups.data, ...f.rbacGroupNames])).map((g) => ({ value: g, label: g }))}
              selected={f.rbacGroupNames}
              onChange={(v) => set({ rbacGroupNames: v })}
              columns={2}
              testId="indicator-groups"
            />
          )}
        </fieldset>
        {initial && (
          <Facts
            items={[
              ["Created by", initial.createdByDisplayName ?? initial.createdBy ?? ""],
              ["Created", formatTime(initial.creationTimeDateTimeUtc)],
              ["Last update", `${formatTime(initial.lastUpdateTime)}${initial.lastUpdatedBy ? ` by ${initial.lastUpdatedBy}` : ""}`],
              ["Source", initial.sourceType ? `${initial.sourceType}${initial.source ? ` (${initial.source})` : ""}` : ""],
              ["External ID", initial.externalID ?? ""],
            ]}
          />
        )}
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          {initial && mayWrite && (
            <button type="button" class="btn danger cfg-left" onClick={() => onDelete(initial)} data-testid="indicator-delete">
              Delete
            </button>
          )}
          <button type="button" class="btn" onClick={closeDialog}>
            {readOnly ? "Close" : "Cancel"}
          </button>
          {!readOnly && (
            <button type="submit" class="btn primary" disabled={busy} data-testid="indicator-save">
              {busy ? "Saving…" : initial ? "Save" : "Add"}
            </button>
          )}
        </div>
      </form>
    </Panel>
  );
}

type Format = "csv" | "stix";

const csvTemplate =
  "IndicatorType,IndicatorValue,ExpirationTime,Action,Severity,Title,Description,RecommendedActions,RbacGroups,Category,MitreTechniques,GenerateAlert\r\n" +
  'FileSha256,<64 hex digits>,,Alert,Medium,Known bad tool,"Seen in incident 42",,,,,TRUE\r\n';

function ImportPanel({ onClose, onImported }: { onClose: () => void; onImported: () => void }) {
  const [file, setFile] = useState<{ name: string; text: string; format: Format } | null>(null);
  const [readError, setReadError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [results, setResults] = useState<ImportResult[] | null>(null);

  const pick = async (input: HTMLInputElement) => {
    setResults(null);
    setError(null);
    setReadError(null);
    const f = input.files?.[0];
    if (!f) return setFile(null);
    if (f.size > 8 * 1024 * 1024) {
      setFile(null);
      return setReadError("The file is larger than 8 MB; split it (the server takes at most 500 indicators per import).");
    }
    const text = await f.text();
    const trimmed = text.replace(/^\uFEFF/, "").trimStart();
    let format: Format = /\.json$/i.test(f.name) || trimmed.startsWith("{") ? "stix" : "csv";
    if (format === "stix") {
      try {
        const parsed = JSON.parse(trimmed);
        if (parsed?.type !== "bundle") return setReadError('This JSON file is not a STIX 2.x bundle ("type": "bundle").');
      } catch (e) {
        return setReadError(`This file is not valid JSON: ${(e as Error).message}`);
      }
    }
    setFile({ name: f.name, text, format });
  };

  const summary = useMemo(() => (file ? describe(file.text, file.format) : ""), [file]);

  const run = async () => {
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const res = await apiSend<{ value: ImportResult[] }>(
        "POST",
        "/api/indicators/import",
        file.text,
        file.format === "csv" ? "text/csv" : "application/stix+json",
      );
      setResults(res.value);
      onImported();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const failed = results?.filter((r) => r.isFailed).length ?? 0;
  return (
    <Panel title="Import indicators" onClose={onClose} wide testId="indicator-import-panel">
      <p class="muted">
        A CSV file in the Defender portal's format (columns IndicatorType, IndicatorValue, ExpirationTime, Action, Severity, Title, Description,
        RecommendedActions, RbacGroups, Category, MitreTechniques, GenerateAlert; quoted fields may hold commas and line breaks), or a STIX 2.x bundle
        whose indicators use <code>[file:hashes.'SHA-256' = '…']</code>, <code>[ipv4-addr:value = '…']</code>, <code>[domain-name:value = '…']</code> or{" "}
        <code>[url:value = '…']</code> patterns (imported with the Alert action). At most 500 indicators per file; existing type + value pairs are updated.
      </p>
      <div class="toolbar">
        <label class="field">
          File (.csv or .json)
          <input type="file" accept=".csv,.json,.stix,text/csv,application/json" data-testid="indicator-import-file" onChange={(e) => pick(e.target as HTMLInputElement)} />
        </label>
        <button
          type="button"
          class="btn small"
          onClick={() => {
            const url = URL.createObjectURL(new Blob([csvTemplate], { type: "text/csv" }));
            const a = document.createElement("a");
            a.href = url;
            a.download = "indicators-template.csv";
            a.click();
            setTimeout(() => URL.revokeObjectURL(url), 1000);
          }}
        >
          Download CSV template
        </button>
      </div>
      {readError && <div class="state error" role="alert">{readError}</div>}
      {file && (
        <p data-testid="indicator-import-summary">
          <strong>{file.name}</strong>: {file.format === "csv" ? "CSV" : "STIX bundle"}, {summary}
        </p>
      )}
      {error !== null && <ErrorBox error={error} />}
      {results && (
        <div data-testid="indicator-import-results">
          <p>
            <Badge tone={failed ? "failed" : "succeeded"}>{results.length - failed} imported</Badge> {failed > 0 && <Badge tone="failed">{failed} failed</Badge>}
          </p>
          <div class="cfg-scroll">
            <table class="simple">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Indicator</th>
                  <th scope="col">Result</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {results.map((r, i) => (
                  <tr key={i} class={r.isFailed ? "cfg-row-failed" : ""}>
                    <td>{i + 1}</td>
                    <td class="mono cfg-break">{r.indicator || <span class="muted">—</span>}</td>
                    <td>{r.isFailed ? <Badge tone="failed">Failed</Badge> : <Badge tone="succeeded">Imported</Badge>}</td>
                    <td>{r.failureReason ?? (r.id ? <span class="muted">id {r.id}</span> : "")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
      <div class="dialog-buttons">
        <button type="button" class="btn" onClick={closeDialog}>
          {results ? "Close" : "Cancel"}
        </button>
        <button type="button" class="btn primary" disabled={!file || busy} onClick={run} data-testid="indicator-import-run">
          {busy ? "Importing…" : results ? "Import again" : "Import"}
        </button>
      </div>
    </Panel>
  );
}

// A one-line summary of what the file holds, before it is sent (the server does the real parsing).
function describe(text: string, format: Format): string {
  if (format === "stix") {
    try {
      const b = JSON.parse(text.replace(/^\uFEFF/, ""));
      const objects: { type?: string }[] = Array.isArray(b.objects) ? b.objects : [];
      const n = objects.filter((o) => o?.type === "indicator").length;
      return `${objects.length} objects, ${n} indicator${n === 1 ? "" : "s"}`;
    } catch {
      return "not readable";
    }
  }
  const rows = countCsvRecords(text);
  return rows <= 1 ? "no indicator rows" : `${rows - 1} indicator row${rows === 2 ? "" : "s"} after the header`;
}

// Counts CSV records, honouring quoted fields that hold commas, quotes ("") and line breaks.
export function countCsvRecords(text: string): number {
  let records = 0;
  let quoted = false;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') i++;
        else quoted = false;
      }
      continue;
    }
    if (c === '"') {
      quoted = true;
      any = true;
    } else if (c === "\n") {
      if (any) records++;
      any = false;
    } else if (c !== "\r" && c !== "\uFEFF") {
      any = true;
    }
  }
  if (any) records++;
  return records;
}
