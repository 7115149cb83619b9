import { useMemo, useState } from "react";
import { download } from "../api";
import { Chart, thin } from "../components/Chart";
import type { ChartSeries } from "../components/Chart";
import { ErrorNote, Loading } from "../components/Status";
import { useApi } from "../hooks";
import { useI18n } from "../i18n";
import { label } from "../options";

const GROUPS = ["histology", "sex", "stage_group", "location", "origin", "vital_status"];

interface Counts {
  items: (Record<string, string | number | null> & { n: number; share: number })[];
}
interface Age {
  bins: { lower: number; upper: number; n: number; share: number }[];
  summary: { n: number; mean: number | null; median: number | null }[];
}
interface Survival {
  median: (Record<string, unknown> & { n: number; n_events: number; median: number | null })[];
  at_risk: (Record<string, unknown> & { time: number; n_at_risk: number })[];
  log_rank: { statistic: number; df: number; p_value: number } | null;
  km: (Record<string, unknown> & { time: number; survival: number; n_censored?: number })[];
}

const KM_RANGE: [number, number] = [0, 1];

/** A p-value as a reader expects it: below 0.001 as "< 0.001", never a bare 0. */
export function formatP(p: number | null | undefined, num: (v: number, o?: Intl.NumberFormatOptions) => string): string {
  if (p === null || p === undefined || Number.isNaN(p)) return "—";
  if (p < 0.001) return `< ${num(0.001)}`;
  return num(p, { maximumSignificantDigits: 3 });
}

/** One curve per group from the Kaplan-Meier rows, in months. */
export function kmSeries(rows: Survival["km"], group: string, name: (g: string) => string): ChartSeries[] {
  const by = new Map<string, { points: [number, number][]; censored: number[] }>();
  for (const r of rows) {
    const key = String(r[group] ?? "all");
    const curve = by.get(key) ?? { points: [], censored: [] };
    curve.points.push([r.time, r.survival]);
    if ((r.n_censored ?? 0) > 0) curve.censored.push(r.time);
    by.set(key, curve);
  }
  // censor marks: at most 30 per curve, evenly spread over its censored times
  return [...by.entries()].map(([g, c]) => ({ label: name(g), points: c.points, marks: thin(c.censored) }));
}

