//! Host/guest connections: accepting connects, the connection is what the Requester/Target
//! headers check, archiving disconnects, and inviting an archived guest again.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_connects_and_the_connection_is_what_the_headers_check() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        call(
            &app,
            Method::POST,
            "/v1/partners",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            Some(record("Host's customer", "c@host.example")),
        )
        .await
        .assert_status(201);
        call(
            &app,
            Method::POST,
            "/v1/partners",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            Some(record("Guest's customer", "c@guest.example")),
        )
        .await
        .assert_status(201);

        // A giosg partnership is no host/guest connection.
        let sent = app
            .rest(
                Method::POST,
                &format!("/api/v5/outgoing_invitations?organization_id={}", host.uuid),
                Auth::Token(&host.owner.token),
                Some(&json!({"email": guest.owner.email})),
            )
            .await;
        sent.assert_status(201);
        let incoming = app
            .rest(
                Method::GET,
                "/api/v5/incoming_invitations?page_size=100",
                Auth::Token(&guest.owner.token),
                None,
            )
            .await;
        let key = incoming.json["results"][0]["key"]
            .as_str()
            .expect("key")
            .to_string();
        app.rest(
            Method::POST,
            &format!(
                "/api/v5/incoming_invitations/{key}/accept?organization_id={}",
                guest.uuid
            ),
            Auth::Token(&guest.owner.token),
            Some(&json!({})),
        )
        .await
        .assert_status(200);
        assert_detail(
            &partners(&app, &guest.owner, &guest, &host).await,
            403,
            "PERMISSION_DENIED",
        );
        assert_detail(
            &partners(&app, &host.owner, &host, &guest).await,
            403,
            "PERMISSION_DENIED",
        );

        let accepted = connect(&app, &host, &guest).await;
        assert_invitation_shape(&accepted);
        assert_eq!(accepted["status"], json!("accepted"));
        assert!(accepted["accepted_at"].is_string(), "{accepted}");
        // Accepting again for the same guest answers the same.
        let token = accepted["invitation_token"].as_str().unwrap();
        let again = accept(&app, &guest, token).await;
        again.assert_status(200);
        assert_eq!(again.json["accepted_at"], accepted["accepted_at"]);

        // Guest to its host, host to its guest: reads; the Self-only writes stay refused.
        let r = partners(&app, &guest.owner, &guest, &host).await;
        r.assert_status(200);
        assert_eq!(r.json["items"][0]["company_name"], json!("Host's customer"));
        let r = partners(&app, &host.owner, &host, &guest).await;
        r.assert_status(200);
        assert_eq!(
            r.json["items"][0]["company_name"],
            json!("Guest's customer")
        );
        for (who, requester, target) in [(&guest, &guest, &host), (&host, &host, &guest)] {
            let r = call(
                &app,
                Method::POST,
                "/v1/partners",
                &who.owner.token,
                &requester.uuid,
                &target.uuid,
                Some(record("Planted", "p@x.example")),
            )
            .await;
            assert_detail(&r, 403, "PERMISSION_DENIED");
        }
        // A third organization is connected to neither.
        let other = new_org(&app, "other").await;
        assert_detail(
            &partners(&app, &other.owner, &other, &host).await,
            403,
            "PERMISSION_DENIED",
        );

        // Each side lists the connection.
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
        guests.assert_status(200);
        assert_eq!(guests.json["total_items"], json!(1), "{}", guests.text);
        let c = &guests.json["items"][0];
        assert_eq!(c["host_organization_id"], json!(host.uuid));
        assert_eq!(c["guest_organization_id"], json!(guest.uuid));
        assert_eq!(c["guest_organization_name"], json!(guest.name));
        assert_eq!(c["host_organization_name"], json!(host.name));
        assert_eq!(c["status"], json!("connected"));
        assert_eq!(c["archived"], json!(false));
        assert_eq!(c["invitation_id"], accepted["id"]);
        let hosts = call(
            &app,
            Method::GET,
            "/v1/host-connections?statuses=connected",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        hosts.assert_status(200);
        assert_eq!(
            hosts.json["items"][0]["host_organization_id"],
            json!(host.uuid),
            "{}",
            hosts.text
        );
        // The host has no hosts, the guest no guests.
        let none = call(
            &app,
            Method::GET,
            "/v1/host-connections",
            &host.owner.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_eq!(none.json["total_items"], json!(0), "{}", none.text);
        let none = call(
            &app,
            Method::GET,
            "/v1/guest-connections",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        assert_eq!(none.json["total_items"], json!(0), "{}", none.text);
        // Lists are Self only.
        let r = call(
            &app,
            Method::GET,
            "/v1/guest-connections",
            &guest.owner.token,
            &guest.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archiving_a_guest_disconnects_it() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let host_member = member(&app, &host, "hmember", "member").await;
        let accepted = connect(&app, &host, &guest).await;
        let path = format!("/v1/guest-connections/{}", guest.uuid);
        let patch =
            |token: String, requester: String, target: String, path: String, body: Value| {
                let app = app.clone();
                async move {
                    call(
                        &app,
                        Method::PATCH,
                        &path,
                        &token,
                        &requester,
                        &target,
                        Some(body),
                    )
                    .await
                }
            };
        // Host only (Target = the guest), settings permission; the path names the Target.
        let r = patch(
            host_member.token.clone(),
            host.uuid.clone(),
            guest.uuid.clone(),
            path.clone(),
            json!({"archived": true}),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = patch(
            guest.owner.token.clone(),
            guest.uuid.clone(),
            host.uuid.clone(),
            format!("/v1/guest-connections/{}", host.uuid),
            json!({"archived": true}),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            host.uuid.clone(),
            path.clone(),
            json!({"archived": true}),
        )
        .await;
        // The path names another organization than the Target.
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            guest.uuid.clone(),
            path.clone(),
            json!({}),
        )
        .await;
        assert_eq!(
            locs(&r),
            BTreeSet::from(["body.archived".to_string()]),
            "{}",
            r.text
        );

        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            guest.uuid.clone(),
            path.clone(),
            json!({"archived": true}),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["status"], json!("disconnected"), "{}", r.text);
        assert_eq!(r.json["archived"], json!(true));
        assert!(r.json["archived_at"].is_string());
        assert_detail(
            &partners(&app, &guest.owner, &guest, &host).await,
            403,
            "PERMISSION_DENIED",
        );
        assert_detail(
            &partners(&app, &host.owner, &host, &guest).await,
            403,
            "PERMISSION_DENIED",
        );
        let hosts = |statuses: &'static str| {
            let app = app.clone();
            let guest = guest.clone();
            async move {
                let r = call(
                    &app,
                    Method::GET,
                    &format!("/v1/host-connections{statuses}"),
                    &guest.owner.token,
                    &guest.uuid,
                    &guest.uuid,
                    None,
                )
                .await;
                r.assert_status(200);
                r.json["total_items"].as_i64().unwrap()
            }
        };
        assert_eq!(hosts("?statuses=connected").await, 0);
        assert_eq!(hosts("?statuses=disconnected").await, 1);
        assert_eq!(hosts("?statuses=connected&statuses=disconnected").await, 1);
        assert_eq!(hosts("").await, 1);
        let r = call(
            &app,
            Method::GET,
            "/v1/host-connections?statuses=pending",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        assert_eq!(
            locs(&r),
            BTreeSet::from(["query.statuses.0".to_string()]),
            "{}",
            r.text
        );
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
        assert_eq!(list.json["items"][0]["id"], accepted["id"]);
        assert_eq!(
            list.json["items"][0]["archived"],
            json!(true),
            "the invitation shows it: {}",
            list.text
        );

        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            guest.uuid.clone(),
            path.clone(),
            json!({"archived": false}),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["status"], json!("connected"));
        assert_eq!(r.json["archived_at"], Value::Null);
        partners(&app, &guest.owner, &guest, &host)
            .await
            .assert_status(200);
        // No connection with a third organization to change.
        let other = new_org(&app, "other").await;
        let r = patch(
            host.owner.token.clone(),
            host.uuid.clone(),
            other.uuid.clone(),
            format!("/v1/guest-connections/{}", other.uuid),
            json!({"archived": true}),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
    })
    .await;
}

