// Chart.js behind a Preact component: one canvas, rebuilt when the chart's kind changes and
// updated in place when only its data does.
import { useEffect, useRef } from "preact/hooks";
import { Chart, registerables, type ChartConfiguration, type ChartType } from "chart.js";

Chart.register(...registerables);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily || "system-ui";
Chart.defaults.color = "#475569";

export const palette = ["#2563eb", "#dc2626", "#f59e0b", "#16a34a", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9333ea", "#ea580c"];

// MDE's severity colours, used wherever alerts are counted.
export const severityColors: Record<string, string> = {
  High: "#b91c1c",
  Medium: "#ea580c",
  Low: "#ca8a04",
  Informational: "#64748b",
  UnSpecified: "#94a3b8",
};

export interface ChartProps {
  type: ChartType;
  data: ChartConfiguration["data"];
  options?: ChartConfiguration["options"];
  height?: number;
  label: string;
  testId?: string;
}

export function ChartView({ type, data, options, height = 260, label, testId }: ChartProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);

  useEffect(() => {
    chart.current = new Chart(canvas.current!, {
      type,
      data,
      options: { responsive: true, maintainAspectRatio: false, animation: false, ...options },
    });
    return () => chart.current?.destroy();
  }, [type]);

  useEffect(() => {
    if (!chart.current) return;
    chart.current.data = data;
    if (options) chart.current.options = { responsive: true, maintainAspectRatio: false, animation: false, ...options };
    chart.current.update();
  }, [data, options]);

  return (
    <div class="chart" style={{ height: `${height}px` }} data-testid={testId}>
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}
