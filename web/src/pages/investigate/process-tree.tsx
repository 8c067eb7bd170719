// The process tree of an alert's triggering process: its ancestors and its children (two levels),
// built from the alert's process evidence and, when the user may hunt, from the device's
// DeviceProcessEvents (each row is one process start: the process, its parent as InitiatingProcess*,
// and the grandparent as InitiatingProcessParent*). Rendered as an ARIA tree: arrow keys move,
// Right/Left expand and collapse, Enter toggles.
import { useMemo, useRef, useState } from "preact/hooks";
import { apiSend } from "../../api/client";
import { formatTime } from "../../components/DataGrid";
import type { Alert, Evidence } from "./model";

export interface ProcNode {
  key: string;
  name: string;
  pid?: number | null;
  commandLine?: string | null;
  path?: string | null;
  time?: string | null; // creation time
  account?: string | null;
  trigger?: boolean;
  children: ProcNode[];
}

interface HuntResult {
  Results: Record<string, unknown>[];
}

type Row = Record<string, unknown>;

const columns =
  "Timestamp, ProcessId, FileName, FolderPath, ProcessCommandLine, ProcessCreationTime, AccountName, InitiatingProcessId, InitiatingProcessFileName, InitiatingProcessFolderPath, InitiatingProcessCommandLine, InitiatingProcessCreationTime, InitiatingProcessAccountName, InitiatingProcessParentId, InitiatingProcessParentFileName, InitiatingProcessParentCreationTime";

// The process the alert is about: the first process evidence that names one.
export function triggerEvidence(alert: Alert): Evidence | undefined {
  const procs = (alert.evidence ?? []).filter((e) => e.entityType === "Process" && (e.processId != null || e.fileName));
  return procs.find((e) => e.processId != null) ?? procs[0];
}

// The tree from evidence alone: parent → process, and any evidence process started by one of them.
export function treeFromEvidence(alert: Alert): ProcNode | null {
  const t = triggerEvidence(alert);
  if (!t) return null;
  const node = (e: Evidence, trigger = false): ProcNode => ({
    key: `e:${e.processId ?? e.fileName}:${e.processCreationTime ?? ""}`,
    name: e.fileName || "(unknown)",
    pid: e.processId,
    commandLine: e.processCommandLine,
    path: e.filePath,
    time: e.processCreationTime,
    account: e.accountName,
    trigger,
    children: [],
  });
  const me = node(t, true);
  const others = (alert.evidence ?? []).filter((e) => e !== t && e.entityType === "Process" && e.processId != null);
  for (const e of others) if (t.processId != null && e.parentProcessId === t.processId) me.children.push(node(e));
  if (!t.parentProcessFileName && t.parentProcessId == null) return me;
  return {
    key: `e:parent:${t.parentProcessId}`,
    name: t.parentProcessFileName || "(unknown)",
    pid: t.parentProcessId,
    path: t.parentProcessFilePath,
    time: t.parentProcessCreationTime,
    children: [me],
  };
}

const kqlString = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
const kqlTime = (iso: string) => `datetime(${new Date(iso).toISOString()})`;

async function hunt(query: string): Promise<Row[]> {
  const r = await apiSend<HuntResult>("POST", "/api/advancedqueries/run", { Query: query });
  return r.Results;
}

const str = (r: Row, k: string) => (r[k] === undefined || r[k] === null ? null : String(r[k]));
const num = (r: Row, k: string) => (typeof r[k] === "number" ? (r[k] as number) : r[k] == null ? null : Number(r[k]));
const near = (a: string | null | undefined, b: string | null | undefined) => !a || !b || Math.abs(Date.parse(a) - Date.parse(b)) <= 1000;

function fromRow(r: Row): ProcNode {
  return {
    key: `h:${num(r, "ProcessId")}:${str(r, "ProcessCreationTime") ?? str(r, "Timestamp")}`,
    name: str(r, "FileName") || "(unknown)",
    pid: num(r, "ProcessId"),
    commandLine: str(r, "ProcessCommandLine"),
    path: str(r, "FolderPath"),
    time: str(r, "ProcessCreationTime") ?? str(r, "Timestamp"),
    account: str(r, "AccountName"),
    children: [],
  };
}

