export interface Series {
  name: string;
  values: (number | null)[];
  className: string;
}

/** A small line chart of per-epoch values, each series scaled to its own range. */
export function LineChart({ series, title, width = 560, height = 220 }: { series: Series[]; title: string; width?: number; height?: number }) {
  const pad = 32;
  const length = Math.max(2, ...series.map((s) => s.values.length));
  const x = (i: number) => pad + (i / (length - 1)) * (width - 2 * pad);
  return (
    <svg className="linechart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
      <title>{title}</title>
      <line x1={pad} y1={height - pad} x2={width - pad} y2={height - pad} className="axis" />
      <line x1={pad} y1={pad} x2={pad} y2={height - pad} className="axis" />
      {series.map((s, k) => {
        const finite = s.values.filter((v): v is number => v !== null && Number.isFinite(v));
        if (finite.length === 0) return null;
        const lo = Math.min(...finite);
        const hi = Math.max(...finite);
        const y = (v: number) => height - pad - ((v - lo) / (hi - lo || 1)) * (height - 2 * pad);
        const points = s.values
          .map((v, i) => (v === null || !Number.isFinite(v) ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`))
          .filter(Boolean)
          .join(" ");
        return (
          <g key={s.name}>
            <polyline points={points} className={`line ${s.className}`} fill="none" />
            <text x={pad + 8 + k * 180} y={pad - 10} className={`legend ${s.className}`}>
              {s.name} ({lo.toPrecision(3)}–{hi.toPrecision(3)})
            </text>
          </g>
        );
      })}
    </svg>
  );
}
