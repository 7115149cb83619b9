import { useState } from "react";
import type { FormEvent } from "react";
import { useI18n } from "../i18n";

/** Changes the signed-in user's own password: the current one, a new one typed twice. `forced`:
 * the account's password is one-time, and nothing else opens until it is changed. */
export function PasswordForm({
  onChange,
  forced = false,
}: {
  onChange: (current: string, next: string) => Promise<void>;
  forced?: boolean;
}) {
  const { t } = useI18n();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setDone(false);
    if (next !== again) {
      setError(t("passwordMismatch"));
      return;
    }
    setBusy(true);
    try {
      await onChange(current, next);
      setDone(true);
      setCurrent("");
      setNext("");
      setAgain("");
    } catch (exc) {
      setError(exc instanceof Error ? exc.message : String(exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card login" onSubmit={submit} aria-labelledby="password-title">
      <h1 id="password-title">{t("changePasswordTitle")}</h1>
      {forced ? (
        <p className="note" data-testid="password-one-time">
          {t("passwordOneTime")}
        </p>
      ) : null}
      <label htmlFor="password-current">{t("currentPassword")}</label>
      <input
        id="password-current"
        name="current-password"
        type="password"
        autoComplete="current-password"
        required
        value={current}
        onChange={(e) => setCurrent(e.target.value)}
      />
      <label htmlFor="password-new">{t("newPassword")}</label>
      <input
        id="password-new"
        name="new-password"
        type="password"
        autoComplete="new-password"
        required
        minLength={12}
        aria-describedby="password-rules"
        value={next}
        onChange={(e) => setNext(e.target.value)}
      />
      <p id="password-rules" className="note">
        {t("passwordRules")}
      </p>
      <label htmlFor="password-again">{t("confirmPassword")}</label>
      <input
        id="password-again"
        name="confirm-password"
        type="password"
        autoComplete="new-password"
        required
        value={again}
        onChange={(e) => setAgain(e.target.value)}
      />
      {error ? (
        <p role="alert" className="error">
          {t("passwordNotChanged")}: {error}
        </p>
      ) : null}
      {done ? (
        <p role="status" data-testid="password-changed">
          {t("passwordChanged")}
        </p>
      ) : null}
      <button type="submit" disabled={busy}>
        {busy ? t("changingPassword") : t("changePasswordButton")}
      </button>
    </form>
  );
}
