import { useState } from "react";
import { api } from "../api";
import { useAuth } from "../auth";
import { FidelityTable } from "../components/FidelityTable";
import { ErrorNote, Loading } from "../components/Status";
import { useApi, useInvalidate } from "../hooks";
import { useI18n } from "../i18n";
import type { MessageKey } from "../messages";
import { Link } from "../router";
import type { Dataset, FittedProfile, Page, PrivacyBudget, PrivacyReport, Release, ReleaseThresholds } from "../types";
import { itemsOf } from "./Home";

interface Check {
  label: MessageKey;
  value: number;
  /** The threshold and which side of it passes; absent: shown, not judged. */
  limit?: { at: number; most: boolean };
  percent?: boolean;
}

/** The report's figures, each beside the steward's threshold it is judged by. */
export function privacyChecks(report: PrivacyReport, thresholds?: ReleaseThresholds): Check[] {
  const ratio = report.dcr_holdout > 0 ? report.dcr_synthetic / report.dcr_holdout : 1;
  const limit = (at: number | undefined, most: boolean) => (at === undefined ? undefined : { at, most });
  return [
    { label: "dcrRatio", value: ratio, limit: limit(thresholds?.min_dcr_ratio, false) },
    { label: "closerToTrain", value: report.closer_to_train, limit: limit(thresholds?.max_closer_to_train, true), percent: true },
    { label: "nndr", value: report.nndr },
    { label: "miaAdvantage", value: report.mia_advantage, limit: limit(thresholds?.max_mia_advantage, true) },
    ...(report.mia_p_value === undefined ? [] : [{ label: "miaPValue" as const, value: report.mia_p_value }]),
    { label: "identicalShare", value: report.identical_share, limit: limit(thresholds?.max_identical_share, true), percent: true },
    { label: "aiaAdvantage", value: report.aia_advantage, limit: limit(thresholds?.max_aia_advantage, true) },
    { label: "aiaMembersGain", value: report.aia_members_gain, limit: limit(thresholds?.max_aia_members_gain, true) },
  ];
}

function passes(check: Check): boolean | undefined {
  if (!check.limit) return undefined;
  return check.limit.most ? check.value <= check.limit.at : check.value >= check.limit.at;
}

