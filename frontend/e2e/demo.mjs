// End-to-end: a newcomer's first minutes. `inescape demo` on a bare data folder, then the
// dashboard in Chromium: a clinician logs in with the printed one-time password, is taken to
// the password change first and makes a new one, finds a living patient, reads decision support
// with risk from the production model, and a Kaplan-Meier curve; all of it within five minutes
// of starting.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { PYTHON, ROOT, cleanEnv, serveDir } from "./server.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = join(ROOT, "frontend", "e2e", "screenshots");
const BUDGET_MS = 5 * 60_000;
const NEW_PASSWORD = "a new passphrase for the demo 7";

const started = Date.now();
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
const dataDir = mkdtempSync(join(tmpdir(), "inescape-demo-"));
mkdirSync(SHOTS, { recursive: true });

const demo = spawnSync(PYTHON, ["-m", "inescape", "demo", "--no-serve"], {
  cwd: ROOT,
  env: cleanEnv(dataDir),
  encoding: "utf8",
  timeout: BUDGET_MS,
});
assert.equal(demo.status, 0, `inescape demo failed: ${demo.stderr}`);
const account = /^\s+demo\.clinician\s+clinician\s+password (\S+)\s+\(shown only now; one-time\)$/m.exec(
  demo.stdout,
);
assert.ok(account, `the demo printed no clinician password:\n${demo.stdout}`);
assert.match(demo.stdout, /promoted|production/i, "the demo names its production model");
console.log(`ok   inescape demo (${elapsed()})`);

const server = await serveDir(dataDir);
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const page = await (await browser.newContext({ baseURL: server.url })).newPage();
page.setDefaultTimeout(60_000);
try {
  await page.goto("/");
  await page.getByLabel("Username").fill("demo.clinician");
  await page.getByLabel("Password").fill(account[1]);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("username").filter({ hasText: "demo.clinician" }).waitFor();
  // the printed password is one-time: the password change comes first, and nothing else opens
  await page.waitForURL(/\/account\/password$/);
  await page.getByTestId("password-one-time").waitFor();
  assert.equal(await page.getByRole("navigation", { name: "Main" }).count(), 0, "no sections before the change");
  await page.getByLabel("Current password").fill(account[1]);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("New password again").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByRole("navigation", { name: "Main" }).waitFor();
  assert.ok(!page.url().endsWith("/account/password"), "after the change the dashboard opens");
  console.log(`ok   the clinician logs in with the printed one-time password and changes it (${elapsed()})`);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Patients", exact: true }).click();
  await page.getByLabel("Vital status").selectOption("alive");
  await page.getByLabel("Origin").selectOption("synthetic"); // the generated cohort is staged
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByTestId("patient-table").getByRole("link").first().click();
  await page.waitForURL(/\/patients\/[^/]+$/);
  await page.getByTestId("stage-group").waitFor();
  await page.getByRole("heading", { name: "Recommendations" }).waitFor();
  if (!(await page.getByTestId("recommendation").count())) {
    // no option: the panel says why, in the rule set's words, rather than a bare "none"
    assert.match(await page.getByTestId("no-rule").innerText(), /No rule of .* applies|from the recorded facts/);
  }
  await page.getByRole("heading", { name: "Survival risk" }).waitFor();
  const model = (await page.getByTestId("risk-model").innerText()).trim();
  assert.ok(model.length > 0, "risk names the model that answered");
  await page.getByRole("cell", { name: /%$/ }).first().waitFor(); // a survival estimate, not a refusal
  await page.screenshot({ path: join(SHOTS, "demo-patient.png"), fullPage: true });
  console.log(`ok   decision support with risk from ${model} (${elapsed()})`);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cohort analytics" }).click();
  await page.getByTestId("km-chart").locator("canvas").first().waitFor();
  await page.getByTestId("at-risk").waitFor();
  await page.screenshot({ path: join(SHOTS, "demo-cohort.png"), fullPage: true });
  console.log(`ok   a Kaplan-Meier curve of the demo cohort (${elapsed()})`);

  assert.ok(Date.now() - started < BUDGET_MS, `the first hour took ${elapsed()}, over five minutes`);
  console.log(`demo to dashboard with data, a production model and decision support: ${elapsed()}`);
} catch (error) {
  await page.screenshot({ path: join(SHOTS, "demo-failure.png"), fullPage: true });
  console.log(`FAIL at ${page.url()} (${elapsed()}): screenshot demo-failure.png`);
  throw error;
} finally {
  await browser.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
