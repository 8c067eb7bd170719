// Streaming configurations (Ward extension, docs/streaming.md): each streams chosen advanced-hunting
// categories, optionally for some device groups, to destinations (Azure Blob, Kafka / Event Hubs,
// local files, syslog). The list shows every destination's live status, refreshed every 5 s; the
// form creates and edits configurations (secrets come back as "***" and sending "***" keeps them);
// the dead-letter view lists the records a destination refused for good.
import { useMemo, useState } from "preact/hooks";
import { apiGet, apiSend, type ODataList } from "../api/client";
import { ConfirmDialog } from "../components/Dialog";
import { formatTime } from "../components/DataGrid";
import { Badge, Page } from "../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../components/States";
import type { PageProps } from "../routes";
import { CheckList, closeDialog, isoToLocalInput, localInputToIso, Panel, useInterval, ValueList, saveEntity, usePanelSubmit } from "./configure/kit";

type Destination = Record<string, unknown> & { name: string; type: string };

interface DestinationStatus {
  name: string;
  type: string;
  state: string;
  lagRecords: number;
  lagSeconds: number;
  deliveredRecords: number;
  deadLetteredRecords: number;
  failedDeliveries: number;
  recordsPerSecond: number;
  lastError: string | null;
  lastErrorDateTime: string | null;
  lastSuccessDateTime: string | null;
  logOffset: number;
  logEndOffset: number;
}

interface StreamConfig {
  id: string;
  name: string;
  enabled: boolean;
  eventTypes: string[];
  deviceGroups: string[];
  destinations: Destination[];
  replayFrom: string | null;
  createdBy: string;
  createdDateTime: string | null;
  lastModifiedBy: string;
  lastModifiedDateTime: string | null;
  status: { state: string; destinations: DestinationStatus[] };
}

interface DeadLetter {
  time: string;
  destination: string;
  reason: string;
  record: unknown;
}

// Each destination type's settings, as src/stream/*_sink.cc read them.
interface FieldSpec {
  key: string;
  label: string;
  kind: "text" | "secret" | "int" | "select";
  options?: string[];
  placeholder?: string;
  hint?: string;
  required?: boolean;
}
const destinationFields: Record<string, FieldSpec[]> = {
  AzureBlob: [
    { key: "connectionString", label: "Connection string", kind: "secret", placeholder: "DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…", hint: "Give a connection string or a SAS URL, not both." },
    { key: "sasUrl", label: "SAS URL", kind: "secret", placeholder: "https://account.blob.core.windows.net/?sv=…&sig=…" },
    { key: "flushIntervalMs", label: "Flush interval (ms)", kind: "int", placeholder: "1000" },
    { key: "timeoutMs", label: "Timeout (ms)", kind: "int", placeholder: "30000" },
    { key: "caFile", label: "CA file (on the server)", kind: "text" },
  ],
  Kafka: [
    { key: "bootstrapServers", label: "Bootstrap servers", kind: "text", placeholder: "k1:9092,k2:9092", hint: "Required unless an Event Hubs connection string is given." },
    { key: "eventHubsConnectionString", label: "Event Hubs connection string", kind: "secret", placeholder: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…" },
    { key: "topic", label: "Topic", kind: "text", placeholder: "default: insights-logs-advancedhunting-<table>" },
    { key: "securityProtocol", label: "Security protocol", kind: "select", options: ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] },
    { key: "saslMechanism", label: "SASL mechanism", kind: "select", options: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] },
    { key: "saslUsername", label: "SASL user name", kind: "text" },
    { key: "saslPassword", label: "SASL password", kind: "secret" },
    { key: "compression", label: "Compression", kind: "select", options: ["none", "gzip", "snappy", "lz4", "zstd"] },
    { key: "lingerMs", label: "Linger (ms)", kind: "int", placeholder: "5" },
    { key: "batchBytes", label: "Batch bytes", kind: "int" },
    { key: "maxMessageBytes", label: "Max message bytes", kind: "int", placeholder: "1000000" },
    { key: "timeoutMs", label: "Timeout (ms)", kind: "int", placeholder: "30000" },
    { key: "caFile", label: "CA file (on the server)", kind: "text" },
  ],
  File: [
    { key: "directory", label: "Directory", kind: "text", placeholder: "default: the destination's name", hint: "A plain name, made under the server's streaming/files." },
    { key: "maxFileBytes", label: "Rotate after (bytes)", kind: "int", placeholder: "67108864" },
    { key: "maxFiles", label: "Rotated files kept per table (0 = all)", kind: "int", placeholder: "0" },
  ],
  Syslog: [
    { key: "address", label: "Address", kind: "text", placeholder: "collector:6514", required: true },
    { key: "protocol", label: "Protocol", kind: "select", options: ["tcp", "tls", "udp"] },
    { key: "framing", label: "Framing", kind: "select", options: ["octet-counting", "newline"] },
    { key: "format", label: "Format", kind: "select", options: ["json", "cef"] },
    { key: "facility", label: "Facility (0–23)", kind: "int", placeholder: "16" },
    { key: "appName", label: "App name", kind: "text", placeholder: "ward" },
    { key: "hostname", label: "Host name", kind: "text" },
    { key: "maxMessageBytes", label: "Max message bytes", kind: "int" },
    { key: "timeoutMs", label: "Timeout (ms)", kind: "int", placeholder: "10000" },
    { key: "caFile", label: "TLS CA file (on the server)", kind: "text" },
    { key: "pinSha256", label: "TLS pin (SHA-256 of the certificate)", kind: "text" },
    { key: "serverName", label: "TLS server name", kind: "text" },
  ],
};
const destinationTypes = Object.keys(destinationFields);

