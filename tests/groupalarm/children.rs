//! Child organizations: `GET /api/v1/organization/{id}/children` lists the direct children
//! with the path from the caller's topmost organization and the total, paginated.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_lists_direct_children_with_the_path_and_total() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let root = app.org(&owner.token, "Root").await;
        let r = id_of(&root);
        let c1 = id_of(&app.child_org(&owner.token, r, "C1").await);
        let c2 = id_of(&app.child_org(&owner.token, r, "C2").await);
        let g = id_of(&app.child_org(&owner.token, c1, "G").await);
        let c3 = id_of(&app.child_org(&owner.token, r, "C3").await);

        let body = app.get_ok(&org_path(r, "/children"), &owner.token).await;
        let obj = body.as_object().expect("object");
        for key in ["childs", "path", "totalChilds"] {
            assert!(
                obj.contains_key(key),
                "children response lacks {key}: {body}"
            );
        }
        assert_eq!(
            ids_of(&body["childs"]),
            vec![c1, c2, c3],
            "direct children only, ordered by id"
        );
        for child in body["childs"].as_array().unwrap() {
            assert_organization_shape(child);
            assert_eq!(child["parentID"], json!(r));
        }
        assert_eq!(body["childs"][0]["hasChildren"], json!(true));
        assert_eq!(body["totalChilds"], json!(3));
        assert_eq!(ids_of(&body["path"]), vec![r], "the root's path is itself");
        let fresh_root = app.org_json(&owner.token, r).await;
        assert_eq!(
            without_counts(&body["path"][0]),
            without_counts(&fresh_root)
        );

        // A grandchild: path root → child → grandchild, no children.
        let body = app.get_ok(&org_path(g, "/children"), &owner.token).await;
        assert_eq!(body["childs"], json!([]));
        assert_eq!(body["totalChilds"], json!(0));
        assert_eq!(ids_of(&body["path"]), vec![r, c1, g]);
        for org in body["path"].as_array().unwrap() {
            assert_organization_shape(org);
        }

        let body = app.get_ok(&org_path(c1, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["childs"]), vec![g]);
        assert_eq!(ids_of(&body["path"]), vec![r, c1]);
        assert_eq!(body["totalChilds"], json!(1));

        // Readers: a member of the child, the org's API token, a service.
        let member = app.user("member").await;
        app.member_add(c1, &member.email, "member").await;
        let member_view = app.get_ok(&org_path(c1, "/children"), &member.token).await;
        assert_eq!(ids_of(&member_view["childs"]), vec![g]);
        assert_eq!(member_view["totalChilds"], json!(1));
        let api = app.organization_token(r).await;
        let rr = app
            .get(&org_path(c1, "/children"), Auth::ApiToken(&api))
            .await;
        expect_status(&rr, 200, "API token of the root");
        assert_eq!(ids_of(&rr.json["childs"]), vec![g]);
        let service = app.service_token("reporting").await;
        let rr = app
            .get(&org_path(r, "/children"), Auth::Bearer(&service))
            .await;
        expect_status(&rr, 200, "service");
        assert_eq!(rr.json["totalChilds"], json!(3));
        expect_error(
            &app.get(&org_path(MISSING, "/children"), Auth::Bearer(&service))
                .await,
            404,
            "NOT_FOUND",
            "service, missing organization",
        );
        // The member of the child cannot read the root's children.
        expect_error(
            &app.get(&org_path(r, "/children"), Auth::Bearer(&member.token))
                .await,
            403,
            "PERMISSION_DENIED",
            "member of a child reading the parent",
        );
        let _ = c2;
        // The path stops where the caller's access does: a reader of the child only does
        // not learn about the root (tenant isolation holds inside a tree too).
        assert_eq!(
            ids_of(&member_view["path"]),
            vec![c1],
            "path for a member of the child: {member_view}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_pagination_defaults_and_bounds() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let r = id_of(&app.org(&owner.token, "Many").await);
        let mut children = Vec::new();
        for i in 0..52 {
            children.push(id_of(
                &app.child_org(&owner.token, r, &format!("Child {i}")).await,
            ));
        }
        children.sort();
        let page = |q: &str| {
            let app = app.clone();
            let token = owner.token.clone();
            let path = org_path(r, &format!("/children{q}"));
            async move { app.get(&path, Auth::Bearer(&token)).await }
        };

        let body = page("").await;
        expect_status(&body, 200, "default page");
        assert_eq!(
            ids_of(&body.json["childs"]),
            children[..50].to_vec(),
            "default limit 50"
        );
        assert_eq!(body.json["totalChilds"], json!(52));
        assert_eq!(ids_of(&body.json["path"]), vec![r]);

        let body = page("?limit=2&offset=50").await;
        expect_status(&body, 200, "last page");
        assert_eq!(ids_of(&body.json["childs"]), children[50..].to_vec());
        assert_eq!(body.json["totalChilds"], json!(52));

        let body = page("?limit=3&offset=4").await;
        expect_status(&body, 200, "middle page");
        assert_eq!(ids_of(&body.json["childs"]), children[4..7].to_vec());

        let body = page("?limit=100").await;
        expect_status(&body, 200, "limit 100");
        assert_eq!(ids_of(&body.json["childs"]), children);

        let body = page("?limit=1").await;
        expect_status(&body, 200, "limit 1");
        assert_eq!(ids_of(&body.json["childs"]), vec![children[0]]);

        let body = page("?offset=60").await;
        expect_status(&body, 200, "offset past the end");
        assert_eq!(body.json["childs"], json!([]));
        assert_eq!(body.json["totalChilds"], json!(52));

        for q in [
            "?limit=0",
            "?limit=101",
            "?limit=-1",
            "?limit=x",
            "?offset=-1",
            "?offset=x",
        ] {
            expect_error(&page(q).await, 400, "INVALID_ARGUMENT", q);
        }
        expect_error(
            &app.get(
                "/api/v1/organization/abc/children",
                Auth::Bearer(&owner.token),
            )
            .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric id",
        );
    })
    .await;
}
