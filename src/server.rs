//! One listener for everything: native gRPC (h2c), grpc-web, REST/JSON (HTTP/1.1 and h2c),
//! health and reflection. Unknown paths get a plain 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use http::HeaderName;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tonic::codec::CompressionEncoding::Gzip;
use tonic::server::NamedService;
use tonic_web::GrpcWebLayer;
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::{AllowHeaders, Any, CorsLayer};

use crate::config::Config;
use crate::connections;
use crate::db::{Db, OpenError};
use crate::grpc::admission::{Admission, Bounds};
use crate::grpc::{
    availability::AvailabilityReports, billing::Billing, event::Events, guest::Guests,
    invitation::Invitations, membership::Memberships, network::Network, oauth::OAuth,
    organization::Organizations, partner::Partners, partnership::Partnerships, presence::Presences,
};
use crate::limits;
use crate::probes::Probes;
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::proto::v1::availability_service_server::AvailabilityServiceServer;
use crate::proto::v1::billing_service_server::BillingServiceServer;
use crate::proto::v1::event_service_server::EventServiceServer;
use crate::proto::v1::guest_connection_service_server::GuestConnectionServiceServer;
use crate::proto::v1::membership_service_server::MembershipServiceServer;
use crate::proto::v1::network_service_server::NetworkServiceServer;
use crate::proto::v1::o_auth_service_server::OAuthServiceServer;
use crate::proto::v1::organization_event_service_server::OrganizationEventServiceServer;
use crate::proto::v1::organization_partner_service_server::OrganizationPartnerServiceServer;
use crate::proto::v1::organization_service_server::OrganizationServiceServer;
use crate::proto::v1::partnership_invitation_service_server::PartnershipInvitationServiceServer;
use crate::proto::v1::partnership_service_server::PartnershipServiceServer;
use crate::proto::v1::presence_service_server::PresenceServiceServer;
use crate::startup::{SchemaGate, wait_for_database};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A gRPC request message: an avatar's 1 MiB of image plus the rest of its message.
const GRPC_MAX_MESSAGE_BYTES: usize = limits::MAX_BODY_BYTES + 64 * 1024;

/// A Connect GET's answer depends on the caller (its token), so only the caller's own cache
/// may keep it, and must ask again each time: with the ETag it sends, an unchanged answer
/// comes back as 304 without its body.
const CONNECT_GET_CACHE_CONTROL: &str = "private, no-cache";

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
    let web = GrpcWebLayer::new().layer(crate::observability::request::GrpcStatus(svc));
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
    Ok(build(db, &config, SchemaGate::open()).await?.0)
}

/// Every service gRPC health answers for (besides `""`, the server as a whole).
const SERVICES: &[&str] = &[
    <OrganizationServiceServer<Organizations> as NamedService>::NAME,
    <MembershipServiceServer<Memberships> as NamedService>::NAME,
    <BillingServiceServer<Billing> as NamedService>::NAME,
    <AvailabilityServiceServer<AvailabilityReports> as NamedService>::NAME,
    <PartnershipServiceServer<Partnerships> as NamedService>::NAME,
    <PartnershipInvitationServiceServer<Invitations> as NamedService>::NAME,
    <NetworkServiceServer<Network> as NamedService>::NAME,
    <PresenceServiceServer<Presences> as NamedService>::NAME,
    <EventServiceServer<Events> as NamedService>::NAME,
    <OrganizationEventServiceServer<Events> as NamedService>::NAME,
    <OrganizationPartnerServiceServer<Partners> as NamedService>::NAME,
    <OAuthServiceServer<OAuth> as NamedService>::NAME,
    <GuestConnectionServiceServer<Guests> as NamedService>::NAME,
];

