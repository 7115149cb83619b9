import { download } from "../api";
import { useAuth } from "../auth";
import { AssessmentsPanel } from "../components/AssessmentsPanel";
import { CdsPanel } from "../components/CdsPanel";
import { ClinicalEntry } from "../components/ClinicalEntry";
import { ErrorNote, Loading } from "../components/Status";
import { useApi } from "../hooks";
import { useI18n } from "../i18n";
import { timelineOf } from "../timeline";
import type { Decision, PatientRecord } from "../types";

function Demographics({ record }: { record: PatientRecord }) {
  const { t, date, v, year } = useI18n();
  const name = [record.given_name, record.family_name].filter(Boolean).join(" ");
  return (
    <section className="card" aria-labelledby="demo-title">
      <h2 id="demo-title">{t("demographics")}</h2>
      <dl className="facts">
        {/* Identifying fields are shown only when the API sent them (never to researchers). */}
        {name ? (
          <>
            <dt>{t("name")}</dt>
            <dd data-testid="patient-name">{name}</dd>
          </>
        ) : null}
        {record.mrn ? (
          <>
            <dt>{t("mrn")}</dt>
            <dd data-testid="patient-mrn">{record.mrn}</dd>
          </>
        ) : null}
        {record.birth_date ? (
          <>
            <dt>{t("birthDate")}</dt>
            <dd data-testid="patient-birth-date">{date(record.birth_date)}</dd>
          </>
        ) : record.birth_year ? (
          <>
            <dt>{t("birthYear")}</dt>
            <dd>{year(record.birth_year)}</dd>
          </>
        ) : null}
        <dt>{t("sex")}</dt>
        <dd>{v(record.sex)}</dd>
        {record.origin ? (
          <>
            <dt>{t("origin")}</dt>
            <dd>{v(record.origin)}</dd>
          </>
        ) : null}
        {record.source ? (
          <>
            <dt>{t("source")}</dt>
            <dd>{record.source}</dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}

function Timeline({ record }: { record: PatientRecord }) {
  const { t, date, v } = useI18n();
  return (
    <section className="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">{t("timeline")}</h2>
      <ol className="timeline">
        {timelineOf(record, v).map((e, i) => (
          <li key={`${e.kind}-${i}`} className={`event event-${e.kind}`}>
            <time dateTime={e.date}>{date(e.date)}</time>
            <strong>{t(e.kind)}</strong>
            <span>{e.text}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

function Cds({ id }: { id: string }) {
  const { data, error } = useApi<Decision>(`/api/v1/patients/${encodeURIComponent(id)}/cds`);
  if (error) return <ErrorNote error={error} />;
  return data ? <CdsPanel decision={data} /> : <Loading />;
}

export function PatientDetailPage({ id }: { id: string }) {
  const { t } = useI18n();
  const { can, researcherOnly, me } = useAuth();
  const { data, error, reload } = useApi<PatientRecord>(`/api/v1/patients/${encodeURIComponent(id)}`);
  const identifiedExport = can("patients.export") && !researcherOnly;
  return (
    <>
      <h1>
        {t("patientTitle")} <code className="small">{data?.id ?? data?.research_id ?? id}</code>
      </h1>
      <ErrorNote error={error} />
      {!data && !error ? <Loading /> : null}
      {data ? (
        <div className="columns">
          <div>
            <Demographics record={data} />
            <AssessmentsPanel
              record={data}
              editable={can("patients.write") && !researcherOnly}
              assessor={me?.username ?? ""}
              onSaved={reload}
            />
            {can("patients.write") && !researcherOnly ? (
              <ClinicalEntry key={data.version ?? 0} record={data} id={id} onSaved={reload} />
            ) : null}
            <Timeline record={data} />
            {identifiedExport ? (
              <button
                type="button"
                className="secondary"
                onClick={() => void download(`/api/v1/patients/${encodeURIComponent(id)}/fhir`, `${id}.fhir.json`)}
              >
                {t("fhirExport")}
              </button>
            ) : null}
          </div>
          {can("cds.patients.read") ? (
            <div>
              {/* Asked again after each change of the record: it decides on what it holds. */}
              <Cds key={data.version ?? 0} id={id} />
            </div>
          ) : null}
        </div>
      ) : null}
    </>
  );
}
