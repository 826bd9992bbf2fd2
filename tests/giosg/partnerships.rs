//! Partnerships: invite, accept, list on both sides, rename and remove over REST, and
//! concurrent accepts that leave exactly one partnership.

use super::*;

const PARTNER_KEYS: &[&str] = &["id", "name", "created_at", "is_present", "is_online"];

const PARTNERSHIP_KEYS: &[&str] = &[
    "partner_organization_id",
    "partner_organization",
    "organization_id",
    "organization",
    "display_name",
    "created_at",
];

const INVITATION_KEYS: &[&str] = &[
    "id",
    "key",
    "status",
    "email",
    "message",
    "partner_display_name",
    "created_at",
    "created_by_organization_id",
    "created_by_user_id",
    "resolved_at",
    "resolved_by_organization_id",
    "resolved_by_user_id",
    "partnership_id",
    "created_new_partnership",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_accept_list_rename_and_remove_over_rest() {
    for_each_backend(|app| async move {
        let a = Org::active(&app, "alpha").await;
        let b = Org::active(&app, "beta").await;

        // A invites B by B's organization email.
        let sent = invite(&app, &a, b.email(), Some("Our Beta")).await;
        assert_keys(&sent, INVITATION_KEYS);
        assert_eq!(sent["status"], json!(0));
        assert_eq!(sent["key"], Value::Null, "the sender never sees the key");
        assert_eq!(sent["email"], json!(b.email()));
        assert_eq!(sent["message"], json!("hello"));
        assert_eq!(sent["partner_display_name"], json!("Our Beta"));
        assert_eq!(sent["created_by_organization_id"], json!(a.uuid));
        assert_eq!(sent["created_by_user_id"], json!(a.owner.uuid));
        assert_eq!(sent["resolved_at"], Value::Null);
        assert_eq!(sent["partnership_id"], Value::Null);
        assert_eq!(sent["created_new_partnership"], Value::Null);
        let id = sent["id"].as_str().unwrap().to_string();

        // The sender lists and reads it; B's members see it as incoming, with its key.
        let out = get(&app, "/api/v5/outgoing_invitations", &a.owner.token).await;
        out.assert_status(200);
        assert_eq!(ids(&out.json), vec![id.clone()]);
        assert_eq!(out.json["next"], Value::Null);
        assert_eq!(out.json["previous"], Value::Null);
        get(
            &app,
            &format!("/api/v5/outgoing_invitations/{id}"),
            &a.owner.token,
        )
        .await
        .assert_status(200);
        let b_member = member(&app, &b, "beta-member", "member").await;
        let key = key_of(&app, &b.owner.token, &id).await;
        // Sent to B's email, it is for B's admins and owners: a plain member does not see it.
        assert_eq!(
            get(&app, "/api/v5/incoming_invitations", &b_member.token)
                .await
                .json["results"],
            json!([]),
            "a plain member sees no invitation to the organization's email"
        );
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/incoming_invitations/{key}"),
                &b_member.token,
            )
            .await,
            404,
        );
        let incoming = get(
            &app,
            &format!("/api/v5/incoming_invitations/{key}"),
            &b.owner.token,
        )
        .await;
        incoming.assert_status(200);
        assert_eq!(incoming.json["key"], json!(key));
        assert_eq!(
            get(&app, "/api/v5/incoming_invitations", &a.owner.token)
                .await
                .json["results"],
            json!([]),
            "the sender has no incoming invitation"
        );

        // A plain member may not answer (it is not theirs: 404); the owner accepts with B's
        // own display name.
        let accept = format!("/api/v5/incoming_invitations/{key}/accept");
        assert_detail(
            &call(
                &app,
                Method::POST,
                &accept,
                &b_member.token,
                Some(json!({})),
            )
            .await,
            404,
        );
        let accepted = call(
            &app,
            Method::POST,
            &accept,
            &b.owner.token,
            Some(json!({"display_name": "Our Alpha"})),
        )
        .await;
        accepted.assert_status(200);
        assert_keys(&accepted.json, INVITATION_KEYS);
        assert_eq!(accepted.json["status"], json!(1));
        assert_eq!(accepted.json["created_new_partnership"], json!(true));
        assert_eq!(accepted.json["resolved_by_organization_id"], json!(b.uuid));
        assert_eq!(accepted.json["resolved_by_user_id"], json!(b.owner.uuid));
        utc(&accepted.json["resolved_at"]);
        let partnership_id = accepted.json["partnership_id"]
            .as_str()
            .expect("partnership_id");
        assert!(uuid::Uuid::parse_str(partnership_id).is_ok());
        // Answered once, it stays answered.
        assert_detail(
            &call(&app, Method::POST, &accept, &b.owner.token, Some(json!({}))).await,
            403,
        );
        assert_detail(
            &call(
                &app,
                Method::POST,
                &format!("/api/v5/incoming_invitations/{key}/reject"),
                &b.owner.token,
                None,
            )
            .await,
            403,
        );

        // Both sides list the partnership, each with its own display name.
        let list_a = get(
            &app,
            &format!("/api/v5/orgs/{}/partnerships", a.uuid),
            &a.owner.token,
        )
        .await;
        list_a.assert_status(200);
        assert_keys(&list_a.json, &["next", "previous", "results"]);
        let pa = &list_a.json["results"][0];
        assert_keys(pa, PARTNERSHIP_KEYS);
        assert_keys(&pa["partner_organization"], ORG_KEYS);
        assert_keys(&pa["organization"], ORG_KEYS);
        assert_eq!(pa["partner_organization_id"], json!(b.uuid));
        assert_eq!(pa["partner_organization"]["id"], json!(b.uuid));
        assert_eq!(pa["partner_organization"]["email"], json!(b.email()));
        assert_eq!(pa["organization_id"], json!(a.uuid));
        assert_eq!(pa["organization"]["id"], json!(a.uuid));
        assert_eq!(pa["display_name"], json!("Our Beta"));
        utc(&pa["created_at"]);
        let pb_ = get(
            &app,
            &format!("/api/v5/orgs/{}/partnerships/{}", b.uuid, a.uuid),
            &b_member.token,
        )
        .await;
        pb_.assert_status(200);
        assert_eq!(pb_.json["display_name"], json!("Our Alpha"));
        assert_eq!(pb_.json["partner_organization_id"], json!(a.uuid));

        // Rename A's side (PUT), B's side is unchanged; PATCH without the field changes
        // nothing; null shows the partner's own name again.
        let path_a = format!("/api/v5/orgs/{}/partnerships/{}", a.uuid, b.uuid);
        let put = call(
            &app,
            Method::PUT,
            &path_a,
            &a.owner.token,
            Some(json!({"display_name": "Beta GmbH"})),
        )
        .await;
        put.assert_status(200);
        assert_eq!(put.json["display_name"], json!("Beta GmbH"));
        let patch = call(
            &app,
            Method::PATCH,
            &path_a,
            &a.owner.token,
            Some(json!({})),
        )
        .await;
        patch.assert_status(200);
        assert_eq!(patch.json["display_name"], json!("Beta GmbH"));
        let path_b = format!("/api/v5/orgs/{}/partnerships/{}", b.uuid, a.uuid);
        assert_eq!(
            get(&app, &path_b, &b.owner.token).await.json["display_name"],
            json!("Our Alpha")
        );
        assert_field_error(
            &call(&app, Method::PUT, &path_a, &a.owner.token, Some(json!({}))).await,
            "display_name",
        );
        assert_field_error(
            &call(
                &app,
                Method::PUT,
                &path_a,
                &a.owner.token,
                Some(json!({"display_name": 5})),
            )
            .await,
            "display_name",
        );
        assert_field_error(
            &call(
                &app,
                Method::PATCH,
                &path_a,
                &a.owner.token,
                Some(json!({"display_name": "  "})),
            )
            .await,
            "display_name",
        );
        let bad = app
            .rest_raw(
                Method::PUT,
                &path_a,
                Auth::Token(&a.owner.token),
                "{not json",
            )
            .await;
        bad.assert_status(400);
        let cleared = call(
            &app,
            Method::PATCH,
            &path_a,
            &a.owner.token,
            Some(json!({"display_name": null})),
        )
        .await;
        cleared.assert_status(200);
        assert_eq!(cleared.json["display_name"], Value::Null);
        let put_null = call(
            &app,
            Method::PUT,
            &path_a,
            &a.owner.token,
            Some(json!({"display_name": null})),
        )
        .await;
        put_null.assert_status(200);
        assert_eq!(put_null.json["display_name"], Value::Null);
        assert_eq!(
            get(&app, &path_a, &a.owner.token).await.json["display_name"],
            Value::Null
        );

        // Partners and their users.
        let partners = get(
            &app,
            &format!("/api/v5/orgs/{}/partners", a.uuid),
            &a.owner.token,
        )
        .await;
        partners.assert_status(200);
        assert_eq!(ids(&partners.json), vec![b.uuid.clone()]);
        assert_keys(&partners.json["results"][0], PARTNER_KEYS);
        let partner = get(
            &app,
            &format!("/api/v5/orgs/{}/partners/{}", a.uuid, b.uuid),
            &a.owner.token,
        )
        .await;
        partner.assert_status(200);
        assert_eq!(partner.json["id"], json!(b.uuid));
        assert_eq!(partner.json["is_present"], json!(false));
        let users = get(
            &app,
            &format!("/api/v5/orgs/{}/partners/{}/users", a.uuid, b.uuid),
            &a.owner.token,
        )
        .await;
        users.assert_status(200);
        let mut got = ids(&users.json);
        got.sort();
        let mut want = vec![b.owner.uuid.clone(), b_member.uuid.clone()];
        want.sort();
        assert_eq!(got, want);
        let user = get(
            &app,
            &format!(
                "/api/v5/orgs/{}/partners/{}/users/{}",
                a.uuid, b.uuid, b_member.uuid
            ),
            &a.owner.token,
        )
        .await;
        user.assert_status(200);
        assert_keys(&user.json, USER_KEYS);
        assert_eq!(user.json["email"], json!(b_member.email));
        assert_eq!(user.json["full_name"], json!("beta-member"));
        assert_eq!(user.json["current_chat_count"], json!(0));
        assert_eq!(user.json["avatar"], Value::Null);
        assert_eq!(user.json["avatar_id"], Value::Null);
        // A's own user is no partner user of B.
        assert_detail(
            &get(
                &app,
                &format!(
                    "/api/v5/orgs/{}/partners/{}/users/{}",
                    a.uuid, b.uuid, a.owner.uuid
                ),
                &a.owner.token,
            )
            .await,
            404,
        );

        // Accepting another invitation when already partners creates nothing new.
        let again = partner_up(&app, &b, &a).await;
        assert_eq!(again["created_new_partnership"], json!(false));
        assert_eq!(again["partnership_id"], json!(partnership_id));

        // Removing it removes both sides.
        let del = call(&app, Method::DELETE, &path_a, &a.owner.token, None).await;
        del.assert_status(204);
        assert!(del.text.is_empty(), "204 has no body: {}", del.text);
        assert_detail(&get(&app, &path_a, &a.owner.token).await, 404);
        assert_detail(&get(&app, &path_b, &b.owner.token).await, 404);
        assert_eq!(
            get(
                &app,
                &format!("/api/v5/orgs/{}/partnerships", b.uuid),
                &b.owner.token
            )
            .await
            .json["results"],
            json!([])
        );
        assert_detail(
            &get(
                &app,
                &format!("/api/v5/orgs/{}/partners/{}", a.uuid, b.uuid),
                &a.owner.token,
            )
            .await,
            404,
        );
        assert_detail(
            &call(&app, Method::DELETE, &path_a, &a.owner.token, None).await,
            404,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_accepts_leave_exactly_one_partnership() {
    for_each_backend(|app| async move {
        // One invitation accepted many times at once.
        let a = Org::active(&app, "race-a").await;
        let b = Org::active(&app, "race-b").await;
        let sent = invite(&app, &a, b.email(), None).await;
        let key = key_of(&app, &b.owner.token, sent["id"].as_str().unwrap()).await;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (app, key, token) = (app.clone(), key.clone(), b.owner.token.clone());
            set.spawn(async move {
                call(
                    &app,
                    Method::POST,
                    &format!("/api/v5/incoming_invitations/{key}/accept"),
                    &token,
                    None,
                )
                .await
                .status
                .as_u16()
            });
        }
        let mut codes = Vec::new();
        while let Some(code) = set.join_next().await {
            codes.push(code.unwrap());
        }
        codes.sort_unstable();
        assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
        assert!(codes.iter().all(|c| *c == 200 || *c == 403), "{codes:?}");
        for (org, partner) in [(&a, &b), (&b, &a)] {
            let list = get(
                &app,
                &format!("/api/v5/orgs/{}/partnerships", org.uuid),
                &org.owner.token,
            )
            .await;
            assert_eq!(ids(&list.json), vec![partner.uuid.clone()]);
        }

        // Two organizations accepting each other's invitation at the same moment.
        let c = Org::active(&app, "race-c").await;
        let d = Org::active(&app, "race-d").await;
        let to_d = invite(&app, &c, d.email(), None).await;
        let to_c = invite(&app, &d, c.email(), None).await;
        let key_d = key_of(&app, &d.owner.token, to_d["id"].as_str().unwrap()).await;
        let key_c = key_of(&app, &c.owner.token, to_c["id"].as_str().unwrap()).await;
        let mut set = tokio::task::JoinSet::new();
        for (key, token) in [
            (key_d, d.owner.token.clone()),
            (key_c, c.owner.token.clone()),
        ] {
            let app = app.clone();
            set.spawn(async move {
                call(
                    &app,
                    Method::POST,
                    &format!("/api/v5/incoming_invitations/{key}/accept"),
                    &token,
                    None,
                )
                .await
            });
        }
        let mut answers = Vec::new();
        while let Some(r) = set.join_next().await {
            let r = r.unwrap();
            r.assert_status(200);
            answers.push(r.json);
        }
        let created: Vec<bool> = answers
            .iter()
            .map(|a| a["created_new_partnership"].as_bool().unwrap())
            .collect();
        assert_eq!(
            created.iter().filter(|c| **c).count(),
            1,
            "exactly one created it: {answers:?}"
        );
        assert_eq!(answers[0]["partnership_id"], answers[1]["partnership_id"]);
        for (org, partner) in [(&c, &d), (&d, &c)] {
            let list = get(
                &app,
                &format!("/api/v5/orgs/{}/partnerships", org.uuid),
                &org.owner.token,
            )
            .await;
            assert_eq!(ids(&list.json), vec![partner.uuid.clone()]);
        }
    })
    .await;
}
