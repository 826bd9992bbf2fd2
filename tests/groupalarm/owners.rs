//! Owners: adding (idempotent, checked user), the topmost owned organization, and removal
//! that never leaves an organization without an owner.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_owner_is_idempotent_and_checks_the_user() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let newcomer = app.user("newcomer").await;
        let member = app.user("member").await;
        let id = id_of(&app.org(&owner.token, "Owned").await);
        app.member_add(id, &member.email, "member").await;

        let put = |uid: String| {
            let app = app.clone();
            let token = owner.token.clone();
            async move {
                app.rest(
                    Method::PUT,
                    &org_path(id, &format!("/owner/{uid}")),
                    Auth::Bearer(&token),
                    None,
                )
                .await
            }
        };
        assert_empty_200(&put(newcomer.id.to_string()).await, "add a non-member");
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, newcomer.id])
        );
        assert_empty_200(&put(newcomer.id.to_string()).await, "add again");
        assert_empty_200(&put(owner.id.to_string()).await, "add an existing owner");
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, newcomer.id]),
            "no duplicates"
        );
        // A member is promoted.
        assert_empty_200(&put(member.id.to_string()).await, "promote a member");
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, newcomer.id, member.id])
        );
        // The new owner manages the organization.
        assert_eq!(app.invitations(&newcomer.token, id).await, json!([]));

        let before = app.org_json(&owner.token, id).await;
        expect_error(
            &put("987654321".into()).await,
            404,
            "NOT_FOUND",
            "unknown user id",
        );
        expect_error(
            &put("abc".into()).await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric user id",
        );
        assert_eq!(
            app.org_json(&owner.token, id).await,
            before,
            "refused adds changed nothing"
        );

        // The organization's API token may add owners too.
        let api = app.organization_token(id).await;
        let fourth = app.user("fourth").await;
        assert_empty_200(
            &app.rest(
                Method::PUT,
                &org_path(id, &format!("/owner/{}", fourth.id)),
                Auth::ApiToken(&api),
                None,
            )
            .await,
            "add with the API token",
        );
        assert!(owner_ids(&app.org_json(&owner.token, id).await).contains(&fourth.id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_in_parent_organization_is_the_topmost_owned() {
    for_each_backend(|app| async move {
        let founder = app.user("founder").await;
        let mid = app.user("mid").await;
        let reader = app.user("reader").await;
        let r = id_of(&app.org(&founder.token, "Root").await);
        let c = id_of(&app.child_org(&founder.token, r, "Child").await);
        let g = id_of(&app.child_org(&founder.token, c, "Grandchild").await);
        assert_empty_200(
            &app.rest(
                Method::PUT,
                &org_path(c, &format!("/owner/{}", mid.id)),
                Auth::Bearer(&founder.token),
                None,
            )
            .await,
            "mid owns the child",
        );
        app.member_add(g, &reader.email, "member").await;

        let lookup = |org: i64, user: i64, token: String| {
            let app = app.clone();
            async move {
                app.get(
                    &org_path(org, &format!("/owner/{user}")),
                    Auth::Bearer(&token),
                )
                .await
            }
        };
        // The founder owns the root: topmost from anywhere below.
        for org in [r, c, g] {
            let got = lookup(org, founder.id, founder.token.clone()).await;
            expect_status(&got, 200, "founder");
            assert_eq!(id_of(&got.json), r, "topmost for the founder from {org}");
            assert_organization_shape(&got.json);
        }
        // mid owns the child only.
        let got = lookup(g, mid.id, founder.token.clone()).await;
        expect_status(&got, 200, "mid from the grandchild");
        assert_eq!(id_of(&got.json), c);
        assert_eq!(got.json, app.org_json(&founder.token, c).await);
        let got = lookup(c, mid.id, founder.token.clone()).await;
        expect_status(&got, 200, "mid from the child");
        assert_eq!(id_of(&got.json), c);
        expect_error(
            &lookup(r, mid.id, founder.token.clone()).await,
            404,
            "NOT_FOUND",
            "mid owns nothing on the root's path",
        );
        // A member is not an owner.
        expect_error(
            &lookup(g, reader.id, founder.token.clone()).await,
            404,
            "NOT_FOUND",
            "a member",
        );
        expect_error(
            &lookup(g, 987_654_321, founder.token.clone()).await,
            404,
            "NOT_FOUND",
            "unknown user",
        );
        // A service reads it too; 404 on a missing organization.
        let service = app.service_token("svc").await;
        let got = lookup(g, mid.id, service.clone()).await;
        expect_status(&got, 200, "service");
        assert_eq!(id_of(&got.json), c);
        expect_error(
            &lookup(MISSING, mid.id, service).await,
            404,
            "NOT_FOUND",
            "service, missing org",
        );
        // But the grandchild's member cannot ask about the child.
        expect_error(
            &lookup(c, founder.id, reader.token.clone()).await,
            403,
            "PERMISSION_DENIED",
            "reader of the grandchild asking at the child",
        );
        expect_error(
            &app.get(&org_path(g, "/owner/abc"), Auth::Bearer(&founder.token))
                .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric user id",
        );
        // Read access suffices, but the answer is the topmost owned organization the caller
        // can read: the grandchild's member learns nothing about the root or the child.
        let got = lookup(g, founder.id, reader.token.clone()).await;
        expect_status(&got, 200, "a reader of the grandchild");
        assert_eq!(id_of(&got.json), g);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_owner_never_removes_the_last_one() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let second = app.user("second").await;
        let member = app.user("member").await;
        let id = id_of(&app.org(&owner.token, "Shrinking").await);
        app.member_add(id, &member.email, "member").await;
        let del = |uid: String, token: String| {
            let app = app.clone();
            async move {
                app.rest(
                    Method::DELETE,
                    &org_path(id, &format!("/owner/{uid}")),
                    Auth::Bearer(&token),
                    None,
                )
                .await
            }
        };

        let before = app.org_json(&owner.token, id).await;
        expect_error(
            &del(owner.id.to_string(), owner.token.clone()).await,
            409,
            "LAST_OWNER",
            "the only owner",
        );
        expect_error(
            &del(member.id.to_string(), owner.token.clone()).await,
            404,
            "NOT_FOUND",
            "a member",
        );
        expect_error(
            &del(second.id.to_string(), owner.token.clone()).await,
            404,
            "NOT_FOUND",
            "a stranger",
        );
        expect_error(
            &del("987654321".into(), owner.token.clone()).await,
            404,
            "NOT_FOUND",
            "unknown user",
        );
        expect_error(
            &del("abc".into(), owner.token.clone()).await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric",
        );
        assert_eq!(
            app.org_json(&owner.token, id).await,
            before,
            "refused removals changed nothing"
        );
        // The member is still a reader.
        app.org_json(&member.token, id).await;

        assert_empty_200(
            &app.rest(
                Method::PUT,
                &org_path(id, &format!("/owner/{}", second.id)),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            "add second",
        );
        assert_empty_200(
            &del(owner.id.to_string(), owner.token.clone()).await,
            "the first removes itself",
        );
        assert_eq!(
            owner_ids(&app.org_json(&second.token, id).await),
            vec![second.id]
        );
        // The removed owner manages no more.
        expect_error(
            &app.get(
                &org_path(id, "/owner/invitations"),
                Auth::Bearer(&owner.token),
            )
            .await,
            403,
            "PERMISSION_DENIED",
            "a removed owner",
        );
        expect_error(
            &del(second.id.to_string(), second.token.clone()).await,
            409,
            "LAST_OWNER",
            "now second is the last owner",
        );
        assert_eq!(
            owner_ids(&app.org_json(&second.token, id).await),
            vec![second.id]
        );
    })
    .await;
}
