//! Every bound the server puts on a client, in one place: sizes, times, and how much work it
//! takes on at once (OWASP API4, unrestricted resource consumption).

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tokio::sync::Semaphore;

use crate::auth::{Authn, Principal};
use crate::domain::DomainError;
use crate::rate_limit::{Limiter, Rate, retry_after_secs};

/// Largest request body in general (REST and gRPC messages).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The avatar carries up to 1 MiB of image as base64 in a JSON string.
pub const MAX_AVATAR_BODY_BYTES: usize = MAX_BODY_BYTES * 4 / 3 + 1024;
/// Request line plus headers, on HTTP/1.1 (hyper's read buffer) and HTTP/2 (header list).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// A client that has not sent its request headers by then is dropped.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request whose body stalls, or whose handling takes longer, is cut off.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Any string in any request message, in characters: a backstop for every field, as long as
/// the longest free text the domain stores (a description), which the domain and the ids'
/// formats bound more tightly where they can. Enforced by `grpc::codec` for every RPC.
pub const MAX_STRING_CHARS: usize = crate::domain::validate::DESCRIPTION_MAX_CHARS;
/// Any repeated (or map) field in any request message: the backstop beside
/// [`MAX_STRING_CHARS`], well above the domain's own counts (tags, quick actions: 100).
pub const MAX_LIST_ITEMS: usize = 1_000;
const _: () = assert!(
    crate::domain::validate::TAGS_MAX <= MAX_LIST_ITEMS
        && crate::domain::quick_action::MAX_ACTIONS <= MAX_LIST_ITEMS,
    "the backstop must never be tighter than a domain rule"
);
/// A connection with no request in progress is closed after this long: one that has sent
/// nothing yet, HTTP/1.1 keep-alive between requests, HTTP/2 without open streams.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 pings a connection this often and drops it when the answer takes longer than the
/// timeout: a vanished peer is noticed even with a stream open.
pub const DEFAULT_H2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
pub const DEFAULT_H2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS handshake must be done by then, like a request's headers.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = HEADER_READ_TIMEOUT;
/// After a shutdown starts, open requests and streams get this long before the process
/// exits anyway.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// File descriptors kept back from client connections: database connections (PostgreSQL's
/// pool, SQLite's writer and readers with their WAL and shm files), the listener, the
/// runtime's own, logs.
pub const DB_FD_HEADROOM: usize = 128;
/// Never fewer client connections than this, however low the descriptor limit.
const MIN_CONNECTIONS: usize = 16;

/// How many client connections may be open at once when the process may open `nofile`
/// descriptors: all but [`DB_FD_HEADROOM`], so a flood of sockets cannot starve the database.
pub const fn connection_cap(nofile: u64) -> usize {
    let nofile = if nofile > usize::MAX as u64 {
        usize::MAX
    } else {
        nofile as usize
    };
    let cap = nofile.saturating_sub(DB_FD_HEADROOM);
    if cap < MIN_CONNECTIONS {
        MIN_CONNECTIONS
    } else {
        cap
    }
}

/// The process's soft `RLIMIT_NOFILE` (None where it cannot be read).
pub fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit into the struct it is given.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        // rlim_t is u64 on Linux, not on every unix.
        #[allow(clippy::unnecessary_cast)]
        (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Requests in progress at once; more are refused at once instead of queueing.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// The most bytes one response may have, as protobuf (gRPC) and as JSON (REST), checked
/// while it is written: a list past it is refused whole with TOO_MANY_RESULTS.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Writes (every RPC but `Get*` / `List*`) one user or organization token may make: 1,000
/// at once (a batch import, a test suite), then 600 a minute. Internal services are not counted (`max_in_flight` bounds
/// them). `Config::write_rate` changes it, `None` turns it off.
pub const DEFAULT_WRITE_RATE: Rate = Rate::new(1_000, 600);
/// Child organizations one organization may have.
pub const DEFAULT_MAX_CHILDREN: u64 = 10_000;
/// Organizations one user may create while a member of this many.
pub const DEFAULT_MAX_ORGANIZATIONS_PER_USER: u64 = 1_000;
/// How long refused clients are asked to wait.
const RETRY_AFTER_SECS: u64 = 1;

/// Admits a request only while fewer than the limit are in progress; the excess gets 503
/// (REST) or RESOURCE_EXHAUSTED (gRPC) with `retry-after`, so overload never grows a queue.
pub async fn shed_load(
    State((permits, connect)): State<(Arc<Semaphore>, orgd_transcode::connect::Connect)>,
    req: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = permits.try_acquire() else {
        return overloaded(&connect, &req);
    };
    next.run(req).await
}

/// RESOURCE_EXHAUSTED on gRPC and Connect; 503 rather than the table's 429 on REST: the
/// server, not the client, is over its capacity.
fn overloaded(connect: &orgd_transcode::connect::Connect, req: &Request) -> Response {
    let message = "server overloaded, retry later";
    let err = orgd_transcode::refusal::error(
        tonic::Code::ResourceExhausted,
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "UNAVAILABLE",
        message,
    );
    orgd_transcode::refusal::refuse::<crate::surfaces::Dialect>(
        connect,
        req,
        &err,
        Duration::from_secs(RETRY_AFTER_SECS),
    )
}

/// 414 for a URI longer than [`MAX_URI_BYTES`]; a Connect call (a GET whose message is in
/// its query) hears it as a Connect error, which its client can read.
pub async fn bound_uri(
    State(connect): State<orgd_transcode::connect::Connect>,
    req: Request,
    next: Next,
) -> Response {
    // Measured without building the URI string: this runs on every request.
    let uri = req.uri();
    let len = uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        // OUT_OF_RANGE, as a request message over its limit is answered.
        let error = orgd_transcode::connect::error::ConnectError::new(
            tonic::Code::OutOfRange,
            format!(
                "the URI has {len} bytes, more than the {MAX_URI_BYTES} a request may have: \
                 send the call as POST"
            ),
        );
        return connect
            .refusal(&req, error)
            .unwrap_or_else(|| (StatusCode::URI_TOO_LONG, "URI too long\n").into_response());
    }
    next.run(req).await
}

