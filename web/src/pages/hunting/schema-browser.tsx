// The schema browser: tables from GET /api/advancedhunting/schema, each expandable to its columns
// and types; clicking a name inserts it into the editor.
import { useState } from "preact/hooks";
import { Empty, ErrorBox, Loading, type AsyncState } from "../../components/States";
import type { HuntingSchema } from "./kql-language";

export function SchemaBrowser({ state, filter, onInsert }: { state: AsyncState<HuntingSchema>; filter: string; onInsert: (name: string) => void }) {
  const [open, setOpen] = useState<Set<string>>(new Set());
  if (state.error) return <ErrorBox error={state.error} retry={state.reload} />;
  if (!state.data) return <Loading what="Loading schema" />;
  const f = filter.trim().toLowerCase();
  const tables = state.data.Tables.map((tbl) => {
    const tableHit = !f || tbl.Name.toLowerCase().includes(f);
    const columns = tableHit ? tbl.Columns : tbl.Columns.filter((c) => c.Name.toLowerCase().includes(f));
    return { tbl, columns, show: tableHit || columns.length > 0, expand: !!f && !tableHit };
  }).filter((x) => x.show);
  if (!state.data.Tables.length) return <Empty>The server reports no hunting tables.</Empty>;
  if (!tables.length) return <Empty>No table or column matches “{filter}”.</Empty>;
  const toggle = (name: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(name)) n.delete(name);
      else n.add(name);
      return n;
    });
  return (
    <ul class="hunt-tree" data-testid="hunting-schema">
      {tables.map(({ tbl, columns, expand }) => {
        const isOpen = expand || open.has(tbl.Name);
        return (
          <li key={tbl.Name}>
            <div class="hunt-tree-row">
              <button
                type="button"
                class="hunt-twisty"
                aria-expanded={isOpen}
                aria-label={`${isOpen ? "Collapse" : "Expand"} ${tbl.Name} columns`}
                onClick={() => toggle(tbl.Name)}
              >
                {isOpen ? "▾" : "▸"}
              </button>
              <button type="button" class="hunt-name table" title={`Insert ${tbl.Name}`} onClick={() => onInsert(tbl.Name)}>
                {tbl.Name}
              </button>
              <span class="muted hunt-count">{tbl.Columns.length}</span>
            </div>
            {isOpen && (
              <ul class="hunt-cols" aria-label={`${tbl.Name} columns`}>
                {columns.map((c) => (
                  <li key={c.Name}>
                    <button type="button" class="hunt-name" title={`Insert ${c.Name}`} onClick={() => onInsert(c.Name)}>
                      {c.Name}
                    </button>
                    <span class="muted hunt-type">{c.Type}</span>
                  </li>
                ))}
              </ul>
            )}
          </li>
        );
      })}
    </ul>
  );
}