function parentOf(r: Row): ProcNode {
  return {
    key: `h:${num(r, "InitiatingProcessId")}:${str(r, "InitiatingProcessCreationTime") ?? ""}`,
    name: str(r, "InitiatingProcessFileName") || "(unknown)",
    pid: num(r, "InitiatingProcessId"),
    commandLine: str(r, "InitiatingProcessCommandLine"),
    path: str(r, "InitiatingProcessFolderPath"),
    time: str(r, "InitiatingProcessCreationTime"),
    account: str(r, "InitiatingProcessAccountName"),
    children: [],
  };
}

// Builds the tree with hunting queries on the alert's device. Returns null when the device's events
// do not hold the triggering process (the caller then shows the evidence tree).
export async function treeFromHunting(alert: Alert): Promise<ProcNode | null> {
  const t = triggerEvidence(alert);
  const device = alert.machineId;
  if (!t || t.processId == null || !device) return null;
  const at = t.processCreationTime ?? alert.firstEventTime ?? alert.alertCreationTime;
  if (!at) return null;
  const base = `DeviceProcessEvents | where DeviceId == ${kqlString(device)}`;
  // The trigger's own start (the newest start of that pid at or before the alert's event).
  const startOf = async (pid: number, before: string) => {
    const rows = await hunt(`${base} | where ProcessId == ${pid} and Timestamp <= ${kqlTime(new Date(Date.parse(before) + 1000).toISOString())} | top 1 by Timestamp desc | project ${columns}`);
    return rows[0] ?? null;
  };
  const own = await startOf(t.processId, at);
  if (!own) return null;
  const trigger = fromRow(own);
  trigger.trigger = true;
  if (!trigger.commandLine) trigger.commandLine = t.processCommandLine;

  // Ancestors: walk up through each parent's own start, up to eight levels.
  let top = trigger;
  let row: Row | null = own;
  for (let depth = 0; row && depth < 8; depth++) {
    const ppid = num(row, "InitiatingProcessId");
    if (ppid == null) break;
    const parentStart: Row | null = await startOf(ppid, str(row, "InitiatingProcessCreationTime") ?? str(row, "Timestamp")!);
    const parentRow: Row | null = parentStart && near(str(parentStart, "ProcessCreationTime"), str(row, "InitiatingProcessCreationTime")) ? parentStart : null;
    const parent = parentRow ? fromRow(parentRow) : parentOf(row);
    parent.children = [top];
    top = parent;
    if (!parentRow) {
      // The parent's start is not in the store: its own parent is still named on the row.
      const gp = str(row, "InitiatingProcessParentFileName");
      if (gp) top = { key: `h:gp:${num(row, "InitiatingProcessParentId")}`, name: gp, pid: num(row, "InitiatingProcessParentId"), time: str(row, "InitiatingProcessParentCreationTime"), children: [top] };
      break;
    }
    row = parentRow;
  }

  // Children and grandchildren: processes the trigger (then each child) started within a day.
  const from = kqlTime(new Date(Date.parse(trigger.time ?? at) - 1000).toISOString());
  const to = kqlTime(new Date(Date.parse(trigger.time ?? at) + 86_400_000).toISOString());
  const childrenOf = async (parents: ProcNode[]) => {
    const pids = parents.map((p) => p.pid).filter((p): p is number => p != null);
    if (!pids.length) return;
    const rows = await hunt(`${base} | where InitiatingProcessId in (${pids.join(", ")}) and Timestamp between (${from} .. ${to}) | project ${columns} | order by Timestamp asc | take 500`);
    for (const r of rows) {
      const parent = parents.find((p) => p.pid === num(r, "InitiatingProcessId") && near(p.time, str(r, "InitiatingProcessCreationTime")));
      if (parent && !parent.children.some((c) => c.key === fromRow(r).key)) parent.children.push(fromRow(r));
    }
  };
  await childrenOf([trigger]);
  await childrenOf(trigger.children);
  return top;
}

// ---- the tree view -------------------------------------------------------------------------------

