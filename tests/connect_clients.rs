//! The official Connect clients against a real server: `@connectrpc/connect-node` in Node,
//! `@connectrpc/connect-web` in headless Chromium on a page from another origin, and
//! `buf curl` with each of its protocols through reflection. The npm packages are pinned
//! in tests/js (installed with `npm ci`, which `.ci/run` does). Without node, the packages
//! or Chromium these tests say so and pass, except under CI (`CI` set), where they fail.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{App, TempDir, for_each_backend};
use serde_json::Value;

const BUF: &str = "@bufbuild/buf@1.75.0";

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// Whether `what` is there; under CI its absence fails the test.
fn required(present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{what} is missing: .ci/run installs it (apt-get install chromium; cd tests/js && npm ci)"
        );
    }
    eprintln!("SKIPPED: {what} is missing (under CI this fails)");
    false
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn node_ready() -> bool {
    required(on_path("node"), "node")
        && required(
            js_dir().join("node_modules/@connectrpc/connect").is_dir(),
            "the npm packages of tests/js (npm ci)",
        )
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Every descriptor the clients need: orgd's services, health, and the error details.
fn descriptors(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("descriptors.binpb");
    let sets: [&[u8]; 3] = [
        orgd::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_types::pb::FILE_DESCRIPTOR_SET,
    ];
    // Concatenated FileDescriptorSets are one set (a repeated field, appended).
    std::fs::write(&path, sets.concat()).unwrap();
    path
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn run(mut command: tokio::process::Command, limit: Duration) -> Run {
    command.kill_on_drop(true);
    let output = tokio::time::timeout(limit, command.output())
        .await
        .unwrap_or_else(|_| panic!("{command:?} ran past {limit:?}"))
        .unwrap_or_else(|e| panic!("{command:?} did not start: {e}"));
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a script of tests/js against `app` and returns its JSON lines, asserting it passed.
async fn script(app: &App, name: &str, extra: &[(&str, String)]) -> Vec<Value> {
    let dir = TempDir::new();
    let owner = app.user("js-owner").await;
    let other = app.user("js-other").await;
    let mut command = tokio::process::Command::new("node");
    command
        .arg(js_dir().join(name))
        .current_dir(js_dir())
        .env("ORGD_URL", app.endpoint())
        .env("ORGD_TOKEN", &owner.token)
        .env("ORGD_OTHER_TOKEN", &other.token)
        .env("ORGD_DESCRIPTORS", descriptors(&dir));
    for (k, v) in extra {
        command.env(k, v);
    }
    let out = run(command, Duration::from_secs(180)).await;
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        out.ok && !lines.is_empty(),
        "{name} failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    for line in &lines {
        assert_eq!(line["ok"], true, "{line}");
        assert_eq!(line["invalid"], "InvalidArgument", "{line}");
        assert_eq!(line["denied"], "PermissionDenied", "{line}");
        assert_eq!(line["stream"]["ended"], "DeadlineExceeded", "{line}");
    }
    lines
}

fn labels(lines: &[Value]) -> Vec<&str> {
    lines.iter().map(|l| l["label"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn connect_node_speaks_connect_grpc_and_grpc_web() {
    if !node_ready() {
        return;
    }
    for_each_backend(|app| async move {
        let lines = script(&app, "node-client.mjs", &[]).await;
        assert_eq!(
            labels(&lines),
            [
                "connect-json",
                "connect-binary",
                "connect-get-gzip",
                "grpc",
                "grpc-web"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn connect_web_in_chromium_from_another_origin_with_both_transports() {
    if !node_ready() || !required(chromium().is_file(), "Chromium (apt-get install chromium)") {
        return;
    }
    for_each_backend(|app| async move {
        let browser = chromium().display().to_string();
        let lines = script(&app, "browser.mjs", &[("CHROMIUM", browser)]).await;
        assert_eq!(
            labels(&lines),
            [
                "web-connect-json",
                "web-connect-binary",
                "web-connect-get",
                "web-grpc-web"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn buf_curl_speaks_each_protocol_through_reflection() {
    if !required(on_path("npx"), "npx (npm)") {
        return;
    }
    for_each_backend(|app| async move {
        let owner = app.user("buf").await;
        let auth = format!("authorization: Bearer {}", owner.token);
        for protocol in ["connect", "grpc", "grpcweb"] {
            let name = format!("Made by buf curl over {protocol}");
            let data = serde_json::json!({"organization": {"name": name, "timezone": "UTC", "language": "en"}});
            let mut command = tokio::process::Command::new("npx");
            command.args(["--yes", BUF, "curl", "--protocol", protocol]);
            // gRPC needs HTTP/2; Connect and gRPC-Web go over HTTP/1.1 as a browser's would.
            if protocol == "grpc" {
                command.arg("--http2-prior-knowledge");
            }
            command
                .args(["-H", &auth, "-d", &data.to_string()])
                .arg(app.url("/orgd.v1.OrganizationService/CreateOrganization"));
            let out = run(command, Duration::from_secs(300)).await;
            assert!(out.ok, "buf curl --protocol {protocol}:\n{}\n{}", out.stdout, out.stderr);
            let created: Value = serde_json::from_str(&out.stdout)
                .unwrap_or_else(|e| panic!("{protocol}: {e}: {}", out.stdout));
            assert_eq!(created["organization"]["name"], name.as_str(), "{protocol}");

            // A typed error, with its details, in buf curl's rendering of each protocol.
            let mut command = tokio::process::Command::new("npx");
            command.args(["--yes", BUF, "curl", "--protocol", protocol]);
            if protocol == "grpc" {
                command.arg("--http2-prior-knowledge");
            }
            command
                .args(["-H", &auth, "-d", r#"{"organization": {"timezone": "UTC"}}"#])
                .arg(app.url("/orgd.v1.OrganizationService/CreateOrganization"));
            let out = run(command, Duration::from_secs(300)).await;
            assert!(!out.ok, "{protocol}: an invalid organization was accepted");
            let error: Value = serde_json::from_str(&out.stderr)
                .unwrap_or_else(|e| panic!("{protocol}: {e}: {}", out.stderr));
            assert_eq!(error["code"], "invalid_argument", "{protocol}: {error}");
            let types: Vec<&str> = error["details"]
                .as_array()
                .unwrap_or_else(|| panic!("{protocol}: no details: {error}"))
                .iter()
                .map(|d| d["type"].as_str().unwrap())
                .collect();
            assert!(types.contains(&"google.rpc.BadRequest"), "{protocol}: {error}");
        }
    })
    .await;
}

/// WatchEvents in Chromium: a real `EventSource` on the SSE binding (`id:` is the
/// position) and a gRPC-Web server stream from connect-web, both while the page writes.
#[tokio::test]
async fn watch_in_chromium_with_event_source_and_grpc_web() {
    if !node_ready() || !required(chromium().is_file(), "Chromium (apt-get install chromium)") {
        return;
    }
    for_each_backend(|app| async move {
        let dir = TempDir::new();
        let owner = app.user("js-watcher").await;
        let org = common::id_of(&app.org(&owner.token, "Watched in Chromium").await);
        let mut command = tokio::process::Command::new("node");
        command
            .arg(js_dir().join("browser.mjs"))
            .current_dir(js_dir())
            .env("CHROMIUM", chromium())
            .env("ORGD_PAGE", "watch-page.mjs")
            .env("ORGD_RESULTS", "2")
            .env("ORGD_URL", app.endpoint())
            .env("ORGD_TOKEN", &owner.token)
            .env("ORGD_OTHER_TOKEN", "")
            .env("ORGD_HEADER_TOKEN", &owner.token)
            .env("ORGD_ORG", org.to_string())
            .env("ORGD_DESCRIPTORS", descriptors(&dir));
        let out = run(command, Duration::from_secs(180)).await;
        let lines: Vec<Value> = out
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert!(out.ok, "watch-page failed:\n{}\n{}", out.stdout, out.stderr);
        assert_eq!(labels(&lines), ["web-event-source", "web-grpc-web-watch"]);
        for line in &lines {
            assert_eq!(line["ok"], true, "{line}");
        }
        assert_eq!(lines[0]["ids"].as_array().unwrap().len(), 3, "{}", lines[0]);
        assert_eq!(
            lines[1]["positions"].as_array().unwrap().len(),
            3,
            "{}",
            lines[1]
        );
    })
    .await;
}
