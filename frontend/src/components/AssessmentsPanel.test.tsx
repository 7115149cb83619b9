import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../i18n";
import type { Lang } from "../i18n";
import type { PatientRecord } from "../types";
import { AssessmentsPanel, changeOf } from "./AssessmentsPanel";

const RECORD: PatientRecord = {
  id: "0190a5b8-7c3e-7a1b-9f00-123456789abc",
  version: 4,
  sex: "male",
  source: null,
  conditions: [
    {
      diagnosis_date: "2023-01-10",
      histology: "squamous_cell_carcinoma",
      morphology_code: "8070/3",
      topography_code: "C15.4",
      location: "middle",
      siewert: null,
      grade: "G2",
      tumour_length_cm: null,
      lymphovascular_invasion: true,
      invades_airway_or_great_vessels: null,
    },
  ],
  staging: [],
  biomarkers: [],
  treatments: [],
  observations: [],
  outcome: null,
  fitness_for_surgery: { fit: true, assessed_by: "Dr Sara Ahmadi", assessed_on: "2023-01-22", note: null },
  comorbidities: [{ system: "http://hl7.org/fhir/sid/icd-10", code: "J44.9", display: "COPD" }],
};

const renderPanel = (record: PatientRecord, onSaved = vi.fn(), lang: Lang = "en", editable = true) =>
  render(
    <I18nProvider initialLang={lang}>
      <AssessmentsPanel record={record} editable={editable} assessor="dr.clinician" onSaved={onSaved} />
    </I18nProvider>,
  );

const answer = (status: number, body: unknown) =>
  Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("AssessmentsPanel", () => {
  it("shows fitness with who assessed it, the tumour facts and the comorbidities", () => {
    renderPanel(RECORD);
    expect(screen.getByTestId("fit-for-surgery")).toHaveTextContent("Fit (Dr Sara Ahmadi,");
    expect(screen.getByTestId("lvi")).toHaveTextContent("Present");
    expect(screen.getByTestId("airway-invasion")).toHaveTextContent("Unknown");
    expect(screen.getByTestId("comorbidities")).toHaveTextContent("COPD");
  });

  it("has its labels in Persian too", () => {
    renderPanel(RECORD, vi.fn(), "fa");
    expect(screen.getByRole("heading")).toHaveTextContent("ارزیابی‌ها برای پشتیبانی تصمیم");
    expect(screen.getByTestId("lvi")).toHaveTextContent("وجود دارد");
  });

  it("offers no edit to a viewer who may not write", () => {
    renderPanel(RECORD, vi.fn(), "en", false);
    expect(screen.queryByRole("button", { name: "Edit" })).toBeNull();
  });

  it("sends the change with the version it was read at", async () => {
    const fetch = vi.fn().mockReturnValue(answer(200, { version: 5 }));
    vi.stubGlobal("fetch", fetch);
    const onSaved = vi.fn();
    renderPanel(RECORD, onSaved);

    fireEvent.click(screen.getByRole("button", { name: "Edit" }));
    fireEvent.change(screen.getByLabelText("Fit for surgery"), { target: { value: "false" } });
    fireEvent.change(screen.getByLabelText("Invades airway, great vessels or heart (cT4b)"), {
      target: { value: "true" },
    });
    fireEvent.change(screen.getByLabelText("Code"), { target: { value: "I10" } });
    fireEvent.change(screen.getByLabelText("Description"), { target: { value: "Essential hypertension" } });
    fireEvent.click(screen.getByRole("button", { name: "Add comorbidity" }));
    fireEvent.click(screen.getByRole("button", { name: "Save" }));

    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    const [path, init] = fetch.mock.calls[0] as [string, RequestInit];
    expect(path).toBe(`/api/v1/patients/${RECORD.id}`);
    expect(init.method).toBe("PATCH");
    expect(JSON.parse(String(init.body))).toEqual({
      version: 4,
      fitness_for_surgery: { fit: false, assessed_by: "Dr Sara Ahmadi", assessed_on: "2023-01-22" },
      lymphovascular_invasion: true,
      invades_airway_or_great_vessels: true,
      comorbidities: [
        { system: "http://hl7.org/fhir/sid/icd-10", code: "J44.9", display: "COPD" },
        { system: "http://hl7.org/fhir/sid/icd-10", code: "I10", display: "Essential hypertension" },
      ],
    });
  });

  it("says so when the record changed meanwhile and reads it again", async () => {
    vi.stubGlobal("fetch", vi.fn().mockReturnValue(answer(409, { detail: "stale", status_code: 409 })));
    const onSaved = vi.fn();
    renderPanel(RECORD, onSaved);

    fireEvent.click(screen.getByRole("button", { name: "Edit" }));
    fireEvent.click(screen.getByRole("button", { name: "Save" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("The record changed since it was opened");
    expect(onSaved).toHaveBeenCalledTimes(1);
    expect(screen.getByRole("button", { name: "Save" })).toBeInTheDocument();
  });

  it("leaves out what is unknown", () => {
    const bare = {
      ...RECORD,
      fitness_for_surgery: null,
      comorbidities: [],
      conditions: RECORD.conditions.map((c) => ({ ...c, lymphovascular_invasion: null })),
    };
    const form = { fit: "", assessedBy: "x", assessedOn: "2024-01-01", note: "", lvi: "", airway: "" } as const;
    expect(changeOf(bare, form, [])).toEqual({ version: 4, comorbidities: [] });
  });

  it("sends null for a recorded fact set back to unknown", () => {
    const recorded = { ...RECORD, comorbidities: [] }; // fit, and lymphovascular invasion present
    const form = { fit: "", assessedBy: "x", assessedOn: "2024-01-01", note: "", lvi: "", airway: "" } as const;
    const body = changeOf(recorded, form, []);
    expect(body.fitness_for_surgery).toBeNull();
    expect(body.lymphovascular_invasion).toBeNull();
  });
});
