// The watch page the browser test opens, from an origin of its own: WatchEvents as
// Server-Sent Events through a real EventSource, and as a gRPC-Web server stream through
// @connectrpc/connect-web, while the page writes to the organization until both streams
// have seen three events.
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { registryFrom } from "./descriptors.mjs";

const params = new URLSearchParams(location.search);
const baseUrl = params.get("api");
const token = params.get("token");
const org = params.get("org");
const out = document.getElementById("out");
const WANTED = 3;

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

function increasing(positions) {
  return positions.every((p, i) => i === 0 || p > positions[i - 1]);
}

// An EventSource's events: the `id:` of each and the position in its data.
function eventSource() {
  const source = new EventSource(`${baseUrl}/api/v1/organization/${org}/events`);
  const seen = [];
  const done = new Promise((resolve, reject) => {
    source.onmessage = (m) => {
      const data = JSON.parse(m.data);
      seen.push({ id: m.lastEventId, position: data.event && data.event.position });
      if (seen.length >= WANTED) {
        source.close();
        resolve(seen);
      }
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) reject(new Error("the EventSource closed"));
    };
  });
  return done.then((events) => {
    check(
      events.every((e) => e.id !== "" && e.id === String(e.position)),
      `web-event-source: id is the position: ${JSON.stringify(events)}`,
    );
    const ids = events.map((e) => BigInt(e.id));
    check(increasing(ids), `web-event-source: ids increase: ${ids}`);
    return { ok: true, label: "web-event-source", ids: ids.map(String) };
  });
}

function grpcWeb(registry) {
  const service = registry.getService("orgd.v1.OrganizationEventService");
  const client = createClient(service, createGrpcWebTransport({ baseUrl }));
  const abort = new AbortController();
  return (async () => {
    const positions = [];
    let heartbeats = 0;
    for await (const m of client.watchOrganizationEvents(
      { organizationId: BigInt(org) },
      { headers: { authorization: `Bearer ${token}` }, signal: abort.signal },
    )) {
      if (m.kind.case === "event") positions.push(m.kind.value.position);
      if (m.kind.case === "heartbeat") heartbeats += 1;
      if (positions.length >= WANTED) break;
    }
    abort.abort();
    check(increasing(positions), `web-grpc-web-watch: positions increase: ${positions}`);
    return { ok: true, label: "web-grpc-web-watch", positions: positions.map(String), heartbeats };
  })();
}

async function run() {
  const bytes = new Uint8Array(await (await fetch("/descriptors.binpb")).arrayBuffer());
  const registry = registryFrom(bytes);
  const streams = [eventSource(), grpcWeb(registry)];
  let finished = false;
  const all = Promise.allSettled(streams).finally(() => {
    finished = true;
  });
  // Writes until both streams have their events: a stream that began after a write
  // starts at "now" and does not see it.
  for (let i = 0; !finished && i < 200; i++) {
    await fetch(`${baseUrl}/api/v1/organization/${org}/quick-actions`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify([{ name: `Call ${i}`, color: "red", icon: "phone" }]),
    });
    await new Promise((r) => setTimeout(r, 150));
  }
  const results = (await all).map((r, i) =>
    r.status === "fulfilled"
      ? r.value
      : { ok: false, label: ["web-event-source", "web-grpc-web-watch"][i], error: String(r.reason && r.reason.stack ? r.reason.stack : r.reason) },
  );
  out.textContent = results.map((r) => JSON.stringify(r)).join("\n");
  return results;
}

window.__orgd = run().catch((e) => [{ ok: false, label: "page", error: String(e) }]);
