// Action center: every machine action on the devices the user may see (GET /api/machineactions,
// newest first), filtered by status, type and device; refreshes itself while any shown action is
// still Pending or InProgress. A details panel shows the action's fields, lets the user cancel an
// open action and download an investigation package or live-response results.
import { FilterSelect } from "./investigate/parts";
import { useMemo, useState } from "preact/hooks";
import { apiGet, apiSend, odata, odataString, type ODataList } from "../api/client";
import { can, useCan } from "../auth/access";
import { ConfirmDialog } from "../components/Dialog";
import { DataGrid, formatTime, type Column } from "../components/DataGrid";
import { Badge, Facts, Link, Page } from "../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../components/States";
import type { PageProps } from "../routes";
import { setQuery } from "../router";
import { cellBadge, cellLink, errorText, Panel, sameOrigin, useInterval } from "./configure/kit";

export interface MachineAction {
  id: string;
  type: string;
  title: string | null;
  scope: string | null;
  requestor: string;
  requestorComment: string | null;
  requestSource: string | null;
  externalID: string | null;
  status: string;
  machineId: string;
  computerDnsName: string | null;
  creationDateTimeUtc: string | null;
  lastUpdateDateTimeUtc: string | null;
  cancellationRequestor: string | null;
  cancellationComment: string | null;
  cancellationDateTimeUtc: string | null;
  errorHResult: number;
  relatedFileInfo: { fileIdentifier: string; fileIdentifierType: string } | null;
  commands: LiveCommand[];
}

interface LiveCommand {
  index?: number;
  startTime?: string | null;
  endTime?: string | null;
  commandStatus?: string;
  errors?: string[];
  command?: { type?: string; params?: { key: string; value: string }[] };
}

const statuses = ["Pending", "InProgress", "Succeeded", "Failed", "TimeOut", "Cancelled"];
const types = [
  "Isolate",
  "Unisolate",
  "RestrictCodeExecution",
  "UnrestrictCodeExecution",
  "RunAntiVirusScan",
  "CollectInvestigationPackage",
  "StopAndQuarantineFile",
  "LiveResponse",
  "Offboard",
];
const PAGE = 50;
const open = (a: MachineAction) => a.status === "Pending" || a.status === "InProgress";

