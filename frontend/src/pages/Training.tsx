import { useState } from "react";
import type { FormEvent } from "react";
import { api, ApiError, request } from "../api";
import { useAuth } from "../auth";
import { LineChart } from "../components/LineChart";
import { ProgressBar } from "../components/ProgressBar";
import { ErrorNote } from "../components/Status";
import { useApi, useJobPoll } from "../hooks";
import { useI18n } from "../i18n";
import type { Job } from "../types";

interface Run {
  id: string;
  name: string;
  model: string;
  status?: string;
  stage?: string;
  progress?: number;
  epochs?: number;
  history?: { epoch: number; loss: number; val_loss?: number; val_metric?: number }[];
  metrics?: Record<string, number>;
  version?: number | null;
  error?: string | null;
  updated_at?: string;
}
interface ModelEntry {
  name: string;
  versions: number;
  production: number | null;
  latest: number;
}
interface Card {
  name: string;
  version: number;
  stage: string;
  kind: string;
  created_at: string;
  metrics: Record<string, number>;
}
interface Gate {
  gate: string;
  passed: boolean;
  detail: string;
}

const KEY_METRICS = ["c_index", "c_index_lower", "c_index_upper", "oracle_c_index", "auc_12m", "brier_36m", "auc"];

function Metrics({ metrics }: { metrics: Record<string, number> }) {
  const { num } = useI18n();
  const keys = KEY_METRICS.filter((k) => k in metrics);
  return (
    <dl className="facts">
      {keys.map((k) => (
        <div key={k} className="pair">
          <dt>{k}</dt>
          <dd>{num(metrics[k], { maximumFractionDigits: 3 })}</dd>
        </div>
      ))}
    </dl>
  );
}

function RunView({ id, onDone }: { id: string; onDone: () => void }) {
  const { t, num } = useI18n();
  const { job: run, error } = useJobPoll<Run & { status: string }>(
    `/api/v1/training/runs/${encodeURIComponent(id)}`,
    1000,
    onDone,
  );
  const history = run?.history ?? [];
  return (
    <section className="card" aria-live="polite" aria-labelledby="run-title">
      <h2 id="run-title">
        {run?.name ?? id} <span className="muted small">{run?.model}</span>
      </h2>
      <ProgressBar value={run?.progress ?? 0} label={t("progress")} status={run?.status} />
      <p>
        {t("epochs")}: {num(run?.epochs ?? history.length)}
        {run?.version ? ` · ${t("version")} ${num(run.version)}` : ""}
      </p>
      <ErrorNote error={error} />
      {run?.error ? <p className="error">{run.error}</p> : null}
      {history.length ? (
        <LineChart
          title={t("curve")}
          series={[
            { name: "loss", values: history.map((h) => h.loss), className: "s1" },
            { name: "val_metric", values: history.map((h) => h.val_metric ?? null), className: "s2" },
          ]}
        />
      ) : null}
      {run?.metrics ? <Metrics metrics={run.metrics} /> : null}
    </section>
  );
}

function NewRun({ onStarted }: { onStarted: (id: string) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState("cox-ui");
  const [model, setModel] = useState("cox");
  const [source, setSource] = useState("dataset");
  const [datasetId, setDatasetId] = useState("");
  const [bootstrap, setBootstrap] = useState("200");
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const dataset = source === "dataset" ? { source, id: datasetId } : { source };
      const job = await api<Job>("/api/v1/training/runs", {
        method: "POST",
        json: { name, model, dataset, bootstrap: Number(bootstrap) },
      });
      onStarted(job.id);
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
            <option key={m}>{m}</option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="r-source">{t("datasetSource")}</label>
        <select id="r-source" value={source} onChange={(e) => setSource(e.target.value)}>
          <option value="dataset">dataset</option>
          <option value="database">database</option>
        </select>
      </div>
      {source === "dataset" ? (
        <div className="field">
          <label htmlFor="r-dataset">{t("datasetId")}</label>
          <input id="r-dataset" required value={datasetId} onChange={(e) => setDatasetId(e.target.value)} />
        </div>
      ) : null}
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
      <div className="full actions">
        <ErrorNote error={error} />
        <button type="submit">{t("start")}</button>
      </div>
    </form>
  );
}

