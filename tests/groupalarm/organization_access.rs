//! Who may do what to an organization: a missing or unknown token (401), every header form
//! of a token, an outsider (403 whether or not the organization exists), a service token, an
//! organization's API token within its subtree, the owner of a parent, a plain member, and
//! permission checked before the body.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_unknown_token_is_401() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Private").await;
        let id = id_of(&org);
        let unknown = "definitely-not-a-token";
        let auths = [
            ("no header", Auth::None),
            ("unknown Token", Auth::Token(unknown)),
            ("unknown Bearer", Auth::Bearer(unknown)),
            (
                "unknown Personal-Access-Token",
                Auth::PersonalAccessToken(unknown),
            ),
            ("unknown API-TOKEN", Auth::ApiToken(unknown)),
        ];
        for (what, auth) in auths {
            let r = app.get_org(auth.clone(), id).await;
            assert_eq!(
                r.status.as_u16(),
                401,
                "GET, {what}: {} {}",
                r.status,
                r.text
            );
            r.assert_error(401, "UNAUTHENTICATED");

            let r = app
                .rest(Method::GET, "/api/v1/organizations", auth.clone(), None)
                .await;
            assert_eq!(
                r.status.as_u16(),
                401,
                "list, {what}: {} {}",
                r.status,
                r.text
            );
            r.assert_error(401, "UNAUTHENTICATED");

            let r = app
                .rest(
                    Method::POST,
                    "/api/v1/organization",
                    auth.clone(),
                    Some(&json!({"name": "Nope"})),
                )
                .await;
            assert_eq!(
                r.status.as_u16(),
                401,
                "create, {what}: {} {}",
                r.status,
                r.text
            );
            r.assert_error(401, "UNAUTHENTICATED");

            let r = app
                .rest(
                    Method::PUT,
                    "/api/v1/organization",
                    auth.clone(),
                    Some(&json!({"id": id, "name": "Hijacked"})),
                )
                .await;
            assert_eq!(
                r.status.as_u16(),
                401,
                "update, {what}: {} {}",
                r.status,
                r.text
            );
            r.assert_error(401, "UNAUTHENTICATED");

            let r = app
                .rest(
                    Method::DELETE,
                    &format!("/api/v1/organization/{id}"),
                    auth,
                    None,
                )
                .await;
            assert_eq!(
                r.status.as_u16(),
                401,
                "delete, {what}: {} {}",
                r.status,
                r.text
            );
            r.assert_error(401, "UNAUTHENTICATED");
        }
        let after = app.get_org(Auth::Bearer(&owner.token), id).await;
        after.assert_status(200);
        assert_eq!(after.json, org, "unauthenticated requests changed nothing");
        let list = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        assert_eq!(
            ids_of(&list.json),
            vec![id],
            "unauthenticated create made nothing"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_header_form_is_accepted() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Headers").await;
        let id = id_of(&org);
        for (what, auth) in [
            ("Authorization: Token", Auth::Token(&owner.token)),
            ("Authorization: Bearer", Auth::Bearer(&owner.token)),
            (
                "Personal-Access-Token",
                Auth::PersonalAccessToken(&owner.token),
            ),
        ] {
            let r = app.get_org(auth.clone(), id).await;
            assert_eq!(r.status.as_u16(), 200, "{what}: {} {}", r.status, r.text);
            assert_eq!(r.json, org, "{what}");

            // Writes work with every form too.
            let r = app
                .rest(
                    Method::POST,
                    "/api/v1/organization",
                    auth,
                    Some(&json!({"name": format!("made with {what}")})),
                )
                .await;
            assert_eq!(
                r.status.as_u16(),
                201,
                "create with {what}: {} {}",
                r.status,
                r.text
            );
            assert_eq!(
                r.json["ownerIDs"],
                json!([owner.id]),
                "{what} acts as the user"
            );
        }
        // A second personal token of the same user acts as the same user.
        let second = app.personal_token(&owner.email).await;
        assert_ne!(second, owner.token);
        let r = app.get_org(Auth::PersonalAccessToken(&second), id).await;
        r.assert_status(200);

        // The organization API token in API-TOKEN.
        let api = app.organization_token(id).await;
        let r = app.get_org(Auth::ApiToken(&api), id).await;
        r.assert_status(200);
        assert_eq!(r.json, org);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsider_gets_403_whether_or_not_the_organization_exists() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let outsider = app.user("outsider").await;
        let org = app.org(&owner.token, "Members only").await;
        let id = id_of(&org);
        let missing = 999_999;
        let auth = || Auth::Bearer(&outsider.token);

        let existing = app.get_org(auth(), id).await;
        existing.assert_error(403, "PERMISSION_DENIED");
        let nonexistent = app.get_org(auth(), missing).await;
        nonexistent.assert_error(403, "PERMISSION_DENIED");
        assert_eq!(
            existing.json, nonexistent.json,
            "the same answer for an existing and a nonexistent organization"
        );

        for target in [id, missing] {
            assert_writes_refused(&app, &outsider.token, target).await;
        }
        // The owner's own missing ids: 403 as well (no access to what does not exist).
        app.get_org(Auth::Bearer(&owner.token), missing)
            .await
            .assert_error(403, "PERMISSION_DENIED");

        let after = app.get_org(Auth::Bearer(&owner.token), id).await;
        after.assert_status(200);
        assert_eq!(after.json, org, "refused requests changed nothing");
        let list = app
            .rest(Method::GET, "/api/v1/organizations", auth(), None)
            .await;
        list.assert_status(200);
        assert_eq!(list.json, json!([]), "the outsider created nothing");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_token_reads_any_organization_and_gets_404_for_missing_ones() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Served").await;
        let id = id_of(&org);
        let service = app.service_token("reporting").await;

        let r = app.get_org(Auth::Bearer(&service), id).await;
        r.assert_status(200);
        assert_eq!(r.json, org);

        app.get_org(Auth::Bearer(&service), 999_999)
            .await
            .assert_error(404, "NOT_FOUND");

        // Services do not create, update or delete organizations.
        app.rest(
            Method::POST,
            "/api/v1/organization",
            Auth::Bearer(&service),
            Some(&json!({"name": "By a service"})),
        )
        .await
        .assert_error(403, "PERMISSION_DENIED");
        app.rest(
            Method::PUT,
            "/api/v1/organization",
            Auth::Bearer(&service),
            Some(&json!({"id": id, "name": "Changed by a service"})),
        )
        .await
        .assert_error(403, "PERMISSION_DENIED");
        app.rest(
            Method::DELETE,
            &format!("/api/v1/organization/{id}"),
            Auth::Bearer(&service),
            None,
        )
        .await
        .assert_error(403, "PERMISSION_DENIED");

        let after = app.get_org(Auth::Bearer(&owner.token), id).await;
        after.assert_status(200);
        assert_eq!(after.json, org, "refused service writes changed nothing");

        // Deleted by its owner, the organization is 404 for the service.
        app.rest(
            Method::DELETE,
            &format!("/api/v1/organization/{id}"),
            Auth::Bearer(&owner.token),
            None,
        )
        .await
        .assert_status(200);
        app.get_org(Auth::Bearer(&service), id)
            .await
            .assert_error(404, "NOT_FOUND");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_api_token_acts_within_its_subtree() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Scoped").await;
        let id = id_of(&org);
        let child = app.child_org(&owner.token, id, "Scoped child").await;
        let child_id = id_of(&child);
        let other = app.org(&owner.token, "Unrelated").await;
        let other_id = id_of(&other);
        let api = app.organization_token(id).await;

        let r = app.get_org(Auth::ApiToken(&api), id).await;
        r.assert_status(200);
        assert_eq!(r.json["id"], json!(id));
        let r = app.get_org(Auth::ApiToken(&api), child_id).await;
        r.assert_status(200);
        assert_eq!(r.json, child);
        app.get_org(Auth::ApiToken(&api), other_id)
            .await
            .assert_error(403, "PERMISSION_DENIED");
        app.get_org(Auth::ApiToken(&api), 999_999)
            .await
            .assert_error(403, "PERMISSION_DENIED");

        // The list holds its organization and the descendants, nothing else.
        let list = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::ApiToken(&api),
                None,
            )
            .await;
        list.assert_status(200);
        let mut ids = ids_of(&list.json);
        ids.sort();
        assert_eq!(ids, vec![id, child_id]);

        // Updates within the subtree work; outside they are refused.
        let r = app
            .rest(
                Method::PUT,
                "/api/v1/organization",
                Auth::ApiToken(&api),
                Some(&json!({"id": child_id, "name": "Renamed by API token"})),
            )
            .await;
        r.assert_status(200);
        assert_eq!(r.json["name"], json!("Renamed by API token"));
        app.rest(
            Method::PUT,
            "/api/v1/organization",
            Auth::ApiToken(&api),
            Some(&json!({"id": other_id, "name": "Hijacked"})),
        )
        .await
        .assert_error(403, "PERMISSION_DENIED");
        let after = app.get_org(Auth::Bearer(&owner.token), other_id).await;
        assert_eq!(after.json, other, "the refused update changed nothing");

        // A token for a child does not reach the parent.
        let child_api = app.organization_token(child_id).await;
        app.get_org(Auth::ApiToken(&child_api), id)
            .await
            .assert_error(403, "PERMISSION_DENIED");

        // The organization token also works in the Authorization forms.
        app.get_org(Auth::Bearer(&api), id).await.assert_status(200);
        app.get_org(Auth::Token(&api), id).await.assert_status(200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_of_a_parent_can_read_update_and_delete_a_child() {
    for_each_backend(|app| async move {
        let founder = app.user("founder").await;
        let heir = app.user("heir").await;
        let parent = id_of(&app.org(&founder.token, "Parent").await);
        let child = id_of(&app.child_org(&founder.token, parent, "Child").await);
        let grandchild = id_of(&app.child_org(&founder.token, child, "Grandchild").await);

        // heir owns the parent only; no membership in child or grandchild.
        app.member_add(parent, &heir.email, "owner").await;
        let auth = || Auth::Bearer(&heir.token);

        let r = app.get_org(auth(), child).await;
        r.assert_status(200);
        assert_eq!(r.json["parentID"], json!(parent));
        app.get_org(auth(), grandchild).await.assert_status(200);

        let list = app
            .rest(Method::GET, "/api/v1/organizations", auth(), None)
            .await;
        list.assert_status(200);
        let mut ids = ids_of(&list.json);
        ids.sort();
        assert_eq!(ids, vec![parent, child, grandchild]);

        let r = app
            .rest(
                Method::PUT,
                "/api/v1/organization",
                auth(),
                Some(&json!({"id": grandchild, "name": "Renamed by the parent's owner"})),
            )
            .await;
        r.assert_status(200);
        assert_eq!(r.json["name"], json!("Renamed by the parent's owner"));
        assert_eq!(r.json["parentID"], json!(child), "the parent is kept");

        // heir can create a child under the parent it owns.
        let mine = app.child_org(&heir.token, child, "Heir's").await;
        assert_eq!(mine["ownerIDs"], json!([heir.id]));

        app.rest(
            Method::DELETE,
            &format!("/api/v1/organization/{}", id_of(&mine)),
            auth(),
            None,
        )
        .await
        .assert_status(200);
        app.rest(
            Method::DELETE,
            &format!("/api/v1/organization/{grandchild}"),
            auth(),
            None,
        )
        .await
        .assert_status(200);
        let service = app.service_token("check").await;
        app.get_org(Auth::Bearer(&service), grandchild)
            .await
            .assert_error(404, "NOT_FOUND");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_can_read_but_not_update_or_delete() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let member = app.user("member").await;
        let org = app.org(&owner.token, "Team").await;
        let id = id_of(&org);
        let membership = app.member_add(id, &member.email, "member").await;
        assert_eq!(membership["role"], json!("member"));
        let auth = || Auth::Bearer(&member.token);

        let r = app.get_org(auth(), id).await;
        r.assert_status(200);
        assert_eq!(r.json, org, "members see the same organization");
        assert_eq!(
            r.json["ownerIDs"],
            json!([owner.id]),
            "members are not owners"
        );

        assert_writes_refused(&app, &member.token, id).await;

        // Admins do not own: they may not create children either.
        let admin = app.user("admin").await;
        app.member_add(id, &admin.email, "admin").await;
        app.get_org(Auth::Bearer(&admin.token), id)
            .await
            .assert_status(200);
        app.rest(
            Method::POST,
            "/api/v1/organization",
            Auth::Bearer(&admin.token),
            Some(&json!({"name": "Admin's child", "parentID": id})),
        )
        .await
        .assert_error(403, "PERMISSION_DENIED");

        let after = app.get_org(Auth::Bearer(&owner.token), id).await;
        assert_eq!(after.json, org, "refused requests changed nothing");

        // Removed, the member loses access.
        let out = app
            .cli(&[
                "member",
                "remove",
                "--organization",
                &id.to_string(),
                "--email",
                &member.email,
            ])
            .await;
        assert!(out.status.success(), "member remove: {}", out.stderr);
        app.get_org(auth(), id)
            .await
            .assert_error(403, "PERMISSION_DENIED");
    })
    .await;
}

/// Permission before validation: a caller without access gets 403 even when its body is
/// invalid, so its own input tells it nothing about the organization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_is_checked_before_the_body_is_validated() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let stranger = app.user("stranger").await;
        let id = app.org(&owner.token, "Guarded").await["id"]
            .as_i64()
            .unwrap();
        let bad = serde_json::json!({"id": id, "name": "", "timezone": "Mars/Olympus"});
        app.rest(
            Method::PUT,
            "/api/v1/organization",
            Auth::Bearer(&stranger.token),
            Some(&bad),
        )
        .await
        .assert_error(403, "PERMISSION_DENIED");
        let bad_child = serde_json::json!({"name": "", "parentID": id});
        app.rest(
            Method::POST,
            "/api/v1/organization",
            Auth::Bearer(&stranger.token),
            Some(&bad_child),
        )
        .await
        .assert_error(403, "PERMISSION_DENIED");
        app.rest(
            Method::POST,
            &format!("/api/v1/organization/{id}/owner/invitations"),
            Auth::Bearer(&stranger.token),
            Some(&serde_json::json!({"email": "not an email"})),
        )
        .await
        .assert_error(403, "PERMISSION_DENIED");
    })
    .await;
}

/// Updating, deleting and creating a child of `id` are each refused with 403 for `token`.
async fn assert_writes_refused(app: &App, token: &str, id: i64) {
    let auth = || Auth::Bearer(token);
    app.rest(
        Method::PUT,
        "/api/v1/organization",
        auth(),
        Some(&json!({"id": id, "name": "Changed without permission"})),
    )
    .await
    .assert_error(403, "PERMISSION_DENIED");
    app.rest(
        Method::DELETE,
        &format!("/api/v1/organization/{id}"),
        auth(),
        None,
    )
    .await
    .assert_error(403, "PERMISSION_DENIED");
    app.rest(
        Method::POST,
        "/api/v1/organization",
        auth(),
        Some(&json!({"name": "Child without permission", "parentID": id})),
    )
    .await
    .assert_error(403, "PERMISSION_DENIED");
}
