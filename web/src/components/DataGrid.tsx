// AG Grid (community) behind a small Preact component. Rows and columns are props; the grid is
// created once and updated in place. Sorting can be left to the grid or handed to the server
// (`onSortChange`, for OData $orderby).
import { useEffect, useRef } from "preact/hooks";
import {
  AllCommunityModule,
  ModuleRegistry,
  createGrid,
  themeQuartz,
  type ColDef,
  type GridApi,
  type GridOptions,
  type RowClickedEvent,
} from "ag-grid-community";

ModuleRegistry.registerModules([AllCommunityModule]);

const theme = themeQuartz.withParams({
  fontFamily: "inherit",
  fontSize: 13,
  headerFontWeight: 600,
  rowHeight: 34,
  headerHeight: 36,
  accentColor: "#2563eb",
  borderColor: "#e2e8f0",
  headerBackgroundColor: "#f8fafc",
  wrapperBorderRadius: 8,
});

export type Column<T> = ColDef<T>;

export interface DataGridProps<T> {
  rows: T[];
  columns: Column<T>[];
  rowId?: (row: T) => string;
  onRowClick?: (row: T) => void;
  // Multi-row selection with checkboxes; called with the selected rows.
  onSelectionChange?: (rows: T[]) => void;
  // Server-side sorting: the grid shows the arrow, the caller reorders the rows.
  onSortChange?: (sort: { field: string; desc: boolean } | null) => void;
  height?: number | string;
  label: string; // accessible name of the grid
  testId?: string;
}

export function DataGrid<T>(props: DataGridProps<T>) {
  const host = useRef<HTMLDivElement>(null);
  const api = useRef<GridApi<T> | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const options: GridOptions<T> = {
      theme,
      rowData: props.rows,
      columnDefs: props.columns,
      defaultColDef: { sortable: true, resizable: true, filter: false, minWidth: 80, flex: 1 },
      getRowId: props.rowId ? (p) => props.rowId!(p.data) : undefined,
      onRowClicked: (e: RowClickedEvent<T>) => {
        if (e.data && latest.current.onRowClick && !(e.event?.target as HTMLElement)?.closest?.(".ag-selection-checkbox")) {
          latest.current.onRowClick(e.data);
        }
      },
      onCellKeyDown: (e) => {
        const key = (e.event as KeyboardEvent | undefined)?.key;
        if (key === "Enter" && e.data && latest.current.onRowClick) latest.current.onRowClick(e.data as T);
      },
      rowSelection: props.onSelectionChange ? { mode: "multiRow", checkboxes: true, headerCheckbox: true, enableClickSelection: false } : undefined,
      onSelectionChanged: (e) => latest.current.onSelectionChange?.(e.api.getSelectedRows()),
      onSortChanged: (e) => {
        const s = latest.current.onSortChange;
        if (!s) return;
        const col = e.api.getColumnState().find((c) => c.sort);
        s(col ? { field: col.colId, desc: col.sort === "desc" } : null);
      },
      suppressCellFocus: false,
      animateRows: false,
      overlayNoRowsTemplate: '<span class="muted">No rows</span>',
    };
    if (props.onSortChange) options.defaultColDef = { ...options.defaultColDef, comparator: () => 0 };
    api.current = createGrid(host.current!, options);
    host.current!.setAttribute("aria-label", props.label);
    return () => api.current?.destroy();
  }, []);

  useEffect(() => {
    api.current?.setGridOption("rowData", props.rows);
  }, [props.rows]);
  useEffect(() => {
    api.current?.setGridOption("columnDefs", props.columns);
  }, [props.columns]);

  return (
    <div
      ref={host}
      class="grid"
      role="region"
      data-testid={props.testId}
      style={{ height: typeof props.height === "number" ? `${props.height}px` : (props.height ?? "480px") }}
    />
  );
}

// Values from the API shown in cells: ISO times as local time, arrays joined.
export function formatTime(v: unknown): string {
  if (typeof v !== "string" || !v) return "";
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toLocaleString();
}
