// Alert page (/alerts/:id, /alert/:id): what the alert says, the device it is on, its evidence, the
// process tree of the process that triggered it, its comments, and (for triage users) the form that
// changes its status, assignment and classification (PATCH /api/alerts/{id}).
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiGet, apiSend } from "../api/client";
import { can, useCan, useMe } from "../auth/access";
import { formatTime } from "../components/DataGrid";
import { Badge, Card, Facts, Link, Page } from "../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../components/States";
import type { PageProps } from "../routes";
import { alertStatuses, classifications, determinations, words, type Alert, type Evidence } from "./investigate/model";
import { ProcessTree, treeFromEvidence, treeFromHunting, triggerEvidence } from "./investigate/process-tree";
import "./investigate.css";

export function AlertPage({ match }: PageProps) {
  const id = match.params.id;
  const loaded = useAsync(() => apiGet<Alert>(`/api/alerts/${encodeURIComponent(id)}?$expand=evidence`), [id]);
  const [updated, setUpdated] = useState<Alert | null>(null);
  useEffect(() => setUpdated(null), [loaded.data]);
  const a = updated ?? loaded.data;
  if (loaded.error) {
    return (
      <Page title="Alert">
        <ErrorBox error={loaded.error} retry={loaded.reload} />
        <p><Link href="/alerts">Back to alerts</Link></p>
      </Page>
    );
  }
  if (!a) return <Page title="Alert"><Loading what="Loading the alert" /></Page>;
  // PATCH answers the alert with its evidence, so the page takes it as is.
  const onUpdate = (next: Alert) => setUpdated(next);
  return (
    <Page
      title={a.title}
      subtitle={
        <div class="device-summary" data-testid="alert-summary">
          <Badge tone={a.severity}>{a.severity}</Badge>
          <Badge tone={a.status}>{words(a.status)}</Badge>
          <span>{words(a.category)}</span>
          {a.machineId && <span>on <Link href={`/devices/${encodeURIComponent(a.machineId)}`}>{a.computerDnsName || a.machineId}</Link></span>}
          {a.assignedTo && <span>assigned to <strong>{a.assignedTo}</strong></span>}
        </div>
      }
    >
      <div class="alert-layout">
        <div class="alert-main">
          <Card title="Details">
            {a.description && <p class="description">{a.description}</p>}
            <Facts
              items={[
                ["Alert id", <code>{a.id}</code>],
                ["Severity", a.severity],
                ["Status", words(a.status)],
                ["Category", words(a.category)],
                ["Detection source", a.detectionSource],
                ["Threat", [a.threatFamilyName, a.threatName].filter(Boolean).join(" · ")],
                ["MITRE techniques", (a.mitreTechniques ?? []).join(", ")],
                ["Device", a.machineId ? <Link href={`/devices/${encodeURIComponent(a.machineId)}`}>{a.computerDnsName || a.machineId}</Link> : ""],
                ["Device group", a.rbacGroupName],
                ["User", a.relatedUser ? (a.relatedUser.domainName ? `${a.relatedUser.domainName}\\${a.relatedUser.userName}` : a.relatedUser.userName) : ""],
                ["First activity", formatTime(a.firstEventTime)],
                ["Last activity", formatTime(a.lastEventTime)],
                ["Created", formatTime(a.alertCreationTime)],
                ["Last updated", formatTime(a.lastUpdateTime)],
                ["Resolved", formatTime(a.resolvedTime)],
                ["Classification", words(a.classification)],
                ["Determination", words(a.determination)],
                ["Incident", a.incidentId != null ? String(a.incidentId) : ""],
              ]}
            />
          </Card>
          <ProcessTreeCard alert={a} />
          <EvidenceCard evidence={a.evidence ?? []} />
        </div>
        <div class="alert-side">
          <TriageCard alert={a} onUpdate={onUpdate} />
          <CommentsCard alert={a} onUpdate={onUpdate} />
        </div>
      </div>
    </Page>
  );
}

function ProcessTreeCard({ alert }: { alert: Alert }) {
  const canHunt = useCan(can.hunt);
  const fromEvidence = useMemo(() => treeFromEvidence(alert), [alert.id]);
  const hunted = useAsync(() => (canHunt && triggerEvidence(alert) ? treeFromHunting(alert) : Promise.resolve(null)), [alert.id, canHunt]);
  const root = hunted.data ?? fromEvidence;
  return (
    <Card
      title="Process tree"
      actions={<span class="muted small">{hunted.data ? "From the device's process events" : fromEvidence ? "From the alert's evidence" : ""}</span>}
    >
      {hunted.loading && canHunt && <Loading what="Tracing the process through the device's events" />}
      {hunted.error ? <ErrorBox error={hunted.error} retry={hunted.reload} /> : null}
      {!hunted.loading && !root && <Empty>This alert names no process.</Empty>}
      {root && (!hunted.loading || !canHunt) && <ProcessTree root={root} label="Process tree of the alert's process" />}
    </Card>
  );
}

