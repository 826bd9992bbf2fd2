//! The organization's avatar: set, served behind `avatarURL` with its content type, replaced,
//! removed, and refused (not an image, too large) without losing the old one.

use super::*;

fn jpeg() -> Vec<u8> {
    vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
    ]
}

fn gif() -> Vec<u8> {
    unb64("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
}

/// A PNG padded with zeros after IEND to exactly `len` bytes.
fn png_of_len(len: usize) -> Vec<u8> {
    let mut p = png();
    assert!(len >= p.len());
    p.resize(len, 0);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_set_serve_replace_and_remove() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Pictured").await);
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(org["avatarURL"], "");
        expect_error(
            &app.get(&org_path(id, "/avatar"), Auth::Bearer(&owner.token))
                .await,
            404,
            "NOT_FOUND",
            "no avatar yet",
        );

        assert_empty_200(&app.put_avatar(&owner.token, id, &png()).await, "set PNG");
        let got = app.org_json(&owner.token, id).await;
        let url1 = got["avatarURL"]
            .as_str()
            .unwrap_or_else(|| panic!("avatarURL is set: {got}"))
            .to_string();
        // An absolute capability URL (avatar_url.rs); the checks below use
        // its path, and the token rules the plain path's.
        let prefix = "/api/v1/avatars/";
        let url1 = url1
            .strip_prefix(&app.endpoint())
            .unwrap_or_else(|| panic!("avatarURL is absolute: {url1}"))
            .to_string();
        assert!(
            url1.starts_with(prefix),
            "avatarURL is {prefix}<capability>: {url1}"
        );
        let plain = org_path(id, "/avatar");
        // Nothing else changed.
        for key in ORGANIZATION_KEYS.iter().filter(|k| **k != "avatarURL") {
            assert_eq!(got[*key], org[*key], "setting the avatar keeps {key}");
        }

        // The URL serves the exact bytes, with auth; the plain path too.
        let r = app.get(&url1, Auth::Bearer(&owner.token)).await;
        expect_status(&r, 200, "GET avatarURL");
        let (bytes, ct) = app.avatar_of(&owner.token, id).await.unwrap();
        assert_eq!(bytes, png(), "the exact bytes");
        assert!(ct.starts_with("image/png"), "content-type image/png: {ct}");
        let r = app
            .http
            .get(app.url(&org_path(id, "/avatar")))
            .header("Authorization", format!("Bearer {}", owner.token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.bytes().await.unwrap().to_vec(), png());
        expect_error(
            &app.get(&plain, Auth::None).await,
            401,
            "UNAUTHENTICATED",
            "GET avatar without a token",
        );

        // Readers: a member, the API token, a service; outsiders not.
        let member = app.user("member").await;
        app.member_add(id, &member.email, "member").await;
        let (bytes, _) = app.avatar_of(&member.token, id).await.unwrap();
        assert_eq!(bytes, png());
        let api = app.organization_token(id).await;
        expect_status(
            &app.get(&plain, Auth::ApiToken(&api)).await,
            200,
            "API token",
        );
        let service = app.service_token("cdn").await;
        expect_status(
            &app.get(&plain, Auth::Bearer(&service)).await,
            200,
            "service",
        );
        let outsider = app.user("outsider").await;
        expect_error(
            &app.get(&plain, Auth::Bearer(&outsider.token)).await,
            403,
            "PERMISSION_DENIED",
            "outsider",
        );

        // Replacing changes the URL's version and the bytes.
        assert_empty_200(&app.put_avatar(&owner.token, id, &jpeg()).await, "set JPEG");
        let url2 = app.org_json(&owner.token, id).await["avatarURL"]
            .as_str()
            .expect("avatarURL")
            .replace(&app.endpoint(), "");
        assert_ne!(url2, url1, "a new avatar gets a new version");
        assert!(url2.starts_with(prefix), "{url2}");
        let (bytes, ct) = app.avatar_of(&owner.token, id).await.unwrap();
        assert_eq!(bytes, jpeg());
        assert!(
            ct.starts_with("image/jpeg"),
            "content-type image/jpeg: {ct}"
        );
        // Setting the same image again still moves the version.
        assert_empty_200(
            &app.put_avatar(&owner.token, id, &jpeg()).await,
            "set JPEG again",
        );
        let url3 = app.org_json(&owner.token, id).await["avatarURL"]
            .as_str()
            .expect("avatarURL")
            .replace(&app.endpoint(), "");
        assert_ne!(url3, url2, "n changes on each set");

        // An empty string removes it.
        assert_empty_200(
            &app.rest(
                Method::PUT,
                &org_path(id, "/avatar"),
                Auth::Bearer(&owner.token),
                Some(&json!("")),
            )
            .await,
            "remove with \"\"",
        );
        assert_eq!(app.org_json(&owner.token, id).await["avatarURL"], "");
        expect_error(
            &app.get(&org_path(id, "/avatar"), Auth::Bearer(&owner.token))
                .await,
            404,
            "NOT_FOUND",
            "removed avatar",
        );
        expect_error(
            &app.get(&url3, Auth::Bearer(&owner.token)).await,
            404,
            "NOT_FOUND",
            "removed avatar's old URL",
        );

        // So does an empty body.
        assert_empty_200(&app.put_avatar(&owner.token, id, &gif()).await, "set GIF");
        assert!(app.org_json(&owner.token, id).await["avatarURL"].is_string());
        assert_empty_200(
            &app.rest_raw(
                Method::PUT,
                &org_path(id, "/avatar"),
                Auth::Bearer(&owner.token),
                "",
            )
            .await,
            "remove with an empty body",
        );
        assert_eq!(app.org_json(&owner.token, id).await["avatarURL"], "");
        expect_error(
            &app.get(&org_path(id, "/avatar"), Auth::Bearer(&owner.token))
                .await,
            404,
            "NOT_FOUND",
            "removed avatar",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_serves_each_image_format_with_its_content_type() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Formats").await);
        for (bytes, ct) in [
            (png(), "image/png"),
            (jpeg(), "image/jpeg"),
            (gif(), "image/gif"),
            (webp(), "image/webp"),
        ] {
            assert_empty_200(&app.put_avatar(&owner.token, id, &bytes).await, ct);
            let (got, got_ct) = app.avatar_of(&owner.token, id).await.expect(ct);
            assert_eq!(got, bytes, "{ct}: the exact bytes");
            assert!(got_ct.starts_with(ct), "content-type {ct}, got {got_ct}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_rejects_non_images_and_oversize_and_keeps_the_old_one() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Strict").await);
        assert_empty_200(&app.put_avatar(&owner.token, id, &png()).await, "baseline");
        let before = app.org_json(&owner.token, id).await;

        let text = b"hello, this is not an image\n".to_vec();
        let mut truncated_png = png();
        truncated_png.truncate(4);
        let cases: Vec<(&str, String)> = vec![
            ("a text file", avatar_body(&text).to_string()),
            (
                "PNG signature cut short",
                avatar_body(&truncated_png).to_string(),
            ),
            ("not base64", json!("!!! not base64 ???").to_string()),
            ("a number", "42".to_string()),
            ("an object", json!({"avatar": b64(&png())}).to_string()),
            ("malformed JSON", "\"abc".to_string()),
        ];
        for (what, body) in cases {
            let r = app
                .rest_raw(
                    Method::PUT,
                    &org_path(id, "/avatar"),
                    Auth::Bearer(&owner.token),
                    &body,
                )
                .await;
            expect_error(&r, 400, "INVALID_ARGUMENT", what);
        }

        // 1 MiB + 1 byte is refused (400 or 413) ...
        let r = app
            .put_avatar(&owner.token, id, &png_of_len(1024 * 1024 + 1))
            .await;
        match r.status.as_u16() {
            413 => {}
            400 => r.assert_error(400, "INVALID_ARGUMENT"),
            other => panic!("1 MiB + 1: expected 400 or 413, got {other} {}", r.text),
        }
        let after = app.org_json(&owner.token, id).await;
        assert_eq!(after, before, "rejected avatars changed nothing");
        let (bytes, _) = app.avatar_of(&owner.token, id).await.unwrap();
        assert_eq!(bytes, png(), "the old avatar is still served");

        // ... and exactly 1 MiB is accepted and served back byte for byte.
        let big = png_of_len(1024 * 1024);
        assert_empty_200(
            &app.put_avatar(&owner.token, id, &big).await,
            "exactly 1 MiB",
        );
        let (bytes, ct) = app.avatar_of(&owner.token, id).await.unwrap();
        assert_eq!(bytes.len(), big.len());
        assert!(bytes == big, "the 1 MiB avatar round-trips");
        assert!(ct.starts_with("image/png"), "{ct}");
    })
    .await;
}
