// The UI kit in a real browser: search that forgives accents and finds a
// RUT (on SQLite, and on PostgreSQL when FAENA_TEST_POSTGRES_URL names a
// server), sorting and paging, the dashboard's figures against known data,
// the line editor and client picker, the error summary, and a phone-width
// layout without sideways scrolling. Screenshots of the main pages at
// desktop and phone width go to target/screenshots/ for reviewers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { start, ADMIN_EMAIL, ADMIN_PASSWORD } from "./support.mjs";

const shots = resolve(import.meta.dirname, "..", "target", "screenshots");

async function token(base) {
  const res = await fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  assert.ok(res.ok, `login: ${res.status}`);
  return (await res.json()).access_token;
}

function apiOf(base, bearer) {
  return async (method, path, body) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: body && JSON.stringify(body),
    });
    const json = res.status === 204 ? null : await res.json();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}

const CLIENTS = [
  { name: "Tomás Torres González", email: "tomas@torres.cl", tax_id: "76.086.428-5", comuna: "Ñuñoa" },
  { name: "Ana Pérez", email: "ana@perez.cl", comuna: "Providencia" },
  { name: "Álvarez Hermanos", email: "contacto@alvarez.cl", comuna: "Maipú" },
  { name: "Zapata Ltda", email: "zapata@zapata.cl" },
];

async function rowsOf(page) {
  return page.locator("table.list tbody tr td:first-child").allInnerTexts();
}

/** Searching clients, as a clerk types it. */
async function searchClients(faena) {
  const { page } = faena;
  const find = async (q) => {
    await page.goto("/clients");
    await page.getByRole("searchbox").fill(q);
    await page.getByRole("searchbox").press("Enter");
    await page.waitForURL(/\/clients\?q=/);
    return rowsOf(page);
  };
  for (const q of ["gonzalez", "GONZÁLEZ", "76086428-5", "76.086.428-5", "nunoa"]) {
    assert.deepEqual(await find(q), ["Tomás Torres González"], q);
  }
  assert.deepEqual(await find("perez"), ["Ana Pérez"]);
  // The filtered list is in the address: it can be bookmarked.
  await page.goto("/clients?q=p%C3%A9rez");
  assert.deepEqual(await rowsOf(page), ["Ana Pérez"]);
}

function freshPostgres(url) {
  const name = `faena_e2e_${process.pid}_${Date.now()}`;
  const u = new URL(url);
  execFileSync("createdb", ["-h", u.hostname, "-p", u.port || "5432", "-U", u.username || "postgres", name]);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop() {
      execFileSync("dropdb", ["--if-exists", "-f", "-h", u.hostname, "-p", u.port || "5432", "-U", u.username || "postgres", name]);
    },
  };
}

test("search forgives accents and finds a RUT in any format, on PostgreSQL too", { skip: !process.env.FAENA_TEST_POSTGRES_URL && !process.env.CI && "FAENA_TEST_POSTGRES_URL is not set" }, async () => {
  const db = freshPostgres(process.env.FAENA_TEST_POSTGRES_URL);
  const faena = await start({ database: db.url });
  try {
    const api = apiOf(faena.base, await token(faena.base));
    for (const c of CLIENTS) await api("POST", "/api/clients", c);
    await searchClients(faena);
    assert.deepEqual(faena.errors, []);
  } finally {
    await faena.stop();
    db.drop();
  }
});

let faena;
let api;
before(async () => {
  faena = await start();
  api = apiOf(faena.base, await token(faena.base));
  for (const c of CLIENTS) await api("POST", "/api/clients", c);
});
after(async () => {
  await faena?.stop();
});

test("search forgives accents and finds a RUT in any format, on SQLite", async () => {
  await searchClients(faena);
});

test("lists sort by their headers, page, and the dashboard's figures are the lists' counts", async () => {
  const { page } = faena;
  const clients = await api("GET", "/api/clients");
  const tomas = clients.items.find((c) => c.name.startsWith("Tomás")).id;
  for (let i = 0; i < 28; i++) {
    await api("POST", "/api/orders", { client_id: tomas, lines: [{ sku: `SKU-${i}`, description: "Caja", quantity: 2 }] });
  }
  await api("PUT", "/api/orders/ORD-000005", { status: "picking" });

  // Clients in Spanish order, then the other way from the header.
  await page.goto("/clients");
  assert.deepEqual(await rowsOf(page), ["Álvarez Hermanos", "Ana Pérez", "Tomás Torres González", "Zapata Ltda"]);
  await page.getByRole("link", { name: "Nombre" }).click();
  await page.waitForURL(/dir=desc/);
  assert.deepEqual(await rowsOf(page), ["Zapata Ltda", "Tomás Torres González", "Ana Pérez", "Álvarez Hermanos"]);
  assert.equal(await page.locator("th[aria-sort=descending]").innerText(), "Nombre ▼");

  // Orders: 25 a page, the total, page 2, then by number.
  await page.goto("/orders");
  await page.getByText("Mostrando 1–25 de 28").waitFor();
  await page.getByRole("link", { name: "Página 2" }).click();
  await page.getByText("Mostrando 26–28 de 28").waitFor();
  await page.getByRole("link", { name: "Número" }).click();
  await page.getByText("Mostrando 1–25 de 28").waitFor();
  assert.equal((await rowsOf(page))[0], "ORD-000001");

  // The dashboard: what it counts is what its links list.
  await page.goto("/");
  const figure = (label) => page.locator(".figures a", { hasText: label });
  assert.equal(await figure("Recibida").locator(".figure-value").innerText(), "27");
  assert.equal(await figure("En preparación").locator(".figure-value").innerText(), "1");
  assert.equal(await figure("Creadas hoy").locator(".figure-value").innerText(), "28");
  assert.equal(await page.locator(".chart rect:not(.hit)").count(), 30);
  await figure("En preparación").click();
  await page.getByText("Mostrando 1–1 de 1").waitFor();
  assert.deepEqual(await rowsOf(page), ["ORD-000005"]);
  assert.deepEqual(faena.errors, []);
});

