// End-to-end: the built dashboard served by `inescape serve`, driven in the system Chromium.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT, startServer } from "./server.mjs";
import { CHROMIUM, SHOTS, TIMEOUT, login, newPage, results, shot, step } from "./browser.mjs";
import { STEWARD, privacyFlow } from "./privacy.mjs";

const PATIENT = {
  given: "Parvin",
  family: "Golestani",
  mrn: "MRN-E2E-4711",
  birth: "1958-04-17",
  diagnosis: "2024-03-05",
};

// A function, not a string: the page's CSP forbids evaluating strings.
const progressAt = ([label, value]) =>
  document.querySelector(`[role="progressbar"][aria-label="${label}"]`)?.getAttribute("aria-valuenow") === value;

const nav = (page) => page.getByRole("navigation", { name: "Main" });

async function assertRoleHome(page, role, nextStep, tile) {
  await page.goto("/");
  await page.getByTestId("home-role").filter({ hasText: role }).waitFor();
  await page.getByTestId("next-steps").getByRole("link", { name: nextStep }).waitFor();
  await page.getByTestId(tile).waitFor();
}

async function assertForbidden(page, path, permission) {
  await page.goto(path);
  await page.getByRole("heading", { name: "Not allowed" }).waitFor();
  const named = await page.getByTestId("needed-permission").allInnerTexts();
  assert.ok(named.includes(permission), `${path} names ${named.join(", ")}, not ${permission}`);
  assert.equal(await page.getByText("Page not found").count(), 0);
}

async function startRun(page, name, datasetId, seed) {
  await nav(page).getByRole("link", { name: "Training and models" }).click();
  await page.getByLabel("Run name").fill(name);
  await page.getByLabel("Model", { exact: true }).selectOption("cox");
  await page.getByLabel("Data source").selectOption("dataset");
  // a picker of the datasets, not a free-text id
  await page.getByLabel("Dataset", { exact: true }).selectOption(datasetId);
  await page.getByLabel("Bootstrap resamples").fill("10");
  await page.getByLabel("Seed").fill(String(seed));
  await page.getByRole("button", { name: "Start" }).click();
  await page.waitForURL(/\/training\/runs\/[^/]+$/);
  const runId = new URL(page.url()).pathname.split("/").pop();
  await page.waitForFunction(progressAt, ["Progress", "100"], { timeout: 240_000 });
  await page.getByTestId("loss-chart").locator("canvas").first().waitFor();
  return runId;
}

