// User groups and users (Ward's management API): groups are what roles and device groups are
// assigned to (/api/rbac/usergroups, members are user ids); users are the tenant's local accounts
// (/api/users: create with a password of at least 12 characters, rename, reset the password,
// disable, delete — not your own account).
import { useMemo, useState } from "preact/hooks";
import { apiGet, apiSend, type ODataList } from "../../api/client";
import { useMe } from "../../auth/access";
import { ConfirmDialog } from "../../components/Dialog";
import { formatTime } from "../../components/DataGrid";
import { Badge, Page } from "../../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../../components/States";
import type { PageProps } from "../../routes";
import { setQuery } from "../../router";
import { CheckList, closeDialog, closer, Panel, saveEntity, usePanelSubmit } from "../configure/kit";
import type { Role, UserGroup } from "./roles";

export interface User {
  id: string;
  userPrincipalName: string;
  displayName: string;
  accountEnabled: boolean;
  createdDateTime: string;
}

export function UserGroupsPage({ match }: PageProps) {
  const tab = match.query.get("tab") === "users" ? "users" : "groups";
  const data = useAsync(
    async () => {
      const [groups, users, roles] = await Promise.all([
        apiGet<ODataList<UserGroup>>("/api/rbac/usergroups"),
        apiGet<ODataList<User>>("/api/users?$orderby=userPrincipalName"),
        apiGet<ODataList<Role>>("/api/rbac/roles"),
      ]);
      return { groups: groups.value, users: users.value, roles: roles.value };
    },
    [],
  );
  return (
    <Page title="User groups" subtitle="Groups of users that roles and device groups are assigned to, and the users themselves.">
      <div class="tabs" role="tablist" aria-label="User groups and users">
        <button type="button" role="tab" id="tab-groups" aria-selected={tab === "groups"} aria-controls="panel-groups" onClick={() => setQuery({ tab: undefined })}>
          User groups{data.data ? ` (${data.data.groups.length})` : ""}
        </button>
        <button type="button" role="tab" id="tab-users" aria-selected={tab === "users"} aria-controls="panel-users" data-testid="tab-users" onClick={() => setQuery({ tab: "users" })}>
          Users{data.data ? ` (${data.data.users.length})` : ""}
        </button>
      </div>
      {data.error ? (
        <ErrorBox error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading what="Loading user groups and users" />
      ) : tab === "groups" ? (
        <div role="tabpanel" id="panel-groups" aria-labelledby="tab-groups">
          <Groups groups={data.data.groups} users={data.data.users} roles={data.data.roles} reload={data.reload} />
        </div>
      ) : (
        <div role="tabpanel" id="panel-users" aria-labelledby="tab-users">
          <Users users={data.data.users} groups={data.data.groups} reload={data.reload} />
        </div>
      )}
    </Page>
  );
}

