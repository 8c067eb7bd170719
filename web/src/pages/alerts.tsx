// Alerts queue: the alerts this user may see (GET /api/alerts, scoped by device group on the server),
// filtered, sorted and paged by the server with OData; filters live in the URL. Triage users select
// alerts and update them together (POST /api/alerts/batchUpdate).
import { useMemo, useState } from "preact/hooks";
import { apiGetAll, apiSend, odata, odataString } from "../api/client";
import { can, useCan, useMe } from "../auth/access";
import { DataGrid, formatTime, type Column } from "../components/DataGrid";
import { Page } from "../components/Page";
import { Empty, ErrorBox, useAsync } from "../components/States";
import { navigate, setQuery } from "../router";
import type { PageProps } from "../routes";
import { alertCategories, alertStatuses, classifications, determinations, fetchPage, severities, words, type Alert, type PageResult } from "./investigate/model";
import { badgeHtml, FilterSelect, Pager, Toolbar, useFacets } from "./investigate/parts";
import "./investigate.css";

const pageSize = 50;
const defaultSort = { field: "alertCreationTime", desc: true };

export function AlertsPage({ match }: PageProps) {
  const me = useMe();
  const canTriage = useCan(can.triageAlerts);
  const q = match.query;
  const severity = q.get("severity") ?? "";
  const status = q.get("status") ?? "";
  const category = q.get("category") ?? "";
  const group = q.get("group") ?? "";
  const mine = q.get("mine") === "1";
  const sort = q.get("sort") ? { field: q.get("sort")!, desc: q.get("desc") === "1" } : defaultSort;
  const page = Math.max(1, Number(q.get("page") ?? "1") || 1);
  const facets = useFacets();
  const [selected, setSelected] = useState<Alert[]>([]);
  const [generation, setGeneration] = useState(0);
  const [notice, setNotice] = useState("");

  const request = useMemo(() => {
    const filter: string[] = [];
    if (severity) filter.push(`severity eq ${odataString(severity)}`);
    if (status === "open") filter.push("status ne 'Resolved'");
    else if (status) filter.push(`status eq ${odataString(status)}`);
    if (category) filter.push(`category eq ${odataString(category)}`);
    if (mine) filter.push(`assignedTo eq ${odataString(me.userPrincipalName)}`);
    const orderby = `${sort.field} ${sort.desc ? "desc" : "asc"}`;
    return { filter, orderby };
  }, [severity, status, category, mine, sort.field, sort.desc, me.userPrincipalName]);

  const list = useAsync<PageResult<Alert>>(async () => {
    if (!group) {
      return fetchPage<Alert>("/api/alerts" + odata({ ...request, top: pageSize, skip: (page - 1) * pageSize, count: true }));
    }
    // The API does not filter alerts by device group, so the group's alerts are picked from the
    // (server-filtered and -sorted) list here and paged locally.
    const all = (await apiGetAll<Alert>("/api/alerts" + odata(request))).filter((a) => a.rbacGroupName === group);
    const rows = all.slice((page - 1) * pageSize, page * pageSize);
    return { rows, total: all.length, more: page * pageSize < all.length };
  }, [request, group, page, generation]);

  const columns = useMemo<Column<Alert>[]>(() => {
    const cols: Column<Alert>[] = [
      { field: "title", headerName: "Title", minWidth: 260, flex: 3 },
      { field: "severity", headerName: "Severity", cellRenderer: (p: { value: string }) => badgeHtml(p.value), minWidth: 110 },
      { field: "status", headerName: "Status", cellRenderer: (p: { value: string }) => badgeHtml(p.value), minWidth: 110 },
      { field: "category", headerName: "Category", valueFormatter: (p) => words(p.value), minWidth: 140 },
      { field: "computerDnsName", headerName: "Device", minWidth: 160, flex: 1.4 },
      { field: "rbacGroupName", headerName: "Device group", minWidth: 130 },
      { field: "assignedTo", headerName: "Assigned to", minWidth: 140 },
      { field: "classification", headerName: "Classification", valueFormatter: (p) => words(p.value), minWidth: 130 },
      { field: "detectionSource", headerName: "Source", minWidth: 120 },
      { field: "alertCreationTime", headerName: "Created", valueFormatter: (p) => formatTime(p.value), minWidth: 170 },
    ];
    return cols.map((c) => (c.field === sort.field ? { ...c, sort: sort.desc ? "desc" : "asc" } : c));
  }, [generation]);

  const set = (values: Record<string, string | undefined>) => setQuery({ ...values, page: undefined });
  const anyFilter = severity || status || category || group || mine;
  const data = list.data;
  const statusOptions = [{ value: "open", label: "Open (not resolved)" }, ...alertStatuses.map((s) => ({ value: s, label: words(s) }))];
  const groups = (facets.data?.groups ?? []).map((g) => ({ value: g.name, label: g.name }));
  if (group && !groups.some((g) => g.value === group)) groups.unshift({ value: group, label: group });

  return (
    <Page title="Alerts" subtitle={data?.total !== undefined ? `${data.total.toLocaleString()} alert${data.total === 1 ? "" : "s"}${anyFilter ? " match" : ""}` : undefined}>
      <Toolbar label="Filter alerts">
        <FilterSelect label="Severity" name="severity" value={severity} options={severities} onChange={(v) => set({ severity: v })} />
        <FilterSelect label="Status" name="status" value={status} options={statusOptions} onChange={(v) => set({ status: v })} />
        <FilterSelect label="Category" name="category" value={category} options={alertCategories} onChange={(v) => set({ category: v })} />
        <FilterSelect label="Device group" name="group" value={group} options={groups} onChange={(v) => set({ group: v })} />
        <label class="check">
          <input type="checkbox" name="mine" checked={mine} onChange={(e) => set({ mine: (e.target as HTMLInputElement).checked ? "1" : undefined })} /> Assigned to me
        </label>
        {anyFilter && (
          <button type="button" class="btn" onClick={() => setQuery({ severity: undefined, status: undefined, category: undefined, group: undefined, mine: undefined, page: undefined })}>
            Clear filters
          </button>
        )}
      </Toolbar>
      {facets.error ? <ErrorBox error={facets.error} retry={facets.reload} /> : null}
      {canTriage && selected.length > 0 && (
        <BulkBar selected={selected} onDone={(n) => { setNotice(n); setSelected([]); setGeneration((g) => g + 1); }} />
      )}
      {notice && selected.length === 0 && <div class="notice" role="status" data-testid="bulk-notice">{notice}</div>}
      {list.error ? (
        <ErrorBox error={list.error} retry={list.reload} />
      ) : (
        <div class="grid-wrap" aria-busy={list.loading}>
          {list.loading && <div class="grid-loading" role="status"><span class="spinner" aria-hidden="true" /> Loading alerts…</div>}
          <DataGrid<Alert>
            key={generation}
            rows={data?.rows ?? []}
            columns={columns}
            rowId={(a) => a.id}
            label="Alerts"
            testId="alerts-grid"
            height={560}
            onRowClick={(a) => navigate(`/alerts/${encodeURIComponent(a.id)}`)}
            onSelectionChange={canTriage ? setSelected : undefined}
            onSortChange={(s) => setQuery({ sort: s?.field ?? defaultSort.field, desc: (s ? s.desc : defaultSort.desc) ? "1" : undefined, page: undefined })}
          />
          {data && data.rows.length === 0 && <Empty>{anyFilter ? "No alert matches these filters." : "No alerts. Detections on your devices appear here."}</Empty>}
        </div>
      )}
      {data && (data.rows.length > 0 || page > 1) && (
        <Pager page={page} more={data.more} total={data.total} pageSize={pageSize} busy={list.loading} onPage={(p) => setQuery({ page: p > 1 ? String(p) : undefined })} />
      )}
    </Page>
  );
}