export function StreamingPage(_: PageProps) {
  const list = useAsync(() => apiGet<ODataList<StreamConfig>>("/api/streaming/configurations"), []);
  useInterval(list.reload, 5000, !list.loading && !list.error);
  const [editing, setEditing] = useState<StreamConfig | "new" | null>(null);
  const [deleting, setDeleting] = useState<StreamConfig | null>(null);
  const [letters, setLetters] = useState<StreamConfig | null>(null);
  const [toggleError, setToggleError] = useState<unknown>(null);

  const toggle = async (c: StreamConfig) => {
    setToggleError(null);
    try {
      await apiSend("PATCH", `/api/streaming/configurations/${encodeURIComponent(c.id)}`, { enabled: !c.enabled });
      list.reload();
    } catch (e) {
      setToggleError(e);
    }
  };

  return (
    <Page
      title="Streaming"
      subtitle="Stream events and alerts to storage, Kafka / Event Hubs, files or a SIEM over syslog."
      actions={
        <button type="button" class="btn primary" data-testid="stream-add" onClick={() => setEditing("new")}>
          New configuration
        </button>
      }
    >
      {toggleError !== null && <ErrorBox error={toggleError} />}
      {list.error && list.data === undefined ? (
        <ErrorBox error={list.error} retry={list.reload} />
      ) : list.data === undefined ? (
        <Loading what="Loading streaming configurations" />
      ) : list.data.value.length === 0 ? (
        <Empty>No streaming configuration yet. Create one to send events to a destination.</Empty>
      ) : (
        <div data-testid="stream-list">
          {list.error && <ErrorBox error={list.error} retry={list.reload} />}
          {list.data.value.map((c) => (
            <ConfigCard key={c.id} c={c} onEdit={() => setEditing(c)} onDelete={() => setDeleting(c)} onToggle={() => toggle(c)} onLetters={() => setLetters(c)} />
          ))}
        </div>
      )}
      {editing && <ConfigForm initial={editing === "new" ? null : editing} onClose={() => setEditing(null)} onSaved={list.reload} />}
      {letters && <DeadLetters c={letters} onClose={() => setLetters(null)} />}
      {deleting && (
        <ConfirmDialog
          title="Delete streaming configuration"
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await apiSend("DELETE", `/api/streaming/configurations/${encodeURIComponent(deleting.id)}`);
            list.reload();
          }}
        >
          <p>
            <strong>{deleting.name}</strong> stops streaming to {deleting.destinations.length} destination{deleting.destinations.length === 1 ? "" : "s"}. Data already delivered stays where it
            is.
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}

function fmtNum(n: number | undefined): string {
  if (n === undefined || n === null) return "";
  return Number.isInteger(n) ? n.toLocaleString() : n.toLocaleString(undefined, { maximumFractionDigits: 1 });
}

function ConfigCard({ c, onEdit, onDelete, onToggle, onLetters }: { c: StreamConfig; onEdit: () => void; onDelete: () => void; onToggle: () => void; onLetters: () => void }) {
  const statuses = new Map(c.status.destinations.map((d) => [d.name, d]));
  return (
    <div class="card cfg-stream-card" data-testid={`stream-config-${c.name}`}>
      <div class="card-header">
        <h2>
          {c.name} <Badge tone={c.status.state}>{c.status.state}</Badge>
        </h2>
        <div class="cfg-actions-cell">
          <button type="button" class="btn small" onClick={onEdit}>Edit</button>
          <button type="button" class="btn small" onClick={onToggle}>{c.enabled ? "Disable" : "Enable"}</button>
          <button type="button" class="btn small" onClick={onLetters} data-testid="stream-deadletters">Dead letters</button>
          <button type="button" class="btn small danger" onClick={onDelete}>Delete</button>
        </div>
      </div>
      <div class="cfg-meta">
        <span>Event types: {c.eventTypes.map((t) => t.replace(/^AdvancedHunting-/, "")).join(", ")}</span>
        <span>Device groups: {c.deviceGroups.length ? c.deviceGroups.join(", ") : "all"}</span>
        <span>
          Modified {formatTime(c.lastModifiedDateTime)} by {c.lastModifiedBy}
        </span>
        {c.replayFrom && <span>Replay from {formatTime(c.replayFrom)}</span>}
      </div>
      <table class="simple" aria-label={`Destinations of ${c.name}`}>
        <thead>
          <tr>
            <th scope="col">Destination</th>
            <th scope="col">Type</th>
            <th scope="col">State</th>
            <th scope="col" class="num">Lag (records)</th>
            <th scope="col" class="num">Lag (s)</th>
            <th scope="col" class="num">Delivered</th>
            <th scope="col" class="num">Dead-lettered</th>
            <th scope="col" class="num">Failed deliveries</th>
            <th scope="col" class="num">Records/s</th>
            <th scope="col">Last success</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {c.destinations.map((d) => {
            const s = statuses.get(d.name);
            return (
              <tr key={d.name}>
                <td>{d.name}</td>
                <td>{d.type}</td>
                <td>{s ? <Badge tone={s.state}>{s.state}</Badge> : <span class="muted">{c.enabled ? "Starting" : "Stopped"}</span>}</td>
                <td class="num">{fmtNum(s?.lagRecords)}</td>
                <td class="num">{fmtNum(s?.lagSeconds)}</td>
                <td class="num">{fmtNum(s?.deliveredRecords)}</td>
                <td class="num">{fmtNum(s?.deadLetteredRecords)}</td>
                <td class="num">{fmtNum(s?.failedDeliveries)}</td>
                <td class="num">{fmtNum(s?.recordsPerSecond)}</td>
                <td class="small">{formatTime(s?.lastSuccessDateTime)}</td>
                <td>
                  {s?.lastError ? (
                    s.lastError.length > 120 ? (
                      <details class="cfg-error-text">
                        <summary>
                          {formatTime(s.lastErrorDateTime)}: {s.lastError.slice(0, 110)}…
                        </summary>
                        {s.lastError}
                      </details>
                    ) : (
                      <span class="cfg-error-text">
                        {formatTime(s.lastErrorDateTime)}: {s.lastError}
                      </span>
                    )
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

interface DestForm {
  name: string;
  stored?: string; // the name it is stored under: secrets sent back as "***" are restored by name
  type: string;
  values: Record<string, string>; // the fields of destinationFields[type], as typed
  extra: Record<string, unknown>; // settings this form does not know, kept as they are
}

function toForm(d: Destination): DestForm {
  const fields = destinationFields[d.type] ?? [];
  const values: Record<string, string> = {};
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (k === "name" || k === "type") continue;
    const f = fields.find((x) => x.key.toLowerCase() === k.toLowerCase());
    if (f && (typeof v === "string" || typeof v === "number")) values[f.key] = String(v);
    else extra[k] = v;
  }
  return { name: d.name, stored: d.name, type: d.type, values, extra };
}

function fromForm(d: DestForm): Destination {
  const out: Destination = { ...d.extra, name: d.name.trim(), type: d.type };
  for (const f of destinationFields[d.type] ?? []) {
    const v = (d.values[f.key] ?? "").trim();
    if (!v) continue;
    out[f.key] = f.kind === "int" && /^-?\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

function ConfigForm({ initial, onClose, onSaved }: { initial: StreamConfig | null; onClose: () => void; onSaved: () => void }) {
  const schema = useAsync(() => apiGet<{ Tables: { Name: string }[] }>("/api/advancedhunting/schema"), []);
  const groups = useAsync(() => apiGet<ODataList<{ name: string }>>("/api/rbac/devicegroups"), []);
  const [name, setName] = useState(initial?.name ?? "");
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [eventTypes, setEventTypes] = useState<string[]>(initial?.eventTypes ?? []);
  const [deviceGroups, setDeviceGroups] = useState<string[]>(initial?.deviceGroups ?? []);
  const [dests, setDests] = useState<DestForm[]>(() => (initial?.destinations ?? [{ name: "archive", type: "File" } as Destination]).map(toForm));
  const [replay, setReplay] = useState("");

  const categories = useMemo(() => {
    const fromSchema = (schema.data?.Tables ?? []).map((t) => `AdvancedHunting-${t.Name}`);
    return Array.from(new Set([...fromSchema, ...eventTypes])).sort();
  }, [schema.data, eventTypes]);

  const setDest = (i: number, patch: Partial<DestForm>) => setDests((ds) => ds.map((d, j) => (j === i ? { ...d, ...patch } : d)));

  const { busy, error, submit: save } = usePanelSubmit(() => {
    // The server restores "***" secrets by destination name, so a renamed destination must send them again.
    const renamed = dests.find((d) => d.stored && d.stored !== d.name.trim() && Object.values(d.values).includes("***"));
    if (renamed) {
      throw new Error(`Destination '${renamed.stored}' was renamed to '${renamed.name.trim()}': type its secrets again (the stored ones are kept only under the old name).`);
    }
    const body: Record<string, unknown> = { name: name.trim(), enabled, eventTypes, deviceGroups, destinations: dests.map(fromForm) };
    if (initial && replay) body.replayFrom = localInputToIso(replay);
    return saveEntity("/api/streaming/configurations", initial?.id, body);
  }, onSaved);

  return (
    <Panel title={initial ? `Edit ${initial.name}` : "New streaming configuration"} onClose={onClose} wide testId="stream-form">
      <form onSubmit={save} class="cfg-form">
        <div class="cfg-two">
          <label class="field">
            Name
            <input name="name" required maxLength={128} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <label class="cfg-check cfg-inline" style={{ alignSelf: "end" }}>
            <input type="checkbox" name="enabled" checked={enabled} onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)} />
            <span>Enabled</span>
          </label>
        </div>
        {schema.error ? (
          <>
            <ErrorBox error={schema.error} />
            <ValueList label="Event types" values={eventTypes} onChange={setEventTypes} placeholder="AdvancedHunting-DeviceProcessEvents" />
          </>
        ) : schema.data === undefined ? (
          <Loading what="Loading event types" />
        ) : (
          <CheckList
            legend="Event types (advanced hunting tables)"
            options={categories.map((c) => ({ value: c, label: c.replace(/^AdvancedHunting-/, "") }))}
            selected={eventTypes}
            onChange={setEventTypes}
            columns={3}
            bulk
            testId="stream-event-types"
          />
        )}
        {groups.error ? (
          <ErrorBox error={groups.error} retry={groups.reload} />
        ) : groups.data === undefined ? (
          <Loading what="Loading device groups" />
        ) : (
          <CheckList
            legend="Device groups (none selected: every device)"
            options={Array.from(new Set([...groups.data.value.map((g) => g.name), ...deviceGroups])).map((g) => ({ value: g, label: g }))}
            selected={deviceGroups}
            onChange={setDeviceGroups}
            columns={2}
            testId="stream-device-groups"
          />
        )}
        <h3 class="cfg-h3">Destinations</h3>
        {dests.map((d, i) => (
          <div class="cfg-dest" key={i} data-testid={`stream-dest-${i}`}>
            <div class="cfg-dest-head">
              <strong>Destination {i + 1}</strong>
              <button type="button" class="btn small" disabled={dests.length === 1} onClick={() => setDests((ds) => ds.filter((_, j) => j !== i))}>
                Remove
              </button>
            </div>
            <div class="cfg-two">
              <label class="field">
                Name
                <input required pattern="[A-Za-z0-9._\-]{1,64}" title="1 to 64 letters, digits, '-', '_' or '.'" value={d.name} onInput={(e) => setDest(i, { name: (e.target as HTMLInputElement).value })} />
              </label>
              <label class="field">
                Type
                <select value={d.type} onChange={(e) => setDest(i, { type: (e.target as HTMLSelectElement).value, values: {}, extra: {} })}>
                  {Array.from(new Set([...destinationTypes, d.type])).map((t) => (
                    <option key={t} value={t}>{t === "AzureBlob" ? "Azure Blob storage" : t === "Kafka" ? "Kafka / Event Hubs" : t}</option>
                  ))}
                </select>
              </label>
            </div>
            <div class="cfg-two">
              {(destinationFields[d.type] ?? []).map((f) => {
                const v = d.values[f.key] ?? "";
                const onInput = (e: Event) => setDest(i, { values: { ...d.values, [f.key]: (e.target as HTMLInputElement).value } });
                return (
                  <label class="field" key={f.key}>
                    {f.label}
                    {f.kind === "select" ? (
                      <select value={v} onChange={onInput}>
                        <option value="">(default)</option>
                        {f.options!.map((o) => (
                          <option key={o} value={o}>{o}</option>
                        ))}
                      </select>
                    ) : (
                      <input
                        type={f.kind === "secret" ? "password" : f.kind === "int" ? "number" : "text"}
                        autoComplete="off"
                        required={f.required}
                        value={v}
                        placeholder={f.placeholder}
                        onInput={onInput}
                        data-testid={`stream-dest-${i}-${f.key}`}
                      />
                    )}
                    {f.kind === "secret" && v === "***" ? <span class="muted small">Stored secret (***) is kept unless you type a new one.</span> : f.hint ? <span class="muted small">{f.hint}</span> : null}
                  </label>
                );
              })}
            </div>
          </div>
        ))}
        <button type="button" class="btn small" disabled={dests.length >= 16} onClick={() => setDests((ds) => [...ds, { name: `dest${ds.length + 1}`, type: "Kafka", values: {}, extra: {} }])}>
          Add destination
        </button>
        {initial && (
          <label class="field" style={{ marginTop: "12px" }}>
            Replay from (optional: every destination sends again what the log holds from this time)
            <input type="datetime-local" value={replay} max={isoToLocalInput(new Date().toISOString())} onInput={(e) => setReplay((e.target as HTMLInputElement).value)} />
          </label>
        )}
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          <button type="button" class="btn" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="stream-save">
            {busy ? "Saving…" : initial ? "Save" : "Create"}
          </button>
        </div>
      </form>
    </Panel>
  );
}

function DeadLetters({ c, onClose }: { c: StreamConfig; onClose: () => void }) {
  const [destination, setDestination] = useState(c.destinations[0]?.name ?? "");
  const [top, setTop] = useState(100);
  const letters = useAsync(
    () => apiGet<{ value: DeadLetter[] }>(`/api/streaming/configurations/${encodeURIComponent(c.id)}/deadletters?destination=${encodeURIComponent(destination)}&$top=${top}`),
    [c.id, destination, top],
  );
  return (
    <Panel title={`Dead letters · ${c.name}`} onClose={onClose} wide testId="stream-deadletters-panel">
      <p class="muted">Records a destination refused for good (too large, invalid for the target…), with the reason. The rest of the stream keeps flowing.</p>
      <div class="toolbar">
        <label class="field">
          Destination
          <select value={destination} onChange={(e) => setDestination((e.target as HTMLSelectElement).value)}>
            {c.destinations.map((d) => (
              <option key={d.name} value={d.name}>{d.name} ({d.type})</option>
            ))}
          </select>
        </label>
        <label class="field">
          Show
          <select value={top} onChange={(e) => setTop(Number((e.target as HTMLSelectElement).value))}>
            {[100, 500, 1000].map((n) => (
              <option key={n} value={n}>latest {n}</option>
            ))}
          </select>
        </label>
        <button type="button" class="btn" onClick={letters.reload}>Refresh</button>
      </div>
      {letters.error ? (
        <ErrorBox error={letters.error} retry={letters.reload} />
      ) : letters.data === undefined ? (
        <Loading what="Loading dead letters" />
      ) : letters.data.value.length === 0 ? (
        <Empty>No dead letters for {destination}.</Empty>
      ) : (
        <div class="cfg-scroll">
          <table class="simple">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Reason</th>
                <th scope="col">Record</th>
              </tr>
            </thead>
            <tbody>
              {letters.data.value.map((d, i) => (
                <tr key={i}>
                  <td class="small">{formatTime(d.time)}</td>
                  <td>{d.reason}</td>
                  <td>
                    <details>
                      <summary class="small">{recordSummary(d.record)}</summary>
                      <pre class="cfg-pre">{JSON.stringify(d.record, null, 2)}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="dialog-buttons">
        <button type="button" class="btn" onClick={closeDialog}>Close</button>
      </div>
    </Panel>
  );
}

function recordSummary(r: unknown): string {
  if (r && typeof r === "object") {
    const o = r as Record<string, unknown>;
    const cat = typeof o.category === "string" ? o.category : "";
    const t = typeof o.time === "string" ? formatTime(o.time) : "";
    const text = JSON.stringify(r);
    return [cat, t, `${text.length.toLocaleString()} characters`].filter(Boolean).join(" · ");
  }
  return r === null ? "(no record)" : String(r).slice(0, 80);
}
