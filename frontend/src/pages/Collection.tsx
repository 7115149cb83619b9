import { useEffect, useMemo, useState } from "react";
import type { FormEvent } from "react";
import { api, download } from "../api";
import { useAuth } from "../auth";
import { ProgressBar } from "../components/ProgressBar";
import { ErrorNote } from "../components/Status";
import { useApi, useInvalidate, useJobPoll } from "../hooks";
import { useI18n } from "../i18n";
import { Link, useRouter } from "../router";
import type { Job, Page } from "../types";
import { uploadFile } from "../upload";

type JsonSchema = Record<string, unknown> & {
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  type?: string | string[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
};
interface SourceKind {
  name: string;
  title: string;
  config_schema: JsonSchema;
}
interface Schedule {
  id: string;
  connector: string;
  source: string;
  cron: string;
  enabled: boolean;
  next_run_at: string | null;
  last_run_at: string | null;
  last_job_id: string | null;
}

const FORMATS = ["csv", "parquet", "ndjson", "bundle"];
/** Record fields a column can fill (the collection mapping's names). */
export const MAPPING_TARGETS = [
  "source_record_id",
  "sex",
  "birth_date",
  "given_name",
  "family_name",
  "mrn",
  "national_id",
  "country",
  "province",
  "diagnosis_date",
  "histology",
  "morphology_code",
  "topography_code",
  "location",
  "grade",
  "tumour_length_cm",
  "t",
  "n",
  "m",
  "stage_group",
  "assessed_on",
  "staging.kind",
  "vital_status",
  "last_follow_up",
  "death_date",
  "cause_of_death",
  "recurrence_date",
];

/** The first lines of a CSV text as rows of cells (quotes and escaped quotes understood). */
export function parseCsv(text: string, limit = 6): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < limit; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  if ((cell || row.length) && rows.length < limit) rows.push([...row, cell]);
  return rows;
}

/** A guess of the field each column fills: the same name, ignoring case, spaces and dashes. */
export function guessMapping(columns: string[]): Record<string, string> {
  const plain = (s: string) => s.toLowerCase().replace(/[\s-]+/g, "_");
  const mapping: Record<string, string> = {};
  for (const column of columns) {
    const target = MAPPING_TARGETS.find((f) => f === plain(column));
    if (target) mapping[target] = column;
  }
  return mapping;
}

function resolve(schema: JsonSchema): JsonSchema {
  if (schema.$ref && schema.$defs) {
    const name = schema.$ref.split("/").pop() as string;
    return { ...schema.$defs[name], $defs: schema.$defs };
  }
  return schema;
}

function typeOf(prop: JsonSchema): string {
  const types = prop.anyOf ? prop.anyOf.map((p) => p.type) : [prop.type];
  const found = types.flat().find((t) => t && t !== "null");
  return typeof found === "string" ? found : "object";
}

/** A connector's config as a form built from its JSON Schema; objects and lists as JSON. */
function ConfigFields({
  schema,
  value,
  onChange,
  skip,
}: {
  schema: JsonSchema;
  value: Record<string, string>;
  onChange: (v: Record<string, string>) => void;
  skip: string[];
}) {
  const { t } = useI18n();
  const root = resolve(schema);
  const required = new Set(root.required ?? []);
  return (
    <>
      {Object.entries(root.properties ?? {})
        .filter(([k]) => !skip.includes(k))
        .map(([key, prop]) => {
          const id = `cfg-${key}`;
          const type = typeOf(prop);
          const set = (x: string) => onChange({ ...value, [key]: x });
          const label = `${key}${required.has(key) ? "" : ` (${t("optional")})`}`;
          return (
            <div key={key} className={type === "object" || type === "array" ? "field full" : "field"}>
              <label htmlFor={id}>{label}</label>
              {prop.enum ? (
                <select id={id} value={value[key] ?? ""} onChange={(e) => set(e.target.value)}>
                  <option value="" />
                  {prop.enum.map((o) => (
                    <option key={String(o)}>{String(o)}</option>
                  ))}
                </select>
              ) : type === "boolean" ? (
                <select id={id} value={value[key] ?? ""} onChange={(e) => set(e.target.value)}>
                  <option value="" />
                  <option value="true">{t("yes")}</option>
                  <option value="false">{t("no")}</option>
                </select>
              ) : type === "object" || type === "array" ? (
                <textarea id={id} rows={2} placeholder="JSON" value={value[key] ?? ""} onChange={(e) => set(e.target.value)} />
              ) : (
                <input
                  id={id}
                  type={type === "integer" || type === "number" ? "number" : "text"}
                  required={required.has(key)}
                  placeholder={prop.default !== undefined && prop.default !== null ? String(prop.default) : undefined}
                  value={value[key] ?? ""}
                  onChange={(e) => set(e.target.value)}
                />
              )}
            </div>
          );
        })}
    </>
  );
}