/// A host that archived its guest and invites it again: the new invitation is the one the
/// connection mirrors from then on (archiving again shows on it, not on the old one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_invited_again_after_archiving_is_mirrored_by_the_new_invitation() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "rehost").await;
        let guest = new_org(&app, "reguest").await;
        let path = format!("/v1/guest-connections/{}", guest.uuid);
        let archive = |archived: bool| {
            let (app, host, guest, path) = (app.clone(), host.clone(), guest.clone(), path.clone());
            async move {
                let r = call(
                    &app,
                    Method::PATCH,
                    &path,
                    &host.owner.token,
                    &host.uuid,
                    &guest.uuid,
                    Some(json!({"archived": archived})),
                )
                .await;
                r.assert_status(200);
                r.json
            }
        };
        let invitations = || {
            let (app, host) = (app.clone(), host.clone());
            async move {
                let r = call(
                    &app,
                    Method::GET,
                    "/v1/guest-invitations",
                    &host.owner.token,
                    &host.uuid,
                    &host.uuid,
                    None,
                )
                .await;
                r.assert_status(200);
                r.json["items"].as_array().expect("items").clone()
            }
        };
        let first = connect(&app, &host, &guest).await;
        assert_eq!(archive(true).await["status"], json!("disconnected"));

        let again = connect(&app, &host, &guest).await;
        assert_ne!(again["id"], first["id"], "a new invitation");
        let list = invitations().await;
        assert_eq!(list[0]["id"], again["id"], "newest first: {list:?}");
        assert_eq!(list[0]["archived"], json!(false), "{list:?}");
        assert_eq!(
            list[1]["archived"],
            json!(true),
            "the old one stays archived"
        );

        assert_eq!(archive(true).await["status"], json!("disconnected"));
        let list = invitations().await;
        assert_eq!(list[0]["id"], again["id"]);
        assert_eq!(
            list[0]["archived"],
            json!(true),
            "archiving shows on the invitation that made the connection now: {list:?}"
        );
    })
    .await;
}
