// End-to-end: the built dashboard served by `inescape serve`, driven in the system Chromium.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { PASSWORD, ROOT, startServer } from "./server.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = join(ROOT, "frontend", "e2e", "screenshots");
const TIMEOUT = 30_000;

const PATIENT = {
  given: "Parvin",
  family: "Golestani",
  mrn: "MRN-E2E-4711",
  birth: "1958-04-17",
  diagnosis: "2024-03-05",
};

const results = [];
// A function, not a string: the page's CSP forbids evaluating strings.
const progressAt = ([label, value]) =>
  document.querySelector(`[role="progressbar"][aria-label="${label}"]`)?.getAttribute("aria-valuenow") === value;
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push(`ok   ${name} (${Date.now() - started} ms)`);
    console.log(`ok   ${name}`);
  } catch (error) {
    console.log(`FAIL ${name}`);
    throw error;
  }
}

async function newPage(browser, url, problems) {
  const context = await browser.newContext({ baseURL: url, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return { context, page };
}

async function login(page, username) {
  await page.goto("/");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("username").filter({ hasText: username }).waitFor();
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
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
  await step("a generation job's progress reaches 100%", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Synthetic cohorts" }).click();
    await page.getByLabel("Profile").selectOption("us-seer");
    await page.getByLabel("Number of patients").fill("300");
    await page.getByLabel("Seed").fill("7");
    await page.getByRole("button", { name: "Submit" }).click();
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
    await page.getByLabel("Source name").fill("e2e-upload");
    await page
      .getByLabel("Column mapping (JSON) (optional)")
      .fill(JSON.stringify({ source_record_id: "id", sex: "sex", birth_date: "dob" }));
    await page.getByRole("button", { name: "Upload", exact: true }).click();
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
  await step("a training run draws its curve; promotion shows the gates of the 409", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Training and models" }).click();
    await page.getByLabel("Run name").fill("e2e-cox");
    await page.getByLabel("Model", { exact: true }).selectOption("cox");
    await page.getByLabel("Data source").selectOption("dataset");
    await page.getByLabel("Dataset ID").fill(datasetId);
    await page.getByLabel("Bootstrap resamples").fill("10");
    await page.getByRole("button", { name: "Start" }).click();
    await page.waitForFunction(progressAt, ["Progress", "100"], { timeout: 240_000 });
    await page.getByRole("img", { name: "Training curve" }).waitFor();
    await page.getByRole("row", { name: /e2e-cox/ }).getByRole("button", { name: /v/ }).last().click();
    await page.getByRole("heading", { name: /Model card: e2e-cox/ }).waitFor();
    await page.getByRole("button", { name: "Promote" }).click();
    const gates = page.getByTestId("gates");
    await gates.waitFor();
    assert.ok((await gates.innerText()).includes("clinical_data"), await gates.innerText());
    await shot(page, "training");
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
  await step("the patient list shows the new record", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Patients", exact: true }).click();
    await page.getByTestId("patient-table").getByText("IVB").first().waitFor();
    await page.getByLabel("Stage group").selectOption("IVB");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByTestId("patient-table").getByText("IVB").first().waitFor();
    await shot(page, "patients");
  });
  await step("the cohort page draws Kaplan-Meier curves with numbers at risk", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cohort analytics" }).click();
    const chart = page.getByRole("img", { name: /Kaplan–Meier survival/ });
    await chart.waitFor();
    await page.waitForFunction(() => {
      const img = [...document.images].find((i) => i.alt.startsWith("Kaplan"));
      return img && img.complete && img.naturalWidth > 0;
    });
    await page.getByTestId("at-risk").waitFor();
    await page.getByTestId("log-rank").waitFor();
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
    await shot(page, "patient-detail-fa");
    await page.getByLabel("زبان").selectOption("en");
    await page.waitForFunction(() => document.documentElement.dir === "ltr");
  });
  await context.close();
  return patientPath;
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
      .getByRole("button")
      .click();
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
