import { useState } from "react";
import type { FormEvent } from "react";
import { query } from "../api";
import { useAuth } from "../auth";
import { ErrorNote, Loading } from "../components/Status";
import { useApi } from "../hooks";
import { useI18n } from "../i18n";
import type { MessageKey } from "../messages";
import { HISTOLOGIES, LOCATIONS, ORIGINS, SEXES, STAGE_GROUPS, VITAL } from "../options";
import { Link } from "../router";
import type { Page, PatientSummary } from "../types";

const EMPTY = {
  sex: "",
  histology: "",
  location: "",
  stage_group: "",
  vital_status: "",
  origin: "",
  min_age: "",
  max_age: "",
};
type Filters = typeof EMPTY;
const SELECTS: [keyof Filters, MessageKey, string[]][] = [
  ["sex", "sex", SEXES],
  ["histology", "histology", HISTOLOGIES],
  ["location", "location", LOCATIONS],
  ["stage_group", "stageGroup", STAGE_GROUPS],
  ["vital_status", "vitalStatus", VITAL],
  ["origin", "origin", ORIGINS],
];
const PAGE_SIZE = 20;

export function PatientsPage() {
  const { t, date, v, year, num } = useI18n();
  const { researcherOnly } = useAuth();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const { data, error, loading } = useApi<Page<PatientSummary>>(
    `/api/v1/patients${query({ ...filters, limit: PAGE_SIZE, cursor })}`,
  );

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
    setCursors([null]);
  };
  const reset = () => {
    setDraft(EMPTY);
    setFilters(EMPTY);
    setCursors([null]);
  };

  return (
    <>
      <h1>{t("patientsTitle")}</h1>
      {researcherOnly ? <p className="note">{t("deidentifiedNote")}</p> : null}
      <form className="filters card" onSubmit={apply} aria-label={t("filters")}>
        {SELECTS.map(([key, text, values]) => (
          <div className="field" key={key}>
            <label htmlFor={`f-${key}`}>{t(text)}</label>
            <select
              id={`f-${key}`}
              value={draft[key]}
              onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
            >
              <option value="">{t("any")}</option>
              {values.map((code) => (
                <option key={code} value={code}>
                  {v(code)}
                </option>
              ))}
            </select>
          </div>
        ))}
        {(["min_age", "max_age"] as const).map((key) => (
          <div className="field" key={key}>
            <label htmlFor={`f-${key}`}>{t(key === "min_age" ? "minAge" : "maxAge")}</label>
            <input
              id={`f-${key}`}
              type="number"
              min={0}
              max={130}
              value={draft[key]}
              onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
            />
          </div>
        ))}
        <div className="actions">
          <button type="submit">{t("apply")}</button>
          <button type="button" className="secondary" onClick={reset}>
            {t("reset")}
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <>
          <div className="scroll">
          <table className="list" data-testid="patient-table">
            <thead>
              <tr>
                <th scope="col">{researcherOnly ? t("researchId") : t("id")}</th>
                <th scope="col">{t("sex")}</th>
                <th scope="col">{t("birthYear")}</th>
                <th scope="col">{t("histology")}</th>
                <th scope="col">{t("location")}</th>
                <th scope="col">{t("stageGroup")}</th>
                <th scope="col">{t("diagnosisDate")}</th>
                <th scope="col">{t("vitalStatus")}</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((p) => (
                <tr key={p.id ?? p.research_id}>
                  <td>
                    {p.id ? (
                      <Link to={`/patients/${encodeURIComponent(p.id)}`}>{p.id.slice(0, 13)}…</Link>
                    ) : p.research_id ? (
                      <Link to={`/patients/${encodeURIComponent(p.research_id)}`}>
                        <code>{p.research_id}</code>
                      </Link>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td>{v(p.sex)}</td>
                  <td>{year(p.birth_year)}</td>
                  <td>{v(p.histology)}</td>
                  <td>{v(p.location)}</td>
                  <td>{v(p.stage_group)}</td>
                  <td>{date(p.diagnosis_date)}</td>
                  <td>{v(p.vital_status)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          {data.items.length === 0 ? <p>{t("noPatients")}</p> : null}
          <div className="pager">
            <button
              type="button"
              className="secondary"
              disabled={cursors.length < 2}
              onClick={() => setCursors(cursors.slice(0, -1))}
            >
              {t("previousPage")}
            </button>
            <span>
              {t("page")} {num(cursors.length)}
            </span>
            <button
              type="button"
              className="secondary"
              disabled={!data.next_cursor}
              onClick={() => setCursors([...cursors, String(data.next_cursor)])}
            >
              {t("nextPage")}
            </button>
          </div>
        </>
      ) : null}
    </>
  );
}
