// Device page (/devices/:id, /machines/:id): the machine's header and response actions, and tabs for
// its overview (facts, logged-on users, tags), timeline (its events), alerts and action history.
// Every value comes from the API; buttons show only when the user's roles and token allow them.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { allowed, can, useCan, useMe } from "../auth/access";
import { apiGet, apiSend, odata, odataString, type ODataList } from "../api/client";
import { DataGrid, formatTime, type Column } from "../components/DataGrid";
import { ConfirmDialog } from "../components/Dialog";
import { Badge, Card, Facts, Link, Page } from "../components/Page";
import { Async, Empty, ErrorBox, Loading, useAsync } from "../components/States";
import { navigate, setQuery } from "../router";
import type { PageProps } from "../routes";
import { openActionStatuses, responseState, words, type Alert, type LiveResponseCommand, type Machine, type MachineAction } from "./investigate/model";
import { badgeHtml } from "./investigate/parts";
import { Tabs } from "./investigate/tabs";
import "./investigate.css";

const tabs = [
  { id: "overview", label: "Overview" },
  { id: "timeline", label: "Timeline" },
  { id: "alerts", label: "Alerts" },
  { id: "actions", label: "Actions" },
];

export function DevicePage({ match }: PageProps) {
  const id = match.params.id;
  const tab = tabs.some((t) => t.id === match.query.get("tab")) ? match.query.get("tab")! : "overview";
  const machine = useAsync(() => apiGet<Machine>(`/api/machines/${encodeURIComponent(id)}`), [id]);
  const [override, setOverride] = useState<Machine | null>(null);
  useEffect(() => setOverride(null), [id, machine.data]);
  const actions = useMachineActions(id);
  const m = override ?? machine.data;

  if (machine.error) {
    return (
      <Page title="Device">
        <ErrorBox error={machine.error} retry={machine.reload} />
        <p><Link href="/devices">Back to devices</Link></p>
      </Page>
    );
  }
  if (!m) return <Page title="Device"><Loading what="Loading the device" /></Page>;

  const state = responseState(actions.rows ?? []);
  return (
    <Page
      title={m.computerDnsName || m.id}
      subtitle={
        <>
          <DeviceSummary m={m} state={actions.rows ? state : undefined} />
          <ResponseButtons m={m} actions={actions} onDone={() => { actions.reload(); setQuery({ tab: "actions" }); }} />
        </>
      }
    >
      <Tabs label="Device" tabs={tabs} current={tab} onSelect={(t) => setQuery({ tab: t === "overview" ? undefined : t })} idPrefix="device">
        {tab === "overview" && <Overview m={m} onChange={setOverride} />}
        {tab === "timeline" && <Timeline id={m.id} />}
        {tab === "alerts" && <DeviceAlerts id={m.id} />}
        {tab === "actions" && <ActionsTab actions={actions} />}
      </Tabs>
    </Page>
  );
}

function DeviceSummary({ m, state }: { m: Machine; state?: ReturnType<typeof responseState> }) {
  return (
    <div class="device-summary" data-testid="device-summary">
      <span title="Health"><Badge tone={m.healthStatus}>{words(m.healthStatus)}</Badge></span>
      <span>Risk <Badge tone={m.riskScore}>{m.riskScore ?? "—"}</Badge></span>
      <span>Group <strong>{m.rbacGroupName || "—"}</strong></span>
      <span>{[m.osPlatform, m.osVersion].filter(Boolean).join(" ")}</span>
      {m.machineTags.length > 0 && <span class="tag-list">{m.machineTags.map((t) => <span class="tag" key={t}>{t}</span>)}</span>}
      {state?.isolated && <span data-testid="isolation-state"><Badge tone="high">{state.isolationPending ? "Isolation pending" : "Isolated"}</Badge></span>}
      {state && !state.isolated && state.isolationPending && <span data-testid="isolation-state"><Badge tone="pending">Release pending</Badge></span>}
      {state?.restricted && <span data-testid="restriction-state"><Badge tone="medium">{state.restrictionPending ? "Restriction pending" : "App execution restricted"}</Badge></span>}
    </div>
  );
}

