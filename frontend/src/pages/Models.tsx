import { useMemo, useState } from "react";
import { api, ApiError, request } from "../api";
import { useAuth } from "../auth";
import { AuthImage } from "../components/AuthImage";
import { Chart } from "../components/Chart";
import type { ChartSeries } from "../components/Chart";
import { ErrorNote, Loading } from "../components/Status";
import { useApi, useInvalidate } from "../hooks";
import { useI18n } from "../i18n";
import { Link } from "../router";
import type { Page } from "../types";
import { MetricsList, RunCurves } from "./Training";
import type { Run } from "./Training";

interface ModelEntry {
  name: string;
  versions: number;
  production: number | null;
  latest: number;
}
export interface Card {
  name: string;
  version: number;
  stage: string;
  kind: string;
  task?: string;
  created_at: string;
  promoted_at?: string | null;
  metrics: Record<string, number>;
  trained_on?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  run_id?: string | null;
  description?: string;
  report?: {
    history?: Run["history"];
    subgroups?: Record<string, { value: string; n: number; c_index: number | null }[]>;
  };
  promotion?: {
    by?: string | null;
    at?: string;
    reason?: string;
    allow_synthetic?: boolean;
    gates?: Gate[];
  } | null;
}
interface Gate {
  gate: string;
  passed: boolean;
  detail: string;
}
export interface StageChange {
  version: number;
  stage: "candidate" | "production" | "archived";
  at: string;
  by?: string | null;
  reason?: string;
}

const base = (name: string, version: number) =>
  `/api/v1/models/${encodeURIComponent(name)}/versions/${version}`;

/** A model's stage changes, newest first, as the registry records them: each version is
 * registered as a candidate; a promotion puts it in production and archives the version
 * that was there (at that moment). */
export function stageHistory(cards: Card[]): StageChange[] {
  const changes: StageChange[] = [];
  const promotions = cards
    .filter((c) => c.promoted_at)
    .map((c) => ({ card: c, at: c.promoted_at as string }))
    .sort((a, b) => a.at.localeCompare(b.at));
  for (const c of cards) changes.push({ version: c.version, stage: "candidate", at: c.created_at });
  promotions.forEach(({ card, at }, i) => {
    changes.push({ version: card.version, stage: "production", at, by: card.promotion?.by, reason: card.promotion?.reason });
    const before = promotions[i - 1];
    if (before && before.card.version !== card.version) {
      changes.push({ version: before.card.version, stage: "archived", at });
    }
  });
  return changes.sort((a, b) => b.at.localeCompare(a.at) || b.version - a.version);
}

/** Time-dependent AUC and Brier score by horizon (months), read from the metrics' names. */
export function byHorizon(metrics: Record<string, number>): ChartSeries[] {
  const series: ChartSeries[] = [];
  for (const name of ["auc", "brier"]) {
    const points = Object.entries(metrics)
      .map(([k, value]) => [new RegExp(`^${name}_(\\d+)m$`).exec(k), value] as const)
      .filter(([m]) => m)
      .map(([m, value]) => [Number((m as RegExpExecArray)[1]), value] as [number, number])
      .sort((a, b) => a[0] - b[0]);
    if (points.length) series.push({ label: name === "auc" ? "AUC(t)" : "Brier(t)", points });
  }
  return series;
}

