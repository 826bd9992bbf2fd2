//! Starting without the database: a server whose PostgreSQL is not up yet listens anyway,
//! answers every API request 503 / UNAVAILABLE with `Retry-After`, and keeps trying, with
//! backoff, until the database answers and is migrated.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::db::{Db, OpenError, Outage};

/// Whether the schema is ready to serve; false only while a start-up waits for its database.
#[derive(Clone, Debug)]
pub struct SchemaGate(Arc<AtomicBool>);

impl SchemaGate {
    pub fn open() -> SchemaGate {
        SchemaGate(Arc::new(AtomicBool::new(true)))
    }

    pub fn closed() -> SchemaGate {
        SchemaGate(Arc::new(AtomicBool::new(false)))
    }

    pub fn is_open(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set_open(&self) {
        self.0.store(true, Ordering::Release);
    }
}

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LONGEST_RETRY: Duration = Duration::from_secs(10);

/// Prepares `db` until it works, doubling the wait up to [`LONGEST_RETRY`], then opens the
/// gate. An error that waiting cannot cure ends the process, as it would have at start.
pub fn wait_for_database(db: Db, gate: SchemaGate) {
    tokio::spawn(async move {
        let mut wait = FIRST_RETRY;
        loop {
            tokio::time::sleep(wait).await;
            match db.prepare().await {
                Ok(()) => {
                    tracing::info!(database = %db.target(), "database ready: serving");
                    gate.set_open();
                    return;
                }
                Err(OpenError::Unreachable { target, source }) => {
                    tracing::warn!(database = %target, error = %source, retry_in = ?wait,
                        "waiting for the database");
                }
                Err(OpenError::Refused(message)) => {
                    tracing::error!("{message}");
                    std::process::exit(1);
                }
            }
            wait = (wait * 2).min(LONGEST_RETRY);
        }
    });
}

/// Answers API requests 503 while the gate is closed; probes and the OpenAPI document,
/// which need no database, pass.
pub async fn gate(State(gate): State<SchemaGate>, req: Request, next: Next) -> Response {
    if gate.is_open() || needs_no_database(req.uri().path()) {
        return next.run(req).await;
    }
    unavailable(&req)
}

fn needs_no_database(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/openapi.json" | "/metrics")
        || path.starts_with("/grpc.health.")
        || path.starts_with("/grpc.reflection.")
}

fn unavailable(req: &Request) -> Response {
    let outage = Outage::Unreachable;
    let is_grpc = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    let mut response = if is_grpc {
        let mut r = StatusCode::OK.into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        h.insert(
            "grpc-status",
            HeaderValue::from(tonic::Code::Unavailable as i32),
        );
        h.insert(
            "grpc-message",
            HeaderValue::from_static("the%20database%20is%20unavailable,%20retry%20later"),
        );
        r
    } else {
        // One body for the three dialects: each client finds the field it reads.
        let body = serde_json::json!({
            "message": outage.message(),
            "error": outage.reason(),
            "detail": outage.message(),
        });
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    };
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(outage.retry_after().as_secs().max(1)),
    );
    response
}
