//! `orgd-bench watch`: delivery latency of WatchEvents from commit to watcher (issue 18),
//! on a fresh SQLite database. `--watchers` gRPC streams (one caller per stream, each a
//! member of the organization) watch one organization while `--writers` connections
//! write to it over REST at `--rate` writes per second in all, for `--seconds`.
//!
//! A delivery's latency is the watcher's clock at receipt minus the event's `time`, which
//! the server sets inside the write's transaction, before its commit: an upper bound of
//! commit → watcher (same host, same clock).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use orgd::auth::Principal;
use orgd::db::Db;
use orgd::domain::{membership, organization, token, user};
use orgd::proto::v1::WatchOrganizationEventsRequest;
use orgd::proto::v1::organization_event_service_client::OrganizationEventServiceClient;
use orgd::proto::v1::watch_organization_events_response::Kind;
use tonic::metadata::MetadataValue;

use crate::{BoxError, HttpConn, SEEDING, start_server};

#[derive(clap::Parser, Debug)]
#[command(name = "orgd-bench watch")]
pub struct WatchArgs {
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Writes per second, all writers together.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

pub async fn run(args: WatchArgs) -> Result<(), BoxError> {
    let temp = std::env::temp_dir().join(format!("orgd-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&temp)?;
    let url = format!("sqlite://{}/orgd.db?mode=rwc", temp.display());
    let outcome = measure(&url, &args).await;
    let _ = std::fs::remove_dir_all(&temp);
    outcome
}

async fn measure(url: &str, args: &WatchArgs) -> Result<(), BoxError> {
    let db = Db::connect_and_migrate(url).await?;
    let txn = db.begin_write().await?;
    let owner = user::create(&txn, "watch-owner@example.com", "Watch Owner").await?;
    let owner_token = token::issue(&txn, &Principal::User { user_id: owner.id }, None).await?;
    txn.commit().await?;
    let org = organization::create_within(
        &db,
        &Principal::User { user_id: owner.id },
        organization::OrganizationInput {
            name: "Watched".into(),
            timezone: "Europe/Berlin".into(),
            language: "de".into(),
            ..Default::default()
        },
        SEEDING,
    )
    .await?
    .model
    .id;
    // One caller per stream: the server bounds streams per caller (16 by default).
    let txn = db.begin_write().await?;
    let mut tokens = Vec::new();
    for i in 0..args.watchers {
        let u = user::create(&txn, &format!("watcher-{i}@example.com"), "Watcher").await?;
        membership::upsert(&txn, org, u.id, membership::Role::Member).await?;
        tokens.push(token::issue(&txn, &Principal::User { user_id: u.id }, None).await?);
    }
    txn.commit().await?;
    drop(db);

    let server = start_server(url).await?;
    let addr = server.addr;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    let mut streams = Vec::new();
    for t in &tokens {
        let mut req = tonic::Request::new(WatchOrganizationEventsRequest {
            organization_id: org,
            ..Default::default()
        });
        req.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(format!("Bearer {t}"))?,
        );
        let mut stream = OrganizationEventServiceClient::new(channel.clone())
            .watch_organization_events(req)
            .await?
            .into_inner();
        let tx = tx.clone();
        streams.push(tokio::spawn(async move {
            while let Ok(Some(m)) = stream.message().await {
                if let Some(Kind::Event(e)) = m.kind {
                    let t = e.time.unwrap_or_default();
                    let at =
                        std::time::UNIX_EPOCH + Duration::new(t.seconds as u64, t.nanos as u32);
                    let latency = std::time::SystemTime::now()
                        .duration_since(at)
                        .unwrap_or_default();
                    if tx.send(latency).is_err() {
                        return;
                    }
                }
            }
        }));
    }
    drop(tx);
    // The streams register once caught up; a moment lets every one of them be.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let interval = Duration::from_secs_f64(args.writers as f64 / args.rate.max(1) as f64);
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let mut writers = Vec::new();
    for w in 0..args.writers {
        let auth = format!("Bearer {owner_token}");
        writers.push(tokio::spawn(write_steadily(
            addr, org, auth, w, interval, until,
        )));
    }
    let mut written = 0;
    for w in writers {
        written += w.await??;
    }
    // Deliveries still in flight when the writers stop.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for s in &streams {
        s.abort();
    }
    let mut latencies = Vec::new();
    while let Ok(l) = rx.try_recv() {
        latencies.push(l);
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    let summary = serde_json::json!({
        "case": "watch_delivery_latency",
        "backend": "sqlite",
        "watchers": args.watchers,
        "writers": args.writers,
        "target_rate_per_s": args.rate,
        "seconds": args.seconds,
        "writes": written,
        "writes_per_s": written as f64 / args.seconds as f64,
        "deliveries": latencies.len(),
        "expected_deliveries": written * args.watchers,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
    });
    println!("{summary}");
    Ok(())
}

/// One write every `interval` (quick actions: each an organization.updated event) until
/// `until`; how many succeeded.
async fn write_steadily(
    addr: SocketAddr,
    org: i64,
    auth: String,
    w: usize,
    interval: Duration,
    until: Instant,
) -> Result<usize, BoxError> {
    let mut conn = HttpConn::open(addr, false).await?;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut done = 0;
    let mut i = 0usize;
    while Instant::now() < until {
        tick.tick().await;
        i += 1;
        let body =
            serde_json::json!([{"name": format!("Call {w}-{i}"), "color": "red", "icon": "phone"}]);
        let req = http::Request::put(format!("/api/v1/organization/{org}/quick-actions"))
            .header("host", "localhost")
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))?;
        let status = conn.send(req).await?;
        if status < 300 {
            done += 1;
        } else {
            return Err(format!("a write answered {status}").into());
        }
    }
    Ok(done)
}
