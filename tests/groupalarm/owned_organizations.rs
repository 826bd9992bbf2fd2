//! GroupAlarm's owners, as the 2019 spec publishes them: `GET /organizations/owner` (the
//! organizations whose ownerIDs hold the caller), and 403 from AddOwner and RemoveOwner for
//! every caller who may not change owners, with the owners left as they were.

use crate::common::*;
use orgd::proto::v1::*;
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;

async fn owned(app: &App, auth: Auth<'_>) -> Resp {
    app.rest(Method::GET, "/api/v1/organizations/owner", auth, None)
        .await
}

async fn owner_ids(app: &App, service: &str, id: i64) -> Value {
    app.get_org_json(service, id).await["ownerIDs"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_owner_lists_what_the_caller_owns() {
    for_each_backend(|app| async move {
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        let root = id_of(&app.org(&alice.token, "Root").await);
        let child = id_of(&app.child_org(&alice.token, root, "Child").await);
        let elsewhere = id_of(&app.org(&bob.token, "Bob's").await);
        // Alice is only a member (then an admin) of Bob's organization.
        app.member_add(elsewhere, &alice.email, "admin").await;
        // Bob co-owns Root and makes a grandchild there: Alice has Own over it through
        // Root, but is not one of its owners.
        let r = app
            .rest(
                Method::PUT,
                &format!("/api/v1/organization/{root}/owner/{}", bob.id),
                Auth::Bearer(&alice.token),
                None,
            )
            .await;
        r.assert_status(200);
        let grandchild = id_of(&app.child_org(&bob.token, child, "Grandchild").await);

        let r = owned(&app, Auth::Bearer(&alice.token)).await;
        r.assert_status(200);
        assert_eq!(ids_of(&r.json), vec![root, child], "{}", r.text);
        for org in r.json.as_array().unwrap() {
            assert_organization_shape(org);
            assert!(
                org["ownerIDs"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(alice.id))
            );
        }
        // The same organizations, field for field, as GET /organization/{id} answers.
        assert_eq!(r.json[0], app.get_org_json(&alice.token, root).await);
        let r = owned(&app, Auth::Bearer(&bob.token)).await;
        r.assert_status(200);
        assert_eq!(ids_of(&r.json), vec![root, elsewhere, grandchild]);
        // The Personal-Access-Token header form is the same person.
        let pat = app.personal_token(&bob.email).await;
        let r = owned(&app, Auth::PersonalAccessToken(&pat)).await;
        r.assert_status(200);
        assert_eq!(ids_of(&r.json), vec![root, elsewhere, grandchild]);

        // A user who owns nothing gets an empty array.
        let carol = app.user("carol").await;
        app.member_add(root, &carol.email, "member").await;
        let r = owned(&app, Auth::Bearer(&carol.token)).await;
        r.assert_status(200);
        assert_eq!(r.json, json!([]));

        // Removing an owner takes the organization off their list.
        let r = app
            .rest(
                Method::DELETE,
                &format!("/api/v1/organization/{root}/owner/{}", bob.id),
                Auth::Bearer(&alice.token),
                None,
            )
            .await;
        r.assert_status(200);
        let r = owned(&app, Auth::Bearer(&bob.token)).await;
        assert_eq!(ids_of(&r.json), vec![elsewhere, grandchild]);

        // People only: an organization API token or a service has no owned organizations
        // to list (403), and without a token it is 401.
        let api = app.organization_token(root).await;
        owned(&app, Auth::ApiToken(&api))
            .await
            .assert_error(403, "PERMISSION_DENIED");
        let service = app.service_token("billing").await;
        owned(&app, Auth::Bearer(&service))
            .await
            .assert_error(403, "PERMISSION_DENIED");
        owned(&app, Auth::None)
            .await
            .assert_error(401, "UNAUTHENTICATED");

        // gRPC: the same RPC.
        let mut grpc = app.organizations().await;
        let got = grpc
            .get_owned_organizations(bearer(GetOwnedOrganizationsRequest {}, &alice.token))
            .await
            .expect("GetOwnedOrganizations")
            .into_inner();
        let ids: Vec<i64> = got.organizations.iter().map(|o| o.id).collect();
        assert_eq!(ids, vec![root, child]);
        let denied = grpc
            .get_owned_organizations(bearer(GetOwnedOrganizationsRequest {}, &service))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_owner_is_refused_rather_than_cut_short() {
    for_each_backend_with(
        |config| config.max_unpaged_items = 2,
        |app| async move {
            let owner = app.user("owner").await;
            let a = id_of(&app.org(&owner.token, "One").await);
            let b = id_of(&app.org(&owner.token, "Two").await);
            let r = owned(&app, Auth::Bearer(&owner.token)).await;
            r.assert_status(200);
            assert_eq!(ids_of(&r.json), vec![a, b]);
            app.org(&owner.token, "Three").await;
            let r = owned(&app, Auth::Bearer(&owner.token)).await;
            assert_eq!(r.status.as_u16(), 409, "{}", r.text);
            assert!(r.text.contains("paginated"), "says how to page: {}", r.text);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_remove_owner_answer_403_to_callers_who_may_not_change_owners() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let root = id_of(&app.org(&owner.token, "Root").await);
        let child = id_of(&app.child_org(&owner.token, root, "Child").await);
        let member = app.user("member").await;
        app.member_add(root, &member.email, "member").await;
        let admin = app.user("admin").await;
        app.member_add(root, &admin.email, "admin").await;
        // Owns the child only: no say over the parent's owners.
        let child_owner = app.user("child-owner").await;
        app.member_add(child, &child_owner.email, "owner").await;
        let stranger = app.user("stranger").await;
        let other = id_of(&app.org(&stranger.token, "Other").await);
        let foreign = app.organization_token(other).await;
        let child_token = app.organization_token(child).await;
        let service = app.service_token("billing").await;
        let service_owners = app.service_token("reader").await;
        let before = owner_ids(&app, &service_owners, root).await;
        let outsider = app.user("outsider").await;

        let callers: Vec<(&str, Auth<'_>)> = vec![
            ("member", Auth::Bearer(&member.token)),
            ("admin", Auth::Bearer(&admin.token)),
            ("owner of the child only", Auth::Bearer(&child_owner.token)),
            ("stranger", Auth::Bearer(&stranger.token)),
            ("another organization's API token", Auth::ApiToken(&foreign)),
            ("the child's API token", Auth::ApiToken(&child_token)),
            ("service", Auth::Bearer(&service)),
        ];
        for (who, auth) in &callers {
            for (method, target, what) in [
                (Method::PUT, outsider.id, "AddOwner"),
                (Method::PUT, member.id, "AddOwner of a member"),
                (Method::PUT, 999_999, "AddOwner of a missing user"),
                (Method::DELETE, owner.id, "RemoveOwner"),
                (Method::DELETE, 999_999, "RemoveOwner of a missing user"),
            ] {
                let r = app
                    .rest(
                        method.clone(),
                        &format!("/api/v1/organization/{root}/owner/{target}"),
                        auth.clone(),
                        None,
                    )
                    .await;
                assert_eq!(r.status.as_u16(), 403, "{what} by {who}: {}", r.text);
                r.assert_error(403, "PERMISSION_DENIED");
            }
            if !matches!(auth, Auth::Bearer(t) if *t == service) {
                // Permission before existence: a missing organization is 403 too.
                for method in [Method::PUT, Method::DELETE] {
                    let r = app
                        .rest(
                            method,
                            &format!("/api/v1/organization/999999/owner/{}", owner.id),
                            auth.clone(),
                            None,
                        )
                        .await;
                    r.assert_error(403, "PERMISSION_DENIED");
                }
            }
        }
        assert_eq!(
            owner_ids(&app, &service_owners, root).await,
            before,
            "owners unchanged"
        );
        app.rest(
            Method::PUT,
            &format!("/api/v1/organization/{root}/owner/{}", outsider.id),
            Auth::None,
            None,
        )
        .await
        .assert_error(401, "UNAUTHENTICATED");

        // gRPC: PERMISSION_DENIED, the same rule.
        let mut grpc = app.organizations().await;
        let add = grpc
            .add_owner(bearer(
                AddOwnerRequest {
                    organization_id: root,
                    user_id: outsider.id,
                },
                &admin.token,
            ))
            .await
            .unwrap_err();
        assert_eq!(add.code(), Code::PermissionDenied);
        let remove = grpc
            .remove_owner(bearer(
                RemoveOwnerRequest {
                    organization_id: root,
                    user_id: owner.id,
                },
                &child_owner.token,
            ))
            .await
            .unwrap_err();
        assert_eq!(remove.code(), Code::PermissionDenied);
        assert_eq!(owner_ids(&app, &service_owners, root).await, before);

        // Whoever may: an owner, and the organization's own API token (Own in its subtree).
        let r = app
            .rest(
                Method::PUT,
                &format!("/api/v1/organization/{root}/owner/{}", outsider.id),
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        r.assert_status(200);
        let root_token = app.organization_token(root).await;
        let r = app
            .rest(
                Method::DELETE,
                &format!("/api/v1/organization/{root}/owner/{}", outsider.id),
                Auth::ApiToken(&root_token),
                None,
            )
            .await;
        r.assert_status(200);
        assert_eq!(owner_ids(&app, &service_owners, root).await, before);

        // The OpenAPI document publishes the 403 of both.
        let doc: Value = app
            .http
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let path = &doc["paths"]["/api/v1/organization/{organizationID}/owner/{userID}"];
        for method in ["put", "delete"] {
            assert!(
                path[method]["responses"]["403"].is_object(),
                "{method}: {path}"
            );
        }
        let owned_op = &doc["paths"]["/api/v1/organizations/owner"]["get"];
        assert!(owned_op["responses"]["200"].is_object(), "{owned_op}");
    })
    .await;
}
