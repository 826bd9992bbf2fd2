//! Organizations over REST/JSON (`/api/v1/organization`): create (201 with the full
//! organization and its JSON shape), the CRUD round trip, the list of what the caller can
//! access, children and `hasChildren`, delete with children (409), and the billing state and an
//! expired trial as REST shows them.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_returns_201_with_the_full_organization() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let name = unique("Acme");
        let r = app
            .rest(
                Method::POST,
                "/api/v1/organization",
                Auth::Bearer(&owner.token),
                Some(&json!({
                    "name": name,
                    "description": "fire brigade",
                    "timezone": "Europe/Berlin",
                    "language": "de",
                    "enforcesTwoFactorAuth": true,
                    "dataRetentionPeriod": 6,
                    "tags": ["north", "volunteer"],
                })),
            )
            .await;
        r.assert_status(201);
        let org = &r.json;
        assert_organization_shape(org);
        assert_eq!(org["name"], json!(name));
        assert_eq!(org["description"], json!("fire brigade"));
        assert_eq!(org["timezone"], json!("Europe/Berlin"));
        assert_eq!(org["language"], json!("de"));
        assert_eq!(org["enforcesTwoFactorAuth"], json!(true));
        assert_eq!(org["dataRetentionPeriod"], json!(6));
        assert_eq!(org["tags"], json!(["north", "volunteer"]));
        assert_eq!(org["parentID"], json!(0));
        assert_eq!(
            org["ownerIDs"],
            json!([owner.id]),
            "the caller becomes the owner"
        );
        assert_eq!(org["hasChildren"], json!(false));
        assert_eq!(
            org["state"],
            json!("trial"),
            "new organizations are in trial"
        );
        let created = utc(&org["creationDate"]);
        let trial_end = utc(&org["trialEndDate"]);
        let diff = (trial_end - created - chrono::Duration::days(14))
            .num_milliseconds()
            .abs();
        assert!(
            diff <= 1000,
            "trialEndDate = creationDate + 14 days: {created} .. {trial_end}"
        );

        // GET shows the same organization.
        let got = app.get_org(Auth::Bearer(&owner.token), id_of(org)).await;
        got.assert_status(200);
        assert_eq!(&got.json, org, "GET returns what POST returned");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_round_trip() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, &unique("Round trip")).await;
        let id = id_of(&org);

        // Update: writable fields change, read-only fields are ignored.
        let r = app
            .rest(
                Method::PUT,
                "/api/v1/organization",
                Auth::Bearer(&owner.token),
                Some(&json!({
                    "id": id,
                    "name": "Renamed",
                    "description": "new description",
                    "timezone": "America/New_York",
                    "language": "en-GB",
                    "enforcesTwoFactorAuth": true,
                    "dataRetentionPeriod": 12,
                    "tags": ["a"],
                    // read-only, must be ignored:
                    "uuid": uuid::Uuid::new_v4().to_string(),
                    "ownerIDs": [999_999],
                    "hasChildren": true,
                    "state": "active",
                    "creationDate": "2000-01-01T00:00:00Z",
                    "trialEndDate": "2100-01-01T00:00:00Z",
                    "avatarURL": "https://example.com/a.png",
                    "availableUsers": {"countAvailable": 5, "countInEvent": 1, "countNotAvailable": 2},
                    "availableUsersTotal": {"countAvailable": 5, "countInEvent": 1, "countNotAvailable": 2},
                })),
            )
            .await;
        r.assert_status(200);
        let updated = &r.json;
        assert_organization_shape(updated);
        assert_eq!(updated["id"], json!(id));
        assert_eq!(updated["name"], json!("Renamed"));
        assert_eq!(updated["description"], json!("new description"));
        assert_eq!(updated["timezone"], json!("America/New_York"));
        assert_eq!(updated["language"], json!("en-GB"));
        assert_eq!(updated["enforcesTwoFactorAuth"], json!(true));
        assert_eq!(updated["dataRetentionPeriod"], json!(12));
        assert_eq!(updated["tags"], json!(["a"]));
        for key in [
            "uuid",
            "ownerIDs",
            "hasChildren",
            "state",
            "creationDate",
            "trialEndDate",
            "avatarURL",
            "parentID",
        ] {
            assert_eq!(updated[key], org[key], "read-only {key} is ignored on update");
        }

        let got = app.get_org(Auth::Bearer(&owner.token), id).await;
        got.assert_status(200);
        assert_eq!(&got.json, updated, "GET shows the update");

        // List.
        let list = app
            .rest(Method::GET, "/api/v1/organizations", Auth::Bearer(&owner.token), None)
            .await;
        list.assert_status(200);
        assert_eq!(ids_of(&list.json), vec![id]);
        assert_organization_shape(&list.json[0]);
        assert_eq!(list.json[0], *updated);

        // Delete: 200 with an empty body, then gone.
        let del = app
            .rest(
                Method::DELETE,
                &format!("/api/v1/organization/{id}"),
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        del.assert_status(200);
        assert!(del.text.trim().is_empty(), "DELETE answers an empty body, got {:?}", del.text);

        let service = app.service_token("billing").await;
        app.get_org(Auth::Bearer(&service), id)
            .await
            .assert_error(404, "NOT_FOUND");
        let list = app
            .rest(Method::GET, "/api/v1/organizations", Auth::Bearer(&owner.token), None)
            .await;
        list.assert_status(200);
        assert_eq!(list.json, json!([]), "a deleted organization is not listed");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_lists_exactly_what_the_caller_can_access() {
    for_each_backend(|app| async move {
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        let a1 = id_of(&app.org(&alice.token, "A1").await);
        let a1_child = id_of(&app.child_org(&alice.token, a1, "A1 child").await);
        let a2 = id_of(&app.org(&alice.token, "A2").await);
        let b1 = id_of(&app.org(&bob.token, "B1").await);

        let list = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&alice.token),
                None,
            )
            .await;
        list.assert_status(200);
        let mut ids = ids_of(&list.json);
        ids.sort();
        assert_eq!(ids, vec![a1, a1_child, a2]);
        for org in list.json.as_array().unwrap() {
            assert_organization_shape(org);
        }

        // Bob is made a member of A2: he now sees B1 and A2.
        app.member_add(a2, &bob.email, "member").await;
        let list = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&bob.token),
                None,
            )
            .await;
        list.assert_status(200);
        let mut ids = ids_of(&list.json);
        ids.sort();
        assert_eq!(ids, vec![a2, b1]);

        // A user without organizations gets an empty array.
        let carol = app.user("carol").await;
        let list = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&carol.token),
                None,
            )
            .await;
        list.assert_status(200);
        assert_eq!(list.json, json!([]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_organizations_and_has_children() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let parent = app.org(&owner.token, "Parent").await;
        let pid = id_of(&parent);
        assert_eq!(parent["hasChildren"], json!(false));
        let child = app.child_org(&owner.token, pid, "Child").await;
        assert_organization_shape(&child);
        assert_eq!(child["parentID"], json!(pid), "parentID is a JSON number");
        assert_eq!(child["ownerIDs"], json!([owner.id]));
        let parent = app.get_org(Auth::Bearer(&owner.token), pid).await;
        parent.assert_status(200);
        assert_eq!(parent.json["hasChildren"], json!(true));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_with_children_is_409_and_keeps_both() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let parent = id_of(&app.org(&owner.token, "Parent").await);
        let child = id_of(&app.child_org(&owner.token, parent, "Child").await);
        let parent_before = app.get_org(Auth::Bearer(&owner.token), parent).await.json;

        app.rest(
            Method::DELETE,
            &format!("/api/v1/organization/{parent}"),
            Auth::Bearer(&owner.token),
            None,
        )
        .await
        .assert_error(409, "HAS_CHILDREN");

        let r = app.get_org(Auth::Bearer(&owner.token), parent).await;
        r.assert_status(200);
        assert_eq!(r.json, parent_before, "the refused delete changed nothing");
        app.get_org(Auth::Bearer(&owner.token), child)
            .await
            .assert_status(200);

        // Child first, then the parent.
        let r = app
            .rest(
                Method::DELETE,
                &format!("/api/v1/organization/{child}"),
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        r.assert_status(200);
        assert!(r.text.trim().is_empty());
        let r = app.get_org(Auth::Bearer(&owner.token), parent).await;
        assert_eq!(r.json["hasChildren"], json!(false));
        let r = app
            .rest(
                Method::DELETE,
                &format!("/api/v1/organization/{parent}"),
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        r.assert_status(200);
        let service = app.service_token("check").await;
        app.get_org(Auth::Bearer(&service), parent)
            .await
            .assert_error(404, "NOT_FOUND");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_state_shows_in_rest() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Billed").await;
        let id = id_of(&org);
        app.set_state(&id.to_string(), "inactive").await;
        let r = app.get_org(Auth::Bearer(&owner.token), id).await;
        r.assert_status(200);
        assert_eq!(r.json["state"], json!("inactive"));
        app.set_state(org["uuid"].as_str().unwrap(), "active").await;
        let r = app.get_org(Auth::Bearer(&owner.token), id).await;
        assert_eq!(r.json["state"], json!("active"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_trial_reads_inactive() {
    for_each_backend(|app| async move {
        use sea_orm::ConnectionTrait;
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Expiring").await;
        let id = id_of(&org);
        assert_eq!(org["state"], json!("trial"));

        // Move the trial's end into the past directly in the database (the schema of
        // migrations/m0001: organizations.trial_end_date).
        let conn = sea_orm::Database::connect(app.database_url.as_str())
            .await
            .expect("connect to the test database");
        let past = chrono::Utc::now() - chrono::Duration::days(1);
        let backend = conn.get_database_backend();
        let res = conn
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                match backend {
                    sea_orm::DatabaseBackend::Postgres => {
                        "UPDATE organizations SET trial_end_date = $1 WHERE id = $2"
                    }
                    _ => "UPDATE organizations SET trial_end_date = ? WHERE id = ?",
                },
                [past.into(), id.into()],
            ))
            .await
            .expect("update trial_end_date");
        assert_eq!(res.rows_affected(), 1);
        let _ = conn.close().await;

        let r = app.get_org(Auth::Bearer(&owner.token), id).await;
        r.assert_status(200);
        assert_eq!(
            r.json["state"],
            json!("inactive"),
            "an expired trial reads inactive"
        );
        assert!(!r.json["trialEndDate"].is_null());
    })
    .await;
}
