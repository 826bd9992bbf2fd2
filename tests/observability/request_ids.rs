//! Request ids: accepted from the client or made (UUID v7), and returned on every transport.

use super::*;

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
