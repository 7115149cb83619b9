// What the browser runs share: the Chromium, the step log, a page with its problems watched,
// logging in and screenshots.
import { join } from "node:path";
import { PASSWORD, ROOT } from "./server.mjs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SHOTS = join(ROOT, "frontend", "e2e", "screenshots");
export const TIMEOUT = 30_000;

export const results = [];
export async function step(name, fn) {
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

/** A page whose CSP violations and page errors land in `problems`. */
export async function newPage(browser, url, problems, viewport = { width: 1280, height: 900 }, isMobile = false) {
  const context = await browser.newContext({ baseURL: url, viewport, isMobile, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return { context, page };
}

export async function login(page, username) {
  await page.goto("/");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("username").filter({ hasText: username }).waitFor();
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
