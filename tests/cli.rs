//! The operator CLI: one JSON line per command, tokens shown once, errors on stderr with a
//! non-zero exit, and it works while the server runs on the same database.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("a JSON object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_succeeds_twice() {
    for_each_backend(|app| async move {
        // The server already migrated this database; migrating again is a no-op.
        for _ in 0..2 {
            let out = app.cli(&["migrate"]).await;
            assert!(
                out.status.success(),
                "orgd migrate: {} {}",
                out.stdout,
                out.stderr
            );
        }
        // The data survives.
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "Survivor").await;
        let out = app.cli(&["migrate"]).await;
        assert!(out.status.success());
        let r = app.get_org(Auth::Bearer(&owner.token), id_of(&org)).await;
        r.assert_status(200);
        assert_eq!(r.json, org);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_creates_a_fresh_sqlite_database_twice() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}/fresh.db?mode=rwc", dir.path().display());
    for _ in 0..2 {
        let out = run_cli(&url, &["migrate"]).await;
        assert!(out.status.success(), "orgd migrate: {}", out.stderr);
    }
    assert!(dir.path().join("fresh.db").exists());
    // A user can be created on it right away.
    let out = run_cli(
        &url,
        &[
            "user",
            "create",
            "--email",
            "first@example.com",
            "--name",
            "First",
        ],
    )
    .await;
    assert_eq!(out.json()["email"], json!("first@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_create_prints_one_json_line_with_a_token() {
    for_each_backend(|app| async move {
        let email = format!("ada-{}@example.com", uuid::Uuid::new_v4().simple());
        let out = app
            .cli(&[
                "user",
                "create",
                "--email",
                &email,
                "--name",
                "Ada Lovelace",
            ])
            .await;
        let v = out.json();
        assert_eq!(keys(&v), vec!["email", "id", "token", "uuid"]);
        assert!(v["id"].is_i64(), "id is a JSON number: {v}");
        assert!(v["id"].as_i64().unwrap() > 0);
        assert!(uuid::Uuid::parse_str(v["uuid"].as_str().unwrap()).is_ok());
        assert_eq!(v["email"], json!(email));
        let token = v["token"].as_str().unwrap().to_string();
        assert!(
            token.len() >= 20,
            "a token long enough to be unguessable: {token:?}"
        );
        assert!(
            !out.stderr.contains(&token),
            "the token is printed once, on stdout only"
        );

        // The token works.
        let r = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&token),
                None,
            )
            .await;
        r.assert_status(200);

        // The same email again fails with a message on stderr.
        let again = app
            .cli(&[
                "user",
                "create",
                "--email",
                &email,
                "--name",
                "Someone else",
            ])
            .await;
        assert!(!again.status.success(), "a duplicate email must fail");
        assert!(
            !again.stderr.trim().is_empty(),
            "the failure is explained on stderr"
        );
        assert!(
            again.stdout.trim().is_empty(),
            "nothing on stdout on failure: {:?}",
            again.stdout
        );

        // A second user gets a different id, uuid and token.
        let other = app.user("other").await;
        assert_ne!(other.id, v["id"].as_i64().unwrap());
        assert_ne!(other.uuid, v["uuid"].as_str().unwrap());
        assert_ne!(other.token, token);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_variants() {
    for_each_backend(|app| async move {
        let user = app.user("user").await;
        let org = app.org(&user.token, "Tokens").await;
        let id = id_of(&org);
        let uuid = org["uuid"].as_str().unwrap().to_string();

        let mut seen = vec![user.token.clone()];
        let mut fresh = |out: CliOutput| -> String {
            let v = out.json();
            assert_eq!(
                keys(&v),
                vec!["token"],
                "token create prints only the token: {v}"
            );
            let t = v["token"].as_str().unwrap().to_string();
            assert!(!t.is_empty());
            assert!(
                !out.stderr.contains(&t),
                "the token is not echoed on stderr"
            );
            assert!(!seen.contains(&t), "every token is new");
            seen.push(t.clone());
            t
        };

        // Personal tokens: a new one each time, all acting as the user.
        let p1 = fresh(app.cli(&["token", "create", "--email", &user.email]).await);
        let p2 = fresh(app.cli(&["token", "create", "--email", &user.email]).await);
        for t in [&p1, &p2, &user.token] {
            let r = app.get_org(Auth::PersonalAccessToken(t), id).await;
            r.assert_status(200);
        }
        let r = app
            .rest(
                Method::POST,
                "/api/v1/organization",
                Auth::PersonalAccessToken(&p2),
                Some(&json!({"name": "With the second token"})),
            )
            .await;
        r.assert_status(201);
        assert_eq!(r.json["ownerIDs"], json!([user.id]));

        // Organization tokens by int64 id and by UUID.
        let o1 = fresh(
            app.cli(&["token", "create", "--organization", &id.to_string()])
                .await,
        );
        let o2 = fresh(app.cli(&["token", "create", "--organization", &uuid]).await);
        for t in [&o1, &o2] {
            let r = app.get_org(Auth::ApiToken(t), id).await;
            r.assert_status(200);
            assert_eq!(r.json, org);
        }

        // Service tokens read any organization.
        let s = fresh(app.cli(&["token", "create", "--service", "billing"]).await);
        app.get_org(Auth::Bearer(&s), id).await.assert_status(200);

        // Errors: unknown email, unknown organization, no target.
        for args in [
            vec!["token", "create", "--email", "nobody@example.com"],
            vec!["token", "create", "--organization", "999999"],
            vec![
                "token",
                "create",
                "--organization",
                "00000000-0000-0000-0000-000000000000",
            ],
            vec!["token", "create"],
        ] {
            let out = app.cli(&args).await;
            assert!(!out.status.success(), "{args:?} must fail");
            assert!(!out.stderr.trim().is_empty(), "{args:?}: message on stderr");
            assert!(out.stdout.trim().is_empty(), "{args:?}: no token printed");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_add_and_remove() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let member = app.user("member").await;
        let org = app.org(&owner.token, "Members").await;
        let id = id_of(&org);
        let uuid = org["uuid"].as_str().unwrap().to_string();

        let m = app.member_add(id, &member.email, "member").await;
        assert_eq!(
            keys(&m),
            vec![
                "created_at",
                "email",
                "organization_id",
                "organization_uuid",
                "role",
                "user_id",
                "user_uuid"
            ]
        );
        assert_eq!(
            m["organization_id"],
            json!(id),
            "organization_id is a JSON number"
        );
        assert_eq!(m["organization_uuid"], json!(uuid));
        assert_eq!(m["user_id"], json!(member.id), "user_id is a JSON number");
        assert_eq!(m["user_uuid"], json!(member.uuid));
        assert_eq!(m["email"], json!(member.email));
        assert_eq!(m["role"], json!("member"));
        utc(&m["created_at"]);
        app.get_org(Auth::Bearer(&member.token), id)
            .await
            .assert_status(200);

        // Change the role, organization by UUID.
        let out = app
            .cli(&[
                "member",
                "add",
                "--organization",
                &uuid,
                "--email",
                &member.email,
                "--role",
                "admin",
            ])
            .await;
        let m2 = out.json();
        assert_eq!(m2["role"], json!("admin"));
        assert_eq!(m2["user_id"], json!(member.id));
        let m3 = app.member_add(id, &member.email, "owner").await;
        assert_eq!(m3["role"], json!("owner"));
        let r = app.get_org(Auth::Bearer(&owner.token), id).await;
        let mut owners: Vec<i64> = r.json["ownerIDs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        owners.sort();
        let mut expected = vec![owner.id, member.id];
        expected.sort();
        assert_eq!(owners, expected);

        // Remove.
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
        app.get_org(Auth::Bearer(&member.token), id)
            .await
            .assert_error(403, "PERMISSION_DENIED");
        let r = app.get_org(Auth::Bearer(&owner.token), id).await;
        assert_eq!(r.json["ownerIDs"], json!([owner.id]));

        // Errors.
        let id_s = id.to_string();
        for args in [
            vec![
                "member",
                "add",
                "--organization",
                &id_s,
                "--email",
                &member.email,
                "--role",
                "boss",
            ],
            vec![
                "member",
                "add",
                "--organization",
                &id_s,
                "--email",
                "nobody@example.com",
                "--role",
                "member",
            ],
            vec![
                "member",
                "add",
                "--organization",
                "999999",
                "--email",
                &member.email,
                "--role",
                "member",
            ],
            vec![
                "member",
                "add",
                "--organization",
                "not-an-id",
                "--email",
                &member.email,
                "--role",
                "member",
            ],
            vec![
                "member",
                "remove",
                "--organization",
                &id_s,
                "--email",
                "nobody@example.com",
            ],
        ] {
            let out = app.cli(&args).await;
            assert!(!out.status.success(), "{args:?} must fail");
            assert!(!out.stderr.trim().is_empty(), "{args:?}: message on stderr");
        }
        // The failures changed nothing.
        app.get_org(Auth::Bearer(&member.token), id)
            .await
            .assert_error(403, "PERMISSION_DENIED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_set_state_prints_the_organization() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = app.org(&owner.token, "States").await;
        let id = id_of(&org);
        let uuid = org["uuid"].as_str().unwrap().to_string();

        for (key, state) in [
            (id.to_string(), "active"),
            (uuid.clone(), "inactive"),
            (id.to_string(), "trial"),
        ] {
            let printed = app.set_state(&key, state).await;
            assert_organization_shape(&printed);
            assert_eq!(printed["state"], json!(state));
            assert_eq!(printed["id"], json!(id));
            let r = app.get_org(Auth::Bearer(&owner.token), id).await;
            r.assert_status(200);
            assert_eq!(
                printed, r.json,
                "set-state prints the organization as REST GET shows it"
            );
        }

        for args in [
            vec![
                "organization",
                "set-state",
                "--organization",
                &uuid,
                "--state",
                "frozen",
            ],
            vec![
                "organization",
                "set-state",
                "--organization",
                "999999",
                "--state",
                "active",
            ],
        ] {
            let out = app.cli(&args).await;
            assert!(!out.status.success(), "{args:?} must fail");
            assert!(!out.stderr.trim().is_empty(), "{args:?}: message on stderr");
        }
        let r = app.get_org(Auth::Bearer(&owner.token), id).await;
        assert_eq!(r.json["state"], json!("trial"));
    })
    .await;
}

/// `orgd serve` as operators run it: logs one ready line, and on SIGTERM finishes a request
/// that is in flight (its body only half sent) before exiting cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_finishes_in_flight_requests_on_sigterm() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    let dir = TempDir::new();
    let url = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
    let user = run_cli(
        &url,
        &[
            "user",
            "create",
            "--email",
            "term@example.com",
            "--name",
            "T",
        ],
    )
    .await
    .json();
    let token = user["token"].as_str().expect("token").to_string();

    // A free port: bind, read it, release it for the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args([
            "--database-url",
            &url,
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("orgd serve starts");
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), log.next_line())
            .await
            .expect("a ready line within 30 s")
            .unwrap()
            .expect("orgd serve exited before it was ready");
        if line.contains("ready on http://") {
            break;
        }
    }

    let body = br#"{"name": "Finished during shutdown"}"#;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/organization HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    stream.flush().await.unwrap();
    // Give the server a moment to have the request in hand, then ask it to stop.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pid = server.id().expect("running").to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "the in-flight request completes: {response}"
    );
    assert!(response.contains("Finished during shutdown"), "{response}");

    let status = tokio::time::timeout(std::time::Duration::from_secs(30), server.wait())
        .await
        .expect("orgd exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "clean exit: {status:?}");
}
