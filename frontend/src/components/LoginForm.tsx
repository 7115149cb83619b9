import { useState } from "react";
import type { FormEvent } from "react";
import { useI18n } from "../i18n";

export function LoginForm({ onLogin }: { onLogin: (username: string, password: string) => Promise<void> }) {
  const { t } = useI18n();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onLogin(username.trim(), password);
    } catch (exc) {
      setError(exc instanceof Error ? exc.message : String(exc));
      setBusy(false);
    }
  };

  return (
    <form className="card login" onSubmit={submit} aria-labelledby="login-title">
      <h1 id="login-title">{t("loginTitle")}</h1>
      <label htmlFor="login-username">{t("username")}</label>
      <input
        id="login-username"
        name="username"
        autoComplete="username"
        required
        value={username}
        onChange={(e) => setUsername(e.target.value)}
      />
      <label htmlFor="login-password">{t("password")}</label>
      <input
        id="login-password"
        name="password"
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      {error ? (
        <p role="alert" className="error">
          {t("loginFailed")}: {error}
        </p>
      ) : null}
      <button type="submit" disabled={busy}>
        {busy ? t("loggingIn") : t("loginButton")}
      </button>
    </form>
  );
}