function BulkBar({ selected, onDone }: { selected: Alert[]; onDone: (notice: string) => void }) {
  const me = useMe();
  const [status, setStatus] = useState("");
  const [classification, setClassification] = useState("");
  const [determination, setDetermination] = useState("");
  const [assign, setAssign] = useState(false);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const nothing = !status && !classification && !determination && !assign && !comment.trim();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = { alertIds: selected.map((a) => a.id) };
    if (status) body.status = status;
    if (classification) body.classification = classification;
    if (determination) body.determination = determination;
    if (assign) body.assignedTo = me.userPrincipalName;
    if (comment.trim()) body.comment = comment.trim();
    try {
      await apiSend("POST", "/api/alerts/batchUpdate", body);
      onDone(`Updated ${selected.length} alert${selected.length === 1 ? "" : "s"}.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card bulk-bar" onSubmit={submit} aria-label="Update selected alerts" data-testid="bulk-bar">
      <div class="bulk-title"><strong>{selected.length} selected</strong></div>
      <div class="toolbar">
        <FilterSelect label="Status" name="bulk-status" value={status} anyLabel="Keep" options={alertStatuses} onChange={setStatus} />
        <FilterSelect label="Classification" name="bulk-classification" value={classification} anyLabel="Keep" options={classifications}
          onChange={(v) => { setClassification(v); setDetermination(""); }} />
        {classification && (
          <FilterSelect label="Determination" name="bulk-determination" value={determination} anyLabel="Keep"
            options={determinations[classification] ?? []} onChange={setDetermination} />
        )}
        <label class="check">
          <input type="checkbox" name="bulk-assign" checked={assign} onChange={(e) => setAssign((e.target as HTMLInputElement).checked)} /> Assign to me
        </label>
        <label class="field grow-field">
          Comment
          <input name="bulk-comment" value={comment} maxLength={16384} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="btn primary" disabled={busy || nothing}>{busy ? "Updating…" : "Update alerts"}</button>
      </div>
      {error !== null && <ErrorBox error={error} />}
    </form>
  );
}
