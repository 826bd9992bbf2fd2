//! Starting without the database: a server whose PostgreSQL is not up yet listens anyway,
//! answers every API request 503 / UNAVAILABLE with `Retry-After`, and keeps trying, with
//! backoff, until the database answers and is migrated.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

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
pub async fn gate(
    State((gate, connect)): State<(SchemaGate, orgd_transcode::connect::Connect)>,
    req: Request,
    next: Next,
) -> Response {
    if gate.is_open() || needs_no_database(req.uri().path()) {
        return next.run(req).await;
    }
    unavailable(&connect, &req)
}

fn needs_no_database(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/openapi.json" | "/metrics")
        || path.starts_with("/grpc.health.")
        || path.starts_with("/grpc.reflection.")
}

fn unavailable(connect: &orgd_transcode::connect::Connect, req: &Request) -> Response {
    let outage = Outage::Unreachable;
    let err = orgd_transcode::refusal::error(
        tonic::Code::Unavailable,
        None,
        outage.reason(),
        outage.message(),
    );
    orgd_transcode::refusal::refuse::<crate::surfaces::Dialect>(
        connect,
        req,
        &err,
        outage.retry_after(),
    )
}