interface Visible {
  node: ProcNode;
  level: number;
  parent?: string;
}

export function ProcessTree({ root, label }: { root: ProcNode; label: string }) {
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [focus, setFocus] = useState<string>(() => findTrigger(root)?.key ?? root.key);
  const container = useRef<HTMLUListElement>(null);
  const visible = useMemo(() => {
    const out: Visible[] = [];
    const walk = (n: ProcNode, level: number, parent?: string) => {
      out.push({ node: n, level, parent });
      if (!collapsed.has(n.key)) for (const c of n.children) walk(c, level + 1, n.key);
    };
    walk(root, 1);
    return out;
  }, [root, collapsed]);

  const toggle = (key: string) =>
    setCollapsed((s) => {
      const n = new Set(s);
      if (n.has(key)) n.delete(key);
      else n.add(key);
      return n;
    });
  const moveTo = (key: string) => {
    setFocus(key);
    requestAnimationFrame(() => container.current?.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)?.focus());
  };
  const onKey = (e: KeyboardEvent) => {
    const i = visible.findIndex((v) => v.node.key === focus);
    if (i < 0) return;
    const v = visible[i];
    const open = v.node.children.length > 0 && !collapsed.has(v.node.key);
    let handled = true;
    if (e.key === "ArrowDown") i + 1 < visible.length && moveTo(visible[i + 1].node.key);
    else if (e.key === "ArrowUp") i > 0 && moveTo(visible[i - 1].node.key);
    else if (e.key === "Home") moveTo(visible[0].node.key);
    else if (e.key === "End") moveTo(visible[visible.length - 1].node.key);
    else if (e.key === "ArrowRight") {
      if (v.node.children.length && !open) toggle(v.node.key);
      else if (open) moveTo(v.node.children[0].key);
    } else if (e.key === "ArrowLeft") {
      if (open) toggle(v.node.key);
      else if (v.parent) moveTo(v.parent);
    } else if (e.key === "Enter" || e.key === " ") {
      if (v.node.children.length) toggle(v.node.key);
    } else handled = false;
    if (handled) e.preventDefault();
  };

  const render = (n: ProcNode, level: number) => {
    const hasChildren = n.children.length > 0;
    const open = hasChildren && !collapsed.has(n.key);
    return (
      <li
        key={n.key}
        role="treeitem"
        aria-level={level}
        aria-expanded={hasChildren ? open : undefined}
        aria-selected={n.key === focus}
        aria-label={`${n.name}${n.pid != null ? `, process ${n.pid}` : ""}${n.trigger ? ", the alert's process" : ""}`}
        tabIndex={n.key === focus ? 0 : -1}
        data-key={n.key}
        class={`proc${n.trigger ? " trigger" : ""}`}
        onFocus={(e) => {
          if (e.target === e.currentTarget) setFocus(n.key);
        }}
      >
        <div class="proc-row" onClick={() => { setFocus(n.key); if (hasChildren) toggle(n.key); }}>
          <span class="twisty" aria-hidden="true">{hasChildren ? (open ? "▾" : "▸") : "·"}</span>
          <span class="proc-name">{n.name}</span>
          {n.pid != null && <span class="muted small">pid {n.pid}</span>}
          {n.account && <span class="muted small">{n.account}</span>}
          {n.time && <span class="muted small">{formatTime(n.time)}</span>}
          {n.trigger && <span class="badge badge-high">Alert process</span>}
        </div>
        {n.commandLine && <div class="proc-cmd mono" title={n.path ?? undefined}>{n.commandLine}</div>}
        {open && (
          <ul role="group">
            {n.children.map((c) => render(c, level + 1))}
          </ul>
        )}
      </li>
    );
  };
  return (
    <ul class="process-tree" role="tree" aria-label={label} ref={container} onKeyDown={onKey} data-testid="process-tree">
      {render(root, 1)}
    </ul>
  );
}

function findTrigger(n: ProcNode): ProcNode | undefined {
  if (n.trigger) return n;
  for (const c of n.children) {
    const f = findTrigger(c);
    if (f) return f;
  }
  return undefined;
}
