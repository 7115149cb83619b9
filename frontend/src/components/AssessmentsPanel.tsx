import { useState } from "react";
import type { FormEvent } from "react";
import { api, ApiError } from "../api";
import { useI18n } from "../i18n";
import type { MessageKey } from "../messages";
import type { Comorbidity, PatientRecord } from "../types";
import { ErrorNote } from "./Status";

// What decision support asks for and the record holds: fitness for surgery (who judged it and
// when), lymphovascular and airway or great-vessel invasion of the primary tumour, and
// comorbidities. A clinician changes them with PATCH against the version read (409 if stale).

export const CODE_SYSTEMS: { value: string; label: string }[] = [
  { value: "http://hl7.org/fhir/sid/icd-10", label: "ICD-10" },
  { value: "http://hl7.org/fhir/sid/icd-10-cm", label: "ICD-10-CM" },
  { value: "http://snomed.info/sct", label: "SNOMED CT" },
];

type Tri = "" | "true" | "false";

const tri = (value: boolean | null | undefined): Tri => (value === true ? "true" : value === false ? "false" : "");
const systemLabel = (system: string) => CODE_SYSTEMS.find((s) => s.value === system)?.label ?? system;

/** The primary condition: the earliest diagnosed, as the API reads it. */
export function primaryCondition(record: PatientRecord) {
  return [...record.conditions].sort((a, b) => a.diagnosis_date.localeCompare(b.diagnosis_date))[0];
}

/** The PATCH body for the form's values, against the version read: what is known, and null
 * for a recorded fact set back to unknown (the API then forgets it). */
export function changeOf(
  record: PatientRecord,
  form: { fit: Tri; assessedBy: string; assessedOn: string; note: string; lvi: Tri; airway: Tri },
  comorbidities: Comorbidity[],
): Record<string, unknown> {
  const body: Record<string, unknown> = { version: record.version, comorbidities };
  const primary = primaryCondition(record);
  if (form.fit) {
    body.fitness_for_surgery = {
      fit: form.fit === "true",
      assessed_by: form.assessedBy.trim(),
      assessed_on: form.assessedOn,
      ...(form.note.trim() ? { note: form.note.trim() } : {}),
    };
  } else if (record.fitness_for_surgery) {
    body.fitness_for_surgery = null;
  }
  if (form.lvi) body.lymphovascular_invasion = form.lvi === "true";
  else if (primary?.lymphovascular_invasion != null) body.lymphovascular_invasion = null;
  if (form.airway) body.invades_airway_or_great_vessels = form.airway === "true";
  else if (primary?.invades_airway_or_great_vessels != null) body.invades_airway_or_great_vessels = null;
  return body;
}

function TriSelect({
  id,
  value,
  onChange,
  yes,
  no,
}: {
  id: string;
  value: Tri;
  onChange: (v: Tri) => void;
  yes: MessageKey;
  no: MessageKey;
}) {
  const { t } = useI18n();
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value as Tri)}>
      <option value="">{t("unknown")}</option>
      <option value="true">{t(yes)}</option>
      <option value="false">{t(no)}</option>
    </select>
  );
}

