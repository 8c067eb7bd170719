// A hunting result: the grid (columns from "Schema"), a chart when the query ended with `render`,
// row count, elapsed time and CSV export.
import { useMemo, useState } from "preact/hooks";
import type { ChartConfiguration, ChartType } from "chart.js";
import { DataGrid, type Column } from "../../components/DataGrid";
import { ChartView, palette } from "../../components/Chart";
import { download } from "../../components/Page";
import { Empty } from "../../components/States";

export interface HuntResult {
  Schema: { Name: string; Type: string }[];
  Results: Record<string, unknown>[];
  Render?: string;
}

type Row = Record<string, unknown>;

const numericTypes = new Set(["Int32", "Int64", "Double", "Decimal", "int", "long", "real", "double", "decimal"]);
const isNumeric = (type: string) => numericTypes.has(type);
const isTime = (type: string) => type === "DateTime" || type === "datetime";
const isString = (type: string) => type === "String" || type === "string" || type === "Guid";

export function cellText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled.
export function toCsv(result: HuntResult): string {
  const q = (s: string) => (/[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [result.Schema.map((c) => q(c.Name)).join(",")];
  for (const row of result.Results) lines.push(result.Schema.map((c) => q(cellText(row[c.Name]))).join(","));
  return lines.join("\r\n") + "\r\n";
}

const lineKinds = new Set(["timechart", "linechart", "areachart"]);
const barKinds = new Set(["columnchart", "barchart"]);
export const drawnKinds = new Set([...lineKinds, ...barKinds, "piechart", "scatterchart"]);

function num(v: unknown): number | null {
  if (v === null || v === undefined || v === "") return null;
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

function timeLabel(iso: string, spanMs: number): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return spanMs >= 3 * 86400_000 && d.getUTCHours() === 0 && d.getUTCMinutes() === 0
    ? d.toLocaleDateString()
    : d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export interface ChartSpec {
  type: ChartType;
  data: ChartConfiguration["data"];
  options: ChartConfiguration["options"];
}

// Builds a Chart.js configuration the way Kusto's render draws: null when the result has nothing to
// draw (the reason is returned instead).
export function buildChart(result: HuntResult): ChartSpec | string {
  const kind = (result.Render ?? "").toLowerCase();
  const cols = result.Schema;
  const rows = result.Results;
  if (!rows.length) return "No rows to chart.";
  const nums = cols.filter((c) => isNumeric(c.Type));
  const strs = cols.filter((c) => isString(c.Type));
  const times = cols.filter((c) => isTime(c.Type));

  if (lineKinds.has(kind)) {
    const x = times[0] ?? (kind === "linechart" ? cols.find((c) => !isNumeric(c.Type)) ?? nums[0] : undefined);
    if (!x) return `A ${kind} needs a datetime column.`;
    const ys = nums.filter((c) => c !== x);
    if (!ys.length) return `A ${kind} needs a numeric column.`;
    const sorted = [...rows].sort((a, b) => String(a[x.Name]).localeCompare(String(b[x.Name])));
    const keys = [...new Set(sorted.map((r) => cellText(r[x.Name])))];
    const span = isTime(x.Type) && keys.length > 1 ? new Date(keys[keys.length - 1]).getTime() - new Date(keys[0]).getTime() : 0;
    const labels = keys.map((k) => (isTime(x.Type) ? timeLabel(k, span) : k));
    const index = new Map(keys.map((k, i) => [k, i]));
    const seriesBy = strs.filter((c) => c !== x);
    let datasets: { label: string; data: (number | null)[] }[];
    if (seriesBy.length >= 1 && ys.length === 1) {
      // One series per value of the (first) string column.
      const by = seriesBy[0];
      const series = new Map<string, (number | null)[]>();
      for (const r of sorted) {
        const name = cellText(r[by.Name]) || "(empty)";
        if (!series.has(name)) series.set(name, keys.map(() => null));
        const arr = series.get(name)!;
        const i = index.get(cellText(r[x.Name]))!;
        arr[i] = (arr[i] ?? 0) + (num(r[ys[0].Name]) ?? 0);
      }
      datasets = [...series.entries()].slice(0, 50).map(([label, data]) => ({ label, data }));
    } else {
      datasets = ys.map((y) => {
        const data: (number | null)[] = keys.map(() => null);
        for (const r of sorted) {
          const i = index.get(cellText(r[x.Name]))!;
          const v = num(r[y.Name]);
          if (v !== null) data[i] = (data[i] ?? 0) + v;
        }
        return { label: y.Name, data };
      });
    }
    const area = kind === "areachart";
    return {
      type: "line",
      data: {
        labels,
        datasets: datasets.map((d, i) => ({
          ...d,
          borderColor: palette[i % palette.length],
          backgroundColor: area ? palette[i % palette.length] + "55" : palette[i % palette.length],
          fill: area,
          pointRadius: keys.length > 60 ? 0 : 2,
          spanGaps: true,
          tension: 0.2,
        })),
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
        scales: { x: { title: { display: true, text: x.Name }, ticks: { maxTicksLimit: 12, autoSkip: true } }, y: { beginAtZero: true, stacked: area } },
      },
    };
  }

  if (barKinds.has(kind)) {
    const x = strs[0] ?? times[0] ?? cols.find((c) => !isNumeric(c.Type)) ?? cols[0];
    const ys = nums.filter((c) => c !== x);
    if (!ys.length) return `A ${kind} needs a numeric column.`;
    const shown = rows.slice(0, 200);
    const horizontal = kind === "barchart";
    return {
      type: "bar",
      data: {
        labels: shown.map((r) => cellText(r[x.Name]) || "(empty)"),
        datasets: ys.map((y, i) => ({ label: y.Name, data: shown.map((r) => num(r[y.Name])), backgroundColor: palette[i % palette.length] })),
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        plugins: { legend: { display: ys.length > 1, position: "bottom" } },
        scales: { [horizontal ? "y" : "x"]: { title: { display: true, text: x.Name }, ticks: { autoSkip: true } }, [horizontal ? "x" : "y"]: { beginAtZero: true } },
      },
    };
  }

  if (kind === "piechart") {
    const label = strs[0] ?? cols.find((c) => !isNumeric(c.Type));
    const value = nums[0];
    if (!label || !value) return "A piechart needs a label column and a numeric column.";
    const shown = rows.slice(0, 50);
    return {
      type: "pie",
      data: {
        labels: shown.map((r) => cellText(r[label.Name]) || "(empty)"),
        datasets: [{ label: value.Name, data: shown.map((r) => num(r[value.Name]) ?? 0), backgroundColor: shown.map((_, i) => palette[i % palette.length]) }],
      },
      options: { plugins: { legend: { position: "right" } } },
    };
  }

  if (kind === "scatterchart") {
    const x = times[0] ?? nums[0];
    if (!x) return "A scatterchart needs a numeric or datetime column.";
    const ys = nums.filter((c) => c !== x);
    if (!ys.length) return "A scatterchart needs a second numeric column.";
    const xv = (v: unknown) => (isTime(x.Type) ? new Date(String(v)).getTime() : num(v));
    return {
      type: "scatter",
      data: {
        datasets: ys.map((y, i) => ({
          label: y.Name,
          data: rows.map((r) => ({ x: xv(r[x.Name]) as number, y: num(r[y.Name]) as number })).filter((p) => p.x !== null && p.y !== null),
          backgroundColor: palette[i % palette.length],
        })),
      },
      options: {
        plugins: { legend: { display: ys.length > 1, position: "bottom" } },
        scales: {
          x: {
            type: "linear",
            title: { display: true, text: x.Name },
            ticks: isTime(x.Type) ? { callback: (v) => new Date(Number(v)).toLocaleString() } : {},
          },
        },
      },
    };
  }
  return `“render ${result.Render}” is not drawn here; the table shows the result.`;
}

export function HuntResults({ result, elapsedMs, query }: { result: HuntResult; elapsedMs: number; query: string }) {
  const chart = useMemo(() => (result.Render ? buildChart(result) : null), [result]);
  const [view, setView] = useState<"chart" | "table">("chart");
  const columns = useMemo<Column<Row>[]>(
    () =>
      result.Schema.map((c) => ({
        colId: c.Name,
        headerName: c.Name,
        headerTooltip: `${c.Name} (${c.Type})`,
        valueGetter: (p) => {
          const v = p.data?.[c.Name];
          return v !== null && typeof v === "object" ? JSON.stringify(v) : v;
        },
        type: isNumeric(c.Type) ? "numericColumn" : undefined,
        minWidth: isTime(c.Type) ? 200 : 110,
        tooltipValueGetter: (p) => cellText(p.value),
      })),
    [result],
  );
  const exportCsv = () => {
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    download(`hunting-${stamp}.csv`, "\ufeff" + toCsv(result), "text/csv;charset=utf-8");
  };
  const hasChart = chart !== null && typeof chart !== "string";
  const showChart = hasChart && view === "chart";
  void query;
  return (
    <div class="hunt-results">
      <div class="toolbar hunt-results-bar">
        <span data-testid="hunting-rowcount">
          <strong>{result.Results.length.toLocaleString()}</strong> {result.Results.length === 1 ? "row" : "rows"}
        </span>
        <span class="muted" data-testid="hunting-elapsed">
          {elapsedMs < 1000 ? `${Math.round(elapsedMs)} ms` : `${(elapsedMs / 1000).toFixed(2)} s`}
        </span>
        {result.Render && <span class="badge">render {result.Render}</span>}
        <span class="hunt-spacer" />
        {hasChart && (
          <div class="tabs hunt-toggle" role="group" aria-label="Result view">
            <button type="button" class={`btn small ${view === "chart" ? "primary" : ""}`} aria-pressed={view === "chart"} onClick={() => setView("chart")}>
              Chart
            </button>
            <button type="button" class={`btn small ${view === "table" ? "primary" : ""}`} aria-pressed={view === "table"} onClick={() => setView("table")}>
              Table
            </button>
          </div>
        )}
        <button type="button" class="btn small" onClick={exportCsv} disabled={!result.Schema.length}>
          Export CSV
        </button>
      </div>
      {typeof chart === "string" && <p class="muted hunt-note">{chart}</p>}
      {showChart && (
        <div class="hunt-chart">
          <ChartView
            key={`${(chart as ChartSpec).type}-${result.Render}`}
            type={(chart as ChartSpec).type}
            data={(chart as ChartSpec).data}
            options={(chart as ChartSpec).options}
            height={260}
            label={`${result.Render} of the query result`}
            testId="hunting-chart"
          />
        </div>
      )}
      {result.Results.length === 0 ? (
        <Empty>The query ran and returned no rows.</Empty>
      ) : (
        <DataGrid<Row>
          rows={result.Results}
          columns={columns}
          label="Query results"
          testId="hunting-results"
          height={showChart ? 300 : "calc(100vh - 420px)"}
        />
      )}
    </div>
  );
}
