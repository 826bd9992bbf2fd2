//! The invitation flow: an invited partner accepts and is marked accepted, invitations come
//! only from the directory's owner, and a re-invited partner is accepted through either
//! invitation.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_then_accept_marks_the_partner_accepted() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "inviter").await;
        let g = Org::create(&app, "invitee").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let p = ctx
            .create_ok(&body("Invitee GmbH", "customer", &g.owner.email))
            .await;
        let id = sid(&p);
        assert_eq!(p["invitation_status"], Value::Null);

        let r = ctx.invite(&id).await;
        r.assert_status(200);
        assert_partner_shape(&r.json);
        assert_eq!(r.json["id"], json!(id));
        assert_eq!(r.json["invitation_status"], json!("invited"));
        assert_eq!(r.json["guest_organization_id"], Value::Null);
        assert_eq!(r.json["company_name"], p["company_name"]);
        let got = ctx.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("invited"));

        // The invited user sees a giosg invitation from A.
        let list = giosg::call(
            &app,
            Method::GET,
            "/api/v5/incoming_invitations?page_size=100",
            &g.owner.token,
            None,
        )
        .await;
        list.assert_status(200);
        let results = list.json["results"].as_array().expect("results").clone();
        let found: Vec<&Value> = results
            .iter()
            .filter(|i| i["created_by_organization_id"] == json!(a.uuid))
            .collect();
        assert_eq!(found.len(), 1, "one invitation from A: {}", list.text);
        let inv = found[0].clone();
        assert_eq!(inv["status"], json!(0), "pending: {inv}");
        assert_eq!(
            inv["email"].as_str().map(str::to_lowercase),
            Some(g.owner.email.to_lowercase())
        );
        let key = inv["key"].as_str().expect("key").to_string();

        // Before acceptance, the accepted filter does not match it.
        let (items, _) = ctx
            .list_ok(&format!(
                "{BOTH}&invitation_statuses=accepted&limit=10&offset=0"
            ))
            .await;
        assert!(items.is_empty());

        giosg::accept(&app, &g.owner, &g, &key).await;

        let got = ctx.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("accepted"));
        assert_eq!(got.json["guest_organization_id"], json!(g.uuid));
        let (items, total) = ctx
            .list_ok(&format!(
                "{BOTH}&invitation_statuses=accepted&limit=10&offset=0"
            ))
            .await;
        assert_eq!(ids(&items), vec![id.clone()]);
        assert_eq!(total, 1);
        let (items, _) = ctx
            .list_ok(&format!(
                "{BOTH}&invitation_statuses=invited&limit=10&offset=0"
            ))
            .await;
        assert!(items.is_empty(), "no longer invited");

        // Inviting an accepted partner again: 409, nothing changes.
        assert_plain_error(&ctx.invite(&id).await, 409);
        let again = ctx.get(&id).await;
        assert_eq!(again.json["invitation_status"], json!("accepted"));
        assert_eq!(again.json["guest_organization_id"], json!(g.uuid));

        // The acceptance made A and G partners: G's owner may read A's directory.
        let (items, _) = Ctx::new(&app, &g.owner.token, &g.uuid, &a.uuid)
            .list_ok(&format!("{BOTH}&limit=10&offset=0"))
            .await;
        assert_eq!(ids(&items), vec![id]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_come_only_from_the_directory_owner() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "inv-req").await;
        let b = Org::create(&app, "inv-tgt").await;
        let g = Org::create(&app, "inv-guest").await;
        giosg::partner_up_through_owners(&app, &a, &b).await;
        let admin = member(&app, &a, "inv-admin", "admin").await;
        let b_own = Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid);
        let id = sid(&b_own
            .create_ok(&body("Guest Co", "customer", &g.owner.email))
            .await);
        // A's admin, connected to B, cannot invite from B (issue 13, H1).
        let w = Ctx::new(&app, &admin.token, &a.uuid, &b.uuid);
        assert_plain_error(&w.invite(&id).await, 403);
        let incoming_of_g = || async {
            let list = giosg::call(
                &app,
                Method::GET,
                "/api/v5/incoming_invitations?page_size=100",
                &g.owner.token,
                None,
            )
            .await;
            list.assert_status(200);
            list.json["results"].as_array().expect("results").clone()
        };
        assert!(incoming_of_g().await.is_empty(), "nothing reached G");

        // B's owner invites: the invitation comes from B.
        let r = b_own.invite(&id).await;
        r.assert_status(200);
        assert_eq!(r.json["invitation_status"], json!("invited"));
        let results = incoming_of_g().await;
        assert_eq!(results.len(), 1, "one invitation: {results:?}");
        assert_eq!(results[0]["created_by_organization_id"], json!(b.uuid));
        assert_eq!(results[0]["created_by_user_id"], json!(b.owner.uuid));
        let key = results[0]["key"].as_str().expect("key").to_string();
        giosg::accept(&app, &g.owner, &g, &key).await;

        let got = b_own.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("accepted"));
        assert_eq!(got.json["guest_organization_id"], json!(g.uuid));
        // The read through A shows the same.
        let got = w.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("accepted"));
        // B and G are now partners; A and G are not.
        Ctx::new(&app, &g.owner.token, &g.uuid, &b.uuid)
            .list_ok(&format!("{BOTH}&limit=10&offset=0"))
            .await;
        assert_plain_error(
            &Ctx::new(&app, &g.owner.token, &g.uuid, &a.uuid)
                .list(&format!("{BOTH}&limit=10&offset=0"))
                .await,
            403,
        );
        // Inviting again: 409.
        assert_plain_error(&b_own.invite(&id).await, 409);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinvited_partner_is_accepted_through_either_invitation() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "reinv").await;
        let g = Org::create(&app, "reinv-guest").await;
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let id = sid(&ctx
            .create_ok(&body("Twice Invited", "customer", &g.owner.email))
            .await);
        for _ in 0..2 {
            let r = ctx.invite(&id).await;
            r.assert_status(200);
            assert_eq!(r.json["invitation_status"], json!("invited"));
        }
        let list = giosg::call(
            &app,
            Method::GET,
            "/api/v5/incoming_invitations?page_size=100&ordering=created_at",
            &g.owner.token,
            None,
        )
        .await;
        list.assert_status(200);
        let results = list.json["results"].as_array().expect("results").clone();
        assert!(
            !results.is_empty(),
            "the invitations are visible: {}",
            list.text
        );
        // Accept the oldest one.
        let key = results[0]["key"].as_str().expect("key").to_string();
        giosg::accept(&app, &g.owner, &g, &key).await;
        let got = ctx.get(&id).await;
        got.assert_status(200);
        assert_eq!(
            got.json["invitation_status"],
            json!("accepted"),
            "accepting the first of two invitations: {}",
            got.text
        );
        assert_eq!(got.json["guest_organization_id"], json!(g.uuid));
    })
    .await;
}
