// Device groups (Ward's management API, /api/rbac/devicegroups): each device belongs to the
// lowest-ranked group whose rules it matches (every condition given must match; within a
// condition any value, '*' wildcards, case-insensitive), else to the default group. Groups scope
// what users see: a group's user groups may see its devices. The form previews, while rules are
// edited, which devices the group would hold (POST /api/rbac/devicegroups/preview).
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiGet, apiSend, type ODataList } from "../../api/client";
import { ConfirmDialog } from "../../components/Dialog";
import { Badge, Link, Page } from "../../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../../components/States";
import type { PageProps } from "../../routes";
import { CheckList, closeDialog, errorText, Panel, useDebounced, ValueList, saveEntity, usePanelSubmit } from "../configure/kit";
import type { UserGroup } from "./roles";

interface Rules {
  name: string[];
  domain: string[];
  tag: string[];
  osPlatform: string[];
}
export interface DeviceGroup {
  id: number;
  name: string;
  description: string;
  rank: number;
  remediationLevel: string;
  rules: Rules;
  userGroups: string[];
  isDefault: boolean;
}
interface Preview {
  value: { id: string; computerDnsName: string; osPlatform: string; machineTags: string[]; rbacGroupName: string }[];
  count: number;
}

// rbac::kRemediationLevels
const remediationLevels = [
  "No automated response",
  "Semi - Approval required for all folders",
  "Semi - Approval required for non-temporary folders",
  "Semi - Approval required for system folders",
  "Full remediation",
];
const ruleFields: { key: keyof Rules; label: string; placeholder: string }[] = [
  { key: "name", label: "Device name", placeholder: "web-*" },
  { key: "domain", label: "Domain", placeholder: "corp.example.com" },
  { key: "tag", label: "Tag", placeholder: "Production" },
  { key: "osPlatform", label: "OS platform", placeholder: "Ubuntu*" },
];

