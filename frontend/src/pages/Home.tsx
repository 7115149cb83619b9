import { useAuth } from "../auth";
import { ErrorNote } from "../components/Status";
import { useApi } from "../hooks";
import { useI18n } from "../i18n";
import type { MessageKey } from "../messages";
import { allowedNav } from "../nav";
import { Link } from "../router";
import type { Dataset, Job, Page } from "../types";

interface Counts {
  items: { n: number }[];
}
interface RunRow {
  id: string;
  name: string;
  model: string;
  status?: string;
  stage?: string;
  updated_at?: string;
}
interface ModelRow {
  name: string;
  versions: number;
  production: number | null;
}

/** `/datasets` answers a list, or a page `{items, next_cursor}`. */
export function itemsOf<T>(data: T[] | Page<T> | null | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.items;
}

interface Recent {
  id: string;
  kind: MessageKey;
  label: string;
  status: string;
  at: string | undefined;
  to: string;
}

function Tile({ label, value, to, testid }: { label: string; value: string; to: string; testid: string }) {
  return (
    <li className="stat" data-testid={testid}>
      <Link to={to}>
        <span className="stat-value">{value}</span>
        <span className="stat-label">{label}</span>
      </Link>
    </li>
  );
}

/** The home page of each role: what it holds, what ran lately and what to do next. */
export function HomePage() {
  const { t, num, date, v } = useI18n();
  const { me, can } = useAuth();
  const patients = useApi<Counts>(can("patients.read") ? "/api/v1/patients/cohort/counts?by=vital_status" : null);
  const genJobs = useApi<Page<Job>>(can("generation.jobs.read") ? "/api/v1/generation/jobs?limit=5" : null);
  const colJobs = useApi<Page<Job>>(can("collection.jobs.read") ? "/api/v1/collection/jobs?limit=5" : null);
  const runs = useApi<Page<RunRow>>(can("training.jobs.read") ? "/api/v1/training/runs" : null);
  const models = useApi<Page<ModelRow>>(can("models.read") ? "/api/v1/models" : null);
  const datasets = useApi<Dataset[] | Page<Dataset>>(can("datasets.read") ? "/api/v1/datasets" : null);

  const recent: Recent[] = [
    ...(genJobs.data?.items ?? []).map((j) => ({
      id: j.id,
      kind: "navGeneration" as MessageKey,
      label: String(j.params.profile ?? ""),
      status: j.status,
      at: j.created_at,
      to: `/generation/jobs/${j.id}`,
    })),
    ...(colJobs.data?.items ?? []).map((j) => ({
      id: j.id,
      kind: "navCollection" as MessageKey,
      label: String(j.params.source ?? ""),
      status: j.status,
      at: j.created_at,
      to: `/collection/jobs/${j.id}`,
    })),
    ...(runs.data?.items ?? []).slice(0, 5).map((r) => ({
      id: r.id,
      kind: "runs" as MessageKey,
      label: r.name,
      status: r.stage ?? r.status ?? "",
      at: r.updated_at,
      to: `/training/runs/${r.id}`,
    })),
  ]
    .sort((a, b) => (b.at ?? "").localeCompare(a.at ?? ""))
    .slice(0, 8);

  const total = patients.data ? patients.data.items.reduce((s, i) => s + i.n, 0) : null;
  const inProduction = (models.data?.items ?? []).filter((m) => m.production).length;
  const next: { to: string; text: MessageKey }[] = [];
  if (can("patients.write")) next.push({ to: "/patients/new", text: "nextNewPatient" });
  if (can("patients.read")) next.push({ to: "/patients", text: "nextFindPatient" });
  if (can("patients.read")) next.push({ to: "/cohort", text: "nextCohort" });
  if (can("generation.jobs.manage")) next.push({ to: "/generation", text: "nextGenerate" });
  if (can("collection.jobs.manage")) next.push({ to: "/collection", text: "nextCollect" });
  if (can("training.jobs.manage")) next.push({ to: "/training", text: "nextTrain" });
  if (can("models.promote")) next.push({ to: "/training", text: "nextPromote" });
  if (can("audit.read")) next.push({ to: "/audit", text: "nextAudit" });

  return (
    <>
      <h1>{t("homeTitle")}</h1>
      <p data-testid="home-role">
        {t("homeRoleIntro")} {(me?.roles ?? []).map((r) => v(r)).join(", ")}.
      </p>
      <ul className="stats" aria-label={t("counts")}>
        {total !== null ? (
          <Tile testid="count-patients" label={t("patientsTitle")} value={num(total)} to="/patients" />
        ) : null}
        {datasets.data ? (
          <Tile testid="count-datasets" label={t("datasetsTitle")} value={num(itemsOf(datasets.data).length)} to="/generation" />
        ) : null}
        {runs.data ? <Tile testid="count-runs" label={t("runs")} value={num(runs.data.items.length)} to="/training" /> : null}
        {models.data ? (
          <Tile testid="count-models" label={t("modelsInProduction")} value={num(inProduction)} to="/training" />
        ) : null}
      </ul>
      <ErrorNote error={patients.error ?? runs.error ?? models.error} />
      <div className="columns">
        <section className="card" aria-labelledby="next-title">
          <h2 id="next-title">{t("nextSteps")}</h2>
          <ul data-testid="next-steps">
            {next.map((n) => (
              <li key={n.text}>
                <Link to={n.to}>{t(n.text)}</Link>
              </li>
            ))}
          </ul>
        </section>
        {recent.length ? (
          <section className="card" aria-labelledby="recent-title">
            <h2 id="recent-title">{t("recentJobs")}</h2>
            <div className="scroll">
              <table data-testid="recent-jobs">
                <tbody>
                  {recent.map((r) => (
                    <tr key={r.id}>
                      <td>{t(r.kind)}</td>
                      <td>
                        <Link to={r.to}>{r.label || r.id.slice(0, 8)}</Link>
                      </td>
                      <td>{v(r.status)}</td>
                      <td>{date(r.at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        ) : null}
      </div>
      <h2>{t("sectionsTitle")}</h2>
      <ul className="tiles">
        {allowedNav(me?.permissions ?? []).map((item) => (
          <li key={item.to}>
            <Link to={item.to}>{t(item.label)}</Link>
          </li>
        ))}
      </ul>
    </>
  );
}
