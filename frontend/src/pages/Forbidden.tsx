import { useAuth } from "../auth";
import { useI18n } from "../i18n";
import { Link } from "../router";

/** A page the user's roles cannot open: says so and names the permission it needs. */
export function ForbiddenPage({ permissions }: { permissions: string[] }) {
  const { t, v } = useI18n();
  const { me } = useAuth();
  return (
    <section aria-labelledby="forbidden-title" data-testid="forbidden">
      <h1 id="forbidden-title">{t("forbiddenTitle")}</h1>
      <p>
        {t("forbiddenNeeds")}{" "}
        {permissions.map((p, i) => (
          <span key={p}>
            {i > 0 ? ` ${t("or")} ` : ""}
            <code data-testid="needed-permission">{p}</code>
          </span>
        ))}
        .
      </p>
      <p>
        {t("yourRoles")}: {(me?.roles ?? []).map((r) => v(r)).join(", ") || "—"}. {t("askAdmin")}
      </p>
      <p>
        <Link to="/">{t("backHome")}</Link>
      </p>
    </section>
  );
}