function ChecksTable({ checks }: { checks: Check[] }) {
  const { t, num } = useI18n();
  const show = (c: Check, v: number) =>
    c.percent ? num(v, { style: "percent", maximumFractionDigits: 1 }) : num(v, { maximumFractionDigits: 3 });
  return (
    <div className="scroll">
      <table data-testid="privacy-checks">
        <thead>
          <tr>
            <th scope="col">{t("measure")}</th>
            <th scope="col">{t("value")}</th>
            <th scope="col">{t("threshold")}</th>
            <th scope="col">{t("status")}</th>
          </tr>
        </thead>
        <tbody>
          {checks.map((c) => {
            const ok = passes(c);
            return (
              <tr key={c.label}>
                <th scope="row">{t(c.label)}</th>
                <td>{show(c, c.value)}</td>
                <td>{c.limit ? `${c.limit.most ? "≤" : "≥"} ${show(c, c.limit.at)}` : "—"}</td>
                <td className={ok === undefined ? "muted" : ok ? "ok" : "bad"}>
                  {ok === undefined ? "—" : ok ? t("passed") : t("failed")}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function FiguresTable({ title, figures }: { title: MessageKey; figures: Record<string, number> }) {
  const { t, num } = useI18n();
  const rows = Object.entries(figures);
  if (rows.length === 0) return null;
  return (
    <>
      <h4>{t(title)}</h4>
      <div className="scroll">
        <table>
          <tbody>
            {rows.map(([name, value]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{num(value, { maximumFractionDigits: 3 })}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** What a fitted profile's privacy report page shows, from what the API answered. */
export function PrivacyReportView({
  fitted,
  budget,
  dataset,
}: {
  fitted: FittedProfile;
  budget?: PrivacyBudget | null;
  dataset?: Dataset | null;
}) {
  const { t, num, date } = useI18n();
  const release: Release | null | undefined = dataset?.release;
  const report = release?.report;
  return (
    <>
      <section className="card" aria-labelledby="fit-title">
        <h2 id="fit-title">{fitted.name}</h2>
        <dl className="facts">
          <dt>{t("fittedOn")}</dt>
          <dd data-testid="fitted-on">
            {[fitted.source, fitted.cohort_id ? `${t("savedCohort")} ${fitted.cohort_id}` : null]
              .filter(Boolean)
              .join(" · ")}
          </dd>
          <dt>{t("epsilonSpent")}</dt>
          <dd data-testid="epsilon">{fitted.epsilon === null ? t("noDp") : `ε = ${num(fitted.epsilon)}`}</dd>
          <dt>{t("time")}</dt>
          <dd>{date(fitted.fitted_at)}</dd>
        </dl>
      </section>
      <section className="card" aria-labelledby="budget-title">
        <h2 id="budget-title">{t("budgetTitle")}</h2>
        {budget ? (
          <p data-testid="budget">
            {t("budgetTotal")}: {num(budget.total)} · {t("budgetSpent")}: {num(budget.spent)} · {t("budgetLeft")}:{" "}
            {num(budget.remaining)}
          </p>
        ) : (
          <p className="muted">{t("budgetHidden")}</p>
        )}
      </section>
      {!dataset ? (
        <p className="muted">{t("noTwins")}</p>
      ) : (
        <section className="card" aria-labelledby="gate-title">
          <h2 id="gate-title">
            {t("gateVerdict")} <code className="small">{dataset.id}</code>
          </h2>
          <p data-testid="gate" className={release?.status === "released" ? "ok" : "bad"}>
            {release?.status === "released" ? t("gateReleased") : t("gateHeld")}
          </p>
          {report ? (
            (release?.failures ?? []).length > 0 ? (
              <ul data-testid="gate-reasons">
                {(release?.failures ?? []).map((f) => (
                  <li key={f}>{f}</li>
                ))}
              </ul>
            ) : (
              <p>{t("gatePassedAll")}</p>
            )
          ) : (
            <p className="muted">{t("notMeasured")}</p>
          )}
          {release?.decision ? (
            <p data-testid="gate-decision">
              {t("gateDecision")}: {release.decision.decision} — {release.decision.reason} ({release.decision.by},{" "}
              {date(release.decision.at)})
            </p>
          ) : null}
          {report ? (
            <>
              <h3>{t("privacyAttacks")}</h3>
              <ChecksTable checks={privacyChecks(report, release?.thresholds)} />
              <h3>{t("utility")}</h3>
              <ChecksTable
                checks={[
                  { label: "tstr", value: report.tstr_c_index },
                  { label: "trtr", value: report.trtr_c_index },
                  {
                    label: "tstrRatio",
                    value: report.tstr_ratio,
                    limit: release?.thresholds ? { at: release.thresholds.min_tstr_ratio, most: false } : undefined,
                  },
                ]}
              />
              <FiguresTable title="marginalFidelity" figures={report.marginal_fidelity} />
              <FiguresTable title="kmDistance" figures={report.km_distance} />
            </>
          ) : null}
          {dataset.fidelity ? (
            <>
              <h3>{t("fidelity")}</h3>
              <FidelityTable report={dataset.fidelity} />
            </>
          ) : null}
        </section>
      )}
    </>
  );
}

/** The fitted profiles (with ``name``: one of them, its budget and its latest twin's report). */
export function PrivacyReportPage({ name }: { name?: string }) {
  const { t } = useI18n();
  const { can } = useAuth();
  const invalidate = useInvalidate();
  const fitted = useApi<Page<FittedProfile>>("/api/v1/generation/fitted-profiles");
  const chosen = name ? (fitted.data?.items ?? []).find((f) => f.name === name) : undefined;
  const steward = can("collection.jobs.manage");
  const budget = useApi<PrivacyBudget>(
    chosen?.source && steward ? `/api/v1/generation/privacy-budget?source=${encodeURIComponent(chosen.source)}` : null,
  );
  const datasets = useApi<Dataset[] | Page<Dataset>>(chosen && can("datasets.read") ? "/api/v1/datasets?limit=200" : null);
  const twin = itemsOf(datasets.data).find((d) => d.derived_from?.profile === name);
  const dataset = useApi<Dataset>(twin ? `/api/v1/datasets/${encodeURIComponent(twin.id)}` : null);
  const [error, setError] = useState<unknown>(null);

  const measure = async () => {
    if (!twin) return;
    setError(null);
    try {
      await api(`/api/v1/datasets/${encodeURIComponent(twin.id)}/privacy-report`, { method: "POST" });
      void invalidate(`/api/v1/datasets/${encodeURIComponent(twin.id)}`);
    } catch (exc) {
      setError(exc);
    }
  };

  return (
    <>
      <p className="crumbs">
        <Link to="/generation">{t("generationTitle")}</Link> / <Link to="/generation/fitted">{t("fittedProfiles")}</Link> /
      </p>
      <h1>{name ? t("privacyTitle") : t("fittedProfiles")}</h1>
      <ErrorNote error={fitted.error ?? datasets.error ?? dataset.error} />
      {fitted.loading ? <Loading /> : null}
      {!name ? (
        (fitted.data?.items ?? []).length === 0 && !fitted.loading ? (
          <p className="muted">{t("fittedNone")}</p>
        ) : (
          <ul data-testid="fitted-list">
            {(fitted.data?.items ?? []).map((f) => (
              <li key={f.name}>
                <Link to={`/generation/fitted/${encodeURIComponent(f.name)}`}>{f.name}</Link>{" "}
                <span className="muted small">
                  {f.source ?? f.cohort_id} · {f.epsilon === null ? t("noDp") : `ε = ${f.epsilon}`}
                </span>
              </li>
            ))}
          </ul>
        )
      ) : chosen ? (
        <>
          <PrivacyReportView fitted={chosen} budget={budget.data} dataset={twin ? dataset.data ?? twin : null} />
          {twin && steward && !dataset.data?.release?.report ? (
            <p>
              <button type="button" onClick={() => void measure()}>
                {t("measureNow")}
              </button>
            </p>
          ) : null}
          <ErrorNote error={error} />
        </>
      ) : fitted.data ? (
        <h2>{t("notFound")}</h2>
      ) : null}
    </>
  );
}
