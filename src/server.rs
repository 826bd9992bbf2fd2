//! One listener for everything: native gRPC (h2c), grpc-web, REST/JSON (HTTP/1.1 and h2c),
//! health and reflection. Unknown paths get a plain 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use http::HeaderName;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tonic::server::NamedService;
use tonic_web::GrpcWebLayer;
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::{AllowHeaders, Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::db::Db;
use crate::grpc::admission::{Admission, Bounds};
use crate::grpc::{
    availability::AvailabilityReports,
    billing::Billing,
    invitation::Invitations,
    membership::Memberships,
    organization::Organizations,
    partner::{OAuth, Partners},
    partnership::Partnerships,
    presence::Presences,
};
use crate::limits;
use crate::proto::v1::availability_service_server::AvailabilityServiceServer;
use crate::proto::v1::billing_service_server::BillingServiceServer;
use crate::proto::v1::membership_service_server::MembershipServiceServer;
use crate::proto::v1::o_auth_service_server::OAuthServiceServer;
use crate::proto::v1::organization_partner_service_server::OrganizationPartnerServiceServer;
use crate::proto::v1::organization_service_server::OrganizationServiceServer;
use crate::proto::v1::partnership_invitation_service_server::PartnershipInvitationServiceServer;
use crate::proto::v1::partnership_service_server::PartnershipServiceServer;
use crate::proto::v1::presence_service_server::PresenceServiceServer;
use crate::proto::{DESCRIPTOR_POOL, FILE_DESCRIPTOR_SET};
use crate::rest::Transcoder;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A gRPC request message: an avatar's 1 MiB of image plus the rest of its message.
const GRPC_MAX_MESSAGE_BYTES: usize = limits::MAX_BODY_BYTES + 64 * 1024;

/// Mounts a tonic service whose methods take one request message each (every one but
/// reflection) at `/<package.Service>/*`, speaking gRPC and grpc-web, behind its bounds
/// (`grpc::admission`).
fn grpc_route<S>(router: Router, svc: S, bounds: &Bounds) -> Router
where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    grpc_stream_route(router, S::NAME, Admission::new(svc, bounds.clone()))
}

/// Mounts a tonic service at `/<name>/*`, speaking gRPC and grpc-web. The grpc-web layer
/// sits on gRPC routes only: elsewhere it would refuse plain HTTP/1.1.
fn grpc_stream_route<S>(router: Router, name: &str, svc: S) -> Router
where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let web = GrpcWebLayer::new().layer(svc);
    router.route_service(
        &format!("/{name}/{{*rpc}}"),
        web.map_request(|req: Request| req.map(tonic::body::Body::new)),
    )
}

fn name_of<S: NamedService>(_: &S) -> &'static str {
    S::NAME
}

/// The whole application at the default bounds, for a database that is already migrated.
pub async fn app(db: Db) -> Result<Router, BoxError> {
    let config = Config::new(
        crate::config::DEFAULT_LISTEN
            .parse()
            .expect("a socket address"),
        String::new(),
    );
    app_with_config(db, &config).await
}

