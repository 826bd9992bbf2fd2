//! grpc-web framing: the organization CRUD over HTTP/1.1 and h2c, and the text mode.

use super::*;

const UPDATE: &str = "/orgd.v1.OrganizationService/UpdateOrganization";

async fn web_crud(app: &App, client: &reqwest::Client) {
    let owner = app.user("owner").await;
    let t = Some(owner.token.as_str());

    let reply = grpc_web(
        client,
        app,
        CREATE,
        &CreateOrganizationRequest {
            organization: Some(Organization {
                name: "Web Org".into(),
                timezone: "Europe/Berlin".into(),
                language: "de".into(),
                ..Default::default()
            }),
        },
        t,
        None,
    )
    .await;
    reply.assert_ok();
    let created = reply
        .decode::<CreateOrganizationResponse>()
        .organization
        .expect("organization");
    assert!(created.id > 0);
    assert_eq!(created.name, "Web Org");
    assert_eq!(created.owner_ids, vec![owner.id]);

    let reply = grpc_web(
        client,
        app,
        GET,
        &GetOrganizationRequest {
            organization_id: created.id,
        },
        t,
        None,
    )
    .await;
    reply.assert_ok();
    let got = reply
        .decode::<GetOrganizationResponse>()
        .organization
        .unwrap();
    assert_eq!(got, created);

    let reply = grpc_web(
        client,
        app,
        UPDATE,
        &UpdateOrganizationRequest {
            organization: Some(Organization {
                id: created.id,
                name: "Web Renamed".into(),
                ..Default::default()
            }),
        },
        t,
        None,
    )
    .await;
    reply.assert_ok();
    let updated = reply
        .decode::<UpdateOrganizationResponse>()
        .organization
        .unwrap();
    assert_eq!(updated.name, "Web Renamed");
    assert_eq!(
        updated.timezone, "Europe/Berlin",
        "empty timezone keeps the old one"
    );

    let reply = grpc_web(client, app, LIST, &GetOrganizationsRequest {}, t, None).await;
    reply.assert_ok();
    let list = reply.decode::<GetOrganizationsResponse>().organizations;
    assert_eq!(list, vec![updated.clone()]);

    // REST sees the grpc-web update.
    let r = app.get_org(Auth::Bearer(&owner.token), created.id).await;
    r.assert_status(200);
    assert_eq!(r.json["name"], json!("Web Renamed"));

    let reply = grpc_web(
        client,
        app,
        DELETE,
        &DeleteOrganizationRequest {
            organization_id: created.id,
        },
        t,
        None,
    )
    .await;
    reply.assert_ok();
    // An empty message still comes as one (empty) data frame.
    let _ = reply.decode::<DeleteOrganizationResponse>();

    // Errors: non-zero grpc-status.
    let reply = grpc_web(
        client,
        app,
        GET,
        &GetOrganizationRequest {
            organization_id: created.id,
        },
        None,
        None,
    )
    .await;
    assert_eq!(reply.grpc_status(), Some(16), "UNAUTHENTICATED: {reply:?}");
    assert!(reply.data.is_empty());

    let outsider = app.user("outsider").await;
    let reply = grpc_web(
        client,
        app,
        GET,
        &GetOrganizationRequest {
            organization_id: created.id,
        },
        Some(&outsider.token),
        None,
    )
    .await;
    assert_eq!(reply.grpc_status(), Some(7), "PERMISSION_DENIED: {reply:?}");

    let reply = grpc_web(
        client,
        app,
        CREATE,
        &CreateOrganizationRequest {
            organization: Some(Organization {
                name: "Bad".into(),
                timezone: "Mars/Olympus".into(),
                ..Default::default()
            }),
        },
        t,
        None,
    )
    .await;
    assert_eq!(reply.grpc_status(), Some(3), "INVALID_ARGUMENT: {reply:?}");
    let list = app
        .rest(
            Method::GET,
            "/api/v1/organizations",
            Auth::Bearer(&owner.token),
            None,
        )
        .await;
    assert_eq!(list.json, json!([]), "the rejected create made nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_crud_over_http1() {
    for_each_backend(|app| async move {
        let client = app.http.clone();
        web_crud(&app, &client).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_crud_over_h2c() {
    for_each_backend(|app| async move {
        let client = app.h2.clone();
        // Make sure this really is HTTP/2.
        let probe = app
            .h2
            .get(app.url("/api/v1/organizations"))
            .send()
            .await
            .unwrap();
        assert_eq!(probe.version(), reqwest::Version::HTTP_2);
        web_crud(&app, &client).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_text_mode() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = b64.encode(frame(&CreateOrganizationRequest {
            organization: Some(Organization {
                name: "Text mode".into(),
                ..Default::default()
            }),
        }));
        let resp = app
            .http
            .post(app.url(CREATE))
            .header("content-type", "application/grpc-web-text")
            .header("accept", "application/grpc-web-text")
            .header("x-grpc-web", "1")
            .header("authorization", format!("Bearer {}", owner.token))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let text = resp.text().await.unwrap();
        let (data, trailer) = parse_frames(&decode_web_text(&text));
        assert!(trailer.expect("trailer frame").contains("grpc-status:0"));
        let org = CreateOrganizationResponse::decode(data[0].as_slice())
            .unwrap()
            .organization
            .unwrap();
        assert_eq!(org.name, "Text mode");
    })
    .await;
}
