//! The server's metrics, rendered as Prometheus text at `GET /metrics`.
//!
//! Each server has a recorder of its own instead of the process-wide one the `metrics`
//! macros write to: a test process runs many servers at once, and each must count only its
//! own traffic. Label values come from closed sets (route templates, gRPC methods that
//! exist, status codes), never from a raw path or an id, so the series stay bounded.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

pub const REQUESTS: &str = "orgd_requests_total";
pub const REQUEST_DURATION: &str = "orgd_request_duration_seconds";
pub const IN_FLIGHT: &str = "orgd_requests_in_flight";
pub const STATEMENT_DURATION: &str = "orgd_db_statement_duration_seconds";
pub const POOL_CONNECTIONS: &str = "orgd_db_pool_connections";
pub const TOKEN_CACHE: &str = "orgd_token_cache_lookups_total";
pub const BUILD_INFO: &str = "orgd_build_info";
pub const INLINE_REPREPARES: &str = "orgd_db_inline_reprepares_total";

/// Seconds: from a cached token read (tens of µs) to the request timeout (30 s).
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes: the
/// samples wait in memory until then.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// Where a statement ran: SeaORM's sqlx pools (the SQLite writer, PostgreSQL), SQLite's
/// read connections, or SQLite's inline readers (`db::sqlite_inline`).
#[derive(Clone, Copy, Debug)]
pub enum StatementPath {
    Pool,
    SqliteReaders,
    SqliteInline,
}

impl StatementPath {
    const ALL: [StatementPath; 3] = [
        StatementPath::Pool,
        StatementPath::SqliteReaders,
        StatementPath::SqliteInline,
    ];

    fn label(self) -> &'static str {
        match self {
            StatementPath::Pool => "pool",
            StatementPath::SqliteReaders => "sqlite_readers",
            StatementPath::SqliteInline => "sqlite_inline",
        }
    }
}

