//! Traces exported over OTLP to a collector the test serves: a span per request and per
//! statement, under the caller's `traceparent`.

use super::*;

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