function VersionCard({ name, version }: { name: string; version: number }) {
  const { t, num, date } = useI18n();
  const { can } = useAuth();
  const base = `/api/v1/models/${encodeURIComponent(name)}/versions/${version}`;
  const card = useApi<Card>(base);
  const [markdown, setMarkdown] = useState<string | null>(null);
  const [allowSynthetic, setAllowSynthetic] = useState(false);
  const [reason, setReason] = useState("");
  const [gates, setGates] = useState<Gate[] | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const promote = async () => {
    setError(null);
    setOutcome(null);
    try {
      await api(`${base}/promote`, { method: "POST", json: { allow_synthetic: allowSynthetic, reason } });
      setGates(null);
      setOutcome(t("promoted"));
      card.reload();
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 409 && Array.isArray(exc.body.gates)) {
        setGates(exc.body.gates as Gate[]);
      }
      setError(exc);
    }
  };
  const showCard = async () => setMarkdown(await (await request(`${base}/card.md`)).text());

  return (
    <section className="card" aria-labelledby="card-title">
      <h3 id="card-title">
        {t("modelCard")}: {name} v{num(version)}
      </h3>
      <ErrorNote error={card.error} />
      {card.data ? (
        <>
          <p>
            {card.data.kind} · {card.data.stage} · {date(card.data.created_at)}
          </p>
          <Metrics metrics={card.data.metrics} />
        </>
      ) : null}
      <button type="button" className="secondary" onClick={() => void showCard()}>
        {t("modelCard")} (Markdown)
      </button>
      {markdown ? <pre className="markdown">{markdown}</pre> : null}
      {can("models.promote") ? (
        <div className="promote">
          <label className="inline">
            <input type="checkbox" checked={allowSynthetic} onChange={(e) => setAllowSynthetic(e.target.checked)} />{" "}
            {t("allowSynthetic")}
          </label>
          <label htmlFor="promote-reason">{t("reason")}</label>
          <input id="promote-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
          <button type="button" onClick={() => void promote()}>
            {t("promote")}
          </button>
        </div>
      ) : null}
      {outcome ? <p role="status" className="ok">{outcome}</p> : null}
      <ErrorNote error={error} />
      {gates ? (
        <table data-testid="gates">
          <caption>{t("gates")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("gate")}</th>
              <th scope="col">{t("status")}</th>
              <th scope="col">{t("detail")}</th>
            </tr>
          </thead>
          <tbody>
            {gates.map((g) => (
              <tr key={g.gate}>
                <th scope="row">{g.gate}</th>
                <td className={g.passed ? "ok" : "bad"}>{g.passed ? t("passed") : t("failed")}</td>
                <td>{g.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function Registry() {
  const { t, num } = useI18n();
  const models = useApi<ModelEntry[]>("/api/v1/models");
  const [chosen, setChosen] = useState<{ name: string; version: number } | null>(null);
  return (
    <section className="card" aria-labelledby="registry-title">
      <h2 id="registry-title">{t("registry")}</h2>
      <ErrorNote error={models.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">{t("model")}</th>
            <th scope="col">{t("versions")}</th>
            <th scope="col">{t("production")}</th>
            <th scope="col">{t("latest")}</th>
          </tr>
        </thead>
        <tbody>
          {(models.data ?? []).map((m) => (
            <tr key={m.name}>
              <th scope="row">{m.name}</th>
              <td>{num(m.versions)}</td>
              <td>{m.production ? num(m.production) : "—"}</td>
              <td>
                <button type="button" className="link" onClick={() => setChosen({ name: m.name, version: m.latest })}>
                  v{num(m.latest)}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {chosen ? <VersionCard key={`${chosen.name}:${chosen.version}`} {...chosen} /> : null}
    </section>
  );
}

export function TrainingPage() {
  const { t, date } = useI18n();
  const { can } = useAuth();
  const runs = useApi<Run[]>(can("training.jobs.read") ? "/api/v1/training/runs" : null);
  const [current, setCurrent] = useState<string | null>(null);
  const [registryKey, setRegistryKey] = useState(0);
  const finished = () => {
    runs.reload();
    setRegistryKey((k) => k + 1);
  };
  return (
    <>
      <h1>{t("trainingTitle")}</h1>
      {can("training.jobs.manage") ? (
        <NewRun
          onStarted={(id) => {
            setCurrent(id);
            runs.reload();
          }}
        />
      ) : null}
      {current ? <RunView key={current} id={current} onDone={finished} /> : null}
      {can("training.jobs.read") ? (
        <section className="card" aria-labelledby="runs-title">
          <h2 id="runs-title">{t("runs")}</h2>
          <ErrorNote error={runs.error} />
          <table>
            <thead>
              <tr>
                <th scope="col">{t("runName")}</th>
                <th scope="col">{t("model")}</th>
                <th scope="col">{t("status")}</th>
                <th scope="col">{t("time")}</th>
              </tr>
            </thead>
            <tbody>
              {(runs.data ?? []).map((r) => (
                <tr key={r.id}>
                  <td>
                    <button type="button" className="link" onClick={() => setCurrent(r.id)}>
                      {r.name}
                    </button>
                  </td>
                  <td>{r.model}</td>
                  <td>{r.stage ?? r.status}</td>
                  <td>{date(r.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
      {can("models.read") ? <Registry key={registryKey} /> : null}
    </>
  );
}
