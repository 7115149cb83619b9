import { Suspense, lazy, useEffect } from "react";
import { Route, Switch } from "wouter";
import { useAuth } from "./auth";
import { LanguageSwitch } from "./components/LanguageSwitch";
import { LoginForm } from "./components/LoginForm";
import { Loading } from "./components/Status";
import { useI18n } from "./i18n";
import { allowedNav } from "./nav";
import { AuditPage } from "./pages/Audit";
import { CollectionPage } from "./pages/Collection";
import { ForbiddenPage } from "./pages/Forbidden";
import { DatasetPage, GenerationPage } from "./pages/Generation";
import { HomePage } from "./pages/Home";
import { PatientCreatePage } from "./pages/PatientCreate";
import { PatientDetailPage } from "./pages/PatientDetail";
import { PASSWORD_PATH, PasswordPage } from "./pages/Password";
import { PatientsPage } from "./pages/Patients";
import { Link, useRouter } from "./router";
import { ruleOf } from "./routes";

// The pages with charts and the runs table load when first opened (a smaller first download).
const CohortPage = lazy(() => import("./pages/Cohort").then((m) => ({ default: m.CohortPage })));
const TrainingPage = lazy(() => import("./pages/Training").then((m) => ({ default: m.TrainingPage })));
const RunPage = lazy(() => import("./pages/Training").then((m) => ({ default: m.RunPage })));
const ComparePage = lazy(() => import("./pages/Training").then((m) => ({ default: m.ComparePage })));
const ModelsPage = lazy(() => import("./pages/Models").then((m) => ({ default: m.ModelsPage })));
const ModelPage = lazy(() => import("./pages/Models").then((m) => ({ default: m.ModelPage })));
const VersionPage = lazy(() => import("./pages/Models").then((m) => ({ default: m.VersionPage })));
const PrivacyReportPage = lazy(() => import("./pages/PrivacyReport").then((m) => ({ default: m.PrivacyReportPage })));

function Page({ path }: { path: string }) {
  const { t } = useI18n();
  const { me, can } = useAuth();
  // a one-time password: nothing else opens until it is changed (the API refuses the rest too)
  if (path === PASSWORD_PATH || me?.must_change_password) return <PasswordPage />;
  if (path === "/" || path === "") return <HomePage />;
  const rule = ruleOf(path);
  if (!rule) return <h1>{t("notFound")}</h1>;
  if (!can(...rule.anyOf)) return <ForbiddenPage permissions={rule.anyOf} />;
  return (
    <Suspense fallback={<Loading />}>
      <Switch>
        <Route path="/patients/new" component={PatientCreatePage} />
        <Route path="/patients">{() => <PatientsPage />}</Route>
        <Route path="/patients/:id">{(p) => <PatientDetailPage id={decodeURIComponent(p.id)} />}</Route>
        <Route path="/cohort" component={CohortPage} />
        <Route path="/generation">{() => <GenerationPage />}</Route>
        <Route path="/generation/jobs/:id">{(p) => <GenerationPage jobId={decodeURIComponent(p.id)} />}</Route>
        <Route path="/generation/fitted">{() => <PrivacyReportPage />}</Route>
        <Route path="/generation/fitted/:name">{(p) => <PrivacyReportPage name={decodeURIComponent(p.name)} />}</Route>
        <Route path="/datasets/:id">{(p) => <DatasetPage id={decodeURIComponent(p.id)} />}</Route>
        <Route path="/collection">{() => <CollectionPage />}</Route>
        <Route path="/collection/jobs/:id">{(p) => <CollectionPage jobId={decodeURIComponent(p.id)} />}</Route>
        <Route path="/training" component={TrainingPage} />
        <Route path="/training/runs/:id">{(p) => <RunPage id={decodeURIComponent(p.id)} />}</Route>
        <Route path="/training/compare" component={ComparePage} />
        <Route path="/models" component={ModelsPage} />
        <Route path="/models/:name">{(p) => <ModelPage name={decodeURIComponent(p.name)} />}</Route>
        <Route path="/models/:name/versions/:version">
          {(p) => <VersionPage name={decodeURIComponent(p.name)} version={Number(p.version)} />}
        </Route>
        <Route path="/audit" component={AuditPage} />
        <Route>{() => <h1>{t("notFound")}</h1>}</Route>
      </Switch>
    </Suspense>
  );
}

export function App() {
  const { t, v } = useI18n();
  const { me, ready, login, logout } = useAuth();
  const { path, navigate } = useRouter();

  useEffect(() => {
    if (ready && !me && path !== "/login") navigate(`/login`);
    if (ready && me?.must_change_password && path !== PASSWORD_PATH) navigate(PASSWORD_PATH);
    else if (ready && me && path === "/login") navigate("/");
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
              {t("signedInAs")} <strong data-testid="username">{me.username}</strong> (
              {me.roles.map((r) => v(r)).join(", ")})
            </span>
            <Link to={PASSWORD_PATH} data-testid="change-password">
              {t("changePasswordLink")}
            </Link>
            <button type="button" className="secondary" onClick={() => void logout()}>
              {t("logout")}
            </button>
          </div>
        ) : null}
      </header>
      <div className="layout">
        {me && !me.must_change_password ? (
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
