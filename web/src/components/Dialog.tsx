// A modal confirmation built on <dialog>: focus moves into it, Escape closes it, and actions that
// MDE records with a comment ask for one.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorBox } from "./States";

export interface ConfirmProps {
  title: string;
  children?: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  // A comment field (required when `commentRequired`).
  comment?: boolean;
  commentRequired?: boolean;
  onConfirm: (comment: string) => Promise<void>;
  onClose: () => void;
}

export function ConfirmDialog(p: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await p.onConfirm(comment.trim());
      p.onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="dialog" onClose={p.onClose} aria-labelledby="dialog-title">
      <form onSubmit={submit}>
        <h2 id="dialog-title">{p.title}</h2>
        {p.children}
        {p.comment && (
          <label class="field">
            Comment{p.commentRequired ? "" : " (optional)"}
            <textarea
              name="comment"
              rows={3}
              value={comment}
              required={p.commentRequired}
              onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)}
            />
          </label>
        )}
        {error !== null && <ErrorBox error={error} />}
        <div class="dialog-buttons">
          <button type="button" class="btn" onClick={() => ref.current?.close()} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class={p.danger ? "btn danger" : "btn primary"} disabled={busy || (p.commentRequired && !comment.trim())}>
            {busy ? "Working…" : p.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