function CountsCard() {
  const { t, num, pct } = useI18n();
  const [by, setBy] = useState("histology");
  const { data, error } = useApi<Counts>(`/api/v1/patients/cohort/counts?by=${by}`);
  return (
    <section className="card" aria-labelledby="counts-title">
      <h2 id="counts-title">{t("counts")}</h2>
      <label htmlFor="counts-by">{t("countBy")}</label>
      <select id="counts-by" value={by} onChange={(e) => setBy(e.target.value)}>
        {GROUPS.map((g) => (
          <option key={g} value={g}>
            {label(g)}
          </option>
        ))}
      </select>
      <ErrorNote error={error} />
      {data ? (
        <div className="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">{label(by)}</th>
              <th scope="col">{t("count")}</th>
              <th scope="col">{t("share")}</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((row) => (
              <tr key={String(row[by])}>
                <th scope="row">{label(row[by] as string | null)}</th>
                <td>{num(row.n)}</td>
                <td>{pct(row.share, 1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      ) : null}
    </section>
  );
}

function AgeCard() {
  const { t, num, pct } = useI18n();
  const { data, error } = useApi<Age>("/api/v1/patients/cohort/age");
  const max = Math.max(1, ...(data?.bins.map((b) => b.n) ?? [1]));
  const summary = data?.summary[0];
  return (
    <section className="card" aria-labelledby="age-title">
      <h2 id="age-title">{t("ageDistribution")}</h2>
      <ErrorNote error={error} />
      {summary ? (
        <p>
          n = {num(summary.n)} · {t("mean")} {num(summary.mean, { maximumFractionDigits: 1 })} · {t("median")}{" "}
          {num(summary.median, { maximumFractionDigits: 1 })}
        </p>
      ) : null}
      <div className="scroll">
      <table className="bars">
        <thead>
          <tr>
            <th scope="col">{t("ageBin")}</th>
            <th scope="col">{t("count")}</th>
          </tr>
        </thead>
        <tbody>
          {data?.bins.map((b) => (
            <tr key={b.lower}>
              <th scope="row">
                {num(b.lower)}–{num(b.upper)}
              </th>
              <td>
                <span className="bar" style={{ width: `${(b.n / max) * 100}%` }} aria-hidden="true" />
                {num(b.n)} ({pct(b.share)})
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </section>
  );
}

function SurvivalCard() {
  const { t, num, v } = useI18n();
  const [group, setGroup] = useState("histology");
  const path = `/api/v1/patients/cohort/survival?group=${group}`;
  const { data, error, loading } = useApi<Survival>(path);
  const series = useMemo(() => (data ? kmSeries(data.km, group, v) : []), [data, group, v]);
  const groups = [...new Set(data?.at_risk.map((r) => String(r[group])) ?? [])];
  const times = [...new Set(data?.at_risk.map((r) => r.time) ?? [])].sort((a, b) => a - b);
  const atRisk = (g: string, time: number) =>
    data?.at_risk.find((r) => String(r[group]) === g && r.time === time)?.n_at_risk;
  return (
    <section className="card wide" aria-labelledby="km-title">
      <h2 id="km-title">{t("survivalTitle")}</h2>
      <label htmlFor="km-group">{t("groupBy")}</label>
      <select id="km-group" value={group} onChange={(e) => setGroup(e.target.value)}>
        {GROUPS.filter((g) => g !== "vital_status").map((g) => (
          <option key={g} value={g}>
            {label(g)}
          </option>
        ))}
      </select>
      <ErrorNote error={error} />
      {loading && !data ? <Loading /> : null}
      {series.length ? (
        <Chart
          title={`${t("survivalTitle")}: ${label(group)}`}
          testid="km-chart"
          series={series}
          xLabel={t("monthsSinceDiagnosis")}
          yLabel={t("survivalProbability")}
          height={320}
          stepped
          yRange={KM_RANGE}
        />
      ) : null}
      <button type="button" className="secondary" onClick={() => void download(`${path}&format=svg`, `survival-${group}.svg`)}>
        {t("download")} SVG
      </button>
      {data ? (
        <>
          <p data-testid="log-rank">
            {t("logRankP")}:{" "}
            {data.log_rank ? formatP(data.log_rank.p_value, num) : "—"}
          </p>
          <div className="scroll">
          <table data-testid="at-risk">
            <caption>{t("numbersAtRisk")}</caption>
            <thead>
              <tr>
                <th scope="col">
                  {t("group")} / {t("month")}
                </th>
                {times.map((time) => (
                  <th scope="col" key={time}>
                    {num(time)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => (
                <tr key={g}>
                  <th scope="row">{v(g)}</th>
                  {times.map((time) => (
                    <td key={time}>{num(atRisk(g, time))}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          <div className="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("group")}</th>
                <th scope="col">n</th>
                <th scope="col">{t("events")}</th>
                <th scope="col">{t("medianSurvival")}</th>
              </tr>
            </thead>
            <tbody>
              {data.median.filter((m) => m[group] !== undefined).map((m) => (
                <tr key={String(m[group])}>
                  <th scope="row">{v(String(m[group]))}</th>
                  <td>{num(m.n)}</td>
                  <td>{num(m.n_events)}</td>
                  <td>{num(m.median, { maximumFractionDigits: 1 })}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        </>
      ) : null}
    </section>
  );
}

export function CohortPage() {
  const { t } = useI18n();
  return (
    <>
      <h1>{t("cohortTitle")}</h1>
      <div className="columns">
        <CountsCard />
        <AgeCard />
      </div>
      <SurvivalCard />
    </>
  );
}
