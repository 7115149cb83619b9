import { useState } from "react";
import type { FormEvent } from "react";
import { api, download } from "../api";
import { useAuth } from "../auth";
import { AuthImage } from "../components/AuthImage";
import { FidelityTable } from "../components/FidelityTable";
import { ProgressBar } from "../components/ProgressBar";
import { ErrorNote } from "../components/Status";
import { useApi, useInvalidate, useJobPoll } from "../hooks";
import { useI18n } from "../i18n";
import { Link, useRouter } from "../router";
import type { Dataset, Job, Page, Profile } from "../types";
import { itemsOf } from "./Home";

const OUTPUTS = ["parquet", "csv", "ndjson", "database"];

function DatasetView({ id }: { id: string }) {
  const { t, num } = useI18n();
  const { data, error } = useApi<Dataset>(`/api/v1/datasets/${encodeURIComponent(id)}`);
  if (error) return <ErrorNote error={error} />;
  if (!data) return null;
  const fidelity = data.fidelity;
  return (
    <section className="card" aria-labelledby="dataset-title">
      <h2 id="dataset-title">
        {t("fidelity")} <code className="small">{data.id}</code>
      </h2>
      {fidelity ? (
        <>
          <FidelityTable report={fidelity} />
          {fidelity.km_svg ? (
            <AuthImage path={`/api/v1/datasets/${encodeURIComponent(id)}/survival.svg`} alt={t("survivalTitle")} />
          ) : null}
        </>
      ) : null}
      <h3>{t("files")}</h3>
      <ul className="files">
        {data.files.map((f) => (
          <li key={f.name}>
            <button
              type="button"
              className="link"
              onClick={() =>
                void download(`/api/v1/datasets/${encodeURIComponent(id)}/files/${encodeURIComponent(f.name)}`, f.name)
              }
            >
              {t("download")} {f.name}
            </button>{" "}
            <span className="muted small">
              {num(f.rows)} {t("rows").toLowerCase()} · {num(f.bytes / 1024, { maximumFractionDigits: 1 })} KiB
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function DatasetPage({ id }: { id: string }) {
  const { t } = useI18n();
  return (
    <>
      <p className="crumbs">
        <Link to="/generation">{t("datasetsTitle")}</Link> /
      </p>
      <h1>{t("dataset")}</h1>
      <DatasetView id={id} />
    </>
  );
}

function JobWatch({ id }: { id: string }) {
  const { t, num, v } = useI18n();
  const { can } = useAuth();
  const invalidate = useInvalidate();
  const { job, error } = useJobPoll<Job>(`/api/v1/generation/jobs/${encodeURIComponent(id)}`, 600, () =>
    void invalidate("/api/v1/generation/jobs?", "/api/v1/datasets"),
  );
  return (
    <section className="card" aria-live="polite" aria-labelledby="job-title">
      <h2 id="job-title">
        {t("progress")} <code className="small">{id}</code>
      </h2>
      <ProgressBar value={job?.progress ?? 0} label={t("progress")} status={job?.status ? v(job.status) : undefined} />
      {job?.counts.generated !== undefined ? (
        <p>
          {num(job.counts.generated)} / {num(Number(job.params.n))}
        </p>
      ) : null}
      {job?.error ? <p className="error">{job.error}</p> : null}
      <ErrorNote error={error} />
      {job?.status === "succeeded" && job.result && can("datasets.read") ? (
        <DatasetView id={String(job.result.dataset_id)} />
      ) : null}
    </section>
  );
}

export function GenerationPage({ jobId }: { jobId?: string }) {
  const { t, num, date, v } = useI18n();
  const { navigate } = useRouter();
  const { can } = useAuth();
  const profiles = useApi<Page<Profile>>("/api/v1/generation/profiles");
  const jobs = useApi<Page<Job>>("/api/v1/generation/jobs?limit=10");
  // Jobs are their owner's; the datasets they made are everyone's with datasets.read.
  const datasets = useApi<Dataset[] | Page<Dataset>>(can("datasets.read") ? "/api/v1/datasets?limit=20" : null);
  const [profile, setProfile] = useState("us-seer");
  const [n, setN] = useState("500");
  const [seed, setSeed] = useState("0");
  const [outputs, setOutputs] = useState<string[]>(["parquet", "csv"]);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const job = await api<Job>("/api/v1/generation/jobs", {
        method: "POST",
        json: { profile, n: Number(n), seed: Number(seed), outputs },
      });
      navigate(`/generation/jobs/${job.id}`);
    } catch (exc) {
      setError(exc);
    }
  };
  const toggle = (o: string) =>
    setOutputs(outputs.includes(o) ? outputs.filter((x) => x !== o) : [...outputs, o]);

  return (
    <>
      <h1>{t("generationTitle")}</h1>
      <p>
        <Link to="/generation/fitted">{t("fittedProfiles")}</Link>
      </p>
      {can("generation.jobs.manage") ? (
        <form className="card grid-form" onSubmit={submit} aria-label={t("generationTitle")}>
          <div className="field">
            <label htmlFor="g-profile">{t("profile")}</label>
            <select id="g-profile" value={profile} onChange={(e) => setProfile(e.target.value)}>
              {(profiles.data?.items ?? []).map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name} — {p.title}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="g-n">{t("patientsN")}</label>
            <input id="g-n" type="number" min={1} max={10000000} required value={n} onChange={(e) => setN(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="g-seed">{t("seed")}</label>
            <input id="g-seed" type="number" min={0} required value={seed} onChange={(e) => setSeed(e.target.value)} />
          </div>
          <fieldset className="field">
            <legend>{t("outputs")}</legend>
            {OUTPUTS.map((o) => (
              <label key={o} className="inline">
                <input type="checkbox" checked={outputs.includes(o)} onChange={() => toggle(o)} /> {o}
              </label>
            ))}
          </fieldset>
          <div className="full actions">
            <ErrorNote error={error} />
            <button type="submit" disabled={outputs.length === 0}>
              {t("submit")}
            </button>
          </div>
        </form>
      ) : null}
      {jobId ? <JobWatch key={jobId} id={jobId} /> : null}
      <section className="card" aria-labelledby="jobs-title">
        <h2 id="jobs-title">{t("jobs")}</h2>
        <ErrorNote error={jobs.error} />
        <div className="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("id")}</th>
              <th scope="col">{t("profile")}</th>
              <th scope="col">n</th>
              <th scope="col">{t("status")}</th>
              <th scope="col">{t("progress")}</th>
              <th scope="col">{t("time")}</th>
            </tr>
          </thead>
          <tbody>
            {(jobs.data?.items ?? []).map((job) => (
              <tr key={job.id}>
                <td>
                  <Link to={`/generation/jobs/${job.id}`}>{job.id.slice(0, 13)}…</Link>
                </td>
                <td>{String(job.params.profile)}</td>
                <td>{num(Number(job.params.n))}</td>
                <td>{v(job.status)}</td>
                <td>{num(job.progress, { style: "percent" })}</td>
                <td>{date(job.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      </section>
      {can("datasets.read") ? (
        <section className="card" aria-labelledby="datasets-title">
          <h2 id="datasets-title">{t("datasetsTitle")}</h2>
          <ErrorNote error={datasets.error} />
          <div className="scroll">
        <table>
            <thead>
              <tr>
                <th scope="col">{t("id")}</th>
                <th scope="col">{t("profile")}</th>
                <th scope="col">n</th>
                <th scope="col">{t("seed")}</th>
              </tr>
            </thead>
            <tbody>
              {itemsOf(datasets.data).slice(0, 20).map((d) => (
                <tr key={d.id}>
                  <td>
                    <Link to={`/datasets/${d.id}`}>{d.id.slice(0, 13)}…</Link>
                  </td>
                  <td>{d.profile}</td>
                  <td>{num(d.n)}</td>
                  <td>{d.seed}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        </section>
      ) : null}
    </>
  );
}
