import { describe, expect, it } from "vitest";
import { withBands } from "./Chart";
import { kmSeries } from "../pages/Cohort";

describe("confidence bands", () => {
  const rows = [
    { stage_group: "I", time: 0, survival: 1, lower: 1, upper: 1 },
    { stage_group: "I", time: 12, survival: 0.8, lower: 0.7, upper: 0.88 },
    { stage_group: "IV", time: 0, survival: 1, lower: 1, upper: 1 },
    { stage_group: "IV", time: 6, survival: 0.4, lower: null, upper: 0.5 },
  ];

  it("gives each curve its lower and upper edge, after the curves, named by its uPlot index", () => {
    const series = kmSeries(rows, "stage_group", (g) => `Stage ${g}`, true);
    const { all, bands } = withBands(series);

    expect(all.map((s) => s.label)).toEqual([
      "Stage I",
      "Stage IV",
      "Stage I (lower)",
      "Stage I (upper)",
      "Stage IV (lower)",
      "Stage IV (upper)",
    ]);
    expect(bands).toEqual([
      { curve: 1, lower: 3, upper: 4 },
      { curve: 2, lower: 5, upper: 6 },
    ]);
    expect(all[2].points).toEqual([
      [0, 1],
      [12, 0.7],
    ]);
    expect(all[4].points).toEqual([
      [0, 1],
      [6, null],
    ]); // an interval the data cannot give is a gap, not a zero
  });

  it("draws no band unless asked", () => {
    const { all, bands } = withBands(kmSeries(rows, "stage_group", (g) => g));
    expect(all).toHaveLength(2);
    expect(bands).toEqual([]);
  });
});
