// Applications (Ward's management API, /api/apps): OAuth clients with application permissions
// (client credentials, the token's "roles") and delegated permissions (user sign-in, "scp"), their
// client secrets (the value is shown once, when created) and certificates (PEM), and whether they
// may get tokens at all.
import { useState } from "preact/hooks";
import { apiGet, apiSend, type ODataList } from "../../api/client";
import { useMe } from "../../auth/access";
import { ConfirmDialog } from "../../components/Dialog";
import { formatTime } from "../../components/DataGrid";
import { Badge, Facts, Page } from "../../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../../components/States";
import type { PageProps } from "../../routes";
import { CheckList, closeDialog, CopyButton, Panel, ValueList, usePanelSubmit } from "../configure/kit";
import type { PermissionCatalog } from "./roles";

interface Secret {
  keyId: string;
  displayName: string;
  hint: string;
  startDateTime: string;
  endDateTime: string | null;
  secretText?: string;
}
interface Certificate {
  keyId: string;
  customKeyIdentifier: string;
  displayName: string;
  startDateTime: string;
  endDateTime: string;
}
interface App {
  appId: string;
  displayName: string;
  applicationPermissions: string[];
  delegatedPermissions: string[];
  redirectUris: string[];
  publicClient: boolean;
  enabled: boolean;
  passwordCredentials: Secret[];
  keyCredentials: Certificate[];
  createdDateTime: string;
}

