import { describe, expect, it } from "vitest";
import { aligned } from "./components/Chart";
import { treatmentBody } from "./components/ClinicalEntry";
import { formatYear } from "./format";
import { guessMapping, parseCsv } from "./pages/Collection";
import { formatP, kmSeries } from "./pages/Cohort";
import { itemsOf } from "./pages/Home";
import { stageHistory } from "./pages/Models";
import type { Card } from "./pages/Models";
import { ruleOf } from "./routes";
import { dataValue } from "./values";

const card = (version: number, created: string, promoted?: string, by?: string): Card => ({
  name: "os",
  version,
  stage: "candidate",
  kind: "cox",
  created_at: created,
  promoted_at: promoted ?? null,
  metrics: {},
  promotion: promoted ? { by, at: promoted, reason: `why ${version}` } : null,
});

describe("stage history", () => {
  it("registers each version, and a promotion archives the version promoted before it", () => {
    const history = stageHistory([
      card(1, "2026-01-01T00:00:00", "2026-01-02T00:00:00", "ann"),
      card(2, "2026-01-03T00:00:00", "2026-01-04T00:00:00", "bob"),
      card(3, "2026-01-05T00:00:00"),
    ]);
    expect(history.map((h) => `${h.version}:${h.stage}`)).toEqual([
      "3:candidate",
      "2:production",
      "1:archived",
      "2:candidate",
      "1:production",
      "1:candidate",
    ]);
    expect(history[1]).toMatchObject({ by: "bob", reason: "why 2" });
  });
});

describe("pages as addresses", () => {
  it("finds the permission each page needs, and none for an unknown page", () => {
    expect(ruleOf("/models/os/versions/2")?.anyOf).toEqual(["models.read"]);
    expect(ruleOf("/training/runs/abc")?.anyOf).toEqual(["training.jobs.read"]);
    expect(ruleOf("/patients/new")?.anyOf).toEqual(["patients.write"]);
    expect(ruleOf("/audit")?.anyOf).toEqual(["audit.read"]);
    expect(ruleOf("/nowhere")).toBeUndefined();
  });
});

describe("Persian values and calendars", () => {
  it("names codes and statuses in Persian, and keeps unknown codes in Persian digits", () => {
    expect(dataValue("female", "fa")).toBe("زن");
    expect(dataValue("succeeded", "fa")).toBe("موفق");
    expect(dataValue("production", "fa")).toBe("در تولید");
    expect(dataValue("T3", "fa")).toBe("T۳");
    expect(dataValue("squamous_cell_carcinoma", "en")).toBe("squamous cell carcinoma");
    expect(dataValue(null, "fa")).toBe("—");
  });
  it("shows a Gregorian birth year as the two Solar Hijri years it spans", () => {
    expect(formatYear(1958, "fa", "jalali")).toBe("۱۳۳۶–۱۳۳۷");
    expect(formatYear(1958, "en", "gregorian")).toBe("1958");
  });
});

describe("the column mapping editor", () => {
  it("reads a CSV's first rows, quotes included", () => {
    expect(parseCsv('id,name\nA1,"Smith, J"\nA2,"say ""hi"""\n')).toEqual([
      ["id", "name"],
      ["A1", "Smith, J"],
      ["A2", 'say "hi"'],
    ]);
  });
  it("guesses the fields of same-named columns only", () => {
    expect(guessMapping(["id", "Sex", "Birth Date", "dob"])).toEqual({ sex: "Sex", birth_date: "Birth Date" });
  });
});

describe("clinical entry", () => {
  it("leaves blank optional fields out of a treatment and splits agents", () => {
    expect(
      treatmentBody({ kind: "systemic", start_date: "2024-01-02", intent: "", regimen: " FOLFOX ", agents: "a, b,," }),
    ).toEqual({ kind: "systemic", start_date: "2024-01-02", regimen: "FOLFOX", agents: ["a", "b"] });
  });
});

describe("charts and lists", () => {
  it("puts series of different lengths on shared x values", () => {
    expect(
      aligned([
        { label: "a", points: [[1, 0.5], [2, 0.4]] },
        { label: "b", points: [[1, 0.6], [2, 0.5], [3, 0.45]] },
      ]),
    ).toEqual([
      [1, 2, 3],
      [0.5, 0.4, null],
      [0.6, 0.5, 0.45],
    ]);
  });
  it("splits Kaplan-Meier rows into one curve per group", () => {
    const rows = [
      { histology: "a", time: 0, survival: 1 },
      { histology: "a", time: 5, survival: 0.8 },
      { histology: "b", time: 0, survival: 1 },
    ];
    expect(kmSeries(rows, "histology", (g) => g.toUpperCase()).map((s) => [s.label, s.points.length])).toEqual([
      ["A", 2],
      ["B", 1],
    ]);
  });
  it("never writes a p-value as 0", () => {
    const num = (v: number) => String(v);
    expect(formatP(null, 0, num)).toBe("< 10^-300");
    expect(formatP(-12, 1e-12, num)).toBe("10^-12");
    expect(formatP(null, 0.0123, (v, o) => new Intl.NumberFormat("en", o).format(v))).toBe("0.0123");
  });
  it("reads datasets as a bare list or as a page", () => {
    expect(itemsOf([{ id: "x" }])).toEqual([{ id: "x" }]);
    expect(itemsOf({ items: [{ id: "y" }], next_cursor: null })).toEqual([{ id: "y" }]);
    expect(itemsOf(null)).toEqual([]);
  });
});

describe("the version page's curves by horizon", () => {
  it("reads AUC(t) and Brier(t) from the metrics' names, in time order", async () => {
    const { byHorizon } = await import("./pages/Models");
    const series = byHorizon({ auc_36m: 0.8, auc_12m: 0.7, brier_12m: 0.2, c_index: 0.7, calibration_error_12m: 0.1 });
    expect(series).toEqual([
      { label: "AUC(t)", points: [[12, 0.7], [36, 0.8]] },
      { label: "Brier(t)", points: [[12, 0.2]] },
    ]);
  });
});

describe("censor marks", () => {
  it("keeps at most thirty, spread over the whole curve", async () => {
    const { thin } = await import("./components/Chart");
    const many = Array.from({ length: 3000 }, (_, i) => i);
    const kept = thin(many);
    expect(kept).toHaveLength(30);
    expect(kept[0]).toBe(0);
    expect(kept[29]).toBeGreaterThan(2800);
    expect(thin([1, 2, 3])).toEqual([1, 2, 3]);
  });
  it("marks a curve's censored times only", () => {
    const rows = [
      { histology: "a", time: 0, survival: 1, n_censored: 0 },
      { histology: "a", time: 5, survival: 0.8, n_censored: 2 },
      { histology: "a", time: 9, survival: 0.6, n_censored: 0 },
    ];
    expect(kmSeries(rows, "histology", (g) => g)[0].marks).toEqual([5]);
  });
});
