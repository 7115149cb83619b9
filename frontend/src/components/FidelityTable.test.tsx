import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { I18nProvider } from "../i18n";
import type { Lang } from "../i18n";
import type { FidelityReport, FidelityTarget } from "../types";
import { FidelityTable, verdictOf } from "./FidelityTable";

const target = (over: Partial<FidelityTarget>): FidelityTarget => ({
  name: "stage.distant",
  target: 0.43,
  achieved: 0.408,
  tolerance: 0.015,
  ok: false,
  n: 500,
  source: "SEER Cancer Stat Facts",
  verdict: "insufficient",
  lower: 0.343,
  upper: 0.476,
  confidence: 0.9976,
  ...over,
});

const report: FidelityReport = {
  all_ok: false,
  failed: 1,
  insufficient: 1,
  targets: [
    target({}),
    target({
      name: "histology.adenocarcinoma",
      target: 0.4,
      achieved: 0.62,
      lower: 0.55,
      upper: 0.68,
      verdict: "failed",
      source: "Berry, J Thorac Dis 2014",
    }),
    target({ name: "sex.male", target: 0.8, achieved: 0.81, lower: 0.8, upper: 0.82, ok: true, verdict: "passed" }),
    target({ name: "survival.median_months.overall", target: 11.3, achieved: 11.5, lower: 9.8, upper: null }),
  ],
};

const show = (r: FidelityReport, lang: Lang = "en") =>
  render(
    <I18nProvider initialLang={lang}>
      <FidelityTable report={r} />
    </I18nProvider>,
  );

describe("FidelityTable", () => {
  it("tells failed targets from those with too few patients to judge", () => {
    show(report);
    expect(screen.getByTestId("fidelity-summary")).toHaveTextContent(
      "Passed: 1 · Failed: 1 · Too few patients to judge: 2 (4)",
    );
    const distant = within(screen.getByTestId("fidelity-stage.distant"));
    expect(distant.getByText("Too few patients to judge")).toHaveClass("muted");
    expect(within(screen.getByTestId("fidelity-histology.adenocarcinoma")).getByText("Failed")).toHaveClass("bad");
    expect(within(screen.getByTestId("fidelity-sex.male")).getByText("Passed")).toHaveClass("ok");
  });

  it("shows each target's n, interval and publication", () => {
    show(report);
    const row = within(screen.getByTestId("fidelity-stage.distant"));
    expect(row.getByText("0.343 – 0.476")).toBeInTheDocument();
    expect(row.getByText("500")).toBeInTheDocument();
    expect(row.getByText("SEER Cancer Stat Facts")).toBeInTheDocument();
    expect(within(screen.getByTestId("fidelity-survival.median_months.overall")).getByText("9.8 – not reached"))
      .toBeInTheDocument();
    expect(screen.getByTestId("fidelity-note")).toHaveTextContent("99.76%");
  });

  it("reads reports made before verdicts from ok", () => {
    const old = { all_ok: false, targets: [target({ verdict: undefined, ok: false, lower: undefined })] };
    expect(verdictOf(old.targets[0])).toBe("failed");
    expect(verdictOf(target({ verdict: null, ok: true }))).toBe("passed");
    show(old);
    expect(screen.getByTestId("fidelity-summary")).toHaveTextContent("Passed: 0 · Failed: 1");
    expect(within(screen.getByTestId("fidelity-stage.distant")).getByText("—")).toBeInTheDocument();
  });

  it("speaks Persian with Persian digits", () => {
    show(report, "fa");
    expect(screen.getByTestId("fidelity-summary").textContent).toMatch(/بیمار برای داوری کافی نیست: ۲/);
  });
});
