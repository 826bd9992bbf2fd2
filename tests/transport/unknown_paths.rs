//! Unknown paths (plain 404, or in the error body of the surface whose prefix they are
//! under) and REST over h2c.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_plain_404() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        for (method, path) in [
            (Method::GET, "/"),
            (Method::GET, "/nope"),
            (Method::GET, "/api"),
            (Method::POST, "/api/v2/organization"),
            (Method::GET, "/api/v10/organizations"),
            (Method::GET, "/v10/partners"),
        ] {
            for client in [&app.http, &app.h2] {
                let resp = client
                    .request(method.clone(), app.url(path))
                    .header("authorization", format!("Bearer {}", owner.token))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 404, "{method} {path}");
                assert!(
                    resp.headers().get("grpc-status").is_none(),
                    "{method} {path}: a plain 404 has no grpc-status"
                );
            }
        }
        // An unknown gRPC service is an unknown path too.
        let resp = app
            .http
            .post(app.url("/orgd.v1.NoSuchService/Nothing"))
            .header("content-type", GRPC_WEB)
            .body(frame(&GetOrganizationsRequest {}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404);
        assert!(resp.headers().get("grpc-status").is_none());
    })
    .await;
}

/// Under a surface's prefix an unknown path is a 404, and a known path with another method a
/// 405 with `allow`, in that surface's error body, with or without a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_under_a_surface_answer_in_its_dialect() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let uuid = uuid::Uuid::new_v4();
        let call = |method: Method, path: String, token: bool| {
            let mut req = app.http.request(method, app.url(&path));
            if token {
                req = req.header("authorization", format!("Bearer {}", owner.token));
            }
            send(req)
        };
        for token in [true, false] {
            for path in [
                "/api/v1",
                "/api/v1/nope",
                "/api/v1/organization/1/nope/deeper",
                "/api/v1/nope/",
            ] {
                let r = call(Method::GET, path.to_string(), token).await;
                r.assert_error(404, "NOT_FOUND");
                assert_eq!(r.headers["content-type"], "application/json");
            }
            let r = call(Method::GET, "/api/v5/nope".into(), token).await;
            r.assert_status(404);
            assert!(r.json["detail"].is_string(), "{}", r.text);
            let r = call(Method::GET, format!("/v1/partners/{uuid}/nope"), token).await;
            r.assert_status(404);
            assert_eq!(r.json["detail"][0]["code"], "NOT_FOUND", "{}", r.text);

            let r = call(Method::DELETE, "/api/v1/trial".into(), token).await;
            r.assert_error(405, "METHOD_NOT_ALLOWED");
            assert_eq!(r.headers["allow"], "GET, POST");
            let r = call(Method::POST, format!("/api/v5/orgs/{uuid}"), token).await;
            r.assert_status(405);
            assert_eq!(r.headers["allow"], "GET");
            assert!(r.json["detail"].is_string(), "{}", r.text);
            let r = call(Method::PUT, format!("/v1/partners/{uuid}"), token).await;
            r.assert_status(405);
            assert_eq!(r.headers["allow"], "DELETE, GET, PATCH");
            assert_eq!(
                r.json["detail"][0]["code"], "METHOD_NOT_ALLOWED",
                "{}",
                r.text
            );
            let r = call(Method::GET, "/v1/oauth2/token".into(), token).await;
            r.assert_status(405);
            assert_eq!(r.headers["allow"], "POST");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_over_h2c() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let r = send(
            app.h2
                .post(app.url("/api/v1/organization"))
                .header("authorization", format!("Bearer {}", owner.token))
                .header("content-type", "application/json")
                .body(json!({"name": "Over h2c", "timezone": "Europe/Berlin"}).to_string()),
        )
        .await;
        assert_eq!(r.version, reqwest::Version::HTTP_2);
        r.assert_status(201);
        assert_organization_shape(&r.json);
        let id = id_of(&r.json);

        let r = send(
            app.h2
                .get(app.url(&format!("/api/v1/organization/{id}")))
                .header("Personal-Access-Token", owner.token.as_str()),
        )
        .await;
        assert_eq!(r.version, reqwest::Version::HTTP_2);
        r.assert_status(200);
        assert_eq!(r.json["name"], json!("Over h2c"));

        let r = send(app.h2.get(app.url(&format!("/api/v1/organization/{id}")))).await;
        assert_eq!(r.version, reqwest::Version::HTTP_2);
        r.assert_error(401, "UNAUTHENTICATED");

        let r = send(
            app.h2
                .post(app.url("/api/v1/organization"))
                .header("authorization", format!("Bearer {}", owner.token))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
        r.assert_error(400, "INVALID_ARGUMENT");
    })
    .await;
}