/// Memory the lists answered whole may take at once. Each may be as large as the response
/// budget and is held about [`WHOLE_LIST_COPIES`] times over while it is built (rows,
/// messages, protobuf, JSON: measured with `orgd-bench --case worst_list`), so they take
/// turns, `WHOLE_LIST_MEMORY / (WHOLE_LIST_COPIES * max_response_bytes)` at once (2 at the
/// defaults). Waiting for a turn costs next to nothing; a turn is held while the response
/// is built, not while a client takes its time reading it.
pub const WHOLE_LIST_MEMORY: usize = 160 * 1024 * 1024;
pub const WHOLE_LIST_COPIES: usize = 5;

/// The RPCs that may answer a list whole (`domain::validate::MAX_UNPAGED_ITEMS`), the only
/// ones whose responses can approach the byte budget; every other list has a page size.
const WHOLE_LIST_RPCS: [&str; 4] = [
    "/orgd.v1.OrganizationService/GetOrganizations",
    "/orgd.v1.OrganizationService/GetPaginatedOrganizations",
    "/orgd.v1.OrganizationService/ListOwnerInvitations",
    "/orgd.v1.MembershipService/ListMemberships",
];

/// The turns of [`WHOLE_LIST_RPCS`], shared by gRPC and the REST transcoder.
#[derive(Clone, Debug)]
pub struct WholeLists(Arc<Semaphore>);

/// Put on an in-process call by a REST request that holds its turn already.
#[derive(Clone, Copy, Debug)]
pub struct TurnHeld;

impl WholeLists {
    pub fn new(max_response_bytes: usize) -> WholeLists {
        let per_list = WHOLE_LIST_COPIES.saturating_mul(max_response_bytes.max(1));
        let turns = (WHOLE_LIST_MEMORY / per_list).clamp(1, Semaphore::MAX_PERMITS);
        WholeLists(Arc::new(Semaphore::new(turns)))
    }

    /// Waits for a turn when `grpc_path` may answer a list whole (`None` otherwise).
    pub async fn turn(&self, grpc_path: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        if !WHOLE_LIST_RPCS.contains(&grpc_path) {
            return None;
        }
        self.0.clone().acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_whole_list_rpcs_exist() {
        for path in super::WHOLE_LIST_RPCS {
            let (service, method) = path[1..].split_once('/').unwrap();
            let found = crate::proto::DESCRIPTOR_POOL
                .get_service_by_name(service)
                .is_some_and(|s| s.methods().any(|m| m.name() == method));
            assert!(found, "{path}");
        }
    }
}

/// A response over its byte budget: refused whole, as every list read whole is past its
/// bound (TOO_MANY_RESULTS, 409 / FAILED_PRECONDITION).
pub fn response_too_large(max_bytes: usize) -> DomainError {
    crate::domain::validate::too_many_results(
        max_bytes,
        "bytes in the response",
        "ask for a page (limit and offset, or page_size) instead",
    )
}

/// The address of the peer that sent a request (the server records it per connection).
pub fn peer_ip(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The gRPC paths (`/orgd.v1.Service/Method`) that change state: every method but the
/// standard reads, `Get*` and `List*` (AIP-131, AIP-132), and the change streams, `Watch*`
/// (a watcher must not spend the budget of the writes it watches).
static WRITES: LazyLock<HashSet<String>> = LazyLock::new(|| {
    crate::proto::DESCRIPTOR_POOL
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .filter(|m| {
            !["Get", "List", "Watch"]
                .iter()
                .any(|p| m.name().starts_with(p))
        })
        .map(|m| format!("/{}/{}", m.parent_service().full_name(), m.name()))
        .collect()
});

/// How fast each user or organization token may write, one token bucket each.
#[derive(Debug)]
pub struct WriteLimiter(Option<Limiter<(usize, i64)>>);

impl WriteLimiter {
    pub fn new(rate: Option<Rate>) -> WriteLimiter {
        WriteLimiter(rate.map(Limiter::new))
    }

    /// Spends one write of the caller's budget when `path` is a write, or refuses it with
    /// RESOURCE_EXHAUSTED and when to retry. Anonymous calls are left to the RPC's own
    /// authentication; services are not counted.
    pub fn admit(&self, path: &str, extensions: &http::Extensions) -> Result<(), tonic::Status> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        let key = match extensions.get::<Authn>() {
            Some(Authn::Authenticated(Principal::User { user_id })) => (0, *user_id),
            Some(Authn::Authenticated(Principal::Organization { organization_id })) => {
                (1, *organization_id)
            }
            _ => return Ok(()),
        };
        if !WRITES.contains(path) {
            return Ok(());
        }
        limiter.take(&key).map_err(|retry_after| {
            DomainError::RateLimited {
                message: format!(
                    "too many writes by this token; retry in {} s",
                    retry_after_secs(retry_after)
                ),
                retry_after,
            }
            .into()
        })
    }
}