async function adminFlow(browser, url, problems) {
  const { context, page } = await newPage(browser, url, problems);
  await step("admin logs in and sees only the sections admins may use", async () => {
    await login(page, "e2e-admin");
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Synthetic cohorts" }).waitFor();
    assert.equal(await nav.getByRole("link", { name: "Audit log" }).count(), 1);
    assert.equal(await nav.getByRole("link", { name: "Patients" }).count(), 0, "admins have no patients.read");
  });
  await step("an admin lands on a home page of what admins do, and /patients names the permission", async () => {
    await assertRoleHome(page, "admin", "Generate a synthetic cohort", "count-models");
    await shot(page, "home-admin");
    await assertForbidden(page, "/patients", "patients.read");
    await shot(page, "forbidden");
  });
  await step("a generation job's progress reaches 100%", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Synthetic cohorts" }).click();
    await page.getByLabel("Profile").selectOption("us-seer");
    // enough patients for a model that passes the discrimination and calibration gates
    await page.getByLabel("Number of patients").fill("2500");
    await page.getByLabel("Seed").fill("11");
    await page.getByRole("button", { name: "Submit" }).click();
    await page.waitForURL(/\/generation\/jobs\/[^/]+$/);
    const bar = page.getByRole("progressbar", { name: "Progress" });
    await bar.waitFor();
    await page.waitForFunction(
      () => document.querySelector('[role="progressbar"]')?.getAttribute("aria-valuenow") === "100",
      null,
      { timeout: 120_000 },
    );
    await page.getByText("succeeded").first().waitFor();
    await shot(page, "generation");
  });
  const datasetId = (await page.locator("#job-title code").innerText()).trim();
  await step("an upload shows its progress, then the job's, and its rejects download", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Data collection" }).click();
    await page.getByLabel("File", { exact: true }).setInputFiles({
      name: "patients.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("id,sex,dob\nA1,female,1950-02-03\nA2,not-a-sex,1951-01-01\n"),
    });
    await page.getByLabel("Format").selectOption("csv");
    await page.getByLabel("Source name", { exact: true }).first().fill("e2e-upload");
    // the mapping editor reads the file's columns and previews the first rows as mapped
    const editor = page.getByTestId("mapping-editor");
    await editor.getByLabel("id", { exact: true }).selectOption("source_record_id");
    await editor.getByLabel("dob", { exact: true }).selectOption("birth_date");
    assert.equal(await editor.getByLabel("sex", { exact: true }).inputValue(), "sex", "same-named columns are guessed");
    const preview = page.getByTestId("mapping-preview");
    await preview.getByRole("cell", { name: "1950-02-03" }).waitFor();
    await preview.getByRole("columnheader", { name: "birth_date" }).waitFor();
    await shot(page, "collection-mapping");
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await page.waitForURL(/\/collection\/jobs\/[^/]+$/);
    await page.waitForFunction(progressAt, ["Upload progress", "100"]);
    await page.waitForFunction(progressAt, ["Job progress", "100"], { timeout: 60_000 });
    const [file] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Rejects (CSV)" }).click(),
    ]);
    const rejects = readFileSync(await file.path(), "utf8");
    assert.match(rejects, /A2/, `rejects: ${rejects}`);
    await shot(page, "collection");
  });
  await step("a connector's collection is scheduled from its form; a bad cron is refused naming it", async () => {
    const form = page.getByRole("form", { name: "Collect from a connector" });
    await form.getByLabel("Connector").selectOption("cbioportal");
    await form.getByLabel("Source name").fill("e2e-cbio");
    await form.getByLabel("study_id (optional)").fill("esca_tcga");
    await form.getByLabel("Schedule (cron, UTC) (optional)").fill("every night");
    await form.getByRole("button", { name: "Schedule" }).click();
    await form.getByRole("alert").filter({ hasText: /cron/ }).waitFor();
    assert.equal(await page.getByTestId("schedules").count(), 0, "a refused schedule is not stored");
    await form.getByLabel("Schedule (cron, UTC) (optional)").fill("0 2 * * *");
    await form.getByRole("button", { name: "Schedule" }).click();
    await form.getByRole("status").filter({ hasText: "Schedule saved" }).waitFor();
    const row = page.getByTestId("schedules").getByRole("row").filter({ hasText: "e2e-cbio" });
    await row.getByText("0 2 * * *").waitFor();
    await shot(page, "collection-schedule");
    await row.getByRole("button", { name: "Remove" }).click();
    await page.getByTestId("schedules").waitFor({ state: "detached" });
  });
  let firstRun = "";
  let secondRun = "";
  await step("a training run draws loss and validation curves with axes on its own page", async () => {
    firstRun = await startRun(page, "e2e-cox", datasetId, 0);
    await page.getByTestId("metrics").getByText("c_index", { exact: true }).waitFor();
    await shot(page, "run");
    // the run's page is an address: opened afresh it shows the same run
    await page.goto(`/training/runs/${firstRun}`);
    await page.getByRole("heading", { name: /e2e-cox/ }).waitFor();
  });
  await step("two runs are compared: metrics, parameters and curves on shared axes", async () => {
    secondRun = await startRun(page, "e2e-cox", datasetId, 3);
    await nav(page).getByRole("link", { name: "Training and models" }).click();
    const table = page.getByTestId("runs-table");
    await table.getByRole("columnheader", { name: "c_index", exact: true }).waitFor();
    await page.getByLabel("Search").fill("e2e-cox");
    await table.getByRole("checkbox", { name: new RegExp(`${firstRun.slice(-8)}$`) }).check();
    await table.getByRole("checkbox", { name: new RegExp(`${secondRun.slice(-8)}$`) }).check();
    await page.getByRole("button", { name: /Compare selected/ }).click();
    await page.waitForURL(/\/training\/compare\?ids=/);
    const metrics = page.getByTestId("compare-metrics");
    await metrics.getByRole("rowheader", { name: "c_index", exact: true }).waitFor();
    assert.equal(await metrics.getByRole("columnheader").count(), 3, "a column per run beside the names");
    await page.getByTestId("compare-params").getByRole("rowheader", { name: "bootstrap" }).waitFor();
    await page.getByTestId("loss-chart").locator("canvas").first().waitFor();
    await shot(page, "compare");
  });
  await step("the version page shows the gates; promotion from it ends with the version in production", async () => {
    await page.goto(`/training/runs/${secondRun}`);
    await page.getByTestId("run-version").click();
    await page.getByRole("heading", { name: /Model card: e2e-cox v2/ }).waitFor();
    const gates = page.getByTestId("gates");
    await gates.getByRole("rowheader", { name: "clinical_data" }).waitFor();
    await page.getByRole("img", { name: /Calibration/ }).waitFor();
    await page.getByTestId("horizon-chart").locator("canvas").first().waitFor();
    await page.getByRole("button", { name: "Promote" }).click();
    await page.getByRole("alert").filter({ hasText: "clinical_data" }).waitFor();
    await page.getByLabel("Allow synthetic training data").check();
    await page.getByLabel("Reason").fill("e2e demonstration");
    await page.getByRole("button", { name: "Promote" }).click();
    await page.getByTestId("version-stage").filter({ hasText: "production" }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Promote" }).count(), 0, "no Promote on the production version");
    await page.getByTestId("in-production").waitFor();
    await page.getByTestId("stage-history").getByRole("cell", { name: "e2e demonstration" }).waitFor();
    await shot(page, "model-version");
  });
  await step("the audit log shows the events", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit log" }).click();
    await page.getByTestId("audit-table").getByText("generation.job_submitted").first().waitFor();
    await shot(page, "audit");
  });
  await context.close();
}

