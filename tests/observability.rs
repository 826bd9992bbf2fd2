//! What an operator sees: `GET /metrics` (parsed as Prometheus text), request ids on every
//! response over every transport, and the JSON access log of a real `orgd serve` process.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use orgd::proto::v1::GetOrganizationRequest;
use prost::Message;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const GET_ORG_TEMPLATE: &str = "GET /api/v1/organization/{organization_id}";
const GET_ORG_RPC: &str = "/orgd.v1.OrganizationService/GetOrganization";

/// One sample of the Prometheus text format: `name{label="value",...} value`.
#[derive(Debug)]
struct Sample {
    metric: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Parses the text exposition format (comments skipped; label values unescaped), strictly:
/// a line that is not a sample fails the test.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{line:?}"));
        let metric = line[..name_end].to_string();
        assert!(
            metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name {metric:?}"
        );
        let mut labels = HashMap::new();
        let mut rest = &line[name_end..];
        if let Some(after) = rest.strip_prefix('{') {
            let mut chars = after.char_indices().peekable();
            let consumed;
            loop {
                let (start, c) = chars
                    .next()
                    .unwrap_or_else(|| panic!("unterminated: {line:?}"));
                if c == '}' {
                    consumed = Some(start + 1);
                    break;
                }
                if c == ',' {
                    continue;
                }
                let eq = after[start..]
                    .find('=')
                    .unwrap_or_else(|| panic!("{line:?}"))
                    + start;
                let name = after[start..eq].to_string();
                while chars.peek().is_some_and(|(i, _)| *i <= eq) {
                    chars.next();
                }
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line:?}");
                let mut value = String::new();
                loop {
                    match chars.next().unwrap_or_else(|| panic!("{line:?}")).1 {
                        '"' => break,
                        '\\' => match chars.next().unwrap().1 {
                            'n' => value.push('\n'),
                            other => value.push(other),
                        },
                        other => value.push(other),
                    }
                }
                labels.insert(name, value);
            }
            rest = &after[consumed.unwrap()..];
        }
        let value = rest.trim();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("value {v:?} in {line:?}")),
        };
        out.push(Sample {
            metric,
            labels,
            value,
        });
    }
    out
}

/// One scrape of `GET /metrics` (no token), parsed.
struct Scrape {
    samples: Vec<Sample>,
}

impl Scrape {
    async fn take(app: &App) -> Scrape {
        let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        Scrape {
            samples: parse_prometheus(&resp.text().await.unwrap()),
        }
    }

    /// The samples of `metric` whose labels include every pair of `labels`.
    fn find(&self, metric: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.metric == metric)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one series of `metric` with these labels (among others); 0 when
    /// there is none.
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.find(metric, labels);
        assert!(found.len() <= 1, "{metric} {labels:?}: {found:?}");
        found.first().map_or(0.0, |s| s.value)
    }

    /// The sum over every series of `metric` with these labels.
    fn sum(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(metric, labels).iter().map(|s| s.value).sum()
    }

    fn labels_of(&self, metric: &str, label: &str) -> Vec<String> {
        self.samples
            .iter()
            .filter(|s| s.metric == metric)
            .filter_map(|s| s.labels.get(label).cloned())
            .collect()
    }
}

fn grpc_web_frame(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

async fn grpc_web_get_org(
    app: &App,
    token: &str,
    id: i64,
    request_id: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url(GET_ORG_RPC))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", format!("Bearer {token}"))
        .body(grpc_web_frame(&GetOrganizationRequest {
            organization_id: id,
        }));
    if let Some(id) = request_id {
        req = req.header("x-request-id", id);
    }
    req.send().await.expect("grpc-web request")
}

