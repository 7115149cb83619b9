import { useAuth } from "../auth";
import { useI18n } from "../i18n";
import { allowedNav } from "../nav";
import { Link } from "../router";

export function HomePage() {
  const { t } = useI18n();
  const { me } = useAuth();
  return (
    <>
      <h1>{t("homeTitle")}</h1>
      <p>{t("homeIntro")}</p>
      <ul className="tiles">
        {allowedNav(me?.permissions ?? []).map((item) => (
          <li key={item.to}>
            <Link to={item.to}>{t(item.label)}</Link>
          </li>
        ))}
      </ul>
    </>
  );
}