/// The application with the bounds of `config` (in flight, lists read whole, response
/// bytes, write rate, OAuth2 attempts, organization counts), and the probes reporting its
/// readiness.
async fn build(db: Db, config: &Config, schema: SchemaGate) -> Result<(Router, Probes), BoxError> {
    let max_unpaged_items = config.max_unpaged_items;
    let max_in_flight = config.max_in_flight;
    let bounds = Bounds {
        writes: Arc::new(limits::WriteLimiter::new(config.write_rate)),
        whole_lists: limits::WholeLists::new(config.max_response_bytes),
        max_request_bytes: GRPC_MAX_MESSAGE_BYTES,
        max_response_bytes: config.max_response_bytes,
    };
    let max_response = config.max_response_bytes;
    let probes = Probes::start(db.clone(), SERVICES.to_vec()).await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // v1alpha too: grpcurl and grpcio-reflection's stock clients still ask it.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let avatar_keys = crate::domain::avatar::UrlKeys::default();
    // Every orgd service alike: the request bound, the response budget, gzip both ways.
    macro_rules! service {
        ($server:ident, $svc:expr) => {
            $server::new($svc)
                .max_decoding_message_size(GRPC_MAX_MESSAGE_BYTES)
                .max_encoding_message_size(max_response)
                .accept_compressed(Gzip)
                .send_compressed(Gzip)
        };
    }
    let mut grpc = Router::new();
    grpc = grpc_route(
        grpc,
        service!(
            OrganizationServiceServer,
            Organizations {
                db: db.clone(),
                avatar_keys: avatar_keys.clone(),
                max_unpaged_items,
                quota: crate::domain::organization::Quota {
                    max_children: config.max_children,
                    max_organizations_per_user: config.max_organizations_per_user,
                },
            }
        ),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(
            MembershipServiceServer,
            Memberships {
                db: db.clone(),
                max_unpaged_items,
            }
        ),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(
            BillingServiceServer,
            Billing {
                db: db.clone(),
                avatar_keys,
            }
        ),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(
            AvailabilityServiceServer,
            AvailabilityReports { db: db.clone() }
        ),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(
            OrganizationPartnerServiceServer,
            Partners { db: db.clone() }
        ),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(GuestConnectionServiceServer, Guests { db: db.clone() }),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(
            OAuthServiceServer,
            OAuth {
                db: db.clone(),
                throttle: Arc::new(crate::domain::oauth::Throttle::new(
                    config.oauth_failures_per_client,
                    config.oauth_failures_per_peer,
                )),
            }
        ),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(PartnershipServiceServer, Partnerships { db: db.clone() }),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(
            PartnershipInvitationServiceServer,
            Invitations { db: db.clone() }
        ),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(NetworkServiceServer, Network { db: db.clone() }),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        service!(PresenceServiceServer, Presences { db: db.clone() }),
        &bounds,
    );
    let hub = crate::domain::watch::Hub::start(db.clone(), config.watch.clone());
    let events = || Events {
        db: db.clone(),
        hub: hub.clone(),
    };
    grpc = grpc_route(grpc, service!(EventServiceServer, events()), &bounds);
    grpc = grpc_route(
        grpc,
        service!(OrganizationEventServiceServer, events()),
        &bounds,
    );
    grpc = grpc_route(
        grpc,
        probes
            .health_service()
            .accept_compressed(Gzip)
            .send_compressed(Gzip),
        &bounds,
    );
    // Reflection is a bidirectional stream: many messages per call are its point.
    grpc = grpc_stream_route(grpc, name_of(&reflection), reflection);
    grpc = grpc_stream_route(grpc, name_of(&reflection_v1alpha), reflection_v1alpha);

    let transcoder = crate::surfaces::transcoder(
        grpc.clone(),
        max_response,
        crate::surfaces::OrgdHost {
            whole_lists: bounds.whole_lists.clone(),
        },
    );
    // Generated once, from the same bindings the transcoder serves; no token needed.
    let openapi = bytes::Bytes::from(
        serde_json::to_vec(&crate::surfaces::document()).expect("a JSON value serialises"),
    );
    // Every RPC over Connect too, health and reflection included (`buf curl` reflects over
    // the protocol it calls with); error details are written out with the google.rpc types.
    let connect = orgd_transcode::connect::Connect::new(
        &crate::proto::DESCRIPTOR_POOL,
        &[
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            tonic_types::pb::FILE_DESCRIPTOR_SET,
        ],
        grpc.clone(),
        orgd_transcode::connect::Options {
            max_request_bytes: GRPC_MAX_MESSAGE_BYTES,
            get_cache_control: http::HeaderValue::from_static(CONNECT_GET_CACHE_CONTROL),
        },
    );
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods(Any)
        // Mirrored, not `*`: a wildcard does not cover `Authorization` in browsers (nor
        // does a list need to name Connect's and gRPC-Web's request headers one by one).
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
            HeaderName::from_static("grpc-encoding"),
            HeaderName::from_static("content-encoding"),
            HeaderName::from_static("connect-content-encoding"),
            HeaderName::from_static("connect-accept-encoding"),
            http::header::ETAG,
            crate::observability::request_id::REQUEST_ID,
        ]);
    let observer = crate::observability::request::Observer {
        metrics: db.metrics().clone(),
    };
    crate::observability::spawn_upkeep(db.metrics());
    let metrics_db = db.clone();
    let api = grpc
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let body = openapi.clone();
                async move { crate::surfaces::json_response(http::StatusCode::OK, body.into()) }
            }),
        )
        .route(
            "/metrics",
            axum::routing::get(move || {
                let db = metrics_db.clone();
                async move { crate::observability::metrics_response(&db) }
            }),
        )
        .fallback(move |req: Request| transcoder.clone().handle(req))
        // Inside authentication, whose verdict the RPCs a Connect call turns into read.
        .layer(axum::middleware::from_fn_with_state(
            connect.clone(),
            orgd_transcode::connect::serve,
        ))
        .layer(axum::middleware::from_fn_with_state(
            crate::auth::layer::Authenticator::new(db),
            crate::auth::layer::authenticate,
        ))
        .layer(cors)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            limits::REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            connect.clone(),
            limits::bound_uri,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (schema, connect.clone()),
            crate::startup::gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (Arc::new(Semaphore::new(max_in_flight)), connect),
            limits::shed_load,
        ))
        .layer(axum::middleware::from_fn_with_state(
            observer,
            crate::observability::request::observe,
        ));
    // Merged after the layers: probes need no token, are never shed and are not API traffic.
    Ok((api.merge(probes.router()), probes))
}

