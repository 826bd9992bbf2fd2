//! Organization input: the longest name, bad create and update bodies (400, nothing
//! changed), and a non-numeric path id.

use super::*;

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
