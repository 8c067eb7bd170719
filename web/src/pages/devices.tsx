// Devices: the machines this user may see (GET /api/machines, scoped by device groups on the server),
// searched by name prefix, filtered, sorted and paged by the server with OData. Filters live in the
// URL, so a filtered list can be bookmarked and shared.
import { useEffect, useMemo, useState } from "preact/hooks";
import { odata, odataString } from "../api/client";
import { DataGrid, formatTime, type Column } from "../components/DataGrid";
import { Page } from "../components/Page";
import { Empty, ErrorBox, useAsync } from "../components/States";
import { navigate, setQuery } from "../router";
import type { PageProps } from "../routes";
import { fetchPage, healthStatuses, riskScores, type Machine } from "./investigate/model";
import { badgeHtml, FilterSelect, Pager, Toolbar, useFacets } from "./investigate/parts";
import "./investigate.css";

const pageSize = 50;

// Properties the server may sort machines by (entities.cc MachineSchema: all but collections).
const sortable = new Set(["computerDnsName", "healthStatus", "riskScore", "exposureLevel", "osPlatform", "osVersion", "rbacGroupName", "lastSeen", "firstSeen", "lastIpAddress", "deviceValue", "agentVersion"]);

export function DevicesPage({ match }: PageProps) {
  const q = match.query;
  const name = q.get("q") ?? "";
  const health = q.get("health") ?? "";
  const os = q.get("os") ?? "";
  const group = q.get("group") ?? "";
  const tag = q.get("tag") ?? "";
  const risk = q.get("risk") ?? "";
  const sort = q.get("sort") ?? "";
  const desc = q.get("desc") === "1";
  const page = Math.max(1, Number(q.get("page") ?? "1") || 1);
  const facets = useFacets();

  const [search, setSearch] = useState(name);
  useEffect(() => setSearch(name), [name]);
  useEffect(() => {
    if (search === name) return;
    const t = setTimeout(() => setQuery({ q: search.trim() || undefined, page: undefined }), 350);
    return () => clearTimeout(t);
  }, [search]);

  const path = useMemo(() => {
    const filter: string[] = [];
    if (name.trim()) filter.push(`startswith(computerDnsName,${odataString(name.trim())})`);
    if (health) filter.push(`healthStatus eq ${odataString(health)}`);
    if (os) filter.push(`osPlatform eq ${odataString(os)}`);
    if (group && /^\d+$/.test(group)) filter.push(`rbacGroupId eq ${group}`);
    if (tag) filter.push(`machineTags/any(t: t eq ${odataString(tag)})`);
    if (risk) filter.push(`riskScore eq ${odataString(risk)}`);
    const orderby = sort && sortable.has(sort) ? `${sort} ${desc ? "desc" : "asc"}` : undefined;
    return "/api/machines" + odata({ filter, top: pageSize, skip: (page - 1) * pageSize, orderby, count: true });
  }, [name, health, os, group, tag, risk, sort, desc, page]);
  const list = useAsync(() => fetchPage<Machine>(path), [path]);

  const columns = useMemo<Column<Machine>[]>(() => {
    const cols: Column<Machine>[] = [
      { field: "computerDnsName", headerName: "Device name", minWidth: 220, flex: 2 },
      { field: "healthStatus", headerName: "Health", cellRenderer: (p: { value: string }) => badgeHtml(p.value), minWidth: 120 },
      { field: "riskScore", headerName: "Risk", cellRenderer: (p: { value: string }) => badgeHtml(p.value), minWidth: 100 },
      { field: "exposureLevel", headerName: "Exposure", minWidth: 110 },
      { field: "osPlatform", headerName: "OS", valueGetter: (p) => (p.data ? [p.data.osPlatform, p.data.osVersion].filter(Boolean).join(" ") : ""), minWidth: 110 },
      { field: "rbacGroupName", headerName: "Device group", minWidth: 150 },
      { field: "machineTags", headerName: "Tags", sortable: false, valueFormatter: (p) => ((p.value as string[] | undefined) ?? []).join(", "), minWidth: 150 },
      { field: "lastIpAddress", headerName: "IP address", minWidth: 120 },
      { field: "lastSeen", headerName: "Last seen", valueFormatter: (p) => formatTime(p.value), minWidth: 180 },
    ];
    // The grid shows the server's current order.
    return cols.map((c) => (c.field === sort ? { ...c, sort: desc ? "desc" : "asc" } : c));
  }, []);

  const set = (values: Record<string, string | undefined>) => setQuery({ ...values, page: undefined });
  const anyFilter = name || health || os || group || tag || risk;
  const data = list.data;

  return (
    <Page title="Devices" subtitle={data?.total !== undefined ? `${data.total.toLocaleString()} device${data.total === 1 ? "" : "s"}${anyFilter ? " match" : ""}` : undefined}>
      <Toolbar label="Filter devices">
        <label class="field">
          Name starts with
          <input type="search" name="q" value={search} placeholder="Search devices" onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => e.key === "Enter" && setQuery({ q: search.trim() || undefined, page: undefined })} />
        </label>
        <FilterSelect label="Health" name="health" value={health} options={healthStatuses} onChange={(v) => set({ health: v })} />
        <FilterSelect label="Risk level" name="risk" value={risk} options={riskScores} onChange={(v) => set({ risk: v })} />
        <FilterSelect label="OS platform" name="os" value={os} options={withCurrent(facets.data?.platforms, os)} onChange={(v) => set({ os: v })} />
        <FilterSelect label="Device group" name="group" value={group}
          options={withCurrentGroup(facets.data?.groups, group)} onChange={(v) => set({ group: v })} />
        <FilterSelect label="Tag" name="tag" value={tag} options={withCurrent(facets.data?.tags, tag).map((t) => ({ value: t, label: t }))} onChange={(v) => set({ tag: v })} />
        {anyFilter && (
          <button type="button" class="btn" onClick={() => setQuery({ q: undefined, health: undefined, os: undefined, group: undefined, tag: undefined, risk: undefined, page: undefined })}>
            Clear filters
          </button>
        )}
      </Toolbar>
      {facets.error ? <ErrorBox error={facets.error} retry={facets.reload} /> : null}
      {list.error ? (
        <ErrorBox error={list.error} retry={list.reload} />
      ) : (
        <div class="grid-wrap" aria-busy={list.loading}>
          {list.loading && <div class="grid-loading" role="status"><span class="spinner" aria-hidden="true" /> Loading devices…</div>}
          <DataGrid<Machine>
            rows={data?.rows ?? []}
            columns={columns}
            rowId={(m) => m.id}
            label="Devices"
            testId="devices-grid"
            height={560}
            onRowClick={(m) => navigate(`/devices/${encodeURIComponent(m.id)}`)}
            onSortChange={(s) => setQuery({ sort: s?.field, desc: s?.desc ? "1" : undefined, page: undefined })}
          />
          {data && data.rows.length === 0 && (
            <Empty>{anyFilter ? "No device matches these filters." : "No devices yet. Onboard a device to see it here."}</Empty>
          )}
        </div>
      )}
      {data && (data.rows.length > 0 || page > 1) && (
        <Pager page={page} more={data.more} total={data.total} pageSize={pageSize} busy={list.loading} onPage={(p) => setQuery({ page: p > 1 ? String(p) : undefined })} />
      )}
    </Page>
  );
}

function withCurrent(list: string[] | undefined, current: string): string[] {
  const l = list ?? [];
  return current && !l.includes(current) ? [current, ...l] : l;
}

function withCurrentGroup(list: { id: number; name: string }[] | undefined, current: string) {
  const l = (list ?? []).map((g) => ({ value: String(g.id), label: g.name }));
  return current && !l.some((g) => g.value === current) ? [{ value: current, label: `Group ${current}` }, ...l] : l;
}