// ---- response actions ---------------------------------------------------------------------------

interface ActionsState {
  rows: MachineAction[] | undefined;
  error: unknown;
  reload: () => void;
  refreshing: boolean;
}

// The machine's actions, newest first, re-read every 3 s while one is still pending or running.
function useMachineActions(id: string): ActionsState {
  const [rows, setRows] = useState<MachineAction[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const [refreshing, setRefreshing] = useState(false);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const path = "/api/machineactions" + odata({ filter: [`machineId eq ${odataString(id)}`], orderby: "creationDateTimeUtc desc", top: 200 });
    setRefreshing(true);
    apiGet<ODataList<MachineAction>>(path).then(
      (r) => {
        if (!live) return;
        setRows(r.value);
        setError(null);
        setRefreshing(false);
        if (r.value.some((a) => openActionStatuses.has(a.status))) timer = setTimeout(() => live && setTick((t) => t + 1), 3000);
      },
      (e) => {
        if (!live) return;
        setError(e);
        setRefreshing(false);
      },
    );
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [id, tick]);
  useEffect(() => setRows(undefined), [id]);
  return { rows, error, reload: () => setTick((t) => t + 1), refreshing };
}

type ActionKind = "isolate" | "unisolate" | "restrict" | "unrestrict" | "scan" | "collect" | "quarantine" | "liveresponse";

function ResponseButtons({ m, actions, onDone }: { m: Machine; actions: ActionsState; onDone: () => void }) {
  const me = useMe();
  const canIsolate = useCan(can.isolate);
  const canRestrict = useCan(can.restrict);
  const canScan = useCan(can.scan);
  const canCollect = useCan(can.collect);
  const canQuarantine = useCan(can.quarantine);
  const canLive = useCan(can.liveResponse) || allowed(me, { portal: "LiveResponseAdvanced", scope: ["Machine.LiveResponse"] });
  const [open, setOpen] = useState<ActionKind | null>(null);
  const state = responseState(actions.rows ?? []);
  const known = actions.rows !== undefined;
  if (!canIsolate && !canRestrict && !canScan && !canCollect && !canQuarantine && !canLive) return null;
  const offboarded = m.onboardingStatus === "Offboarded";
  return (
    <>
      <div class="response-buttons" role="group" aria-label="Response actions">
        {canIsolate && known && !state.isolated && (
          <button type="button" class="btn" data-testid="action-isolate" disabled={offboarded} onClick={() => setOpen("isolate")}>Isolate device</button>
        )}
        {canIsolate && known && state.isolated && (
          <button type="button" class="btn" data-testid="action-unisolate" onClick={() => setOpen("unisolate")}>Release from isolation</button>
        )}
        {canRestrict && known && !state.restricted && (
          <button type="button" class="btn" data-testid="action-restrict" disabled={offboarded} onClick={() => setOpen("restrict")}>Restrict app execution</button>
        )}
        {canRestrict && known && state.restricted && (
          <button type="button" class="btn" data-testid="action-unrestrict" onClick={() => setOpen("unrestrict")}>Remove app restriction</button>
        )}
        {canScan && <button type="button" class="btn" data-testid="action-scan" disabled={offboarded} onClick={() => setOpen("scan")}>Run antivirus scan</button>}
        {canCollect && <button type="button" class="btn" data-testid="action-collect" disabled={offboarded} onClick={() => setOpen("collect")}>Collect investigation package</button>}
        {canQuarantine && <button type="button" class="btn" data-testid="action-quarantine" disabled={offboarded} onClick={() => setOpen("quarantine")}>Stop and quarantine file</button>}
        {canLive && <button type="button" class="btn" data-testid="action-liveresponse" disabled={offboarded} onClick={() => setOpen("liveresponse")}>Live response</button>}
      </div>
      {open && <ActionDialog kind={open} m={m} onClose={() => setOpen(null)} onDone={onDone} />}
    </>
  );
}

const sha1Pattern = "[0-9a-fA-F]{40}";

