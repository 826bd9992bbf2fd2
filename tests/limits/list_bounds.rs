//! Lists read whole are refused past a bound, never cut short: GroupAlarm's unpaged lists,
//! owner invitations and memberships (which page with limit and offset), responses over the
//! byte budget, and the children and organizations per user.

use super::*;

/// A server whose lists read whole stop at two items, so three rows cross the bound.
fn two_unpaged(config: &mut orgd::config::Config) {
    config.max_unpaged_items = 2;
}

/// GroupAlarm's unpaged lists keep their published shape up to the bound and are refused
/// past it (409 TOO_MANY_RESULTS, pointing at paging), never cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_organization_lists_are_refused_past_the_bound_not_cut() {
    for_each_backend_with(two_unpaged, |app| async move {
        let owner = app.user("many").await;
        let bystander = app.user("bystander").await;
        let first = id_of(&app.org(&owner.token, "One").await);
        app.child_org(&owner.token, first, "Two").await;
        let list = |token: String| {
            let app = app.clone();
            async move {
                app.rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::Bearer(&token),
                    None,
                )
                .await
            }
        };
        let r = list(owner.token.clone()).await;
        r.assert_status(200);
        assert_eq!(ids_of(&r.json).len(), 2);

        app.org(&owner.token, "Three").await;
        let r = list(owner.token.clone()).await;
        r.assert_error(409, "TOO_MANY_RESULTS");
        let message = r.json["message"].as_str().unwrap();
        assert!(
            message.contains("/api/v1/organizations/paginated"),
            "{message}"
        );
        // The bound is on what each caller sees.
        let r = list(bystander.token.clone()).await;
        r.assert_status(200);
        assert_eq!(r.json, json!([]));

        // The paginated list pages as before; `all` is a whole list like any other.
        let paginated = |query: &str| {
            let (app, token) = (app.clone(), owner.token.clone());
            let path = format!("/api/v1/organizations/paginated?{query}");
            async move {
                app.rest(Method::GET, &path, Auth::Bearer(&token), None)
                    .await
            }
        };
        // Two of the three are top-level: at the bound, all of them.
        let r = paginated("all=true").await;
        r.assert_status(200);
        assert_eq!(ids_of(&r.json["organizations"]).len(), 2);
        app.org(&owner.token, "Four").await;
        paginated("all=true")
            .await
            .assert_error(409, "TOO_MANY_RESULTS");
        let r = paginated("limit=1&offset=1").await;
        r.assert_status(200);
        assert_eq!(r.json["totalOrganizations"], 3);
        assert_eq!(ids_of(&r.json["organizations"]).len(), 1);

        let mut grpc = app.organizations().await;
        assert_code(
            grpc.get_organizations(bearer(GetOrganizationsRequest {}, &owner.token))
                .await,
            tonic::Code::FailedPrecondition,
        );
    })
    .await;
}

