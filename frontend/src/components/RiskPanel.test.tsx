import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { I18nProvider } from "../i18n";
import type { RiskAnswer } from "../types";
import { RiskPanel } from "./RiskPanel";

const renderPanel = (risk: RiskAnswer) =>
  render(
    <I18nProvider initialLang="en">
      <RiskPanel risk={risk} />
    </I18nProvider>,
  );

describe("RiskPanel", () => {
  it("shows 1, 3 and 5-year survival with intervals and the model version", () => {
    renderPanel({
      available: true,
      message: "",
      model: "esophagus-survival",
      version: 3,
      missing: [],
      interval: null,
      horizons: [
        { years: 1, survival: 0.812, lower: 0.75, upper: 0.86 },
        { years: 3, survival: 0.455, lower: 0.39, upper: 0.52 },
        { years: 5, survival: 0.301, lower: null, upper: null },
      ],
    });
    expect(screen.getByTestId("risk-model")).toHaveTextContent("esophagus-survival");
    expect(screen.getByTestId("risk-version")).toHaveTextContent("3");
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows).toHaveLength(3);
    expect(within(rows[0]).getByRole("rowheader")).toHaveTextContent(/^1 year$/);
    expect(rows[0]).toHaveTextContent("81.2%");
    expect(rows[0]).toHaveTextContent("75.0% – 86.0%");
    expect(rows[2]).toHaveTextContent("—");
  });

  it("says plainly when no model is in production", () => {
    renderPanel({
      available: false,
      message: "No survival model is in production.",
      model: null,
      version: null,
      horizons: [],
      missing: [],
      interval: null,
    });
    expect(screen.getByRole("status")).toHaveTextContent("No production model");
    expect(screen.queryByRole("table")).toBeNull();
  });

  it("names the production model when it cannot estimate for this patient", () => {
    renderPanel({
      available: false,
      message: "The production model needs t, n, m to give an estimate.",
      model: "demo-survival",
      version: 1,
      horizons: [],
      missing: ["t", "n", "m"],
      interval: null,
    });
    expect(screen.getByRole("status")).not.toHaveTextContent("No production model");
    expect(screen.getByRole("status")).toHaveTextContent("No estimate for this patient");
    expect(screen.getByTestId("risk-model")).toHaveTextContent("demo-survival");
  });
});
