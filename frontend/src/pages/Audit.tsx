import { useState } from "react";
import type { FormEvent } from "react";
import { query } from "../api";
import { ErrorNote, Loading } from "../components/Status";
import { useApi } from "../hooks";
import { useI18n } from "../i18n";
import type { Page } from "../types";

interface AuditEvent {
  seq: number;
  time: string;
  user: string | null;
  roles: string[];
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  patient_id: string | null;
  outcome: string;
  client_ip: string | null;
  detail: string | null;
}

const EMPTY = { user: "", action: "", outcome: "", patient_id: "", resource_type: "" };

export function AuditPage() {
  const { t, date, num, v } = useI18n();
  const [draft, setDraft] = useState(EMPTY);
  const [filters, setFilters] = useState(EMPTY);
  const [cursor, setCursor] = useState<number | null>(null);
  const { data, error, loading } = useApi<Page<AuditEvent>>(
    `/api/v1/audit/events${query({ ...filters, cursor, limit: 50 })}`,
  );
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
    setCursor(null);
  };
  const labels: Record<keyof typeof EMPTY, string> = {
    user: t("user"),
    action: t("action"),
    outcome: t("outcome"),
    patient_id: `${t("patientTitle")} ${t("id")}`,
    resource_type: t("resource"),
  };
  return (
    <>
      <h1>{t("auditTitle")}</h1>
      <form className="filters card" onSubmit={apply} aria-label={t("filters")}>
        {(Object.keys(EMPTY) as (keyof typeof EMPTY)[]).map((key) => (
          <div className="field" key={key}>
            <label htmlFor={`a-${key}`}>{labels[key]}</label>
            <input id={`a-${key}`} value={draft[key]} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
          </div>
        ))}
        <div className="actions">
          <button type="submit">{t("apply")}</button>
        </div>
      </form>
      <ErrorNote error={error} />
      {loading && !data ? <Loading /> : null}
      <div className="scroll">
      <table className="list" data-testid="audit-table">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">{t("time")}</th>
            <th scope="col">{t("user")}</th>
            <th scope="col">{t("action")}</th>
            <th scope="col">{t("outcome")}</th>
            <th scope="col">{t("resource")}</th>
            <th scope="col">{t("detail")}</th>
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((e) => (
            <tr key={e.seq}>
              <td>{num(e.seq, { useGrouping: false })}</td>
              <td>{date(e.time)}</td>
              <td>
                {e.user ?? "—"} <span className="muted small">{e.roles.join(", ")}</span>
              </td>
              <td>
                <code>{e.action}</code>
              </td>
              <td className={e.outcome === "success" ? "ok" : "bad"}>{v(e.outcome)}</td>
              <td className="small">
                {[e.resource_type, e.resource_id, e.patient_id].filter(Boolean).join(" · ")}
              </td>
              <td className="small">{e.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
      <div className="pager">
        <button type="button" className="secondary" disabled={cursor === null} onClick={() => setCursor(null)}>
          {t("newestEvents")}
        </button>
        <button
          type="button"
          className="secondary"
          disabled={!data?.next_cursor}
          onClick={() => setCursor(Number(data?.next_cursor))}
        >
          {t("olderEvents")}
        </button>
      </div>
    </>
  );
}