/// A running server; dropped or shut down, it stops accepting and lets requests finish.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    probes: Probes,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    drain_delay: Duration,
    shutdown_timeout: Duration,
    /// Deletes expired rows until the server stops.
    purger: JoinHandle<()>,
}

impl Server {
    /// Connects to (creating and migrating) the database, binds, and serves in the background.
    pub async fn start(config: Config) -> Result<Server, BoxError> {
        let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
        let db = Db::connect_with(&config.database_url, &config.db_options()).await?;
        let schema = match db.prepare().await {
            Ok(()) => SchemaGate::open(),
            Err(OpenError::Unreachable { target, source }) => {
                tracing::warn!(database = %target, error = %source,
                    "the database is unreachable: serving 503 until it answers");
                let gate = SchemaGate::closed();
                wait_for_database(db.clone(), gate.clone());
                gate
            }
            Err(e) => return Err(e.into()),
        };
        let (app, probes) = build(db.clone(), &config, schema).await?;
        crate::domain::events::set_enabled(config.change_log);
        let purger = crate::purge::spawn(db, config.purge_interval, config.event_retention);
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let max_connections = config
            .max_connections
            .unwrap_or_else(|| {
                let nofile = limits::open_files_limit();
                let cap = nofile.map_or(usize::MAX, limits::connection_cap);
                tracing::info!(
                    max_connections = cap,
                    rlimit_nofile = nofile,
                    "open connections capped by the open-files limit"
                );
                cap
            })
            .clamp(1, MAX_CONNECTIONS);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits::HEADER_READ_TIMEOUT)
            .max_buf_size(limits::MAX_HEADER_BYTES);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(limits::MAX_HEADER_BYTES as u32)
            .keep_alive_interval(Some(config.h2_keepalive_interval))
            .keep_alive_timeout(config.h2_keepalive_timeout);
        let settings = Arc::new(connections::Settings {
            builder,
            tls: tls.clone(),
            idle_timeout: config.idle_timeout,
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, app, settings, max_connections, stopped));
        Ok(Server {
            addr,
            tls: tls.is_some(),
            probes,
            stop,
            task,
            drain_delay: config.drain_delay,
            shutdown_timeout: config.shutdown_timeout,
            purger,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// Readiness turns 503 and gRPC health NOT_SERVING; serving goes on.
    pub async fn start_draining(&self) {
        self.probes.start_draining().await;
    }

    /// Drains (readiness 503, health NOT_SERVING), waits the drain delay, stops accepting,
    /// and waits up to the shutdown timeout for open requests and streams. False when that
    /// timeout ran out first.
    pub async fn shutdown(mut self) -> bool {
        self.probes.start_draining().await;
        if !self.drain_delay.is_zero() {
            tracing::info!(
                drain_delay_ms = self.drain_delay.as_millis() as u64,
                "draining: readiness is 503, still accepting"
            );
            tokio::time::sleep(self.drain_delay).await;
        }
        let _ = self.stop.send(true);
        self.purger.abort();
        self.probes.end_watches().await;
        match tokio::time::timeout(self.shutdown_timeout, &mut self.task).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "server task failed");
                false
            }
            Err(_) => {
                tracing::error!(
                    shutdown_timeout_ms = self.shutdown_timeout.as_millis() as u64,
                    "shutdown timeout: connections still open, exiting anyway"
                );
                self.task.abort();
                false
            }
        }
    }

    /// Serves until `signal` (see [`shutdown_signal`]), then shuts down gracefully; false
    /// when the shutdown timeout cut it short.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) -> bool {
        signal.await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.shutdown().await
    }
}

