// Home: the state of the fleet and the alert queue at a glance, for what this user may see. Counts
// come from the scoped API lists (GET /api/alerts, /api/machines); the ingest chart from a hunting
// query, which the server scopes to the user's devices too.
import { useMemo } from "preact/hooks";
import type { ChartConfiguration } from "chart.js";
import { apiGet, apiGetAll, apiSend, odata, type ODataList } from "../api/client";
import { can, useCan, useMe } from "../auth/access";
import { ChartView, palette, severityColors } from "../components/Chart";
import { formatTime } from "../components/DataGrid";
import { Badge, Card, Link, Page } from "../components/Page";
import { Async, Empty, ErrorBox, Loading, useAsync, type AsyncState } from "../components/States";
import { healthStatuses, severities, words, type Alert, type Machine } from "./investigate/model";
import "./investigate.css";

const healthColors: Record<string, string> = {
  Active: "#16a34a",
  Inactive: "#94a3b8",
  ImpairedCommunication: "#dc2626",
  NoSensorData: "#f59e0b",
};

export function HomePage() {
  const me = useMe();
  const canDevices = useCan(can.viewData);
  const canAlerts = useCan(can.readAlerts);
  const canHunt = useCan(can.hunt);
  // One narrow, scoped read of the device list feeds the device tiles and the health chart.
  const devices = useAsync(
    () => (canDevices ? apiGetAll<Pick<Machine, "healthStatus">>("/api/machines?$select=healthStatus") : Promise.resolve([])),
    [canDevices],
  );
  const counts = useMemo(() => {
    if (!devices.data) return null;
    const c: Record<string, number> = {};
    for (const s of healthStatuses) c[s] = 0;
    for (const d of devices.data) c[d.healthStatus] = (c[d.healthStatus] ?? 0) + 1;
    return c;
  }, [devices.data]);
  return (
    <Page title="Home" subtitle={`Welcome, ${me.displayName}. ${me.allDeviceGroups ? "You see every device group." : `You see ${me.deviceGroups.length === 1 ? "the device group" : "the device groups"} ${me.deviceGroups.map((g) => g.name).join(", ") || "(none)"}.`}`}>
      {!canDevices && !canAlerts && !canHunt && (
        <Empty>Your roles do not include viewing devices or alerts. Use the navigation for the screens you may open.</Empty>
      )}
      {canAlerts && <AlertKpis />}
      {canDevices && <DeviceKpis devices={devices} counts={counts} />}
      {(canAlerts || canDevices || canHunt) && (
        <div class={`home-charts${[canAlerts, canDevices, canHunt].filter(Boolean).length === 3 ? " three" : ""}`}>
          {canAlerts && <AlertsBySeverity />}
          {canDevices && <DeviceHealth devices={devices} counts={counts} />}
          {canHunt && <IngestRate />}
        </div>
      )}
      {canAlerts && <RecentAlerts />}
    </Page>
  );
}

// ---- alerts -------------------------------------------------------------------------------------

function AlertKpis() {
  const open = useAsync(
    () => apiGetAll<Pick<Alert, "severity" | "status" | "assignedTo">>("/api/alerts" + odata({ filter: ["status ne 'Resolved'"], select: "severity,status,assignedTo" })),
    [],
  );
  const me = useMe();
  if (open.error) return <ErrorBox error={open.error} retry={open.reload} />;
  const rows = open.data;
  const count = (f: (a: Pick<Alert, "severity" | "status" | "assignedTo">) => boolean) => (rows ? rows.filter(f).length.toLocaleString() : "…");
  return (
    <section class="kpis" aria-label="Open alerts" data-testid="alert-kpis" aria-busy={!rows}>
      <Kpi href="/alerts?status=open" value={count(() => true)} label="Open alerts" testId="kpi-open-alerts" />
      <Kpi href="/alerts?status=New" value={count((a) => a.status === "New")} label="New alerts" />
      <Kpi href="/alerts?status=open&severity=High" value={count((a) => a.severity === "High")} label="Open high severity" tone="high" />
      <Kpi href="/alerts?status=open&severity=Medium" value={count((a) => a.severity === "Medium")} label="Open medium severity" tone="medium" />
      <Kpi href="/alerts?status=open&mine=1" value={count((a) => (a.assignedTo ?? "").toLowerCase() === me.userPrincipalName.toLowerCase())} label="Assigned to me" />
    </section>
  );
}

