//! GroupAlarm's `avatarURL` as a browser uses it: an absolute URL an `<img>` loads without
//! a token. The URL is an unguessable capability (an HMAC under a key kept in the database,
//! over the organization and a random version of its avatar), served with the stored
//! content type and `X-Content-Type-Options: nosniff`, and it stops working once the avatar
//! changes or is removed. Replicas over one database share the key.

use crate::common::*;
use base64::Engine;
use orgd::proto::v1::*;
use reqwest::Method;
use serde_json::{Value, json};

fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
        .unwrap()
}

fn gif() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
        .unwrap()
}

async fn put_avatar(app: &App, token: &str, id: i64, bytes: &[u8]) {
    let body = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    let r = app
        .rest(
            Method::PUT,
            &format!("/api/v1/organization/{id}/avatar"),
            Auth::Bearer(token),
            Some(&body),
        )
        .await;
    r.assert_status(200);
}

async fn avatar_url(app: &App, token: &str, id: i64) -> String {
    let org = app.get_org_json(token, id).await;
    org["avatarURL"]
        .as_str()
        .unwrap_or_else(|| panic!("avatarURL is a string: {org}"))
        .to_string()
}

/// What a browser gets for `<img src=url>`: no token, no cookies.
async fn load(app: &App, url: &str) -> reqwest::Response {
    app.http.get(url).send().await.expect("GET avatarURL")
}

#[track_caller]
fn assert_not_found(status: reqwest::StatusCode, what: &str) {
    assert_eq!(status.as_u16(), 404, "{what}: expected 404, got {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_url_is_absolute_and_loads_without_a_token() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Pictured").await);
        assert_eq!(avatar_url(&app, &owner.token, id).await, "");

        put_avatar(&app, &owner.token, id, &png()).await;
        let url = avatar_url(&app, &owner.token, id).await;
        let public = app.url("/api/v1/avatars/");
        assert!(url.starts_with(&public), "absolute, at {public}: {url}");

        let r = load(&app, &url).await;
        assert_eq!(r.status().as_u16(), 200, "loads without a token");
        assert_eq!(r.headers()["content-type"], "image/png", "the stored type");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.bytes().await.unwrap().to_vec(), png());
        // Over HTTP/2 too, and a stray unknown token does not turn it into a 401.
        let r = app.h2.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let r = app
            .http
            .get(&url)
            .header("Authorization", "Bearer not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "a bad token is ignored here");

        // Every read of the organization hands out the same URL.
        let list = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        let listed = list
            .json
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == json!(id));
        assert_eq!(listed.unwrap()["avatarURL"], json!(url));

        // The origin is the one the client called, through a proxy too.
        let r = app
            .http
            .get(app.url(&format!("/api/v1/organization/{id}")))
            .header("Authorization", format!("Bearer {}", owner.token))
            .header("Host", "alarm.example.org")
            .header("X-Forwarded-Proto", "https")
            .send()
            .await
            .unwrap();
        let proxied: Value = r.json().await.unwrap();
        let proxied = proxied["avatarURL"].as_str().unwrap().to_string();
        assert!(
            proxied.starts_with("https://alarm.example.org/api/v1/avatars/"),
            "{proxied}"
        );
        assert_eq!(
            proxied.rsplit('/').next(),
            url.rsplit('/').next(),
            "the same capability"
        );

        // gRPC: the same capability, relative to the server called; served without a token.
        let mut grpc = app.organizations().await;
        let org = grpc
            .get_organization(bearer(
                GetOrganizationRequest {
                    organization_id: id,
                },
                &owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .organization
            .unwrap();
        let relative = org.avatar_url.expect("avatar_url is set over gRPC");
        assert_eq!(app.url(&relative), url);
        let capability = relative.rsplit('/').next().unwrap().to_string();
        let image = grpc
            .get_public_avatar(tonic::Request::new(GetPublicAvatarRequest { capability }))
            .await
            .expect("GetPublicAvatar without a token")
            .into_inner()
            .image
            .unwrap();
        assert_eq!(image.content_type, "image/png");
        assert_eq!(image.data, png());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capability_cannot_be_guessed_and_dies_with_its_avatar() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let a = id_of(&app.org(&owner.token, "A").await);
        let b = id_of(&app.org(&owner.token, "B").await);
        put_avatar(&app, &owner.token, a, &png()).await;
        put_avatar(&app, &owner.token, b, &png()).await;
        let url_a = avatar_url(&app, &owner.token, a).await;
        let url_b = avatar_url(&app, &owner.token, b).await;
        let cap_a = url_a.rsplit('/').next().unwrap().to_string();
        let cap_b = url_b.rsplit('/').next().unwrap().to_string();
        let parts: Vec<&str> = cap_a.splitn(3, '-').collect();
        assert_eq!(parts.len(), 3, "{cap_a}");
        assert_eq!(parts[0], a.to_string(), "{cap_a}");
        assert!(parts[2].len() >= 43, "a 256-bit tag: {cap_a}");
        let base = app.url("/api/v1/avatars/");

        // Forgeries: another organization's id with A's tag, a flipped tag, no tag, junk.
        let b_version = cap_b.split('-').nth(1).unwrap();
        let mut flipped = cap_a.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for forged in [
            format!("{b}-{}-{}", parts[1], parts[2]),
            format!("{b}-{b_version}-{}", parts[2]),
            flipped,
            format!("{a}-{}-", parts[1]),
            format!("{a}-{}", parts[1]),
            a.to_string(),
            "x".repeat(300),
            format!("{a}-{}-{}", parts[1], "A".repeat(43)),
        ] {
            let r = load(&app, &format!("{base}{forged}")).await;
            assert_not_found(r.status(), &format!("forged {forged:?}"));
            let body: Value = r.json().await.unwrap();
            assert_eq!(
                body["error"], "NOT_FOUND",
                "GroupAlarm's error body: {body}"
            );
        }

        // Replaced: the old URL stops working, the new one serves the new image.
        put_avatar(&app, &owner.token, a, &gif()).await;
        let url_a2 = avatar_url(&app, &owner.token, a).await;
        assert_ne!(url_a2, url_a);
        assert_not_found(
            load(&app, &url_a).await.status(),
            "the replaced avatar's URL",
        );
        let r = load(&app, &url_a2).await;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "image/gif");
        assert_eq!(r.bytes().await.unwrap().to_vec(), gif());
        // B is untouched.
        assert_eq!(load(&app, &url_b).await.status().as_u16(), 200);

        // Removed, then set again with the very first image: no earlier URL comes back.
        let r = app
            .rest(
                Method::PUT,
                &format!("/api/v1/organization/{a}/avatar"),
                Auth::Bearer(&owner.token),
                Some(&json!("")),
            )
            .await;
        r.assert_status(200);
        assert_eq!(avatar_url(&app, &owner.token, a).await, "");
        assert_not_found(
            load(&app, &url_a2).await.status(),
            "the removed avatar's URL",
        );
        put_avatar(&app, &owner.token, a, &png()).await;
        let url_a3 = avatar_url(&app, &owner.token, a).await;
        assert!(
            url_a3 != url_a && url_a3 != url_a2,
            "a new version: {url_a3}"
        );
        for old in [&url_a, &url_a2] {
            assert_not_found(load(&app, old).await.status(), "an earlier URL");
        }
        assert_eq!(load(&app, &url_a3).await.status().as_u16(), 200);

        // Deleting the organization ends it too.
        let r = app
            .rest(
                Method::DELETE,
                &format!("/api/v1/organization/{b}"),
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        r.assert_status(200);
        assert_not_found(
            load(&app, &url_b).await.status(),
            "a deleted organization's URL",
        );
    })
    .await;
}

