// The repair shop (seed 003) in a real browser, as the people at the shop
// do it: the receptionist takes a phone in with the keyboard and downloads
// its intake label (ZPL and PDF); the technician takes it from their
// queue, diagnoses it and writes the estimate; the desk sends it; the
// customer, with no account, opens the link of the mail (read from the
// file transport's folder) and approves it with their typed name; the
// technician repairs it and marks it ready; the desk delivers it. The
// customer's tracking link (from the intake mail) shows the status and no
// personal data. Last, the statistics page as a manager, once it exists.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { start, ADMIN_EMAIL, ADMIN_PASSWORD } from "./support.mjs";

const PASSWORD = "Clave-larga-del-taller-2026";
const CUSTOMER = { name: "Valentina Muñoz Reyes", email: "valentina.munoz@correo.cl", phone: "+56 9 7654 3210" };
const DESK = { email: "recepcion@faena.test", name: "Rosa Aravena", role: "receptionist" };
const BENCH = { email: "tecnico@faena.test", name: "Tomás Fuentes", role: "technician" };
const MANAGER = { email: "gerencia@faena.test", name: "Marta Lagos", role: "manager" };
const SIGNER = "Valentina Muñoz Reyes";
// The estimate, as the technician types it: a part and labour (with a
// discount). The totals the pages show are computed from these here.
const LINES = [
  { kind: "Repuesto", description: "Conector de carga USB-C", quantity: 1, price: 18990, discount: 0 },
  { kind: "Mano de obra", description: "Cambio de conector y limpieza", quantity: 1, price: 25000, discount: 10 },
];

let faena;
let api;
/** What the flow left for the statistics check: the order, delivered. */
let delivered = null;

before(async () => {
  faena = await start();
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
    return r.status === 204 ? null : r.json();
  };
  await api("POST", "/api/clients", CUSTOMER);
  for (const u of [DESK, BENCH, MANAGER]) await api("POST", "/api/users", { ...u, password: PASSWORD });
});
after(async () => {
  await faena?.stop();
});

/** A browser of `user`'s own, signed in through /login. */
async function signIn(user, errors) {
  const context = await faena.browser.newContext({ locale: "es-CL", baseURL: faena.base });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`${user.email}: ${e}`));
  await page.goto("/login");
  await page.getByLabel("Correo electrónico").fill(user.email);
  await page.getByLabel("Contraseña").fill(PASSWORD);
  await page.getByRole("button", { name: "Entrar" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  return { context, page };
}

/** A day `n` days from today (Santiago), as AAAA-MM-DD. */
function inDays(n) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "America/Santiago" }).format(new Date(Date.now() + n * 86_400_000));
}

/** AAAA-MM-DD as the pages write dates: DD-MM-AAAA. */
function dmy(iso) {
  return iso.split("-").reverse().join("-");
}

/** Pesos as the pages write them: "$49.373". */
function clp(n) {
  return `$${String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ".")}`;
}

// ---- Mail, as the file transport leaves it: one .eml per message. ----

function unfold(head) {
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const at = line.indexOf(":");
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return headers;
}

function quotedPrintable(s) {
  const bytes = [];
  const text = s.replace(/=\r?\n/g, "");
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(text[i], "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

function decodeBody(body, encoding) {
  switch ((encoding || "").toLowerCase()) {
    case "base64":
      return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
    case "quoted-printable":
      return quotedPrintable(body);
    default:
      return body;
  }
}

/** RFC 2047 words (=?utf-8?b?…?= and =?utf-8?q?…?=) in a header. */
function decodeWords(value) {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?([^?]+)\?([bq])\?([^?]*)\?=/gi, (_, _charset, kind, data) =>
      kind.toLowerCase() === "b"
        ? Buffer.from(data, "base64").toString("utf8")
        : quotedPrintable(data.replace(/_/g, " ")),
    );
}

/** The text/plain parts of a MIME entity, decoded. */
function plainParts(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = unfold(split < 0 ? raw : raw.slice(0, split));
  const body = split < 0 ? "" : raw.slice(split).replace(/^\r?\n\r?\n/, "");
  const type = headers["content-type"] || "text/plain";
  const boundary = type.match(/boundary="?([^";]+)"?/i);
  if (/^multipart\//i.test(type) && boundary) {
    return body
      .split(`--${boundary[1]}`)
      .slice(1)
      .filter((part) => !part.startsWith("--"))
      .flatMap((part) => plainParts(part.replace(/^\r?\n/, "")));
  }
  return /^text\/plain/i.test(type) ? [decodeBody(body, headers["content-transfer-encoding"])] : [];
}

