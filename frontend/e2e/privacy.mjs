// End-to-end: a data steward fits a profile to the platform's own cohort (treated as real) under
// ε-DP, generates a twin from it, and reads the fitted profile's privacy report page: the ε
// spent, the source's budget, the gate holding the twin until its privacy is measured, then the
// measured figures beside the thresholds. Run alone (`node e2e/privacy.mjs`) or from run.mjs.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { PASSWORD, startServer } from "./server.mjs";
import { CHROMIUM, SHOTS, login, newPage, results, shot, step } from "./browser.mjs";

export const STEWARD = "e2e-steward";
const SOURCE = "inescape-generator/global@1.0";
const TWIN = "e2e-twin";

async function apiAs(url, username) {
  const response = await fetch(`${url}/api/v1/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.ok(response.ok, `token for ${username}: ${response.status}`);
  const { access_token: token } = await response.json();
  return async (method, path, json) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    return { status: r.status, body: await r.json() };
  };
}

async function finishedJob(call, path) {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const { body } = await call("GET", path);
    if (["succeeded", "failed", "cancelled"].includes(body.status)) return body;
    assert.ok(Date.now() < deadline, `${path} still ${body.status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The steward's fitted twin, through the API; then its report page in the browser. */
export async function privacyFlow(browser, url, problems) {
  const call = await apiAs(url, STEWARD);
  let twinId;
  await step("a fit is a job: 202, then its progress to the stored profile; its twin is generated", async () => {
    const loaded = await call("POST", "/api/v1/generation/jobs", { profile: "global", n: 600, seed: 3, outputs: ["database"] });
    assert.equal(loaded.status, 202, JSON.stringify(loaded.body));
    assert.equal((await finishedJob(call, `/api/v1/generation/jobs/${loaded.body.id}`)).status, "succeeded");
    const fit = await call("POST", "/api/v1/generation/profiles/fit", { name: TWIN, source: SOURCE, epsilon: 1 });
    assert.equal(fit.status, 202, JSON.stringify(fit.body));
    const fitted = await finishedJob(call, `/api/v1/generation/jobs/${fit.body.id}`);
    assert.equal(fitted.status, "succeeded", fitted.error);
    assert.equal(fitted.result.epsilon, 1);
    const twin = await call("POST", "/api/v1/generation/jobs", { profile: TWIN, n: 800, seed: 4, outputs: ["parquet"] });
    assert.equal(twin.status, 202, JSON.stringify(twin.body));
    assert.equal((await finishedJob(call, `/api/v1/generation/jobs/${twin.body.id}`)).status, "succeeded");
    twinId = twin.body.id;
  });
  const { context, page } = await newPage(browser, url, problems);
  await step("the fitted profile's page shows the ε spent, the budget left and the twin held", async () => {
    await login(page, STEWARD);
    await page.goto("/generation");
    await page.getByRole("link", { name: "Fitted profiles" }).click();
    await page.getByTestId("fitted-list").getByRole("link", { name: TWIN }).click();
    await page.getByRole("heading", { name: "Privacy report of a fitted profile" }).waitFor();
    assert.match(await page.getByTestId("epsilon").innerText(), /ε = 1/);
    await page.getByTestId("budget").filter({ hasText: "Spent: 1" }).waitFor();
    assert.match(await page.getByTestId("budget").innerText(), /Left: 2/);
    assert.match(await page.locator("#gate-title code").innerText(), new RegExp(twinId));
    assert.match(await page.getByTestId("gate").innerText(), /Held from researchers/);
    await page.getByText("This dataset's privacy has not been measured yet.").waitFor();
  });
  await step("measuring the twin from the page fills in the attacks, TSTR and the gate's verdict", async () => {
    await page.getByRole("button", { name: "Measure privacy" }).click();
    const checks = page.getByTestId("privacy-checks").first();
    await checks.waitFor({ timeout: 240_000 });
    await checks.getByRole("rowheader", { name: "Membership-inference advantage" }).waitFor();
    const measured = await call("GET", `/api/v1/datasets/${twinId}`);
    const status = measured.body.release.status;
    assert.match(await page.getByTestId("gate").innerText(), status === "released" ? /Released/ : /Held/);
    const failures = measured.body.release.failures;
    if (failures.length) assert.match(await page.getByTestId("gate-reasons").innerText(), new RegExp(failures[0].slice(0, 20)));
    else await page.getByText("The report meets every threshold.").waitFor();
    await page.getByText("C-index, train on synthetic / test on real").waitFor();
    await shot(page, "privacy-report");
  });
  await context.close();
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const server = await startServer([[STEWARD, ["data_steward"]]]);
  console.log(`server ${server.url} (log ${server.logPath})`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"] });
  const problems = [];
  try {
    await privacyFlow(browser, server.url, problems);
    assert.deepEqual(problems, [], "the browser reported CSP violations or page errors");
  } finally {
    await browser.close();
    await server.stop();
  }
  console.log(`\n${results.length} privacy e2e steps passed; screenshots in ${SHOTS}`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