/// The most connections a semaphore (and one `acquire_many`) can count.
const MAX_CONNECTIONS: usize = if Semaphore::MAX_PERMITS < u32::MAX as usize {
    Semaphore::MAX_PERMITS
} else {
    u32::MAX as usize
};

/// Accepts connections, at most `max_connections` open at once, until `stopped` turns true
/// (or its sender goes), then waits until every open connection has finished its requests.
async fn serve(
    listener: TcpListener,
    app: Router,
    settings: Arc<connections::Settings>,
    max_connections: usize,
    mut stopped: watch::Receiver<bool>,
) {
    let open = Arc::new(Semaphore::new(max_connections));
    let mut refusals = Refusals::default();
    let for_connections = stopped.clone();
    loop {
        tokio::select! {
            _ = connections::stop_requested(&mut stopped) => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    // Out of file descriptors and the like: wait instead of spinning.
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // At the cap the newcomer is closed at once: it costs one descriptor for a
                // moment, and the backlog keeps moving instead of filling up.
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    refusals.refused(peer, max_connections);
                    drop(stream);
                    continue;
                };
                tokio::spawn(connections::serve(
                    stream,
                    app.clone(),
                    settings.clone(),
                    for_connections.clone(),
                    permit,
                ));
            }
        }
    }
    drop(listener);
    let _ = open.acquire_many(max_connections as u32).await;
}

/// Connections closed at the cap, logged at most once a second.
#[derive(Default)]
struct Refusals {
    since_log: u64,
    last_log: Option<Instant>,
}

impl Refusals {
    fn refused(&mut self, peer: SocketAddr, max_connections: usize) {
        self.since_log += 1;
        if self
            .last_log
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            tracing::warn!(
                %peer,
                max_connections,
                refused = self.since_log,
                "connection limit reached: closing new connections"
            );
            self.since_log = 0;
            self.last_log = Some(Instant::now());
        }
    }
}

/// Ctrl-C or SIGTERM. Registered when called, not when first awaited: call it before
/// announcing readiness, since a SIGTERM that comes before the handler exists kills the
/// process with the default action instead of a graceful shutdown.
#[cfg(unix)]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    async fn received(signal: std::io::Result<Signal>) {
        match signal {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }
    let interrupt = received(signal(SignalKind::interrupt()));
    let terminate = received(signal(SignalKind::terminate()));
    async move {
        tokio::select! {
            _ = interrupt => {},
            _ = terminate => {},
        }
    }
}

/// Ctrl-C (see the Unix version).
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
