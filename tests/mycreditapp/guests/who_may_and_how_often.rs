//! Who may invite and accept (consent on both sides), and concurrent invitations and accepts
//! leaving one row.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_invite_and_accept() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let guest = new_org(&app, "guest").await;
        let host_member = member(&app, &host, "hmember", "member").await;
        let host_admin = member(&app, &host, "hadmin", "admin").await;
        let guest_member = member(&app, &guest, "gmember", "member").await;
        let stranger = new_org(&app, "stranger").await;
        let body = json!({"email": "g@example.com", "expired_at": in_days(3)});
        // Settings permission in the host, Self only.
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &host_member.token,
            &host.uuid,
            &host.uuid,
            Some(body.clone()),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = call(
            &app,
            Method::GET,
            "/v1/guest-invitations",
            &host_member.token,
            &host.uuid,
            &host.uuid,
            None,
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &stranger.owner.token,
            &host.uuid,
            &host.uuid,
            Some(body.clone()),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &stranger.owner.token,
            &stranger.uuid,
            &host.uuid,
            Some(body.clone()),
        )
        .await;
        assert_detail(&r, 403, "PERMISSION_DENIED");
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
        assert_eq!(
            list.json["total_items"],
            json!(0),
            "nothing stored: {}",
            list.text
        );
        let r = call(
            &app,
            Method::POST,
            "/v1/guest-invitations",
            &host_admin.token,
            &host.uuid,
            &host.uuid,
            Some(body),
        )
        .await;
        r.assert_status(201);
        let token = r.json["invitation_token"].as_str().unwrap().to_string();
        let path = format!("/v1/guest-invitations/{token}/accept");

        // Accepting: settings permission in the accepting organization, Self only, never
        // the host itself.
        // (token, requester, target): a plain member of the guest, the guest towards the
        // host, the host itself, a stranger naming the guest.
        for (token, requester, target) in [
            (&guest_member.token, &guest.uuid, &guest.uuid),
            (&guest.owner.token, &guest.uuid, &host.uuid),
            (&host.owner.token, &host.uuid, &host.uuid),
            (&stranger.owner.token, &guest.uuid, &guest.uuid),
        ] {
            let r = call(&app, Method::POST, &path, token, requester, target, None).await;
            assert_detail(&r, 403, "PERMISSION_DENIED");
        }
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
        assert_eq!(
            list.json["items"][0]["status"],
            json!("sent"),
            "{}",
            list.text
        );
        // The guest's OAuth client (an organization token) may accept.
        let client = app
            .cli(&["client", "create", "--organization", &guest.id.to_string()])
            .await
            .json();
        let t = app
            .rest(
                Method::POST,
                "/v1/oauth2/token",
                Auth::None,
                Some(&json!({
                "client_id": client["client_id"], "client_secret": client["client_secret"]})),
            )
            .await;
        t.assert_status(200);
        let org_token = t.json["access_token"].as_str().unwrap().to_string();
        let r = call(
            &app,
            Method::POST,
            &path,
            &org_token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        r.assert_status(200);
        // Taken: another organization cannot accept it too.
        let r = call(
            &app,
            Method::POST,
            &path,
            &stranger.owner.token,
            &stranger.uuid,
            &stranger.uuid,
            None,
        )
        .await;
        assert_detail(&r, 409, "ALREADY_ACCEPTED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invitations_and_accepts_leave_one_row() {
    for_each_backend(|app| async move {
        let host = new_org(&app, "host").await;
        let mut sends = Vec::new();
        for _ in 0..12 {
            let (app, host) = (app.clone(), host.clone());
            sends.push(tokio::spawn(async move {
                call(
                    &app,
                    Method::POST,
                    "/v1/guest-invitations",
                    &host.owner.token,
                    &host.uuid,
                    &host.uuid,
                    Some(json!({"email": "same@example.com", "expired_at": in_days(2)})),
                )
                .await
            }));
        }
        let mut ids = BTreeSet::new();
        for s in sends {
            let r = s.await.unwrap();
            r.assert_status(201);
            ids.insert(r.json["id"].as_str().unwrap().to_string());
        }
        assert_eq!(ids.len(), 1, "one invitation: {ids:?}");
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
        let token = list.json["items"][0]["invitation_token"]
            .as_str()
            .unwrap()
            .to_string();

        // Six organizations accept at once, each twice: one of them wins, once.
        let mut guests = Vec::new();
        for i in 0..6 {
            guests.push(new_org(&app, &format!("guest{i}")).await);
        }
        let mut accepts = Vec::new();
        for g in guests.iter().chain(guests.iter()) {
            let (app, g, token) = (app.clone(), g.clone(), token.clone());
            accepts.push(tokio::spawn(async move {
                (g.uuid.clone(), accept(&app, &g, &token).await)
            }));
        }
        let mut winners = BTreeSet::new();
        for a in accepts {
            let (uuid, r) = a.await.unwrap();
            match r.status.as_u16() {
                200 => {
                    winners.insert(uuid);
                }
                409 => assert_detail(&r, 409, "ALREADY_ACCEPTED"),
                s => panic!("accept answered {s}: {}", r.text),
            }
        }
        assert_eq!(winners.len(), 1, "one guest: {winners:?}");
        let guests_list = call(
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
            guests_list.json["total_items"],
            json!(1),
            "{}",
            guests_list.text
        );
        assert_eq!(
            guests_list.json["items"][0]["guest_organization_id"],
            json!(winners.first().unwrap())
        );

        // Two invitations accepted by the same guest at once: still one connection.
        let guest = new_org(&app, "twice").await;
        let a = invite(&app, &host, "first@example.com", &in_days(2)).await;
        let b = invite(&app, &host, "second@example.com", &in_days(2)).await;
        let (ra, rb) = tokio::join!(
            accept(&app, &guest, a["invitation_token"].as_str().unwrap()),
            accept(&app, &guest, b["invitation_token"].as_str().unwrap())
        );
        ra.assert_status(200);
        rb.assert_status(200);
        let r = call(
            &app,
            Method::GET,
            "/v1/host-connections",
            &guest.owner.token,
            &guest.uuid,
            &guest.uuid,
            None,
        )
        .await;
        assert_eq!(r.json["total_items"], json!(1), "{}", r.text);
    })
    .await;
}
