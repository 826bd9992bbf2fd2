// The calls every client makes, whatever its transport: data both ways, typed errors with
// their details, a GET where the transport can, a server stream ended by its deadline.
// Shared by the Node script and the browser page; throws on the first mismatch.
import { createClient, ConnectError, Code } from "@connectrpc/connect";

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

export async function exercise(registry, transport, { token, otherToken, label, stream }) {
  const auth = { headers: { authorization: `Bearer ${token}` } };
  const orgs = createClient(registry.getService("orgd.v1.OrganizationService"), transport);
  const name = `Org over ${label}`;
  const created = await orgs.createOrganization(
    { organization: { name, timezone: "Europe/Berlin", language: "de" } },
    auth,
  );
  const id = created.organization.id;
  check(typeof id === "bigint" && id > 0n, `${label}: created id ${id}`);
  const got = await orgs.getOrganization({ organizationId: id }, auth);
  check(got.organization.name === name, `${label}: read back ${got.organization.name}`);

  const BadRequest = registry.getMessage("google.rpc.BadRequest");
  const ErrorInfo = registry.getMessage("google.rpc.ErrorInfo");
  let invalid;
  try {
    await orgs.createOrganization({ organization: { timezone: "Europe/Berlin", language: "de" } }, auth);
  } catch (e) {
    invalid = ConnectError.from(e);
  }
  check(invalid && invalid.code === Code.InvalidArgument, `${label}: invalid_argument, got ${invalid}`);
  const violations = invalid.findDetails(BadRequest).flatMap((d) => d.fieldViolations);
  check(
    violations.some((v) => v.field === "organization.name"),
    `${label}: BadRequest names organization.name: ${JSON.stringify(violations)}`,
  );
  check(invalid.findDetails(ErrorInfo).length === 1, `${label}: one ErrorInfo`);

  let denied;
  try {
    await orgs.getOrganization({ organizationId: id }, { headers: { authorization: `Bearer ${otherToken}` } });
  } catch (e) {
    denied = ConnectError.from(e);
  }
  check(denied && denied.code === Code.PermissionDenied, `${label}: permission_denied, got ${denied}`);

  const result = { label, id: id.toString(), name: got.organization.name, invalid: Code[invalid.code], denied: Code[denied.code] };
  if (stream) {
    const health = createClient(registry.getService("grpc.health.v1.Health"), transport);
    const statuses = [];
    let ended;
    try {
      for await (const m of health.watch({ service: "" }, { ...auth, timeoutMs: 300 })) {
        statuses.push(m.status);
      }
    } catch (e) {
      ended = ConnectError.from(e);
    }
    check(statuses[0] === 1, `${label}: first watched status SERVING, got ${statuses}`);
    check(ended && ended.code === Code.DeadlineExceeded, `${label}: the stream ends at its deadline, got ${ended}`);
    result.stream = { statuses, ended: Code[ended.code] };
  }
  return result;
}