function Groups({ groups, users, roles, reload }: { groups: UserGroup[]; users: User[]; roles: Role[]; reload: () => void }) {
  const [editing, setEditing] = useState<UserGroup | "new" | null>(null);
  const [deleting, setDeleting] = useState<UserGroup | null>(null);
  const userName = (id: string) => users.find((u) => u.id === id)?.userPrincipalName ?? id;
  return (
    <>
      <div class="toolbar">
        <span class="cfg-spacer" />
        <button type="button" class="btn primary" data-testid="usergroup-add" onClick={() => setEditing("new")}>
          New user group
        </button>
      </div>
      {groups.length === 0 ? (
        <Empty>No user groups yet. Create one and assign it to a role.</Empty>
      ) : (
        <div class="card">
          <table class="simple" data-testid="usergroups-table">
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Description</th>
                <th scope="col">Members</th>
                <th scope="col">Roles</th>
                <th scope="col">
                  <span class="skip">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => {
                const gRoles = roles.filter((r) => r.assignedUserGroups.includes(g.id));
                return (
                  <tr key={g.id}>
                    <td>
                      <strong>{g.name}</strong>
                    </td>
                    <td>{g.description || <span class="muted">—</span>}</td>
                    <td class="small">
                      {g.members.length === 0 ? (
                        <span class="muted">none</span>
                      ) : (
                        <>
                          {g.members.slice(0, 5).map(userName).join(", ")}
                          {g.members.length > 5 && <span class="muted"> and {g.members.length - 5} more</span>}
                        </>
                      )}
                    </td>
                    <td class="small">{gRoles.length ? gRoles.map((r) => r.name).join(", ") : <span class="muted">none</span>}</td>
                    <td>
                      <div class="cfg-actions-cell">
                        <button type="button" class="btn small" onClick={() => setEditing(g)}>
                          Edit
                        </button>
                        <button type="button" class="btn small danger" onClick={() => setDeleting(g)}>
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {editing && <GroupForm initial={editing === "new" ? null : editing} users={users} onClose={() => setEditing(null)} onSaved={reload} />}
      {deleting && (
        <ConfirmDialog
          title="Delete user group"
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await apiSend("DELETE", `/api/rbac/usergroups/${encodeURIComponent(deleting.id)}`);
            reload();
          }}
        >
          <p>
            <strong>{deleting.name}</strong> is removed from every role and device group it is assigned to; its {deleting.members.length} member
            {deleting.members.length === 1 ? "" : "s"} lose what it granted them.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

function GroupForm({ initial, users, onClose, onSaved }: { initial: UserGroup | null; users: User[]; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(initial?.name ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [members, setMembers] = useState<string[]>(initial?.members ?? []);
  const [filter, setFilter] = useState("");
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return users.filter((u) => !f || u.userPrincipalName.toLowerCase().includes(f) || u.displayName.toLowerCase().includes(f) || members.includes(u.id));
  }, [users, filter, members]);

  const { busy, error, submit: save } = usePanelSubmit(
    () => saveEntity("/api/rbac/usergroups", initial?.id, { name: name.trim(), description, members }),
    onSaved,
  );
  return (
    <Panel title={initial ? `Edit ${initial.name}` : "New user group"} onClose={onClose} side testId="usergroup-form">
      <form onSubmit={save} class="cfg-form">
        <label class="field">
          Name
          <input name="name" required maxLength={256} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          Description
          <textarea name="description" rows={2} maxLength={1024} value={description} onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)} />
        </label>
        <label class="field">
          Find users
          <input type="search" value={filter} placeholder="name or sign-in name" onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </label>
        <CheckList
          legend={`Members (${members.length} selected)`}
          options={shown.map((u) => ({ value: u.id, label: u.displayName || u.userPrincipalName, hint: u.userPrincipalName + (u.accountEnabled ? "" : " · disabled") }))}
          selected={members}
          onChange={setMembers}
          testId="usergroup-members"
        />
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          <button type="button" class="btn" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="usergroup-save">
            {busy ? "Saving…" : initial ? "Save" : "Create"}
          </button>
        </div>
      </form>
    </Panel>
  );
}

function Users({ users, groups, reload }: { users: User[]; groups: UserGroup[]; reload: () => void }) {
  const me = useMe();
  const [editing, setEditing] = useState<User | "new" | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  return (
    <>
      <div class="toolbar">
        <span class="cfg-spacer" />
        <button type="button" class="btn primary" data-testid="user-add" onClick={() => setEditing("new")}>
          New user
        </button>
      </div>
      {users.length === 0 ? (
        <Empty>No users.</Empty>
      ) : (
        <div class="card">
          <table class="simple" data-testid="users-table">
            <thead>
              <tr>
                <th scope="col">Sign-in name</th>
                <th scope="col">Display name</th>
                <th scope="col">Status</th>
                <th scope="col">Groups</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="skip">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.id}>
                  <td>
                    {u.userPrincipalName} {u.id === me.id && <Badge>You</Badge>}
                  </td>
                  <td>{u.displayName}</td>
                  <td>{u.accountEnabled ? <Badge tone="active">Enabled</Badge> : <Badge tone="disabled">Disabled</Badge>}</td>
                  <td class="small">{groups.filter((g) => g.members.includes(u.id)).map((g) => g.name).join(", ") || <span class="muted">none</span>}</td>
                  <td class="small">{formatTime(u.createdDateTime)}</td>
                  <td>
                    <div class="cfg-actions-cell">
                      <button type="button" class="btn small" onClick={() => setEditing(u)}>
                        Edit
                      </button>
                      {u.id !== me.id && (
                        <button type="button" class="btn small danger" onClick={() => setDeleting(u)}>
                          Delete
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && <UserForm initial={editing === "new" ? null : editing} self={editing !== "new" && editing.id === me.id} onClose={() => setEditing(null)} onSaved={reload} />}
      {deleting && (
        <ConfirmDialog
          title="Delete user"
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await apiSend("DELETE", `/api/users/${encodeURIComponent(deleting.id)}`);
            reload();
          }}
        >
          <p>
            <strong>{deleting.userPrincipalName}</strong> can no longer sign in and is removed from every user group.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

function UserForm({ initial, self, onClose, onSaved }: { initial: User | null; self: boolean; onClose: () => void; onSaved: () => void }) {
  const [upn, setUpn] = useState(initial?.userPrincipalName ?? "");
  const [displayName, setDisplayName] = useState(initial?.displayName ?? "");
  const [password, setPassword] = useState("");
  const [enabled, setEnabled] = useState(initial?.accountEnabled ?? true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const save = async (e: Event) => {
    e.preventDefault();
    const close = closer(e);
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = { displayName: displayName.trim(), accountEnabled: enabled };
    if (!initial) body.userPrincipalName = upn.trim();
    if (password) body.password = password;
    try {
      if (initial) await apiSend("PATCH", `/api/users/${encodeURIComponent(initial.id)}`, body);
      else await apiSend("POST", "/api/users", body);
      onSaved();
      close();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Panel title={initial ? `Edit ${initial.userPrincipalName}` : "New user"} onClose={onClose} side testId="user-form">
      <form onSubmit={save} class="cfg-form">
        <label class="field">
          Sign-in name (user principal name)
          <input name="userPrincipalName" type="email" required value={upn} disabled={!!initial} placeholder="name@example.com" onInput={(e) => setUpn((e.target as HTMLInputElement).value)} />
          {initial && <span class="muted small">The sign-in name is fixed once created.</span>}
        </label>
        <label class="field">
          Display name
          <input name="displayName" maxLength={256} value={displayName} onInput={(e) => setDisplayName((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          {initial ? "New password (leave empty to keep the current one)" : "Password"}
          <input name="password" type="password" autoComplete="new-password" required={!initial} minLength={12} value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
          <span class="muted small">At least 12 characters.</span>
        </label>
        <label class="cfg-check cfg-inline">
          <input type="checkbox" name="accountEnabled" checked={enabled} disabled={self} onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)} />
          <span>Account enabled{self && " (you cannot disable your own account here)"}</span>
        </label>
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          <button type="button" class="btn" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="user-save">
            {busy ? "Saving…" : initial ? "Save" : "Create"}
          </button>
        </div>
      </form>
    </Panel>
  );
}
