//! The trial: started once per user.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trial_starts_once_per_user() {
    for_each_backend(|app| async move {
        let user = app.user("trialist").await;
        let other = app.user("other").await;
        let r = app.get("/api/v1/trial", Auth::Bearer(&user.token)).await;
        expect_status(&r, 200, "status before");
        assert_eq!(
            r.json,
            json!({"active": false, "start": null, "userID": user.id})
        );

        let before = chrono::Utc::now() - chrono::Duration::seconds(60);
        let r = app
            .rest(
                Method::POST,
                "/api/v1/trial",
                Auth::Bearer(&user.token),
                None,
            )
            .await;
        expect_status(&r, 200, "start");
        assert_eq!(r.json["active"], json!(true));
        assert_eq!(r.json["userID"], json!(user.id));
        let start = utc(&r.json["start"]);
        assert!(start >= before, "start is now-ish: {start}");
        let started = r.json.clone();
        assert_eq!(started.as_object().unwrap().len(), 3, "{started}");

        let r = app
            .get("/api/v1/trial", Auth::PersonalAccessToken(&user.token))
            .await;
        expect_status(&r, 200, "status after");
        assert_eq!(r.json, started, "GET shows the started trial");

        expect_error(
            &app.rest(
                Method::POST,
                "/api/v1/trial",
                Auth::Bearer(&user.token),
                None,
            )
            .await,
            409,
            "TRIAL_ALREADY_STARTED",
            "second start",
        );
        assert_eq!(
            app.get("/api/v1/trial", Auth::Bearer(&user.token))
                .await
                .json,
            started,
            "unchanged"
        );

        // Per user: another user has not started one.
        let r = app.get("/api/v1/trial", Auth::Bearer(&other.token)).await;
        expect_status(&r, 200, "other user");
        assert_eq!(
            r.json,
            json!({"active": false, "start": null, "userID": other.id})
        );

        // Not for API tokens or services; not without a token.
        let org = id_of(&app.org(&other.token, "Tokened").await);
        let api = app.organization_token(org).await;
        let service = app.service_token("svc").await;
        for (what, auth) in [
            ("API-TOKEN", Auth::ApiToken(&api)),
            ("service", Auth::Bearer(&service)),
        ] {
            expect_error(
                &app.get("/api/v1/trial", auth.clone()).await,
                403,
                "PERMISSION_DENIED",
                what,
            );
            expect_error(
                &app.rest(Method::POST, "/api/v1/trial", auth, None).await,
                403,
                "PERMISSION_DENIED",
                what,
            );
        }
        for (what, auth) in [
            ("no token", Auth::None),
            ("unknown token", Auth::Bearer("nope")),
        ] {
            expect_error(
                &app.get("/api/v1/trial", auth.clone()).await,
                401,
                "UNAUTHENTICATED",
                what,
            );
            expect_error(
                &app.rest(Method::POST, "/api/v1/trial", auth, None).await,
                401,
                "UNAUTHENTICATED",
                what,
            );
        }
        let r = app.get("/api/v1/trial", Auth::Bearer(&other.token)).await;
        assert_eq!(
            r.json["active"],
            json!(false),
            "refused starts changed nothing"
        );
    })
    .await;
}
