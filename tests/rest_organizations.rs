//! The GroupAlarm Organization API (`/api/v1`) over REST/JSON: CRUD, the JSON shape, every
//! status code of the slice with its error body, the token forms and the hierarchy rules.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

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
async fn name_of_255_characters_is_accepted() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        // 255 characters, 510 bytes: the limit counts characters.
        let name: String = "ä".repeat(255);
        let org = app
            .create_org(
                &owner.token,
                json!({"name": name, "timezone": "UTC", "language": "en"}),
            )
            .await;
        assert_eq!(org["name"], json!(name));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_400_and_creates_nothing() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let auth = || Auth::Bearer(&owner.token);
        let cases: Vec<(&str, String)> = vec![
            ("malformed JSON", r#"{"name": "#.to_string()),
            ("not an object", r#"[1, 2, 3]"#.to_string()),
            ("name is a number", r#"{"name": 5}"#.to_string()),
            (
                "dataRetentionPeriod is a string",
                r#"{"name": "x", "dataRetentionPeriod": "x"}"#.to_string(),
            ),
            (
                "tags is not an array",
                r#"{"name": "x", "tags": "a"}"#.to_string(),
            ),
            ("name missing", r#"{"timezone": "UTC"}"#.to_string()),
            ("name empty", r#"{"name": ""}"#.to_string()),
            ("name blank", r#"{"name": "   "}"#.to_string()),
            (
                "name too long",
                json!({"name": "x".repeat(256)}).to_string(),
            ),
            (
                "invalid timezone",
                json!({"name": "x", "timezone": "Mars/Olympus"}).to_string(),
            ),
            (
                "invalid language",
                json!({"name": "x", "language": "not a language!"}).to_string(),
            ),
            (
                "negative dataRetentionPeriod",
                json!({"name": "x", "dataRetentionPeriod": -1}).to_string(),
            ),
        ];
        for (what, body) in cases {
            let r = app
                .rest_raw(Method::POST, "/api/v1/organization", auth(), &body)
                .await;
            assert_eq!(
                r.status.as_u16(),
                400,
                "{what}: expected 400, got {} {}",
                r.status,
                r.text
            );
            r.assert_error(400, "INVALID_ARGUMENT");
        }
        let list = app
            .rest(Method::GET, "/api/v1/organizations", auth(), None)
            .await;
        list.assert_status(200);
        assert_eq!(list.json, json!([]), "no rejected request created anything");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_update_is_400_and_changes_nothing() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Stable").await;
        let id = id_of(&org);
        let auth = || Auth::Bearer(&owner.token);
        let cases: Vec<(&str, String)> = vec![
            ("malformed JSON", format!(r#"{{"id": {id}, "name": "#)),
            ("name is a number", format!(r#"{{"id": {id}, "name": 5}}"#)),
            (
                "dataRetentionPeriod is a string",
                format!(r#"{{"id": {id}, "name": "x", "dataRetentionPeriod": "x"}}"#),
            ),
            (
                "id is not a number",
                r#"{"id": "abc", "name": "x"}"#.to_string(),
            ),
            ("name empty", json!({"id": id, "name": ""}).to_string()),
            (
                "name too long",
                json!({"id": id, "name": "y".repeat(256)}).to_string(),
            ),
            (
                "invalid timezone",
                json!({"id": id, "name": "x", "timezone": "Mars/Olympus"}).to_string(),
            ),
            (
                "invalid language",
                json!({"id": id, "name": "x", "language": "not a language!"}).to_string(),
            ),
            (
                "negative dataRetentionPeriod",
                json!({"id": id, "name": "x", "dataRetentionPeriod": -3}).to_string(),
            ),
        ];
        for (what, body) in cases {
            let r = app
                .rest_raw(Method::PUT, "/api/v1/organization", auth(), &body)
                .await;
            assert_eq!(
                r.status.as_u16(),
                400,
                "{what}: expected 400, got {} {}",
                r.status,
                r.text
            );
            r.assert_error(400, "INVALID_ARGUMENT");
        }
        let after = app.get_org(auth(), id).await;
        after.assert_status(200);
        assert_eq!(after.json, org, "rejected updates changed nothing");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_numeric_path_id_is_400() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Kept").await;
        for path in [
            "/api/v1/organization/abc",
            "/api/v1/organization/1.5",
            // Beyond int64.
            "/api/v1/organization/99999999999999999999",
        ] {
            app.rest(Method::GET, path, Auth::Bearer(&owner.token), None)
                .await
                .assert_error(400, "INVALID_ARGUMENT");
        }
        app.rest(
            Method::DELETE,
            "/api/v1/organization/abc",
            Auth::Bearer(&owner.token),
            None,
        )
        .await
        .assert_error(400, "INVALID_ARGUMENT");
        let after = app.get_org(Auth::Bearer(&owner.token), id_of(&org)).await;
        after.assert_status(200);
        assert_eq!(after.json, org);
    })
    .await;
}

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