export function AppsPage(_: PageProps) {
  const data = useAsync(
    async () => {
      const [apps, perms] = await Promise.all([apiGet<ODataList<App>>("/api/apps?$orderby=displayName"), apiGet<PermissionCatalog>("/api/rbac/permissions")]);
      return { apps: apps.value, perms };
    },
    [],
  );
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const app = data.data?.apps.find((a) => a.appId === open);
  return (
    <Page
      title="Apps and secrets"
      subtitle="Applications that call Ward's API: their permissions, client secrets and certificates."
      actions={
        <button type="button" class="btn primary" data-testid="app-add" disabled={!data.data} onClick={() => setCreating(true)}>
          New application
        </button>
      }
    >
      {data.error && !data.data ? (
        <ErrorBox error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading what="Loading applications" />
      ) : data.data.apps.length === 0 ? (
        <Empty>No applications yet. Create one to call the API with client credentials.</Empty>
      ) : (
        <div class="card">
          <table class="simple" data-testid="apps-table">
            <thead>
              <tr>
                <th scope="col">Application</th>
                <th scope="col">Application (client) id</th>
                <th scope="col">Status</th>
                <th scope="col">Permissions</th>
                <th scope="col">Secrets</th>
                <th scope="col">Certificates</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="skip">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.data.apps.map((a) => (
                <tr key={a.appId}>
                  <td>
                    <strong>{a.displayName}</strong> {a.publicClient && <Badge>Public client</Badge>}
                  </td>
                  <td class="mono">{a.appId}</td>
                  <td>{a.enabled ? <Badge tone="active">Enabled</Badge> : <Badge tone="disabled">Disabled</Badge>}</td>
                  <td class="small">
                    {a.applicationPermissions.length} application, {a.delegatedPermissions.length} delegated
                  </td>
                  <td class="small">{a.passwordCredentials.length}</td>
                  <td class="small">{a.keyCredentials.length}</td>
                  <td class="small">{formatTime(a.createdDateTime)}</td>
                  <td>
                    <button type="button" class="btn small" data-testid={`app-open-${a.displayName}`} onClick={() => setOpen(a.appId)}>
                      Manage
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && data.data && (
        <AppForm
          perms={data.data.perms}
          onClose={() => setCreating(false)}
          onSaved={(a) => {
            data.reload();
            setOpen(a.appId);
          }}
        />
      )}
      {app && data.data && <AppPanel app={app} perms={data.data.perms} reload={data.reload} onClose={() => setOpen(null)} />}
    </Page>
  );
}

function PermissionPickers(p: { perms: PermissionCatalog; app: string[]; delegated: string[]; setApp: (v: string[]) => void; setDelegated: (v: string[]) => void }) {
  return (
    <>
      <CheckList
        legend="Application permissions (client credentials; the token's roles)"
        options={p.perms.applicationPermissions.map((x) => ({ value: x.name, label: x.name + (x.wardExtension ? " (Ward)" : ""), hint: x.description }))}
        selected={p.app}
        onChange={p.setApp}
        columns={2}
        testId="app-application-permissions"
      />
      <CheckList
        legend="Delegated permissions (user sign-in; the token's scp)"
        options={p.perms.delegatedPermissions.map((x) => ({ value: x.name, label: x.name + (x.wardExtension ? " (Ward)" : ""), hint: x.description }))}
        selected={p.delegated}
        onChange={p.setDelegated}
        columns={2}
        testId="app-delegated-permissions"
      />
    </>
  );
}

function AppForm({ perms, onClose, onSaved }: { perms: PermissionCatalog; onClose: () => void; onSaved: (a: App) => void }) {
  const [name, setName] = useState("");
  const [appPerms, setAppPerms] = useState<string[]>([]);
  const [delegated, setDelegated] = useState<string[]>([]);
  const [redirects, setRedirects] = useState<string[]>([]);
  const [publicClient, setPublicClient] = useState(false);
  const { busy, error, submit: save } = usePanelSubmit(
    () =>
      apiSend<App>("POST", "/api/apps", {
        displayName: name.trim(),
        applicationPermissions: appPerms,
        delegatedPermissions: delegated,
        redirectUris: redirects,
        publicClient,
      }),
    onSaved,
  );
  return (
    <Panel title="New application" onClose={onClose} wide testId="app-form">
      <form onSubmit={save} class="cfg-form">
        <label class="field">
          Display name
          <input name="displayName" required maxLength={256} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <PermissionPickers perms={perms} app={appPerms} delegated={delegated} setApp={setAppPerms} setDelegated={setDelegated} />
        <ValueList label="Redirect URIs (for user sign-in)" values={redirects} onChange={setRedirects} placeholder="https://app.example.com/callback" hint="https, or a loopback address (http://localhost…, http://127.0.0.1…)." />
        <label class="cfg-check cfg-inline">
          <input type="checkbox" checked={publicClient} onChange={(e) => setPublicClient((e.target as HTMLInputElement).checked)} />
          <span>Public client (no secret: native and single-page apps sign in with PKCE)</span>
        </label>
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          <button type="button" class="btn" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="app-save">
            {busy ? "Creating…" : "Create"}
          </button>
        </div>
      </form>
    </Panel>
  );
}

function AppPanel({ app, perms, reload, onClose }: { app: App; perms: PermissionCatalog; reload: () => void; onClose: () => void }) {
  const me = useMe();
  const [tab, setTab] = useState<"overview" | "permissions" | "secrets" | "certificates">("overview");
  const [confirm, setConfirm] = useState<null | { title: string; body: string; label: string; run: () => Promise<void> }>(null);
  const base = `/api/apps/${encodeURIComponent(app.appId)}`;
  return (
    <Panel title={app.displayName} onClose={onClose} wide testId="app-panel">
      <div class="tabs" role="tablist" aria-label="Application">
        {(["overview", "permissions", "secrets", "certificates"] as const).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} data-testid={`app-tab-${t}`} onClick={() => setTab(t)}>
            {t === "overview" ? "Overview" : t === "permissions" ? "Permissions" : t === "secrets" ? `Client secrets (${app.passwordCredentials.length})` : `Certificates (${app.keyCredentials.length})`}
          </button>
        ))}
      </div>
      <div class="cfg-tabs-body" role="tabpanel">
        {tab === "overview" && (
          <>
            <Facts
              items={[
                ["Application (client) id", <span class="cfg-code-row"><code>{app.appId}</code> <CopyButton text={app.appId} /></span>],
                ["Directory (tenant) id", <span class="cfg-code-row"><code>{me.tenantId}</code> <CopyButton text={me.tenantId} /></span>],
                ["Status", app.enabled ? <Badge tone="active">Enabled</Badge> : <Badge tone="disabled">Disabled</Badge>],
                ["Client type", app.publicClient ? "Public (PKCE, no secret)" : "Confidential"],
                ["Redirect URIs", app.redirectUris.join(", ")],
                ["Created", formatTime(app.createdDateTime)],
              ]}
            />
            <div class="dialog-buttons">
              <button
                type="button"
                class="btn danger cfg-left"
                data-testid="app-delete"
                onClick={() =>
                  setConfirm({
                    title: "Delete application",
                    body: `${app.displayName} can no longer get tokens; scripts using it stop working.`,
                    label: "Delete",
                    run: async () => {
                      await apiSend("DELETE", base);
                      onClose();
                      reload();
                    },
                  })
                }
              >
                Delete application
              </button>
              <button
                type="button"
                class="btn"
                data-testid="app-toggle"
                onClick={() =>
                  app.enabled
                    ? setConfirm({
                        title: "Disable application",
                        body: `${app.displayName} gets no new tokens while disabled${app.publicClient ? " — if this is the portal's own application, nobody can sign in to the portal" : ""}.`,
                        label: "Disable",
                        run: async () => {
                          await apiSend("PATCH", base, { enabled: false });
                          reload();
                        },
                      })
                    : apiSend("PATCH", base, { enabled: true }).then(reload)
                }
              >
                {app.enabled ? "Disable" : "Enable"}
              </button>
            </div>
          </>
        )}
        {tab === "permissions" && <PermissionsTab app={app} perms={perms} reload={reload} />}
        {tab === "secrets" && <SecretsTab app={app} reload={reload} onDelete={(s) => setConfirm({ title: "Delete client secret", body: `Clients using the secret ${s.hint}… (${s.displayName || s.keyId}) can no longer get tokens.`, label: "Delete", run: async () => { await apiSend("DELETE", `${base}/secrets/${encodeURIComponent(s.keyId)}`); reload(); } })} />}
        {tab === "certificates" && <CertificatesTab app={app} reload={reload} onDelete={(c) => setConfirm({ title: "Delete certificate", body: `Clients signing with ${c.displayName} (${c.customKeyIdentifier}) can no longer get tokens.`, label: "Delete", run: async () => { await apiSend("DELETE", `${base}/certificates/${encodeURIComponent(c.keyId)}`); reload(); } })} />}
      </div>
      {confirm && (
        <ConfirmDialog title={confirm.title} confirmLabel={confirm.label} danger onClose={() => setConfirm(null)} onConfirm={confirm.run}>
          <p>{confirm.body}</p>
        </ConfirmDialog>
      )}
    </Panel>
  );
}

