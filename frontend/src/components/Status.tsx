import { useI18n } from "../i18n";

export function Loading() {
  const { t } = useI18n();
  return <p role="status">{t("loading")}</p>;
}

export function ErrorNote({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const text = error instanceof Error ? error.message : String(error);
  return (
    <p role="alert" className="error">
      {t("error")}: {text}
    </p>
  );
}
