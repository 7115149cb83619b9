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
type SearchField = "name" | "mrn" | "research_id";
const SEARCH_LABELS: Record<SearchField, MessageKey> = { name: "name", mrn: "mrn", research_id: "researchId" };

export function PatientsPage() {
  const { t, date, v, year, num } = useI18n();
  const { researcherOnly } = useAuth();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  // researchers search de-identified records by research id only (name and MRN are hidden)
  const fields: SearchField[] = researcherOnly ? ["research_id"] : ["name", "mrn", "research_id"];
  const [searchBy, setSearchBy] = useState<SearchField>(fields[0]);
  const [searchDraft, setSearchDraft] = useState("");
  const [searched, setSearched] = useState<{ field: SearchField; text: string } | null>(null);
  const cursor = cursors[cursors.length - 1];
  const searchParams = searched ? { [searched.field]: searched.text } : {};
  const { data, error, loading } = useApi<Page<PatientSummary>>(
    `/api/v1/patients${query({ ...filters, ...searchParams, limit: PAGE_SIZE, cursor })}`,
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
  const search = (event: FormEvent) => {
    event.preventDefault();
    const text = searchDraft.trim();
    setSearched(text ? { field: fields.includes(searchBy) ? searchBy : fields[0], text } : null);
    setCursors([null]);
  };
  const showNames = !researcherOnly;

  return (
    <>
      <h1>{t("patientsTitle")}</h1>
      {researcherOnly ? <p className="note">{t("deidentifiedNote")}</p> : null}
      <form className="filters card" role="search" onSubmit={search} aria-label={t("search")}>
        <div className="field">
          <label htmlFor="search-by">{t("searchBy")}</label>
          <select id="search-by" value={searchBy} onChange={(e) => setSearchBy(e.target.value as SearchField)}>
            {fields.map((field) => (
              <option key={field} value={field}>
                {t(SEARCH_LABELS[field])}
              </option>
            ))}
          </select>
        </div>
        <div className="field grow">
          <label htmlFor="search-text">{t("searchFor")}</label>
          <input
            id="search-text"
            type="search"
            maxLength={100}
            placeholder={t(researcherOnly ? "researchIdHint" : "searchHint")}
            value={searchDraft}
            onChange={(e) => setSearchDraft(e.target.value)}
          />
        </div>
        <div className="actions">
          <button type="submit">{t("search")}</button>
        </div>
      </form>
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
                {showNames ? <th scope="col">{t("name")}</th> : null}
                {showNames ? <th scope="col">{t("mrn")}</th> : null}
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
                  {showNames ? (
                    <td data-testid="patient-row-name">
                      {[p.given_name, p.family_name].filter(Boolean).join(" ") || "—"}
                    </td>
                  ) : null}
                  {showNames ? <td>{p.mrn ?? "—"}</td> : null}
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
          {data.items.length === 0 && data.next_cursor ? (
            <p>
              <button
                type="button"
                className="secondary"
                data-testid="search-further"
                onClick={() => setCursors([...cursors, String(data.next_cursor)])}
              >
                {t("searchFurther")}
              </button>
            </p>
          ) : data.items.length === 0 ? (
            <p>{t("noPatients")}</p>
          ) : null}
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
