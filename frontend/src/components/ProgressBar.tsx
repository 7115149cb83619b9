import { useI18n } from "../i18n";

/** A job's progress (0..1) as an accessible progress bar with its percentage. */
export function ProgressBar({ value, label, status }: { value: number; label: string; status?: string }) {
  const { pct, t } = useI18n();
  const clamped = Math.max(0, Math.min(1, Number.isFinite(value) ? value : 0));
  const percent = Math.round(clamped * 100);
  return (
    <div className="progress">
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={pct(clamped)}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <span className="progress-text" data-testid="progress-text">
        {pct(clamped)}
        {status ? ` · ${t("status")}: ${status}` : ""}
      </span>
    </div>
  );
}
