//! Every status code each operation lists, in the order the published API checks them.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_code_in_the_published_order() {
    for_each_backend(|app| async move {
        let a = Org::active(&app, "codes-a").await;
        let b = Org::active(&app, "codes-b").await;
        partner_up(&app, &a, &b).await;
        let plain = member(&app, &a, "codes-member", "member").await;
        let admin = member(&app, &a, "codes-admin", "admin").await;
        let outsider = app.user("codes-outsider").await;
        let missing = uuid::Uuid::new_v4().to_string();

        let org_paths = [
            format!("/api/v5/orgs/{}", a.uuid),
            format!("/api/v5/orgs/{}/users", a.uuid),
            format!("/api/v5/orgs/{}/users/{}", a.uuid, a.owner.uuid),
            format!("/api/v5/orgs/{}/partnerships", a.uuid),
            format!("/api/v5/orgs/{}/partnerships/{}", a.uuid, b.uuid),
            format!("/api/v5/orgs/{}/partners", a.uuid),
            format!("/api/v5/orgs/{}/partners/{}", a.uuid, b.uuid),
            format!("/api/v5/orgs/{}/partners/{}/users", a.uuid, b.uuid),
            format!(
                "/api/v5/orgs/{}/partners/{}/users/{}",
                a.uuid, b.uuid, b.owner.uuid
            ),
        ];
        for path in &org_paths {
            // 401: no token, or an unknown one.
            assert_detail(&app.rest(Method::GET, path, Auth::None, None).await, 401);
            assert_detail(&get(&app, path, "nonsense").await, 401);
            // 403: not a member (whether or not the organization exists).
            assert_detail(&get(&app, path, &outsider.token).await, 403);
            // 200 for any member.
            get(&app, path, &plain.token).await.assert_status(200);
        }
        assert_detail(
            &get(&app, &format!("/api/v5/orgs/{missing}"), &outsider.token).await,
            403,
        );
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/orgs/{missing}/partnerships"),
                &plain.token,
            )
            .await,
            403,
        );

        // 404: unknown partner, invalid UUIDs anywhere in the path.
        for path in [
            format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
            format!("/api/v5/orgs/{}/partners/{missing}", a.uuid),
            format!("/api/v5/orgs/{}/partners/{missing}/users", a.uuid),
            format!(
                "/api/v5/orgs/{}/partners/{}/users/{missing}",
                a.uuid, b.uuid
            ),
            format!("/api/v5/orgs/{}/partnerships/nope", a.uuid),
            format!("/api/v5/orgs/{}/partners/nope/users", a.uuid),
            "/api/v5/orgs/not-a-uuid".to_string(),
            "/api/v5/orgs/not-a-uuid/partnerships".to_string(),
            format!("/api/v5/outgoing_invitations/{missing}"),
            "/api/v5/outgoing_invitations/nope".to_string(),
            "/api/v5/incoming_invitations/nope".to_string(),
        ] {
            assert_detail(&get(&app, &path, &a.owner.token).await, 404);
        }

        // Writes: 403 without settings permission (members), allowed for admins.
        let path = format!("/api/v5/orgs/{}/partnerships/{}", a.uuid, b.uuid);
        for method in [Method::PUT, Method::PATCH] {
            assert_detail(
                &call(
                    &app,
                    method.clone(),
                    &path,
                    &plain.token,
                    Some(json!({"display_name": "x"})),
                )
                .await,
                403,
            );
            assert_detail(
                &call(
                    &app,
                    method.clone(),
                    &path,
                    &outsider.token,
                    Some(json!({"display_name": "x"})),
                )
                .await,
                403,
            );
            assert_detail(
                &app.rest(
                    method.clone(),
                    &path,
                    Auth::None,
                    Some(&json!({"display_name": "x"})),
                )
                .await,
                401,
            );
            call(
                &app,
                method,
                &path,
                &admin.token,
                Some(json!({"display_name": "x"})),
            )
            .await
            .assert_status(200);
        }
        assert_detail(
            &call(&app, Method::DELETE, &path, &plain.token, None).await,
            403,
        );
        assert_detail(
            &call(&app, Method::DELETE, &path, &outsider.token, None).await,
            403,
        );
        assert_detail(
            &app.rest(Method::DELETE, &path, Auth::None, None).await,
            401,
        );
        assert_detail(
            &app.rest(
                Method::POST,
                "/api/v5/outgoing_invitations",
                Auth::None,
                Some(&json!({"email": "x@example.com"})),
            )
            .await,
            401,
        );
        assert_detail(
            &call(
                &app,
                Method::POST,
                "/api/v5/outgoing_invitations",
                &outsider.token,
                Some(json!({"email": "x@example.com"})),
            )
            .await,
            403,
        );
        for path in [
            "/api/v5/outgoing_invitations",
            "/api/v5/incoming_invitations",
            "/api/v5/incoming_invitations/somekey",
        ] {
            assert_detail(&app.rest(Method::GET, path, Auth::None, None).await, 401);
        }
        for path in [
            "/api/v5/incoming_invitations/somekey/accept",
            "/api/v5/incoming_invitations/somekey/reject",
        ] {
            assert_detail(&app.rest(Method::POST, path, Auth::None, None).await, 401);
            assert_detail(
                &call(&app, Method::POST, path, &a.owner.token, None).await,
                404,
            );
        }
        // Permission before existence: a member without settings gets 403 for a missing one.
        assert_detail(
            &call(
                &app,
                Method::DELETE,
                &format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
                &plain.token,
                None,
            )
            .await,
            403,
        );
        assert_detail(
            &call(
                &app,
                Method::PATCH,
                &format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
                &admin.token,
                Some(json!({})),
            )
            .await,
            404,
        );
        let invite_body = json!({"email": "someone@example.com"});
        assert_detail(
            &call(
                &app,
                Method::POST,
                "/api/v5/outgoing_invitations",
                &plain.token,
                Some(invite_body.clone()),
            )
            .await,
            403,
        );
        assert_field_error(
            &call(
                &app,
                Method::POST,
                "/api/v5/outgoing_invitations",
                &admin.token,
                Some(json!({"email": "not an email"})),
            )
            .await,
            "email",
        );
        let sent = call(
            &app,
            Method::POST,
            "/api/v5/outgoing_invitations",
            &admin.token,
            Some(invite_body.clone()),
        )
        .await;
        sent.assert_status(201);

        // Bad collection parameters: 400 with the field named; a cursor the server did not
        // issue names no page (404, as Django REST framework answers it).
        let list = format!("/api/v5/orgs/{}/partnerships", a.uuid);
        let garbage = get(&app, &format!("{list}?cursor=garbage"), &plain.token).await;
        garbage.assert_status(404);
        assert_eq!(garbage.json, json!({"detail": "Invalid cursor"}));
        assert_field_error(
            &get(&app, &format!("{list}?ordering=name"), &plain.token).await,
            "ordering",
        );
        assert_field_error(
            &get(&app, &format!("{list}?page_size=0"), &plain.token).await,
            "page_size",
        );
        assert_field_error(
            &get(&app, &format!("{list}?page_size=101"), &plain.token).await,
            "page_size",
        );
        get(
            &app,
            &format!("{list}?page_size=100&ordering=-created_at"),
            &plain.token,
        )
        .await
        .assert_status(200);

        // 403 no active subscription: after the membership check, before settings and 404.
        app.set_state(&a.id.to_string(), "inactive").await;
        for path in &org_paths {
            let r = get(&app, path, &plain.token).await;
            assert_detail(&r, 403);
            assert!(
                r.json["detail"].as_str().unwrap().contains("subscription"),
                "{}",
                r.text
            );
            assert_detail(&get(&app, path, &outsider.token).await, 403);
        }
        let r = get(
            &app,
            &format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
            &plain.token,
        )
        .await;
        assert!(
            r.json["detail"].as_str().unwrap().contains("subscription"),
            "{}",
            r.text
        );
        let r = call(
            &app,
            Method::POST,
            "/api/v5/outgoing_invitations",
            &admin.token,
            Some(invite_body),
        )
        .await;
        assert_detail(&r, 403);
        // Writes too: the subscription is checked before settings permission and existence.
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            for target in [
                &path,
                &format!("/api/v5/orgs/{}/partnerships/{missing}", a.uuid),
            ] {
                for token in [&admin.token, &plain.token] {
                    let r = call(
                        &app,
                        method.clone(),
                        target,
                        token,
                        Some(json!({"display_name": "y"})),
                    )
                    .await;
                    assert_detail(&r, 403);
                    assert!(
                        r.json["detail"].as_str().unwrap().contains("subscription"),
                        "{method} {target}: {}",
                        r.text
                    );
                }
            }
        }
        // Trial is an active subscription until it ends.
        app.set_state(&a.id.to_string(), "trial").await;
        get(&app, &org_paths[0], &plain.token)
            .await
            .assert_status(200);
    })
    .await;
}
