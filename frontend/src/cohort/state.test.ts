import { describe, expect, it } from "vitest";
import {
  DEFAULT_VIEW,
  EMPTY_FILTERS,
  apiParams,
  clearFacet,
  fromSaved,
  parseView,
  toSaved,
  toggleValue,
  viewToSearch,
  withFilters,
} from "./state";
import type { CohortView } from "./state";

describe("the cohort explorer's address", () => {
  it("reads back every choice it writes", () => {
    const view: CohortView = {
      a: { values: { histology: ["adenocarcinoma", "other"], sex: ["female"], biomarker: ["HER2:positive"] }, min_age: 40, max_age: 70 },
      b: { values: { histology: ["squamous_cell_carcinoma"] }, min_age: null, max_age: null },
      scheme: "pathological",
      endpoint: "pfs",
      group: "stage_group",
      reference: "IIA",
    };
    const search = viewToSearch(view);
    expect(search).toContain("histology=adenocarcinoma%2Cother");
    expect(search).toContain("b.histology=squamous_cell_carcinoma");
    expect(parseView(search)).toEqual(view);
  });

  it("writes nothing for the default view and reads a bare address as it", () => {
    expect(viewToSearch(DEFAULT_VIEW)).toBe("");
    expect(parseView("")).toEqual(DEFAULT_VIEW);
  });

  it("ignores unknown fields, bad ages and unknown endpoints, and drops repeated values", () => {
    const view = parseView("?endpoint=xyz&scheme=bogus&min_age=abc&max_age=80&sex=male,male,&colour=red");
    expect(view.endpoint).toBe("os");
    expect(view.scheme).toBe("clinical");
    expect(view.a).toEqual({ values: { sex: ["male"] }, min_age: null, max_age: 80 });
    expect(view.b).toBeNull();
  });

  it("keeps cohort B's filters apart from A's and only when comparing", () => {
    expect(parseView("?b.sex=male").b).toBeNull();
    const view = parseView("?sex=female&compare=1&b.sex=male");
    expect(view.a.values).toEqual({ sex: ["female"] });
    expect(view.b?.values).toEqual({ sex: ["male"] });
  });
});

describe("filters", () => {
  it("a click adds a value, a second click on it removes it, the last one removes the field", () => {
    let f = toggleValue(EMPTY_FILTERS, "histology", "adenocarcinoma");
    f = toggleValue(f, "histology", "other");
    expect(f.values.histology).toEqual(["adenocarcinoma", "other"]);
    f = toggleValue(f, "histology", "adenocarcinoma");
    expect(f.values.histology).toEqual(["other"]);
    f = toggleValue(f, "histology", "other");
    expect(f.values).toEqual({});
    expect(clearFacet(toggleValue(f, "sex", "male"), "sex").values).toEqual({});
  });

  it("become the API's comma-separated query, without the facet a chart counts by", () => {
    const f = { values: { histology: ["adenocarcinoma", "other"], sex: ["male"] }, min_age: 50, max_age: null };
    expect(apiParams(f, "pathological").toString()).toBe(
      "histology=adenocarcinoma%2Cother&sex=male&min_age=50&scheme=pathological",
    );
    expect(withFilters("/x", f, { by: "histology" }, null, "histology")).toBe("/x?by=histology&sex=male&min_age=50");
    expect(withFilters("/x", EMPTY_FILTERS)).toBe("/x");
  });

  it("round-trip through a saved cohort's definition", () => {
    const f = { values: { treatment: ["surgery"], stage_group: ["IIA", "IIB"] }, min_age: null, max_age: 80 };
    const saved = toSaved(f, "pathological");
    expect(saved).toEqual({ stage_group: ["IIA", "IIB"], treatment: ["surgery"], max_age: 80, scheme: "pathological" });
    expect(fromSaved(saved)).toEqual({ filters: f, scheme: "pathological" });
    expect(fromSaved({ sex: "male", unknown_field: ["x"], scheme: null })).toEqual({
      filters: { values: { sex: ["male"] }, min_age: null, max_age: null },
      scheme: null,
    });
  });
});
