// Attachments on a warehouse order, in a real browser: a photo chosen in
// the order page's form is uploaded (the form's CSRF token travels as the
// first multipart field), listed, thumbnailed by the worker, downloaded;
// a PDF named like a photo is refused with a message.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { start } from "./support.mjs";

let faena;
before(async () => {
  faena = await start();
});
after(async () => {
  await faena?.stop();
});

/** A `w` × `h` RGB PNG, made here so the test needs no fixture file. */
function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) row.set([x % 256, y % 256, 120], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

test("a photo attached to an order is listed, thumbnailed and downloadable", async () => {
  const { page } = faena;

  await page.goto("/clients/new");
  await page.getByLabel("Nombre").fill("Distribuidora Pehuén");
  await page.getByLabel("Correo electrónico").fill("bodega@pehuen.cl");
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.waitForURL(/\/clients\/[0-9a-f-]{36}/);

  await page.goto("/orders/new");
  await page.getByLabel("Cliente").fill("Distribuidora Pehuén");
  await page.getByLabel("SKU 1").fill("PAL-01");
  await page.getByLabel("Descripción 1").fill("Pallet de madera");
  await page.getByLabel("Cantidad 1").fill("12");
  await page.getByRole("button", { name: "Guardar" }).click();
  await page.waitForURL(/\/orders\/ORD-\d{6}/);
  await page.getByRole("heading", { name: "Archivos adjuntos" }).waitFor();
  await page.getByText("Aún no hay archivos adjuntos.").waitFor();

  // A photo, through the form.
  await page.getByLabel("Archivo", { exact: true }).setInputFiles({
    name: "pallets recibidos.png",
    mimeType: "image/png",
    buffer: png(640, 480),
  });
  await page.getByRole("button", { name: "Adjuntar" }).click();
  await page.waitForURL(/ok=file_uploaded/);
  await page.getByText("Archivo adjuntado.").waitFor();
  const link = page.getByRole("link", { name: "pallets recibidos.png" });
  await link.waitFor();

  // The worker makes the thumbnail; the page shows it once it exists.
  let thumb = 0;
  for (let i = 0; i < 100 && thumb === 0; i++) {
    await page.reload();
    thumb = await page.locator(".attachments img").count();
    if (thumb === 0) await page.waitForTimeout(100);
  }
  assert.equal(thumb, 1, "a thumbnail on the page");
  const width = await page
    .locator(".attachments img")
    .evaluate((img) => (img.complete ? img.naturalWidth : new Promise((r) => (img.onload = () => r(img.naturalWidth)))));
  assert.equal(width, 320);

  const download = await page.request.get(await page.getByRole("link", { name: "pallets recibidos.png" }).getAttribute("href"));
  assert.equal(download.status(), 200);
  assert.equal(download.headers()["content-type"], "image/png");

  // A PDF named like a photo is refused, and said so.
  await page.getByLabel("Archivo", { exact: true }).setInputFiles({
    name: "foto.jpg",
    mimeType: "image/jpeg",
    buffer: Buffer.from("%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"),
  });
  await page.getByRole("button", { name: "Adjuntar" }).click();
  await page.waitForURL(/files_error=file_type_mismatch/);
  await page.getByText("No se adjuntó: el nombre del archivo no corresponde a su contenido.").waitFor();
  assert.equal(await page.locator(".attachment-list li").count(), 1);
  if (process.env.FAENA_TEST_SCREENSHOT) {
    await page.screenshot({ path: process.env.FAENA_TEST_SCREENSHOT, fullPage: true });
  }
});