/// Owner invitations and memberships (orgd's own lists) are whole without limit and
/// offset, refused past the bound; with either they page, limit 1..100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_invitations_and_memberships_page_or_stop_at_the_bound() {
    for_each_backend_with(two_unpaged, |app| async move {
        let owner = app.user("inviter").await;
        let outsider = app.user("outsider").await;
        let org = id_of(&app.org(&owner.token, "Inviting").await);
        let mut invitees = Vec::new();
        for i in 0..3 {
            invitees.push(app.user(&format!("invitee{i}")).await);
        }
        let path = format!("/api/v1/organization/{org}/owner/invitations");
        for invitee in &invitees[..2] {
            app.rest(
                Method::POST,
                &path,
                Auth::Bearer(&owner.token),
                Some(&json!({"email": invitee.email})),
            )
            .await
            .assert_status(201);
        }
        let get = |query: &str, token: &str| {
            let (app, token) = (app.clone(), token.to_string());
            let path = format!("{path}{query}");
            async move {
                app.rest(Method::GET, &path, Auth::Bearer(&token), None)
                    .await
            }
        };
        let r = get("", &owner.token).await;
        r.assert_status(200);
        assert_eq!(r.json.as_array().unwrap().len(), 2);
        app.rest(
            Method::POST,
            &path,
            Auth::Bearer(&owner.token),
            Some(&json!({"email": invitees[2].email})),
        )
        .await
        .assert_status(201);
        get("", &owner.token)
            .await
            .assert_error(409, "TOO_MANY_RESULTS");
        let emails = |r: &Resp| -> Vec<String> {
            r.json
                .as_array()
                .unwrap_or_else(|| panic!("an array: {}", r.text))
                .iter()
                .map(|i| i["email"].as_str().unwrap().to_string())
                .collect()
        };
        let first = get("?limit=2", &owner.token).await;
        let rest = get("?limit=2&offset=2", &owner.token).await;
        let mut paged = emails(&first);
        paged.extend(emails(&rest));
        let all: Vec<String> = invitees.iter().map(|u| u.email.clone()).collect();
        assert_eq!(paged, all, "oldest first, each once");
        assert_eq!(emails(&get("?offset=0", &owner.token).await), all);
        for bad in ["?limit=0", "?limit=101", "?offset=-1"] {
            get(bad, &owner.token)
                .await
                .assert_error(400, "INVALID_ARGUMENT");
            // Permission before the values.
            get(bad, &outsider.token)
                .await
                .assert_error(403, "PERMISSION_DENIED");
        }

        // Memberships: the owner and two members are three.
        let org_key = org.to_string();
        for invitee in &invitees[..2] {
            app.member_add(org, &invitee.email, "member").await;
        }
        let mut memberships = app.memberships().await;
        let list = |limit: Option<i32>, offset: Option<i32>| ListMembershipsRequest {
            organization: org_key.clone(),
            limit,
            offset,
        };
        assert_code(
            memberships
                .list_memberships(bearer(list(None, None), &owner.token))
                .await,
            tonic::Code::FailedPrecondition,
        );
        let page = memberships
            .list_memberships(bearer(list(Some(2), None), &owner.token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.memberships.len(), 2);
        assert_eq!(page.total_memberships, 3);
        assert_eq!(page.memberships[0].user_id, owner.id);
        let page = memberships
            .list_memberships(bearer(list(None, Some(2)), &owner.token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.memberships.len(), 1);
        assert_eq!(page.memberships[0].user_id, invitees[1].id);
        assert_code(
            memberships
                .list_memberships(bearer(list(Some(101), None), &owner.token))
                .await,
            tonic::Code::InvalidArgument,
        );
        assert_code(
            memberships
                .list_memberships(bearer(list(Some(101), None), &outsider.token))
                .await,
            tonic::Code::PermissionDenied,
        );
        app.cli(&[
            "member",
            "remove",
            "--organization",
            &org_key,
            "--email",
            &invitees[0].email,
        ])
        .await
        .json();
        let whole = memberships
            .list_memberships(bearer(list(None, None), &owner.token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(whole.memberships.len(), 2);
        assert_eq!(whole.total_memberships, 2);
    })
    .await;
}

/// Every response has a byte budget, checked while it is written (protobuf on gRPC, JSON on
/// REST): past it a list is refused whole with TOO_MANY_RESULTS, never cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_over_the_byte_budget_are_refused_whole() {
    const BUDGET: usize = 8 * 1024;
    for_each_backend_with(
        |c| c.max_response_bytes = BUDGET,
        |app| async move {
            let owner = app.user("budget").await;
            let make = |i: usize| {
                json!({"name": format!("Big {i}"), "timezone": "Europe/Berlin",
                       "description": "d".repeat(1500)})
            };
            let first = app.create_org(&owner.token, make(0)).await;
            app.create_org(&owner.token, make(1)).await;
            // Two fit, on both surfaces.
            let list = |app: App, token: String| async move {
                app.rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::Bearer(&token),
                    None,
                )
                .await
            };
            let r = list(app.clone(), owner.token.clone()).await;
            r.assert_status(200);
            assert!(r.text.len() <= BUDGET, "{}", r.text.len());
            let mut orgs = app.organizations().await;
            let got = orgs
                .get_organizations(bearer(GetOrganizationsRequest {}, &owner.token))
                .await
                .unwrap();
            assert_eq!(got.get_ref().organizations.len(), 2);

            for i in 2..8 {
                app.create_org(&owner.token, make(i)).await;
            }
            // Eight do not: refused, not cut.
            let r = list(app.clone(), owner.token.clone()).await;
            r.assert_error(409, "TOO_MANY_RESULTS");
            let status = orgs
                .get_organizations(bearer(GetOrganizationsRequest {}, &owner.token))
                .await
                .expect_err("over the byte budget");
            assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
            let details = tonic_types::StatusExt::get_error_details(&status);
            assert_eq!(details.error_info().unwrap().reason, "TOO_MANY_RESULTS");
            // A page and a single organization are within it.
            let r = app
                .rest(
                    Method::GET,
                    "/api/v1/organizations/paginated?limit=2&offset=0",
                    Auth::Bearer(&owner.token),
                    None,
                )
                .await;
            r.assert_status(200);
            app.get_org_json(&owner.token, id_of(&first)).await;
        },
    )
    .await;
}

/// An organization has at most `max_children` children and a user belongs to at most
/// `max_organizations_per_user` organizations when creating one; past either, 409 /
/// FAILED_PRECONDITION with a reason of its own, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_and_organizations_per_user_are_bounded() {
    for_each_backend_with(
        |c| {
            c.max_children = 2;
            c.max_organizations_per_user = 4;
        },
        |app| async move {
            let owner = app.user("quota").await;
            let root = id_of(&app.org(&owner.token, "Root").await);
            app.child_org(&owner.token, root, "C1").await;
            app.child_org(&owner.token, root, "C2").await;
            let r = app
                .rest(
                    Method::POST,
                    "/api/v1/organization",
                    Auth::Bearer(&owner.token),
                    Some(&json!({"name": "C3", "timezone": "Europe/Berlin", "parentID": root})),
                )
                .await;
            r.assert_error(409, "TOO_MANY_CHILDREN");
            // A fourth organization, at the root; then moving it under the full parent is
            // refused too.
            let other = app.org(&owner.token, "Other").await;
            let mut moved = other.clone();
            moved["parentID"] = json!(root);
            app.rest(
                Method::PUT,
                "/api/v1/organization",
                Auth::Bearer(&owner.token),
                Some(&moved),
            )
            .await
            .assert_error(409, "TOO_MANY_CHILDREN");
            // The user belongs to four: a fifth is refused on every surface.
            let r = app
                .rest(
                    Method::POST,
                    "/api/v1/organization",
                    Auth::Bearer(&owner.token),
                    Some(&json!({"name": "Fifth", "timezone": "Europe/Berlin"})),
                )
                .await;
            r.assert_error(409, "TOO_MANY_ORGANIZATIONS");
            let mut orgs = app.organizations().await;
            let status = orgs
                .create_organization(bearer(
                    CreateOrganizationRequest {
                        organization: Some(Organization {
                            name: "Fifth".into(),
                            timezone: "Europe/Berlin".into(),
                            ..Default::default()
                        }),
                    },
                    &owner.token,
                ))
                .await
                .expect_err("one organization too many");
            assert_eq!(status.code(), tonic::Code::FailedPrecondition);
            let details = tonic_types::StatusExt::get_error_details(&status);
            assert_eq!(
                details.error_info().unwrap().reason,
                "TOO_MANY_ORGANIZATIONS"
            );
            let listed = app
                .rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::Bearer(&owner.token),
                    None,
                )
                .await;
            assert_eq!(listed.json.as_array().unwrap().len(), 4);
            assert!(
                listed
                    .json
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|o| o["id"] != moved["id"] || o["parentID"] != json!(root)),
                "the move was not stored"
            );
        },
    )
    .await;
}