async function clinicianFlow(browser, url, problems) {
  const { context, page } = await newPage(browser, url, problems);
  let patientPath = "";
  await step("clinician creates a patient through the form", async () => {
    await login(page, "e2e-clinician");
    await assertRoleHome(page, "clinician", "Record a new patient", "count-patients");
    await shot(page, "home-clinician");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "New patient" }).click();
    await page.getByLabel("Sex").selectOption("female");
    await page.getByLabel("Birth date").fill(PATIENT.birth);
    await page.getByLabel("Given name (optional)").fill(PATIENT.given);
    await page.getByLabel("Family name (optional)").fill(PATIENT.family);
    await page.getByLabel("MRN (optional)").fill(PATIENT.mrn);
    await page.getByLabel("Diagnosis date").fill(PATIENT.diagnosis);
    await page.getByLabel("Histology").selectOption("squamous_cell_carcinoma");
    await page.getByLabel("Location").selectOption("middle");
    await page.getByLabel("T category").selectOption("T3");
    await page.getByLabel("N category").selectOption("N1");
    await page.getByLabel("M category").selectOption("M1");
    await page.getByLabel("ECOG performance status (optional)").selectOption("1");
    await page.getByLabel("PD-L1 CPS (optional)").fill("10");
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/\/patients\/[0-9a-f-]{36}$/);
    patientPath = new URL(page.url()).pathname;
  });
  await step("the patient page shows the timeline, stage and recommendations", async () => {
    await page.getByTestId("patient-name").filter({ hasText: `${PATIENT.given} ${PATIENT.family}` }).waitFor();
    await page.getByRole("heading", { name: "Timeline" }).waitFor();
    await page.getByTestId("stage-group").filter({ hasText: "IVB" }).waitFor();
    await page.getByTestId("recommendation").first().waitFor();
    const titles = await page.getByTestId("recommendation").allInnerTexts();
    assert.ok(titles.some((t) => /pembrolizumab/i.test(t)), `recommendations: ${titles.join(" | ")}`);
    await page.getByRole("heading", { name: "Survival risk" }).waitFor();
    await shot(page, "patient-detail");
  });
  await step("a clinician records a treatment and a biomarker, and the timeline shows them", async () => {
    await page.getByLabel("Kind").first().selectOption("systemic");
    await page.getByLabel("Intent (optional)").selectOption("palliative");
    await page.getByLabel("Start date").fill("2024-04-02");
    await page.getByLabel("Regimen (optional)").fill("FOLFOX");
    await page.getByRole("form", { name: "Add a treatment" }).getByRole("button", { name: "Add" }).click();
    await page.locator(".timeline").getByText(/systemic · palliative · FOLFOX/).waitFor();
    const biomarker = page.getByRole("form", { name: "Add a biomarker" });
    await biomarker.getByLabel("Kind").selectOption("her2");
    await biomarker.getByLabel("Value").fill("0");
    await biomarker.getByLabel("Measured on").fill("2024-03-20");
    await biomarker.getByRole("button", { name: "Add" }).click();
    await page.locator(".timeline").getByText("her2: 0").waitFor();
    const outcome = page.getByRole("form", { name: "Outcome" });
    await outcome.getByLabel("Last follow-up").fill("2024-09-01");
    await outcome.getByLabel("Progression date (optional)").fill("2024-06-10");
    await outcome.getByRole("button", { name: "Save" }).click();
    await page.locator(".timeline li").filter({ hasText: "Progression" }).filter({ hasText: "2024-06-10" }).waitFor();
    await shot(page, "patient-entry");
  });
  await step("the patient list shows the new record", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Patients", exact: true }).click();
    await page.getByTestId("patient-table").getByText("IVB").first().waitFor();
    await page.getByLabel("Stage group").selectOption("IVB");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByTestId("patient-table").getByText("IVB").first().waitFor();
    await shot(page, "patients");
  });
  await step("a clinician finds the patient by name and by MRN, and the list shows both", async () => {
    await page.getByRole("button", { name: "Reset" }).click();
    await page.getByLabel("Search by").selectOption("name");
    await page.getByLabel("Find").fill(PATIENT.family.toLowerCase());
    await page.getByRole("search").getByRole("button", { name: "Search" }).click();
    const row = page.getByTestId("patient-table").locator("tbody tr");
    await row.filter({ hasText: PATIENT.mrn }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=patient-table] tbody tr").length === 1);
    assert.equal(await row.getByTestId("patient-row-name").innerText(), `${PATIENT.given} ${PATIENT.family}`);
    await page.getByLabel("Search by").selectOption("mrn");
    await page.getByLabel("Find").fill("MRN-NOBODY");
    await page.getByRole("search").getByRole("button", { name: "Search" }).click();
    await page.getByText("No patients match.").waitFor();
    await page.getByLabel("Find").fill(PATIENT.mrn);
    await page.getByRole("search").getByRole("button", { name: "Search" }).click();
    await row.filter({ hasText: PATIENT.mrn }).getByRole("link").click();
    await page.getByTestId("patient-name").filter({ hasText: `${PATIENT.given} ${PATIENT.family}` }).waitFor();
    await shot(page, "patient-search");
  });
  await step("the cohort page draws Kaplan-Meier curves with numbers at risk", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cohort analytics" }).click();
    await page.getByTestId("km-chart").locator("canvas").first().waitFor();
    await page.getByTestId("at-risk").waitFor();
    await page.getByTestId("log-rank").waitFor();
    assert.doesNotMatch(await page.getByTestId("log-rank").innerText(), /: 0$/, "a p-value is never a bare 0");
    await shot(page, "cohort");
  });
  await step("Persian sets dir=rtl and lang=fa, with translated navigation and Jalali dates", async () => {
    await page.goto(patientPath);
    await page.getByTestId("stage-group").waitFor();
    await page.getByLabel("Language").selectOption("fa");
    await page.waitForFunction(() => document.documentElement.dir === "rtl");
    assert.equal(await page.evaluate(() => document.documentElement.lang), "fa");
    await page.getByRole("navigation", { name: "اصلی" }).getByRole("link", { name: "بیماران", exact: true }).waitFor();
    await page.getByLabel("تقویم").selectOption("jalali");
    // 1958-04-17 is 1337/01/28 in the Solar Hijri calendar.
    await page.getByTestId("patient-birth-date").filter({ hasText: "۱۳۳۷/۰۱/۲۸" }).waitFor();
    // data values in Persian too: sex, histology and location, treatment kind and intent
    await page.locator(".facts").getByText("زن", { exact: true }).first().waitFor();
    await page.locator(".timeline").getByText(/کارسینوم سلول سنگفرشی/).waitFor();
    await page.locator(".timeline").getByText(/درمان سیستمیک · تسکینی/).waitFor();
    await shot(page, "patient-detail-fa");
    await page.goto("/patients");
    await page.getByTestId("patient-table").getByText("زن").first().waitFor();
    await shot(page, "patients-fa");
    await page.getByLabel("زبان").selectOption("en");
    await page.waitForFunction(() => document.documentElement.dir === "ltr");
  });
  await context.close();
  return patientPath;
}