function Subgroups({ groups }: { groups: NonNullable<NonNullable<Card["report"]>["subgroups"]> }) {
  const { t, num, v } = useI18n();
  const rows = Object.entries(groups).flatMap(([column, list]) => list.map((r) => ({ column, ...r })));
  if (!rows.length) return null;
  return (
    <section className="card" aria-labelledby="subgroups-title">
      <h2 id="subgroups-title">{t("subgroups")}</h2>
      <div className="scroll">
        <table data-testid="subgroups">
          <thead>
            <tr>
              <th scope="col">{t("group")}</th>
              <th scope="col">{t("value")}</th>
              <th scope="col">n</th>
              <th scope="col">c_index</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.column}-${r.value}`}>
                <th scope="row">{r.column}</th>
                <td>{v(r.value)}</td>
                <td>{num(r.n)}</td>
                <td>{num(r.c_index, { maximumFractionDigits: 3 })}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function Registry() {
  const { t, num } = useI18n();
  const models = useApi<Page<ModelEntry>>("/api/v1/models");
  return (
    <section className="card" aria-labelledby="registry-title">
      <h2 id="registry-title">{t("registry")}</h2>
      <ErrorNote error={models.error} />
      <div className="scroll">
        <table data-testid="registry">
          <thead>
            <tr>
              <th scope="col">{t("model")}</th>
              <th scope="col">{t("versions")}</th>
              <th scope="col">{t("production")}</th>
              <th scope="col">{t("latest")}</th>
            </tr>
          </thead>
          <tbody>
            {(models.data?.items ?? []).map((m) => (
              <tr key={m.name}>
                <th scope="row">
                  <Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
                </th>
                <td>{num(m.versions)}</td>
                <td>
                  {m.production ? (
                    <Link to={`/models/${encodeURIComponent(m.name)}/versions/${m.production}`}>v{num(m.production)}</Link>
                  ) : (
                    "—"
                  )}
                </td>
                <td>
                  <Link to={`/models/${encodeURIComponent(m.name)}/versions/${m.latest}`}>v{num(m.latest)}</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function ModelsPage() {
  const { t } = useI18n();
  return (
    <>
      <h1>{t("registry")}</h1>
      <Registry />
    </>
  );
}

function History({ cards, name }: { cards: Card[]; name: string }) {
  const { t, num, date, v } = useI18n();
  return (
    <section className="card" aria-labelledby="history-title">
      <h2 id="history-title">{t("stageHistory")}</h2>
      <div className="scroll">
        <table data-testid="stage-history">
          <thead>
            <tr>
              <th scope="col">{t("time")}</th>
              <th scope="col">{t("version")}</th>
              <th scope="col">{t("stage")}</th>
              <th scope="col">{t("user")}</th>
              <th scope="col">{t("reason")}</th>
            </tr>
          </thead>
          <tbody>
            {stageHistory(cards).map((h) => (
              <tr key={`${h.version}-${h.stage}-${h.at}`}>
                <td>{date(h.at)}</td>
                <td>
                  <Link to={`/models/${encodeURIComponent(name)}/versions/${h.version}`}>v{num(h.version)}</Link>
                </td>
                <td>{v(h.stage)}</td>
                <td>{h.by ?? "—"}</td>
                <td>{h.reason || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function ModelPage({ name }: { name: string }) {
  const { t, num, date, v } = useI18n();
  const cards = useApi<Page<Card>>(`/api/v1/models/${encodeURIComponent(name)}/versions`);
  return (
    <>
      <p className="crumbs">
        <Link to="/training">{t("registry")}</Link> /
      </p>
      <h1>{name}</h1>
      <ErrorNote error={cards.error} />
      {cards.data ? (
        <>
          <section className="card" aria-labelledby="versions-title">
            <h2 id="versions-title">{t("versions")}</h2>
            <div className="scroll">
              <table data-testid="versions">
                <thead>
                  <tr>
                    <th scope="col">{t("version")}</th>
                    <th scope="col">{t("stage")}</th>
                    <th scope="col">{t("model")}</th>
                    <th scope="col">c_index</th>
                    <th scope="col">{t("time")}</th>
                  </tr>
                </thead>
                <tbody>
                  {[...cards.data.items].reverse().map((c) => (
                    <tr key={c.version}>
                      <th scope="row">
                        <Link to={`/models/${encodeURIComponent(name)}/versions/${c.version}`}>v{num(c.version)}</Link>
                      </th>
                      <td>{v(c.stage)}</td>
                      <td>{v(c.kind)}</td>
                      <td>{num(c.metrics.c_index ?? c.metrics.auc, { maximumFractionDigits: 3 })}</td>
                      <td>{date(c.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
          <History cards={cards.data.items} name={name} />
        </>
      ) : null}
    </>
  );
}

function GatesTable({ gates }: { gates: Gate[] }) {
  const { t } = useI18n();
  return (
    <div className="scroll">
      <table data-testid="gates">
        <caption>{t("gates")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("gate")}</th>
            <th scope="col">{t("status")}</th>
            <th scope="col">{t("detail")}</th>
          </tr>
        </thead>
        <tbody>
          {gates.map((g) => (
            <tr key={g.gate}>
              <th scope="row">{g.gate}</th>
              <td className={g.passed ? "ok" : "bad"}>{g.passed ? t("passed") : t("failed")}</td>
              <td>{g.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Promote({ name, version, onDone }: { name: string; version: number; onDone: () => void }) {
  const { t } = useI18n();
  const [allowSynthetic, setAllowSynthetic] = useState(false);
  const [reason, setReason] = useState("");
  const [refused, setRefused] = useState<Gate[] | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const check = useApi<Page<Gate>>(`${base(name, version)}/gates?allow_synthetic=${allowSynthetic}`);
  const promote = async () => {
    setError(null);
    setOutcome(null);
    try {
      await api(`${base(name, version)}/promote`, { method: "POST", json: { allow_synthetic: allowSynthetic, reason } });
      setRefused(null);
      setOutcome(t("promoted"));
      onDone();
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 409 && Array.isArray(exc.body.gates)) {
        setRefused(exc.body.gates as Gate[]);
      }
      setError(exc);
    }
  };
  return (
    <section className="card promote" aria-labelledby="promote-title">
      <h2 id="promote-title">{t("promotion")}</h2>
      <ErrorNote error={check.error} />
      <GatesTable gates={refused ?? check.data?.items ?? []} />
      <label className="inline">
        <input type="checkbox" checked={allowSynthetic} onChange={(e) => setAllowSynthetic(e.target.checked)} />{" "}
        {t("allowSynthetic")}
      </label>
      <label htmlFor="promote-reason">{t("reason")}</label>
      <input id="promote-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
      <button type="button" onClick={() => void promote()}>
        {t("promote")}
      </button>
      {outcome ? (
        <p role="status" className="ok">
          {outcome}
        </p>
      ) : null}
      <ErrorNote error={error} />
    </section>
  );
}

export function VersionPage({ name, version }: { name: string; version: number }) {
  const { t, num, date, v } = useI18n();
  const { can } = useAuth();
  const invalidate = useInvalidate();
  const card = useApi<Card>(base(name, version));
  const cards = useApi<Page<Card>>(`/api/v1/models/${encodeURIComponent(name)}/versions`);
  const [markdown, setMarkdown] = useState<string | null>(null);
  const showCard = async () => setMarkdown(await (await request(`${base(name, version)}/card.md`)).text());
  const c = card.data;
  const horizons = useMemo(() => byHorizon(c?.metrics ?? {}), [c]);
  return (
    <>
      <p className="crumbs">
        <Link to="/training">{t("registry")}</Link> / <Link to={`/models/${encodeURIComponent(name)}`}>{name}</Link> /
      </p>
      <h1 id="card-title">
        {t("modelCard")}: {name} v{num(version)}
      </h1>
      <ErrorNote error={card.error} />
      {!c && !card.error ? <Loading /> : null}
      {c ? (
        <>
          <section className="card" aria-labelledby="card-title">
            <p>
              <span className={`badge stage-${c.stage}`} data-testid="version-stage">
                {v(c.stage)}
              </span>{" "}
              {v(c.kind)}
              {c.task ? ` · ${v(c.task)}` : ""} · {date(c.created_at)}
              {c.run_id ? (
                <>
                  {" · "}
                  <Link to={`/training/runs/${c.run_id}`}>{t("run")}</Link>
                </>
              ) : null}
            </p>
            {c.description ? <p>{c.description}</p> : null}
            {c.promotion ? (
              <p>
                {t("promotedBy")} {c.promotion.by ?? "—"} · {date(c.promotion.at)}
                {c.promotion.reason ? ` · ${c.promotion.reason}` : ""}
                {c.promotion.allow_synthetic ? ` · ${t("allowSynthetic")}` : ""}
              </p>
            ) : null}
            <h2>{t("metrics")}</h2>
            <MetricsList metrics={c.metrics} />
            {c.trained_on ? (
              <>
                <h2>{t("trainedOn")}</h2>
                <pre className="markdown">{JSON.stringify(c.trained_on, null, 1)}</pre>
              </>
            ) : null}
            <button type="button" className="secondary" onClick={() => void showCard()}>
              {t("modelCard")} (Markdown)
            </button>
            {markdown ? <pre className="markdown">{markdown}</pre> : null}
          </section>
          <div className="columns">
            <section className="card" aria-labelledby="calibration-title">
              <h2 id="calibration-title">{t("calibration")}</h2>
              <AuthImage path={`${base(name, version)}/calibration.svg`} alt={t("calibration")} />
            </section>
            {byHorizon(c.metrics).length ? (
              <section className="card" aria-labelledby="horizon-title">
                <h2 id="horizon-title">{t("byHorizon")}</h2>
                <Chart
                  title={t("byHorizon")}
                  testid="horizon-chart"
                  series={horizons}
                  xLabel={t("monthsSinceDiagnosis")}
                  yLabel="AUC / Brier"
                />
              </section>
            ) : null}
            {c.report?.history?.length ? (
              <section className="card" aria-labelledby="vcurve-title">
                <h2 id="vcurve-title">{t("curves")}</h2>
                <RunCurves runs={[{ id: String(c.run_id ?? ""), name, model: c.kind, history: c.report.history }]} />
              </section>
            ) : null}
          </div>
          {c.report?.subgroups ? <Subgroups groups={c.report.subgroups} /> : null}
          {can("models.promote") && c.stage !== "production" ? (
            <Promote
              name={name}
              version={version}
              onDone={() => void invalidate("/api/v1/models")}
            />
          ) : c.stage === "production" ? (
            <p className="note" data-testid="in-production">
              {t("alreadyInProduction")}
            </p>
          ) : null}
          {c.promotion?.gates ? <GatesTable gates={c.promotion.gates} /> : null}
          {cards.data ? <History cards={cards.data.items} name={name} /> : null}
        </>
      ) : null}
    </>
  );
}
