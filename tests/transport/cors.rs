//! CORS: a preflight on a gRPC path succeeds, and grpc-web responses expose the grpc-status.

use super::*;

/// Whether `Access-Control-Allow-Headers` lets a browser send `name`. Per the Fetch
/// standard `*` covers every header except `Authorization`, which must be listed.
fn header_allowed(allow: &str, name: &str) -> bool {
    let listed: Vec<String> = allow
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    listed.iter().any(|h| h == name)
        || (listed.iter().any(|h| h == "*") && !name.eq_ignore_ascii_case("authorization"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_on_a_grpc_path_succeeds() {
    for_each_backend(|app| async move {
        let origin = "https://app.example.com";
        let requested = [
            "content-type",
            "x-grpc-web",
            "x-user-agent",
            "authorization",
            "personal-access-token",
            "api-token",
        ];
        let resp = app
            .http
            .request(Method::OPTIONS, app.url(GET))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", requested.join(","))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        assert!(status.is_success(), "preflight answers 2xx, got {status}");
        let allow_origin = header_str(&headers, "access-control-allow-origin");
        assert!(
            allow_origin == "*" || allow_origin == origin,
            "access-control-allow-origin: {allow_origin:?}"
        );
        let methods = header_str(&headers, "access-control-allow-methods");
        assert!(
            methods.trim() == "*"
                || methods
                    .split(',')
                    .any(|m| m.trim().eq_ignore_ascii_case("POST")),
            "access-control-allow-methods covers POST: {methods:?}"
        );
        let allow_headers = header_str(&headers, "access-control-allow-headers");
        for h in requested {
            assert!(
                header_allowed(&allow_headers, h),
                "access-control-allow-headers {allow_headers:?} must let a browser send {h:?} \
                 (a wildcard does not cover Authorization)"
            );
        }
        assert!(
            headers.get("grpc-status").is_none(),
            "a preflight is not a gRPC call"
        );

        // A preflight on a REST path works too.
        let resp = app
            .http
            .request(Method::OPTIONS, app.url("/api/v1/organization"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "REST preflight: {}",
            resp.status()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_responses_expose_grpc_status() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let origin = "https://app.example.com";
        let check = |reply: &WebReply, what: &str| {
            let allow_origin = header_str(&reply.headers, "access-control-allow-origin");
            assert!(
                allow_origin == "*" || allow_origin == origin,
                "{what}: access-control-allow-origin {allow_origin:?}"
            );
            let expose =
                header_str(&reply.headers, "access-control-expose-headers").to_ascii_lowercase();
            let exposed: Vec<&str> = expose.split(',').map(str::trim).collect();
            for h in ["grpc-status", "grpc-message"] {
                assert!(
                    exposed.contains(&h),
                    "{what}: access-control-expose-headers {expose:?} lists {h}"
                );
            }
        };
        let reply = grpc_web(
            &app.http,
            &app,
            LIST,
            &GetOrganizationsRequest {},
            Some(&owner.token),
            Some(origin),
        )
        .await;
        reply.assert_ok();
        check(&reply, "success");

        let reply = grpc_web(
            &app.http,
            &app,
            LIST,
            &GetOrganizationsRequest {},
            None,
            Some(origin),
        )
        .await;
        assert_eq!(reply.grpc_status(), Some(16));
        check(&reply, "error");
    })
    .await;
}