/// Requests are counted by transport, by route template or RPC (never a raw path or id),
/// and by status; with latency histograms, in-flight gauges, database statements and pool
/// gauges, token-cache hits and misses, and build info. Scrapes themselves are not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_template_transport_and_status() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Metered").await;
        let id = id_of(&org);

        let before = Scrape::take(&app).await;
        assert_eq!(
            before.value(
                "orgd_requests_total",
                &[
                    ("transport", "rest"),
                    ("route", "POST /api/v1/organization"),
                    ("status", "201")
                ]
            ),
            1.0,
            "the organization created through REST"
        );

        for _ in 0..2 {
            app.get_org(Auth::Bearer(&owner.token), id)
                .await
                .assert_status(200);
        }
        // Another organization's id that does not exist: 403 or 404, under the same template.
        let missing = app.get_org(Auth::Bearer(&owner.token), 987_654_321).await;
        let missing_status = missing.status.as_u16().to_string();
        // Paths no route takes, one carrying an id: all one label.
        app.rest(Method::GET, "/api/v1/no-such-thing/55555", Auth::None, None)
            .await
            .assert_status(404);
        app.rest(Method::GET, "/nowhere/66666", Auth::None, None)
            .await;

        let mut grpc = app.organizations().await;
        grpc.get_organization(bearer(
            GetOrganizationRequest {
                organization_id: id,
            },
            &owner.token,
        ))
        .await
        .expect("GetOrganization over gRPC");
        let denied = grpc
            .get_organization(GetOrganizationRequest {
                organization_id: id,
            })
            .await
            .expect_err("no token");
        assert_eq!(denied.code(), tonic::Code::Unauthenticated);
        let web = grpc_web_get_org(&app, &owner.token, id, None).await;
        assert_eq!(web.status(), 200);
        let _ = web.bytes().await.unwrap();
        // A gRPC method that does not exist, on a service that does.
        let unknown = app
            .h2
            .post(app.url("/orgd.v1.OrganizationService/NoSuchMethod77777"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(grpc_web_frame(&GetOrganizationRequest {
                organization_id: 1,
            }))
            .send()
            .await
            .unwrap();
        let _ = unknown.bytes().await;

        let after = Scrape::take(&app).await;
        let count = |s: &Scrape, transport: &str, route: &str, status: &str| {
            s.value(
                "orgd_requests_total",
                &[
                    ("transport", transport),
                    ("route", route),
                    ("status", status),
                ],
            )
        };
        assert_eq!(count(&after, "rest", GET_ORG_TEMPLATE, "200"), 2.0);
        assert_eq!(
            count(&after, "rest", GET_ORG_TEMPLATE, &missing_status),
            1.0
        );
        assert_eq!(
            count(&after, "rest", "unmatched", "404"),
            2.0,
            "both unrouted paths"
        );
        assert_eq!(count(&after, "grpc", GET_ORG_RPC, "OK"), 1.0);
        assert_eq!(count(&after, "grpc", GET_ORG_RPC, "Unauthenticated"), 1.0);
        assert_eq!(count(&after, "grpc-web", GET_ORG_RPC, "OK"), 1.0);
        assert_eq!(count(&after, "grpc", "unmatched", "Unimplemented"), 1.0);

        // Labels are templates and RPC names: no id and no raw path made it into a label.
        for route in after.labels_of("orgd_requests_total", "route") {
            assert!(
                route == "unmatched" || route.starts_with('/') || route.contains(" /"),
                "{route}"
            );
            for raw in ["987654321", "55555", "66666", "77777"] {
                assert!(
                    !route.contains(raw),
                    "a raw value in a route label: {route}"
                );
            }
            let path = route.rsplit(' ').next().unwrap();
            for segment in path.split('/') {
                assert!(
                    segment.is_empty() || !segment.chars().all(|c| c.is_ascii_digit()),
                    "an id in a route label: {route}"
                );
            }
        }
        for transport in after.labels_of("orgd_requests_total", "transport") {
            assert!(
                ["grpc", "grpc-web", "rest"].contains(&transport.as_str()),
                "{transport}"
            );
        }
        // The scrapes are not API traffic.
        assert!(
            after
                .find("orgd_requests_total", &[("route", "GET /metrics")])
                .is_empty()
        );
        assert!(
            after
                .find("orgd_requests_total", &[("route", "/metrics")])
                .is_empty()
        );

        assert_eq!(
            after.value(
                "orgd_request_duration_seconds_count",
                &[("transport", "rest"), ("route", GET_ORG_TEMPLATE)]
            ),
            3.0
        );
        assert_eq!(
            after.value(
                "orgd_request_duration_seconds_bucket",
                &[
                    ("transport", "rest"),
                    ("route", GET_ORG_TEMPLATE),
                    ("le", "+Inf")
                ]
            ),
            3.0
        );
        assert_eq!(
            after.value("orgd_requests_in_flight", &[("transport", "rest")]),
            0.0,
            "nothing in flight while the scrape (not counted) runs"
        );
        let statements = after.sum(
            "orgd_db_statement_duration_seconds_count",
            &[("outcome", "ok")],
        );
        assert!(statements >= 3.0, "statements were timed: {statements}");
        let (pool, max) = match app.backend {
            Backend::Sqlite => ("sqlite_writer", 1.0),
            Backend::Postgres => ("postgres", 16.0),
        };
        assert_eq!(
            after.value(
                "orgd_db_pool_connections",
                &[("pool", pool), ("state", "max")]
            ),
            max
        );
        assert!(
            after.value(
                "orgd_db_pool_connections",
                &[("pool", pool), ("state", "open")]
            ) >= 1.0
        );
        let hits = after.value("orgd_token_cache_lookups_total", &[("result", "hit")]);
        let misses = after.value("orgd_token_cache_lookups_total", &[("result", "miss")]);
        assert!(
            misses >= 1.0,
            "the owner's first request looked the token up: {misses}"
        );
        assert!(
            hits >= 1.0,
            "the later ones were served from the cache: {hits}"
        );
        assert_eq!(
            after.value("orgd_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
            1.0
        );

        // A scrape changes no request count.
        let again = Scrape::take(&app).await;
        let total = |s: &Scrape| s.sum("orgd_requests_total", &[]);
        assert_eq!(total(&after), total(&again));
    })
    .await;
}