function Kpi({ href, value, label, tone, testId }: { href: string; value: string; label: string; tone?: string; testId?: string }) {
  return (
    <Link href={href} class={`kpi kpi-link${tone && value !== "0" && value !== "…" ? ` kpi-${tone}` : ""}`}>
      <div class="value" data-testid={testId}>{value}</div>
      <div class="label">{label}</div>
    </Link>
  );
}

function AlertsBySeverity() {
  const since = useMemo(() => {
    const d = new Date();
    d.setHours(0, 0, 0, 0);
    d.setDate(d.getDate() - 29);
    return d;
  }, []);
  const alerts = useAsync(
    () => apiGetAll<Pick<Alert, "severity" | "alertCreationTime">>("/api/alerts" + odata({ filter: [`alertCreationTime ge ${since.toISOString()}`], select: "severity,alertCreationTime" })),
    [since],
  );
  const chart = useMemo(() => {
    if (!alerts.data) return null;
    const days: string[] = [];
    const keys: string[] = [];
    for (let i = 0; i < 30; i++) {
      const d = new Date(since);
      d.setDate(since.getDate() + i);
      keys.push(dayKey(d));
      days.push(d.toLocaleDateString(undefined, { month: "short", day: "numeric" }));
    }
    const counts: Record<string, number[]> = {};
    for (const s of severities) counts[s] = new Array(30).fill(0);
    for (const a of alerts.data) {
      if (!a.alertCreationTime) continue;
      const i = keys.indexOf(dayKey(new Date(a.alertCreationTime)));
      if (i < 0) continue;
      (counts[a.severity] ??= new Array(30).fill(0))[i]++;
    }
    const data: ChartConfiguration<"bar">["data"] = {
      labels: days,
      datasets: Object.entries(counts).map(([s, c]) => ({ label: s, data: c, backgroundColor: severityColors[s] ?? "#94a3b8", stack: "alerts" })),
    };
    return { data, total: alerts.data.length };
  }, [alerts.data]);
  const options = useMemo<ChartConfiguration<"bar">["options"]>(() => ({
    scales: { x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    plugins: { legend: { position: "bottom" } },
  }), []);
  return (
    <Card title="Alerts by severity, last 30 days" actions={chart && <span class="muted small">{chart.total.toLocaleString()} alerts</span>}>
      {alerts.error ? <ErrorBox error={alerts.error} retry={alerts.reload} /> : !chart ? <Loading what="Counting alerts" /> : chart.total === 0 ? (
        <Empty>No alerts in the last 30 days.</Empty>
      ) : (
        <ChartView type="bar" data={chart.data as ChartConfiguration["data"]} options={options as ChartConfiguration["options"]} label={`Alerts per day by severity over the last 30 days, ${chart.total} in all`} testId="chart-alerts-severity" />
      )}
    </Card>
  );
}

function dayKey(d: Date): string {
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function RecentAlerts() {
  const recent = useAsync(
    () => apiGet<ODataList<Alert>>("/api/alerts" + odata({ filter: ["status ne 'Resolved'"], orderby: "alertCreationTime desc", top: 8 })).then((r) => r.value),
    [],
  );
  return (
    <Card title="Newest open alerts" actions={<Link href="/alerts?status=open">All alerts</Link>}>
      <Async state={recent} what="Loading alerts">
        {(rows) => rows.length === 0 ? <Empty>No open alerts.</Empty> : (
          <table class="simple" data-testid="recent-alerts">
            <thead><tr><th scope="col">Alert</th><th scope="col">Severity</th><th scope="col">Status</th><th scope="col">Device</th><th scope="col">Created</th></tr></thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.id}>
                  <td><Link href={`/alerts/${encodeURIComponent(a.id)}`}>{a.title}</Link></td>
                  <td><Badge tone={a.severity}>{a.severity}</Badge></td>
                  <td><Badge tone={a.status}>{words(a.status)}</Badge></td>
                  <td>{a.machineId ? <Link href={`/devices/${encodeURIComponent(a.machineId)}`}>{a.computerDnsName || a.machineId}</Link> : "—"}</td>
                  <td>{formatTime(a.alertCreationTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Async>
    </Card>
  );
}

// ---- devices ------------------------------------------------------------------------------------

type Devices = AsyncState<Pick<Machine, "healthStatus">[]>;

function DeviceKpis({ devices, counts }: { devices: Devices; counts: Record<string, number> | null }) {
  if (devices.error) return <ErrorBox error={devices.error} retry={devices.reload} />;
  const v = (n: number | undefined) => (n === undefined ? "…" : n.toLocaleString());
  return (
    <section class="kpis" aria-label="Devices" data-testid="device-kpis" aria-busy={!counts}>
      <Kpi href="/devices" value={v(devices.data?.length)} label="Devices" testId="kpi-devices" />
      {healthStatuses.map((s) => (
        <Kpi key={s} href={`/devices?health=${s}`} value={v(counts?.[s])} label={words(s)} tone={s === "ImpairedCommunication" ? "high" : s === "NoSensorData" ? "medium" : undefined} testId={`kpi-health-${s}`} />
      ))}
    </section>
  );
}

function DeviceHealth({ devices, counts }: { devices: Devices; counts: Record<string, number> | null }) {
  const data = useMemo<ChartConfiguration<"doughnut">["data"] | null>(() => {
    if (!counts) return null;
    const entries = Object.entries(counts).filter(([, n]) => n > 0);
    return {
      labels: entries.map(([s]) => words(s)),
      datasets: [{ data: entries.map(([, n]) => n), backgroundColor: entries.map(([s], i) => healthColors[s] ?? palette[i % palette.length]) }],
    };
  }, [counts]);
  const options = useMemo<ChartConfiguration<"doughnut">["options"]>(() => ({ plugins: { legend: { position: "bottom" } }, cutout: "60%" }), []);
  const total = devices.data?.length;
  return (
    <Card title="Device health">
      {devices.error ? <ErrorBox error={devices.error} retry={devices.reload} /> : !data ? <Loading what="Counting devices" /> : total === 0 ? (
        <Empty>No devices onboarded yet. <Link href="/onboarding">Onboard devices</Link>.</Empty>
      ) : (
        <ChartView type="doughnut" data={data as ChartConfiguration["data"]} options={options as ChartConfiguration["options"]}
          label={`Device health: ${Object.entries(counts!).map(([s, n]) => `${n} ${words(s)}`).join(", ")}`} testId="chart-device-health" />
      )}
    </Card>
  );
}

// ---- ingest -------------------------------------------------------------------------------------

interface HuntResult {
  Schema: { Name: string; Type: string }[];
  Results: Record<string, unknown>[];
}

// Events received per hour: every Device* table, by the event's own time.
const ingestQuery = "union Device* | where Timestamp > ago(24h) | summarize Events = count() by bin(Timestamp, 1h)";

function IngestRate() {
  const result = useAsync(() => apiSend<HuntResult>("POST", "/api/advancedqueries/run", { Query: ingestQuery }), []);
  const chart = useMemo(() => {
    if (!result.data) return null;
    const hour = 3600_000;
    const end = Math.floor(Date.now() / hour) * hour;
    const buckets: number[] = new Array(24).fill(0);
    const labels: string[] = [];
    for (let i = 0; i < 24; i++) labels.push(new Date(end - (23 - i) * hour).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }));
    let total = 0;
    for (const r of result.data.Results) {
      const t = Date.parse(String(r.Timestamp));
      const n = Number(r.Events ?? 0);
      const i = 23 - Math.round((end - t) / hour);
      if (i >= 0 && i < 24) buckets[i] += n;
      total += n;
    }
    const data: ChartConfiguration<"line">["data"] = {
      labels,
      datasets: [{ label: "Events per hour", data: buckets, borderColor: palette[0], backgroundColor: "rgba(37, 99, 235, .15)", fill: true, tension: 0.25, pointRadius: 2 }],
    };
    return { data, total };
  }, [result.data]);
  const options = useMemo<ChartConfiguration<"line">["options"]>(() => ({
    scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } } },
    plugins: { legend: { display: false } },
  }), []);
  return (
    <Card title="Events ingested per hour, last 24 hours" actions={chart && <span class="muted small">{chart.total.toLocaleString()} events</span>}>
      {result.error ? <ErrorBox error={result.error} retry={result.reload} /> : !chart ? <Loading what="Running the hunting query" /> : chart.total === 0 ? (
        <Empty>No events received in the last 24 hours.</Empty>
      ) : (
        <ChartView type="line" data={chart.data as ChartConfiguration["data"]} options={options as ChartConfiguration["options"]} label={`Events ingested per hour over the last 24 hours, ${chart.total} in all`} testId="chart-ingest" />
      )}
      <details class="query-note">
        <summary>Hunting query</summary>
        <code>{ingestQuery}</code>
      </details>
    </Card>
  );
}
