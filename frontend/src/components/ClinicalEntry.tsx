import { useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { api } from "../api";
import { useI18n } from "../i18n";
import type { PatientRecord } from "../types";
import { ErrorNote } from "./Status";

// The facts decision support asks for beyond the assessments: treatments given, biomarkers
// measured and the outcome (vital status, recurrence). Treatments and biomarkers are added
// (POST to the record's sub-resource); the outcome is changed against the version read (PATCH).

export const TREATMENT_KINDS = ["surgery", "radiotherapy", "systemic", "endoscopic_resection"];
export const INTENTS = ["neoadjuvant", "adjuvant", "perioperative", "definitive", "palliative"];
export const BIOMARKERS = ["her2", "pdl1_cps", "pdl1_tps", "msi", "mmr"];

/** The POST body of a treatment form: blank optional fields left out, agents split on commas. */
export function treatmentBody(form: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = { kind: form.kind, start_date: form.start_date };
  for (const key of ["end_date", "intent", "regimen", "procedure"]) {
    if (form[key]?.trim()) body[key] = form[key].trim();
  }
  const agents = (form.agents ?? "")
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  if (agents.length) body.agents = agents;
  return body;
}

function EntryForm({
  id,
  title,
  children,
  onSubmit,
  action = "add",
}: {
  id: string;
  title: string;
  children: ReactNode;
  onSubmit: () => Promise<void>;
  action?: "add" | "save";
}) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setDone(false);
    setBusy(true);
    try {
      await onSubmit();
      setDone(true);
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="grid-form entry" onSubmit={submit} aria-labelledby={id}>
      <h3 id={id} className="full">
        {title}
      </h3>
      {children}
      <div className="full actions">
        <ErrorNote error={error} />
        {done ? (
          <p role="status" className="ok">
            {t("saved")}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? t("saving") : t(action)}
        </button>
      </div>
    </form>
  );
}

function Field({ id, label, children }: { id: string; label: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
    </div>
  );
}

export function ClinicalEntry({ record, id, onSaved }: { record: PatientRecord; id: string; onSaved: () => void }) {
  const { t, v } = useI18n();
  const path = `/api/v1/patients/${encodeURIComponent(id)}`;
  const [tr, setTr] = useState<Record<string, string>>({ kind: "surgery", start_date: "", intent: "" });
  const [bm, setBm] = useState<Record<string, string>>({ kind: "her2", value: "", measured_on: "" });
  const o = record.outcome;
  const [out, setOut] = useState<Record<string, string>>({
    vital_status: o?.vital_status ?? "alive",
    last_follow_up: o?.last_follow_up ?? "",
    death_date: o?.death_date ?? "",
    recurrence_date: o?.recurrence_date ?? "",
    progression_date: o?.progression_date ?? "",
  });
  const opt = `(${t("optional")})`;
  return (
    <section className="card" aria-labelledby="entry-title">
      <h2 id="entry-title">{t("clinicalEntry")}</h2>
      <EntryForm
        id="tr-title"
        title={t("treatmentsEntry")}
        onSubmit={async () => {
          await api(`${path}/treatments`, { method: "POST", json: treatmentBody(tr) });
          onSaved();
        }}
      >
        <Field id="tr-kind" label={t("kind")}>
          <select id="tr-kind" value={tr.kind} onChange={(e) => setTr({ ...tr, kind: e.target.value })}>
            {TREATMENT_KINDS.map((k) => (
              <option key={k} value={k}>
                {v(k)}
              </option>
            ))}
          </select>
        </Field>
        <Field id="tr-intent" label={`${t("intent")} ${opt}`}>
          <select id="tr-intent" value={tr.intent} onChange={(e) => setTr({ ...tr, intent: e.target.value })}>
            <option value="">—</option>
            {INTENTS.map((k) => (
              <option key={k} value={k}>
                {v(k)}
              </option>
            ))}
          </select>
        </Field>
        <Field id="tr-start" label={t("startDate")}>
          <input id="tr-start" type="date" required value={tr.start_date} onChange={(e) => setTr({ ...tr, start_date: e.target.value })} />
        </Field>
        <Field id="tr-end" label={`${t("endDate")} ${opt}`}>
          <input id="tr-end" type="date" value={tr.end_date ?? ""} onChange={(e) => setTr({ ...tr, end_date: e.target.value })} />
        </Field>
        <Field id="tr-regimen" label={`${t("regimen")} ${opt}`}>
          <input id="tr-regimen" value={tr.regimen ?? ""} onChange={(e) => setTr({ ...tr, regimen: e.target.value })} />
        </Field>
        <Field id="tr-agents" label={`${t("agents")} ${opt}`}>
          <input id="tr-agents" value={tr.agents ?? ""} onChange={(e) => setTr({ ...tr, agents: e.target.value })} />
        </Field>
      </EntryForm>
      <EntryForm
        id="bm-title"
        title={t("biomarkerEntry")}
        onSubmit={async () => {
          await api(`${path}/biomarkers`, { method: "POST", json: bm });
          onSaved();
        }}
      >
        <Field id="bm-kind" label={t("kind")}>
          <select id="bm-kind" value={bm.kind} onChange={(e) => setBm({ ...bm, kind: e.target.value })}>
            {BIOMARKERS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </Field>
        <Field id="bm-value" label={t("value")}>
          <input id="bm-value" required maxLength={16} value={bm.value} onChange={(e) => setBm({ ...bm, value: e.target.value })} />
        </Field>
        <Field id="bm-date" label={t("measuredOn")}>
          <input id="bm-date" type="date" required value={bm.measured_on} onChange={(e) => setBm({ ...bm, measured_on: e.target.value })} />
        </Field>
      </EntryForm>
      <EntryForm
        id="out-title"
        title={t("outcomeEntry")}
        action="save"
        onSubmit={async () => {
          // the whole outcome is replaced: what the form does not show (cause of death, site of
          // recurrence) is sent back as it was
          const outcome = {
            ...(o ?? {}),
            vital_status: out.vital_status,
            last_follow_up: out.last_follow_up,
            death_date: out.death_date || null,
            recurrence_date: out.recurrence_date || null,
            progression_date: out.progression_date || null,
          };
          await api(path, { method: "PATCH", json: { version: record.version, outcome } });
          onSaved();
        }}
      >
        <Field id="out-vital" label={t("vitalStatus")}>
          <select id="out-vital" value={out.vital_status} onChange={(e) => setOut({ ...out, vital_status: e.target.value })}>
            {["alive", "dead", "unknown"].map((k) => (
              <option key={k} value={k}>
                {v(k)}
              </option>
            ))}
          </select>
        </Field>
        <Field id="out-follow" label={t("lastFollowUp")}>
          <input id="out-follow" type="date" required value={out.last_follow_up} onChange={(e) => setOut({ ...out, last_follow_up: e.target.value })} />
        </Field>
        <Field id="out-death" label={`${t("deathDate")} ${opt}`}>
          <input id="out-death" type="date" value={out.death_date} onChange={(e) => setOut({ ...out, death_date: e.target.value })} />
        </Field>
        <Field id="out-rec" label={`${t("recurrenceDate")} ${opt}`}>
          <input id="out-rec" type="date" value={out.recurrence_date} onChange={(e) => setOut({ ...out, recurrence_date: e.target.value })} />
        </Field>
        <Field id="out-prog" label={`${t("progressionDate")} ${opt}`}>
          <input id="out-prog" type="date" value={out.progression_date} onChange={(e) => setOut({ ...out, progression_date: e.target.value })} />
        </Field>
      </EntryForm>
    </section>
  );
}
