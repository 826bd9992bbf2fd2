//! Guest invitations: the published fields, `expired_at`, bad input, the directory record
//! invitation that is one, and the gRPC service.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_invitation_has_the_published_fields() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let expires = in_days(7);
        let sent = invite(&app, &host, "  Guest@Example.COM ", &expires).await;
        assert_invitation_shape(&sent);
        assert_eq!(sent["host_organization_id"], json!(host.uuid));
        assert_eq!(sent["email"], json!("guest@example.com"));
        assert_eq!(sent["status"], json!("sent"));
        assert_eq!(sent["expired"], json!(false));
        assert_eq!(sent["archived"], json!(false));
        assert_eq!(sent["accepted_at"], Value::Null);
        assert_eq!(sent["archived_at"], Value::Null);
        assert_eq!(sent["parent_organization_id"], Value::Null);
        assert_eq!(sent["parent_organization_name"], Value::Null);
        assert_eq!(
            sent["first_invitation_sent_at"],
            sent["last_invitation_sent_at"]
        );
        assert!(
            (utc(&sent["expired_at"]) - utc(&json!(expires)))
                .num_milliseconds()
                .abs()
                < 1,
            "{sent}"
        );
        assert!(
            sent["invitation_token"]
                .as_str()
                .is_some_and(|t| t.len() >= 32),
            "{sent}"
        );

        // Under a unit of the host: named in the response.
        let unit = app.child_org(&host.owner.token, host.id, "Unit").await;
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            Some(json!({"email": "second@example.com", "expired_at": expires,
                "parent_organization_id": unit["uuid"]})),
        )
        .await;
        r.assert_status(201);
        assert_eq!(r.json["parent_organization_id"], unit["uuid"]);
        assert_eq!(r.json["parent_organization_name"], json!("Unit"));

        // Sending to the same email again sends the open invitation again.
        let again = invite(&app, &host, "guest@example.com", &in_days(9)).await;
        assert_eq!(again["id"], sent["id"]);
        assert_eq!(again["invitation_token"], sent["invitation_token"]);
        assert_eq!(
            again["first_invitation_sent_at"],
            sent["first_invitation_sent_at"]
        );
        assert!(utc(&again["last_invitation_sent_at"]) >= utc(&sent["last_invitation_sent_at"]));
        assert!(utc(&again["expired_at"]) > utc(&sent["expired_at"]));

        let list = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        list.assert_status(200);
        assert_eq!(list.json["total_items"], json!(2), "{}", list.text);
        let items = list.json["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        items.iter().for_each(assert_invitation_shape);
        // Newest first.
        assert_eq!(items[0]["email"], json!("second@example.com"));
        let page = call(
            &app,
            Method::GET,
            "/v1/guest-invitations?limit=1&offset=1",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        page.assert_status(200);
        assert_eq!(page.json["items"][0]["id"], sent["id"]);
        assert_eq!(page.json["total_items"], json!(2));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_invitation_cannot_be_accepted() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let sent = invite(&app, &host, &guest.owner.email, &in_days(-1)).await;
        assert_eq!(sent["expired"], json!(true), "{sent}");
        assert_eq!(sent["status"], json!("sent"));
        let token = sent["invitation_token"].as_str().unwrap().to_string();
        assert_detail(
            &accept(&app, &guest, &token).await,
            409,
            "INVITATION_EXPIRED",
        );
        let guests = call(
            &app,
            Method::GET,
            "/v1/guest-connections",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(
            guests.json["total_items"],
            json!(0),
            "no connection: {}",
            guests.text
        );
        assert_detail(
            &partners(&app, &guest.owner, &guest, &host).await,
            403,
            "PERMISSION_DENIED",
        );
        // Sent again with a later expiry, the same invitation can be accepted.
        let again = invite(&app, &host, &guest.owner.email, &in_days(1)).await;
        assert_eq!(again["id"], sent["id"]);
        assert_eq!(again["expired"], json!(false));
        let r = accept(&app, &guest, &token).await;
        r.assert_status(200);
        assert_eq!(
            r.json["expired"],
            json!(false),
            "an accepted invitation never expires"
        );
        // An unknown token is not found.
        assert_detail(
            &accept(&app, &guest, "no-such-token").await,
            404,
            "NOT_FOUND",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_422_and_stores_nothing() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let stranger = new_org(&app, "stranger").await;
        let post = |body: Value| {
            let app = app.clone();
            let host = host.clone();
            async move { call(&app, Method::POST, "/v1/guest-invitations", &host.owner.token, &host.uuid, &host.uuid, Some(body)).await }
        };
        let r = post(json!({})).await;
        assert_eq!(locs(&r), BTreeSet::from(["body.email".to_string(), "body.expired_at".to_string()]), "{}", r.text);
        let r = post(json!({"email": "not-an-email", "expired_at": in_days(1)})).await;
        assert_eq!(locs(&r), BTreeSet::from(["body.email".to_string()]), "{}", r.text);
        let r = post(json!({"email": "a@example.com", "expired_at": "tomorrow"})).await;
        assert_eq!(r.status.as_u16(), 422, "{}", r.text);
        let r = post(json!({"email": "a@example.com", "expired_at": in_days(1), "parent_organization_id": "nope"})).await;
        assert_eq!(locs(&r), BTreeSet::from(["body.parent_organization_id".to_string()]), "{}", r.text);
        // Another tenant's organization, or one that does not exist: the same answer.
        for parent in [stranger.uuid.clone(), uuid::Uuid::new_v4().to_string()] {
            let r = post(json!({"email": "a@example.com", "expired_at": in_days(1), "parent_organization_id": parent})).await;
            assert_eq!(locs(&r), BTreeSet::from(["body.parent_organization_id".to_string()]), "{}", r.text);
            assert_eq!(r.json["detail"][0]["msg"], json!("must be the host organization or one below it"));
        }
        let r = send(app.http.post(app.url("/v1/guest-invitations"))
            .header("Authorization", format!("Bearer {}", host.owner.token))
            .header("content-type", "application/json")
            .body(json!({"email": "a@example.com", "expired_at": in_days(1)}).to_string())).await;
        assert_eq!(
            locs(&r),
            BTreeSet::from(["header.requester-organization-id".to_string(), "header.target-organization-id".to_string()]),
            "{}",
            r.text
        );
        let r = call(&app, Method::GET, "/v1/guest-connections?limit=0", &host.owner.token, &host.uuid, &host.uuid, None).await;
        assert_eq!(locs(&r), BTreeSet::from(["query.limit".to_string()]), "{}", r.text);
        let r = call(&app, Method::GET, "/v1/guest-invitations?limit=101", &host.owner.token, &host.uuid, &host.uuid, None).await;
        assert_eq!(locs(&r), BTreeSet::from(["query.limit".to_string()]), "{}", r.text);
        let list = call(&app, Method::GET, "/v1/guest-invitations", &host.owner.token, &host.uuid, &host.uuid, None).await;
        assert_eq!(list.json["total_items"], json!(0), "nothing stored: {}", list.text);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_invitation_is_a_guest_invitation() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let created = call(
            &app,
            Method::POST,
            "/v1/partners",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            Some(record("Guest Ltd", &guest.owner.email)),
        )
        .await;
        created.assert_status(201);
        let id = created.json["id"].as_str().unwrap().to_string();
        let r = call(
            &app,
            Method::POST,
            &format!("/v1/partners/{id}/invitation"),
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["invitation_status"], json!("invited"), "{}", r.text);
        let list = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(list.json["total_items"], json!(1), "{}", list.text);
        let inv = &list.json["items"][0];
        assert_eq!(inv["email"], json!(guest.owner.email));
        let days = (utc(&inv["expired_at"]) - chrono::Utc::now()).num_hours();
        assert!((13 * 24..=14 * 24).contains(&days), "open 14 days: {inv}");
        accept(&app, &guest, inv["invitation_token"].as_str().unwrap())
            .await
            .assert_status(200);
        let got = call(
            &app,
            Method::GET,
            &format!("/v1/partners/{id}"),
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(
            got.json["invitation_status"],
            json!("accepted"),
            "{}",
            got.text
        );
        assert_eq!(got.json["guest_organization_id"], json!(guest.uuid));
        // A guest invitation to a record's email marks it too.
        let other = call(
            &app,
            Method::POST,
            "/v1/partners",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            Some(record("Other", "other@example.com")),
        )
        .await;
        invite(&app, &host, "Other@Example.com", &in_days(2)).await;
        let got = call(
            &app,
            Method::GET,
            &format!("/v1/partners/{}", other.json["id"].as_str().unwrap()),
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(
            got.json["invitation_status"],
            json!("invited"),
            "{}",
            got.text
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_invite_accept_and_list() {
    use orgd::proto::v1 as pb;
    use orgd::proto::v1::guest_connection_service_client::GuestConnectionServiceClient;
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let mut svc = GuestConnectionServiceClient::new(app.channel().await);
        let expires = chrono::Utc::now() + chrono::Duration::days(1);
        let sent = svc
            .create_guest_invitation(bearer(
                pb::CreateGuestInvitationRequest {
                    requester_organization_id: host.uuid.clone(),
                    target_organization_id: host.uuid.clone(),
                    invitation: Some(pb::GuestInvitationInput {
                        email: guest.owner.email.clone(),
                        expired_at: Some(prost_types::Timestamp {
                            seconds: expires.timestamp(),
                            nanos: 0,
                        }),
                        parent_organization_id: None,
                    }),
                },
                &host.owner.token,
            ))
            .await
            .expect("create")
            .into_inner()
            .guest_invitation
            .unwrap();
        assert_eq!(sent.status(), pb::GuestInvitationStatus::Sent);
        let missing = svc
            .create_guest_invitation(bearer(
                pb::CreateGuestInvitationRequest {
                    requester_organization_id: host.uuid.clone(),
                    target_organization_id: host.uuid.clone(),
                    invitation: Some(pb::GuestInvitationInput::default()),
                },
                &host.owner.token,
            ))
            .await;
        assert_code(missing, tonic::Code::InvalidArgument);
        let accepted = svc
            .accept_guest_invitation(bearer(
                pb::AcceptGuestInvitationRequest {
                    requester_organization_id: guest.uuid.clone(),
                    target_organization_id: guest.uuid.clone(),
                    invitation_token: sent.invitation_token.clone(),
                },
                &guest.owner.token,
            ))
            .await
            .expect("accept")
            .into_inner()
            .guest_invitation
            .unwrap();
        assert_eq!(accepted.status(), pb::GuestInvitationStatus::Accepted);
        let hosts = svc
            .list_host_connections(bearer(
                pb::ListHostConnectionsRequest {
                    requester_organization_id: guest.uuid.clone(),
                    target_organization_id: guest.uuid.clone(),
                    statuses: vec![pb::ConnectionStatus::Connected as i32],
                    ..Default::default()
                },
                &guest.owner.token,
            ))
            .await
            .expect("hosts")
            .into_inner();
        assert_eq!(hosts.total_items, 1);
        assert_eq!(hosts.items[0].host_organization_id, host.uuid);
        let denied = svc
            .list_guest_connections(bearer(
                pb::ListGuestConnectionsRequest {
                    requester_organization_id: guest.uuid.clone(),
                    target_organization_id: host.uuid.clone(),
                    ..Default::default()
                },
                &guest.owner.token,
            ))
            .await;
        assert_code(denied, tonic::Code::PermissionDenied);
    })
    .await;
}