/// The key lives in the database: a second server over the same database (a replica, or
/// the same one restarted) serves the URLs the first handed out, and hands out the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_over_one_database_share_the_key() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Shared").await);
        put_avatar(&app, &owner.token, id, &png()).await;
        let url = avatar_url(&app, &owner.token, id).await;

        let config =
            orgd::config::Config::new("127.0.0.1:0".parse().unwrap(), app.database_url.clone());
        let replica = orgd::server::Server::start(config)
            .await
            .expect("a second server");
        let other = App::for_server(app.backend, replica.local_addr(), &app.database_url);
        let on_replica = url.replacen(&app.endpoint(), &other.endpoint(), 1);
        let r = load(&other, &on_replica).await;
        assert_eq!(r.status().as_u16(), 200, "the replica serves the URL");
        assert_eq!(r.bytes().await.unwrap().to_vec(), png());
        assert_eq!(avatar_url(&other, &owner.token, id).await, on_replica);
        replica.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn openapi_documents_the_public_avatar_operation() {
    for_each_backend(|app| async move {
        let doc: Value = app
            .http
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let op = &doc["paths"]["/api/v1/avatars/{capability}"]["get"];
        assert!(
            op.is_object(),
            "GET /api/v1/avatars/{{capability}} is documented"
        );
        assert_eq!(op["security"], json!([]), "no token needed: {op}");
        assert!(op["responses"]["200"].is_object() && op["responses"]["404"].is_object());
    })
    .await;
}
