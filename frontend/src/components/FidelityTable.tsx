import { useI18n } from "../i18n";
import type { MessageKey } from "../messages";
import type { FidelityReport, FidelityTarget, Verdict } from "../types";

/** The target's verdict; reports made before verdicts only say whether it was within tolerance. */
export function verdictOf(target: FidelityTarget): Verdict {
  return target.verdict ?? (target.ok ? "passed" : "failed");
}

const LABEL: Record<Verdict, MessageKey> = { passed: "passed", failed: "failed", insufficient: "tooFew" };
const CLASS: Record<Verdict, string> = { passed: "ok", failed: "bad", insufficient: "muted" };

/** Each fidelity target judged at the cohort's size: the achieved value with its interval and n
 * against target ± tolerance, the verdict, and the publication the target comes from. */
export function FidelityTable({ report }: { report: FidelityReport }) {
  const { t, num } = useI18n();
  const fixed = { maximumFractionDigits: 3 };
  const count = (v: Verdict) => report.targets.filter((x) => verdictOf(x) === v).length;
  const confidence = report.targets.find((x) => x.confidence !== undefined)?.confidence;
  const interval = (x: FidelityTarget) => {
    if (x.achieved === null || x.lower === undefined || x.lower === null) return "—";
    const upper = x.upper === null || x.upper === undefined ? t("notReached") : num(x.upper, fixed);
    return `${num(x.lower, fixed)} – ${upper}`;
  };
  return (
    <>
      <p data-testid="fidelity-summary">
        {t("passed")}: {num(count("passed"))} · {t("failed")}: {num(count("failed"))} · {t("tooFew")}:{" "}
        {num(count("insufficient"))} ({num(report.targets.length)})
      </p>
      {confidence !== undefined ? (
        <p className="muted small" data-testid="fidelity-note">
          {t("intervalNote")} ({t("confidenceInterval")}: {num(confidence, { style: "percent", maximumFractionDigits: 2 })})
        </p>
      ) : null}
      <div className="scroll">
      <table>
        <thead>
          <tr>
            <th scope="col">{t("measure")}</th>
            <th scope="col">{t("target")}</th>
            <th scope="col">{t("achieved")}</th>
            <th scope="col">{t("confidenceInterval")}</th>
            <th scope="col">{t("patientsN")}</th>
            <th scope="col">{t("status")}</th>
            <th scope="col">{t("source")}</th>
          </tr>
        </thead>
        <tbody>
          {report.targets.map((x) => {
            const verdict = verdictOf(x);
            return (
              <tr key={x.name} data-testid={`fidelity-${x.name}`}>
                <th scope="row">{x.name}</th>
                <td>
                  {num(x.target, fixed)} ± {num(x.tolerance, fixed)}
                </td>
                <td>{num(x.achieved, fixed)}</td>
                <td>{interval(x)}</td>
                <td>{num(x.n)}</td>
                <td className={CLASS[verdict]}>{t(LABEL[verdict])}</td>
                <td className="small">{x.source}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      </div>
    </>
  );
}
