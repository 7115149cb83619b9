import { useEffect } from "react";
import { useAuth } from "./auth";
import { LanguageSwitch } from "./components/LanguageSwitch";
import { LoginForm } from "./components/LoginForm";
import { Loading } from "./components/Status";
import { useI18n } from "./i18n";
import { allowedNav } from "./nav";
import { AuditPage } from "./pages/Audit";
import { CohortPage } from "./pages/Cohort";
import { CollectionPage } from "./pages/Collection";
import { GenerationPage } from "./pages/Generation";
import { HomePage } from "./pages/Home";
import { PatientCreatePage } from "./pages/PatientCreate";
import { PatientDetailPage } from "./pages/PatientDetail";
import { PatientsPage } from "./pages/Patients";
import { TrainingPage } from "./pages/Training";
import { Link, useRouter } from "./router";

function Page({ path }: { path: string }) {
  const { t } = useI18n();
  const { can } = useAuth();
  if (path === "/" || path === "") return <HomePage />;
  if (path === "/patients/new" && can("patients.write")) return <PatientCreatePage />;
  if (path === "/patients" && can("patients.read")) return <PatientsPage />;
  const detail = /^\/patients\/([^/]+)$/.exec(path);
  if (detail && can("patients.read")) return <PatientDetailPage id={decodeURIComponent(detail[1])} />;
  if (path === "/cohort" && can("patients.read")) return <CohortPage />;
  if (path === "/generation" && can("generation.jobs.manage", "generation.jobs.read"))
    return <GenerationPage />;
  if (path === "/collection" && can("collection.jobs.manage", "collection.jobs.read"))
    return <CollectionPage />;
  if (path === "/training" && can("training.jobs.read", "models.read")) return <TrainingPage />;
  if (path === "/audit" && can("audit.read")) return <AuditPage />;
  return <h1>{t("notFound")}</h1>;
}

export function App() {
  const { t } = useI18n();
  const { me, ready, login, logout } = useAuth();
  const { path, navigate } = useRouter();

  useEffect(() => {
    if (ready && !me && path !== "/login") navigate("/login");
    if (ready && me && path === "/login") navigate("/");
  }, [ready, me, path, navigate]);

  return (
    <>
      <a className="skip-link" href="#main">
        {t("skipToContent")}
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          {t("appName")}
        </Link>
        <LanguageSwitch />
        {me ? (
          <div className="who">
            <span>
              {t("signedInAs")} <strong data-testid="username">{me.username}</strong> ({me.roles.join(", ")})
            </span>
            <button type="button" className="secondary" onClick={() => void logout()}>
              {t("logout")}
            </button>
          </div>
        ) : null}
      </header>
      <div className="layout">
        {me ? (
          <nav aria-label={t("navMain")} className="sidenav">
            <ul>
              <li>
                <Link to="/">{t("navHome")}</Link>
              </li>
              {allowedNav(me.permissions).map((item) => (
                <li key={item.to}>
                  <Link to={item.to}>{t(item.label)}</Link>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        <main id="main" tabIndex={-1}>
          {!ready ? <Loading /> : me ? <Page path={path} /> : <LoginForm onLogin={login} />}
        </main>
      </div>
    </>
  );
}
