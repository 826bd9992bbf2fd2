//! The logs of a real `orgd serve` process: JSON lines carrying the request id, one access
//! line per request, the access log turned off, and text logs to a pipe without colours.

use super::*;

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
