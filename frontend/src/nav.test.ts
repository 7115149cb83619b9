import { describe, expect, it } from "vitest";
import { allowedNav } from "./nav";
import { timelineOf } from "./timeline";
import type { PatientRecord } from "./types";

describe("allowedNav", () => {
  it("gives an auditor the audit log and job views only", () => {
    const items = allowedNav(["audit.read", "generation.jobs.read", "training.jobs.read"]).map((i) => i.to);
    expect(items).toEqual(["/generation", "/training", "/audit"]);
  });

  it("gives a researcher no patient creation", () => {
    const items = allowedNav(["patients.read", "generation.jobs.manage"]).map((i) => i.to);
    expect(items).toContain("/patients");
    expect(items).not.toContain("/patients/new");
  });
});

describe("timelineOf", () => {
  it("orders diagnosis, staging, treatment and outcome by date", () => {
    const record = {
      sex: "male",
      source: null,
      conditions: [{ diagnosis_date: "2024-01-10", histology: "adenocarcinoma", location: "egj", morphology_code: "8140/3", topography_code: "C16.0", siewert: null, grade: "G2", tumour_length_cm: null }],
      staging: [{ kind: "clinical", t: "T3", n: "N1", m: "M0", stage_group: "III", assessed_on: "2024-01-15", grade: null, location: null }],
      treatments: [{ kind: "surgery", start_date: "2024-05-01", end_date: null, intent: "perioperative", procedure: "esophagectomy", regimen: null, agents: [], margin: "R0", dose_gy: null, pathologic_complete_response: null }],
      biomarkers: [],
      observations: [],
      outcome: { vital_status: "dead", last_follow_up: "2025-02-01", death_date: "2025-02-01", cause_of_death: null, recurrence_date: "2024-11-01", recurrence_site: "liver" },
    } as PatientRecord;
    expect(timelineOf(record).map((e) => e.kind)).toEqual([
      "diagnosis",
      "staging",
      "treatment",
      "recurrence",
      "death",
      "lastFollowUp",
    ]);
  });
});
