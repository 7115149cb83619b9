import { useState } from "react";
import type { FormEvent } from "react";
import { api, download } from "../api";
import { useAuth } from "../auth";
import { ProgressBar } from "../components/ProgressBar";
import { ErrorNote } from "../components/Status";
import { useApi, useJobPoll } from "../hooks";
import { useI18n } from "../i18n";
import type { Job, Page } from "../types";
import { uploadFile } from "../upload";

interface SourceKind {
  name: string;
  title: string;
}

const FORMATS = ["csv", "parquet", "ndjson", "bundle"];

function JobWatch({ id, onDone }: { id: string; onDone: () => void }) {
  const { t, num } = useI18n();
  const { job, error } = useJobPoll<Job>(`/api/v1/collection/jobs/${encodeURIComponent(id)}`, 700, onDone);
  return (
    <section className="card" aria-live="polite" aria-labelledby="cjob-title">
      <h2 id="cjob-title">
        {t("jobProgress")} <code className="small">{id}</code>
      </h2>
      <ProgressBar value={job?.progress ?? 0} label={t("jobProgress")} status={job?.status} />
      {job ? (
        <ul className="inline-list">
          {Object.entries(job.counts).map(([k, v]) => (
            <li key={k}>
              {k}: {num(v)}
            </li>
          ))}
        </ul>
      ) : null}
      {job?.error ? <p className="error">{job.error}</p> : null}
      <ErrorNote error={error} />
      <button
        type="button"
        className="secondary"
        onClick={() => void download(`/api/v1/collection/jobs/${encodeURIComponent(id)}/rejects`, `rejects-${id}.csv`)}
      >
        {t("rejects")}
      </button>
    </section>
  );
}

export function CollectionPage() {
  const { t, date, num } = useI18n();
  const { can } = useAuth();
  const sources = useApi<SourceKind[]>("/api/v1/collection/sources");
  const jobs = useApi<Page<Job>>("/api/v1/collection/jobs?limit=10");
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState("csv");
  const [source, setSource] = useState("upload-ui");
  const [mapping, setMapping] = useState("");
  const [researchOnly, setResearchOnly] = useState(false);
  const [uploadProgress, setUploadProgress] = useState<number | null>(null);
  const [current, setCurrent] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setError(null);
    setCurrent(null);
    try {
      const config: Record<string, unknown> = { format };
      if (mapping.trim()) config.mapping = JSON.parse(mapping) as unknown;
      setUploadProgress(0);
      const uploaded = await uploadFile("/api/v1/collection/uploads", file, format, setUploadProgress);
      const job = await api<Job>("/api/v1/collection/jobs", {
        method: "POST",
        json: { connector: "upload", source, research_only: researchOnly, config: { ...config, upload_id: uploaded.id } },
      });
      setCurrent(job.id);
    } catch (exc) {
      setError(exc);
    }
  };

  return (
    <>
      <h1>{t("collectionTitle")}</h1>
      <section className="card" aria-labelledby="sources-title">
        <h2 id="sources-title">{t("sources")}</h2>
        <ErrorNote error={sources.error} />
        <ul>
          {(sources.data ?? []).map((s) => (
            <li key={s.name}>
              <code>{s.name}</code>: {s.title}
            </li>
          ))}
        </ul>
      </section>
      {can("collection.jobs.manage") ? (
        <form className="card grid-form" onSubmit={submit} aria-labelledby="upload-title">
          <h2 id="upload-title" className="full">
            {t("upload")}
          </h2>
          <div className="field">
            <label htmlFor="c-file">{t("file")}</label>
            <input id="c-file" type="file" required onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          </div>
          <div className="field">
            <label htmlFor="c-format">{t("format")}</label>
            <select id="c-format" value={format} onChange={(e) => setFormat(e.target.value)}>
              {FORMATS.map((f) => (
                <option key={f} value={f}>
                  {f}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="c-source">{t("sourceName")}</label>
            <input id="c-source" required pattern="[A-Za-z0-9][\w.:/\-]*" value={source} onChange={(e) => setSource(e.target.value)} />
          </div>
          <div className="field full">
            <label htmlFor="c-mapping">
              {t("mapping")} ({t("optional")})
            </label>
            <textarea id="c-mapping" rows={3} value={mapping} onChange={(e) => setMapping(e.target.value)} />
          </div>
          <label className="inline full">
            <input type="checkbox" checked={researchOnly} onChange={(e) => setResearchOnly(e.target.checked)} />{" "}
            {t("researchOnly")}
          </label>
          {uploadProgress !== null ? (
            <div className="full">
              <ProgressBar value={uploadProgress} label={t("uploadProgress")} />
            </div>
          ) : null}
          <div className="full actions">
            <ErrorNote error={error} />
            <button type="submit">{t("upload")}</button>
          </div>
        </form>
      ) : null}
      {current ? <JobWatch key={current} id={current} onDone={jobs.reload} /> : null}
      <section className="card" aria-labelledby="cjobs-title">
        <h2 id="cjobs-title">{t("jobs")}</h2>
        <ErrorNote error={jobs.error} />
        <table>
          <thead>
            <tr>
              <th scope="col">{t("id")}</th>
              <th scope="col">{t("source")}</th>
              <th scope="col">{t("status")}</th>
              <th scope="col">{t("progress")}</th>
              <th scope="col">{t("time")}</th>
            </tr>
          </thead>
          <tbody>
            {(jobs.data?.items ?? []).map((job) => (
              <tr key={job.id}>
                <td>
                  <button type="button" className="link" onClick={() => setCurrent(job.id)}>
                    {job.id.slice(0, 13)}…
                  </button>
                </td>
                <td>{String(job.params.source ?? "")}</td>
                <td>{job.status}</td>
                <td>{num(job.progress, { style: "percent" })}</td>
                <td>{date(job.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
