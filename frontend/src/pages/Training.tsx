import {
  createColumnHelper,
  flexRender,
  getCoreRowModel,
  getFilteredRowModel,
  getSortedRowModel,
  useReactTable,
} from "@tanstack/react-table";
import type { RowSelectionState, SortingState } from "@tanstack/react-table";
import { useMemo, useState } from "react";
import type { FormEvent } from "react";
import { api } from "../api";
import { useAuth } from "../auth";
import { Chart } from "../components/Chart";
import type { ChartSeries } from "../components/Chart";
import { ProgressBar } from "../components/ProgressBar";
import { ErrorNote, Loading } from "../components/Status";
import { useApi, useInvalidate, useJobPoll } from "../hooks";
import { useI18n } from "../i18n";
import { Link, useRouter } from "../router";
import type { Dataset, Job, Page } from "../types";
import { itemsOf } from "./Home";
import { Registry } from "./Models";

export interface Run {
  id: string;
  name: string;
  model: string;
  status?: string;
  stage?: string;
  progress?: number;
  epochs?: number;
  history?: { epoch: number; loss: number; val_loss?: number; val_metric?: number }[];
  metrics?: Record<string, number>;
  settings?: Record<string, unknown>;
  dataset?: Record<string, unknown>;
  version?: number | null;
  error?: string | null;
  updated_at?: string;
  created_at?: string;
}

/** A run's short name: its id's last characters (ids made together share their first ones). */
export const shortId = (id: string) => id.slice(-8);

/** The metrics a runs table shows as columns, in this order, when any run has them. */
export const KEY_METRICS = ["c_index", "c_index_lower", "c_index_upper", "auc_12m", "auc_36m", "brier_36m", "auc"];

