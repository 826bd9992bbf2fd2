//! What an operator sees of a running server: metrics at `GET /metrics`, a request id on
//! every response and log line, an access log, and text or JSON logs.

pub mod logging;
pub mod metrics;
pub mod request;
pub mod request_id;
pub mod traces;

use std::sync::Arc;

use axum::response::Response;

use crate::db::Db;

/// `GET /metrics`: Prometheus text, no token needed.
pub fn metrics_response(db: &Db) -> Response {
    let text = db.metrics().render(&db.pool_stats());
    let mut response = Response::new(axum::body::Body::from(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Folds histogram samples into their buckets every [`metrics::UPKEEP_INTERVAL`], so
/// memory stays flat between scrapes; ends with the metrics it keeps.
pub fn spawn_upkeep(metrics: &Arc<metrics::Metrics>) {
    let metrics = Arc::downgrade(metrics);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(metrics::UPKEEP_INTERVAL).await;
            match metrics.upgrade() {
                Some(m) => m.upkeep(),
                None => return,
            }
        }
    });
}
