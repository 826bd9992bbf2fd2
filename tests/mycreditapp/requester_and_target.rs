//! Requester and target across organizations: members write their own directory, organizations
//! connected as host and guest read each other's and never write, and archiving the guest
//! connection revokes access.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_directory_is_writable_by_any_member_and_invites_need_settings_permission() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "own").await;
        for role in ["member", "admin", "owner"] {
            let u = member(&app, &a, role, role).await;
            let ctx = Ctx::new(&app, &u.token, &a.uuid, &a.uuid);
            let p = ctx
                .create_ok(&body(
                    &format!("{role} Co"),
                    "customer",
                    &format!("{role}@example.com"),
                ))
                .await;
            let id = sid(&p);
            ctx.get(&id).await.assert_status(200);
            let r = ctx.patch(&id, &json!({"city": "Essen"})).await;
            r.assert_status(200);
            assert_eq!(r.json["city"], json!("Essen"));
            // An invitation comes from the organization: settings permission (issue 13, H2).
            let r = ctx.invite(&id).await;
            if role == "member" {
                assert_plain_error(&r, 403);
            } else {
                r.assert_status(200);
                assert_eq!(r.json["invitation_status"], json!("invited"));
            }
            let (items, _) = ctx
                .list_ok(&format!("{BOTH}&partner_ids={id}&limit=10&offset=0"))
                .await;
            assert_eq!(ids(&items), vec![id.clone()]);
            ctx.delete(&id).await.assert_status(204);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_organizations_read_each_other_and_never_write() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "requester").await;
        let b = Org::create(&app, "connected").await;
        let c = Org::create(&app, "unconnected").await;
        partner_up(&app, &a, &b).await;
        let a_member = member(&app, &a, "amember", "member").await;
        let a_admin = member(&app, &a, "aadmin", "admin").await;

        // B's own directory, written by B's owner.
        let b_own = Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid);
        let b_partner = b_own
            .create_ok(&body("B Customer", "customer", "bc@example.com"))
            .await;
        let b_id = sid(&b_partner);
        // C's own directory.
        let c_own = Ctx::new(&app, &c.owner.token, &c.uuid, &c.uuid);
        let c_id = sid(&c_own
            .create_ok(&body("C Customer", "customer", "cc@example.com"))
            .await);
        // A's own directory.
        let a_own = Ctx::new(&app, &a.owner.token, &a.uuid, &a.uuid);
        let a_id = sid(&a_own
            .create_ok(&body("A Customer", "customer", "ac@example.com"))
            .await);

        let list_q = format!("{BOTH}&limit=10&offset=0");

        // Read a connected target: every member of the requester.
        for u in [&a_member, &a_admin, &a.owner] {
            let ctx = Ctx::new(&app, &u.token, &a.uuid, &b.uuid);
            let (items, total) = ctx.list_ok(&list_q).await;
            assert_eq!(
                ids(&items),
                vec![b_id.clone()],
                "A's members read B's directory"
            );
            assert_eq!(total, 1);
            let got = ctx.get(&b_id).await;
            got.assert_status(200);
            assert_eq!(got.json, b_partner);
            // A's partner is not in B's directory.
            assert_plain_error(&ctx.get(&a_id).await, 404);
        }
        // The connection is symmetric: B reads A.
        let (items, _) = Ctx::new(&app, &b.owner.token, &b.uuid, &a.uuid)
            .list_ok(&list_q)
            .await;
        assert_eq!(ids(&items), vec![a_id.clone()]);

        // Writes on a connected target as a plain member: 403, nothing changes.
        let m = Ctx::new(&app, &a_member.token, &a.uuid, &b.uuid);
        assert_plain_error(
            &m.create(&body("Nope", "customer", "n@example.com")).await,
            403,
        );
        assert_plain_error(&m.patch(&b_id, &json!({"city": "Nope"})).await, 403);
        assert_plain_error(&m.delete(&b_id).await, 403);
        assert_plain_error(&m.invite(&b_id).await, 403);
        let got = b_own.get(&b_id).await;
        got.assert_status(200);
        assert_eq!(got.json, b_partner, "the member's writes changed nothing");
        assert_eq!(b_own.list_ok(&list_q).await.1, 1);

        // Not even as admin or owner of the requester: the published matrix has create
        // "Self ✓, Host ✗, Guest ✗", and acting as B needs B's consent (issue 13, H1).
        for u in [&a_admin, &a.owner] {
            let w = Ctx::new(&app, &u.token, &a.uuid, &b.uuid);
            assert_plain_error(
                &w.create(&body("Written by A", "supplier", "wa@example.com"))
                    .await,
                403,
            );
            assert_plain_error(&w.patch(&b_id, &json!({"sales_amount": 5})).await, 403);
            assert_plain_error(&w.invite(&b_id).await, 403);
            assert_plain_error(&w.delete(&b_id).await, 403);
        }
        let got = b_own.get(&b_id).await;
        got.assert_status(200);
        assert_eq!(got.json, b_partner, "A's writes changed nothing");
        assert_eq!(b_own.list_ok(&list_q).await.1, 1);

        // An unconnected target: 403 even for A's owner, for reads and writes.
        let u = Ctx::new(&app, &a.owner.token, &a.uuid, &c.uuid);
        assert_plain_error(&u.list(&list_q).await, 403);
        assert_plain_error(&u.get(&c_id).await, 403);
        assert_plain_error(
            &u.create(&body("X", "customer", "x@example.com")).await,
            403,
        );
        assert_plain_error(&u.patch(&c_id, &json!({"city": "X"})).await, 403);
        assert_plain_error(&u.delete(&c_id).await, 403);
        assert_plain_error(&u.invite(&c_id).await, 403);
        // Through one's own directory another organization's partner is not found.
        assert_plain_error(&a_own.get(&c_id).await, 404);
        assert_plain_error(&a_own.get(&b_id).await, 404);
        assert_plain_error(&a_own.patch(&c_id, &json!({"city": "X"})).await, 404);
        assert_plain_error(&a_own.delete(&c_id).await, 404);
        c_own.get(&c_id).await.assert_status(200);

        // Not a member of the requester: 403, even naming a connected target.
        assert_plain_error(
            &Ctx::new(&app, &c.owner.token, &a.uuid, &a.uuid)
                .list(&list_q)
                .await,
            403,
        );
        assert_plain_error(
            &Ctx::new(&app, &c.owner.token, &a.uuid, &b.uuid)
                .list(&list_q)
                .await,
            403,
        );
        // B's owner naming A as requester to reach B's partner: not a member of A.
        assert_plain_error(
            &Ctx::new(&app, &b.owner.token, &a.uuid, &b.uuid)
                .get(&b_id)
                .await,
            403,
        );
        // Unknown requester or target.
        let ghost = uuid::Uuid::new_v4().to_string();
        assert_plain_error(
            &Ctx::new(&app, &a.owner.token, &ghost, &ghost)
                .list(&list_q)
                .await,
            403,
        );
        assert_plain_error(
            &Ctx::new(&app, &a.owner.token, &ghost, &a.uuid)
                .list(&list_q)
                .await,
            403,
        );
        assert_plain_error(
            &Ctx::new(&app, &a.owner.token, &a.uuid, &ghost)
                .list(&list_q)
                .await,
            403,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_partnership_revokes_access() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "revoke-a").await;
        let b = Org::create(&app, "revoke-b").await;
        partner_up(&app, &a, &b).await;
        let b_id = sid(&Ctx::new(&app, &b.owner.token, &b.uuid, &b.uuid)
            .create_ok(&body("B Only", "customer", "bo@example.com"))
            .await);
        let ctx = Ctx::new(&app, &a.owner.token, &a.uuid, &b.uuid);
        let q = format!("{BOTH}&limit=10&offset=0");
        ctx.list_ok(&q).await;
        ctx.get(&b_id).await.assert_status(200);

        // The host archives its guest.
        let r = dir(
            &app,
            Method::PATCH,
            &format!("/v1/guest-connections/{}", b.uuid),
            Some(&a.owner.token),
            Some(&a.uuid),
            Some(&b.uuid),
            Some(&json!({"archived": true})),
        )
        .await;
        r.assert_status(200);

        assert_plain_error(&ctx.list(&q).await, 403);
        assert_plain_error(&ctx.get(&b_id).await, 403);
        assert_plain_error(
            &ctx.create(&body("Late", "customer", "l@example.com")).await,
            403,
        );
        assert_plain_error(
            &Ctx::new(&app, &b.owner.token, &b.uuid, &a.uuid)
                .list(&q)
                .await,
            403,
        );
    })
    .await;
}