export function MetricsList({ metrics }: { metrics: Record<string, number> }) {
  const { num } = useI18n();
  const keys = Object.keys(metrics).sort((a, b) => {
    const ia = KEY_METRICS.indexOf(a);
    const ib = KEY_METRICS.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  return (
    <dl className="facts" data-testid="metrics">
      {keys.map((k) => (
        <div key={k} className="pair">
          <dt>{k}</dt>
          <dd>{num(metrics[k], { maximumFractionDigits: 3 })}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The run's curves: training and validation loss on one chart, the validation metric on its own. */
function curvesOf(runs: Run[], withRunName: boolean) {
  const name = (r: Run, what: string) => (withRunName ? `${r.name} (${shortId(r.id)}) ${what}` : what);
  const loss: ChartSeries[] = [];
  const metric: ChartSeries[] = [];
  for (const r of runs) {
    const h = r.history ?? [];
    if (!h.length) continue;
    loss.push({ label: name(r, "loss"), points: h.map((e, i) => [e.epoch ?? i + 1, e.loss]) });
    if (h.some((e) => e.val_loss !== undefined && e.val_loss !== null)) {
      loss.push({ label: name(r, "val_loss"), points: h.map((e, i) => [e.epoch ?? i + 1, e.val_loss ?? null]) });
    }
    if (h.some((e) => e.val_metric !== undefined && e.val_metric !== null)) {
      metric.push({ label: name(r, "val_metric"), points: h.map((e, i) => [e.epoch ?? i + 1, e.val_metric ?? null]) });
    }
  }
  return { loss, metric };
}

export function RunCurves({ runs, compare = false }: { runs: Run[]; compare?: boolean }) {
  const { t } = useI18n();
  const { loss, metric } = useMemo(() => curvesOf(runs, compare), [runs, compare]);
  return (
    <div className="charts">
      {loss.length ? (
        <Chart title={t("curve")} testid="loss-chart" series={loss} xLabel={t("epoch")} yLabel={t("loss")} />
      ) : null}
      {metric.length ? (
        <Chart
          title={t("validationCurve")}
          testid="metric-chart"
          series={metric}
          xLabel={t("epoch")}
          yLabel={t("validationMetric")}
        />
      ) : null}
    </div>
  );
}

export function RunPage({ id }: { id: string }) {
  const { t, num, v, date } = useI18n();
  const invalidate = useInvalidate();
  const { job: run, error } = useJobPoll<Run & { status: string }>(
    `/api/v1/training/runs/${encodeURIComponent(id)}`,
    1000,
    () => void invalidate("/api/v1/training/runs", "/api/v1/models"),
  );
  if (!run && !error) return <Loading />;
  const history = run?.history ?? [];
  return (
    <>
      <p className="crumbs">
        <Link to="/training">{t("runs")}</Link> /
      </p>
      <h1 id="run-title">
        {run?.name ?? id} <span className="muted small">{v(run?.model)}</span>
      </h1>
      <ErrorNote error={error} />
      <section className="card" aria-live="polite" aria-labelledby="run-title">
        <ProgressBar value={run?.progress ?? 0} label={t("progress")} status={run?.status ? v(run.status) : undefined} />
        <p>
          {t("epochs")}: {num(run?.epochs ?? history.length)} · {t("time")}: {date(run?.created_at)}
          {run?.dataset?.id ? (
            <>
              {" · "}
              <Link to={`/datasets/${String(run.dataset.id)}`}>{t("dataset")}</Link>
            </>
          ) : null}
          {run?.version ? (
            <>
              {" · "}
              <Link to={`/models/${encodeURIComponent(run.name)}/versions/${run.version}`} data-testid="run-version">
                {run.name} v{num(run.version)}
              </Link>
            </>
          ) : null}
        </p>
        {run?.error ? <p className="error">{run.error}</p> : null}
        {run ? <RunCurves runs={[run]} /> : null}
      </section>
      {run?.metrics ? (
        <section className="card" aria-labelledby="run-metrics">
          <h2 id="run-metrics">{t("metrics")}</h2>
          <MetricsList metrics={run.metrics} />
        </section>
      ) : null}
      {run?.settings ? (
        <section className="card" aria-labelledby="run-params">
          <h2 id="run-params">{t("parameters")}</h2>
          <ParamsList params={run.settings} />
        </section>
      ) : null}
    </>
  );
}

const show = (value: unknown) =>
  value === null || value === undefined ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value);

function ParamsList({ params }: { params: Record<string, unknown> }) {
  return (
    <dl className="facts">
      {Object.entries(params).map(([k, value]) => (
        <div key={k} className="pair">
          <dt>{k}</dt>
          <dd>{show(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The datasets a run can train on: the datasets list for those who may read it, else the
 * datasets the user's own generation jobs made. */
function DatasetPicker({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const { t, num, date } = useI18n();
  const { can } = useAuth();
  const listed = can("datasets.read");
  // `/datasets` answers a bare list or a page `{items, next_cursor}`: both are read.
  const datasets = useApi<Dataset[] | Page<Dataset>>(listed ? "/api/v1/datasets" : null);
  const jobs = useApi<Page<Job>>(!listed && can("generation.jobs.read") ? "/api/v1/generation/jobs?limit=50" : null);
  const options = listed
    ? itemsOf(datasets.data).map((d) => ({
        id: d.id,
        text: `${d.profile} · n=${num(d.n)} · ${t("seed")} ${d.seed} · ${d.id.slice(0, 8)}`,
      }))
    : (jobs.data?.items ?? [])
        .filter((j) => j.status === "succeeded" && j.result?.dataset_id)
        .map((j) => ({
          id: String(j.result?.dataset_id),
          text: `${String(j.params.profile)} · n=${num(Number(j.params.n))} · ${date(j.created_at)} · ${String(j.result?.dataset_id).slice(0, 8)}`,
        }));
  return (
    <div className="field">
      <label htmlFor="r-dataset">{t("dataset")}</label>
      <select id="r-dataset" required value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{t("chooseDataset")}</option>
        {options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.text}
          </option>
        ))}
      </select>
      <ErrorNote error={datasets.error ?? jobs.error} />
    </div>
  );
}

function NewRun() {
  const { t, v } = useI18n();
  const { navigate } = useRouter();
  const invalidate = useInvalidate();
  const [name, setName] = useState("cox-ui");
  const [model, setModel] = useState("cox");
  const [source, setSource] = useState("dataset");
  const [datasetId, setDatasetId] = useState("");
  const [bootstrap, setBootstrap] = useState("200");
  const [seed, setSeed] = useState("0");
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const dataset = source === "dataset" ? { source, id: datasetId } : { source };
      const job = await api<Job>("/api/v1/training/runs", {
        method: "POST",
        json: { name, model, dataset, bootstrap: Number(bootstrap), seed: Number(seed) },
      });
      void invalidate("/api/v1/training/runs");
      navigate(`/training/runs/${job.id}`);
    } catch (exc) {
      setError(exc);
    }
  };
  return (
    <form className="card grid-form" onSubmit={submit} aria-labelledby="newrun-title">
      <h2 id="newrun-title" className="full">
        {t("newRun")}
      </h2>
      <div className="field">
        <label htmlFor="r-name">{t("runName")}</label>
        <input id="r-name" required pattern="[a-z0-9][a-z0-9._\-]*" value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="r-model">{t("model")}</label>
        <select id="r-model" value={model} onChange={(e) => setModel(e.target.value)}>
          {["cox", "deepsurv", "logistic_hazard", "pcr"].map((m) => (
            <option key={m} value={m}>
              {v(m)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="r-source">{t("datasetSource")}</label>
        <select id="r-source" value={source} onChange={(e) => setSource(e.target.value)}>
          <option value="dataset">{v("dataset")}</option>
          <option value="database">{v("database")}</option>
        </select>
      </div>
      {source === "dataset" ? <DatasetPicker value={datasetId} onChange={setDatasetId} /> : null}
      <div className="field">
        <label htmlFor="r-bootstrap">{t("bootstrap")}</label>
        <input
          id="r-bootstrap"
          type="number"
          min={0}
          max={2000}
          required
          value={bootstrap}
          onChange={(e) => setBootstrap(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="r-seed">{t("seed")}</label>
        <input id="r-seed" type="number" min={0} required value={seed} onChange={(e) => setSeed(e.target.value)} />
      </div>
      <div className="full actions">
        <ErrorNote error={error} />
        <button type="submit">{t("start")}</button>
      </div>
    </form>
  );
}

const column = createColumnHelper<Run>();

/** Runs as a table with a column per metric, sorting, search and selection for comparison. */
function RunsTable() {
  const { t, num, date, v } = useI18n();
  const { navigate } = useRouter();
  const runs = useApi<Page<Run>>("/api/v1/training/runs");
  const [sorting, setSorting] = useState<SortingState>([]);
  const [search, setSearch] = useState("");
  const [selected, setSelected] = useState<RowSelectionState>({});
  const data = useMemo(() => runs.data?.items ?? [], [runs.data]);
  const metricKeys = useMemo(
    () => KEY_METRICS.filter((k) => data.some((r) => r.metrics && k in r.metrics)),
    [data],
  );
  const columns = useMemo(
    () => [
      column.display({
        id: "select",
        header: () => <span className="sr-only">{t("select")}</span>,
        cell: ({ row }) => (
          <input
            type="checkbox"
            aria-label={`${t("select")} ${row.original.name} ${shortId(row.original.id)}`}
            checked={row.getIsSelected()}
            onChange={row.getToggleSelectedHandler()}
          />
        ),
      }),
      column.accessor("name", {
        header: t("runName"),
        cell: ({ row }) => <Link to={`/training/runs/${row.original.id}`}>{row.original.name}</Link>,
      }),
      column.accessor("model", { header: t("model"), cell: (c) => v(c.getValue()) }),
      column.accessor((r) => r.stage ?? r.status ?? "", { id: "status", header: t("status"), cell: (c) => v(c.getValue()) }),
      ...metricKeys.map((k) =>
        column.accessor((r) => r.metrics?.[k] ?? null, {
          id: k,
          header: k,
          sortUndefined: "last",
          cell: (c) => num(c.getValue(), { maximumFractionDigits: 3 }),
        }),
      ),
      column.accessor((r) => r.updated_at ?? "", { id: "updated", header: t("time"), cell: (c) => date(c.getValue()) }),
    ],
    [metricKeys, t, v, num, date],
  );
  const table = useReactTable({
    data,
    columns,
    state: { sorting, globalFilter: search, rowSelection: selected },
    getRowId: (r) => r.id,
    onSortingChange: setSorting,
    onGlobalFilterChange: setSearch,
    onRowSelectionChange: setSelected,
    globalFilterFn: (row, _id, value: string) =>
      [row.original.name, row.original.model, row.original.stage, row.original.id]
        .join(" ")
        .toLowerCase()
        .includes(value.toLowerCase()),
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    getFilteredRowModel: getFilteredRowModel(),
  });
  const ids = Object.keys(selected).filter((k) => selected[k]);
  return (
    <section className="card" aria-labelledby="runs-title">
      <h2 id="runs-title">{t("runs")}</h2>
      <div className="toolbar">
        <label htmlFor="runs-search">{t("search")}</label>
        <input id="runs-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        <button
          type="button"
          disabled={ids.length < 2}
          onClick={() => navigate(`/training/compare?ids=${ids.map(encodeURIComponent).join(",")}`)}
        >
          {t("compareSelected")} ({num(ids.length)})
        </button>
      </div>
      <ErrorNote error={runs.error} />
      <div className="scroll">
        <table data-testid="runs-table">
          <thead>
            {table.getHeaderGroups().map((g) => (
              <tr key={g.id}>
                {g.headers.map((h) => {
                  const sorted = h.column.getIsSorted();
                  return (
                    <th
                      key={h.id}
                      scope="col"
                      aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : undefined}
                    >
                      {h.column.getCanSort() ? (
                        <button type="button" className="link" onClick={h.column.getToggleSortingHandler()}>
                          {flexRender(h.column.columnDef.header, h.getContext())}
                          {sorted === "asc" ? " ▲" : sorted === "desc" ? " ▼" : ""}
                        </button>
                      ) : (
                        flexRender(h.column.columnDef.header, h.getContext())
                      )}
                    </th>
                  );
                })}
              </tr>
            ))}
          </thead>
          <tbody>
            {table.getRowModel().rows.map((row) => (
              <tr key={row.id}>
                {row.getVisibleCells().map((cell) => (
                  <td key={cell.id}>{flexRender(cell.column.columnDef.cell, cell.getContext())}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function ComparePage() {
  const { t } = useI18n();
  const { search } = useRouter();
  const ids = (new URLSearchParams(search).get("ids") ?? "").split(",").filter(Boolean);
  return (
    <>
      <p className="crumbs">
        <Link to="/training">{t("runs")}</Link> /
      </p>
      <h1>{t("compareTitle")}</h1>
      {ids.length < 2 ? <p>{t("compareHint")}</p> : null}
      <CompareBody ids={ids} />
    </>
  );
}

function CompareBody({ ids }: { ids: string[] }) {
  const { t, num } = useI18n();
  const one = (id: string) => `/api/v1/training/runs/${encodeURIComponent(id)}`;
  const a = useApi<Run>(ids[0] ? one(ids[0]) : null);
  const b = useApi<Run>(ids[1] ? one(ids[1]) : null);
  const c = useApi<Run>(ids[2] ? one(ids[2]) : null);
  const d = useApi<Run>(ids[3] ? one(ids[3]) : null);
  const runs = [a.data, b.data, c.data, d.data].filter((r): r is Run => Boolean(r));
  const error = a.error ?? b.error ?? c.error ?? d.error;
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics ?? {})))].sort((x, y) => {
    const ix = KEY_METRICS.indexOf(x);
    const iy = KEY_METRICS.indexOf(y);
    return (ix < 0 ? 99 : ix) - (iy < 0 ? 99 : iy) || x.localeCompare(y);
  });
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.settings ?? {})))].sort();
  const differs = (k: string) => new Set(runs.map((r) => show(r.settings?.[k]))).size > 1;
  const head = (
    <thead>
      <tr>
        <th scope="col">—</th>
        {runs.map((r) => (
          <th key={r.id} scope="col">
            <Link to={`/training/runs/${r.id}`}>{r.name}</Link> <span className="muted small">{shortId(r.id)}</span>
          </th>
        ))}
      </tr>
    </thead>
  );
  return (
    <>
      <ErrorNote error={error} />
      {ids.length > 4 ? <p className="note">{t("compareLimit")}</p> : null}
      <section className="card" aria-labelledby="cmp-metrics">
        <h2 id="cmp-metrics">{t("metrics")}</h2>
        <div className="scroll">
          <table data-testid="compare-metrics">
            {head}
            <tbody>
              {metricKeys.map((k) => {
                const values = runs.map((r) => r.metrics?.[k]);
                const finite = values.filter((x): x is number => typeof x === "number");
                const best = k.startsWith("brier") || k.startsWith("calibration") ? Math.min(...finite) : Math.max(...finite);
                return (
                  <tr key={k}>
                    <th scope="row">{k}</th>
                    {values.map((x, i) => (
                      <td key={runs[i].id} className={new Set(finite).size > 1 && x === best ? "best" : undefined}>
                        {num(x, { maximumFractionDigits: 3 })}
                      </td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
      <section className="card" aria-labelledby="cmp-params">
        <h2 id="cmp-params">{t("parameters")}</h2>
        <div className="scroll">
          <table data-testid="compare-params">
            {head}
            <tbody>
              {paramKeys.map((k) => (
                <tr key={k} className={differs(k) ? "differs" : undefined}>
                  <th scope="row">{k}</th>
                  {runs.map((r) => (
                    <td key={r.id}>{show(r.settings?.[k])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section className="card" aria-labelledby="cmp-curves">
        <h2 id="cmp-curves">{t("curves")}</h2>
        <RunCurves runs={runs} compare />
      </section>
    </>
  );
}

export function TrainingPage() {
  const { t } = useI18n();
  const { can } = useAuth();
  return (
    <>
      <h1>{t("trainingTitle")}</h1>
      {can("training.jobs.manage") ? <NewRun /> : null}
      {can("training.jobs.read") ? <RunsTable /> : null}
      {can("models.read") ? <Registry /> : null}
    </>
  );
}
