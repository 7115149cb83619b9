import { useRef, useState } from "react";
import type { KeyboardEvent, ReactNode, RefObject } from "react";
import { canvasPng, fileName, saveBlob, svgText, svgToPng, toCsv } from "./export";
import type { Cell } from "./export";
import { useCohortText } from "./text";

export interface Bar {
  value: string | null;
  n: number;
}

export interface CsvData {
  header: string[];
  rows: Cell[][];
}

const ROW = 22;
const WIDTH = 360;
const LABEL_W = 150;
const COUNT_W = 48;

function press(handler: () => void) {
  return (event: KeyboardEvent) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      handler();
    }
  };
}

function clip(text: string, most = 21): string {
  return text.length > most ? `${text.slice(0, most - 1)}…` : text;
}

/** Horizontal bars, one per value; a bar is a toggle button (its value selected or not). */
export function BarChart({
  title,
  bars,
  selected,
  onToggle,
  svgRef,
  name,
}: {
  title: string;
  bars: Bar[];
  selected: string[];
  onToggle?: (value: string) => void;
  svgRef: RefObject<SVGSVGElement | null>;
  name: (value: string | null) => string;
}) {
  const { num } = useCohortText();
  const max = Math.max(1, ...bars.map((b) => b.n));
  const height = Math.max(ROW, bars.length * ROW) + 8;
  const area = WIDTH - LABEL_W - COUNT_W;
  const any = selected.length > 0;
  return (
    <svg
      ref={svgRef}
      className="barchart"
      viewBox={`0 0 ${WIDTH} ${height}`}
      width={WIDTH}
      height={height}
      role="group"
      aria-label={title}
      fontFamily="system-ui, sans-serif"
      fontSize="12"
      direction="ltr"
    >
      <title>{title}</title>
      {bars.map((bar, i) => {
        const on = bar.value !== null && selected.includes(bar.value);
        const label = name(bar.value);
        const y = 4 + i * ROW;
        const w = Math.max(1, (bar.n / max) * area);
        const clickable = bar.value !== null && onToggle !== undefined;
        const toggle = () => bar.value !== null && onToggle?.(bar.value);
        return (
          <g
            key={bar.value ?? "∅"}
            data-value={bar.value ?? ""}
            {...(clickable
              ? {
                  role: "button",
                  tabIndex: 0,
                  "aria-pressed": on,
                  "aria-label": `${label}: ${num(bar.n)}`,
                  onClick: toggle,
                  onKeyDown: press(toggle),
                  className: "bar-button",
                }
              : { "aria-label": `${label}: ${num(bar.n)}`, role: "img" })}
          >
            <rect x={0} y={y} width={WIDTH} height={ROW} fill="transparent" />
            <text x={LABEL_W - 6} y={y + 15} textAnchor="end" fill="#1b1f24">
              <title>{label}</title>
              {clip(label)}
            </text>
            <rect
              x={LABEL_W}
              y={y + 3}
              width={w}
              height={ROW - 6}
              rx={2}
              fill={on ? "#0b5394" : any ? "#b7c9dc" : "#4a86c5"}
              stroke={on ? "#062b4f" : "none"}
            />
            <text x={LABEL_W + w + 4} y={y + 15} fill="#1b1f24" data-count="">
              {num(bar.n)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

export interface HazardRow {
  label: string;
  n: number;
  hazard_ratio: number | null;
  lower: number | null;
  upper: number | null;
  reference: boolean;
}

const TICKS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20, 50];

/** A forest plot: each group's hazard ratio and interval against the reference, on a log scale. */
export function ForestPlot({ rows, svgRef, title }: { rows: HazardRow[]; svgRef: RefObject<SVGSVGElement | null>; title: string }) {
  const { num, ct } = useCohortText();
  const shown = rows.filter((r) => r.hazard_ratio !== null && r.lower !== null && r.upper !== null);
  const lows = shown.map((r) => r.lower as number);
  const highs = shown.map((r) => r.upper as number);
  const lo = Math.max(0.02, Math.min(0.5, ...lows) * 0.8);
  const hi = Math.min(100, Math.max(2, ...highs) * 1.25);
  const W = 560;
  const LEFT = 150;
  const RIGHT = 170;
  const plotW = W - LEFT - RIGHT;
  const x = (v: number) => LEFT + ((Math.log(Math.min(hi, Math.max(lo, v))) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * plotW;
  const rowH = 24;
  const top = 10;
  const height = top + rows.length * rowH + 40;
  const two = { maximumFractionDigits: 2, minimumFractionDigits: 2 };
  return (
    <svg
      ref={svgRef}
      className="forest"
      viewBox={`0 0 ${W} ${height}`}
      width={W}
      height={height}
      role="img"
      aria-label={title}
      fontFamily="system-ui, sans-serif"
      fontSize="12"
      direction="ltr"
    >
      <title>{title}</title>
      <line x1={x(1)} x2={x(1)} y1={top} y2={top + rows.length * rowH} stroke="#7f7f7f" strokeDasharray="4 3" />
      {rows.map((r, i) => {
        const y = top + i * rowH + rowH / 2;
        const ok = r.hazard_ratio !== null && r.lower !== null && r.upper !== null;
        const text = r.reference
          ? ct("refMark")
          : ok
            ? `${num(r.hazard_ratio, two)} (${num(r.lower, two)}–${num(r.upper, two)})`
            : ct("notEstimable");
        return (
          <g key={r.label} data-testid="forest-row">
            <text x={LEFT - 8} y={y + 4} textAnchor="end" fill="#1b1f24">
              {clip(r.label, 22)} ({num(r.n)})
            </text>
            {r.reference ? (
              <rect x={x(1) - 5} y={y - 5} width={10} height={10} fill="#7f7f7f" />
            ) : ok ? (
              <>
                <line x1={x(r.lower as number)} x2={x(r.upper as number)} y1={y} y2={y} stroke="#1b1f24" strokeWidth={1.5} />
                <rect x={x(r.hazard_ratio as number) - 4} y={y - 4} width={8} height={8} fill="#0b5394" />
              </>
            ) : null}
            <text x={W - RIGHT + 10} y={y + 4} fill="#1b1f24">
              {text}
            </text>
          </g>
        );
      })}
      <line x1={LEFT} x2={LEFT + plotW} y1={top + rows.length * rowH + 4} y2={top + rows.length * rowH + 4} stroke="#1b1f24" />
      {TICKS.filter((t) => t >= lo && t <= hi).map((t) => (
        <g key={t}>
          <line x1={x(t)} x2={x(t)} y1={top + rows.length * rowH + 4} y2={top + rows.length * rowH + 9} stroke="#1b1f24" />
          <text x={x(t)} y={top + rows.length * rowH + 21} textAnchor="middle" fill="#1b1f24">
            {num(t)}
          </text>
        </g>
      ))}
      <text x={LEFT + plotW / 2} y={height - 4} textAnchor="middle" fill="#1b1f24">
        {ct("hazardRatio")}
      </text>
    </svg>
  );
}

/** A chart's card: title, the chart, and its exports (SVG and PNG of the picture, CSV of the data). */
export function ChartCard({
  title,
  testid,
  svgRef,
  svg,
  png,
  csv,
  children,
  wide = false,
  tools,
}: {
  title: string;
  testid: string;
  /** The inline SVG the SVG and PNG exports draw (else `svg` and `png`). */
  svgRef?: RefObject<SVGSVGElement | null>;
  svg?: () => Promise<string>;
  png?: () => Promise<Blob>;
  csv?: () => CsvData;
  children: ReactNode;
  wide?: boolean;
  tools?: ReactNode;
}) {
  const { ct } = useCohortText();
  const [error, setError] = useState<string | null>(null);
  const run = (fn: () => Promise<void>) => () => {
    setError(null);
    fn().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  };
  const svgOf = async () => {
    if (svg) return svg();
    if (svgRef?.current) return svgText(svgRef.current);
    throw new Error("no chart");
  };
  const exportSvg = run(async () => saveBlob(new Blob([await svgOf()], { type: "image/svg+xml" }), fileName(title, "svg")));
  const exportPng = run(async () => {
    if (png) return saveBlob(await png(), fileName(title, "png"));
    const el = svgRef?.current;
    if (!el) throw new Error("no chart");
    const box = el.viewBox.baseVal;
    saveBlob(await svgToPng(svgText(el), box.width, box.height), fileName(title, "png"));
  });
  const exportCsv = run(async () => {
    if (!csv) return;
    const data = csv();
    // a byte-order mark, so spreadsheets read Persian text as UTF-8
    saveBlob(new Blob(["\ufeff", toCsv(data.header, data.rows)], { type: "text/csv" }), fileName(title, "csv"));
  });
  const id = `${testid}-title`;
  return (
    <section className={`card chart-card${wide ? " wide" : ""}`} aria-labelledby={id} data-testid={testid}>
      <h3 id={id}>{title}</h3>
      {tools}
      <div className="chart-body">{children}</div>
      <div className="exports" role="group" aria-label={`${ct("exportOf")}: ${title}`}>
        {svgRef || svg ? (
          <button type="button" className="secondary small" onClick={exportSvg}>
            {ct("exportSvg")}
          </button>
        ) : null}
        {svgRef || png ? (
          <button type="button" className="secondary small" onClick={exportPng}>
            {ct("exportPng")}
          </button>
        ) : null}
        {csv ? (
          <button type="button" className="secondary small" onClick={exportCsv}>
            {ct("exportCsv")}
          </button>
        ) : null}
      </div>
      {error ? <p role="alert">{error}</p> : null}
    </section>
  );
}

export function useSvgRef() {
  return useRef<SVGSVGElement | null>(null);
}

/** A PNG of the first canvas inside `box` (a uPlot chart), on white, with `title` above it. */
export async function canvasOf(box: HTMLElement | null, title: string): Promise<Blob> {
  const canvas = box?.querySelector("canvas");
  if (!canvas) throw new Error("no chart");
  const ratio = canvas.width / Math.max(1, canvas.clientWidth || canvas.width);
  const w = canvas.width / ratio;
  const h = canvas.height / ratio;
  return canvasPng(w, h + 24, (ctx) => {
    ctx.fillStyle = "#1b1f24";
    ctx.font = "14px system-ui, sans-serif";
    ctx.fillText(title, 8, 16);
    ctx.drawImage(canvas, 0, 24, w, h);
  });
}
