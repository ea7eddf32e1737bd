// Live pages: another user's change shows on an open order list and order
// page without a reload (Server-Sent Events, app.js swapping the regions).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, ADMIN_EMAIL, ADMIN_PASSWORD } from "./support.mjs";

let faena;
before(async () => {
  faena = await start();
});
after(async () => {
  await faena?.stop();
});

/** A JSON API call as the admin (another user than the one watching). */
async function api(token, method, path, body) {
  const res = await fetch(`${faena.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  const json = res.status === 204 ? null : await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

test("a status change by one user shows on another user's open pages", async () => {
  const login = await fetch(`${faena.base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  const { access_token: admin } = await login.json();
  const client = await api(admin, "POST", "/api/clients", { name: "Bodegas del Maule", email: "compras@maule.cl" });
  const order = await api(admin, "POST", "/api/orders", {
    client_id: client.id,
    lines: [{ sku: "CAJ-40", description: "Caja de cartón 40x30", quantity: 20 }],
  });
  await api(admin, "POST", "/api/users", {
    email: "bodega@faena.test", name: "Bodeguero", role: "warehouse", password: "Clave-larga-de-bodega-42",
  });

  // The warehouse user, in a browser of their own, watches the list and the order.
  const context = await faena.browser.newContext({ locale: "es-CL", baseURL: faena.base });
  const errors = [];
  const list = await context.newPage();
  list.on("pageerror", (e) => errors.push(String(e)));
  await list.goto("/login");
  await list.getByLabel("Correo electrónico").fill("bodega@faena.test");
  await list.getByLabel("Contraseña").fill("Clave-larga-de-bodega-42");
  await list.getByRole("button", { name: "Entrar" }).click();
  await list.waitForURL((url) => !url.pathname.startsWith("/login"));
  await list.goto("/orders");
  const detail = await context.newPage();
  detail.on("pageerror", (e) => errors.push(String(e)));
  await detail.goto(`/orders/${order.number}`);
  // Both pages say they are live once their stream is open.
  await list.getByText("En vivo").waitFor();
  await detail.getByText("En vivo").waitFor();
  const row = list.locator("tr", { hasText: order.number });
  assert.equal(await row.locator(".badge").innerText(), "Recibida");

  // The admin moves the order; the watcher's pages follow, no reload.
  await api(admin, "PUT", `/api/orders/${order.number}`, { status: "picking" });
  await row.locator(".badge", { hasText: "En preparación" }).waitFor({ timeout: 5000 });
  await detail.locator("h1 .badge", { hasText: "En preparación" }).waitFor({ timeout: 5000 });
  await detail.locator(".history li", { hasText: "En preparación" }).waitFor({ timeout: 5000 });
  // The next-step buttons are now the moves from the new status.
  const steps = await detail.locator(".next-steps button").allInnerTexts();
  assert.deepEqual(steps, ["Pasar a embalaje", "Cancelar orden"]);

  // A new order by someone else appears in the open list.
  const second = await api(admin, "POST", "/api/orders", {
    client_id: client.id,
    lines: [{ sku: "CINTA-48", description: "Cinta de embalaje 48 mm", quantity: 12 }],
  });
  await list.locator("tr", { hasText: second.number }).waitFor({ timeout: 5000 });

  await context.close();
  assert.deepEqual(errors, [], "no JavaScript errors");
  assert.deepEqual(faena.errors, [], "no JavaScript errors on the admin's pages");
});