function EvidenceCard({ evidence }: { evidence: Evidence[] }) {
  return (
    <Card title={`Evidence (${evidence.length})`}>
      {evidence.length === 0 ? <Empty>No evidence recorded.</Empty> : (
        <div class="table-scroll">
          <table class="simple" data-testid="evidence">
            <thead>
              <tr><th scope="col">Type</th><th scope="col">Entity</th><th scope="col">Details</th><th scope="col">Time</th><th scope="col">Status</th></tr>
            </thead>
            <tbody>
              {evidence.map((e, i) => (
                <tr key={i}>
                  <td>{e.entityType}</td>
                  <td class="evidence-entity">{entityOf(e)}</td>
                  <td class="evidence-details">
                    {e.processCommandLine && <div class="mono small">{e.processCommandLine}</div>}
                    {e.filePath && <div class="small">{e.filePath}</div>}
                    {e.sha1 && <div class="mono small">SHA1 {e.sha1}</div>}
                    {e.sha256 && <div class="mono small">SHA256 {e.sha256}</div>}
                    {e.parentProcessFileName && <div class="small muted">Parent {e.parentProcessFileName}{e.parentProcessId != null ? ` (pid ${e.parentProcessId})` : ""}</div>}
                    {e.registryValue && <div class="small">{e.registryValue}</div>}
                  </td>
                  <td>{formatTime(e.evidenceCreationTime)}</td>
                  <td>{e.detectionStatus}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function entityOf(e: Evidence): string {
  switch (e.entityType) {
    case "Process":
      return `${e.fileName ?? ""}${e.processId != null ? ` (pid ${e.processId})` : ""}`;
    case "File":
      return e.fileName ?? e.sha1 ?? "";
    case "Ip":
      return e.ipAddress ?? "";
    case "Url":
      return e.url ?? "";
    case "User":
      return e.userPrincipalName || (e.domainName ? `${e.domainName}\\${e.accountName ?? ""}` : e.accountName ?? "");
    case "Registry":
      return [e.registryKey, e.registryValue].filter(Boolean).join(" · ");
    default:
      return e.fileName || e.ipAddress || e.url || e.accountName || e.registryKey || "";
  }
}

function TriageCard({ alert, onUpdate }: { alert: Alert; onUpdate: (a: Alert) => void }) {
  const canTriage = useCan(can.triageAlerts);
  const me = useMe();
  const [status, setStatus] = useState(alert.status);
  const [assignedTo, setAssignedTo] = useState(alert.assignedTo ?? "");
  const [classification, setClassification] = useState(alert.classification ?? "");
  const [determination, setDetermination] = useState(alert.determination ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    setStatus(alert.status);
    setAssignedTo(alert.assignedTo ?? "");
    setClassification(alert.classification ?? "");
    setDetermination(alert.determination ?? "");
  }, [alert]);
  if (!canTriage) return null;
  const body: Record<string, string> = {};
  if (status !== alert.status) body.status = status;
  if (assignedTo.trim() !== (alert.assignedTo ?? "")) body.assignedTo = assignedTo.trim();
  if (classification && classification !== (alert.classification ?? "")) body.classification = classification;
  if (determination && (determination !== (alert.determination ?? "") || body.classification)) body.determination = determination;
  const changed = Object.keys(body).length > 0;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      onUpdate(await apiSend<Alert>("PATCH", `/api/alerts/${encodeURIComponent(alert.id)}`, body));
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Manage alert">
      <form onSubmit={submit} data-testid="triage-form">
        <label class="field">
          Status
          <select name="status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            {alertStatuses.map((s) => <option key={s} value={s}>{words(s)}</option>)}
          </select>
        </label>
        <label class="field">
          Assigned to
          <span class="inline">
            <input name="assignedTo" value={assignedTo} maxLength={256} placeholder="user@example.com" onInput={(e) => setAssignedTo((e.target as HTMLInputElement).value)} />
            <button type="button" class="btn small" onClick={() => setAssignedTo(me.userPrincipalName)}>Assign to me</button>
          </span>
        </label>
        <label class="field">
          Classification
          <select name="classification" value={classification} onChange={(e) => { setClassification((e.target as HTMLSelectElement).value); setDetermination(""); }}>
            <option value="" disabled={Boolean(alert.classification)}>Not set</option>
            {classifications.map((c) => <option key={c.value} value={c.value}>{c.label}</option>)}
          </select>
        </label>
        <label class="field">
          Determination
          <select name="determination" value={determination} disabled={!classification} onChange={(e) => setDetermination((e.target as HTMLSelectElement).value)}>
            <option value="">Not set</option>
            {(determinations[classification] ?? []).map((d) => <option key={d} value={d}>{words(d)}</option>)}
          </select>
        </label>
        {error !== null && <ErrorBox error={error} />}
        {saved && !changed && <div class="muted small" role="status">Saved.</div>}
        <button type="submit" class="btn primary" disabled={busy || !changed}>{busy ? "Saving…" : "Save"}</button>
      </form>
    </Card>
  );
}

function CommentsCard({ alert, onUpdate }: { alert: Alert; onUpdate: (a: Alert) => void }) {
  const canTriage = useCan(can.triageAlerts);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const comments = [...(alert.comments ?? [])].sort((x, y) => (y.createdTime ?? "").localeCompare(x.createdTime ?? ""));
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onUpdate(await apiSend<Alert>("PATCH", `/api/alerts/${encodeURIComponent(alert.id)}`, { comment: text.trim() }));
      setText("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={`Comments (${comments.length})`}>
      {canTriage && (
        <form onSubmit={submit}>
          <label class="field">
            New comment
            <textarea name="comment" rows={3} maxLength={16384} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          </label>
          {error !== null && <ErrorBox error={error} />}
          <button type="submit" class="btn" disabled={busy || !text.trim()}>{busy ? "Adding…" : "Add comment"}</button>
        </form>
      )}
      {comments.length === 0 ? <p class="muted">No comments yet.</p> : (
        <ol class="comments" data-testid="comments">
          {comments.map((c, i) => (
            <li key={i}>
              <div class="comment-meta"><strong>{c.createdBy}</strong> <span class="muted small">{formatTime(c.createdTime)}</span></div>
              <div class="comment-text">{c.comment}</div>
            </li>
          ))}
        </ol>
      )}
    </Card>
  );
}
