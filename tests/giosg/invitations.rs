//! Invitations: cancel, reject, and the status codes of each.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_cancel_reject_and_their_codes() {
    for_each_backend(|app| async move {
        let a = Org::active(&app, "inv-a").await;
        let b = Org::active(&app, "inv-b").await;
        let c = Org::active(&app, "inv-c").await;

        // Cancel by the sender: 204, then gone (404); others cannot see it (404).
        let sent = invite(&app, &a, b.email(), None).await;
        let path = format!(
            "/api/v5/outgoing_invitations/{}",
            sent["id"].as_str().unwrap()
        );
        assert_detail(&get(&app, &path, &c.owner.token).await, 404);
        assert_detail(
            &call(&app, Method::DELETE, &path, &c.owner.token, None).await,
            404,
        );
        assert_detail(
            &app.rest(Method::DELETE, &path, Auth::None, None).await,
            401,
        );
        let del = call(&app, Method::DELETE, &path, &a.owner.token, None).await;
        del.assert_status(204);
        assert_detail(
            &call(&app, Method::DELETE, &path, &a.owner.token, None).await,
            404,
        );
        assert_eq!(
            get(&app, "/api/v5/incoming_invitations", &b.owner.token)
                .await
                .json["results"],
            json!([])
        );

        // Reject: status 2, no partnership; the sender sees it resolved and cannot cancel it.
        let sent = invite(&app, &a, b.email(), None).await;
        let id = sent["id"].as_str().unwrap();
        let key = key_of(&app, &b.owner.token, id).await;
        // Someone it was not sent to cannot see or answer it.
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/incoming_invitations/{key}"),
                &c.owner.token,
            )
            .await,
            404,
        );
        assert_detail(
            &call(
                &app,
                Method::POST,
                &format!("/api/v5/incoming_invitations/{key}/accept"),
                &c.owner.token,
                None,
            )
            .await,
            404,
        );
        let rejected = call(
            &app,
            Method::POST,
            &format!("/api/v5/incoming_invitations/{key}/reject"),
            &b.owner.token,
            None,
        )
        .await;
        rejected.assert_status(200);
        assert_eq!(rejected.json["status"], json!(2));
        assert_eq!(rejected.json["partnership_id"], Value::Null);
        let seen = get(
            &app,
            &format!("/api/v5/outgoing_invitations/{id}"),
            &a.owner.token,
        )
        .await;
        assert_eq!(seen.json["status"], json!(2));
        assert_eq!(seen.json["key"], Value::Null);
        assert_detail(
            &call(
                &app,
                Method::DELETE,
                &format!("/api/v5/outgoing_invitations/{id}"),
                &a.owner.token,
                None,
            )
            .await,
            403,
        );
        assert_eq!(
            get(
                &app,
                &format!("/api/v5/orgs/{}/partnerships", a.uuid),
                &a.owner.token
            )
            .await
            .json["results"],
            json!([])
        );

        // An invitation to a member's own email reaches that member; with two organizations
        // they must say which one answers.
        let person = app.user("inv-person").await;
        app.member_add(b.id, &person.email, "admin").await;
        app.member_add(c.id, &person.email, "admin").await;
        let sent = invite(&app, &a, &person.email, None).await;
        let key = key_of(&app, &person.token, sent["id"].as_str().unwrap()).await;
        // Sent to a person's email, it is that person's: the owners of their organizations
        // do not see it (issue 13, L4).
        for owner in [&b.owner, &c.owner] {
            let seen = get(
                &app,
                "/api/v5/incoming_invitations?page_size=100",
                &owner.token,
            )
            .await;
            assert!(
                seen.json["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .all(|i| i["id"] != sent["id"]),
                "{}",
                seen.text
            );
        }
        let accept = format!("/api/v5/incoming_invitations/{key}/accept");
        assert_field_error(
            &call(&app, Method::POST, &accept, &person.token, None).await,
            "organization_id",
        );
        let ok = call(
            &app,
            Method::POST,
            &format!("{accept}?organization_id={}", c.uuid),
            &person.token,
            None,
        )
        .await;
        ok.assert_status(200);
        assert_eq!(ok.json["resolved_by_organization_id"], json!(c.uuid));
        let list = get(
            &app,
            &format!("/api/v5/orgs/{}/partners", c.uuid),
            &c.owner.token,
        )
        .await;
        assert_eq!(ids(&list.json), vec![a.uuid.clone()]);

        // An inactive organization cannot answer.
        let sent = invite(&app, &a, b.email(), None).await;
        let key = key_of(&app, &b.owner.token, sent["id"].as_str().unwrap()).await;
        app.set_state(&b.id.to_string(), "inactive").await;
        let r = call(
            &app,
            Method::POST,
            &format!("/api/v5/incoming_invitations/{key}/accept"),
            &b.owner.token,
            None,
        )
        .await;
        assert_detail(&r, 403);
        // An organization cannot invite itself.
        assert_field_error(
            &call(
                &app,
                Method::POST,
                "/api/v5/outgoing_invitations",
                &a.owner.token,
                Some(json!({"email": a.email()})),
            )
            .await,
            "email",
        );
    })
    .await;
}
