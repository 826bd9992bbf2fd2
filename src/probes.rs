//! Liveness and readiness for load balancers and orchestrators: `GET /healthz`, `GET /readyz`
//! and gRPC health (`grpc.health.v1.Health`) report one state, on the serving port, without
//! a token and outside the API's layers (auth, load shedding), so they are not API traffic.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use http::StatusCode;
use tokio::sync::{Mutex, watch};
use tonic::codegen::tokio_stream::Stream;
use tonic::{Request, Response as GrpcResponse, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

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
    /// Every service gRPC health answers for, besides `""` (the server as a whole).
    services: Vec<&'static str>,
    /// Held while a status is reported, so a check finishing late never overwrites
    /// draining's NOT_SERVING.
    state: Mutex<State>,
    /// What gRPC health reports, for every name alike; watchers hear only changes.
    health: watch::Sender<Reported>,
}

struct State {
    draining: bool,
    database: Result<(), Unready>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reported {
    status: ServingStatus,
    /// The last status there will be: `Health/Watch` streams end once they have sent it.
    last: bool,
}

impl Probes {
    /// Checks the database once and reports the outcome; then keeps checking every
    /// [`CHECK_INTERVAL`] until every handle is dropped or draining starts.
    pub async fn start(db: Db, services: Vec<&'static str>) -> Probes {
        let (health, _) = watch::channel(Reported {
            status: ServingStatus::NotServing,
            last: false,
        });
        let probes = Probes {
            inner: Arc::new(Inner {
                db,
                services,
                state: Mutex::new(State {
                    draining: false,
                    database: Err(Unready::new("STARTING", "not checked yet")),
                }),
                health,
            }),
        };
        probes.inner.refresh().await;
        tokio::spawn(watch(Arc::downgrade(&probes.inner)));
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
        self.inner.report(ServingStatus::NotServing);
    }

    /// Ends every open `Health/Watch` stream (with status OK, once it has sent the last
    /// status): the last step of a shutdown, so such streams do not hold it up.
    pub async fn end_watches(&self) {
        let _state = self.inner.state.lock().await;
        self.inner.health.send_modify(|r| r.last = true);
    }

    /// `grpc.health.v1.Health`, answering from these probes.
    pub fn health_service(&self) -> HealthServer<HealthService> {
        HealthServer::new(HealthService {
            probes: self.clone(),
        })
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
    fn is_known(&self, name: &str) -> bool {
        name.is_empty() || self.services.contains(&name)
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
        self.report(match database {
            Ok(()) => ServingStatus::Serving,
            Err(_) => ServingStatus::NotServing,
        });
        state.database = database;
    }

    /// Watchers are woken only by a change.
    fn report(&self, status: ServingStatus) {
        self.health.send_if_modified(|r| {
            let changed = r.status != status;
            r.status = status;
            changed
        });
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
    crate::surfaces::json_response(status, body.to_string().into_bytes())
}

/// gRPC health from [`Probes`]: one status for `""` and every service, NOT_FOUND for any
/// other name. (tonic-health's own service could lose the last status of a `Watch` ended
/// right after it, and repeated unchanged statuses to watchers.)
pub struct HealthService {
    probes: Probes,
}

impl HealthService {
    fn known(&self, request: &HealthCheckRequest) -> Result<(), Status> {
        if self.probes.inner.is_known(&request.service) {
            Ok(())
        } else {
            Err(Status::not_found("service not registered"))
        }
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<GrpcResponse<HealthCheckResponse>, Status> {
        self.known(request.get_ref())?;
        let status = self.probes.inner.health.borrow().status;
        Ok(GrpcResponse::new(HealthCheckResponse {
            status: status as i32,
        }))
    }

    type WatchStream = StatusStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<GrpcResponse<StatusStream>, Status> {
        self.known(request.get_ref())?;
        let updates = self.probes.inner.health.subscribe();
        Ok(GrpcResponse::new(StatusStream {
            next: Some(Box::pin(next_status(updates, None))),
        }))
    }
}

type Updates = watch::Receiver<Reported>;
type NextStatus = Pin<Box<dyn Future<Output = Option<(ServingStatus, Updates)>> + Send>>;

/// `Health/Watch`: the current status, then every change, then the end once the last one
/// has been sent.
pub struct StatusStream {
    next: Option<NextStatus>,
}

/// The first status other than `sent`; None once the last status has been sent.
async fn next_status(
    mut updates: Updates,
    sent: Option<ServingStatus>,
) -> Option<(ServingStatus, Updates)> {
    loop {
        let now = *updates.borrow_and_update();
        if sent != Some(now.status) {
            return Some((now.status, updates));
        }
        if now.last {
            return None;
        }
        updates.changed().await.ok()?;
    }
}

impl Stream for StatusStream {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(next) = self.next.as_mut() else {
            return Poll::Ready(None);
        };
        match next.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.next = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some((status, updates))) => {
                self.next = Some(Box::pin(next_status(updates, Some(status))));
                Poll::Ready(Some(Ok(HealthCheckResponse {
                    status: status as i32,
                })))
            }
        }
    }
}