/// A request in progress is in flight until its response ends: an open `Health/Watch`
/// stream is one gRPC request in flight, and none once the client drops it; it is counted
/// (with its status) when it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_stream_is_in_flight_until_it_ends() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    const WATCH: &str = "/grpc.health.v1.Health/Watch";
    for_each_backend(|app| async move {
        let mut health = HealthClient::new(app.channel().await);
        let mut stream = health
            .watch(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("Watch")
            .into_inner();
        stream.message().await.unwrap().expect("the first status");
        let open = Scrape::take(&app).await;
        assert_eq!(
            open.value("orgd_requests_in_flight", &[("transport", "grpc")]),
            1.0
        );
        assert_eq!(
            open.sum("orgd_requests_total", &[("route", WATCH)]),
            0.0,
            "not over yet"
        );

        drop(stream);
        drop(health);
        // The server learns of the reset in its own time: look again until it has (a bound
        // on a hung test, not a timing assertion).
        let mut closed = Scrape::take(&app).await;
        for _ in 0..300 {
            if closed.value("orgd_requests_in_flight", &[("transport", "grpc")]) == 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            closed = Scrape::take(&app).await;
        }
        assert_eq!(
            closed.value("orgd_requests_in_flight", &[("transport", "grpc")]),
            0.0
        );
        assert_eq!(
            closed.value(
                "orgd_requests_total",
                &[
                    ("transport", "grpc"),
                    ("route", WATCH),
                    ("status", "Cancelled")
                ]
            ),
            1.0,
            "the stream the client dropped: {:?}",
            closed.find("orgd_requests_total", &[("route", WATCH)])
        );
    })
    .await;
}

fn assert_uuid_v7(value: &str) {
    let id = uuid::Uuid::parse_str(value).unwrap_or_else(|_| panic!("a UUID: {value:?}"));
    assert_eq!(id.get_version_num(), 7, "{value}");
}

