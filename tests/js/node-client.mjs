// @connectrpc/connect with @connectrpc/connect-node against a running orgd: Connect (JSON,
// binary, GET, gzip), gRPC and gRPC-Web. Run by tests/connect_clients.rs with ORGD_URL,
// ORGD_TOKEN, ORGD_OTHER_TOKEN and ORGD_DESCRIPTORS set; prints one JSON line per transport.
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { readFileSync } from "node:fs";
import { registryFrom } from "./descriptors.mjs";
import { exercise } from "./calls.mjs";

const baseUrl = process.env.ORGD_URL;
const options = {
  token: process.env.ORGD_TOKEN,
  otherToken: process.env.ORGD_OTHER_TOKEN,
  stream: true,
};
const registry = registryFrom(readFileSync(process.env.ORGD_DESCRIPTORS));

const transports = {
  "connect-json": createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  "connect-binary": createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  "connect-get-gzip": createConnectTransport({
    baseUrl,
    httpVersion: "2",
    useBinaryFormat: true,
    useHttpGet: true,
    sendCompression: compressionGzip,
    acceptCompression: [compressionGzip],
    compressMinBytes: 1,
  }),
  grpc: createGrpcTransport({ baseUrl, sendCompression: compressionGzip, acceptCompression: [compressionGzip] }),
  "grpc-web": createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
};

let failed = 0;
for (const [label, transport] of Object.entries(transports)) {
  try {
    console.log(JSON.stringify({ ok: true, ...(await exercise(registry, transport, { ...options, label })) }));
  } catch (e) {
    failed++;
    console.log(JSON.stringify({ ok: false, label, error: String(e && e.stack ? e.stack : e) }));
  }
}
process.exit(failed ? 1 : 0);
