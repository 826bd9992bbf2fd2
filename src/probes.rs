//! Liveness and readiness for load balancers and orchestrators: `GET /healthz`, `GET /readyz`
//! and gRPC health (`grpc.health.v1.Health`) report one state, on the serving port, without
//! a token and outside the API's layers (auth, load shedding), so they are not API traffic.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use http::StatusCode;
use tokio::sync::Mutex;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::db::{Db, Unready};

/// How often the database is asked, for gRPC health and `/readyz` alike.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// A database that has not answered the readiness checks by then is unavailable.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One instance's readiness: the last database check, and whether it is draining.
#[derive(Clone)]
pub struct Probes {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    health: HealthReporter,
    /// Every service gRPC health answers for, besides `""` (the server as a whole).
    services: Vec<&'static str>,
    /// Held while a status is reported, so a check finishing late never overwrites
    /// draining's NOT_SERVING.
    state: Mutex<State>,
}

struct State {
    draining: bool,
    database: Result<(), Unready>,
}

impl Probes {
    /// Checks the database once and reports the outcome; then keeps checking every
    /// [`CHECK_INTERVAL`] until every handle is dropped or draining starts.
    pub async fn start(db: Db, health: HealthReporter, services: Vec<&'static str>) -> Probes {
        let probes = Probes {
            inner: Arc::new(Inner {
                db,
                health,
                services,
                state: Mutex::new(State {
                    draining: false,
                    database: Err(Unready::new("STARTING", "not checked yet")),
                }),
            }),
        };
        probes.inner.refresh().await;
        let weak = Arc::downgrade(&probes.inner);
        tokio::spawn(watch(weak));
        probes
    }

    /// Ok, or why this instance should get no traffic now.
    pub async fn readiness(&self) -> Result<(), Unready> {
        let state = self.inner.state.lock().await;
        if state.draining {
            return Err(Unready::new("DRAINING", "the server is shutting down"));
        }
        state.database.clone()
    }

    /// From now on readiness is 503 and gRPC health NOT_SERVING, for good.
    pub async fn start_draining(&self) {
        let mut state = self.inner.state.lock().await;
        state.draining = true;
        self.inner.report(ServingStatus::NotServing).await;
    }

    /// Ends every open `Health/Watch` stream (with status OK, after the last status it
    /// sent): the last step of a shutdown, so such streams do not hold it up.
    pub async fn end_watches(&self) {
        let mut health = self.inner.health.clone();
        for name in self.inner.names() {
            health.clear_service_status(name).await;
        }
    }

    /// `/healthz` and `/readyz`.
    pub fn router(&self) -> Router {
        let probes = self.clone();
        Router::new()
            .route(
                "/healthz",
                axum::routing::get(|| async {
                    json(StatusCode::OK, serde_json::json!({"status": "alive"}))
                }),
            )
            .route(
                "/readyz",
                axum::routing::get(move || {
                    let probes = probes.clone();
                    async move {
                        match probes.readiness().await {
                            Ok(()) => json(StatusCode::OK, serde_json::json!({"status": "ready"})),
                            Err(e) => json(
                                StatusCode::SERVICE_UNAVAILABLE,
                                serde_json::json!({
                                    "status": "unavailable",
                                    "reason": e.reason,
                                    "detail": e.detail,
                                }),
                            ),
                        }
                    }
                }),
            )
    }
}

impl Inner {
    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once("").chain(self.services.iter().copied())
    }

    /// Asks the database and reports the answer, unless draining has started meanwhile.
    async fn refresh(&self) {
        let database = match tokio::time::timeout(CHECK_TIMEOUT, self.db.readiness()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Unready::new(
                "DATABASE_UNAVAILABLE",
                format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
            )),
        };
        let mut state = self.state.lock().await;
        if state.draining {
            return;
        }
        if state.database != database {
            match &database {
                Ok(()) => tracing::info!("ready"),
                Err(e) => tracing::warn!(reason = e.reason, detail = %e.detail, "not ready"),
            }
        }
        let status = match database {
            Ok(()) => ServingStatus::Serving,
            Err(_) => ServingStatus::NotServing,
        };
        state.database = database;
        self.report(status).await;
    }

    /// The same status for `""` and every service; watchers hear only changes.
    async fn report(&self, status: ServingStatus) {
        for name in self.names() {
            self.health.set_service_status(name, status).await;
        }
    }
}

async fn watch(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(CHECK_INTERVAL).await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.state.lock().await.draining {
            return;
        }
        inner.refresh().await;
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    crate::rest::dialect::json_response(status, body.to_string().into_bytes())
}
