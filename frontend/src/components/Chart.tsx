import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  /** [x, y] points; series may have different x values (they share the axes). */
  points: [number, number | null][];
  /** x values to mark with a point (a survival curve's censored times, thinned). */
  marks?: number[];
  /** [x, lower, upper]: a confidence band drawn as a shade around the curve. */
  band?: [number, number | null, number | null][];
}

/** The series uPlot draws: each curve, then the lower and upper edges of each band (their
 * 1-based uPlot indices in `bands`, with the curve's own index). */
export function withBands(series: ChartSeries[]): {
  all: ChartSeries[];
  bands: { curve: number; lower: number; upper: number }[];
} {
  const all = [...series];
  const bands: { curve: number; lower: number; upper: number }[] = [];
  series.forEach((s, i) => {
    if (!s.band?.length) return;
    all.push({ label: `${s.label} (lower)`, points: s.band.map(([x, lower]) => [x, lower]) });
    all.push({ label: `${s.label} (upper)`, points: s.band.map(([x, , upper]) => [x, upper]) });
    bands.push({ curve: i + 1, lower: all.length - 1, upper: all.length });
  });
  return { all, bands };
}

// Fourteen distinguishable colours (a survival plot by stage group has thirteen curves).
const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#7f7f7f",
  "#bcbd22",
  "#08306b",
  "#67000d",
  "#00441b",
  "#3f007d",
];

/** Series on shared x values (uPlot wants one x array): the union of all x, null where a
 * series has no point. */
export function aligned(series: ChartSeries[]): (number | null)[][] {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const at = xs.map((x, i) => [x, i] as const);
  const index = new Map(at);
  return [
    xs,
    ...series.map((s) => {
      const ys: (number | null)[] = xs.map(() => null);
      for (const [x, y] of s.points) ys[index.get(x) as number] = y !== null && Number.isFinite(y) ? y : null;
      return ys;
    }),
  ];
}

/** At most `limit` of `values`, evenly spread (thousands of censor marks smear a curve). */
export function thin(values: number[], limit = 30): number[] {
  if (values.length <= limit) return values;
  const step = values.length / limit;
  return Array.from({ length: limit }, (_, i) => values[Math.floor(i * step)]);
}

/** A line chart with labelled axes and a legend (uPlot, canvas), sized to its container. */
export function Chart({
  title,
  series,
  xLabel,
  yLabel,
  height = 240,
  testid,
  stepped = false,
  yRange,
}: {
  title: string;
  series: ChartSeries[];
  xLabel: string;
  yLabel: string;
  height?: number;
  testid?: string;
  /** Steps (a survival curve holds its value until the next event). */
  stepped?: boolean;
  yRange?: [number, number];
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || series.length === 0) return;
    const width = Math.max(240, el.clientWidth || 560);
    const { all, bands } = withBands(series);
    const data = aligned(all);
    const xs = data[0] as number[];
    const edges = new Map(bands.flatMap((b) => [[b.lower, b.curve] as const, [b.upper, b.curve] as const]));
    const markIndices = all.map((s) => {
      if (!s.marks?.length) return null;
      const wanted = new Set(s.marks);
      return xs.flatMap((x, i) => (wanted.has(x) ? [i] : []));
    });
    const plot = new uPlot(
      {
        width,
        height,
        scales: { x: { time: false }, ...(yRange ? { y: { range: yRange } } : {}) },
        axes: [
          { label: xLabel, stroke: "#1b1f24", grid: { stroke: "#e4e7eb" } },
          { label: yLabel, stroke: "#1b1f24", grid: { stroke: "#e4e7eb" }, size: 60 },
        ],
        series: [
          { label: xLabel },
          ...all.map((s, i) => {
            const curve = edges.get(i + 1);
            const stepping = stepped ? { paths: uPlot.paths.stepped?.({ align: 1 }) } : {};
            if (curve !== undefined) {
              // a band's edge: no line of its own, only the shade between the two edges
              return { label: s.label, stroke: "transparent", width: 0, spanGaps: true, points: { show: false }, ...stepping };
            }
            return {
              label: s.label,
              stroke: PALETTE[i % PALETTE.length],
              width: 2,
              spanGaps: true,
              points: markIndices[i]
                ? { show: true, size: 7, filter: markIndices[i] }
                : { show: !stepped && s.points.length < 40 },
              ...stepping,
            };
          }),
        ],
        bands: bands.map((b) => ({
          series: [b.upper, b.lower] as [number, number],
          fill: `${PALETTE[(b.curve - 1) % PALETTE.length]}22`,
        })),
      },
      data as uPlot.AlignedData,
      el,
    );
    // the legend names the curves, not their band edges
    const rows = el.querySelectorAll<HTMLElement>(".u-legend .u-series");
    for (const index of edges.keys()) rows[index]?.style.setProperty("display", "none");
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [series, xLabel, yLabel, height, stepped, yRange]);
  return (
    <figure className="plot" data-testid={testid}>
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={title} />
    </figure>
  );
}
