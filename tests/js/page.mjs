// The page the browser test opens, from an origin of its own: @connectrpc/connect-web's two
// transports against orgd, the results shown on the page and handed to the driver.
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { registryFrom } from "./descriptors.mjs";
import { exercise } from "./calls.mjs";

const params = new URLSearchParams(location.search);
const baseUrl = params.get("api");
const options = { token: params.get("token"), otherToken: params.get("other"), stream: true };
const out = document.getElementById("out");

async function run() {
  const bytes = new Uint8Array(await (await fetch("/descriptors.binpb")).arrayBuffer());
  const registry = registryFrom(bytes);
  const transports = {
    "web-connect-json": createConnectTransport({ baseUrl }),
    "web-connect-binary": createConnectTransport({ baseUrl, useBinaryFormat: true }),
    "web-connect-get": createConnectTransport({ baseUrl, useHttpGet: true }),
    "web-grpc-web": createGrpcWebTransport({ baseUrl }),
  };
  const results = [];
  for (const [label, transport] of Object.entries(transports)) {
    try {
      results.push({ ok: true, ...(await exercise(registry, transport, { ...options, label })) });
    } catch (e) {
      results.push({ ok: false, label, error: String(e && e.stack ? e.stack : e) });
    }
    out.textContent = results.map((r) => JSON.stringify(r)).join("\n");
  }
  return results;
}

window.__orgd = run().catch((e) => [{ ok: false, label: "page", error: String(e) }]);
