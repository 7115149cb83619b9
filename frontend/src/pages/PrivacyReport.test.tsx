import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { I18nProvider } from "../i18n";
import type { Dataset, FittedProfile, PrivacyReport } from "../types";
import { PrivacyReportView, privacyChecks } from "./PrivacyReport";

const fitted: FittedProfile = {
  name: "site-twin",
  source: "registry-a",
  cohort_id: "01j0cohort",
  epsilon: 1,
  patients: null,
  prior: "global",
  fitted_at: "2026-12-01T10:00:00+00:00",
  fitted_by: "steward",
};

const report: PrivacyReport = {
  train: 480,
  holdout: 120,
  synthetic: 800,
  dcr_synthetic: 0.6,
  dcr_holdout: 1.0,
  closer_to_train: 0.52,
  nndr: 0.91,
  mia_advantage: 0.04,
  mia_p_value: 0.82,
  identical: 0,
  identical_share: 0,
  aia_attribute: "event",
  aia_accuracy: 0.7,
  aia_members_accuracy: 0.71,
  aia_baseline: 0.65,
  aia_advantage: 0.05,
  aia_members_gain: 0.01,
  marginal_fidelity: { histology: 0.97 },
  km_distance: { III: 0.08 },
  trtr_c_index: 0.7,
  tstr_c_index: 0.66,
  tstr_ratio: 0.943,
};

const thresholds = {
  max_mia_advantage: 0.1,
  max_closer_to_train: 0.6,
  max_identical_share: 0.01,
  min_dcr_ratio: 0.8,
  max_aia_members_gain: 0.1,
  max_aia_advantage: 1,
  min_tstr_ratio: 0,
};

const dataset = (release: Dataset["release"]): Dataset => ({
  id: "01j0twin",
  profile: "site-twin",
  n: 800,
  seed: 4,
  files: [],
  derived_from: { origin: "real", source: "registry-a", profile: "site-twin", epsilon: 1 },
  release,
});

const show = (d: Dataset | null) =>
  render(
    <I18nProvider initialLang="en">
      <PrivacyReportView fitted={fitted} budget={{ source: "registry-a", total: 3, spent: 1, remaining: 2, fits: [] }} dataset={d} />
    </I18nProvider>,
  );

describe("PrivacyReportView", () => {
  it("shows the ε spent, the budget left, and a held twin's failed thresholds as the gate's reasons", () => {
    show(
      dataset({
        status: "held",
        report,
        thresholds,
        failures: ["distance to closest record ratio 0.600 < 0.8"],
      }),
    );
    expect(screen.getByTestId("epsilon")).toHaveTextContent("ε = 1");
    expect(screen.getByTestId("fitted-on")).toHaveTextContent("registry-a · saved cohort 01j0cohort");
    expect(screen.getByTestId("budget")).toHaveTextContent("Total ε: 3 · Spent: 1 · Left: 2");
    expect(screen.getByTestId("gate")).toHaveTextContent("Held from researchers");
    expect(screen.getByTestId("gate-reasons")).toHaveTextContent("distance to closest record ratio 0.600 < 0.8");

    const [privacy] = screen.getAllByTestId("privacy-checks");
    const row = (label: RegExp) =>
      within(privacy)
        .getAllByRole("row")
        .find((r) => label.test(within(r).queryByRole("rowheader")?.textContent ?? "")) as HTMLElement;
    expect(row(/^Distance to closest record/)).toHaveTextContent("0.6≥ 0.8Failed");
    expect(row(/^Membership-inference advantage/)).toHaveTextContent("0.04≤ 0.1Passed");
    expect(row(/^Nearest-neighbour/)).toHaveTextContent("0.91——");
    expect(screen.getByText("C-index, train on synthetic / test on real").closest("tr")).toHaveTextContent("0.66");
  });

  it("says a released twin meets its thresholds and names the steward's decision", () => {
    show(
      dataset({
        status: "released",
        report,
        thresholds,
        failures: [],
        decision: { decision: "release", reason: "within noise", by: "steward", at: "2026-12-02T10:00:00+00:00" },
      }),
    );
    expect(screen.getByTestId("gate")).toHaveTextContent("Released to researchers");
    expect(screen.getByText("The report meets every threshold.")).toBeInTheDocument();
    expect(screen.getByTestId("gate-decision")).toHaveTextContent("release — within noise (steward");
    expect(screen.queryByTestId("gate-reasons")).toBeNull();
  });

  it("says when a twin is not measured yet, and when there is no twin", () => {
    show(dataset({ status: "held" }));
    expect(screen.getByText("This dataset's privacy has not been measured yet.")).toBeInTheDocument();
    expect(screen.queryByTestId("privacy-checks")).toBeNull();
  });

  it("judges each figure on the side of its threshold that passes", () => {
    const checks = privacyChecks({ ...report, dcr_synthetic: 0.9 }, thresholds);
    expect(checks.find((c) => c.label === "dcrRatio")?.value).toBeCloseTo(0.9);
    expect(checks.find((c) => c.label === "dcrRatio")?.limit).toEqual({ at: 0.8, most: false });
    expect(checks.find((c) => c.label === "miaAdvantage")?.limit).toEqual({ at: 0.1, most: true });
    expect(privacyChecks(report).every((c) => c.limit === undefined)).toBe(true);
    // the chance level is shown beside the advantage, not judged; older reports have none
    expect(checks.find((c) => c.label === "miaPValue")).toEqual({ label: "miaPValue", value: 0.82 });
    const { mia_p_value: _, ...older } = report;
    expect(privacyChecks(older, thresholds).map((c) => c.label)).not.toContain("miaPValue");
  });
});
