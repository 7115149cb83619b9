import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { FormEvent } from "react";
import { ApiError, api, download, request } from "../api";
import { useAuth } from "../auth";
import { Chart } from "../components/Chart";
import type { ChartSeries } from "../components/Chart";
import { thin } from "../components/Chart";
import { ErrorNote, Loading } from "../components/Status";
import { useApi } from "../hooks";
import { STAGE_GROUPS } from "../options";
import { Link, useRouter } from "../router";
import type { Job, Page, PatientSummary } from "../types";
import { BarChart, ChartCard, ForestPlot, canvasOf, useSvgRef } from "../cohort/Charts";
import type { Bar, HazardRow } from "../cohort/Charts";
import { fileName } from "../cohort/export";
import "../cohort/cohort.css";
import {
  ENDPOINTS,
  EMPTY_FILTERS,
  FACETS,
  GROUPINGS,
  IDENTIFIED_ONLY,
  SCHEMES,
  apiParams,
  clearFacet,
  fromSaved,
  parseView,
  toSaved,
  toggleValue,
  viewToSearch,
  withFilters,
} from "../cohort/state";
import type { CohortView, Facet, Filters, Grouping, SavedFilters, Scheme } from "../cohort/state";
import { formatMedian, formatP, pValue } from "../cohort/stats";
import { useCohortText } from "../cohort/text";
import type { CohortKey } from "../cohort/text";

const COUNTS = "/api/v1/patients/cohort/counts";
const SURVIVAL = "/api/v1/patients/cohort/survival";
const COMPARE = "/api/v1/patients/cohort/compare";
const AGE = "/api/v1/patients/cohort/age";
const TABLE_SIZE = 20;
const MAX_BARS = 12;
const SAVED_LIST = "/api/v1/cohorts?limit=50";

interface Counts {
  items: (Record<string, string | number | null> & { n: number; share: number })[];
}
interface Age {
  bins: { lower: number; upper: number | null; n: number; share: number }[];
  summary: { n: number; mean: number | null; median: number | null }[];
}
type Row = Record<string, unknown>;
interface Survival {
  km: (Row & { time: number; survival: number; n_censored?: number; n_at_risk: number })[];
  median: (Row & { n: number; n_events: number; median: number | null; lower: number | null; upper: number | null })[];
  at_risk: (Row & { time: number; n_at_risk: number })[];
  log_rank: { statistic: number; df: number; p_value: number; p_value_log10?: number } | null;
  hazard_ratios:
    | (Row & { n: number; n_events: number; hazard_ratio: number | null; lower: number | null; upper: number | null; reference: boolean })[]
    | null;
  excluded: number | null;
  endpoint: string;
}
interface Comparison {
  a: { n: number; n_events: number };
  b: { n: number; n_events: number };
  overlap: number;
  compared: "whole" | "exclusive";
  only_a: number;
  only_b: number;
  log_rank: { p_value: number; p_value_log10?: number } | null;
  hazard_ratio: { hazard_ratio: number | null; lower: number | null; upper: number | null } | null;
}
interface SavedCohort {
  id: string;
  name: string;
  description: string | null;
  filters: SavedFilters;
  created_by: string;
  created_at: string;
  patients: number;
}

/** The scheme a request needs: stage groups are read in it when grouped or selected by stage. */
function schemeFor(filters: Filters, scheme: Scheme, byStage: boolean): Scheme | null {
  return byStage || filters.values.stage_group?.length ? scheme : null;
}

/** A row's group ("unknown" where the record has none; "all" without grouping). */
const keyOf = (row: Row, group: string): string =>
  group ? (row[group] === null || row[group] === undefined ? "unknown" : String(row[group])) : "all";

export { formatP };

const MAX_BANDED = 4; // curves with their confidence band shaded

/** One curve per group from the Kaplan-Meier rows (months), with thinned censor marks. */
export function kmSeries(
  rows: (Row & { time: number; survival: number; n_censored?: number; lower?: unknown; upper?: unknown })[],
  group: string,
  name: (g: string) => string,
  bands = false,
): ChartSeries[] {
  const by = new Map<string, { points: [number, number][]; censored: number[]; band: [number, number | null, number | null][] }>();
  const bound = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  for (const r of rows) {
    const key = keyOf(r, group);
    const curve = by.get(key) ?? { points: [], censored: [], band: [] };
    curve.points.push([r.time, r.survival]);
    curve.band.push([r.time, bound(r.lower), bound(r.upper)]);
    if ((r.n_censored ?? 0) > 0) curve.censored.push(r.time);
    by.set(key, curve);
  }
  return [...by.entries()].map(([g, c]) => ({
    label: name(g),
    points: c.points,
    marks: thin(c.censored),
    ...(bands ? { band: c.band } : {}),
  }));
}

/** A facet this role may not see (403) or this server does not count by (422 on `by`). */
function unoffered(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  if (error.status === 403) return true;
  const errors = Array.isArray(error.body.errors) ? (error.body.errors as { field?: string }[]) : [];
  return (error.status === 422 || error.status === 400) && errors.some((e) => e.field === "by");
}

