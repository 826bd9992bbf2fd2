//! What an operator sees: `GET /metrics` (parsed as Prometheus text), request ids on every
//! response over every transport, and the JSON access log of a real `orgd serve` process.

#[path = "../common/mod.rs"]
mod common;

mod logs;
mod metrics;
mod request_ids;
mod traces;

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

fn names(spans: &[opentelemetry_proto::tonic::trace::v1::Span]) -> Vec<String> {
    spans
        .iter()
        .map(|s| format!("{} {:?}", s.name, s.kind))
        .collect()
}
