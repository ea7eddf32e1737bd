// Starts a real Faena (the binary, on a fresh SQLite data dir) and a real
// Chromium for each test file.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import net from "node:net";
import { chromium } from "playwright-core";

export const ADMIN_EMAIL = "admin@faena.test";
export const ADMIN_PASSWORD = "Prueba-de-navegador-2026!";

const root = resolve(import.meta.dirname, "..");

function freePort() {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitReady(base, server, log) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`faena exited early:\n${log()}`);
    try {
      const res = await fetch(`${base}/api/health/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`faena did not become ready in 30 s:\n${log()}`);
}

/** Faena and a browser page signed in as the first admin; `database` is
 * a database URL to use instead of the embedded SQLite. */
export async function start({ database } = {}) {
  const bin = process.env.FAENA_TEST_BIN ?? join(root, "target", "debug", "faena");
  if (!existsSync(bin)) throw new Error(`no Faena binary at ${bin}: run cargo build --bin faena`);
  const dataDir = mkdtempSync(join(tmpdir(), "faena-e2e-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let output = "";
  const server = spawn(bin, ["serve", "--bind", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    env: {
      ...process.env,
      FAENA_ADMIN_EMAIL: ADMIN_EMAIL,
      FAENA_ADMIN_PASSWORD: ADMIN_PASSWORD,
      FAENA_LOG__FILTER: "warn",
      ...(database ? { FAENA_DATABASE_URL: database } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.on("data", (d) => (output += d));
  server.stderr.on("data", (d) => (output += d));
  await waitReady(base, server, () => output);

  const browser = await chromium.launch({
    executablePath: process.env.FAENA_TEST_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  const context = await browser.newContext({ locale: "es-CL", baseURL: base });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  await page.goto("/login");
  await page.getByLabel("Correo electrónico").fill(ADMIN_EMAIL);
  await page.getByLabel("Contraseña").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Entrar" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));

  return {
    base,
    /** The server's data directory (its mail folder is `mail/`). */
    dataDir,
    page,
    /** The Chromium instance, for more browser contexts (other users). */
    browser,
    /** JavaScript errors seen on any page so far. */
    errors,
    async stop() {
      await browser.close();
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
