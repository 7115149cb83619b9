import { useI18n } from "../i18n";
import type { Decision } from "../types";
import { RiskPanel } from "./RiskPanel";

export function CdsPanel({ decision }: { decision: Decision }) {
  const { t, num } = useI18n();
  const { stage, recommendations } = decision;
  return (
    <section className="cds" aria-labelledby="cds-title">
      <h2 id="cds-title">{t("cdsTitle")}</h2>
      <section className="card" aria-labelledby="stage-title">
        <h3 id="stage-title">{t("stage")}</h3>
        {stage ? (
          <>
            <p className="stage-group" data-testid="stage-group">
              {stage.stage_group}
            </p>
            <dl className="facts">
              <dt>{t("rule")}</dt>
              <dd>{stage.rule}</dd>
              <dt>{t("table")}</dt>
              <dd>{stage.table}</dd>
              <dt>{t("row")}</dt>
              <dd data-testid="stage-row">{num(stage.row)}</dd>
              <dt>{t("source")}</dt>
              <dd className="small">{stage.source}</dd>
            </dl>
            {stage.notes.map((note) => (
              <p key={note} className="muted small">
                {note}
              </p>
            ))}
          </>
        ) : (
          <p role="status">{decision.stage_problem}</p>
        )}
      </section>
      <section className="card" aria-labelledby="recs-title">
        <h3 id="recs-title">{t("recommendations")}</h3>
        {recommendations.options.length === 0 ? (
          <p data-testid="no-rule">{recommendations.no_rule_applies ?? t("noRecommendations")}</p>
        ) : null}
        <ol className="recommendations">
          {recommendations.options.map((option) => (
            <li key={option.rule_id} data-testid="recommendation">
              <strong>{option.title}</strong>
              <p>{option.recommendation}</p>
              <p className="small">
                {t("strength")}: {option.strength} · {option.intent}
              </p>
              {option.because.length ? (
                <p className="small">
                  {t("because")}: {option.because.join("; ")}
                </p>
              ) : null}
              <details>
                <summary>
                  {t("evidence")} ({num(option.evidence.length)})
                </summary>
                <p className="small">{option.evidence_summary}</p>
                <ul>
                  {option.evidence.map((e) => (
                    <li key={e.id} className="small">
                      {e.url ? (
                        <a href={e.url} target="_blank" rel="noreferrer noopener">
                          {e.title}
                        </a>
                      ) : (
                        e.title
                      )}{" "}
                      — {e.reference}
                    </li>
                  ))}
                </ul>
              </details>
            </li>
          ))}
        </ol>
        {recommendations.more_data_needed.length ? (
          <>
            <h4>{t("moreDataNeeded")}</h4>
            <ul>
              {recommendations.more_data_needed.map((m) => (
                <li key={m.fact}>
                  <code>{m.fact}</code>: {m.why}
                </li>
              ))}
            </ul>
          </>
        ) : null}
        <p className="muted small">
          {t("ruleSet")}: {recommendations.rule_set}
        </p>
      </section>
      <RiskPanel risk={decision.risk} />
    </section>
  );
}
