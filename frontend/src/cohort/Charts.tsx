import { AxisBottom } from "@visx/axis";
import type { TickRendererProps } from "@visx/axis";
import { Group } from "@visx/group";
import { scaleBand, scaleLinear, scaleLog } from "@visx/scale";
import { Bar as BarShape, Line } from "@visx/shape";
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
const INK = "#1b1f24";

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
  const height = Math.max(ROW, bars.length * ROW) + 8;
  // one band a row (the row is the button: its label, its bar and its count)
  const row = scaleBand<number>({ domain: bars.map((_, i) => i), range: [4, 4 + bars.length * ROW] });
  const length = scaleLinear<number>({ domain: [0, Math.max(1, ...bars.map((b) => b.n))], range: [0, WIDTH - LABEL_W - COUNT_W] });
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
        const y = row(i) ?? 0;
        const w = Math.max(1, length(bar.n));
        const clickable = bar.value !== null && onToggle !== undefined;
        const toggle = () => bar.value !== null && onToggle?.(bar.value);
        return (
          <Group
            key={bar.value ?? "∅"}
            top={y}
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
            <rect x={0} y={0} width={WIDTH} height={row.bandwidth()} fill="transparent" />
            <text x={LABEL_W - 6} y={15} textAnchor="end" fill={INK}>
              <title>{label}</title>
              {clip(label)}
            </text>
            <BarShape
              x={LABEL_W}
              y={3}
              width={w}
              height={row.bandwidth() - 6}
              rx={2}
              fill={on ? "#0b5394" : any ? "#b7c9dc" : "#4a86c5"}
              stroke={on ? "#062b4f" : "none"}
            />
            <text x={LABEL_W + w + 4} y={15} fill={INK} data-count="">
              {num(bar.n)}
            </text>
          </Group>
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
const FOREST_W = 560;
const FOREST_LEFT = 150;
const FOREST_RIGHT = 170;
const FOREST_ROW = 24;
const FOREST_TOP = 10;

/** An axis tick's label as plain SVG text (the library's default wraps each in an inner <svg>). */
function tickText({ x, y, dy, formattedValue }: TickRendererProps) {
  return (
    <text x={x} y={y} dy={dy} textAnchor="middle" fill={INK}>
      {formattedValue}
    </text>
  );
}

/** A forest plot: each group's hazard ratio and interval against the reference, on a log scale. */
export function ForestPlot({ rows, svgRef, title }: { rows: HazardRow[]; svgRef: RefObject<SVGSVGElement | null>; title: string }) {
  const { num, ct } = useCohortText();
  const shown = rows.filter((r) => r.hazard_ratio !== null && r.lower !== null && r.upper !== null);
  const lo = Math.max(0.02, Math.min(0.5, ...shown.map((r) => r.lower as number)) * 0.8);
  const hi = Math.min(100, Math.max(2, ...shown.map((r) => r.upper as number)) * 1.25);
  const x = scaleLog<number>({ domain: [lo, hi], range: [FOREST_LEFT, FOREST_W - FOREST_RIGHT], clamp: true });
  const y = scaleBand<number>({ domain: rows.map((_, i) => i), range: [FOREST_TOP, FOREST_TOP + rows.length * FOREST_ROW] });
  const bottom = FOREST_TOP + rows.length * FOREST_ROW;
  const height = bottom + 40;
  const one = x(1);
  const two = { maximumFractionDigits: 2, minimumFractionDigits: 2 };
  return (
    <svg
      ref={svgRef}
      className="forest"
      viewBox={`0 0 ${FOREST_W} ${height}`}
      width={FOREST_W}
      height={height}
      role="img"
      aria-label={title}
      fontFamily="system-ui, sans-serif"
      fontSize="12"
      direction="ltr"
    >
      <title>{title}</title>
      <Line
        from={{ x: one, y: FOREST_TOP }}
        to={{ x: one, y: bottom }}
        stroke="#7f7f7f"
        strokeDasharray="4 3"
        data-testid="forest-null"
        data-hr="1"
      />
      {rows.map((r, i) => {
        const mid = (y(i) ?? 0) + y.bandwidth() / 2;
        const ok = r.hazard_ratio !== null && r.lower !== null && r.upper !== null;
        const text = r.reference
          ? ct("refMark")
          : ok
            ? `${num(r.hazard_ratio, two)} (${num(r.lower, two)}–${num(r.upper, two)})`
            : ct("notEstimable");
        return (
          <Group key={r.label} top={mid} data-testid="forest-row">
            <text x={FOREST_LEFT - 8} y={4} textAnchor="end" fill={INK}>
              {clip(r.label, 22)} ({num(r.n)})
            </text>
            {r.reference ? (
              <BarShape x={one - 5} y={-5} width={10} height={10} fill="#7f7f7f" data-testid="forest-reference" />
            ) : ok ? (
              <>
                <Line
                  from={{ x: x(r.lower as number), y: 0 }}
                  to={{ x: x(r.upper as number), y: 0 }}
                  stroke={INK}
                  strokeWidth={1.5}
                  data-testid="forest-interval"
                />
                <BarShape x={x(r.hazard_ratio as number) - 4} y={-4} width={8} height={8} fill="#0b5394" data-testid="forest-estimate" />
              </>
            ) : null}
            <text x={FOREST_W - FOREST_RIGHT + 10} y={4} fill={INK}>
              {text}
            </text>
          </Group>
        );
      })}
      <AxisBottom
        scale={x}
        top={bottom + 4}
        tickValues={TICKS.filter((t) => t >= lo && t <= hi)}
        tickFormat={(t) => num(Number(t))}
        tickLength={5}
        stroke={INK}
        tickStroke={INK}
        tickLabelProps={{ dy: "0.2em" }}
        tickComponent={tickText}
      />
      <text x={(FOREST_LEFT + FOREST_W - FOREST_RIGHT) / 2} y={height - 4} textAnchor="middle" fill={INK}>
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