/** Stage groups in their order (0, I, IA … IVB), the unstaged last. */
function stageRank(value: string | null): number {
  const at = value === null ? -1 : STAGE_GROUPS.indexOf(value);
  return at < 0 ? STAGE_GROUPS.length : at;
}

// --- filter chips and the cohort's size ----------------------------------------------------

function Chips({ filters, onChange, label }: { filters: Filters; onChange: (f: Filters) => void; label: string }) {
  const { ct, cv, num } = useCohortText();
  const chips: { key: string; text: string; drop: () => void }[] = [];
  for (const facet of FACETS) {
    for (const value of filters.values[facet] ?? []) {
      chips.push({ key: `${facet}=${value}`, text: `${ct(facet)}: ${cv(value)}`, drop: () => onChange(toggleValue(filters, facet, value)) });
    }
  }
  if (filters.min_age !== null || filters.max_age !== null) {
    chips.push({
      key: "age",
      text: `${ct("ageRange")}: ${filters.min_age !== null ? num(filters.min_age) : ""}–${filters.max_age !== null ? num(filters.max_age) : ""}`,
      drop: () => onChange({ ...filters, min_age: null, max_age: null }),
    });
  }
  return (
    <div aria-label={`${label}: ${ct("activeFilters")}`} role="group">
      {chips.length ? (
        <ul className="chips" data-testid="filter-chips">
          {chips.map((c) => (
            <li key={c.key} className="chip">
              <span>{c.text}</span>
              <button type="button" className="secondary" aria-label={`${ct("remove")} ${c.text}`} onClick={c.drop}>
                ×
              </button>
            </li>
          ))}
          <li>
            <button type="button" className="link" onClick={() => onChange(EMPTY_FILTERS)}>
              {ct("clearAll")}
            </button>
          </li>
        </ul>
      ) : (
        <p className="chips">{ct("noFilters")}</p>
      )}
    </div>
  );
}

function CohortSize({ filters, scheme, testid }: { filters: Filters; scheme: Scheme; testid: string }) {
  const { ct, num } = useCohortText();
  const { data, error } = useApi<Counts>(withFilters(COUNTS, filters, { by: "sex" }, schemeFor(filters, scheme, false)));
  const n = data ? data.items.reduce((sum, r) => sum + r.n, 0) : null;
  return (
    <p>
      {ct("cohortSize")}:{" "}
      <span className="cohort-n" data-testid={testid} data-n={n ?? ""}>
        {n === null ? "…" : num(n)}
      </span>
      <ErrorNote error={error} />
    </p>
  );
}

// --- the linked charts ---------------------------------------------------------------------

function FacetChart({
  facet,
  filters,
  scheme,
  onChange,
  prefix,
}: {
  facet: Facet;
  filters: Filters;
  scheme: Scheme;
  onChange: (f: Filters) => void;
  prefix: string;
}) {
  const { ct, cv, pct, num } = useCohortText();
  const ref = useSvgRef();
  const [all, setAll] = useState(false);
  const byStage = facet === "stage_group";
  // a chart counts under every other chart's selection, so more of its own values can be added
  const path = withFilters(COUNTS, filters, { by: facet }, schemeFor(clearFacet(filters, facet), scheme, byStage), facet);
  const { data, error } = useApi<Counts>(path);
  if (unoffered(error)) return null;
  const bars: Bar[] = (data?.items ?? []).map((r) => ({ value: r[facet] === null ? null : String(r[facet]), n: r.n }));
  if (byStage) bars.sort((x, y) => stageRank(x.value) - stageRank(y.value));
  // a facet of many values (biomarker results) shows its most frequent ones, and any selected
  const chosen = filters.values[facet] ?? [];
  const shown = all || bars.length <= MAX_BARS ? bars : bars.filter((b, i) => i < MAX_BARS || (b.value !== null && chosen.includes(b.value)));
  const title = `${prefix}${ct(facet)}${byStage ? ` (${ct(scheme)})` : ""}`;
  return (
    <ChartCard
      title={title}
      testid={`facet-${facet}`}
      svgRef={ref}
      csv={() => ({
        header: [facet, "n", "share"],
        rows: (data?.items ?? []).map((r) => [r[facet] as string | null, r.n, r.share]),
      })}
    >
      <ErrorNote error={error} />
      {data ? (
        bars.length ? (
          <>
            <BarChart
              title={title}
              bars={shown}
              selected={chosen}
              onToggle={(value) => onChange(toggleValue(filters, facet, value))}
              svgRef={ref}
              name={(value) => cv(value)}
            />
            {bars.length > MAX_BARS ? (
              <button type="button" className="link" aria-expanded={all} onClick={() => setAll(!all)}>
                {all ? ct("fewer") : `${ct("allValues")} (${num(bars.length)})`}
              </button>
            ) : null}
          </>
        ) : (
          <p>{ct("empty")}</p>
        )
      ) : (
        <Loading />
      )}
      {data && bars.length ? (
        <p className="sr-only">{bars.map((b) => `${cv(b.value)} ${pct(b.n / Math.max(1, bars.reduce((s, x) => s + x.n, 0)))}`).join(", ")}</p>
      ) : null}
    </ChartCard>
  );
}

