//! Every bound the server puts on a client, in one place: sizes, times, and how much work it
//! takes on at once (OWASP API4, unrestricted resource consumption).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use tokio::sync::Semaphore;

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
/// How long refused clients are asked to wait.
const RETRY_AFTER_SECS: &str = "1";

/// Admits a request only while fewer than the limit are in progress; the excess gets 503
/// (REST) or RESOURCE_EXHAUSTED (gRPC) with `retry-after`, so overload never grows a queue.
pub async fn shed_load(
    State(permits): State<Arc<Semaphore>>,
    req: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = permits.try_acquire() else {
        return overloaded(&req);
    };
    next.run(req).await
}

fn is_grpc(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

fn overloaded(req: &Request) -> Response {
    let mut response = if is_grpc(req) {
        let mut r = StatusCode::OK.into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        h.insert("grpc-status", HeaderValue::from_static("8"));
        h.insert(
            "grpc-message",
            HeaderValue::from_static("server%20overloaded,%20retry%20later"),
        );
        r
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"message":"server overloaded, retry later","error":"UNAVAILABLE","detail":"server overloaded, retry later"}"#,
        )
            .into_response()
    };
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    response
}

/// 414 for a URI longer than [`MAX_URI_BYTES`].
pub async fn bound_uri(req: Request, next: Next) -> Response {
    // Measured without building the URI string: this runs on every request.
    let uri = req.uri();
    let len = uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        return (StatusCode::URI_TOO_LONG, "URI too long\n").into_response();
    }
    next.run(req).await
}