export function ActionCenterPage({ match }: PageProps) {
  const mayCancel = useCan(can.cancelActions);
  const status = match.query.get("status") ?? "";
  const type = match.query.get("type") ?? "";
  const machine = match.query.get("machineId") ?? "";
  const page = Number(match.query.get("page") ?? "0") || 0;
  const [machineText, setMachineText] = useState(machine);
  const [detail, setDetail] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState<MachineAction | null>(null);

  const query = odata({
    filter: [
      status && `status eq ${odataString(status)}`,
      type && `type eq ${odataString(type)}`,
      machine && `machineId eq ${odataString(machine.toLowerCase())}`,
    ].filter(Boolean) as string[],
    orderby: "creationDateTimeUtc desc",
    top: PAGE,
    skip: page * PAGE,
    count: true,
  });
  const list = useAsync(() => apiGet<ODataList<MachineAction>>(`/api/machineactions${query}`), [query]);
  const rows = list.data?.value ?? [];
  const anyOpen = rows.some(open);
  useInterval(list.reload, 5000, anyOpen && !list.loading);
  const total = list.data?.["@odata.count"] ?? 0;

  const columns = useMemo<Column<MachineAction>[]>(
    () => [
      { field: "type", headerName: "Action", width: 230, flex: 0 },
      {
        field: "computerDnsName",
        headerName: "Device",
        flex: 1.3,
        cellRenderer: (p: { data?: MachineAction }) => (p.data ? cellLink(`/devices/${encodeURIComponent(p.data.machineId)}`, p.data.computerDnsName || p.data.machineId) : ""),
      },
      { field: "status", headerName: "Status", width: 130, flex: 0, cellRenderer: (p: { value: unknown }) => cellBadge(p.value) },
      { field: "requestor", headerName: "Requested by", flex: 1 },
      { field: "creationDateTimeUtc", headerName: "Created", minWidth: 165, valueFormatter: (p) => formatTime(p.value) },
      { field: "lastUpdateDateTimeUtc", headerName: "Updated", minWidth: 165, valueFormatter: (p) => formatTime(p.value) },
      { field: "requestorComment", headerName: "Comment", flex: 1.5, tooltipField: "requestorComment" },
    ],
    [],
  );

  return (
    <Page title="Action center" subtitle="Response actions on your devices: isolation, scans, investigation packages, live response and more.">
      <form
        class="toolbar"
        role="search"
        aria-label="Filter actions"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ machineId: machineText.trim() || undefined, page: undefined });
        }}
      >
        <FilterSelect label="Status" name="status" testId="actions-filter-status" value={status} anyLabel="All statuses"
          options={statuses.map((v) => ({ value: v, label: v }))} onChange={(v) => setQuery({ status: v, page: undefined })} />
        <FilterSelect label="Action" name="type" testId="actions-filter-type" value={type} anyLabel="All actions"
          options={types.map((v) => ({ value: v, label: v }))} onChange={(v) => setQuery({ type: v, page: undefined })} />
        <label class="field">
          Device id
          <input type="search" data-testid="actions-filter-machine" value={machineText} placeholder="machine id" onInput={(e) => setMachineText((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="btn">Apply</button>
        {(status || type || machine) && (
          <button type="button" class="btn" onClick={() => { setMachineText(""); setQuery({ status: undefined, type: undefined, machineId: undefined, page: undefined }); }}>
            Clear filters
          </button>
        )}
        <span class="cfg-spacer" />
        <span class="muted small" aria-live="polite">{anyOpen ? "Open actions: refreshing every 5 s" : ""}</span>
        <button type="button" class="btn" onClick={list.reload}>Refresh</button>
      </form>
      {list.error ? (
        <ErrorBox error={list.error} retry={list.reload} />
      ) : list.data === undefined ? (
        <Loading what="Loading actions" />
      ) : rows.length === 0 && page === 0 ? (
        <Empty>{status || type || machine ? "No action matches these filters." : "No response actions yet. Actions started from a device page appear here."}</Empty>
      ) : (
        <>
          <DataGrid<MachineAction> rows={rows} columns={columns} rowId={(r) => r.id} label="Machine actions" testId="actions-grid" height={540} onRowClick={(r) => setDetail(r.id)} />
          <div class="pager">
            <span>{total ? `${page * PAGE + 1}–${page * PAGE + rows.length} of ${total}` : "0"}</span>
            <button type="button" class="btn small" disabled={page === 0} onClick={() => setQuery({ page: page > 1 ? String(page - 1) : undefined })}>
              Previous
            </button>
            <button type="button" class="btn small" disabled={(page + 1) * PAGE >= total} onClick={() => setQuery({ page: String(page + 1) })}>
              Next
            </button>
          </div>
        </>
      )}
      {detail && (
        <ActionDetails
          id={detail}
          fallback={rows.find((r) => r.id === detail)}
          mayCancel={mayCancel}
          onCancel={setCancelling}
          onClose={() => setDetail(null)}
        />
      )}
      {cancelling && (
        <ConfirmDialog
          title={`Cancel ${cancelling.type}`}
          confirmLabel="Cancel action"
          danger
          comment
          commentRequired
          onClose={() => setCancelling(null)}
          onConfirm={async (comment) => {
            await apiSend("POST", `/api/machineactions/${encodeURIComponent(cancelling.id)}/cancel`, { Comment: comment });
            list.reload();
            setDetail(null);
          }}
        >
          <p>
            The {cancelling.type} action on <strong>{cancelling.computerDnsName || cancelling.machineId}</strong> is {cancelling.status}. Cancelling stops it if the device has not finished
            it yet.
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}

function ActionDetails({ id, fallback, mayCancel, onCancel, onClose }: { id: string; fallback?: MachineAction; mayCancel: boolean; onCancel: (a: MachineAction) => void; onClose: () => void }) {
  const one = useAsync(() => apiGet<MachineAction>(`/api/machineactions/${encodeURIComponent(id)}`), [id]);
  const a = one.data ?? fallback;
  useInterval(one.reload, 5000, !!a && open(a) && !one.loading);
  return (
    <Panel title={a ? `${a.type}${a.computerDnsName ? ` · ${a.computerDnsName}` : ""}` : "Action"} onClose={onClose} side testId="action-details">
      {one.error ? <ErrorBox error={one.error} retry={one.reload} /> : null}
      {!a ? (
        !one.error && <Loading what="Loading the action" />
      ) : (
        <>
          <p>
            <Badge tone={a.status}>{a.status}</Badge> {a.title && <span>{a.title}</span>}
          </p>
          <Facts
            items={[
              ["Action id", <code>{a.id}</code>],
              ["Device", <Link href={`/devices/${encodeURIComponent(a.machineId)}`}>{a.computerDnsName || a.machineId}</Link>],
              ["Type", a.type],
              ["Scope", a.scope ?? ""],
              ["Requested by", a.requestor],
              ["Source", a.requestSource ?? ""],
              ["Comment", a.requestorComment ?? ""],
              ["Created", formatTime(a.creationDateTimeUtc)],
              ["Last update", formatTime(a.lastUpdateDateTimeUtc)],
              ["External id", a.externalID ?? ""],
              ["Error", a.errorHResult ? String(a.errorHResult) : ""],
              ["File", a.relatedFileInfo ? `${a.relatedFileInfo.fileIdentifierType}: ${a.relatedFileInfo.fileIdentifier}` : ""],
              ...(a.status === "Cancelled"
                ? ([
                    ["Cancelled by", a.cancellationRequestor ?? ""],
                    ["Cancelled", formatTime(a.cancellationDateTimeUtc)],
                    ["Cancellation comment", a.cancellationComment ?? ""],
                  ] as [string, string][])
                : []),
            ]}
          />
          {a.type === "CollectInvestigationPackage" && <PackageLink a={a} />}
          {a.type === "LiveResponse" && <LiveResponseCommands a={a} />}
          <div class="dialog-buttons">
            {mayCancel && open(a) && (
              <button type="button" class="btn danger cfg-left" data-testid="action-cancel" onClick={() => onCancel(a)}>
                Cancel action
              </button>
            )}
          </div>
        </>
      )}
    </Panel>
  );
}

// Asks for a short-lived signed link and opens it (the download itself needs no token).
function DownloadButton({ path, label, testId }: { path: string; label: string; testId?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <span>
      <button
        type="button"
        class="btn small"
        data-testid={testId}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            const { value } = await apiGet<{ value: string }>(path);
            const link = document.createElement("a");
            link.href = sameOrigin(value);
            link.rel = "noopener";
            link.click();
          } catch (e) {
            setError(errorText(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? "Preparing…" : label}
      </button>
      {error && <span class="cfg-error-text"> {error}</span>}
    </span>
  );
}

function PackageLink({ a }: { a: MachineAction }) {
  return (
    <div class="card">
      <h2>Investigation package</h2>
      {a.status === "Succeeded" ? (
        <DownloadButton path={`/api/machineactions/${encodeURIComponent(a.id)}/getPackageUri`} label="Download package (.tar.gz)" testId="action-package-download" />
      ) : (
        <p class="muted">The package can be downloaded once the action has succeeded.</p>
      )}
    </div>
  );
}

function LiveResponseCommands({ a }: { a: MachineAction }) {
  const cmds = a.commands ?? [];
  return (
    <div class="card">
      <h2>Live response commands</h2>
      {cmds.length === 0 ? (
        <p class="muted">No commands recorded.</p>
      ) : (
        <table class="simple">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Command</th>
              <th scope="col">Status</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {cmds.map((c, i) => {
              const index = c.index ?? i;
              const params = (c.command?.params ?? []).map((p) => `${p.key}=${p.value}`).join(" ");
              return (
                <tr key={index}>
                  <td>{index}</td>
                  <td>
                    <code>{c.command?.type ?? "?"}</code> {params && <span class="muted small">{params}</span>}
                    {(c.errors ?? []).length > 0 && <div class="cfg-error-text">{c.errors!.join("; ")}</div>}
                  </td>
                  <td>{c.commandStatus ? <Badge tone={c.commandStatus}>{c.commandStatus}</Badge> : ""}</td>
                  <td>
                    {c.commandStatus === "Completed" || a.status === "Succeeded" ? (
                      <DownloadButton path={`/api/machineactions/${encodeURIComponent(a.id)}/GetLiveResponseResultDownloadLink(index=${index})`} label="Download" testId={`action-lr-download-${index}`} />
                    ) : (
                      <span class="muted small">—</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
