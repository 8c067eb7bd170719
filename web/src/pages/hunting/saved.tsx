// Saved and shared hunting queries (Ward extension: /api/advancedhunting/savedqueries): the list,
// open into the editor, save / save as / delete, and the save dialog.
import { useEffect, useRef, useState } from "preact/hooks";
import { apiSend } from "../../api/client";
import { ConfirmDialog } from "../../components/Dialog";
import { Badge } from "../../components/Page";
import { Empty, ErrorBox, Loading, type AsyncState } from "../../components/States";

export interface SavedQuery {
  id: string;
  name: string;
  query: string;
  description?: string;
  shared: boolean;
  createdBy: string;
  createdDateTime: string;
  lastUpdatedDateTime: string;
  canEdit: boolean;
}

export function SavedQueries({
  state,
  filter,
  currentId,
  onOpen,
  onDeleted,
}: {
  state: AsyncState<SavedQuery[]>;
  filter: string;
  currentId: string | null;
  onOpen: (q: SavedQuery) => void;
  onDeleted: (id: string) => void;
}) {
  const [deleting, setDeleting] = useState<SavedQuery | null>(null);
  if (state.error) return <ErrorBox error={state.error} retry={state.reload} />;
  if (!state.data) return <Loading what="Loading saved queries" />;
  const f = filter.trim().toLowerCase();
  const list = state.data
    .filter((q) => !f || q.name.toLowerCase().includes(f) || (q.description ?? "").toLowerCase().includes(f) || q.query.toLowerCase().includes(f))
    .sort((a, b) => Number(a.shared) - Number(b.shared) || a.name.localeCompare(b.name));
  if (!state.data.length) return <Empty>No saved queries yet. Write a query and choose “Save”.</Empty>;
  if (!list.length) return <Empty>No saved query matches “{filter}”.</Empty>;
  return (
    <>
      <ul class="hunt-list" data-testid="hunting-saved">
        {list.map((q) => (
          <li key={q.id} class={q.id === currentId ? "current" : ""}>
            <button type="button" class="hunt-item" onClick={() => onOpen(q)} title={q.query} aria-current={q.id === currentId ? "true" : undefined}>
              <span class="hunt-item-name">{q.name}</span>
              {q.shared && <Badge tone="info">Shared</Badge>}
              <span class="hunt-item-meta muted">
                {q.createdBy}
                {q.description ? ` · ${q.description}` : ""}
              </span>
            </button>
            {q.canEdit && (
              <button type="button" class="btn small hunt-del" aria-label={`Delete saved query ${q.name}`} title="Delete" onClick={() => setDeleting(q)}>
                ✕
              </button>
            )}
          </li>
        ))}
      </ul>
      {deleting && (
        <ConfirmDialog
          title="Delete saved query"
          confirmLabel="Delete"
          danger
          onConfirm={async () => {
            await apiSend("DELETE", `/api/advancedhunting/savedqueries/${encodeURIComponent(deleting.id)}`);
            onDeleted(deleting.id);
          }}
          onClose={() => setDeleting(null)}
        >
          <p>
            Delete “{deleting.name}”{deleting.shared ? ", which is shared with everyone who may hunt" : ""}? This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

// Save (update `existing`) or Save as (new) dialog.
export function SaveDialog({
  existing,
  query,
  onSaved,
  onClose,
}: {
  existing: SavedQuery | null;
  query: string;
  onSaved: (q: SavedQuery) => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState(existing?.name ?? "");
  const [description, setDescription] = useState(existing?.description ?? "");
  const [shared, setShared] = useState(existing?.shared ?? false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => ref.current?.showModal(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim(), query, description: description.trim(), shared };
      const saved = existing
        ? await apiSend<SavedQuery>("PATCH", `/api/advancedhunting/savedqueries/${encodeURIComponent(existing.id)}`, body)
        : await apiSend<SavedQuery>("POST", "/api/advancedhunting/savedqueries", body);
      onSaved(saved);
      ref.current?.close();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="dialog hunt-dialog" onClose={onClose} aria-labelledby="hunt-save-title">
      <form onSubmit={submit}>
        <h2 id="hunt-save-title">{existing ? `Save “${existing.name}”` : "Save query"}</h2>
        <label class="field">
          Name
          <input name="name" value={name} required maxLength={256} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          Description (optional)
          <textarea name="description" rows={3} maxLength={4096} value={description} onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)} />
        </label>
        <label class="hunt-check">
          <input type="checkbox" name="shared" checked={shared} onChange={(e) => setShared((e.target as HTMLInputElement).checked)} />
          Shared: everyone in the tenant who may hunt can open it
        </label>
        <pre class="hunt-save-preview" aria-label="Query to save">{query}</pre>
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          <button type="button" class="btn" onClick={() => ref.current?.close()} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy || !name.trim() || !query.trim()}>
            {busy ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