async function phoneFlow(browser, url, problems, patientPath) {
  const context = await browser.newContext({ baseURL: url, viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await step("on a 390 px phone no page overflows sideways", async () => {
    await login(page, "e2e-clinician");
    const pages = [
      ["/", "phone-home", () => page.getByTestId("next-steps").waitFor()],
      ["/patients", "phone-patients", () => page.getByTestId("patient-table").waitFor()],
      [patientPath, "phone-patient", () => page.getByRole("heading", { name: "Timeline" }).waitFor()],
      ["/cohort", "phone-cohort", () => page.getByTestId("at-risk").waitFor()],
      ["/training", "phone-training", () => page.getByTestId("registry").waitFor()],
    ];
    for (const [path, name, ready] of pages) {
      await page.goto(path);
      await ready();
      const width = await page.evaluate(() => document.scrollingElement.scrollWidth);
      await shot(page, name);
      assert.ok(width <= 390, `${path} is ${width} px wide on a 390 px screen`);
    }
  });
  await context.close();
}

async function researcherFlow(browser, url, problems, patientPath) {
  const { context, page } = await newPage(browser, url, problems);
  const requested = [];
  page.on("request", (r) => requested.push(new URL(r.url()).pathname));
  const identifying = [PATIENT.given, PATIENT.family, PATIENT.mrn, PATIENT.birth, "1337/01/28"];
  const assertDeidentified = async (where) => {
    const text = await page.locator("body").innerText();
    for (const value of identifying) assert.ok(!text.includes(value), `${where} shows ${value}`);
    for (const label of ["Name", "MRN", "Birth date"]) {
      assert.equal(await page.getByText(label, { exact: true }).count(), 0, `${where} shows a ${label} field`);
    }
  };
  await step("a researcher sees de-identified patient pages only", async () => {
    await login(page, "e2e-researcher");
    await assertRoleHome(page, "researcher", "Train a model", "count-datasets");
    await shot(page, "home-researcher");
    await assertForbidden(page, "/audit", "audit.read");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Patients", exact: true }).click();
    await page.getByText("De-identified view").waitFor();
    await page.getByTestId("patient-table").getByText("IVB").first().waitFor();
    await assertDeidentified("the patient list");
    await shot(page, "patients-researcher");
    // A researcher opens a record by its research id, from the list; the clinician's address
    // (the internal id) names nothing for them.
    await page.getByTestId("patient-table").getByRole("row").filter({ hasText: "IVB" }).first().getByRole("link").click();
    await page.getByRole("heading", { name: "Timeline" }).waitFor();
    assert.ok(!page.url().endsWith(patientPath), "a researcher's patient page is addressed by the internal id");
    await page.getByText("Staging").first().waitFor();
    await assertDeidentified("the patient page");
    assert.equal(await page.getByRole("button", { name: /FHIR/ }).count(), 0);
    assert.equal(await page.getByRole("heading", { name: "Decision support", exact: true }).count(), 0);
    await shot(page, "patient-detail-researcher");
    const exports = requested.filter((p) => p.endsWith("/fhir") || p.includes("export"));
    assert.deepEqual(exports, [], "a researcher's page asked for an identified export");
  });
  await step("a researcher reads a dataset's fidelity and downloads its files", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Synthetic cohorts" }).click();
    // Not the admin's job (jobs are their owner's): the dataset it made, from the datasets list.
    await page.getByRole("heading", { name: "Datasets" }).waitFor();
    await page
      .locator("section[aria-labelledby=datasets-title] tbody tr")
      .filter({ hasText: "us-seer" })
      .first()
      .getByRole("link")
      .click();
    await page.waitForURL(/\/datasets\/[^/]+$/);
    await page.getByTestId("fidelity-summary").waitFor();
    const [file] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download patients.csv" }).click(),
    ]);
    assert.equal(file.suggestedFilename(), "patients.csv");
    assert.match(readFileSync(await file.path(), "utf8").split("\n")[0], /,/);
    await shot(page, "generation-fidelity");
  });
  await context.close();
}