/// The application with the bounds of `config` (in flight, lists read whole, response
/// bytes, write rate, OAuth2 attempts, organization counts).
pub async fn app_with_config(db: Db, config: &Config) -> Result<Router, BoxError> {
    let max_unpaged_items = config.max_unpaged_items;
    let max_in_flight = config.max_in_flight;
    let bounds = Bounds {
        writes: Arc::new(limits::WriteLimiter::new(config.write_rate)),
        whole_lists: limits::WholeLists::new(config.max_response_bytes),
        max_request_bytes: GRPC_MAX_MESSAGE_BYTES,
        max_response_bytes: config.max_response_bytes,
    };
    let max_response = config.max_response_bytes;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<OrganizationServiceServer<Organizations>>()
        .await;
    health_reporter
        .set_serving::<MembershipServiceServer<Memberships>>()
        .await;
    health_reporter
        .set_serving::<BillingServiceServer<Billing>>()
        .await;
    health_reporter
        .set_serving::<AvailabilityServiceServer<AvailabilityReports>>()
        .await;
    health_reporter
        .set_serving::<PartnershipServiceServer<Partnerships>>()
        .await;
    health_reporter
        .set_serving::<PartnershipInvitationServiceServer<Invitations>>()
        .await;
    health_reporter
        .set_serving::<PresenceServiceServer<Presences>>()
        .await;
    health_reporter
        .set_serving::<OrganizationPartnerServiceServer<Partners>>()
        .await;
    health_reporter
        .set_serving::<OAuthServiceServer<OAuth>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    let mut grpc = Router::new();
    grpc = grpc_route(
        grpc,
        OrganizationServiceServer::new(Organizations {
            db: db.clone(),
            max_unpaged_items,
            quota: crate::domain::organization::Quota {
                max_children: config.max_children,
                max_organizations_per_user: config.max_organizations_per_user,
            },
        })
        .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
        .max_encoding_message_size(max_response),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        MembershipServiceServer::new(Memberships {
            db: db.clone(),
            max_unpaged_items,
        })
        .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
        .max_encoding_message_size(max_response),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        BillingServiceServer::new(Billing { db: db.clone() })
            .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
            .max_encoding_message_size(max_response),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        AvailabilityServiceServer::new(AvailabilityReports { db: db.clone() })
            .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
            .max_encoding_message_size(max_response),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        OrganizationPartnerServiceServer::new(Partners { db: db.clone() })
            .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
            .max_encoding_message_size(max_response),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        OAuthServiceServer::new(OAuth {
            db: db.clone(),
            throttle: Arc::new(crate::domain::oauth::Throttle::new(
                config.oauth_failures_per_client,
                config.oauth_failures_per_peer,
            )),
        })
        .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
        .max_encoding_message_size(max_response),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        PartnershipServiceServer::new(Partnerships { db: db.clone() })
            .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
            .max_encoding_message_size(max_response),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        PartnershipInvitationServiceServer::new(Invitations { db: db.clone() })
            .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
            .max_encoding_message_size(max_response),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        PresenceServiceServer::new(Presences { db: db.clone() })
            .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
            .max_encoding_message_size(max_response),
        &bounds,
    );
    grpc = grpc_route(grpc, health, &bounds);
    // Reflection is a bidirectional stream: many messages per call are its point.
    grpc = grpc_stream_route(grpc, name_of(&reflection), reflection);

    let transcoder = Transcoder::new(
        &DESCRIPTOR_POOL,
        grpc.clone(),
        max_response,
        bounds.whole_lists.clone(),
    );
    // Generated once, from the same bindings the transcoder serves; no token needed.
    let openapi = bytes::Bytes::from(
        serde_json::to_vec(&crate::rest::openapi::document(&DESCRIPTOR_POOL))
            .expect("a JSON value serialises"),
    );
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods(Any)
        // Mirrored, not `*`: a wildcard does not cover `Authorization` in browsers.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
        ]);
    Ok(grpc
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let body = openapi.clone();
                async move { crate::rest::dialect::json_response(http::StatusCode::OK, body.into()) }
            }),
        )
        .fallback(move |req: Request| transcoder.clone().handle(req))
        .layer(axum::middleware::from_fn_with_state(
            crate::auth::layer::Authenticator::new(db),
            crate::auth::layer::authenticate,
        ))
        .layer(cors)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            limits::REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(limits::bound_uri))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(Semaphore::new(max_in_flight)),
            limits::shed_load,
        ))
        .layer(TraceLayer::new_for_http()))
}

/// A running server; dropped or shut down, it stops accepting and lets requests finish.
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    /// Deletes expired rows until the server stops.
    purger: JoinHandle<()>,
}

impl Server {
    /// Connects to (creating and migrating) the database, binds, and serves in the background.
    pub async fn start(config: Config) -> Result<Server, BoxError> {
        let db = Db::connect_and_migrate(&config.database_url).await?;
        let app = app_with_config(db.clone(), &config).await?;
        let purger = crate::purge::spawn(db, config.purge_interval);
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, stopped));
        Ok(Server {
            addr,
            stop: Some(stop),
            task,
            purger,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(e) = (&mut self.task).await {
            tracing::error!(error = %e, "server task failed");
        }
        self.purger.abort();
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.shutdown().await;
    }
}

/// Accepts HTTP/1.1 and h2c connections with the bounds of `limits` until `stopped`
/// fires, then lets every open connection finish its requests.
async fn serve(
    listener: TcpListener,
    app: Router,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits::HEADER_READ_TIMEOUT)
        .max_buf_size(limits::MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits::MAX_HEADER_BYTES as u32);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    // Out of file descriptors and the like: wait instead of spinning.
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                // The peer's address, for what is throttled per address (OAuth2 attempts).
                let service = TowerToHyperService::new(
                    axum::Extension(axum::extract::ConnectInfo(peer)).layer(app.clone()),
                );
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
