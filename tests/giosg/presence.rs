//! Presence: registered, refreshed and expired.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_registers_refreshes_and_expires() {
    for_each_backend(|app| async move {
        let a = Org::active(&app, "presence").await;
        let b = Org::active(&app, "presence-b").await;
        partner_up(&app, &a, &b).await;
        let m = member(&app, &a, "presence-member", "member").await;
        let client = format!("/api/v5/orgs/{}/users/{}/clients/tab-1", a.uuid, m.uuid);

        let r = call(
            &app,
            Method::PUT,
            &client,
            &m.token,
            Some(json!({"expires_in": 60})),
        )
        .await;
        r.assert_status(201);
        assert_eq!(r.json["id"], json!("tab-1"));
        assert_eq!(r.json["user_id"], json!(m.uuid));
        assert_eq!(r.json["expires_in"], json!(60));
        call(
            &app,
            Method::PUT,
            &client,
            &m.token,
            Some(json!({"expires_in": 60})),
        )
        .await
        .assert_status(200);
        let user = get(
            &app,
            &format!("/api/v5/orgs/{}/users/{}", a.uuid, m.uuid),
            &m.token,
        )
        .await;
        assert_eq!(user.json["is_present"], json!(true));
        assert_eq!(user.json["is_online"], json!(true));
        let org = get(&app, &format!("/api/v5/orgs/{}", a.uuid), &m.token).await;
        assert_eq!(org.json["is_present"], json!(true));
        // The partner sees it too.
        let partner = get(
            &app,
            &format!("/api/v5/orgs/{}/partners/{}", b.uuid, a.uuid),
            &b.owner.token,
        )
        .await;
        assert_eq!(partner.json["is_present"], json!(true));
        assert_eq!(partner.json["is_online"], json!(true));

        // Bad values; other users' clients need settings permission.
        assert_field_error(
            &call(
                &app,
                Method::PUT,
                &client,
                &m.token,
                Some(json!({"expires_in": 0})),
            )
            .await,
            "expires_in",
        );
        let other = format!("/api/v5/orgs/{}/users/{}/clients/x", a.uuid, a.owner.uuid);
        assert_detail(
            &call(
                &app,
                Method::PUT,
                &other,
                &m.token,
                Some(json!({"expires_in": 5})),
            )
            .await,
            403,
        );
        assert_detail(
            &call(
                &app,
                Method::PUT,
                &client,
                &b.owner.token,
                Some(json!({"expires_in": 5})),
            )
            .await,
            403,
        );
        assert_detail(
            &app.rest(
                Method::PUT,
                &client,
                Auth::None,
                Some(&json!({"expires_in": 5})),
            )
            .await,
            401,
        );
        let missing = format!(
            "/api/v5/orgs/{}/users/{}/clients/x",
            a.uuid,
            uuid::Uuid::new_v4()
        );
        assert_detail(
            &call(
                &app,
                Method::PUT,
                &missing,
                &a.owner.token,
                Some(json!({"expires_in": 5})),
            )
            .await,
            404,
        );
        call(
            &app,
            Method::PUT,
            &other,
            &a.owner.token,
            Some(json!({"expires_in": 60})),
        )
        .await
        .assert_status(201);

        // DELETE expires a client at once.
        call(&app, Method::DELETE, &other, &a.owner.token, None)
            .await
            .assert_status(204);
        assert_detail(
            &call(&app, Method::DELETE, &other, &a.owner.token, None).await,
            404,
        );

        // Replace the member's client by a 1-second one; it expires on its own.
        call(&app, Method::DELETE, &client, &m.token, None)
            .await
            .assert_status(204);
        call(
            &app,
            Method::PUT,
            &client,
            &m.token,
            Some(json!({"expires_in": 1})),
        )
        .await
        .assert_status(201);
        let path = format!("/api/v5/orgs/{}/users/{}", a.uuid, m.uuid);
        let mut expired = false;
        for _ in 0..100 {
            let u = get(&app, &path, &m.token).await;
            if u.json["is_present"] == json!(false) {
                assert_eq!(u.json["is_online"], json!(false));
                expired = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(expired, "presence expires without a refresh");
        assert_eq!(
            get(&app, &format!("/api/v5/orgs/{}", a.uuid), &m.token)
                .await
                .json["is_present"],
            json!(false)
        );

        // Internal services: presence for anyone, and the status other systems own.
        let service = app.service_token("chat").await;
        let mut presence = PresenceServiceClient::connect(app.endpoint())
            .await
            .unwrap();
        let reg = presence
            .register_user_client(bearer(
                pb::RegisterUserClientRequest {
                    organization_id: a.uuid.clone(),
                    user_id: m.uuid.clone(),
                    client_id: "svc".into(),
                    expires_in: 60,
                },
                &service,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(reg.created);
        let status = presence
            .set_user_status(bearer(
                pb::SetUserStatusRequest {
                    user: m.uuid.clone(),
                    current_chat_count: Some(3),
                    online_enabled: Some(false),
                    avatar_url: Some("https://cdn.example.com/a.png".into()),
                },
                &service,
            ))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert_eq!(status.current_chat_count, 3);
        let u = get(&app, &path, &m.token).await;
        assert_eq!(u.json["current_chat_count"], json!(3));
        assert_eq!(u.json["is_present"], json!(true));
        assert_eq!(
            u.json["is_online"],
            json!(false),
            "present but switched offline"
        );
        let partner = get(
            &app,
            &format!("/api/v5/orgs/{}/partners/{}", b.uuid, a.uuid),
            &b.owner.token,
        )
        .await;
        assert_eq!(partner.json["is_present"], json!(true));
        assert_eq!(partner.json["is_online"], json!(false), "no member online");
        assert_eq!(
            u.json["avatar"]["url"],
            json!("https://cdn.example.com/a.png")
        );
        assert_eq!(u.json["avatar"]["id"], u.json["avatar_id"]);
        assert_code(
            presence
                .set_user_status(bearer(
                    pb::SetUserStatusRequest {
                        user: m.uuid.clone(),
                        current_chat_count: Some(1),
                        ..Default::default()
                    },
                    &m.token,
                ))
                .await,
            tonic::Code::PermissionDenied,
        );
    })
    .await;
}