/// Every response names its request: the client's `x-request-id` when it is sane, else a
/// new UUIDv7; as an HTTP header on REST and grpc-web, as initial metadata on gRPC (for
/// errors too). Error bodies are the published dialects' unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_accepted_or_made_and_returned_on_every_transport() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Named").await);
        let rest_with = |request_id: Option<String>| {
            let app = app.clone();
            let token = owner.token.clone();
            async move {
                let mut req = app.http.get(app.url(&format!("/api/v1/organization/{id}")));
                req = req.header("authorization", format!("Bearer {token}"));
                if let Some(r) = request_id {
                    req = req.header("x-request-id", r);
                }
                req.send().await.unwrap()
            }
        };

        let made = rest_with(None).await;
        let made_id = made.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_uuid_v7(&made_id);
        let again = rest_with(None).await;
        assert_ne!(
            again.headers()["x-request-id"].to_str().unwrap(),
            made_id,
            "one per request"
        );

        let kept = rest_with(Some("client-id-42.A:b/c=".into())).await;
        assert_eq!(kept.headers()["x-request-id"], "client-id-42.A:b/c=");
        let longest = "x".repeat(128);
        let kept = rest_with(Some(longest.clone())).await;
        assert_eq!(kept.headers()["x-request-id"], longest.as_str());

        for bad in ["x".repeat(129), "has space".into(), String::new()] {
            let replaced = rest_with(Some(bad.clone())).await;
            let value = replaced.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string();
            assert_ne!(value, bad);
            assert_uuid_v7(&value);
        }

        // Errors of every REST dialect keep their published bodies; the id is a header only.
        for (path, auth) in [
            (
                "/api/v1/organization/987654321".to_string(),
                Auth::Bearer(&owner.token),
            ),
            (
                "/api/v5/orgs/not-a-uuid/partnerships".into(),
                Auth::Token(&owner.token),
            ),
            ("/v1/partners".into(), Auth::None),
            ("/nowhere".into(), Auth::None),
        ] {
            let req = auth
                .apply(app.http.get(app.url(&path)))
                .header("x-request-id", "error-body-check");
            let resp = send(req).await;
            assert!(resp.status.is_client_error(), "{path}: {}", resp.status);
            assert_eq!(resp.headers["x-request-id"], "error-body-check", "{path}");
            assert!(
                !resp.text.contains("error-body-check"),
                "{path}: {}",
                resp.text
            );
            assert!(!resp.text.contains("request_id"), "{path}: {}", resp.text);
        }

        // gRPC: initial metadata, on success and on an error status.
        let mut grpc = app.organizations().await;
        let mut req = bearer(
            GetOrganizationRequest {
                organization_id: id,
            },
            &owner.token,
        );
        req.metadata_mut()
            .insert("x-request-id", "grpc-call-1".parse().unwrap());
        let ok = grpc.get_organization(req).await.unwrap();
        assert_eq!(ok.metadata().get("x-request-id").unwrap(), "grpc-call-1");
        let ok = grpc
            .get_organization(bearer(
                GetOrganizationRequest {
                    organization_id: id,
                },
                &owner.token,
            ))
            .await
            .unwrap();
        assert_uuid_v7(ok.metadata().get("x-request-id").unwrap().to_str().unwrap());
        let mut req = tonic::Request::new(GetOrganizationRequest {
            organization_id: id,
        });
        req.metadata_mut()
            .insert("x-request-id", "grpc-error-1".parse().unwrap());
        let err = grpc.get_organization(req).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        assert_eq!(err.metadata().get("x-request-id").unwrap(), "grpc-error-1");

        // grpc-web, and a browser may read it (CORS exposes it).
        let web = app
            .http
            .post(app.url(GET_ORG_RPC))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header("origin", "https://app.example")
            .header("authorization", format!("Bearer {}", owner.token))
            .header("x-request-id", "web-call-1")
            .body(grpc_web_frame(&GetOrganizationRequest {
                organization_id: id,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(web.headers()["x-request-id"], "web-call-1");
        let exposed = web.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_lowercase();
        assert!(exposed.contains("x-request-id"), "{exposed}");
    })
    .await;
}

