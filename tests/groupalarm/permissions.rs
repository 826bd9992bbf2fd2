//! Authentication and permissions across every operation: a token is required, readers read
//! and nobody else writes, an owner up the tree manages the subtree (a sibling's owner does
//! not), and the hierarchy stays a tree.

use super::*;

/// A second, different PNG (the same image with a trailing byte after IEND).
fn png2() -> Vec<u8> {
    let mut p = png();
    p.push(0);
    p
}

/// One operation of the API with the access level it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Read,
    Own,
}

struct Call {
    what: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    need: Need,
}

/// Every organization-scoped operation of this slice against `id`; `subject` is a user id
/// (and email) the owner operations name, `owner` a user owning the organization.
fn calls(id: i64, subject: &User, owner: &User) -> Vec<Call> {
    let s = subject.id;
    vec![
        Call {
            what: "GetChildOrganizations",
            method: Method::GET,
            path: org_path(id, "/children"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetAvailableUsers",
            method: Method::GET,
            path: org_path(id, "/availability"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetAvailabilityHistory",
            method: Method::GET,
            path: org_path(id, "/availability-history"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetAvatar",
            method: Method::GET,
            path: org_path(id, "/avatar"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetOrganizationQuickActions",
            method: Method::GET,
            path: org_path(id, "/quick-actions"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetOwnerInParentOrganization",
            method: Method::GET,
            path: org_path(id, &format!("/owner/{}", owner.id)),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "SetAvatar",
            method: Method::PUT,
            path: org_path(id, "/avatar"),
            body: Some(avatar_body(&png2())),
            need: Need::Own,
        },
        Call {
            what: "SetAvatar (remove)",
            method: Method::PUT,
            path: org_path(id, "/avatar"),
            body: Some(json!("")),
            need: Need::Own,
        },
        Call {
            what: "UpsertOrganizationLocation",
            method: Method::PUT,
            path: org_path(id, "/location"),
            body: Some(json!({"address": "Elsewhere", "latitude": 1.0, "longitude": 2.0})),
            need: Need::Own,
        },
        Call {
            what: "DeleteOrganizationLocation",
            method: Method::DELETE,
            path: org_path(id, "/location"),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "ListOwnerInvitations",
            method: Method::GET,
            path: org_path(id, "/owner/invitations"),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "InviteOwner",
            method: Method::POST,
            path: org_path(id, "/owner/invitations"),
            body: Some(json!({"email": subject.email})),
            need: Need::Own,
        },
        Call {
            what: "RemoveOwnerInvitation",
            method: Method::DELETE,
            path: org_path(id, &format!("/owner/invitations/{s}")),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "AddOwner",
            method: Method::PUT,
            path: org_path(id, &format!("/owner/{s}")),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "RemoveOwner",
            method: Method::DELETE,
            path: org_path(id, &format!("/owner/{}", owner.id)),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "SetOrganizationQuickActions",
            method: Method::PUT,
            path: org_path(id, "/quick-actions"),
            body: Some(json!([quick_action("Hijack")])),
            need: Need::Own,
        },
    ]
}

/// Everything the calls above could change, read by an owner.
async fn state_of(app: &App, owner_token: &str, id: i64) -> (Value, Value, Value, Value) {
    let org = app.org_json(owner_token, id).await;
    let invitations = app.invitations(owner_token, id).await;
    let quick = app.quick_actions(owner_token, id).await;
    let avatar = app
        .avatar_of(owner_token, id)
        .await
        .map(|(b, ct)| json!({"bytes": b64(&b), "type": ct}))
        .unwrap_or(Value::Null);
    (org, invitations, quick, avatar)
}

/// A root organization of `owner` carrying an avatar, a location, quick actions and an open
/// owner invitation for `invitee`, so that any write would show.
async fn furnished_org(app: &App, owner: &User, invitee: &User) -> i64 {
    let id = id_of(&app.org(&owner.token, &unique("Furnished")).await);
    expect_status(
        &app.put_avatar(&owner.token, id, &png()).await,
        200,
        "set avatar",
    );
    let r = app
        .rest(
            Method::PUT,
            &org_path(id, "/location"),
            Auth::Bearer(&owner.token),
            Some(&json!({"address": "Hauptstraße 1", "latitude": 52.5, "longitude": 13.4})),
        )
        .await;
    expect_status(&r, 200, "set location");
    let r = app
        .rest(
            Method::PUT,
            &org_path(id, "/quick-actions"),
            Auth::Bearer(&owner.token),
            Some(&json!([quick_action("Keep")])),
        )
        .await;
    expect_status(&r, 200, "set quick actions");
    expect_status(
        &app.invite(&owner.token, id, &invitee.email).await,
        201,
        "invite",
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_requires_a_token() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let id = furnished_org(&app, &owner, &invitee).await;
        let before = state_of(&app, &owner.token, id).await;
        let inv_id = app.invitations(&owner.token, id).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut all = calls(id, &invitee, &owner);
        all.push(Call {
            what: "AcceptOwnerInvitation",
            method: Method::POST,
            path: org_path(id, &format!("/owner/invitations/{inv_id}/accept")),
            body: None,
            need: Need::Own,
        });
        for (what, path) in [
            (
                "GetPaginatedOrganizations",
                "/api/v1/organizations/paginated",
            ),
            ("GetTrialStatus", "/api/v1/trial"),
        ] {
            all.push(Call {
                what,
                method: Method::GET,
                path: path.into(),
                body: None,
                need: Need::Read,
            });
        }
        all.push(Call {
            what: "StartTrial",
            method: Method::POST,
            path: "/api/v1/trial".into(),
            body: None,
            need: Need::Own,
        });
        for (auth_what, auth) in [
            ("no header", Auth::None),
            ("unknown Bearer", Auth::Bearer("definitely-not-a-token")),
            ("unknown Token", Auth::Token("definitely-not-a-token")),
            (
                "unknown Personal-Access-Token",
                Auth::PersonalAccessToken("definitely-not-a-token"),
            ),
            (
                "unknown API-TOKEN",
                Auth::ApiToken("definitely-not-a-token"),
            ),
        ] {
            for c in &all {
                let r = app
                    .rest(c.method.clone(), &c.path, auth.clone(), c.body.as_ref())
                    .await;
                expect_error(
                    &r,
                    401,
                    "UNAUTHENTICATED",
                    &format!("{} {} with {auth_what}", c.what, c.path),
                );
            }
        }
        assert_eq!(
            state_of(&app, &owner.token, id).await,
            before,
            "nothing changed"
        );
        let r = app.get("/api/v1/trial", Auth::Bearer(&owner.token)).await;
        assert_eq!(r.json["active"], json!(false), "no trial was started");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_read_and_nobody_else_writes() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let id = furnished_org(&app, &owner, &invitee).await;
        let member = app.user("member").await;
        let admin = app.user("admin").await;
        let outsider = app.user("outsider").await;
        let child_member = app.user("child-member").await;
        let child = id_of(&app.child_org(&owner.token, id, "Child").await);
        app.member_add(id, &member.email, "member").await;
        app.member_add(id, &admin.email, "admin").await;
        app.member_add(child, &child_member.email, "owner").await;
        let service = app.service_token("svc").await;
        let child_api = app.organization_token(child).await;
        let other_org = id_of(&app.org(&outsider.token, "Outsider's own").await);
        let other_api = app.organization_token(other_org).await;
        let before = state_of(&app, &owner.token, id).await;

        // Readers: Read operations answer 200, Own operations 403.
        for (who, auth) in [
            ("member", Auth::Bearer(&member.token)),
            ("admin", Auth::Bearer(&admin.token)),
            ("service", Auth::Bearer(&service)),
        ] {
            for c in calls(id, &invitee, &owner) {
                let r = app
                    .rest(c.method.clone(), &c.path, auth.clone(), c.body.as_ref())
                    .await;
                let what = format!("{who}: {} {}", c.what, c.path);
                match c.need {
                    Need::Read => expect_status(&r, 200, &what),
                    Need::Own => expect_error(&r, 403, "PERMISSION_DENIED", &what),
                }
            }
        }
        // No access at all: 403 everywhere, for the organization and for a missing one.
        for (who, auth) in [
            ("outsider", Auth::Bearer(&outsider.token)),
            ("owner of a child", Auth::Bearer(&child_member.token)),
            ("API token of a child", Auth::ApiToken(&child_api)),
            (
                "API token of another organization",
                Auth::ApiToken(&other_api),
            ),
        ] {
            for target in [id, MISSING] {
                for c in calls(target, &invitee, &owner) {
                    let r = app
                        .rest(c.method.clone(), &c.path, auth.clone(), c.body.as_ref())
                        .await;
                    expect_error(
                        &r,
                        403,
                        "PERMISSION_DENIED",
                        &format!("{who}: {} {}", c.what, c.path),
                    );
                }
            }
        }
        // Members and admins get 403 on a missing organization too (permission first).
        for c in calls(MISSING, &invitee, &owner) {
            let r = app
                .rest(
                    c.method.clone(),
                    &c.path,
                    Auth::Bearer(&member.token),
                    c.body.as_ref(),
                )
                .await;
            expect_error(
                &r,
                403,
                "PERMISSION_DENIED",
                &format!("member, missing: {}", c.what),
            );
        }
        // A service learns that an organization is missing only where it may read.
        for c in calls(MISSING, &invitee, &owner) {
            let r = app
                .rest(
                    c.method.clone(),
                    &c.path,
                    Auth::Bearer(&service),
                    c.body.as_ref(),
                )
                .await;
            let what = format!("service, missing: {} {}", c.what, c.path);
            match c.need {
                Need::Read => expect_error(&r, 404, "NOT_FOUND", &what),
                Need::Own => expect_error(&r, 403, "PERMISSION_DENIED", &what),
            }
        }
        // The owner still has everything as it was.
        assert_eq!(
            state_of(&app, &owner.token, id).await,
            before,
            "refused requests changed nothing"
        );
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(owner_ids(&org), vec![owner.id]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_of_a_grandparent_manages_a_grandchild_and_a_siblings_owner_does_not() {
    for_each_backend(|app| async move {
        let founder = app.user("founder").await;
        let heir = app.user("heir").await;
        let sibling_owner = app.user("sibling").await;
        let target = app.user("target").await;
        let r = id_of(&app.org(&founder.token, "Root").await);
        let c = id_of(&app.child_org(&founder.token, r, "Child").await);
        let s = id_of(&app.child_org(&founder.token, r, "Sibling").await);
        let g = id_of(&app.child_org(&founder.token, c, "Grandchild").await);
        app.member_add(r, &heir.email, "owner").await;
        app.member_add(s, &sibling_owner.email, "owner").await;
        let root_api = app.organization_token(r).await;

        // The sibling's owner is refused everything on the grandchild (and the child).
        let g_before = state_of(&app, &founder.token, g).await;
        for org in [g, c] {
            for call in calls(org, &target, &founder) {
                let resp = app
                    .rest(
                        call.method.clone(),
                        &call.path,
                        Auth::Bearer(&sibling_owner.token),
                        call.body.as_ref(),
                    )
                    .await;
                expect_error(
                    &resp,
                    403,
                    "PERMISSION_DENIED",
                    &format!("sibling owner: {} {}", call.what, call.path),
                );
            }
        }
        expect_error(
            &app.rest(
                Method::PUT,
                "/api/v1/organization",
                Auth::Bearer(&sibling_owner.token),
                Some(&json!({"id": g, "name": "Hijacked"})),
            )
            .await,
            403,
            "PERMISSION_DENIED",
            "sibling owner updates",
        );
        assert_eq!(
            state_of(&app, &founder.token, g).await,
            g_before,
            "the sibling's owner changed nothing"
        );

        for (who, auth) in [
            ("grandparent's owner", Auth::Bearer(&heir.token)),
            ("root API token", Auth::ApiToken(&root_api)),
        ] {
            // Read.
            let rr = app.get(&org_path(g, ""), auth.clone()).await;
            expect_status(&rr, 200, who);
            let rr = app.get(&org_path(g, "/children"), auth.clone()).await;
            expect_status(&rr, 200, who);
            assert_eq!(ids_of(&rr.json["path"]), vec![r, c, g]);
            // Update.
            let name = format!("Renamed by {who}");
            let rr = app
                .rest(
                    Method::PUT,
                    "/api/v1/organization",
                    auth.clone(),
                    Some(&json!({"id": g, "name": name})),
                )
                .await;
            expect_status(&rr, 200, &format!("{who}: update"));
            assert_eq!(rr.json["name"], json!(name));
            // Avatar.
            assert_empty_200(
                &app.rest(
                    Method::PUT,
                    &org_path(g, "/avatar"),
                    auth.clone(),
                    Some(&avatar_body(&webp())),
                )
                .await,
                &format!("{who}: avatar"),
            );
            let rr = app.get(&org_path(g, "/avatar"), auth.clone()).await;
            expect_status(&rr, 200, &format!("{who}: get avatar"));
            // Location.
            let loc = json!({"address": who, "latitude": 48.1, "longitude": 11.6});
            let rr = app
                .rest(
                    Method::PUT,
                    &org_path(g, "/location"),
                    auth.clone(),
                    Some(&loc),
                )
                .await;
            expect_status(&rr, 200, &format!("{who}: location"));
            assert_eq!(app.org_json(&founder.token, g).await["location"], loc);
            assert_empty_200(
                &app.rest(
                    Method::DELETE,
                    &org_path(g, "/location"),
                    auth.clone(),
                    None,
                )
                .await,
                &format!("{who}: delete location"),
            );
            // Quick actions.
            let rr = app
                .rest(
                    Method::PUT,
                    &org_path(g, "/quick-actions"),
                    auth.clone(),
                    Some(&json!([quick_action(who)])),
                )
                .await;
            expect_status(&rr, 200, &format!("{who}: quick actions"));
            assert_eq!(
                names_of(&app.quick_actions(&founder.token, g).await),
                vec![who.to_string()]
            );
            // Owners and invitations.
            let rr = app
                .rest(
                    Method::POST,
                    &org_path(g, "/owner/invitations"),
                    auth.clone(),
                    Some(&json!({"email": target.email})),
                )
                .await;
            expect_status(&rr, 201, &format!("{who}: invite"));
            let rr = app
                .get(&org_path(g, "/owner/invitations"), auth.clone())
                .await;
            expect_status(&rr, 200, &format!("{who}: list invitations"));
            assert_eq!(rr.json.as_array().unwrap().len(), 1);
            assert_empty_200(
                &app.rest(
                    Method::DELETE,
                    &org_path(g, &format!("/owner/invitations/{}", target.id)),
                    auth.clone(),
                    None,
                )
                .await,
                &format!("{who}: remove invitation"),
            );
            assert_empty_200(
                &app.rest(
                    Method::PUT,
                    &org_path(g, &format!("/owner/{}", target.id)),
                    auth.clone(),
                    None,
                )
                .await,
                &format!("{who}: add owner"),
            );
            assert!(owner_ids(&app.org_json(&founder.token, g).await).contains(&target.id));
            let rr = app
                .get(&org_path(g, &format!("/owner/{}", target.id)), auth.clone())
                .await;
            expect_status(&rr, 200, &format!("{who}: owner in parent"));
            assert_eq!(id_of(&rr.json), g);
            assert_empty_200(
                &app.rest(
                    Method::DELETE,
                    &org_path(g, &format!("/owner/{}", target.id)),
                    auth.clone(),
                    None,
                )
                .await,
                &format!("{who}: remove owner"),
            );
            assert_eq!(
                owner_ids(&app.org_json(&founder.token, g).await),
                vec![founder.id]
            );
        }
        // heir's topmost owned organization on g's path is the root.
        let rr = app
            .get(
                &org_path(g, &format!("/owner/{}", heir.id)),
                Auth::Bearer(&founder.token),
            )
            .await;
        expect_status(&rr, 200, "heir in parent");
        assert_eq!(id_of(&rr.json), r);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_stays_a_tree() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let root = app.org(&owner.token, "Root").await;
        let r = id_of(&root);
        let c = id_of(&app.child_org(&owner.token, r, "Child").await);
        let g = id_of(&app.child_org(&owner.token, c, "Grandchild").await);
        let root = app.org_json(&owner.token, r).await;
        let child = app.org_json(&owner.token, c).await;

        for (what, org, name, parent) in [
            ("root under its grandchild", r, "Root", g),
            ("root under its child", r, "Root", c),
            ("root under itself", r, "Root", r),
            ("child under its child", c, "Child", g),
        ] {
            let resp = app
                .rest(
                    Method::PUT,
                    "/api/v1/organization",
                    Auth::Bearer(&owner.token),
                    Some(&json!({"id": org, "name": name, "parentID": parent, "timezone": "Europe/Berlin", "language": "de"})),
                )
                .await;
            expect_error(&resp, 409, "WOULD_CREATE_CYCLE", what);
        }
        assert_eq!(app.org_json(&owner.token, r).await, root, "the root did not move");
        assert_eq!(app.org_json(&owner.token, c).await, child, "the child did not move");
        let body = app.get_ok(&org_path(g, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["path"]), vec![r, c, g]);

        for org in [r, c] {
            expect_error(
                &app.rest(Method::DELETE, &org_path(org, ""), Auth::Bearer(&owner.token), None).await,
                409,
                "HAS_CHILDREN",
                "delete with children",
            );
        }
        let body = app.get_ok(&org_path(r, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["childs"]), vec![c]);

        // Moving the grandchild up under the root is fine.
        let resp = app
            .rest(
                Method::PUT,
                "/api/v1/organization",
                Auth::Bearer(&owner.token),
                Some(&json!({"id": g, "name": "Grandchild", "parentID": r, "timezone": "Europe/Berlin", "language": "de"})),
            )
            .await;
        expect_status(&resp, 200, "move up");
        let body = app.get_ok(&org_path(r, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["childs"]), vec![c, g]);
        assert_eq!(body["totalChilds"], json!(2));
        let body = app.get_ok(&org_path(g, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["path"]), vec![r, g]);
    })
    .await;
}
