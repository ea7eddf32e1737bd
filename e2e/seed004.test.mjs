// The warehouse flow of seed 004, in a real browser: a client, an order for
// it, the order moved through to delivered, returned with a reason, and
// seen on the returns page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support.mjs";

let faena;
before(async () => {
  faena = await start();
});
after(async () => {
  await faena?.stop();
});

test("a client, an order, its delivery and its return", async () => {
  const { page } = faena;

  // The client.
  await page.goto("/clients/new");
  await page.getByLabel("Nombre").fill("Ferretería Los Aromos");
  await page.getByLabel("Correo electrónico").fill("compras@losaromos.cl");
  await page.getByLabel("Teléfono").fill("+56 9 8765 4321");
  await page.getByLabel("RUT o identificador tributario").fill("76.086.428-5");
  await page.getByLabel("Comuna").fill("Ñuñoa");
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.waitForURL(/\/clients\/[0-9a-f-]{36}/);
  await page.getByText("Cliente creado.").waitFor();
  assert.equal(await page.getByRole("heading", { level: 1 }).innerText(), "Ferretería Los Aromos");

  // The order, for that client, chosen from the selector.
  await page.goto("/orders/new");
  // The picker searches as one types; the suggestion is chosen.
  await page.getByLabel("Cliente").fill("Aromos");
  await page.locator('#client-options option[value="Ferretería Los Aromos"]').waitFor({ state: "attached" });
  await page.getByLabel("Cliente").fill("Ferretería Los Aromos");
  assert.match(await page.locator("#client_id_value").inputValue(), /^[0-9a-f-]{36}$/);
  await page.getByLabel("SKU 1").fill("TOR-8X40");
  await page.getByLabel("Descripción 1").fill("Tornillo autoperforante 8x40");
  await page.getByLabel("Cantidad 1").fill("250");
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.waitForURL(/\/orders\/ORD-\d{6}/);
  const number = page.url().match(/ORD-\d{6}/)[0];
  await page.getByText("Orden creada.").waitFor();
  assert.match(await page.locator("h1 .badge").innerText(), /Recibida/);

  // Through the warehouse, one step at a time: each next step is a button.
  for (const [button, status] of [
    ["Comenzar preparación", "En preparación"],
    ["Pasar a embalaje", "En embalaje"],
    ["Despachar", "Despachada"],
    ["Marcar como entregada", "Entregada"],
  ]) {
    await page.getByRole("button", { name: button }).click();
    await page.getByText("Estado actualizado.").waitFor();
    assert.equal(await page.locator("h1 .badge").innerText(), status);
  }
  // Only what may follow is offered.
  assert.equal(await page.getByRole("button", { name: "Despachar" }).count(), 0);

  // Returned: the return form opens with its reason required.
  await page.locator("summary", { hasText: "Registrar devolución" }).click();
  const reason = page.getByLabel("Razón de la devolución");
  assert.ok(await reason.isVisible(), "the reason field shows for a return");
  assert.equal(await reason.evaluate((el) => el.required), true);
  // Without the browser's check, the server still refuses an empty reason.
  await reason.evaluate((el) => (el.required = false));
  await page.getByRole("button", { name: "Confirmar devolución" }).click();
  await page.locator(".field-error").first().waitFor();
  assert.equal(await page.locator("h1 .badge").innerText(), "Entregada");
  assert.ok(await reason.isVisible(), "the return form stays open with its error");

  await page.getByLabel("Motivo").selectOption({ index: 1 });
  await page.getByLabel("Razón de la devolución").fill("Llegaron 50 tornillos oxidados");
  await page.getByRole("button", { name: "Confirmar devolución" }).click();
  await page.getByText("Estado actualizado.").waitFor();
  assert.equal(await page.locator("h1 .badge").innerText(), "Devuelta");

  // The returns page shows it as a card with its reason.
  await page.goto("/orders/returns");
  const card = page.locator(".return-card", { hasText: number });
  await card.waitFor();
  assert.match(await card.innerText(), /Llegaron 50 tornillos oxidados/);
  assert.match(await card.innerText(), /Ferretería Los Aromos/);

  // And the client's page counts the order.
  await page.goto("/clients");
  const row = page.locator("tr", { hasText: "Ferretería Los Aromos" });
  assert.match(await row.innerText(), /\b1\b/);

  assert.deepEqual(faena.errors, [], "no JavaScript errors on any page");
});
