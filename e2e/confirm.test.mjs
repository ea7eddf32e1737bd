// Destructive actions ask first, in a real browser: with JavaScript the
// browser's own dialog asks in place (No keeps everything, Yes deletes);
// without JavaScript the server's confirmation page asks, and its button
// does it. And the order's time shows in Santiago time.
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

/** A client and an order for it, through the pages; the order's number. */
async function anOrder(page, client) {
  await page.goto("/clients/new");
  await page.getByLabel("Nombre").fill(client);
  await page.getByLabel("Correo electrónico").fill(`compras@${client.toLowerCase().replace(/[^a-z]/g, "")}.cl`);
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.waitForURL(/\/clients\/[0-9a-f-]{36}/);
  await page.goto("/orders/new");
  await page.getByLabel("Cliente").fill(client);
  await page.getByLabel("SKU 1").fill("CAJ-20");
  await page.getByLabel("Descripción 1").fill("Caja de cartón");
  await page.getByLabel("Cantidad 1").fill("40");
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.waitForURL(/\/orders\/ORD-\d{6}/);
  return new URL(page.url()).pathname.split("/").pop();
}

/** `iso` as the pages show it: Santiago time, dd-mm-aaaa HH:MM. */
function santiago(iso) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone: "America/Santiago",
      day: "2-digit",
      month: "2-digit",
      year: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.day}-${parts.month}-${parts.year} ${parts.hour}:${parts.minute}`;
}

test("deleting an order asks in place: No keeps it, Yes deletes it", async () => {
  const { page } = faena;
  const number = await anOrder(page, "Ferretería Los Aromos");
  // Its time is shown in Santiago time, not as the API's UTC.
  const order = await (await page.request.get(`/api/orders/${number}`)).json();
  assert.match(order.created_at, /Z$/);
  await page.getByText(santiago(order.created_at), { exact: false }).first().waitFor();

  const asked = [];
  page.once("dialog", (d) => {
    asked.push(d.message());
    d.dismiss();
  });
  await page.getByRole("button", { name: "Eliminar orden" }).click();
  assert.deepEqual(asked, [`¿Eliminar la orden ${number}?`]);
  await page.waitForTimeout(300);
  assert.match(page.url(), new RegExp(`/orders/${number}`), "No: still on the order");
  await page.getByRole("heading", { name: new RegExp(number) }).waitFor();

  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Eliminar orden" }).click();
  await page.waitForURL(/\/orders\?ok=order_deleted/);
  await page.getByText("Orden eliminada.").waitFor();
  const res = await page.request.get(`/orders/${number}`);
  assert.equal(res.status(), 404);
});

test("without JavaScript the server asks on a page of its own", async () => {
  const context = await faena.browser.newContext({
    locale: "es-CL",
    baseURL: faena.base,
    javaScriptEnabled: false,
  });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Correo electrónico").fill(ADMIN_EMAIL);
  await page.getByLabel("Contraseña").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Entrar" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  const number = await anOrder(page, "Bazar Quillota");

  await page.getByRole("button", { name: "Eliminar orden" }).click();
  await page.getByRole("heading", { name: "Confirma antes de seguir" }).waitFor();
  await page.getByText(`¿Eliminar la orden ${number}?`).waitFor();
  // Cancel goes back, with the order still there.
  await page.getByRole("link", { name: "Cancelar" }).click();
  await page.waitForURL(new RegExp(`/orders/${number}`));

  await page.getByRole("button", { name: "Eliminar orden" }).click();
  await page.getByRole("button", { name: "Eliminar orden" }).click();
  await page.waitForURL(/\/orders\?ok=order_deleted/);
  await page.getByText("Orden eliminada.").waitFor();
  await context.close();
});