/** The form's strings as the config's JSON values (empty: left out). */
export function configOf(schema: JsonSchema, value: Record<string, string>): Record<string, unknown> {
  const root = resolve(schema);
  const config: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(value)) {
    if (text.trim() === "") continue;
    const type = typeOf(root.properties?.[key] ?? {});
    if (type === "integer" || type === "number") config[key] = Number(text);
    else if (type === "boolean") config[key] = text === "true";
    else if (type === "object" || type === "array") config[key] = JSON.parse(text) as unknown;
    else config[key] = text;
  }
  return config;
}

/** Columns of the file on the left, the record field each fills, and the first rows as mapped. */
function MappingEditor({
  rows,
  mapping,
  onChange,
}: {
  rows: string[][];
  mapping: Record<string, string>;
  onChange: (m: Record<string, string>) => void;
}) {
  const { t } = useI18n();
  const [header, ...body] = rows;
  if (!header) return null;
  const fieldOf = (column: string) => Object.entries(mapping).find(([, c]) => c === column)?.[0] ?? "";
  const assign = (column: string, field: string) => {
    const next = Object.fromEntries(Object.entries(mapping).filter(([f, c]) => c !== column && f !== field));
    if (field) next[field] = column;
    onChange(next);
  };
  const mapped = Object.entries(mapping);
  return (
    <fieldset className="full mapping" data-testid="mapping-editor">
      <legend>{t("mappingEditor")}</legend>
      <div className="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("column")}</th>
              <th scope="col">{t("field")}</th>
            </tr>
          </thead>
          <tbody>
            {header.map((column) => (
              <tr key={column}>
                <th scope="row">
                  <label htmlFor={`map-${column}`}>{column}</label>
                </th>
                <td>
                  <select id={`map-${column}`} value={fieldOf(column)} onChange={(e) => assign(column, e.target.value)}>
                    <option value="">—</option>
                    {MAPPING_TARGETS.map((f) => (
                      <option key={f} value={f}>
                        {f}
                      </option>
                    ))}
                  </select>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>{t("preview")}</h3>
      <div className="scroll">
        <table data-testid="mapping-preview">
          <thead>
            <tr>
              {mapped.map(([field]) => (
                <th key={field} scope="col">
                  {field}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {body.map((row, i) => (
              <tr key={i}>
                {mapped.map(([field, column]) => (
                  <td key={field}>{row[header.indexOf(column)] ?? ""}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </fieldset>
  );
}

function JobWatch({ id }: { id: string }) {
  const { t, num, v } = useI18n();
  const invalidate = useInvalidate();
  const { job, error } = useJobPoll<Job>(`/api/v1/collection/jobs/${encodeURIComponent(id)}`, 700, () =>
    void invalidate("/api/v1/collection/jobs?"),
  );
  return (
    <section className="card" aria-live="polite" aria-labelledby="cjob-title">
      <h2 id="cjob-title">
        {t("jobProgress")} <code className="small">{id}</code>
      </h2>
      <ProgressBar value={job?.progress ?? 0} label={t("jobProgress")} status={job?.status ? v(job.status) : undefined} />
      {job ? (
        <ul className="inline-list">
          {Object.entries(job.counts).map(([k, n]) => (
            <li key={k}>
              {k}: {num(n)}
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

function UploadForm() {
  const { t } = useI18n();
  const { navigate } = useRouter();
  const [file, setFile] = useState<File | null>(null);
  const [rows, setRows] = useState<string[][]>([]);
  const [format, setFormat] = useState("csv");
  const [source, setSource] = useState("upload-ui");
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [researchOnly, setResearchOnly] = useState(false);
  const [uploadProgress, setUploadProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!file || format !== "csv") {
      setRows([]);
      return;
    }
    let live = true;
    void file
      .slice(0, 64 * 1024)
      .text()
      .then((text) => {
        if (!live) return;
        const parsed = parseCsv(text);
        setRows(parsed);
        setMapping(guessMapping(parsed[0] ?? []));
      });
    return () => {
      live = false;
    };
  }, [file, format]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setError(null);
    try {
      const config: Record<string, unknown> = { format };
      if (Object.keys(mapping).length) config.mapping = mapping;
      setUploadProgress(0);
      const uploaded = await uploadFile("/api/v1/collection/uploads", file, format, setUploadProgress);
      const job = await api<Job>("/api/v1/collection/jobs", {
        method: "POST",
        json: { connector: "upload", source, research_only: researchOnly, config: { ...config, upload_id: uploaded.id } },
      });
      navigate(`/collection/jobs/${job.id}`);
    } catch (exc) {
      setError(exc);
    }
  };
  return (
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
      <MappingEditor rows={rows} mapping={mapping} onChange={setMapping} />
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
  );
}

/** Collect from a connector now, or on a schedule (cron, UTC). */
function ConnectorForm({ sources }: { sources: SourceKind[] }) {
  const { t } = useI18n();
  const { navigate } = useRouter();
  const invalidate = useInvalidate();
  const choices = sources.filter((s) => s.name !== "upload");
  const [name, setName] = useState("");
  const [source, setSource] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [cron, setCron] = useState("");
  const [researchOnly, setResearchOnly] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const kind = choices.find((s) => s.name === name) ?? choices[0];
  if (!kind) return null;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setSaved(null);
    try {
      const body = { connector: kind.name, source, research_only: researchOnly, config: configOf(kind.config_schema, values) };
      if (cron.trim()) {
        await api("/api/v1/collection/schedules", { method: "POST", json: { ...body, cron: cron.trim() } });
        setSaved(t("scheduleSaved"));
        void invalidate("/api/v1/collection/schedules");
      } else {
        const job = await api<Job>("/api/v1/collection/jobs", { method: "POST", json: body });
        navigate(`/collection/jobs/${job.id}`);
      }
    } catch (exc) {
      setError(exc);
    }
  };
  return (
    <form className="card grid-form" onSubmit={submit} aria-labelledby="connector-title">
      <h2 id="connector-title" className="full">
        {t("connectorTitle")}
      </h2>
      <div className="field">
        <label htmlFor="k-connector">{t("connector")}</label>
        <select
          id="k-connector"
          value={kind.name}
          onChange={(e) => {
            setName(e.target.value);
            setValues({});
          }}
        >
          {choices.map((s) => (
            <option key={s.name} value={s.name}>
              {s.name} — {s.title}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="k-source">{t("sourceName")}</label>
        <input id="k-source" required pattern="[A-Za-z0-9][\w.:/\-]*" value={source} onChange={(e) => setSource(e.target.value)} />
      </div>
      <ConfigFields schema={kind.config_schema} value={values} onChange={setValues} skip={[]} />
      <div className="field">
        <label htmlFor="k-cron">
          {t("cron")} ({t("optional")})
        </label>
        <input id="k-cron" placeholder="0 2 * * *" value={cron} onChange={(e) => setCron(e.target.value)} />
      </div>
      <label className="inline full">
        <input type="checkbox" checked={researchOnly} onChange={(e) => setResearchOnly(e.target.checked)} />{" "}
        {t("researchOnly")}
      </label>
      <div className="full actions">
        <ErrorNote error={error} />
        {saved ? (
          <p role="status" className="ok">
            {saved}
          </p>
        ) : null}
        <button type="submit">{cron.trim() ? t("schedule") : t("start")}</button>
      </div>
    </form>
  );
}

function Schedules() {
  const { t, date, v } = useI18n();
  const { can } = useAuth();
  const invalidate = useInvalidate();
  const schedules = useApi<Page<Schedule>>("/api/v1/collection/schedules");
  const [error, setError] = useState<unknown>(null);
  const remove = async (id: string) => {
    try {
      await api(`/api/v1/collection/schedules/${encodeURIComponent(id)}`, { method: "DELETE" });
      void invalidate("/api/v1/collection/schedules");
    } catch (exc) {
      setError(exc);
    }
  };
  const items = schedules.data?.items ?? [];
  return (
    <section className="card" aria-labelledby="schedules-title">
      <h2 id="schedules-title">{t("schedules")}</h2>
      <ErrorNote error={schedules.error ?? error} />
      {items.length === 0 ? <p className="muted">{t("none")}</p> : null}
      {items.length ? (
        <div className="scroll">
          <table data-testid="schedules">
            <thead>
              <tr>
                <th scope="col">{t("connector")}</th>
                <th scope="col">{t("source")}</th>
                <th scope="col">{t("cron")}</th>
                <th scope="col">{t("nextRun")}</th>
                <th scope="col">{t("lastJob")}</th>
                <th scope="col" />
              </tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id}>
                  <td>{s.connector}</td>
                  <td>{s.source}</td>
                  <td>
                    <code>{s.cron}</code>
                  </td>
                  <td>{s.enabled ? date(s.next_run_at) : v("cancelled")}</td>
                  <td>{s.last_job_id ? <Link to={`/collection/jobs/${s.last_job_id}`}>{s.last_job_id.slice(0, 8)}</Link> : "—"}</td>
                  <td>
                    {can("collection.jobs.manage") ? (
                      <button type="button" className="secondary" onClick={() => void remove(s.id)}>
                        {t("remove")}
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

export function CollectionPage({ jobId }: { jobId?: string }) {
  const { t, date, num, v } = useI18n();
  const { can } = useAuth();
  const sources = useApi<Page<SourceKind>>("/api/v1/collection/sources");
  const jobs = useApi<Page<Job>>("/api/v1/collection/jobs?limit=10");
  const sourceList = useMemo(() => sources.data?.items ?? [], [sources.data]);
  return (
    <>
      <h1>{t("collectionTitle")}</h1>
      {jobId ? <JobWatch key={jobId} id={jobId} /> : null}
      <ErrorNote error={sources.error} />
      {can("collection.jobs.manage") ? (
        <>
          <UploadForm />
          <ConnectorForm sources={sourceList} />
        </>
      ) : null}
      <Schedules />
      <section className="card" aria-labelledby="cjobs-title">
        <h2 id="cjobs-title">{t("jobs")}</h2>
        <ErrorNote error={jobs.error} />
        <div className="scroll">
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
                    <Link to={`/collection/jobs/${job.id}`}>{job.id.slice(0, 13)}…</Link>
                  </td>
                  <td>{String(job.params.source ?? "")}</td>
                  <td>{v(job.status)}</td>
                  <td>{num(job.progress, { style: "percent" })}</td>
                  <td>{date(job.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
