// Roles (Ward's management API, /api/rbac/roles): a role grants portal permissions to the user
// groups assigned to it. The built-in administrator role keeps its name and permissions; only its
// description and user groups can change, and it cannot be deleted.
import { useState } from "preact/hooks";
import { apiGet, apiSend, type ODataList } from "../../api/client";
import { ConfirmDialog } from "../../components/Dialog";
import { Badge, Page } from "../../components/Page";
import { Empty, ErrorBox, Loading, useAsync } from "../../components/States";
import type { PageProps } from "../../routes";
import { CheckList, closeDialog, Panel, saveEntity, usePanelSubmit } from "../configure/kit";

export interface Role {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  assignedUserGroups: string[];
  isBuiltIn: boolean;
}
export interface UserGroup {
  id: string;
  name: string;
  description: string;
  members: string[];
}
export interface PermissionCatalog {
  portalPermissions: { name: string; displayName: string }[];
  applicationPermissions: { name: string; description: string; wardExtension: boolean }[];
  delegatedPermissions: { name: string; description: string; wardExtension: boolean }[];
}

export function RolesPage(_: PageProps) {
  const data = useAsync(
    async () => {
      const [roles, groups, perms] = await Promise.all([
        apiGet<ODataList<Role>>("/api/rbac/roles"),
        apiGet<ODataList<UserGroup>>("/api/rbac/usergroups"),
        apiGet<PermissionCatalog>("/api/rbac/permissions"),
      ]);
      return { roles: roles.value, groups: groups.value, perms };
    },
    [],
  );
  const [editing, setEditing] = useState<Role | "new" | null>(null);
  const [deleting, setDeleting] = useState<Role | null>(null);

  return (
    <Page
      title="Roles"
      subtitle="What each role's user groups may see and do in the portal and the API (in user context)."
      actions={
        <button type="button" class="btn primary" data-testid="role-add" onClick={() => setEditing("new")} disabled={!data.data}>
          New role
        </button>
      }
    >
      {data.error ? (
        <ErrorBox error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading what="Loading roles" />
      ) : data.data.roles.length === 0 ? (
        <Empty>No roles.</Empty>
      ) : (
        <div class="card">
          <table class="simple" data-testid="roles-table">
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Description</th>
                <th scope="col">Permissions</th>
                <th scope="col">Assigned user groups</th>
                <th scope="col">
                  <span class="skip">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.data.roles.map((r) => {
                const permName = (p: string) => data.data!.perms.portalPermissions.find((x) => x.name === p)?.displayName ?? p;
                const groupName = (id: string) => data.data!.groups.find((g) => g.id === id)?.name ?? id;
                return (
                  <tr key={r.id} data-testid={`role-${r.name}`}>
                    <td>
                      <strong>{r.name}</strong> {r.isBuiltIn && <Badge>Built-in</Badge>}
                    </td>
                    <td>{r.description || <span class="muted">—</span>}</td>
                    <td class="small">{r.permissions.length ? r.permissions.map(permName).join(", ") : <span class="muted">none</span>}</td>
                    <td class="small">{r.assignedUserGroups.length ? r.assignedUserGroups.map(groupName).join(", ") : <span class="muted">none</span>}</td>
                    <td>
                      <div class="cfg-actions-cell">
                        <button type="button" class="btn small" onClick={() => setEditing(r)}>
                          Edit
                        </button>
                        {!r.isBuiltIn && (
                          <button type="button" class="btn small danger" onClick={() => setDeleting(r)}>
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
        <RoleForm initial={editing === "new" ? null : editing} groups={data.data.groups} perms={data.data.perms} onClose={() => setEditing(null)} onSaved={data.reload} />
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete role"
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await apiSend("DELETE", `/api/rbac/roles/${encodeURIComponent(deleting.id)}`);
            data.reload();
          }}
        >
          <p>
            Members of the groups assigned to <strong>{deleting.name}</strong> lose the permissions it grants (from their next sign-in or token refresh).
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}

function RoleForm({ initial, groups, perms, onClose, onSaved }: { initial: Role | null; groups: UserGroup[]; perms: PermissionCatalog; onClose: () => void; onSaved: () => void }) {
  const builtin = !!initial?.isBuiltIn;
  const [name, setName] = useState(initial?.name ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [permissions, setPermissions] = useState<string[]>(initial?.permissions ?? ["ViewData"]);
  const [assigned, setAssigned] = useState<string[]>(initial?.assignedUserGroups ?? []);

  const { busy, error, submit: save } = usePanelSubmit(() => {
    const body: Record<string, unknown> = { description, assignedUserGroups: assigned };
    if (!builtin) {
      body.name = name.trim();
      body.permissions = permissions;
    }
    return saveEntity("/api/rbac/roles", initial?.id, body);
  }, onSaved);

  return (
    <Panel title={initial ? `Edit role ${initial.name}` : "New role"} onClose={onClose} side testId="role-form">
      <form onSubmit={save} class="cfg-form">
        <label class="field">
          Name
          <input name="name" required maxLength={256} value={name} disabled={builtin} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          Description
          <textarea name="description" rows={2} maxLength={1024} value={description} onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)} />
        </label>
        {builtin && <p class="muted small">The built-in role's name and permissions are fixed.</p>}
        <CheckList
          legend="Permissions"
          options={perms.portalPermissions.map((p) => ({ value: p.name, label: p.displayName, hint: p.name }))}
          selected={permissions}
          onChange={setPermissions}
          disabled={builtin}
          testId="role-permissions"
        />
        <CheckList
          legend="Assigned user groups"
          options={groups.map((g) => ({ value: g.id, label: g.name, hint: `${g.members.length} member${g.members.length === 1 ? "" : "s"}` }))}
          selected={assigned}
          onChange={setAssigned}
          columns={2}
          testId="role-groups"
        />
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          <button type="button" class="btn" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="role-save">
            {busy ? "Saving…" : initial ? "Save" : "Create"}
          </button>
        </div>
      </form>
    </Panel>
  );
}