function AgeChart({ filters, scheme, onChange, prefix }: { filters: Filters; scheme: Scheme; onChange: (f: Filters) => void; prefix: string }) {
  const { ct, num } = useCohortText();
  const { researcherOnly } = useAuth();
  const ref = useSvgRef();
  const others = { ...filters, min_age: null, max_age: null };
  const { data, error } = useApi<Age>(withFilters(AGE, others, {}, schemeFor(others, scheme, false)));
  if (error instanceof ApiError && error.status === 403) return null;
  const label = (lower: number, upper: number | null) => (upper === null ? `${num(lower)}+` : `${num(lower)}–${num(upper)}`);
  const range = (lower: number, upper: number | null) => {
    // a bin [lower, upper) is the ages lower … upper - 1; a de-identified view tops ages at 88
    let max = upper === null ? null : upper - 1;
    if (researcherOnly && max !== null && max > 88) max = lower < 88 ? 88 : null;
    return { min: lower, max };
  };
  const bars: Bar[] = (data?.bins ?? []).map((b) => ({ value: `${b.lower}`, n: b.n }));
  const selected = (data?.bins ?? [])
    .filter((b) => {
      const r = range(b.lower, b.upper);
      return filters.min_age === r.min && filters.max_age === r.max;
    })
    .map((b) => `${b.lower}`);
  const title = `${prefix}${ct("age")}`;
  const summary = data?.summary[0];
  return (
    <ChartCard
      title={title}
      testid="facet-age"
      svgRef={ref}
      csv={() => ({ header: ["lower", "upper", "n", "share"], rows: (data?.bins ?? []).map((b) => [b.lower, b.upper, b.n, b.share]) })}
    >
      <ErrorNote error={error} />
      {summary ? (
        <p>
          n = {num(summary.n)} · {ct("medianAge")}: {num(summary.median, { maximumFractionDigits: 1 })}
        </p>
      ) : null}
      {data ? (
        <BarChart
          title={title}
          bars={bars}
          selected={selected}
          svgRef={ref}
          name={(value) => {
            const bin = data.bins.find((b) => `${b.lower}` === value);
            return bin ? label(bin.lower, bin.upper) : "—";
          }}
          onToggle={(value) => {
            const bin = data.bins.find((b) => `${b.lower}` === value);
            if (!bin) return;
            const r = range(bin.lower, bin.upper);
            const on = filters.min_age === r.min && filters.max_age === r.max;
            onChange({ ...filters, min_age: on ? null : r.min, max_age: on ? null : r.max });
          }}
        />
      ) : (
        <Loading />
      )}
    </ChartCard>
  );
}

function FacetGrid({ filters, scheme, onChange, prefix = "" }: { filters: Filters; scheme: Scheme; onChange: (f: Filters) => void; prefix?: string }) {
  const { researcherOnly } = useAuth();
  const facets = FACETS.filter((f) => !(researcherOnly && IDENTIFIED_ONLY.includes(f)));
  return (
    <div className="facet-grid">
      {facets.map((facet) => (
        <FacetChart key={facet} facet={facet} filters={filters} scheme={scheme} onChange={onChange} prefix={prefix} />
      ))}
      <AgeChart filters={filters} scheme={scheme} onChange={onChange} prefix={prefix} />
    </div>
  );
}

// --- survival ------------------------------------------------------------------------------

const KM_RANGE: [number, number] = [0, 1];

function PValueText({ log10, p }: { log10: number | null | undefined; p: number | null | undefined }) {
  const { num } = useCohortText();
  const parts = pValue(log10, p);
  const text = formatP(log10, p, num);
  if (parts.kind !== "power") return <span data-p={text}>{text}</span>;
  const mantissa = parts.mantissa === 1 ? "" : `${num(parts.mantissa, { maximumFractionDigits: 1 })} × `;
  const exponent = `${parts.exponent < 0 ? "−" : ""}${num(Math.abs(parts.exponent), { useGrouping: false })}`;
  return (
    <span className="p-value" data-p={text}>
      {parts.bound ? "< " : ""}
      {mantissa}
      {num(10)}
      <sup>{exponent}</sup>
    </span>
  );
}

