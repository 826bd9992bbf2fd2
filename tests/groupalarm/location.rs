//! The organization's location: upsert, replace, delete, and out-of-range coordinates.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_upsert_replace_and_delete() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Located").await);
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(org["location"], json!({"address": "", "latitude": 0.0, "longitude": 0.0}));

        let loc = json!({"address": "Alexanderplatz 1, Berlin", "latitude": 52.5219, "longitude": 13.4132});
        let r = app
            .rest(Method::PUT, &org_path(id, "/location"), Auth::Bearer(&owner.token), Some(&loc))
            .await;
        expect_status(&r, 200, "upsert");
        assert_eq!(r.json, loc, "the location JSON comes back");
        let got = app.org_json(&owner.token, id).await;
        assert_eq!(got["location"], loc);
        for key in ORGANIZATION_KEYS.iter().filter(|k| **k != "location") {
            assert_eq!(got[*key], org[*key], "setting the location keeps {key}");
        }

        // Replace, at the extremes of the ranges and with a 255-character address.
        let loc2 = json!({"address": "ß".repeat(255), "latitude": -90.0, "longitude": 180.0});
        let r = app
            .rest(Method::PUT, &org_path(id, "/location"), Auth::Bearer(&owner.token), Some(&loc2))
            .await;
        expect_status(&r, 200, "replace");
        assert_eq!(r.json, loc2);
        assert_eq!(app.org_json(&owner.token, id).await["location"], loc2);
        let loc3 = json!({"address": "North pole", "latitude": 90.0, "longitude": -180.0});
        let r = app
            .rest(Method::PUT, &org_path(id, "/location"), Auth::Bearer(&owner.token), Some(&loc3))
            .await;
        expect_status(&r, 200, "other extremes");
        assert_eq!(app.org_json(&owner.token, id).await["location"], loc3);

        // A member sees it too.
        let member = app.user("member").await;
        app.member_add(id, &member.email, "member").await;
        assert_eq!(app.org_json(&member.token, id).await["location"], loc3);

        let r = app
            .rest(Method::DELETE, &org_path(id, "/location"), Auth::Bearer(&owner.token), None)
            .await;
        assert_empty_200(&r, "delete location");
        let got = app.org_json(&owner.token, id).await;
        assert_eq!(got["location"], json!({"address": "", "latitude": 0.0, "longitude": 0.0}));
        assert_eq!(got, org, "back to the original organization");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_out_of_range_is_400_and_stores_nothing() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Bounded").await);
        let fresh = app.org_json(&owner.token, id).await;
        let cases: Vec<(&str, String)> = vec![
            (
                "latitude > 90",
                json!({"address": "a", "latitude": 90.0001, "longitude": 0.0}).to_string(),
            ),
            (
                "latitude < -90",
                json!({"address": "a", "latitude": -90.5, "longitude": 0.0}).to_string(),
            ),
            (
                "longitude > 180",
                json!({"address": "a", "latitude": 0.0, "longitude": 180.5}).to_string(),
            ),
            (
                "longitude < -180",
                json!({"address": "a", "latitude": 0.0, "longitude": -181.0}).to_string(),
            ),
            (
                "address of 256 characters",
                json!({"address": "x".repeat(256), "latitude": 0.0, "longitude": 0.0}).to_string(),
            ),
            (
                "latitude is a string",
                r#"{"address": "a", "latitude": "north", "longitude": 0}"#.to_string(),
            ),
            ("not an object", "[1, 2]".to_string()),
            ("malformed JSON", r#"{"address": "#.to_string()),
        ];
        // Without a location, then with one: a rejected upsert stores nothing either way.
        for round in 0..2 {
            let before = app.org_json(&owner.token, id).await;
            for (what, body) in &cases {
                let r = app
                    .rest_raw(
                        Method::PUT,
                        &org_path(id, "/location"),
                        Auth::Bearer(&owner.token),
                        body,
                    )
                    .await;
                expect_error(&r, 400, "INVALID_ARGUMENT", what);
            }
            let after = app.org_json(&owner.token, id).await;
            assert_eq!(
                after, before,
                "round {round}: rejected upserts changed nothing"
            );
            if round == 0 {
                assert_eq!(after, fresh);
                let r = app
                    .rest(
                        Method::PUT,
                        &org_path(id, "/location"),
                        Auth::Bearer(&owner.token),
                        Some(&json!({"address": "Valid", "latitude": 10.0, "longitude": 20.0})),
                    )
                    .await;
                expect_status(&r, 200, "valid upsert");
            }
        }
        expect_error(
            &app.rest(
                Method::PUT,
                "/api/v1/organization/abc/location",
                Auth::Bearer(&owner.token),
                Some(&json!({"address": "a", "latitude": 0.0, "longitude": 0.0})),
            )
            .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric id",
        );
    })
    .await;
}
