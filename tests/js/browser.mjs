// Headless Chromium (the Debian package, never a downloaded browser) driven by
// playwright-core: serves page.mjs (or ORGD_PAGE, expecting ORGD_RESULTS results), bundled
// by esbuild, from an origin of its own and waits for its results. Run by
// tests/connect_clients.rs with ORGD_URL, ORGD_TOKEN, ORGD_OTHER_TOKEN, ORGD_DESCRIPTORS,
// ORGD_ORG (and CHROMIUM, default /usr/bin/chromium). ORGD_HEADER_TOKEN, when set, is sent
// as every request's Bearer token by the browser itself: an EventSource has no way to set a
// header, so this stands in for the cookie or proxy a deployment would put in front.
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";

const bundled = await build({
  entryPoints: [fileURLToPath(new URL(`./${process.env.ORGD_PAGE || "page.mjs"}`, import.meta.url))],
  bundle: true,
  write: false,
  format: "esm",
  platform: "browser",
  target: "es2020",
  logLevel: "warning",
});
const script = bundled.outputFiles[0].text;
const descriptors = readFileSync(process.env.ORGD_DESCRIPTORS);
const site = http.createServer((req, res) => {
  if (req.url.startsWith("/page.js")) {
    res.writeHead(200, { "content-type": "text/javascript" }).end(script);
  } else if (req.url.startsWith("/descriptors.binpb")) {
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(descriptors);
  } else {
    res
      .writeHead(200, { "content-type": "text/html" })
      .end('<!doctype html><title>orgd over Connect</title><pre id="out"></pre><script type="module" src="/page.js"></script>');
  }
});
await new Promise((resolve) => site.listen(0, "localhost", resolve));
// localhost:<port> while the API is at 127.0.0.1:<port>: another origin, so every call is
// a CORS request (with a preflight, for its authorization and connect headers).
const pageUrl = new URL(`http://localhost:${site.address().port}/`);
pageUrl.searchParams.set("api", process.env.ORGD_URL);
pageUrl.searchParams.set("token", process.env.ORGD_TOKEN);
pageUrl.searchParams.set("other", process.env.ORGD_OTHER_TOKEN);
pageUrl.searchParams.set("org", process.env.ORGD_ORG || "");

const profile = mkdtempSync(join(tmpdir(), "orgd-chromium-"));
let failed = 1;
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  if (process.env.ORGD_HEADER_TOKEN) {
    await context.setExtraHTTPHeaders({ authorization: `Bearer ${process.env.ORGD_HEADER_TOKEN}` });
  }
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => console.error(`[page ${m.type()}] ${m.text()}`));
  await page.goto(pageUrl.toString());
  const results = await page.evaluate(() => window.__orgd);
  for (const r of results) console.log(JSON.stringify(r));
  const shown = await page.textContent("#out");
  failed = results.filter((r) => !r.ok).length + (results.length === Number(process.env.ORGD_RESULTS || 4) && shown.includes('"ok":true') ? 0 : 1);
} finally {
  await context.close();
  site.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