/// One connection pool's occupancy at scrape time.
#[derive(Clone, Copy, Debug)]
pub struct PoolStats {
    /// `postgres` (its one pool, reads and writes) or `sqlite_writer`.
    pub pool: &'static str,
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// The transports a request is counted under (`observability::request::Transport`).
const TRANSPORTS: [&str; 3] = ["grpc", "grpc-web", "rest"];

/// A route's series: its duration histogram and a counter per status seen so far.
struct RouteSeries {
    duration: Histogram,
    by_status: Vec<(Box<str>, Counter)>,
}

/// Handles looked up once and kept: finding a series by its labels costs the label strings,
/// the key's hash and a lookup in the recorder's registry, on every request and statement
/// (a fifth of a cached read's CPU before they were kept). The label sets are closed
/// (routes, statuses, paths), so these stay small.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// By [`StatementPath`] and outcome (ok, error).
    statements: Vec<[Histogram; 2]>,
    /// By [`TRANSPORTS`].
    in_flight: Vec<Gauge>,
    requests: RwLock<HashMap<(&'static str, Arc<str>), RouteSeries>>,
    /// Inline SQLite statements compiled again when run (`db::sqlite_inline`).
    inline_reprepares: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let statement = |path: StatementPath, outcome: &'static str| {
            recorder.register_histogram(
                &Key::from_parts(
                    STATEMENT_DURATION,
                    vec![
                        Label::new("path", path.label()),
                        Label::new("outcome", outcome),
                    ],
                ),
                &METADATA,
            )
        };
        let statements = StatementPath::ALL
            .iter()
            .map(|p| [statement(*p, "ok"), statement(*p, "error")])
            .collect();
        let in_flight = TRANSPORTS
            .iter()
            .map(|t| {
                recorder.register_gauge(
                    &Key::from_parts(IN_FLIGHT, vec![Label::new("transport", *t)]),
                    &METADATA,
                )
            })
            .collect();
        let inline_reprepares = recorder.register_counter(
            &Key::from_parts(INLINE_REPREPARES, Vec::<Label>::new()),
            &METADATA,
        );
        let metrics = Metrics {
            recorder,
            handle,
            statements,
            in_flight,
            requests: RwLock::new(HashMap::new()),
            inline_reprepares,
        };
        metrics.describe();
        metrics
            .gauge(
                BUILD_INFO,
                vec![Label::new("version", env!("CARGO_PKG_VERSION"))],
            )
            .set(1.0);
        Arc::new(metrics)
    }

    fn describe(&self) {
        let r = &self.recorder;
        let d = |name: &'static str| KeyName::from_const_str(name);
        r.describe_counter(
            d(REQUESTS),
            None,
            "Requests finished, by transport, RPC or REST route template, and status (gRPC code or HTTP status).".into(),
        );
        r.describe_histogram(
            d(REQUEST_DURATION),
            Some(Unit::Seconds),
            "Time from a request's arrival to the end of its response body.".into(),
        );
        r.describe_gauge(
            d(IN_FLIGHT),
            None,
            "Requests in progress, by transport.".into(),
        );
        r.describe_histogram(
            d(STATEMENT_DURATION),
            Some(Unit::Seconds),
            "Database statements, by where they ran and whether they failed.".into(),
        );
        r.describe_gauge(
            d(POOL_CONNECTIONS),
            None,
            "Database pool connections: open, idle and the maximum.".into(),
        );
        r.describe_counter(
            d(INLINE_REPREPARES),
            None,
            "Inline SQLite reads whose kept statement SQLite had to compile again; each costs a whole parse and plan.".into(),
        );
        r.describe_counter(
            d(TOKEN_CACHE),
            None,
            "Token lookups answered from the 5 s cache (hit) or the database (miss).".into(),
        );
        r.describe_gauge(
            d(BUILD_INFO),
            None,
            "Always 1; the labels name the build.".into(),
        );
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    /// The in-flight gauge of a transport, to raise while a request runs.
    pub fn in_flight(&self, transport: &'static str) -> Gauge {
        match TRANSPORTS.iter().position(|t| *t == transport) {
            Some(i) => self.in_flight[i].clone(),
            None => self.gauge(IN_FLIGHT, vec![Label::new("transport", transport)]),
        }
    }

    pub fn request_finished(
        &self,
        transport: &'static str,
        route: &Arc<str>,
        status: &str,
        elapsed: Duration,
    ) {
        let key = (transport, route.clone());
        {
            let series = self.requests.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = series.get(&key)
                && let Some((_, counter)) = s.by_status.iter().find(|(st, _)| &**st == status)
            {
                counter.increment(1);
                s.duration.record(elapsed.as_secs_f64());
                return;
            }
        }
        // First request of this route and status: register its series.
        let mut series = self
            .requests
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let labels = |route: &Arc<str>| {
            vec![
                Label::new("transport", transport),
                Label::new("route", route.to_string()),
            ]
        };
        let s = series.entry(key).or_insert_with(|| RouteSeries {
            duration: self.histogram(REQUEST_DURATION, labels(route)),
            by_status: Vec::new(),
        });
        let counter = match s.by_status.iter().find(|(st, _)| &**st == status) {
            Some((_, counter)) => counter.clone(),
            None => {
                let mut with_status = labels(route);
                with_status.push(Label::new("status", status.to_string()));
                let counter = self.counter(REQUESTS, with_status);
                s.by_status.push((status.into(), counter.clone()));
                counter
            }
        };
        counter.increment(1);
        s.duration.record(elapsed.as_secs_f64());
    }

    pub fn statement(&self, path: StatementPath, elapsed: Duration, failed: bool) {
        let i = StatementPath::ALL
            .iter()
            .position(|p| p.label() == path.label())
            .unwrap_or(0);
        self.statements[i][usize::from(failed)].record(elapsed.as_secs_f64());
    }

    pub fn inline_reprepared(&self, times: u64) {
        self.inline_reprepares.increment(times);
    }

    /// The token cache's two counters: hits, then misses.
    pub fn token_cache_counters(&self) -> (Counter, Counter) {
        (
            self.counter(TOKEN_CACHE, vec![Label::new("result", "hit")]),
            self.counter(TOKEN_CACHE, vec![Label::new("result", "miss")]),
        )
    }

    /// Folds waiting histogram samples into their buckets.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text of every metric, with the pools' occupancy as of now.
    pub fn render(&self, pools: &[PoolStats]) -> String {
        for p in pools {
            for (state, value) in [("open", p.open), ("idle", p.idle), ("max", p.max)] {
                self.gauge(
                    POOL_CONNECTIONS,
                    vec![Label::new("pool", p.pool), Label::new("state", state)],
                )
                .set(value);
            }
        }
        self.handle.render()
    }
}