function KmChart({
  title,
  series,
  endpoint,
  svgPath,
  testid,
  csv,
}: {
  title: string;
  series: ChartSeries[];
  endpoint: string;
  svgPath: string | null;
  testid: string;
  csv: () => { header: string[]; rows: (string | number | null)[][] };
}) {
  const { ct } = useCohortText();
  const box = useRef<HTMLDivElement>(null);
  return (
    <ChartCard
      title={title}
      testid={`${testid}-card`}
      wide
      svg={svgPath ? async () => (await request(svgPath)).text() : undefined}
      png={() => canvasOf(box.current, title)}
      csv={csv}
    >
      <div ref={box}>
        <Chart
          title={title}
          testid={testid}
          series={series}
          xLabel={endpoint === "dfs" ? ct("monthsSurgery") : ct("months")}
          yLabel={ct("probability")}
          height={340}
          stepped
          yRange={KM_RANGE}
        />
      </div>
    </ChartCard>
  );
}

function AtRiskTable({ data, group, name, testid }: { data: Survival; group: string; name: (g: string) => string; testid: string }) {
  const { ct, num } = useCohortText();
  const groups = [...new Set(data.at_risk.map((r) => keyOf(r, group)))];
  const times = [...new Set(data.at_risk.map((r) => r.time))].sort((a, b) => a - b);
  const at = new Map(data.at_risk.map((r) => [`${keyOf(r, group)}|${r.time}`, r.n_at_risk]));
  return (
    <div className="scroll">
      <table data-testid={testid}>
        <caption>{ct("atRisk")}</caption>
        <thead>
          <tr>
            <th scope="col">{ct("group")}</th>
            {times.map((time) => (
              <th scope="col" key={time} data-time={time}>
                {num(time)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr key={g}>
              <th scope="row">{name(g)}</th>
              {times.map((time) => (
                <td key={time}>{num(at.get(`${g}|${time}`) ?? 0)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function MedianTable({ rows, testid }: { rows: { key: string; label: string; n: number; events: number; median: string }[]; testid: string }) {
  const { ct, num } = useCohortText();
  return (
    <div className="scroll">
      <table data-testid={testid}>
        <caption>{ct("medians")}</caption>
        <thead>
          <tr>
            <th scope="col">{ct("group")}</th>
            <th scope="col">n</th>
            <th scope="col">{ct("events")}</th>
            <th scope="col">{ct("median")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">{r.label}</th>
              <td>{num(r.n)}</td>
              <td>{num(r.events)}</td>
              <td>{r.median}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function SurvivalControls({ view, setView, groups, compare }: { view: CohortView; setView: (v: CohortView) => void; groups: string[]; compare: boolean }) {
  const { ct, cv } = useCohortText();
  const { researcherOnly } = useAuth();
  const groupings = GROUPINGS.filter((g) => !(researcherOnly && (IDENTIFIED_ONLY as readonly string[]).includes(g)));
  return (
    <div className="survival-controls">
      <div className="field">
        <label htmlFor="km-endpoint">{ct("endpoint")}</label>
        <select id="km-endpoint" value={view.endpoint} onChange={(e) => setView({ ...view, endpoint: e.target.value as CohortView["endpoint"] })}>
          {ENDPOINTS.map((e) => (
            <option key={e} value={e}>
              {ct(e)}
            </option>
          ))}
        </select>
      </div>
      {compare ? null : (
        <>
          <div className="field">
            <label htmlFor="km-group">{ct("groupBy")}</label>
            <select id="km-group" value={view.group} onChange={(e) => setView({ ...view, group: e.target.value as Grouping, reference: "" })}>
              {groupings.map((g) => (
                <option key={g} value={g}>
                  {g ? ct(g as CohortKey) : ct("noGroup")}
                </option>
              ))}
            </select>
          </div>
          {view.group ? (
            <div className="field">
              <label htmlFor="km-reference">{ct("reference")}</label>
              <select id="km-reference" value={view.reference} onChange={(e) => setView({ ...view, reference: e.target.value })}>
                <option value="">{ct("defaultReference")}</option>
                {groups.map((g) => (
                  <option key={g} value={g}>
                    {cv(g)}
                  </option>
                ))}
              </select>
            </div>
          ) : null}
        </>
      )}
    </div>
  );
}

function SurvivalSection({ view, setView }: { view: CohortView; setView: (v: CohortView) => void }) {
  const { ct, cv, num } = useCohortText();
  const forestRef = useSvgRef();
  const group = view.group;
  const scheme = schemeFor(view.a, view.scheme, group === "stage_group");
  const params = { group: group || null, endpoint: view.endpoint, reference: view.reference || null, points: 400 };
  const first = useApi<Survival>(withFilters(SURVIVAL, view.a, params, scheme));
  // by default the reference is the first group; one without events makes every ratio
  // inestimable, so then the group with the most events is the reference instead
  const fallback = useMemo(() => {
    const rows = first.data?.hazard_ratios;
    if (view.reference || !rows?.length || !group) return null;
    const ref = rows.find((r) => r.reference);
    if (!ref || ref.n_events > 0) return null;
    return [...rows].sort((x, y) => y.n_events - x.n_events)[0];
  }, [first.data, view.reference, group]);
  const reference = fallback ? keyOf(fallback, group) : view.reference || null;
  const second = useApi<Survival>(fallback ? withFilters(SURVIVAL, view.a, { ...params, reference }, scheme) : null);
  const data = fallback ? second.data : first.data;
  const error = first.error ?? second.error;
  const loading = first.loading || second.loading;
  const name = useCallback((g: string) => (group ? cv(g) : ct("all")), [group, cv, ct]);
  const groups = useMemo(() => (data && group ? data.median.map((m) => keyOf(m, group)).filter((g) => g !== "unknown") : []), [data, group]);
  // bands shade each curve's interval: readable for a few curves, a fog for thirteen
  const [bands, setBands] = useState(true);
  const banded = bands && (data?.median.length ?? 0) <= MAX_BANDED;
  const series = useMemo(() => (data ? kmSeries(data.km, group, name, banded) : []), [data, group, name, banded]);
  const title = `${ct(view.endpoint)}${group ? `: ${ct(group as CohortKey)}${group === "stage_group" ? ` (${ct(view.scheme)})` : ""}` : ""}`;
  const kmN = data ? data.median.reduce((s, m) => s + m.n, 0) : null;
  const hazards: HazardRow[] = (data?.hazard_ratios ?? []).map((h) => ({
    label: name(keyOf(h, group)),
    n: h.n,
    hazard_ratio: h.hazard_ratio,
    lower: h.lower,
    upper: h.upper,
    reference: h.reference,
  }));
  return (
    <section className="card cohort-section" aria-labelledby="survival-title">
      <h2 id="survival-title">{ct("survival")}</h2>
      <SurvivalControls view={view} setView={setView} groups={groups} compare={false} />
      <ErrorNote error={error} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <>
          <p>
            n = <strong data-testid="km-n">{num(kmN)}</strong>
            {data.excluded ? (
              <>
                {" "}
                · {ct("excluded")}: <span data-testid="km-excluded">{num(data.excluded)}</span>
              </>
            ) : null}
            {" · "}
            <span data-testid="log-rank">
              {ct("logRank")}:{" "}
              {data.log_rank ? <PValueText log10={data.log_rank.p_value_log10} p={data.log_rank.p_value} /> : "—"}
            </span>
          </p>
          <label className="inline-check">
            <input
              type="checkbox"
              data-testid="km-bands"
              checked={banded}
              disabled={(data.median.length ?? 0) > MAX_BANDED}
              onChange={(e) => setBands(e.target.checked)}
            />{" "}
            {ct("bands")}
          </label>
          <KmChart
            title={title}
            series={series}
            endpoint={view.endpoint}
            svgPath={withFilters(SURVIVAL, view.a, { ...params, reference, points: null, format: "svg" }, scheme)}
            testid="km-chart"
            csv={() => ({
              header: [group || "group", "time_months", "survival", "lower", "upper", "n_at_risk", "n_events", "n_censored"],
              rows: data.km.map((r) => [keyOf(r, group), r.time, r.survival, r.lower as number, r.upper as number, r.n_at_risk, r.n_events as number, r.n_censored ?? 0]),
            })}
          />
          <AtRiskTable data={data} group={group} name={name} testid="at-risk" />
          <MedianTable
            testid="medians"
            rows={data.median.map((m) => ({
              key: String(keyOf(m, group)),
              label: name(keyOf(m, group)),
              n: m.n,
              events: m.n_events,
              median: formatMedian(m.median, m.lower, m.upper, num, ct("notReached")),
            }))}
          />
          {hazards.length ? (
            <ChartCard
              title={`${ct("forest")}: ${title}`}
              testid="forest"
              svgRef={forestRef}
              wide
              csv={() => ({
                header: [group, "n", "n_events", "hazard_ratio", "lower", "upper", "p_value", "reference"],
                rows: (data.hazard_ratios ?? []).map((h) => [keyOf(h, group), h.n, h.n_events, h.hazard_ratio, h.lower, h.upper, h.p_value as number | null, h.reference]),
              })}
            >
              <ForestPlot rows={hazards} svgRef={forestRef} title={`${ct("forest")}: ${title}`} />
            </ChartCard>
          ) : (
            <p>{ct("noCompare")}</p>
          )}
        </>
      ) : null}
    </section>
  );
}

function CompareSurvival({ view, setView }: { view: CohortView; setView: (v: CohortView) => void }) {
  const { ct, num } = useCohortText();
  const b = view.b ?? EMPTY_FILTERS;
  const params = { endpoint: view.endpoint, points: 400 };
  const pathA = withFilters(SURVIVAL, view.a, params, schemeFor(view.a, view.scheme, false));
  const pathB = withFilters(SURVIVAL, b, params, schemeFor(b, view.scheme, false));
  const A = useApi<Survival>(pathA);
  const B = useApi<Survival>(pathB);
  const scheme = schemeFor(view.a, view.scheme, false) ?? schemeFor(b, view.scheme, false);
  const test = useApi<Comparison>(
    `${COMPARE}?${new URLSearchParams({
      a: apiParams(view.a).toString(),
      b: apiParams(b).toString(),
      endpoint: view.endpoint,
      ...(scheme ? { scheme } : {}),
    }).toString()}`,
  );
  const series = useMemo(
    () => [
      ...(A.data ? kmSeries(A.data.km, "", () => ct("cohortA")) : []),
      ...(B.data ? kmSeries(B.data.km, "", () => ct("cohortB")) : []),
    ],
    [A.data, B.data, ct],
  );
  const title = `${ct(view.endpoint)}: ${ct("overlay")}`;
  const medianRow = (key: string, label: string, s: Survival | null) => {
    const m = s?.median[0];
    return m ? [{ key, label, n: m.n, events: m.n_events, median: formatMedian(m.median, m.lower, m.upper, num, ct("notReached")) }] : [];
  };
  return (
    <section className="card cohort-section" aria-labelledby="survival-title">
      <h2 id="survival-title">{ct("survival")}</h2>
      <SurvivalControls view={view} setView={setView} groups={[]} compare />
      <ErrorNote error={A.error ?? B.error} />
      {series.length ? (
        <KmChart
          title={title}
          series={series}
          endpoint={view.endpoint}
          svgPath={null}
          testid="km-compare"
          csv={() => ({
            header: ["cohort", "time_months", "survival", "lower", "upper", "n_at_risk"],
            rows: [
              ...(A.data?.km ?? []).map((r) => ["A", r.time, r.survival, r.lower as number, r.upper as number, r.n_at_risk]),
              ...(B.data?.km ?? []).map((r) => ["B", r.time, r.survival, r.lower as number, r.upper as number, r.n_at_risk]),
            ],
          })}
        />
      ) : (
        <Loading />
      )}
      <MedianTable testid="compare-medians" rows={[...medianRow("A", ct("cohortA"), A.data), ...medianRow("B", ct("cohortB"), B.data)]} />
      <ErrorNote error={test.error} />
      {test.data ? <CompareTest data={test.data} /> : null}
    </section>
  );
}

/** The test between A and B: patients in both are counted, then left out of it. */
function CompareTest({ data }: { data: Comparison }) {
  const { ct, num } = useCohortText();
  const hr = data.hazard_ratio;
  const ratio = (x: number | null) => (x === null ? "—" : num(x, { maximumFractionDigits: 2 }));
  return (
    <p data-testid="compare-test" data-overlap={data.overlap} data-compared={data.compared}>
      {data.log_rank ? (
        <>
          {ct(data.compared === "whole" ? "compareTest" : "compareTestExclusive")}:{" "}
          <span data-testid="compare-p">
            <PValueText log10={data.log_rank.p_value_log10} p={data.log_rank.p_value} />
          </span>
          {hr ? (
            <>
              {" · "}
              {ct("hazardBvsA")}: <span data-testid="compare-hr">{ratio(hr.hazard_ratio)}</span> ({ratio(hr.lower)}–
              {ratio(hr.upper)})
            </>
          ) : null}
        </>
      ) : (
        ct("noCompareAB")
      )}
      {" · "}
      {data.overlap ? (
        <>
          <span data-testid="compare-overlap">{num(data.overlap)}</span> {ct("inBoth")}
        </>
      ) : (
        ct("noneShared")
      )}
    </p>
  );
}

// --- the patients of the cohort ------------------------------------------------------------

function PatientTable({ filters, scheme }: { filters: Filters; scheme: Scheme }) {
  const { ct, cv, num, date, year } = useCohortText();
  const { researcherOnly } = useAuth();
  const [limit, setLimit] = useState(TABLE_SIZE);
  const path = withFilters("/api/v1/patients", filters, { limit }, schemeFor(filters, scheme, false));
  const { data, error, loading } = useApi<Page<PatientSummary & { age_group?: string }>>(path);
  return (
    <section className="card cohort-section" aria-labelledby="table-title">
      <h2 id="table-title">{ct("table")}</h2>
      <ErrorNote error={error} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <>
          <div className="scroll">
            <table className="list" data-testid="cohort-table">
              <thead>
                <tr>
                  <th scope="col">{researcherOnly ? ct("research_id") : ct("id")}</th>
                  <th scope="col">{ct("sex")}</th>
                  <th scope="col">{ct("birth_year")}</th>
                  <th scope="col">{ct("histology")}</th>
                  <th scope="col">{ct("location")}</th>
                  <th scope="col">{ct("stage_group")}</th>
                  <th scope="col">{ct("diagnosis_date")}</th>
                  <th scope="col">{ct("vital_status")}</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((p) => {
                  const id = p.id ?? p.research_id;
                  return (
                    <tr key={id}>
                      <td>
                        {id ? (
                          <Link to={`/patients/${encodeURIComponent(id)}`}>
                            <code>{p.id ? `${p.id.slice(0, 13)}…` : id}</code>
                          </Link>
                        ) : (
                          "—"
                        )}
                      </td>
                      <td data-field="sex" data-value={p.sex ?? ""}>{cv(p.sex)}</td>
                      <td>{p.birth_year ? year(p.birth_year) : cv(p.age_group ?? null)}</td>
                      <td data-field="histology" data-value={p.histology ?? ""}>{cv(p.histology)}</td>
                      <td data-field="location" data-value={p.location ?? ""}>{cv(p.location)}</td>
                      <td data-field="stage_group" data-value={p.stage_group ?? ""}>{cv(p.stage_group)}</td>
                      <td>{date(p.diagnosis_date)}</td>
                      <td data-field="vital_status" data-value={p.vital_status ?? ""}>{cv(p.vital_status)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {data.items.length === 0 ? <p>{ct("empty")}</p> : null}
          {data.next_cursor ? (
            <button type="button" className="secondary" onClick={() => setLimit(limit + TABLE_SIZE)}>
              {ct("loadMore")} ({num(TABLE_SIZE)})
            </button>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

// --- saved cohorts and training on one -----------------------------------------------------

function TrainForm({ cohort }: { cohort: SavedCohort }) {
  const { ct } = useCohortText();
  const { navigate } = useRouter();
  const [name, setName] = useState(`cohort-${cohort.name}`.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 60));
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const job = await api<Job>("/api/v1/training/runs", { method: "POST", json: { name, model: "cox", cohort_id: cohort.id, bootstrap: 20 } });
      navigate(`/training/runs/${job.id}`);
    } catch (exc) {
      setError(exc);
    }
  };
  const id = `train-${cohort.id}`;
  return (
    <form className="train-form" onSubmit={(e) => void submit(e)} aria-label={`${ct("train")}: ${cohort.name}`}>
      <div className="field">
        <label htmlFor={id}>{ct("runName")}</label>
        <input id={id} required value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <button type="submit">{ct("startTraining")}</button>
      <ErrorNote error={error} />
    </form>
  );
}

function SavedCohorts({ view, setView }: { view: CohortView; setView: (v: CohortView) => void }) {
  const { ct, num, date } = useCohortText();
  const { can, me } = useAuth();
  const client = useQueryClient();
  const list = useApi<Page<SavedCohort>>(SAVED_LIST);
  // the list as it is now: a first load still under way may have been read before the change
  // (invalidating alone would hand back that answer), so it is cancelled and asked again
  const reloadList = async () => {
    await client.cancelQueries({ queryKey: [SAVED_LIST] });
    await client.invalidateQueries({ queryKey: [SAVED_LIST] });
  };
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [training, setTraining] = useState<string | null>(null);
  if (list.error instanceof ApiError && (list.error.status === 404 || list.error.status === 405)) return null; // not on this server
  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setSaved(null);
    try {
      const made = await api<SavedCohort>("/api/v1/cohorts", {
        method: "POST",
        json: { name, description: description || null, filters: toSaved(view.a, schemeFor(view.a, view.scheme, false)) },
      });
      setSaved(`${made.name}: ${num(made.patients)} ${ct("patients")}`);
      setName("");
      setDescription("");
      await reloadList();
    } catch (exc) {
      setError(exc);
    }
  };
  const open = (cohort: SavedCohort) => {
    const { filters, scheme } = fromSaved(cohort.filters);
    setView({ ...view, a: filters, b: null, scheme: scheme ?? view.scheme });
  };
  const remove = async (cohort: SavedCohort) => {
    try {
      await api(`/api/v1/cohorts/${encodeURIComponent(cohort.id)}`, { method: "DELETE" });
      await reloadList();
    } catch (exc) {
      setError(exc);
    }
  };
  return (
    <section className="card cohort-section" aria-labelledby="saved-title">
      <h2 id="saved-title">{ct("savedCohorts")}</h2>
      <form className="grid-form" onSubmit={(e) => void save(e)} aria-label={ct("save")}>
        <div className="field">
          <label htmlFor="cohort-name">{ct("saveName")}</label>
          <input id="cohort-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="cohort-description">{ct("saveDescription")}</label>
          <input id="cohort-description" value={description} onChange={(e) => setDescription(e.target.value)} />
        </div>
        <div className="actions">
          <button type="submit">{ct("saveButton")}</button>
        </div>
        {saved ? (
          <p role="status" className="full">
            {saved}
          </p>
        ) : null}
      </form>
      <ErrorNote error={error ?? list.error} />
      {list.data ? (
        list.data.items.length ? (
          <div className="scroll">
            <table className="saved-list" data-testid="saved-cohorts">
              <thead>
                <tr>
                  <th scope="col">{ct("saveName")}</th>
                  <th scope="col">{ct("patients")}</th>
                  <th scope="col">{ct("createdBy")}</th>
                  <th scope="col">{ct("created")}</th>
                  <th scope="col">
                    <span className="sr-only">{ct("openCohort")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((c) => (
                  <tr key={c.id}>
                    <th scope="row">
                      <Link to={`/cohort?cohort=${encodeURIComponent(c.id)}`}>{c.name}</Link>
                      {c.description ? <div className="muted">{c.description}</div> : null}
                    </th>
                    <td>{num(c.patients)}</td>
                    <td>{c.created_by}</td>
                    <td>{date(c.created_at)}</td>
                    <td>
                      <div className="actions">
                        <button type="button" className="secondary small" onClick={() => open(c)}>
                          {ct("openCohort")}
                        </button>
                        {can("training.jobs.manage") ? (
                          <button
                            type="button"
                            className="secondary small"
                            aria-expanded={training === c.id}
                            onClick={() => setTraining(training === c.id ? null : c.id)}
                          >
                            {ct("train")}
                          </button>
                        ) : null}
                        {can("patients.export") ? (
                          <button
                            type="button"
                            className="secondary small"
                            onClick={() =>
                              void download(`/api/v1/patients/export.ndjson?cohort=${encodeURIComponent(c.id)}`, fileName(c.name, "ndjson")).catch(setError)
                            }
                          >
                            {ct("exportFhir")}
                          </button>
                        ) : null}
                        {me && (c.created_by === me.username || me.roles.includes("admin")) ? (
                          <button type="button" className="secondary small" onClick={() => void remove(c)}>
                            {ct("deleteCohort")}
                          </button>
                        ) : null}
                      </div>
                      {training === c.id ? <TrainForm cohort={c} /> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p>{ct("noSaved")}</p>
        )
      ) : null}
    </section>
  );
}

// --- the page ------------------------------------------------------------------------------

export function CohortPage() {
  const { ct } = useCohortText();
  const { researcherOnly } = useAuth();
  const { search, navigate } = useRouter();
  const view = useMemo(() => parseView(search), [search]);
  const setView = (next: CohortView) => navigate(`/cohort${viewToSearch(next)}`);
  // `?cohort=<id>` opens a saved cohort: its filters become the address's
  const savedId = new URLSearchParams(search).get("cohort");
  const saved = useApi<SavedCohort>(savedId ? `/api/v1/cohorts/${encodeURIComponent(savedId)}` : null);
  useEffect(() => {
    if (!saved.data || !savedId) return;
    const { filters, scheme } = fromSaved(saved.data.filters);
    navigate(`/cohort${viewToSearch({ ...parseView(search), a: filters, b: null, scheme: scheme ?? parseView(search).scheme })}`);
    // once per saved cohort opened
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [saved.data, savedId]);
  const setA = (a: Filters) => setView({ ...view, a });
  const setB = (b: Filters) => setView({ ...view, b });
  return (
    <>
      <h1>{ct("title")}</h1>
      <p>{ct("intro")}</p>
      {researcherOnly ? <p className="note">{ct("deidentified")}</p> : null}
      <ErrorNote error={saved.error} />
      <div className="card cohort-toolbar">
        <div className="field">
          <label htmlFor="cohort-scheme">{ct("scheme")}</label>
          <select id="cohort-scheme" value={view.scheme} onChange={(e) => setView({ ...view, scheme: e.target.value as Scheme })}>
            {SCHEMES.map((s) => (
              <option key={s} value={s}>
                {ct(s)}
              </option>
            ))}
          </select>
        </div>
        <button
          type="button"
          className="secondary"
          aria-pressed={view.b !== null}
          onClick={() => setView({ ...view, b: view.b ? null : EMPTY_FILTERS })}
        >
          {view.b ? ct("stopCompare") : ct("compare")}
        </button>
        {view.b ? (
          <button type="button" className="secondary" onClick={() => setView({ ...view, b: view.a })}>
            {ct("copyAToB")}
          </button>
        ) : null}
        <p className="muted">{ct("shareNote")}</p>
      </div>
      {view.b ? (
        <>
          <div className="compare-grid">
            {(
              [
                ["a", view.a, setA, ct("cohortA")],
                ["b", view.b, setB, ct("cohortB")],
              ] as const
            ).map(([key, filters, set, label]) => (
              <section key={key} className="card" aria-labelledby={`cohort-${key}-title`} data-testid={`cohort-${key}`}>
                <h2 id={`cohort-${key}-title`}>{label}</h2>
                <Chips filters={filters} onChange={set} label={label} />
                <CohortSize filters={filters} scheme={view.scheme} testid={`cohort-n-${key}`} />
                <FacetGrid filters={filters} scheme={view.scheme} onChange={set} prefix={`${key.toUpperCase()} · `} />
              </section>
            ))}
          </div>
          <CompareSurvival view={view} setView={setView} />
        </>
      ) : (
        <>
          <section className="card" aria-labelledby="selection-title">
            <h2 id="selection-title">{ct("activeFilters")}</h2>
            <Chips filters={view.a} onChange={setA} label={ct("cohortA")} />
            <CohortSize filters={view.a} scheme={view.scheme} testid="cohort-n" />
          </section>
          <FacetGrid filters={view.a} scheme={view.scheme} onChange={setA} />
          <SurvivalSection view={view} setView={setView} />
          <PatientTable filters={view.a} scheme={view.scheme} />
          <SavedCohorts view={view} setView={setView} />
        </>
      )}
    </>
  );
}