async function apiDocsFlow(browser, url, problems) {
  const { context, page } = await newPage(browser, url, problems);
  const outside = [];
  // an air-gapped hospital: nothing but the platform answers
  await context.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === "127.0.0.1" || host === "localhost") return route.continue();
    outside.push(route.request().url());
    return route.abort();
  });
  await step("the API documentation at /schema works with no network beyond the platform", async () => {
    await page.goto("/schema");
    await page.locator(".swagger-ui .info .title").filter({ hasText: "INEsCape" }).waitFor();
    await page.locator(".opblock-tag").filter({ hasText: "patients" }).first().waitFor();
    await page.locator(".scheme-container .authorize").waitFor();  // the bearer scheme
    await shot(page, "api-docs");
    assert.deepEqual(outside, [], "the documentation asked for something outside the platform");
  });
  await context.close();
}

async function main() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  if (!existsSync(join(ROOT, "src", "inescape", "web", "static", "index.html"))) {
    throw new Error("the dashboard is not built: run `npm run build` first");
  }
  mkdirSync(SHOTS, { recursive: true });
  const server = await startServer([
    ["e2e-admin", ["admin"]],
    ["e2e-clinician", ["clinician"]],
    ["e2e-researcher", ["researcher"]],
    [STEWARD, ["data_steward"]],
  ]);
  console.log(`server ${server.url} (log ${server.logPath})`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  const problems = [];
  try {
    await adminFlow(browser, server.url, problems);
    const patientPath = await clinicianFlow(browser, server.url, problems);
    await researcherFlow(browser, server.url, problems, patientPath);
    await phoneFlow(browser, server.url, problems, patientPath);
    await apiDocsFlow(browser, server.url, problems);
    await privacyFlow(browser, server.url, problems);
    assert.deepEqual(problems, [], "the browser reported CSP violations or page errors");
  } finally {
    await browser.close();
    await server.stop();
  }
  console.log(`\n${results.length} e2e steps passed; screenshots in ${SHOTS}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