/** Every mail the file transport has written so far. */
function mails() {
  const dir = join(faena.dataDir, "mail");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".eml") && !f.startsWith("."))
    .map((f) => {
      const raw = readFileSync(join(dir, f), "utf8");
      const split = raw.search(/\r?\n\r?\n/);
      const headers = unfold(raw.slice(0, split));
      return { to: headers.to || "", subject: decodeWords(headers.subject || ""), text: plainParts(raw).join("\n") };
    });
}

/** The link starting `prefix` in the mail to `to` whose text has it, once
 * the outbox has delivered it (a small poll: delivery is a job). */
async function linkInMail(to, prefix) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = mails().filter((m) => m.to.includes(to) && m.text.includes(prefix));
    if (found.length > 0) {
      assert.equal(found.length, 1, `one mail with ${prefix}: ${found.map((m) => m.subject)}`);
      const m = found[0];
      // The whole address as the mail writes it, from its scheme.
      const link = m.text.match(new RegExp(`\\S*${prefix}\\S+`))[0];
      return { mail: m, link };
    }
    if (Date.now() > deadline) {
      throw new Error(`no mail to ${to} with ${prefix}; mails: ${JSON.stringify(mails().map((m) => [m.to, m.subject]))}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A page of the customer's, with no session: a fresh browser context. */
async function asCustomer(link, errors) {
  const context = await faena.browser.newContext({ locale: "es-CL", viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`customer: ${e}`));
  // The link names the configured public address; this server is here.
  const url = new URL(link, faena.base);
  await page.goto(new URL(url.pathname + url.search, faena.base).toString());
  return { context, page };
}

async function badge(page) {
  return (await page.locator("h1 .badge").innerText()).trim();
}

/** Presses a form's button and waits for the page the post leads to
 * (its address may be the one already shown, so the load is awaited). */
async function submit(page, button) {
  await Promise.all([page.waitForEvent("load"), button.click()]);
}

/** Presses a next-step button and waits for the page to come back. */
async function move(page, button, status) {
  await submit(page, page.getByRole("button", { name: button, exact: true }));
  assert.match(page.url(), /ok=service_order_moved/);
  await page.getByText("Estado actualizado.").waitFor();
  assert.equal(await badge(page), status, `after «${button}»`);
}

/** A fact of the order page's list (dt → dd). */
function fact(page, term) {
  return page.locator("dl.facts dt", { hasText: term }).first().locator("xpath=following-sibling::dd[1]");
}

test("a phone taken in, labelled, diagnosed, quoted, approved by mail, repaired and delivered", async () => {
  const errors = [];
  const desk = await signIn(DESK, errors);
  const bench = await signIn(BENCH, errors);
  const year = new Intl.DateTimeFormat("en-CA", { timeZone: "America/Santiago", year: "numeric" }).format(new Date());
  const promised = inDays(7);

  // 1. Intake, keyboard first: the customer field has the focus, the
  // picker finds the client as one types, Tab goes down the form.
  const d = desk.page;
  await d.goto("/service-orders/new");
  await d.getByRole("heading", { level: 1, name: "Recibir equipo" }).waitFor();
  // The customer field has the focus (autofocus): typing starts there.
  await d.waitForFunction(() => document.activeElement?.id === "client_id", null, { timeout: 5000 });
  await d.keyboard.type(CUSTOMER.name);
  await d.locator(`#client-options option[value="${CUSTOMER.name}"]`).waitFor({ state: "attached" });
  await d.waitForFunction(() => document.getElementById("client_id_value").value !== "");
  assert.match(await d.locator("#client_id_value").inputValue(), /^[0-9a-f-]{36}$/, "the picker chose the client");
  const typeInto = async (id, text) => {
    await d.keyboard.press("Tab");
    assert.equal(await d.evaluate(() => document.activeElement.id), id, `Tab reaches ${id}`);
    if (text) await d.keyboard.type(text);
  };
  // No address typed: the notices go to the client's own.
  await typeInto("contact_email", "");
  await typeInto("device_type", "Celular");
  await typeInto("brand", "Samsung");
  await typeInto("model", "Galaxy A54");
  await typeInto("serial", "R58N91KQ2XB");
  await typeInto("accessories", "Cargador y funda");
  await typeInto("condition_notes", "Pantalla trizada en la esquina superior");
  await typeInto("reported_fault", "No carga; a veces se apaga con batería");
  await typeInto("priority", "");
  await d.getByLabel("Prioridad").selectOption({ label: "Alta" });
  // The date field's segments follow the browser's own language (this
  // headless Chromium shows mm/dd/aaaa whatever the page's locale), so the
  // date is set whole; Tab then walks its segments and leaves it.
  await typeInto("promised_date", "");
  await d.getByLabel("Fecha prometida").fill(promised);
  for (let i = 0; i < 4 && (await d.evaluate(() => document.activeElement.id)) === "promised_date"; i++) {
    await d.keyboard.press("Tab");
  }
  assert.equal(await d.evaluate(() => document.activeElement.textContent.trim()), "Recibir equipo", "Tab reaches the submit button");
  await d.keyboard.press("Enter");
  await d.waitForURL(/\/service-orders\/OS-\d{4}-\d{6}\?ok=service_order_created/);
  await d.getByText("Equipo recibido.").waitFor();
  const number = `OS-${year}-000001`;
  assert.equal(new URL(d.url()).pathname, `/service-orders/${number}`);
  assert.match(await d.getByRole("heading", { level: 1 }).innerText(), new RegExp(`^Orden ${number}\\s+Recibida$`));
  assert.equal(await fact(d, "Cliente").innerText(), CUSTOMER.name);
  assert.equal(await fact(d, "Correo para avisos").innerText(), CUSTOMER.email);
  assert.equal(await fact(d, "Equipo").innerText(), "Celular Samsung Galaxy A54");
  assert.equal(await fact(d, "Prioridad").innerText(), "Alta");
  assert.equal(await fact(d, "Técnico").innerText(), "Sin asignar");
  // The promised date (the order page writes it AAAA-MM-DD today, the
  // tracking page and the queue DD-MM-AAAA: either is the date typed).
  assert.ok([promised, dmy(promised)].includes(await fact(d, "Fecha prometida").innerText()), "the promised date");

  // 2. The intake label, downloaded as ZPL and as PDF.
  const intakeLabel = d.locator("li", { hasText: "Etiqueta de ingreso" });
  const download = async (name) => {
    const [file] = await Promise.all([d.waitForEvent("download"), intakeLabel.getByRole("link", { name, exact: true }).click()]);
    assert.match(file.suggestedFilename(), new RegExp(number));
    return readFileSync(await file.path());
  };
  const zpl = (await download("ZPL 203 dpi")).toString("utf8");
  assert.ok(zpl.startsWith("^XA"), `ZPL starts with ^XA: ${zpl.slice(0, 40)}`);
  assert.ok(zpl.includes(number), "the ZPL carries the order number");
  assert.ok(zpl.trimEnd().endsWith("^XZ"), "the ZPL label is closed");
  const pdf = await download("PDF");
  assert.equal(pdf.subarray(0, 4).toString("latin1"), "%PDF");
  assert.equal(new URL(d.url()).pathname, `/service-orders/${number}`, "a download leaves the page where it was");

  // The intake mail went to the client's address with the tracking link.
  const intake = await linkInMail(CUSTOMER.email, "/service/track/");
  assert.match(intake.mail.subject, new RegExp(`Recibimos tu equipo: orden ${number}`));
  const tracking = await asCustomer(intake.link, errors);
  const trackPage = async (status) => {
    await tracking.page.reload();
    await tracking.page.getByRole("heading", { level: 1, name: `Seguimiento de la orden ${number}` }).waitFor();
    assert.equal((await tracking.page.locator(".lead .badge").innerText()).trim(), status);
    const text = await tracking.page.locator("body").innerText();
    assert.equal(await fact(tracking.page, "Fecha prometida").innerText(), dmy(promised));
    for (const secret of [CUSTOMER.name, "Valentina", CUSTOMER.email, CUSTOMER.phone, "R58N91KQ2XB"]) {
      assert.ok(!text.includes(secret), `the tracking page shows no personal data: ${secret}`);
    }
    return text;
  };
  await trackPage("Recibida");

  // 3. The technician takes it from their queue, diagnoses it and writes
  // the estimate.
  const b = bench.page;
  await b.goto("/service/queue");
  const free = b.locator("section", { has: b.getByRole("heading", { name: "Sin asignar, para tomar" }) });
  const card = free.locator("li.card", { hasText: number });
  assert.match(await card.innerText(), /Celular Samsung Galaxy A54 · Alta/);
  await submit(b, card.getByRole("button", { name: "Tomar la orden" }));
  await b.waitForURL(new RegExp(`/service-orders/${number}\\?ok=service_order_taken`));
  await b.getByText("Tomaste la orden.").waitFor();
  assert.equal(await fact(b, "Técnico").innerText(), BENCH.name);
  await b.goto("/service/queue");
  const mine = b.locator("section", { has: b.getByRole("heading", { name: "Mis órdenes abiertas" }) });
  await mine.locator("li.card", { hasText: number }).getByRole("link", { name: number }).click();
  await b.waitForURL(new RegExp(`/service-orders/${number}$`));

  await move(b, "Comenzar diagnóstico", "En diagnóstico");
  const diagnosis = "Conector de carga oxidado; batería en buen estado";
  await b.getByRole("textbox", { name: "Diagnóstico", exact: true }).fill(diagnosis);
  await submit(b, b.getByRole("button", { name: "Guardar diagnóstico" }));
  await b.getByText("Cambios guardados.").waitFor();
  assert.equal(await fact(b, "Diagnóstico").innerText(), diagnosis);

  await b.locator("summary", { hasText: "Editar presupuesto" }).click();
  for (const [i, l] of LINES.entries()) {
    const n = i + 1;
    await b.getByLabel(`Tipo ${n}`, { exact: true }).selectOption({ label: l.kind });
    await b.getByLabel(`Descripción ${n}`, { exact: true }).fill(l.description);
    await b.getByLabel(`Cantidad ${n}`, { exact: true }).fill(String(l.quantity));
    await b.getByLabel(`Precio unitario ${n}`, { exact: true }).fill(clp(l.price).slice(1));
    if (l.discount) await b.getByLabel(`Descuento ${n}`, { exact: true }).fill(String(l.discount));
  }
  await submit(b, b.getByRole("button", { name: "Guardar presupuesto" }));
  await b.getByText("Cambios guardados.").waitFor();
  const estimate = b.locator("section", { has: b.getByRole("heading", { name: "Presupuesto", exact: true }) });
  const nets = LINES.map((l) => (l.quantity * l.price * (100 - l.discount)) / 100);
  const net = nets.reduce((a, x) => a + x, 0);
  const vat = Math.round(net * 0.19);
  const total = net + vat;
  const rows = estimate.locator("table.list tbody tr");
  assert.equal(await rows.count(), LINES.length);
  for (const [i, l] of LINES.entries()) {
    const cells = await rows.nth(i).locator("td").allInnerTexts();
    assert.deepEqual(cells, [l.kind, l.description, String(l.quantity), clp(l.price), `${l.discount} %`, clp(nets[i])]);
  }
  const totals = estimate.locator("dl.totals");
  assert.equal(await fact(estimate, "Neto").innerText(), clp(net));
  assert.equal(await totals.locator("dt", { hasText: "IVA" }).locator("xpath=following-sibling::dd[1]").innerText(), clp(vat));
  assert.equal(await fact(estimate, "Total").innerText(), clp(total));
  // Sending the estimate is the desk's move, not the bench's.
  assert.equal(await b.getByRole("button", { name: "Enviar presupuesto" }).count(), 0);

  // The desk sends it.
  await d.goto(`/service-orders/${number}`);
  assert.equal(await fact(d, "Diagnóstico").innerText(), diagnosis);
  await move(d, "Enviar presupuesto", "Esperando aprobación");
  await fact(d, "Enlace de aprobación").waitFor();
  assert.match(await fact(d, "Enlace de aprobación").innerText(), /^Válido hasta \d{2}-\d{2}-\d{4}/);
  await trackPage("Esperando aprobación");

  // 4. The estimate mail, with its one-time link; the customer opens it
  // with no session, reads the same totals, signs with their name.
  const mailed = await linkInMail(CUSTOMER.email, "/service/approve/");
  assert.match(mailed.mail.subject, new RegExp(`Presupuesto de la orden ${number}`));
  assert.ok(mailed.mail.text.includes(diagnosis), "the mail says the diagnosis");
  assert.ok(mailed.mail.text.includes(clp(total)), `the mail says the total ${clp(total)}`);
  const customer = await asCustomer(mailed.link, errors);
  const c = customer.page;
  await c.getByRole("heading", { level: 1, name: `Presupuesto de la orden ${number}` }).waitFor();
  const offered = await c.locator("main").innerText();
  for (const l of LINES) assert.ok(offered.includes(l.description), `the estimate shows ${l.description}`);
  assert.ok(offered.includes(clp(total)), `the customer sees the total ${clp(total)}`);
  assert.ok(!offered.includes("R58N91KQ2XB"), "no serial on the public page");
  assert.equal(await c.getByRole("link", { name: "Órdenes de servicio" }).count(), 0, "nothing of the shop's inside");
  await c.getByLabel("Tu nombre completo (firma)").fill(SIGNER);
  await submit(c, c.getByRole("button", { name: "Apruebo el presupuesto" }));
  await c.getByRole("heading", { level: 1, name: "Gracias por tu respuesta" }).waitFor();
  assert.match(await c.getByRole("status").innerText(), new RegExp(`Aprobaste el presupuesto de la orden ${number}`));
  // The link served once: opened again, it says so.
  await c.goto(new URL(new URL(mailed.link, faena.base).pathname, faena.base).toString());
  await c.getByRole("heading", { level: 1, name: "Este enlace ya no sirve" }).waitFor();
  await customer.context.close();

  // The desk sees it approved, and who signed.
  await d.reload();
  assert.equal(await badge(d), "Aprobada");
  assert.match(await fact(d, "Respuesta del cliente").innerText(), new RegExp(`^Aprobado por ${SIGNER} · \\d{2}-\\d{2}-\\d{4}`));
  assert.equal(await d.locator("dl.facts dt", { hasText: "Enlace de aprobación" }).count(), 0, "no link waiting any more");

  // 5. The bench repairs it and marks it ready; the desk delivers it.
  await b.goto(`/service-orders/${number}`);
  assert.equal(await badge(b), "Aprobada");
  await move(b, "Comenzar reparación", "En reparación");
  await move(b, "Marcar lista para retiro", "Lista para retiro");
  assert.equal(await b.getByRole("button", { name: "Entregar" }).count(), 0, "delivering is the desk's");
  await trackPage("Lista para retiro");
  assert.match(await fact(tracking.page, "Lista").innerText(), /^\d{2}-\d{2}-\d{4} \d{2}:\d{2}$/, "when it was ready");

  await d.reload();
  await move(d, "Entregar", "Entregada");
  assert.equal(await d.locator("section", { has: d.getByRole("heading", { name: "Siguiente paso" }) }).count(), 0, "nothing follows delivery");
  const timeline = d.locator("section", { has: d.getByRole("heading", { name: "Historial" }) }).locator("ol.history li");
  const moves = (await timeline.allInnerTexts()).map((s) => s.replace(/\s+/g, " ").trim());
  // Who made each move: the staff as the timeline names them (today their
  // sign-in address; their name would do as well), the customer by the
  // name they signed with.
  const by = (u) => `(?:${u.name}|${u.email.replace(/\./g, "\\.")})`;
  const expected = [
    `Recibida · ${by(DESK)}`,
    `Recibida → En diagnóstico · ${by(BENCH)}`,
    `En diagnóstico → Esperando aprobación · ${by(DESK)}`,
    `Esperando aprobación → Aprobada · ${SIGNER}`,
    `Aprobada → En reparación · ${by(BENCH)}`,
    `En reparación → Lista para retiro · ${by(BENCH)}`,
    `Lista para retiro → Entregada · ${by(DESK)}`,
  ];
  assert.equal(moves.length, expected.length, `the timeline lists every move: ${moves.join(" | ")}`);
  for (const [i, line] of moves.entries()) {
    assert.match(line, new RegExp(`^\\d{2}-\\d{2}-\\d{4} \\d{2}:\\d{2} · ${expected[i]}$`), `timeline line ${i + 1}`);
  }

  // The tracking page follows, dates and all, still without personal data.
  await trackPage("Entregada");
  assert.match(await fact(tracking.page, "Entregada").innerText(), /^\d{2}-\d{2}-\d{4} \d{2}:\d{2}$/, "when it was delivered");
  await tracking.context.close();

  // The ready and delivered mails went out too.
  for (const subject of [`Tu equipo está listo: orden ${number}`, `Entregamos tu equipo: orden ${number}`]) {
    const deadline = Date.now() + 20_000;
    while (!mails().some((m) => m.subject === subject) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(mails().some((m) => m.subject === subject && m.to.includes(CUSTOMER.email)), `a mail «${subject}»`);
  }

  await desk.context.close();
  await bench.context.close();
  assert.deepEqual([...errors, ...faena.errors], [], "no JavaScript errors on any page");
  delivered = { number, total, net, technician: BENCH.name };
});

test("the statistics page counts the delivered order", async (t) => {
  assert.ok(delivered, "the flow above delivered an order");
  const errors = [];
  const manager = await signIn(MANAGER, errors);
  try {
    const m = manager.page;
    const res = await m.goto("/service/stats");
    if (res.status() === 404) {
      t.diagnostic("/service/stats answers 404 in this binary: the statistics page is not built yet");
      t.skip("/service/stats is not in this binary yet (404); this check becomes strict once it answers 200");
      return;
    }
    assert.equal(res.status(), 200, `/service/stats: ${res.status()}`);
    await m.getByRole("heading", { level: 1, name: "Estadísticas del taller" }).waitFor();

    // Orders by status, now: the one order is delivered, none is open.
    const figures = m.locator(".figures a");
    const figure = (label) => figures.filter({ has: m.locator(".figure-label", { hasText: new RegExp(`^${label}$`) }) }).locator(".figure-value");
    assert.equal(await figure("Entregada").innerText(), "1", "one delivered order");
    assert.equal(await figure("Abiertas").innerText(), "0", "no open order");
    for (const f of await figures.all()) {
      const label = await f.locator(".figure-label").innerText();
      if (label !== "Entregada") assert.equal(await f.locator(".figure-value").innerText(), "0", `no order ${label}`);
    }

    // A table under its heading (h2, then the table's wrapper).
    const tableAfter = (heading) =>
      m.getByRole("heading", { level: 2, name: heading, exact: true }).locator("xpath=following-sibling::*[1]").locator("tbody tr");
    const cells = (row) => row.locator("td").allInnerTexts();

    // Each status the order went through, once, with its average time.
    const stages = tableAfter("Tiempo promedio en cada estado");
    for (const status of ["En diagnóstico", "Esperando aprobación", "Aprobada", "En reparación", "Lista para retiro"]) {
      const row = stages.filter({ has: m.locator("td:first-child", { hasText: new RegExp(`^${status}$`) }) });
      assert.equal(await row.count(), 1, `a row for ${status}`);
      const [, orders, hours] = await cells(row);
      assert.equal(orders, "1", `one order went through ${status}`);
      assert.match(hours, /^\d+(,\d+)?$/, `hours in ${status}: ${hours}`);
    }

    // The technician who repaired it: nothing open, one delivered.
    const tech = tableAfter("Técnicos").filter({ hasText: delivered.technician });
    assert.deepEqual(await cells(tech), [delivered.technician, "0", "1"]);

    // Revenue this month: the delivered order's total, IVA included.
    const month = new Intl.DateTimeFormat("en-CA", { timeZone: "America/Santiago", year: "numeric", month: "2-digit" }).format(new Date());
    const revenue = tableAfter("Ingresos por mes (entregadas, CLP)").filter({ has: m.locator("td:first-child", { hasText: month }) });
    const [when, count, amount] = await cells(revenue);
    assert.deepEqual([when, count, amount], [month, "1", clp(delivered.total)]);

    // Charts drawn on the server, as SVG: the technician's bar says 1.
    const chart = m.locator('figure.chart svg[aria-label="Entregadas por técnico en el periodo"]');
    assert.equal(await chart.count(), 1, "the per-technician chart");
    assert.ok((await chart.locator("title").allTextContents()).includes(`${delivered.technician}: 1`));
    assert.ok((await m.locator('figure.chart svg[aria-label="Órdenes por estado"]').count()) === 1, "the by-status chart");

    // The delivered figure leads to the list of those orders.
    await Promise.all([m.waitForURL(/\/service-orders\?status=delivered/), figures.filter({ hasText: "Entregada" }).click()]);
    await m.locator("tr", { hasText: delivered.number }).waitFor();
    assert.deepEqual(errors, [], "no JavaScript errors");
  } finally {
    await manager.context.close();
  }
});