/// A running `orgd serve` and the lines it logs on stderr.
struct ServeProcess {
    child: tokio::process::Child,
    log: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    seen: Vec<String>,
    port: u16,
}

impl ServeProcess {
    async fn start(url: &str, extra: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_orgd"));
        cmd.args(["--database-url", url])
            .args(extra)
            .args(["serve", "--listen", &listen])
            .env_remove("ORGD_LOG")
            .env_remove("ORGD_LOG_FORMAT")
            .env_remove("ORGD_ACCESS_LOG")
            .env_remove("DATABASE_URL")
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("orgd serve starts");
        let log = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut process = ServeProcess {
            child,
            log,
            seen: Vec::new(),
            port,
        };
        process.wait_for(|l| l.contains("ready on http://")).await;
        process
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Reads lines until one satisfies `found` (30 s at most; never a timing assertion,
    /// only a bound on a hung test).
    async fn wait_for(&mut self, found: impl Fn(&str) -> bool) -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.log.next_line())
                .await
                .unwrap_or_else(|_| panic!("no such line within 30 s; saw {:#?}", self.seen))
                .unwrap()
                .unwrap_or_else(|| panic!("orgd exited; it logged {:#?}", self.seen));
            self.seen.push(line.clone());
            if found(&line) {
                return line;
            }
        }
    }

    async fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().expect("running").to_string();
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await;
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(Duration::from_secs(30), self.log.next_line()).await
        {
            self.seen.push(line);
        }
        let _ = self.child.wait().await;
        self.seen
    }
}

fn parse_json_line(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line:?}"))
}

/// `--log-format json`: every line is one JSON object with timestamp, level and target; a
/// request's lines all carry its id; each request gets one access line with transport,
/// route template, status and latency. No ANSI codes when stderr is not a terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id_and_one_access_line_per_request() {
    for backend in backends() {
        let db = TestDatabase::create(backend).await;
        json_logs_on(&db.url).await;
        db.destroy().await;
    }
}

