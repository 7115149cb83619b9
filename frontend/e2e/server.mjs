// Starts `inescape serve` on loopback with a fresh data folder and the users the tests log in as.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const PYTHON = process.env.INESCAPE_PYTHON ?? join(ROOT, ".venv", "bin", "python");
export const PASSWORD = "e2e-Correct-Horse-7";

export function cleanEnv(dataDir) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("INESCAPE_") || k.startsWith("INESCAPE_TEST_")),
  );
  return { ...env, INESCAPE_DATA_DIR: dataDir, PYTHONPATH: join(ROOT, "src") };
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export function createUser(dataDir, username, roles) {
  const args = ["-m", "inescape", "create-user", username, "--password-stdin"];
  for (const role of roles) args.push("--role", role);
  const result = spawnSync(PYTHON, args, { cwd: ROOT, env: cleanEnv(dataDir), input: `${PASSWORD}\n`, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`create-user ${username} failed: ${result.stderr}`);
}

export async function startServer(users) {
  const dataDir = mkdtempSync(join(tmpdir(), "inescape-e2e-"));
  for (const [username, roles] of users) createUser(dataDir, username, roles);
  return serveDir(dataDir);
}

/** `inescape serve` on a free loopback port over ``dataDir``, once /health answers. */
export async function serveDir(dataDir) {
  const port = await freePort();
  const logPath = join(dataDir, "serve.log");
  const log = openSync(logPath, "a");
  const proc = spawn(PYTHON, ["-m", "inescape", "serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: ROOT,
    env: cleanEnv(dataDir),
    stdio: ["ignore", log, log],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`inescape serve exited (${proc.exitCode}); see ${logPath}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM");
      await new Promise((r) => {
        const timer = setTimeout(() => {
          proc.kill("SIGKILL");
          r();
        }, 10_000);
        proc.once("exit", () => {
          clearTimeout(timer);
          r();
        });
      });
    }
    if (!process.env.INESCAPE_E2E_KEEP) rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, dataDir, logPath, stop };
}
