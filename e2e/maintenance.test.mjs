// Equipment maintenance (seed 002) in a real browser: a machine added, a
// calibration plan attached, the calibration recorded against its checklist
// and signed, the calibration register's colours, the report's PDF
// downloaded, and a failure reported by someone on the floor who scans the
// machine's QR label without an account, then accepted as work.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { start, ADMIN_EMAIL, ADMIN_PASSWORD } from "./support.mjs";

let faena;
let api;
let scratch;
before(async () => {
  faena = await start();
  scratch = mkdtempSync(join(tmpdir(), "faena-e2e-mnt-"));
  const res = await fetch(`${faena.base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  assert.ok(res.ok, `login: ${res.status}`);
  const bearer = (await res.json()).access_token;
  api = async (method, path, body) => {
    const r = await fetch(`${faena.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: body && JSON.stringify(body),
    });
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${await r.clone().text()}`);
    return r;
  };
});
after(async () => {
  await faena?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** A day `n` days from today (Santiago), as AAAA-MM-DD. */
function inDays(n) {
  const d = new Date(Date.now() + n * 86_400_000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: "America/Santiago" }).format(d);
}

test("a machine, its calibration plan, the signed calibration, the register and the report", async () => {
  const { page } = faena;

  // The machine, from the form.
  await page.goto("/machines/new");
  await page.getByLabel("Código").fill("bal-001");
  await page.getByLabel("Nombre").fill("Balanza analítica");
  await page.getByLabel("Tipo", { exact: true }).fill("Balanza");
  await page.getByLabel("Laboratorio").fill("Laboratorio de Química");
  await page.getByLabel("Marca").fill("Sartorius");
  await page.getByLabel("N.º de serie").fill("SN-48213");
  await page.getByLabel("Responsable").selectOption({ index: 1 });
  await page.getByRole("button", { name: "Guardar" }).click();
  // The code is kept in capitals: it is the machine's name on labels.
  await page.waitForURL(/\/machines\/BAL-001$|\/machines\/BAL-001\?/);
  await page.getByText("Máquina registrada.").waitFor();
  assert.match(await page.getByRole("heading", { level: 1 }).innerText(), /BAL-001 · Balanza analítica/);

  // A calibration plan with a checklist, due in five days.
  await page.getByRole("link", { name: "Nuevo plan" }).click();
  await page.getByLabel("Nombre del plan").fill("Calibración mensual");
  await page.getByLabel("Tipo de trabajo").selectOption({ label: "Calibración" });
  await page.getByLabel("Cada", { exact: true }).first().fill("1");
  await page.getByLabel("Unidad", { exact: true }).selectOption({ label: "meses" });
  await page.getByLabel("Primera fecha (si no, un intervalo desde hoy)").fill(inDays(5));
  await page.getByLabel("Punto a revisar 1").fill("Pesa patrón 100 g");
  await page.getByLabel("Respuesta 1").selectOption({ label: "Número" });
  await page.getByLabel("Unidad 1").fill("g");
  await page.getByLabel("Mín. 1").fill("99,98");
  await page.getByLabel("Máx. 1").fill("100,02");
  await page.getByLabel("Punto a revisar 2").fill("Burbuja de nivel centrada");
  await page.getByLabel("Respuesta 2").selectOption({ label: "Sí / no" });
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.getByText("Plan creado.").waitFor();
  assert.match(await page.locator("#plans + ul").innerText(), /Calibración mensual \(Calibración\),\s+cada 1 meses/);

  // Due within its lead time, its work is open now, marked as coming up.
  const work = page.locator("section[aria-labelledby=work]");
  assert.match(await work.innerText(), /Calibración mensual/);
  assert.match(await work.locator("h2").innerText(), /Próximo/);

  // Recorded from the work order: the plan's checklist is asked.
  await work.getByRole("link", { name: "Registrar mantención" }).click();
  await page.getByLabel("Pesa patrón 100 g (g) · 99.98–100.02").waitFor();
  assert.equal(await page.getByLabel("Tipo de trabajo").inputValue(), "calibration");
  await page.getByLabel("Trabajo realizado").fill("Calibración con pesas clase E2, certificado 2026-118");
  await page.getByLabel("Duración (minutos)").fill("45");
  await page.getByLabel("Costo de mano de obra y otros (CLP)").fill("38.000");
  await page.getByLabel("Medición 1").fill("Tolerancia");
  await page.getByLabel("Valor 1").fill("±0,02 g");
  // A reading outside the template's range is refused, naming the item,
  // and what was typed stays.
  await page.getByLabel("Pesa patrón 100 g (g) · 99.98–100.02").fill("100,5");
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.locator(".field-error", { hasText: "Pesa patrón 100 g" }).first().waitFor();
  assert.equal(await page.getByLabel("Trabajo realizado").inputValue(), "Calibración con pesas clase E2, certificado 2026-118");
  await page.getByLabel("Pesa patrón 100 g (g) · 99.98–100.02").fill("100,01");
  await page.getByLabel("Burbuja de nivel centrada").check();
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.waitForURL(/\/maintenance\/[0-9a-f-]{36}/);
  await page.getByText("Mantención registrada.").waitFor();
  const recordUrl = new URL(page.url()).pathname;
  assert.match(await page.locator("main").innerText(), /Pesa patrón 100 g/);
  assert.match(await page.locator("main").innerText(), /100,01|100\.01/);

  // Signed off, after the browser's own dialog; then it no longer changes.
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Firmar registro" }).click();
  await page.getByText("Registro firmado.").waitFor();
  assert.equal(await page.getByRole("link", { name: "Editar registro" }).count(), 0);
  // Its edit form sends back to the record.
  await page.goto(`${recordUrl}/edit`);
  assert.equal(new URL(page.url()).pathname, recordUrl, "a signed record has no edit form");

  // Two more instruments: one due within 30 days, one overdue.
  await api("POST", "/api/machines", { code: "TER-002", name: "Termómetro digital", lab: "Laboratorio de Química" });
  await api("POST", "/api/machines/TER-002/plans", {
    title: "Calibración anual",
    kind: "calibration",
    interval_count: 12,
    interval_unit: "months",
    first_due_on: inDays(20),
    lead_days: 7,
  });
  await api("POST", "/api/machines", { code: "PH-003", name: "pHmetro de mesa", lab: "Laboratorio de Aguas" });
  await api("POST", "/api/machines/PH-003/maintenance", {
    kind: "calibration",
    performed_at: new Date(Date.now() - 400 * 86_400_000).toISOString(),
    description: "Calibración con tampones pH 4, 7 y 10",
    next_due_on: inDays(-35),
  });

  // The register: the overdue first, each state in its own colour.
  await page.goto("/maintenance/calibrations");
  const rows = page.locator("table.list tbody tr");
  assert.deepEqual(await rows.locator("td:first-child").allInnerTexts(), ["PH-003", "TER-002", "BAL-001"]);
  const states = await rows.locator("td:last-child .badge").allInnerTexts();
  assert.deepEqual(states.map((s) => s.replace(/^\W+\s*/, "")), ["Vencida", "Vence en 30 días", "Al día"]);
  const colours = await rows.locator("td:last-child .badge").evaluateAll((els) => els.map((e) => getComputedStyle(e).backgroundColor));
  assert.equal(new Set(colours).size, 3, `three states, three colours: ${colours}`);
  assert.match(await rows.nth(2).innerText(), /±0,02 g/);

  // The report, downloaded as a PDF, holds the calibration and its cost.
  await page.goto("/maintenance/report");
  // The last 30 days by default: the calibration of BAL-001, not PH-003's
  // of more than a year ago.
  assert.match(await page.locator(".lead").innerText(), /^1 trabajo, costo \$38\.000, 45 minutos de detención$/);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Descargar PDF" }).click(),
  ]);
  const pdf = join(scratch, "informe.pdf");
  await download.saveAs(pdf);
  const text = execFileSync("pdftotext", ["-layout", pdf, "-"], { encoding: "utf8" });
  assert.match(text, /Informe de mantención/);
  assert.match(text, /BAL-001/);
  assert.match(text, /38\.000/);

  assert.deepEqual(faena.errors, [], "no JavaScript errors on any page");
});

test("a failure reported from the QR label without an account, accepted as work", async () => {
  const { page, browser } = faena;
  await api("POST", "/api/machines", { code: "CEN-010", name: "Centrífuga refrigerada", lab: "Laboratorio de Biología" });

  // The label's QR code, read by a scanner, is the public link.
  const png = join(scratch, "label.png");
  const label = await api("GET", "/api/machines/CEN-010/label.png");
  writeFileSync(png, Buffer.from(await label.arrayBuffer()));
  const link = execFileSync("zbarimg", ["--raw", "-q", png], { encoding: "utf8" }).trim();
  assert.match(link, /\/r\/[A-Za-z0-9_-]{20,}$/);

  // Someone on the floor, with no account, opens it on a phone.
  const phone = await browser.newContext({ locale: "es-CL", viewport: { width: 390, height: 844 }, isMobile: true });
  const floor = await phone.newPage();
  const errors = [];
  floor.on("pageerror", (e) => errors.push(String(e)));
  await floor.goto(new URL(new URL(link).pathname, faena.base).toString());
  assert.equal(await floor.getByRole("heading", { level: 1 }).innerText(), "Reportar una falla en CEN-010");
  // A file that is not an image is refused by its content, not its name.
  const fake = join(scratch, "foto.jpg");
  writeFileSync(fake, "esto no es una foto");
  await floor.getByLabel("¿Qué pasa con el equipo?").fill("Vibra fuerte al pasar de 3000 rpm y suena la alarma");
  await floor.getByLabel("Foto (opcional)").setInputFiles(fake);
  await floor.getByRole("button", { name: "Enviar reporte" }).click();
  await floor.locator(".field-error").first().waitFor();
  assert.equal(await floor.getByLabel("¿Qué pasa con el equipo?").inputValue(), "Vibra fuerte al pasar de 3000 rpm y suena la alarma");
  // A real photo goes through.
  const photo = join(scratch, "foto.png");
  writeFileSync(photo, Buffer.from(await (await api("GET", "/api/machines/CEN-010/label.png")).arrayBuffer()));
  await floor.getByLabel("Tu nombre (opcional)").fill("Camila Rojas");
  await floor.getByLabel("Foto (opcional)").setInputFiles(photo);
  await floor.getByRole("button", { name: "Enviar reporte" }).click();
  await floor.getByText("Gracias: el reporte llegó al responsable del equipo.").waitFor();
  // The public page shows nothing of the shop's inside: no menu, no session.
  assert.equal(await floor.getByRole("link", { name: "Máquinas" }).count(), 0);
  assert.deepEqual(errors, []);
  await phone.close();

  // Someone else has the pending work open in another tab.
  const board = await page.context().newPage();
  await board.goto("/maintenance/work");
  await board.getByText("En vivo").waitFor();
  assert.equal(await board.locator("tr", { hasText: "CEN-010" }).count(), 0);

  // The manager sees it pending, with its photo, and turns it into work.
  await page.goto("/maintenance/requests");
  const card = page.locator(".card", { hasText: "CEN-010" });
  await card.waitFor();
  assert.match(await card.innerText(), /Vibra fuerte al pasar de 3000 rpm/);
  assert.match(await card.innerText(), /Camila Rojas/);
  assert.equal(await card.locator("img").count(), 1);
  await card.getByRole("button", { name: "Convertir en trabajo" }).click();
  await page.getByText("El reporte es ahora un trabajo pendiente.").waitFor();
  assert.equal(await page.locator(".card", { hasText: "CEN-010" }).count(), 0, "no longer pending");

  // The other tab shows the new work without a reload.
  await board.locator("tr", { hasText: "CEN-010" }).waitFor({ timeout: 10_000 });
  await board.close();

  // It is open work on the machine, and recording it closes it.
  await page.goto("/maintenance/work");
  const row = page.locator("tr", { hasText: "CEN-010" });
  assert.match(await row.innerText(), /Correctiva/);
  await row.getByRole("link", { name: "Registrar mantención" }).click();
  assert.equal(await page.getByLabel("Tipo de trabajo").inputValue(), "corrective");
  await page.getByLabel("Trabajo realizado").fill("Rotor desbalanceado: se reequilibró y se cambiaron los amortiguadores");
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.getByText("Mantención registrada.").waitFor();
  await page.goto("/maintenance/work");
  assert.equal(await page.locator("tr", { hasText: "CEN-010" }).count(), 0);

  assert.deepEqual(faena.errors, [], "no JavaScript errors on any page");
});
