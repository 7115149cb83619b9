import type { MessageKey } from "./messages";
import type { PatientRecord } from "./types";

export interface TimelineEvent {
  date: string;
  kind: MessageKey;
  text: string;
}

const join = (...parts: (string | null | undefined | false)[]) => parts.filter(Boolean).join(" · ");

/** A record's clinical events in date order: diagnosis, staging, treatments, markers, outcome. */
export function timelineOf(
  record: PatientRecord,
  v: (value: string | null | undefined) => string = (value) => (value ? value.replace(/_/g, " ") : ""),
): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const c of record.conditions) {
    events.push({
      date: c.diagnosis_date,
      kind: "diagnosis",
      text: join(v(c.histology), v(c.location), c.morphology_code, c.topography_code, c.grade),
    });
  }
  for (const s of record.staging) {
    const prefix = s.kind === "pathological" ? "p" : s.kind === "post_neoadjuvant" ? "yp" : s.kind ? "c" : "";
    events.push({
      date: s.assessed_on,
      kind: "staging",
      text: join(`${prefix}${s.t} ${s.n} ${s.m}`, `stage ${s.stage_group}`, s.kind ? v(s.kind) : null),
    });
  }
  for (const tr of record.treatments) {
    events.push({
      date: tr.start_date,
      kind: "treatment",
      text: join(
        tr.kind ? v(tr.kind) : null,
        tr.intent ? v(tr.intent) : null,
        tr.regimen,
        tr.procedure,
        tr.agents.join(", "),
        tr.margin,
        tr.dose_gy ? `${tr.dose_gy} Gy` : null,
        tr.end_date ? `→ ${tr.end_date}` : null,
      ),
    });
  }
  for (const b of record.biomarkers) {
    events.push({ date: b.measured_on, kind: "biomarker", text: `${b.kind}: ${b.value}` });
  }
  for (const o of record.observations) {
    const name = o.code === "89247-1" ? "ECOG" : `LOINC ${o.code}`;
    events.push({ date: o.observed_on, kind: "observation", text: join(`${name}: ${o.value}`, o.unit) });
  }
  const outcome = record.outcome;
  if (outcome) {
    if (outcome.progression_date) {
      events.push({ date: outcome.progression_date, kind: "progression", text: "" });
    }
    if (outcome.recurrence_date) {
      events.push({ date: outcome.recurrence_date, kind: "recurrence", text: outcome.recurrence_site ?? "" });
    }
    if (outcome.death_date) {
      events.push({ date: outcome.death_date, kind: "death", text: outcome.cause_of_death ?? "" });
    }
    events.push({ date: outcome.last_follow_up, kind: "lastFollowUp", text: v(outcome.vital_status) });
  }
  return events.sort((a, b) => a.date.localeCompare(b.date));
}