test("the line editor adds and removes rows in place, and the client is picked as one types", async () => {
  const { page } = faena;
  await page.goto("/orders/new");
  const rows = page.locator("tr[data-line]");
  assert.equal(await rows.count(), 3);
  await page.getByRole("button", { name: "Agregar línea" }).click();
  assert.equal(await rows.count(), 4);
  assert.equal(await page.evaluate(() => document.activeElement.name), "sku_3");
  await page.getByLabel("SKU 1").fill("BORRAR");
  await page.getByRole("button", { name: "Quitar línea 1" }).click();
  assert.equal(await rows.count(), 3);
  assert.equal(await page.getByLabel("SKU 1").inputValue(), "", "the rows were renumbered");

  await page.getByLabel("Cliente").fill("gonz");
  await page.locator('#client-options option[value="Tomás Torres González"]').waitFor({ state: "attached" });
  await page.getByLabel("Cliente").fill("Tomás Torres González");
  await page.getByLabel("SKU 1").fill("TOR-8X40");
  await page.getByLabel("Descripción 1").fill("Tornillo 8x40");
  await page.getByLabel("Cantidad 1").fill("250");
  await page.getByLabel("SKU 2").fill("TUE-8");
  await page.getByLabel("Cantidad 2").fill("250");
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.getByText("Orden creada.").waitFor();
  const lines = await page.locator("table tbody tr td:first-child").allInnerTexts();
  assert.deepEqual(lines, ["TOR-8X40", "TUE-8"]);
  assert.match(await page.locator(".facts").innerText(), /Tomás Torres González/);
});

test("a refused form says which fields, takes the focus, and marks them", async () => {
  const { page } = faena;
  await page.goto("/orders/new");
  await page.getByLabel("Cliente").evaluate((el) => (el.required = false));
  await page.getByLabel("SKU 1").fill("A-1");
  await page.getByLabel("Cantidad 1").evaluate((el) => (el.type = "text"));
  await page.getByLabel("Cantidad 1").fill("dos");
  await page.getByRole("button", { name: "Guardar" }).click();
  const summary = page.locator("#error-summary");
  await summary.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "error-summary");
  const text = await summary.innerText();
  assert.match(text, /Revisa 2 campos/);
  assert.match(text, /El campo Cliente es obligatorio/);
  assert.match(text, /cantidad/i);
  assert.equal(await page.getByLabel("Cliente").getAttribute("aria-invalid"), "true");
  assert.equal(await page.getByLabel("Cantidad 1").getAttribute("aria-invalid"), "true");
  // The summary's link takes the user to the field.
  await summary.getByRole("link", { name: /Cliente/ }).click();
  assert.equal(await page.evaluate(() => location.hash), "#client_id");
});

test("on a phone nothing scrolls sideways; screenshots of the main pages", async () => {
  mkdirSync(shots, { recursive: true });
  const pages = [
    ["inicio", "/"],
    ["clientes", "/clients"],
    ["ordenes", "/orders"],
    ["orden", "/orders/ORD-000005"],
    ["nueva-orden", "/orders/new"],
    ["devoluciones", "/orders/returns"],
    ["usuarios", "/admin/users"],
  ];
  const { page } = faena;
  for (const [name, path] of pages) {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(path);
    await page.screenshot({ path: join(shots, `${name}-escritorio.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(path);
    await page.screenshot({ path: join(shots, `${name}-telefono.png`), fullPage: true });
    const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= width, `${path} scrolls sideways on a phone: ${scroll} > ${width}`);
  }
  // A list's rows are cards there: each cell carries its column's name.
  await page.goto("/orders");
  const cell = page.locator("table.list tbody tr").first().locator("td").nth(1);
  assert.equal(await cell.evaluate((el) => getComputedStyle(el, "::before").content), '"Cliente"');
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.deepEqual(faena.errors, []);
});