function ActionDialog({ kind, m, onClose, onDone }: { kind: ActionKind; m: Machine; onClose: () => void; onDone: () => void }) {
  const me = useMe();
  const advanced = allowed(me, { portal: "LiveResponseAdvanced", scope: ["Machine.LiveResponse"] });
  const [isolation, setIsolation] = useState("Full");
  const [scanType, setScanType] = useState("Quick");
  const [sha1, setSha1] = useState("");
  const [lrType, setLrType] = useState<"GetFile" | "RunScript">("GetFile");
  const [lrPath, setLrPath] = useState("");
  const [lrScript, setLrScript] = useState("");
  const [lrArgs, setLrArgs] = useState("");
  const library = useAsync<string[] | null>(async () => {
    if (kind !== "liveresponse" || !advanced) return null;
    try {
      const r = await apiGet<ODataList<{ fileName: string }>>("/api/libraryfiles");
      return r.value.map((f) => f.fileName);
    } catch {
      return null; // managing the library needs Library.Manage: the script name is then typed
    }
  }, [kind, advanced]);

  const name = m.computerDnsName || m.id;
  const spec: Record<ActionKind, { title: string; confirm: string; path: string; danger?: boolean; body: () => object; text: string }> = {
    isolate: { title: `Isolate ${name}`, confirm: "Isolate", path: "isolate", danger: true, body: () => ({ IsolationType: isolation }),
      text: "The device loses network connectivity except to Ward, so that an attacker cannot use it. You can release it at any time." },
    unisolate: { title: `Release ${name} from isolation`, confirm: "Release", path: "unisolate", body: () => ({}),
      text: "The device regains its full network connectivity." },
    restrict: { title: `Restrict app execution on ${name}`, confirm: "Restrict", path: "restrictCodeExecution", danger: true, body: () => ({}),
      text: "Only binaries the sensor trusts may start on the device." },
    unrestrict: { title: `Remove app restriction on ${name}`, confirm: "Remove restriction", path: "unrestrictCodeExecution", body: () => ({}),
      text: "Any application may run on the device again." },
    scan: { title: `Run antivirus scan on ${name}`, confirm: "Scan", path: "runAntiVirusScan", body: () => ({ ScanType: scanType }),
      text: "The sensor scans the device with Ward's YARA rules; detections raise alerts." },
    collect: { title: `Collect investigation package from ${name}`, confirm: "Collect", path: "collectInvestigationPackage", body: () => ({}),
      text: "The sensor gathers forensic data from the device into a package you can download from the Actions tab." },
    quarantine: { title: `Stop and quarantine a file on ${name}`, confirm: "Stop and quarantine", path: "StopAndQuarantineFile", danger: true,
      body: () => ({ Sha1: sha1.trim() }), text: "Processes running the file are stopped and copies of it are moved to quarantine." },
    liveresponse: { title: `Live response on ${name}`, confirm: "Run", path: "runliveresponse", body: () => ({
        Commands: [lrType === "GetFile"
          ? { type: "GetFile", params: [{ key: "Path", value: lrPath.trim() }] }
          : { type: "RunScript", params: [{ key: "ScriptName", value: lrScript.trim() }, ...(lrArgs.trim() ? [{ key: "Args", value: lrArgs.trim() }] : [])] }],
      }), text: "Runs a command on the device through the sensor; results are kept with the action." },
  };
  const s = spec[kind];
  const confirm = async (comment: string) => {
    if (kind === "quarantine" && !new RegExp(`^${sha1Pattern}$`).test(sha1.trim())) throw new Error("Enter the file's SHA1: 40 hexadecimal characters.");
    if (kind === "liveresponse" && lrType === "GetFile" && !lrPath.trim()) throw new Error("Enter the path of the file to collect.");
    if (kind === "liveresponse" && lrType === "RunScript" && !lrScript.trim()) throw new Error("Choose a script from the library.");
    await apiSend("POST", `/api/machines/${encodeURIComponent(m.id)}/${s.path}`, { ...s.body(), Comment: comment });
    onDone();
  };
  return (
    <ConfirmDialog title={s.title} confirmLabel={s.confirm} danger={s.danger} comment commentRequired onConfirm={confirm} onClose={onClose}>
      <p class="muted">{s.text}</p>
      {kind === "isolate" && (
        <fieldset class="choice">
          <legend>Isolation type</legend>
          {[["Full", "Full: only Ward is reachable"], ["Selective", "Selective: Ward and the device's essential services stay reachable"]].map(([v, l]) => (
            <label key={v}><input type="radio" name="isolation" value={v} checked={isolation === v} onChange={() => setIsolation(v)} /> {l}</label>
          ))}
        </fieldset>
      )}
      {kind === "scan" && (
        <fieldset class="choice">
          <legend>Scan type</legend>
          {[["Quick", "Quick scan"], ["Full", "Full scan"]].map(([v, l]) => (
            <label key={v}><input type="radio" name="scantype" value={v} checked={scanType === v} onChange={() => setScanType(v)} /> {l}</label>
          ))}
        </fieldset>
      )}
      {kind === "quarantine" && (
        <label class="field">
          File SHA1
          <input name="sha1" required pattern={sha1Pattern} title="40 hexadecimal characters" value={sha1} autoComplete="off" spellcheck={false}
            onInput={(e) => setSha1((e.target as HTMLInputElement).value)} class="mono" />
        </label>
      )}
      {kind === "liveresponse" && (
        <>
          <fieldset class="choice">
            <legend>Command</legend>
            <label><input type="radio" name="lrtype" value="GetFile" checked={lrType === "GetFile"} onChange={() => setLrType("GetFile")} /> Get file: collect a file from the device</label>
            <label title={advanced ? "" : "Running scripts needs the Live response advanced permission"}>
              <input type="radio" name="lrtype" value="RunScript" disabled={!advanced} checked={lrType === "RunScript"} onChange={() => setLrType("RunScript")} /> Run a library script
              {!advanced && <span class="muted small"> (needs Live response advanced)</span>}
            </label>
          </fieldset>
          {lrType === "GetFile" && (
            <label class="field">
              Path on the device
              <input name="path" required value={lrPath} placeholder="/var/log/auth.log" class="mono" onInput={(e) => setLrPath((e.target as HTMLInputElement).value)} />
            </label>
          )}
          {lrType === "RunScript" && (
            <>
              {library.loading && <Loading what="Reading the live response library" />}
              {!library.loading && library.data && library.data.length > 0 ? (
                <label class="field">
                  Script
                  <select name="script" required value={lrScript} onChange={(e) => setLrScript((e.target as HTMLSelectElement).value)}>
                    <option value="">Choose a script</option>
                    {library.data.map((f) => <option key={f} value={f}>{f}</option>)}
                  </select>
                </label>
              ) : !library.loading && (
                <label class="field">
                  Script name (from the live response library)
                  <input name="script" required value={lrScript} class="mono" onInput={(e) => setLrScript((e.target as HTMLInputElement).value)} />
                  {library.data && library.data.length === 0 && <span class="muted small">The library is empty: upload scripts to it first.</span>}
                </label>
              )}
              <label class="field">
                Arguments (optional)
                <input name="args" value={lrArgs} class="mono" onInput={(e) => setLrArgs((e.target as HTMLInputElement).value)} />
              </label>
            </>
          )}
        </>
      )}
    </ConfirmDialog>
  );
}