function PermissionsTab({ app, perms, reload }: { app: App; perms: PermissionCatalog; reload: () => void }) {
  const [appPerms, setAppPerms] = useState(app.applicationPermissions);
  const [delegated, setDelegated] = useState(app.delegatedPermissions);
  const [redirects, setRedirects] = useState(app.redirectUris);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await apiSend("PATCH", `/api/apps/${encodeURIComponent(app.appId)}`, { applicationPermissions: appPerms, delegatedPermissions: delegated, redirectUris: redirects });
      setSaved(true);
      reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={save} class="cfg-form">
      <PermissionPickers perms={perms} app={appPerms} delegated={delegated} setApp={setAppPerms} setDelegated={setDelegated} />
      <ValueList label="Redirect URIs" values={redirects} onChange={setRedirects} placeholder="https://app.example.com/callback" />
      {error !== null && <ErrorBox error={error} />}
      <div class="dialog-buttons">
        {saved && <span role="status" class="muted">Saved. New tokens carry the new permissions.</span>}
        <button type="submit" class="btn primary" disabled={busy} data-testid="app-permissions-save">
          {busy ? "Saving…" : "Save permissions"}
        </button>
      </div>
    </form>
  );
}

function SecretsTab({ app, reload, onDelete }: { app: App; reload: () => void; onDelete: (s: Secret) => void }) {
  const [name, setName] = useState("");
  const [days, setDays] = useState("180");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<Secret | null>(null);
  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await apiSend<Secret>("POST", `/api/apps/${encodeURIComponent(app.appId)}/secrets`, { displayName: name.trim(), expiresInDays: Number(days) });
      setCreated(s);
      setName("");
      reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const now = Date.now();
  return (
    <>
      {created?.secretText && (
        <div class="cfg-secret" role="status" data-testid="app-secret-created">
          <strong>New client secret — copy it now; it is not shown again.</strong>
          <div class="cfg-code-row" style={{ marginTop: "6px" }}>
            <code data-testid="app-secret-value">{created.secretText}</code>
            <CopyButton text={created.secretText} testId="app-secret-copy" />
          </div>
          <div class="muted small">
            Key id {created.keyId}, expires {formatTime(created.endDateTime)}.
          </div>
        </div>
      )}
      <form class="toolbar" onSubmit={add}>
        <label class="field">
          Description
          <input value={name} maxLength={256} placeholder="e.g. SIEM connector" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          Expires after
          <select value={days} onChange={(e) => setDays((e.target as HTMLSelectElement).value)}>
            {[["30", "30 days"], ["90", "90 days"], ["180", "180 days"], ["365", "1 year"], ["730", "2 years"]].map(([v, l]) => (
              <option key={v} value={v}>{l}</option>
            ))}
          </select>
        </label>
        <button type="submit" class="btn primary" disabled={busy || app.passwordCredentials.length >= 10} data-testid="app-secret-add">
          {busy ? "Creating…" : "New client secret"}
        </button>
        {app.passwordCredentials.length >= 10 && <span class="muted small">At most 10 secrets per application.</span>}
      </form>
      {error !== null && <ErrorBox error={error} />}
      {app.passwordCredentials.length === 0 ? (
        <Empty>No client secrets.</Empty>
      ) : (
        <table class="simple" data-testid="app-secrets">
          <thead>
            <tr>
              <th scope="col">Description</th>
              <th scope="col">Value</th>
              <th scope="col">Key id</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span class="skip">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {app.passwordCredentials.map((s) => {
              const expired = s.endDateTime !== null && new Date(s.endDateTime).getTime() < now;
              return (
                <tr key={s.keyId}>
                  <td>{s.displayName || <span class="muted">—</span>}</td>
                  <td class="mono">{s.hint}…</td>
                  <td class="mono small">{s.keyId}</td>
                  <td class="small">{formatTime(s.startDateTime)}</td>
                  <td class="small">
                    {s.endDateTime ? formatTime(s.endDateTime) : "never"} {expired && <Badge tone="expired">Expired</Badge>}
                  </td>
                  <td>
                    <button type="button" class="btn small danger" onClick={() => onDelete(s)}>
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}

function CertificatesTab({ app, reload, onDelete }: { app: App; reload: () => void; onDelete: (c: Certificate) => void }) {
  const [pem, setPem] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const upload = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await apiSend("POST", `/api/apps/${encodeURIComponent(app.appId)}/certificates`, { certificate: pem.trim() });
      setPem("");
      reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <form onSubmit={upload} class="cfg-form">
        <p class="muted">Upload the public certificate (PEM) whose private key signs the application's client assertions.</p>
        <label class="field">
          Certificate file (.pem, .crt, .cer)
          <input
            type="file"
            accept=".pem,.crt,.cer,application/x-pem-file"
            data-testid="app-cert-file"
            onChange={async (e) => {
              const f = (e.target as HTMLInputElement).files?.[0];
              if (f) setPem(await f.text());
            }}
          />
        </label>
        <label class="field">
          Or paste it
          <textarea rows={5} class="mono" value={pem} placeholder="-----BEGIN CERTIFICATE-----" onInput={(e) => setPem((e.target as HTMLTextAreaElement).value)} data-testid="app-cert-pem" />
        </label>
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          <button type="submit" class="btn primary" disabled={busy || !pem.trim()} data-testid="app-cert-upload">
            {busy ? "Uploading…" : "Upload certificate"}
          </button>
        </div>
      </form>
      {app.keyCredentials.length === 0 ? (
        <Empty>No certificates.</Empty>
      ) : (
        <table class="simple" data-testid="app-certificates">
          <thead>
            <tr>
              <th scope="col">Subject</th>
              <th scope="col">Thumbprint</th>
              <th scope="col">Valid from</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span class="skip">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {app.keyCredentials.map((c) => (
              <tr key={c.keyId}>
                <td>{c.displayName}</td>
                <td class="mono small cfg-break">{c.customKeyIdentifier}</td>
                <td class="small">{formatTime(c.startDateTime)}</td>
                <td class="small">
                  {formatTime(c.endDateTime)} {new Date(c.endDateTime).getTime() < Date.now() && <Badge tone="expired">Expired</Badge>}
                </td>
                <td>
                  <button type="button" class="btn small danger" onClick={() => onDelete(c)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