async fn json_logs_on(url: &str) {
    let url = url.to_string();
    let owner = run_cli(
        &url,
        &[
            "user",
            "create",
            "--email",
            "log@example.com",
            "--name",
            "L",
        ],
    )
    .await
    .json();
    let token = owner["token"].as_str().unwrap().to_string();

    // The statements sqlx logs at debug level run inside the request: they must carry its
    // id, even with everything else of orgd's but the ready and access lines filtered out.
    let server = ServeProcess::start(
        &url,
        &["--log-format", "json"],
        &[(
            "ORGD_LOG",
            "warn,orgd::cli=info,orgd::access=info,sqlx::query=debug",
        )],
    )
    .await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let created = http
        .post(server.url("/api/v1/organization"))
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", "log-create-1")
        .json(&json!({"name": "Logged", "timezone": "Europe/Berlin", "language": "de"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let org: Value = created.json().await.unwrap();
    let org_id = org["id"].as_i64().unwrap();
    let missing = http
        .get(server.url("/api/v1/organization/987654321"))
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", "log-missing-1")
        .send()
        .await
        .unwrap();
    let missing_status = missing.status().as_u16();
    let mut grpc =
        orgd::proto::v1::organization_service_client::OrganizationServiceClient::connect(
            server.url(""),
        )
        .await
        .unwrap();
    let mut req = bearer(
        GetOrganizationRequest {
            organization_id: org_id,
        },
        &token,
    );
    req.metadata_mut()
        .insert("x-request-id", "log-grpc-1".parse().unwrap());
    grpc.get_organization(req).await.unwrap();

    let mut server = server;
    server
        .wait_for(|l| l.contains("\"log-grpc-1\"") && l.contains("orgd::access"))
        .await;
    let lines = server.stop().await;

    assert!(lines.iter().all(|l| !l.contains('\u{1b}')), "no ANSI codes");
    let parsed: Vec<Value> = lines.iter().map(|l| parse_json_line(l)).collect();
    for line in &parsed {
        for key in ["timestamp", "level", "target"] {
            assert!(line[key].is_string(), "{key} in {line}");
        }
        chrono::DateTime::parse_from_rfc3339(line["timestamp"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("RFC 3339 timestamp ({e}): {line}"));
    }
    let of =
        |id: &str| -> Vec<&Value> { parsed.iter().filter(|l| l["request_id"] == id).collect() };
    let access = |id: &str| -> Value {
        let found: Vec<&Value> = of(id)
            .into_iter()
            .filter(|l| l["target"] == "orgd::access")
            .collect();
        assert_eq!(found.len(), 1, "one access line for {id}: {found:#?}");
        found[0].clone()
    };

    let create = access("log-create-1");
    assert_eq!(create["level"], "INFO");
    assert_eq!(create["transport"], "rest");
    assert_eq!(create["route"], "POST /api/v1/organization");
    assert_eq!(create["status"], "201");
    assert_eq!(create["method"], "POST");
    assert!(
        create["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{create}"
    );
    let statements: Vec<&Value> = of("log-create-1")
        .into_iter()
        .filter(|l| l["target"] == "sqlx::query")
        .collect();
    assert!(
        !statements.is_empty(),
        "the request's statements carry its id"
    );
    // No statement of that request was logged without its id: every sqlx line naming the
    // new organization is one of the request's.
    for line in &parsed {
        if line["target"] == "sqlx::query" && line.to_string().contains("Logged") {
            assert_eq!(line["request_id"], "log-create-1", "{line}");
        }
    }

    let missing = access("log-missing-1");
    assert_eq!(missing["route"], GET_ORG_TEMPLATE);
    assert_eq!(missing["status"], missing_status.to_string());
    assert!(
        !missing.to_string().contains("987654321"),
        "no raw path in the access line"
    );

    let grpc = access("log-grpc-1");
    assert_eq!(grpc["transport"], "grpc");
    assert_eq!(grpc["route"], GET_ORG_RPC);
    assert_eq!(grpc["status"], "OK");
}

/// `--access-log false` (or `ORGD_ACCESS_LOG=false`) silences the access lines alone; text
/// logs written to a pipe carry no ANSI codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_can_be_turned_off_and_text_logs_to_a_pipe_have_no_colours() {
    for backend in backends() {
        let db = TestDatabase::create(backend).await;
        access_log_switch_on(&db.url).await;
        db.destroy().await;
    }
}

async fn access_log_switch_on(url: &str) {
    let url = url.to_string();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut counts = HashMap::new();
    for (label, extra, env) in [
        ("text, on", vec![], vec![]),
        ("flag off", vec!["--access-log", "false"], vec![]),
        ("env off", vec![], vec![("ORGD_ACCESS_LOG", "false")]),
    ] {
        let mut server = ServeProcess::start(&url, &extra, &env).await;
        for i in 0..3 {
            http.get(server.url("/openapi.json"))
                .header("x-request-id", format!("quiet-{i}"))
                .send()
                .await
                .unwrap();
        }
        // With the access log on, wait for the last line; off, there is none to wait for.
        if label == "text, on" {
            server.wait_for(|l| l.contains("quiet-2")).await;
        }
        let lines = server.stop().await;
        assert!(
            lines.iter().all(|l| !l.contains('\u{1b}')),
            "{label}: no ANSI codes: {lines:#?}"
        );
        let access = lines
            .iter()
            .filter(|l| l.contains("orgd::access") && l.contains("quiet-"))
            .count();
        counts.insert(label, access);
    }
    assert_eq!(
        counts["text, on"], 3,
        "one access line per request: {counts:?}"
    );
    assert_eq!(counts["flag off"], 0, "{counts:?}");
    assert_eq!(counts["env off"], 0, "{counts:?}");
}

/// A small OTLP/HTTP collector: keeps the body of every `POST /v1/traces`.
async fn serve_collector() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<bytes::Bytes>>>,
) {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: bytes::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(body);
                (
                    [("content-type", "application/x-protobuf")],
                    opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::default()
                        .encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

/// Every span the collector received.
fn spans(received: &[bytes::Bytes]) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    received
        .iter()
        .flat_map(|body| {
            ExportTraceServiceRequest::decode(body.as_ref())
                .expect("an OTLP protobuf export")
                .resource_spans
        })
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

fn attribute<'a>(
    span: &'a opentelemetry_proto::tonic::trace::v1::Span,
    key: &str,
) -> Option<&'a opentelemetry_proto::tonic::common::v1::any_value::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

/// With `--otlp-endpoint`, each request is a server span named for its route, under the
/// trace of the client's `traceparent` (or a new trace without one), with a child span per
/// database statement; exported over OTLP/HTTP protobuf to a collector the test serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_export_a_span_per_request_and_statement_under_the_callers_traceparent() {
    for backend in backends() {
        let db = TestDatabase::create(backend).await;
        traces_on(&db.url).await;
        db.destroy().await;
    }
}

async fn traces_on(url: &str) {
    let owner = run_cli(
        url,
        &[
            "user",
            "create",
            "--email",
            "trace@example.com",
            "--name",
            "T",
        ],
    )
    .await
    .json();
    let token = owner["token"].as_str().unwrap().to_string();
    let (collector, received) = serve_collector().await;
    let endpoint = format!("http://{collector}");
    let server = ServeProcess::start(
        url,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let created = http
        .post(server.url("/api/v1/organization"))
        .header("authorization", format!("Bearer {token}"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"name": "Traced", "timezone": "Europe/Berlin", "language": "de"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let org_id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut grpc =
        orgd::proto::v1::organization_service_client::OrganizationServiceClient::connect(
            server.url(""),
        )
        .await
        .unwrap();
    grpc.get_organization(bearer(
        GetOrganizationRequest {
            organization_id: org_id,
        },
        &token,
    ))
    .await
    .unwrap();
    // SIGTERM: the exporter sends what it still holds before the process exits.
    server.stop().await;

    let spans = spans(&received.lock().unwrap());
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let server_spans: Vec<_> = spans
        .iter()
        .filter(|s| s.kind == opentelemetry_proto::tonic::trace::v1::span::SpanKind::Server as i32)
        .collect();
    let create = server_spans
        .iter()
        .find(|s| s.name == "POST /api/v1/organization")
        .unwrap_or_else(|| panic!("a span for the REST call: {:#?}", names(&spans)));
    assert_eq!(hex(&create.trace_id), trace_id, "the caller's trace");
    assert_eq!(
        hex(&create.parent_span_id),
        caller_span,
        "a child of the caller's span"
    );
    assert!(
        matches!(
            attribute(create, "http.response.status_code"),
            Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(201))
        ),
        "{create:?}"
    );
    let get = server_spans
        .iter()
        .find(|s| s.name == GET_ORG_RPC)
        .unwrap_or_else(|| panic!("a span for the gRPC call: {:#?}", names(&spans)));
    assert_ne!(
        hex(&get.trace_id),
        trace_id,
        "no traceparent: a trace of its own"
    );
    assert!(get.parent_span_id.is_empty(), "a root span");

    for request in [create, get] {
        let statements: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_span_id == request.span_id && s.trace_id == request.trace_id)
            .filter(|s| attribute(s, "db.query.text").is_some())
            .collect();
        assert!(
            !statements.is_empty(),
            "{}: a span per statement: {:#?}",
            request.name,
            names(&spans)
        );
        for s in statements {
            assert!(
                s.start_time_unix_nano >= request.start_time_unix_nano,
                "{s:?}"
            );
            assert!(s.end_time_unix_nano <= request.end_time_unix_nano, "{s:?}");
        }
    }
}

fn names(spans: &[opentelemetry_proto::tonic::trace::v1::Span]) -> Vec<String> {
    spans
        .iter()
        .map(|s| format!("{} {:?}", s.name, s.kind))
        .collect()
}