function AssessmentsForm({
  record,
  assessor,
  onSaved,
  onStale,
  onCancel,
}: {
  record: PatientRecord;
  assessor: string;
  onSaved: () => void;
  onStale: () => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const fitness = record.fitness_for_surgery;
  const primary = primaryCondition(record);
  const [form, setForm] = useState({
    fit: tri(fitness?.fit),
    assessedBy: fitness?.assessed_by ?? assessor,
    assessedOn: fitness?.assessed_on ?? new Date().toISOString().slice(0, 10),
    note: fitness?.note ?? "",
    lvi: tri(primary?.lymphovascular_invasion),
    airway: tri(primary?.invades_airway_or_great_vessels),
  });
  const [items, setItems] = useState<Comorbidity[]>(record.comorbidities ?? []);
  const [draft, setDraft] = useState({ system: CODE_SYSTEMS[0].value, code: "", display: "" });
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const set = (key: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [key]: value }));

  const add = () => {
    if (!draft.code.trim() || !draft.display.trim()) return;
    setItems((list) => [...list, { system: draft.system, code: draft.code.trim(), display: draft.display.trim() }]);
    setDraft((d) => ({ ...d, code: "", display: "" }));
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaving(true);
    setError(null);
    try {
      await api(`/api/v1/patients/${encodeURIComponent(record.id ?? "")}`, {
        method: "PATCH",
        json: changeOf(record, form, items),
      });
      onSaved();
    } catch (exc) {
      if (exc instanceof ApiError && (exc.status === 409 || exc.status === 412)) {
        onStale(); // read the record again: the form opens anew on the current version
      } else {
        setError(exc);
      }
    } finally {
      setSaving(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-label={t("assessmentsTitle")} className="stack">
      <fieldset>
        <legend>{t("fitForSurgery")}</legend>
        <label htmlFor="fit">{t("fitForSurgery")}</label>
        <TriSelect id="fit" value={form.fit} onChange={set("fit")} yes="fit" no="unfit" />
        <label htmlFor="assessed-by">{t("assessedBy")}</label>
        <input
          id="assessed-by"
          value={form.assessedBy}
          onChange={(e) => set("assessedBy")(e.target.value)}
          required={Boolean(form.fit)}
          maxLength={200}
        />
        <label htmlFor="assessed-on">{t("assessedOn")}</label>
        <input
          id="assessed-on"
          type="date"
          value={form.assessedOn}
          onChange={(e) => set("assessedOn")(e.target.value)}
          required={Boolean(form.fit)}
        />
        <label htmlFor="fitness-note">{t("note")}</label>
        <input id="fitness-note" value={form.note} onChange={(e) => set("note")(e.target.value)} maxLength={1000} />
      </fieldset>
      {primary ? (
        <fieldset>
          <legend>{t("diagnosis")}</legend>
          <label htmlFor="lvi">{t("lymphovascularInvasion")}</label>
          <TriSelect
            id="lvi"
            value={form.lvi}
            onChange={set("lvi")}
            yes="present"
            no="absent"
          />
          <label htmlFor="airway">{t("airwayInvasion")}</label>
          <TriSelect
            id="airway"
            value={form.airway}
            onChange={set("airway")}
            yes="present"
            no="absent"
          />
        </fieldset>
      ) : null}
      <fieldset>
        <legend>{t("comorbidities")}</legend>
        <ul>
          {items.map((item, i) => (
            <li key={`${item.system}|${item.code}`}>
              {systemLabel(item.system)} {item.code} — {item.display}{" "}
              <button type="button" className="secondary" onClick={() => setItems((list) => list.filter((_, j) => j !== i))}>
                {t("remove")} {item.code}
              </button>
            </li>
          ))}
        </ul>
        <label htmlFor="comorbidity-system">{t("codeSystem")}</label>
        <select
          id="comorbidity-system"
          value={draft.system}
          onChange={(e) => setDraft((d) => ({ ...d, system: e.target.value }))}
        >
          {CODE_SYSTEMS.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </select>
        <label htmlFor="comorbidity-code">{t("code")}</label>
        <input id="comorbidity-code" value={draft.code} onChange={(e) => setDraft((d) => ({ ...d, code: e.target.value }))} />
        <label htmlFor="comorbidity-display">{t("display")}</label>
        <input
          id="comorbidity-display"
          value={draft.display}
          onChange={(e) => setDraft((d) => ({ ...d, display: e.target.value }))}
        />
        <button type="button" className="secondary" onClick={add}>
          {t("addComorbidity")}
        </button>
      </fieldset>
      <ErrorNote error={error} />
      <div>
        <button type="submit" disabled={saving}>
          {saving ? t("saving") : t("save")}
        </button>{" "}
        <button type="button" className="secondary" onClick={onCancel}>
          {t("cancel")}
        </button>
      </div>
    </form>
  );
}

export function AssessmentsPanel({
  record,
  editable,
  assessor,
  onSaved,
}: {
  record: PatientRecord;
  editable: boolean;
  assessor: string;
  onSaved: () => void;
}) {
  const { t, date } = useI18n();
  const [editing, setEditing] = useState(false);
  const [stale, setStale] = useState(false);
  const fitness = record.fitness_for_surgery;
  const primary = primaryCondition(record);
  const yesNo = (value: boolean | null | undefined, yes: MessageKey, no: MessageKey) =>
    t(value === true ? yes : value === false ? no : "unknown");
  const comorbidities = record.comorbidities ?? [];
  return (
    <section className="card" aria-labelledby="assessments-title">
      <h2 id="assessments-title">{t("assessmentsTitle")}</h2>
      <dl className="facts">
        <dt>{t("fitForSurgery")}</dt>
        <dd data-testid="fit-for-surgery">
          {yesNo(fitness?.fit, "fit", "unfit")}
          {fitness ? ` (${[fitness.assessed_by, date(fitness.assessed_on)].filter(Boolean).join(", ")})` : ""}
        </dd>
        {fitness?.note ? (
          <>
            <dt>{t("note")}</dt>
            <dd>{fitness.note}</dd>
          </>
        ) : null}
        <dt>{t("lymphovascularInvasion")}</dt>
        <dd data-testid="lvi">{yesNo(primary?.lymphovascular_invasion, "present", "absent")}</dd>
        <dt>{t("airwayInvasion")}</dt>
        <dd data-testid="airway-invasion">{yesNo(primary?.invades_airway_or_great_vessels, "present", "absent")}</dd>
        <dt>{t("comorbidities")}</dt>
        <dd data-testid="comorbidities">
          {comorbidities.length === 0 ? (
            t("noComorbidities")
          ) : (
            <ul>
              {comorbidities.map((c) => (
                <li key={`${c.system}|${c.code}`}>
                  {c.display} <code className="small">{`${systemLabel(c.system)} ${c.code}`}</code>
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
      {editable && record.id !== undefined && record.version !== undefined ? (
        editing ? (
          <>
            {stale ? (
              <p role="alert" className="error">
                {t("staleRecord")}
              </p>
            ) : null}
            <AssessmentsForm
              key={record.version}
              record={record}
              assessor={assessor}
              onSaved={() => {
                setEditing(false);
                setStale(false);
                onSaved();
              }}
              onStale={() => {
                setStale(true);
                onSaved();
              }}
              onCancel={() => {
                setEditing(false);
                setStale(false);
              }}
            />
          </>
        ) : (
          <button type="button" className="secondary" onClick={() => setEditing(true)}>
            {t("edit")}
          </button>
        )
      ) : null}
    </section>
  );
}
