//! Paginated organizations: the caller's top-level organizations, page by page, and the
//! bounds of the page parameters.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_organizations_are_the_callers_top_level() {
    for_each_backend(|app| async move {
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        let a1 = id_of(&app.org(&alice.token, "A1").await);
        let _a1c = id_of(&app.child_org(&alice.token, a1, "A1 child").await);
        let a2 = id_of(&app.org(&alice.token, "A2").await);
        let a3 = id_of(&app.org(&alice.token, "A3").await);
        let b = id_of(&app.org(&bob.token, "B").await);
        let bc = id_of(&app.child_org(&bob.token, b, "B child").await);
        let _b2 = id_of(&app.org(&bob.token, "B2").await);
        app.member_add(bc, &alice.email, "member").await;

        let page = |q: &str, token: &str| {
            let app = app.clone();
            let token = token.to_string();
            let path = format!("/api/v1/organizations/paginated{q}");
            async move { app.get(&path, Auth::Bearer(&token)).await }
        };
        let r = page("", &alice.token).await;
        expect_status(&r, 200, "default");
        let obj = r.json.as_object().expect("object");
        assert!(
            obj.contains_key("organizations") && obj.contains_key("totalOrganizations"),
            "{}",
            r.json
        );
        let top = vec![a1, a2, a3, bc];
        assert_eq!(
            ids_of(&r.json["organizations"]),
            top,
            "top level from alice's view, by id"
        );
        assert_eq!(r.json["totalOrganizations"], json!(4));
        for org in r.json["organizations"].as_array().unwrap() {
            assert_organization_shape(org);
        }
        assert_eq!(
            without_counts(&r.json["organizations"][0]),
            without_counts(&app.org_json(&alice.token, a1).await)
        );

        let r = page("?limit=2", &alice.token).await;
        expect_status(&r, 200, "limit 2");
        assert_eq!(ids_of(&r.json["organizations"]), top[..2].to_vec());
        assert_eq!(r.json["totalOrganizations"], json!(4));
        let r = page("?limit=2&offset=2", &alice.token).await;
        expect_status(&r, 200, "second page");
        assert_eq!(ids_of(&r.json["organizations"]), top[2..].to_vec());
        assert_eq!(r.json["totalOrganizations"], json!(4));
        let r = page("?offset=4", &alice.token).await;
        expect_status(&r, 200, "past the end");
        assert_eq!(r.json["organizations"], json!([]));
        assert_eq!(r.json["totalOrganizations"], json!(4));
        let r = page("?all=true&limit=1&offset=3", &alice.token).await;
        expect_status(&r, 200, "all");
        assert_eq!(
            ids_of(&r.json["organizations"]),
            top,
            "all ignores limit and offset"
        );
        assert_eq!(r.json["totalOrganizations"], json!(4));

        // Once alice can see B, B is top level and its child no longer is.
        app.member_add(b, &alice.email, "member").await;
        let r = page("", &alice.token).await;
        expect_status(&r, 200, "after joining B");
        assert_eq!(ids_of(&r.json["organizations"]), vec![a1, a2, a3, b]);
        assert_eq!(r.json["totalOrganizations"], json!(4));

        // The organization API token sees its organization as its top level.
        let api = app.organization_token(a1).await;
        let r = app
            .get("/api/v1/organizations/paginated", Auth::ApiToken(&api))
            .await;
        expect_status(&r, 200, "API token");
        assert_eq!(ids_of(&r.json["organizations"]), vec![a1]);
        assert_eq!(r.json["totalOrganizations"], json!(1));

        // Services read single organizations, not a caller's list.
        let service = app.service_token("svc").await;
        expect_error(
            &app.get("/api/v1/organizations/paginated", Auth::Bearer(&service))
                .await,
            403,
            "PERMISSION_DENIED",
            "service",
        );

        // Nothing for a user without organizations.
        let carol = app.user("carol").await;
        let r = page("", &carol.token).await;
        expect_status(&r, 200, "carol");
        assert_eq!(
            r.json,
            json!({"organizations": [], "totalOrganizations": 0})
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_organizations_limits() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let mut ids = Vec::new();
        for i in 0..12 {
            ids.push(id_of(&app.org(&owner.token, &format!("Org {i:02}")).await));
        }
        ids.sort();
        let page = |q: &str| {
            let app = app.clone();
            let token = owner.token.clone();
            let path = format!("/api/v1/organizations/paginated{q}");
            async move { app.get(&path, Auth::Bearer(&token)).await }
        };
        let r = page("").await;
        expect_status(&r, 200, "default");
        assert_eq!(
            ids_of(&r.json["organizations"]),
            ids[..10].to_vec(),
            "default limit 10"
        );
        assert_eq!(r.json["totalOrganizations"], json!(12));
        let r = page("?offset=10").await;
        expect_status(&r, 200, "offset 10");
        assert_eq!(ids_of(&r.json["organizations"]), ids[10..].to_vec());
        let r = page("?limit=50").await;
        expect_status(&r, 200, "limit 50");
        assert_eq!(ids_of(&r.json["organizations"]), ids);
        let r = page("?limit=1&offset=11").await;
        expect_status(&r, 200, "limit 1");
        assert_eq!(ids_of(&r.json["organizations"]), vec![ids[11]]);
        let r = page("?all=true").await;
        expect_status(&r, 200, "all");
        assert_eq!(
            ids_of(&r.json["organizations"]),
            ids,
            "all returns more than the default limit"
        );
        let r = page("?all=false&limit=3").await;
        expect_status(&r, 200, "all=false");
        assert_eq!(ids_of(&r.json["organizations"]), ids[..3].to_vec());

        for q in [
            "?limit=0",
            "?limit=51",
            "?limit=-1",
            "?limit=x",
            "?offset=-1",
            "?offset=x",
        ] {
            expect_error(&page(q).await, 400, "INVALID_ARGUMENT", q);
        }
    })
    .await;
}
