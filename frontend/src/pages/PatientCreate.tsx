import { useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { api } from "../api";
import { useAuth } from "../auth";
import { ErrorNote } from "../components/Status";
import { useI18n } from "../i18n";
import type { MessageKey } from "../messages";
import {
  GRADES,
  HISTOLOGIES,
  LOCATIONS,
  MORPHOLOGY,
  M_CODES,
  N_CODES,
  SEXES,
  STAGE_GROUPS,
  TOPOGRAPHY,
  T_CODES,
  label,
} from "../options";
import { useRouter } from "../router";
import type { StageResult } from "../types";

const INITIAL = {
  sex: "male",
  birth_date: "",
  given_name: "",
  family_name: "",
  mrn: "",
  diagnosis_date: "",
  histology: "squamous_cell_carcinoma",
  location: "middle",
  grade: "GX",
  t: "T3",
  n: "N0",
  m: "M0",
  stage_group: "",
  ecog: "",
  pdl1_cps: "",
};
type Form = typeof INITIAL;

function Field({ id, text, children }: { id: string; text: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{text}</label>
      {children}
    </div>
  );
}

/** The record the API takes, from the form (blank optional fields are left out). */
export function recordOf(form: Form, stageGroup: string): Record<string, unknown> {
  const optional = (value: string) => (value.trim() ? value.trim() : undefined);
  const on = form.diagnosis_date;
  return {
    sex: form.sex,
    birth_date: form.birth_date,
    given_name: optional(form.given_name),
    family_name: optional(form.family_name),
    mrn: optional(form.mrn),
    conditions: [
      {
        diagnosis_date: on,
        histology: form.histology,
        morphology_code: MORPHOLOGY[form.histology],
        topography_code: TOPOGRAPHY[form.location],
        location: form.location,
        grade: form.grade,
      },
    ],
    staging: [
      { kind: "clinical", t: form.t, n: form.n, m: form.m, stage_group: stageGroup, assessed_on: on },
    ],
    observations: form.ecog ? [{ code: "89247-1", value: Number(form.ecog), observed_on: on }] : [],
    biomarkers: form.pdl1_cps ? [{ kind: "pdl1_cps", value: form.pdl1_cps, measured_on: on }] : [],
    outcome: { vital_status: "alive", last_follow_up: on },
  };
}

export function PatientCreatePage() {
  const { t } = useI18n();
  const { can } = useAuth();
  const { navigate } = useRouter();
  const [form, setForm] = useState<Form>(INITIAL);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const set = (key: keyof Form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [key]: e.target.value });

  const stageGroup = async (): Promise<string> => {
    if (form.stage_group || !can("cds.use")) return form.stage_group;
    const stage = await api<StageResult>("/api/v1/cds/staging", {
      method: "POST",
      json: { kind: "clinical", histology: form.histology, t: form.t, n: form.n, m: form.m },
    });
    return stage.stage_group;
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api<{ id: string }>("/api/v1/patients", {
        method: "POST",
        json: recordOf(form, await stageGroup()),
      });
      navigate(`/patients/${encodeURIComponent(created.id)}`);
    } catch (exc) {
      setError(exc);
      setBusy(false);
    }
  };

  const select = (key: keyof Form, text: MessageKey, values: string[], blank?: string) => (
    <Field id={`p-${key}`} text={t(text)}>
      <select id={`p-${key}`} value={form[key]} onChange={set(key)}>
        {blank !== undefined ? <option value="">{blank}</option> : null}
        {values.map((v) => (
          <option key={v} value={v}>
            {label(v)}
          </option>
        ))}
      </select>
    </Field>
  );
  const input = (key: keyof Form, text: MessageKey, type = "text", required = false) => (
    <Field id={`p-${key}`} text={required ? t(text) : `${t(text)} (${t("optional")})`}>
      <input id={`p-${key}`} type={type} value={form[key]} onChange={set(key)} required={required} />
    </Field>
  );

  return (
    <>
      <h1>{t("newPatientTitle")}</h1>
      <form className="card grid-form" onSubmit={submit} aria-labelledby="new-patient">
        <h2 id="new-patient" className="full">
          {t("demographics")}
        </h2>
        {select("sex", "sex", SEXES)}
        {input("birth_date", "birthDate", "date", true)}
        {input("given_name", "givenName")}
        {input("family_name", "familyName")}
        {input("mrn", "mrn")}
        <h2 className="full">{t("diagnosis")}</h2>
        {input("diagnosis_date", "diagnosisDate", "date", true)}
        {select("histology", "histology", HISTOLOGIES)}
        {select("location", "location", LOCATIONS)}
        {select("grade", "grade", GRADES)}
        {select("t", "tCategory", T_CODES)}
        {select("n", "nCategory", N_CODES)}
        {select("m", "mCategory", M_CODES)}
        {select("stage_group", "stageGroup", STAGE_GROUPS, can("cds.use") ? "AJCC 8th (auto)" : "—")}
        <Field id="p-ecog" text={`${t("ecog")} (${t("optional")})`}>
          <select id="p-ecog" value={form.ecog} onChange={set("ecog")}>
            <option value="">—</option>
            {[0, 1, 2, 3, 4].map((v) => (
              <option key={v} value={String(v)}>
                {v}
              </option>
            ))}
          </select>
        </Field>
        {input("pdl1_cps", "pdl1Cps", "number")}
        <div className="full actions">
          <ErrorNote error={error} />
          <button type="submit" disabled={busy}>
            {busy ? t("creating") : t("create")}
          </button>
        </div>
      </form>
    </>
  );
}