export function DeviceGroupsPage(_: PageProps) {
  const data = useAsync(
    async () => {
      const [groups, userGroups] = await Promise.all([apiGet<ODataList<DeviceGroup>>("/api/rbac/devicegroups"), apiGet<ODataList<UserGroup>>("/api/rbac/usergroups")]);
      return { groups: groups.value, userGroups: userGroups.value };
    },
    [],
  );
  const [editing, setEditing] = useState<DeviceGroup | "new" | null>(null);
  const [deleting, setDeleting] = useState<DeviceGroup | null>(null);
  const [moving, setMoving] = useState(false);
  const [moveError, setMoveError] = useState<unknown>(null);

  // The server answers groups by rank (the default last); ranked groups only, in that order.
  const ranked = useMemo(() => (data.data?.groups ?? []).filter((g) => !g.isDefault).sort((a, b) => a.rank - b.rank || a.id - b.id), [data.data]);

  // Moves a group one place and renumbers 1..n, patching only the groups whose rank changes.
  const move = async (g: DeviceGroup, delta: -1 | 1) => {
    const order = [...ranked];
    const i = order.findIndex((x) => x.id === g.id);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j], order[i]];
    setMoving(true);
    setMoveError(null);
    try {
      for (let k = 0; k < order.length; k++) {
        if (order[k].rank !== k + 1) await apiSend("PATCH", `/api/rbac/devicegroups/${order[k].id}`, { rank: k + 1 });
      }
    } catch (e) {
      setMoveError(e);
    } finally {
      setMoving(false);
      data.reload();
    }
  };

  const groupName = (id: string) => data.data?.userGroups.find((u) => u.id === id)?.name ?? id;
  return (
    <Page
      title="Device groups"
      subtitle="Devices join the first group, by rank, whose rules they match; users see the devices of the groups their user groups are given."
      actions={
        <button type="button" class="btn primary" data-testid="devicegroup-add" disabled={!data.data} onClick={() => setEditing("new")}>
          New device group
        </button>
      }
    >
      {moveError !== null && <ErrorBox error={moveError} />}
      {data.error ? (
        <ErrorBox error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading what="Loading device groups" />
      ) : data.data.groups.length === 0 ? (
        <Empty>No device groups.</Empty>
      ) : (
        <div class="card">
          <table class="simple" data-testid="devicegroups-table">
            <thead>
              <tr>
                <th scope="col">Rank</th>
                <th scope="col">Group</th>
                <th scope="col">Rules</th>
                <th scope="col">Remediation</th>
                <th scope="col">User groups with access</th>
                <th scope="col">
                  <span class="skip">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {[...ranked, ...data.data.groups.filter((g) => g.isDefault)].map((g) => {
                const i = ranked.findIndex((x) => x.id === g.id);
                return (
                  <tr key={g.id} data-testid={`devicegroup-${g.id}`}>
                    <td>
                      {g.isDefault ? (
                        <span class="muted">last</span>
                      ) : (
                        <span class="cfg-rank">
                          <span class="cfg-rank-n">{g.rank}</span>
                          <button type="button" class="btn small" aria-label={`Move ${g.name} up`} disabled={moving || i === 0} onClick={() => move(g, -1)}>
                            ↑
                          </button>
                          <button type="button" class="btn small" aria-label={`Move ${g.name} down`} disabled={moving || i === ranked.length - 1} onClick={() => move(g, 1)}>
                            ↓
                          </button>
                        </span>
                      )}
                    </td>
                    <td>
                      <strong>{g.name}</strong> {g.isDefault && <Badge>Default</Badge>}
                      {g.description && <div class="muted small">{g.description}</div>}
                    </td>
                    <td class="small">{g.isDefault ? <span class="muted">devices no other group takes</span> : describeRules(g.rules)}</td>
                    <td class="small">{g.remediationLevel}</td>
                    <td class="small">{g.userGroups.length ? g.userGroups.map(groupName).join(", ") : <span class="muted">administrators only</span>}</td>
                    <td>
                      <div class="cfg-actions-cell">
                        <button type="button" class="btn small" onClick={() => setEditing(g)}>
                          Edit
                        </button>
                        {!g.isDefault && (
                          <button type="button" class="btn small danger" onClick={() => setDeleting(g)}>
                            Delete
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {editing && data.data && (
        <GroupForm
          initial={editing === "new" ? null : editing}
          nextRank={ranked.length ? ranked[ranked.length - 1].rank + 1 : 1}
          userGroups={data.data.userGroups}
          onClose={() => setEditing(null)}
          onSaved={data.reload}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete device group"
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await apiSend("DELETE", `/api/rbac/devicegroups/${deleting.id}`);
            data.reload();
          }}
        >
          <p>
            The devices of <strong>{deleting.name}</strong> move to the next group whose rules they match, or to the default group. Users who saw them only through this group lose
            access.
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}

function describeRules(r: Rules): string {
  const parts = ruleFields.filter((f) => r[f.key].length).map((f) => `${f.label} ${r[f.key].join(" or ")}`);
  return parts.length ? parts.join("; and ") : "no rules (matches no device)";
}

function GroupForm({ initial, nextRank, userGroups, onClose, onSaved }: { initial: DeviceGroup | null; nextRank: number; userGroups: UserGroup[]; onClose: () => void; onSaved: () => void }) {
  const isDefault = !!initial?.isDefault;
  const [name, setName] = useState(initial?.name ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [rank, setRank] = useState(String(initial?.rank ?? nextRank));
  const [remediation, setRemediation] = useState(initial?.remediationLevel ?? remediationLevels[0]);
  const [rules, setRules] = useState<Rules>(initial?.rules ?? { name: [], domain: [], tag: [], osPlatform: [] });
  const [access, setAccess] = useState<string[]>(initial?.userGroups ?? []);

  // The preview follows rank and rules after 400 ms of quiet.
  const previewBody = useDebounced(
    JSON.stringify(isDefault ? { id: initial!.id } : { ...(initial ? { id: initial.id } : {}), rank: Number(rank) || 1, rules }),
    400,
  );
  const [preview, setPreview] = useState<{ data?: Preview; error?: string; loading: boolean }>({ loading: true });
  useEffect(() => {
    let live = true;
    setPreview((p) => ({ ...p, loading: true }));
    apiSend<Preview>("POST", "/api/rbac/devicegroups/preview", JSON.parse(previewBody)).then(
      (data) => live && setPreview({ data, loading: false }),
      (e) => live && setPreview({ error: errorText(e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [previewBody]);

  const { busy, error, submit: save } = usePanelSubmit(() => {
    const body: Record<string, unknown> = { description, remediationLevel: remediation, userGroups: access };
    if (!isDefault) {
      body.name = name.trim();
      body.rank = Number(rank);
      body.rules = rules;
    }
    return saveEntity("/api/rbac/devicegroups", initial?.id, body);
  }, onSaved);

  return (
    <Panel title={initial ? `Edit ${initial.name}` : "New device group"} onClose={onClose} wide testId="devicegroup-form">
      <form onSubmit={save} class="cfg-form">
        <div class="row">
          <div class="grow">
            <div class="cfg-two">
              <label class="field">
                Name
                <input name="name" required maxLength={256} value={name} disabled={isDefault} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
              </label>
              <label class="field">
                Rank (1 is matched first)
                <input name="rank" type="number" min={1} required={!isDefault} disabled={isDefault} value={isDefault ? "" : rank} onInput={(e) => setRank((e.target as HTMLInputElement).value)} />
              </label>
            </div>
            <label class="field">
              Description
              <textarea name="description" rows={2} maxLength={1024} value={description} onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)} />
            </label>
            <label class="field">
              Automation level
              <select name="remediationLevel" value={remediation} onChange={(e) => setRemediation((e.target as HTMLSelectElement).value)}>
                {Array.from(new Set([...remediationLevels, remediation])).map((l) => (
                  <option key={l} value={l}>{l}</option>
                ))}
              </select>
            </label>
            {isDefault ? (
              <p class="muted small">The default group has no rules: it holds the devices no other group matches. Its name and rank are fixed.</p>
            ) : (
              <fieldset class="cfg-checks">
                <legend>Rules — a device must match every condition given; any value of a condition, with * wildcards (up to 10 values each)</legend>
                {ruleFields.map((f) => (
                  <ValueList
                    key={f.key}
                    label={f.label}
                    values={rules[f.key]}
                    placeholder={f.placeholder}
                    max={10}
                    onChange={(v) => setRules((r) => ({ ...r, [f.key]: v }))}
                    testId={`devicegroup-rule-${f.key}`}
                  />
                ))}
              </fieldset>
            )}
            <CheckList
              legend="User groups with access"
              options={userGroups.map((u) => ({ value: u.id, label: u.name }))}
              selected={access}
              onChange={setAccess}
              columns={2}
              testId="devicegroup-access"
            />
          </div>
          <div class="grow cfg-preview" data-testid="devicegroup-preview" aria-live="polite">
            <h3 class="cfg-h3">
              Matching devices {preview.loading && <span class="spinner" aria-label="Updating" />}
            </h3>
            {preview.error ? (
              <div class="cfg-error-text" role="alert">
                {preview.error}
              </div>
            ) : !preview.data ? (
              <Loading what="Previewing" />
            ) : (
              <>
                <p data-testid="devicegroup-preview-count">
                  <strong>{preview.data.count.toLocaleString()}</strong> device{preview.data.count === 1 ? "" : "s"} would be in this group
                  {!isDefault && ` at rank ${Number(rank) || 1}`}.
                </p>
                {preview.data.value.length > 0 && (
                  <div class="cfg-scroll">
                    <table class="simple">
                      <thead>
                        <tr>
                          <th scope="col">Device</th>
                          <th scope="col">OS</th>
                          <th scope="col">Tags</th>
                          <th scope="col">Now in</th>
                        </tr>
                      </thead>
                      <tbody>
                        {preview.data.value.slice(0, 25).map((m) => (
                          <tr key={m.id}>
                            <td>
                              <Link href={`/devices/${encodeURIComponent(m.id)}`}>{m.computerDnsName || m.id}</Link>
                            </td>
                            <td>{m.osPlatform}</td>
                            <td>{m.machineTags.join(", ")}</td>
                            <td>{m.rbacGroupName}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
                {preview.data.count > 25 && <p class="muted small">First 25 shown.</p>}
              </>
            )}
          </div>
        </div>
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          <button type="button" class="btn" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="devicegroup-save">
            {busy ? "Saving…" : initial ? "Save" : "Create"}
          </button>
        </div>
      </form>
    </Panel>
  );
}
