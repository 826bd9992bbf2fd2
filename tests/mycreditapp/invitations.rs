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

        // A sent a guest invitation to the record's email.
        let inv = guest_invitation_to(&app, &a, &g.owner.email)
            .await
            .expect("one guest invitation from A");
        assert_eq!(inv["host_organization_id"], json!(a.uuid), "{inv}");
        let key = inv["invitation_token"].as_str().expect("token").to_string();

        // Before acceptance, the accepted filter does not match it.
        let (items, _) = ctx
            .list_ok(&format!(
                "{BOTH}&invitation_statuses=accepted&limit=10&offset=0"
            ))
            .await;
        assert!(items.is_empty());

        accept_guest(&app, &g, &key).await;

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

        // The acceptance made G A's guest: G's owner may read A's directory.
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
        partner_up(&app, &a, &b).await;
        let admin = member(&app, &a, "inv-admin", "admin").await;
        let b_own = Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid);
        let id = sid(&b_own
            .create_ok(&body("Guest Co", "customer", &g.owner.email))
            .await);
        // A's admin, connected to B, cannot invite from B (issue 13, H1).
        let w = Ctx::new(&app, &admin.token, &a.uuid, &b.uuid);
        assert_plain_error(&w.invite(&id).await, 403);
        for host in [&a, &b] {
            assert!(
                guest_invitation_to(&app, host, &g.owner.email)
                    .await
                    .is_none(),
                "nothing was sent to G"
            );
        }

        // B's owner invites: the invitation comes from B.
        let r = b_own.invite(&id).await;
        r.assert_status(200);
        assert_eq!(r.json["invitation_status"], json!("invited"));
        let inv = guest_invitation_to(&app, &b, &g.owner.email)
            .await
            .expect("one invitation from B");
        assert_eq!(inv["host_organization_id"], json!(b.uuid));
        accept_guest(&app, &g, inv["invitation_token"].as_str().unwrap()).await;

        let got = b_own.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("accepted"));
        assert_eq!(got.json["guest_organization_id"], json!(g.uuid));
        // The read through A shows the same.
        let got = w.get(&id).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], json!("accepted"));
        // G is now B's guest; A and G are not connected.
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
        // Inviting again sends the open guest invitation again.
        let inv = guest_invitation_to(&app, &a, &g.owner.email)
            .await
            .expect("the guest invitation");
        assert_ne!(
            inv["first_invitation_sent_at"], inv["last_invitation_sent_at"],
            "sent twice: {inv}"
        );
        accept_guest(&app, &g, inv["invitation_token"].as_str().unwrap()).await;
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
