import { useI18n } from "../i18n";
import type { RiskAnswer } from "../types";

export function RiskPanel({ risk }: { risk: RiskAnswer }) {
  const { t, num, pct } = useI18n();
  return (
    <section className="card" aria-labelledby="risk-title">
      <h3 id="risk-title">{t("risk")}</h3>
      {!risk.available ? (
        <p role="status">
          {risk.model ? (
            <>
              <strong>{t("noEstimate")}.</strong> {risk.message} ({t("model")}:{" "}
              <span data-testid="risk-model">{risk.model}</span>)
            </>
          ) : (
            <>
              <strong>{t("noModel")}.</strong> {risk.message}
            </>
          )}
        </p>
      ) : (
        <>
          <p>
            {t("model")}: <strong data-testid="risk-model">{risk.model}</strong> · {t("version")}{" "}
            <strong data-testid="risk-version">{num(risk.version)}</strong>
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("survivalAt")}</th>
                <th scope="col">%</th>
                <th scope="col">{t("interval")}</th>
              </tr>
            </thead>
            <tbody>
              {risk.horizons.map((h) => (
                <tr key={h.years}>
                  <th scope="row">
                    {num(h.years)} {t(h.years === 1 ? "year1" : "years")}
                  </th>
                  <td>{pct(h.survival, 1)}</td>
                  <td>
                    {h.lower === null || h.upper === null ? "—" : `${pct(h.lower, 1)} – ${pct(h.upper, 1)}`}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {risk.message ? <p className="muted">{risk.message}</p> : null}
          {risk.missing.length ? (
            <p className="muted">
              {t("moreDataNeeded")}: {risk.missing.join(", ")}
            </p>
          ) : null}
        </>
      )}
    </section>
  );
}
