//! Request sizes: bodies over a mebibyte (413 on every surface), the avatar's mebibyte, and
//! long URIs and huge headers (414, 431).

use super::*;

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_a_mebibyte_are_413_on_every_surface() {
    for_each_backend(|app| async move {
        let owner = app.user("big").await;
        let oversized = format!(r#"{{"name": "{}"}}"#, "x".repeat(MIB));
        let r = app
            .rest_raw(
                Method::POST,
                "/api/v1/organization",
                Auth::Bearer(&owner.token),
                &oversized,
            )
            .await;
        r.assert_error(413, "PAYLOAD_TOO_LARGE");
        // Nothing was created.
        let listed = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        listed.assert_status(200);
        assert_eq!(listed.json, json!([]));
        // The other surfaces answer in their dialects, with the same status.
        let r = app
            .rest_raw(
                Method::POST,
                "/api/v5/outgoing_invitations",
                Auth::Token(&owner.token),
                &oversized,
            )
            .await;
        assert_eq!(r.status, 413, "{:?}", r.json);
        let r = app
            .rest_raw(
                Method::POST,
                "/v1/partners",
                Auth::Bearer(&owner.token),
                &oversized,
            )
            .await;
        assert_eq!(r.status, 413, "{:?}", r.json);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avatar_may_hold_one_mebibyte_of_image_and_no_more() {
    use base64::Engine;
    for_each_backend(|app| async move {
        let owner = app.user("avatar").await;
        let id = app.org(&owner.token, "Pictured").await["id"]
            .as_i64()
            .unwrap();
        let image = |len: usize| {
            let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
            png.resize(len, 0);
            format!(
                "\"{}\"",
                base64::engine::general_purpose::STANDARD.encode(png)
            )
        };
        let path = format!("/api/v1/organization/{id}/avatar");
        let r = app
            .rest_raw(Method::PUT, &path, Auth::Bearer(&owner.token), &image(MIB))
            .await;
        r.assert_status(200);
        let r = app
            .rest_raw(
                Method::PUT,
                &path,
                Auth::Bearer(&owner.token),
                &image(MIB + 1),
            )
            .await;
        r.assert_error(413, "PAYLOAD_TOO_LARGE");
        // The accepted one is still there.
        let got = app
            .http
            .get(app.url(&format!("{path}?v=1")))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.unwrap().len(), MIB);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_uris_and_huge_headers_are_refused() {
    for_each_backend(|app| async move {
        let owner = app.user("long").await;
        let long = format!("/api/v1/organizations?pad={}", "a".repeat(9 * 1024));
        let r = app
            .http
            .get(app.url(&long))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 414);
        let r = app
            .http
            .get(app.url("/api/v1/organizations"))
            .bearer_auth(&owner.token)
            .header("x-padding", "b".repeat(20 * 1024))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 431);
    })
    .await;
}
