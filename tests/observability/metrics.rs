//! `GET /metrics`, parsed as Prometheus text: requests counted by route template, transport and
//! status, and an open stream in flight until it ends.

use super::*;

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