// ---- overview ---------------------------------------------------------------------------------

interface LogonUser {
  id: string;
  accountName: string;
  accountDomain?: string | null;
  firstSeen?: string | null;
  lastSeen?: string | null;
  logonTypes?: string | null;
  logOnMachinesCount?: number;
}

function Overview({ m, onChange }: { m: Machine; onChange: (m: Machine) => void }) {
  const users = useAsync(() => apiGet<ODataList<LogonUser>>(`/api/machines/${encodeURIComponent(m.id)}/logonusers`), [m.id]);
  return (
    <div class="overview">
      <Card title="Device details">
        <Facts
          items={[
            ["Device name", m.computerDnsName],
            ["Device id", <code>{m.id}</code>],
            ["Health", words(m.healthStatus)],
            ["Onboarding", words(m.onboardingStatus)],
            ["Risk level", m.riskScore],
            ["Exposure level", m.exposureLevel],
            ["Device value", m.deviceValue],
            ["Device group", m.rbacGroupName],
            ["OS platform", m.osPlatform],
            ["OS version", m.osVersion],
            ["Architecture", m.osArchitecture],
            ["Processor", m.osProcessor],
            ["Sensor version", m.agentVersion],
            ["IP address", m.lastIpAddress],
            ["External IP", m.lastExternalIpAddress],
            ["All addresses", (m.ipAddresses ?? []).map((a) => a.ipAddress).join(", ")],
            ["First seen", formatTime(m.firstSeen)],
            ["Last seen", formatTime(m.lastSeen)],
          ]}
        />
      </Card>
      <div class="overview-cards">
        <TagsCard m={m} onChange={onChange} />
        <Card title="Logged-on users">
          <Async state={users} what="Reading logons">
            {(r) =>
              r.value.length === 0 ? (
                <Empty>No logons recorded on this device.</Empty>
              ) : (
                <table class="simple">
                  <thead>
                    <tr><th scope="col">Account</th><th scope="col">Logon types</th><th scope="col">First seen</th><th scope="col">Last seen</th><th scope="col">Devices</th></tr>
                  </thead>
                  <tbody>
                    {r.value.map((u) => (
                      <tr key={u.id}>
                        <td>{u.accountDomain ? `${u.accountDomain}\\${u.accountName}` : u.accountName}</td>
                        <td>{u.logonTypes}</td>
                        <td>{formatTime(u.firstSeen)}</td>
                        <td>{formatTime(u.lastSeen)}</td>
                        <td>{u.logOnMachinesCount}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
            }
          </Async>
        </Card>
      </div>
    </div>
  );
}

function TagsCard({ m, onChange }: { m: Machine; onChange: (m: Machine) => void }) {
  const canTag = useCan(can.tagDevices);
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState("");
  const change = async (tag: string, action: "Add" | "Remove") => {
    setBusy(true);
    setError(null);
    setNote("");
    try {
      const updated = await apiSend<Machine>("POST", `/api/machines/${encodeURIComponent(m.id)}/tags`, { Value: tag, Action: action });
      onChange(updated);
      if (action === "Add") setValue("");
      if (action === "Remove" && updated.machineTags.includes(tag)) setNote(`“${tag}” is reported by the device's sensor itself, so it stays.`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Tags">
      {m.machineTags.length === 0 ? (
        <p class="muted">No tags.</p>
      ) : (
        <ul class="tag-list" aria-label="Device tags" data-testid="device-tags">
          {m.machineTags.map((t) => (
            <li class="tag" key={t}>
              {t}
              {canTag && (
                <button type="button" class="tag-remove" aria-label={`Remove tag ${t}`} disabled={busy} onClick={() => change(t, "Remove")}>×</button>
              )}
            </li>
          ))}
        </ul>
      )}
      {note && <p class="muted small" role="status">{note}</p>}
      {error !== null && <ErrorBox error={error} />}
      {canTag && (
        <form class="toolbar" onSubmit={(e) => { e.preventDefault(); if (value.trim()) change(value.trim(), "Add"); }}>
          <label class="field">
            New tag
            <input name="tag" value={value} maxLength={200} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" class="btn" disabled={busy || !value.trim()}>Add tag</button>
        </form>
      )}
    </Card>
  );
}

// ---- timeline -----------------------------------------------------------------------------------

const timelineTables = ["DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents", "DeviceLogonEvents", "DeviceRegistryEvents", "DeviceImageLoadEvents", "DeviceEvents"];
const ranges = [
  { value: "1", label: "Last hour" },
  { value: "24", label: "Last 24 hours" },
  { value: "168", label: "Last 7 days" },
  { value: "720", label: "Last 30 days" },
];

type TimelineRow = Record<string, unknown> & { Table: string; Timestamp?: string; ActionType?: string };

function Timeline({ id }: { id: string }) {
  const [table, setTable] = useState("");
  const [search, setSearch] = useState("");
  const [applied, setApplied] = useState("");
  const [range, setRange] = useState("24");
  const [selected, setSelected] = useState<TimelineRow | null>(null);
  useEffect(() => {
    const t = setTimeout(() => setApplied(search.trim()), 400);
    return () => clearTimeout(t);
  }, [search]);
  const path = useMemo(() => {
    const q = new URLSearchParams();
    if (table) q.set("table", table);
    if (applied) q.set("search", applied);
    q.set("from", new Date(Date.now() - Number(range) * 3600_000).toISOString());
    q.set("$top", "500");
    return `/api/machines/${encodeURIComponent(id)}/timeline?${q}`;
  }, [id, table, applied, range]);
  const rows = useAsync(() => apiGet<{ value: TimelineRow[] }>(path).then((r) => r.value), [path]);
  const columns = useMemo<Column<TimelineRow>[]>(() => [
    { field: "Timestamp", headerName: "Time", valueFormatter: (p) => formatTime(p.value), minWidth: 190, flex: 1, sort: "desc" },
    { field: "Table", headerName: "Event", valueFormatter: (p) => String(p.value ?? "").replace(/^Device|Events$/g, ""), minWidth: 100, flex: 0.7 },
    { field: "ActionType", headerName: "Action type", minWidth: 150, flex: 1 },
    { colId: "details", headerName: "Details", valueGetter: (p) => (p.data ? describeEvent(p.data) : ""), minWidth: 260, flex: 3 },
    { colId: "initiator", headerName: "Initiating process", valueGetter: (p) => (p.data ? [p.data.InitiatingProcessFileName, p.data.InitiatingProcessAccountName && `(${p.data.InitiatingProcessAccountName})`].filter(Boolean).join(" ") : ""), minWidth: 160, flex: 1.2 },
  ], []);
  return (
    <div>
      <div class="toolbar" role="search" aria-label="Filter the timeline">
        <label class="field">
          Event table
          <select name="table" value={table} onChange={(e) => setTable((e.target as HTMLSelectElement).value)}>
            <option value="">All event tables</option>
            {timelineTables.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </label>
        <label class="field">
          Time range
          <select name="range" value={range} onChange={(e) => setRange((e.target as HTMLSelectElement).value)}>
            {ranges.map((r) => <option key={r.value} value={r.value}>{r.label}</option>)}
          </select>
        </label>
        <label class="field">
          Search (every word must occur)
          <input type="search" name="search" value={search} maxLength={256} placeholder="e.g. curl or 10.0.0.5" onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => e.key === "Enter" && setApplied(search.trim())} />
        </label>
        {rows.loading && <span class="muted" role="status"><span class="spinner" aria-hidden="true" /> Loading…</span>}
        {rows.data && <span class="muted">{rows.data.length === 500 ? "Newest 500 events" : `${rows.data.length} events`}</span>}
      </div>
      {rows.error ? <ErrorBox error={rows.error} retry={rows.reload} /> : (
        <div class="split">
          <div class="grow grid-wrap">
            <DataGrid<TimelineRow> rows={rows.data ?? []} columns={columns} label="Device timeline" testId="timeline-grid" height={520} onRowClick={setSelected} />
            {rows.data && rows.data.length === 0 && <Empty>No events in this range{applied ? " match the search" : ""}.</Empty>}
          </div>
          {selected && <EventDetails row={selected} onClose={() => setSelected(null)} />}
        </div>
      )}
    </div>
  );
}

// A one-line summary of an event, by what its table records.
export function describeEvent(r: Record<string, unknown>): string {
  const s = (k: string) => (r[k] === undefined || r[k] === null ? "" : String(r[k]));
  switch (r.Table) {
    case "DeviceProcessEvents":
      return s("ProcessCommandLine") || s("FileName");
    case "DeviceNetworkEvents":
      return [s("RemoteIP") && `${s("RemoteIP")}${s("RemotePort") ? `:${s("RemotePort")}` : ""}`, s("RemoteUrl"), s("Protocol")].filter(Boolean).join(" · ");
    case "DeviceFileEvents":
      return [s("FolderPath") || s("FileName"), s("SHA1") && `SHA1 ${s("SHA1")}`].filter(Boolean).join(" · ");
    case "DeviceLogonEvents":
      return [s("AccountDomain") ? `${s("AccountDomain")}\\${s("AccountName")}` : s("AccountName"), s("LogonType"), s("RemoteIP")].filter(Boolean).join(" · ");
    case "DeviceRegistryEvents":
      return [s("RegistryKey"), s("RegistryValueName"), s("RegistryValueData")].filter(Boolean).join(" · ");
    case "DeviceImageLoadEvents":
      return s("FolderPath") || s("FileName");
    default:
      return [s("FileName"), s("ProcessCommandLine"), s("RemoteIP"), s("AdditionalFields")].filter(Boolean).join(" · ");
  }
}

function EventDetails({ row, onClose }: { row: Record<string, unknown>; onClose: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), [row]);
  return (
    <aside class="card event-details" aria-label="Event details" tabIndex={-1} ref={ref} onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div class="card-header">
        <h2>{String(row.ActionType ?? row.Table)}</h2>
        <button type="button" class="btn small" onClick={onClose}>Close</button>
      </div>
      <dl class="kv">
        {Object.entries(row).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd class={typeof v === "string" && v.length > 40 ? "mono" : ""}>{k === "Timestamp" || k.endsWith("Time") ? formatTime(v) || String(v) : typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>
          </div>
        ))}
      </dl>
    </aside>
  );
}

// ---- alerts ----------------------------------------------------------------------------------------

function DeviceAlerts({ id }: { id: string }) {
  const alerts = useAsync(
    () => apiGet<ODataList<Alert>>(`/api/machines/${encodeURIComponent(id)}/alerts` + odata({ orderby: "alertCreationTime desc", top: 500 })).then((r) => r.value),
    [id],
  );
  const columns = useMemo<Column<Alert>[]>(() => [
    { field: "title", headerName: "Title", flex: 3, minWidth: 240, cellRenderer: (p: { data: Alert }) => alertLink(p.data) },
    { field: "severity", headerName: "Severity", cellRenderer: (p: { value: string }) => badgeHtml(p.value) },
    { field: "status", headerName: "Status", cellRenderer: (p: { value: string }) => badgeHtml(p.value) },
    { field: "category", headerName: "Category", valueFormatter: (p) => words(p.value) },
    { field: "assignedTo", headerName: "Assigned to" },
    { field: "alertCreationTime", headerName: "Created", valueFormatter: (p) => formatTime(p.value), minWidth: 170 },
  ], []);
  return (
    <Async state={alerts} what="Loading the device's alerts">
      {(rows) => rows.length === 0 ? <Empty>No alerts on this device.</Empty> : (
        <DataGrid<Alert> rows={rows} columns={columns} rowId={(a) => a.id} label="Device alerts" testId="device-alerts-grid" height={480}
          onRowClick={(a) => navigate(`/alerts/${encodeURIComponent(a.id)}`)} />
      )}
    </Async>
  );
}

function alertLink(a: Alert): HTMLElement {
  const el = document.createElement("a");
  el.href = `/alerts/${encodeURIComponent(a.id)}`;
  el.textContent = a.title;
  el.addEventListener("click", (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    e.stopPropagation();
    navigate(el.getAttribute("href")!);
  });
  return el;
}

// ---- actions -------------------------------------------------------------------------------------

function ActionsTab({ actions }: { actions: ActionsState }) {
  if (actions.error && !actions.rows) return <ErrorBox error={actions.error} retry={actions.reload} />;
  if (!actions.rows) return <Loading what="Loading the device's actions" />;
  const open = actions.rows.some((a) => openActionStatuses.has(a.status));
  return (
    <div>
      <div class="toolbar">
        <button type="button" class="btn small" onClick={actions.reload} disabled={actions.refreshing}>Refresh</button>
        {open && <span class="muted small" role="status">Refreshing every 3 seconds while an action is pending or in progress.</span>}
      </div>
      {actions.error !== null && <ErrorBox error={actions.error} retry={actions.reload} />}
      {actions.rows.length === 0 ? <Empty>No response actions on this device yet.</Empty> : (
        <table class="simple actions-table" data-testid="device-actions">
          <thead>
            <tr><th scope="col">Action</th><th scope="col">Status</th><th scope="col">Requested by</th><th scope="col">Comment</th><th scope="col">Created</th><th scope="col">Updated</th><th scope="col">Result</th></tr>
          </thead>
          <tbody>
            {actions.rows.map((a) => (
              <tr key={a.id} data-testid="action-row" data-action-id={a.id} data-action-type={a.type}>
                <td>
                  <strong>{actionLabel(a.type)}</strong>
                  {a.scope && <span class="muted"> · {a.scope}</span>}
                  {a.relatedFileInfo && <div class="mono small">{a.relatedFileInfo.fileIdentifierType} {a.relatedFileInfo.fileIdentifier}</div>}
                </td>
                <td><span data-testid="action-status" class={`badge badge-${a.status.toLowerCase()}`} title={words(a.status)}>{a.status}</span></td>
                <td>{a.requestor}</td>
                <td class="comment-cell">{a.requestorComment}{a.cancellationComment && <div class="muted small">Cancelled by {a.cancellationRequestor}: {a.cancellationComment}</div>}</td>
                <td>{formatTime(a.creationDateTimeUtc)}</td>
                <td>{formatTime(a.lastUpdateDateTimeUtc)}</td>
                <td><ActionResult a={a} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

const actionLabels: Record<string, string> = {
  Isolate: "Isolate",
  Unisolate: "Release from isolation",
  RestrictCodeExecution: "Restrict app execution",
  UnrestrictCodeExecution: "Remove app restriction",
  RunAntiVirusScan: "Antivirus scan",
  CollectInvestigationPackage: "Collect investigation package",
  StopAndQuarantineFile: "Stop and quarantine file",
  LiveResponse: "Live response",
  Offboard: "Offboard",
};

function actionLabel(type: string): string {
  return actionLabels[type] ?? words(type);
}

function ActionResult({ a }: { a: MachineAction }) {
  const canCollect = useCan(can.collect);
  const me = useMe();
  const canLive = useCan(can.liveResponse) || allowed(me, { portal: "LiveResponseAdvanced", scope: ["Machine.LiveResponse"] });
  const [error, setError] = useState<unknown>(null);
  const open = async (path: string) => {
    setError(null);
    try {
      const r = await apiGet<{ value: string }>(path);
      window.open(r.value, "_blank", "noopener");
    } catch (e) {
      setError(e);
    }
  };
  const err = error !== null && <ErrorBox error={error} />;
  if (a.type === "CollectInvestigationPackage" && a.status === "Succeeded" && canCollect) {
    return <>{err}<button type="button" class="btn small" onClick={() => open(`/api/machineactions/${a.id}/getPackageUri`)}>Download package</button></>;
  }
  if (a.type === "LiveResponse" && a.commands?.length) {
    return (
      <>
        {err}
        <ul class="commands">
          {a.commands.map((c: LiveResponseCommand) => (
            <li key={c.index}>
              <span class="mono small">{c.command.type} {c.command.params.map((p) => p.value).join(" ")}</span>{" "}
              <span class={`badge badge-${(c.commandStatus ?? "").toLowerCase()}`}>{words(c.commandStatus)}</span>
              {c.errors?.map((e) => <div class="small error-text" key={e}>{e}</div>)}
              {c.commandStatus === "Completed" && canLive && (
                <button type="button" class="btn small" onClick={() => open(`/api/machineactions/${a.id}/GetLiveResponseResultDownloadLink(index=${c.index})`)}>Download result</button>
              )}
            </li>
          ))}
        </ul>
      </>
    );
  }
  return null;
}
