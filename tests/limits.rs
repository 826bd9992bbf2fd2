//! The bounds a client cannot exceed: body sizes (413), URI and header sizes (414, 431),
//! work in progress at once (503 / RESOURCE_EXHAUSTED with retry-after, no queue), lists
//! read whole (refused past a bound, never cut short) and every string and list in a request.

mod common;

use common::*;
use orgd::proto::v1::*;
use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncWriteExt;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_load_is_shed_with_retry_after_not_queued() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
    let user = run_cli(
        &url,
        &[
            "user",
            "create",
            "--email",
            "shed@example.com",
            "--name",
            "S",
        ],
    )
    .await
    .json();
    let token = user["token"].as_str().unwrap().to_string();
    let mut config = orgd::config::Config::new("127.0.0.1:0".parse().unwrap(), url);
    config.max_in_flight = 1;
    let server = orgd::server::Server::start(config).await.unwrap();
    let addr = server.local_addr();

    // One request in flight: headers sent, body still coming.
    let mut held = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = br#"{"name": "Held"}"#;
    let head = format!(
        "POST /api/v1/organization HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    held.write_all(head.as_bytes()).await.unwrap();
    held.write_all(&body[..4]).await.unwrap();
    held.flush().await.unwrap();

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{addr}/api/v1/organizations");
    // The held request takes the only slot once the server has read its headers.
    let mut refused = None;
    for _ in 0..100 {
        let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
        if r.status() == 503 {
            refused = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a second request is refused while the first holds the slot");
    assert_eq!(refused.headers()["retry-after"], "1");

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect_err("shed over gRPC too");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);

    // Once the held request finishes, the slot is free again.
    held.write_all(&body[4..]).await.unwrap();
    let mut response = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut held, &mut response)
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    server.shutdown().await;
}

/// A client that never finishes its headers is dropped after the header timeout; one whose
/// body stalls gets 408 at the request timeout. Neither holds the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_stalled_clients_time_out() {
    use tokio::io::AsyncReadExt;
    let dir = TempDir::new();
    let url = format!("sqlite://{}/orgd.db?mode=rwc", dir.path().display());
    let server = orgd::server::Server::start(orgd::config::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        url,
    ))
    .await
    .unwrap();
    let addr = server.local_addr();

    let slow_headers = async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /api/v1/organizations HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        // Bounded: the server must close well before this.
        tokio::time::timeout(std::time::Duration::from_secs(25), s.read_to_end(&mut buf))
            .await
            .expect("the server drops a client that never finishes its headers")
            .ok();
        String::from_utf8_lossy(&buf).into_owned()
    };
    let stalled_body = async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            b"POST /api/v1/organization HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na",
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(45), s.read_to_end(&mut buf))
            .await
            .expect("the server answers a stalled body")
            .ok();
        String::from_utf8_lossy(&buf).into_owned()
    };
    let (headers_reply, body_reply) = tokio::join!(slow_headers, stalled_body);
    assert!(
        headers_reply.is_empty() || headers_reply.starts_with("HTTP/1.1 408"),
        "{headers_reply}"
    );
    assert!(body_reply.starts_with("HTTP/1.1 408"), "{body_reply}");
    // The server still serves.
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{addr}/api/v1/organizations"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.shutdown().await;
}

/// A server whose lists read whole stop at two items, so three rows cross the bound.
fn two_unpaged(config: &mut orgd::config::Config) {
    config.max_unpaged_items = 2;
}

/// GroupAlarm's unpaged lists keep their published shape up to the bound and are refused
/// past it (409 TOO_MANY_RESULTS, pointing at paging), never cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_organization_lists_are_refused_past_the_bound_not_cut() {
    for_each_backend_with(two_unpaged, |app| async move {
        let owner = app.user("many").await;
        let bystander = app.user("bystander").await;
        let first = id_of(&app.org(&owner.token, "One").await);
        app.child_org(&owner.token, first, "Two").await;
        let list = |token: String| {
            let app = app.clone();
            async move {
                app.rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::Bearer(&token),
                    None,
                )
                .await
            }
        };
        let r = list(owner.token.clone()).await;
        r.assert_status(200);
        assert_eq!(ids_of(&r.json).len(), 2);

        app.org(&owner.token, "Three").await;
        let r = list(owner.token.clone()).await;
        r.assert_error(409, "TOO_MANY_RESULTS");
        let message = r.json["message"].as_str().unwrap();
        assert!(
            message.contains("/api/v1/organizations/paginated"),
            "{message}"
        );
        // The bound is on what each caller sees.
        let r = list(bystander.token.clone()).await;
        r.assert_status(200);
        assert_eq!(r.json, json!([]));

        // The paginated list pages as before; `all` is a whole list like any other.
        let paginated = |query: &str| {
            let (app, token) = (app.clone(), owner.token.clone());
            let path = format!("/api/v1/organizations/paginated?{query}");
            async move {
                app.rest(Method::GET, &path, Auth::Bearer(&token), None)
                    .await
            }
        };
        // Two of the three are top-level: at the bound, all of them.
        let r = paginated("all=true").await;
        r.assert_status(200);
        assert_eq!(ids_of(&r.json["organizations"]).len(), 2);
        app.org(&owner.token, "Four").await;
        paginated("all=true")
            .await
            .assert_error(409, "TOO_MANY_RESULTS");
        let r = paginated("limit=1&offset=1").await;
        r.assert_status(200);
        assert_eq!(r.json["totalOrganizations"], 3);
        assert_eq!(ids_of(&r.json["organizations"]).len(), 1);

        let mut grpc = app.organizations().await;
        assert_code(
            grpc.get_organizations(bearer(GetOrganizationsRequest {}, &owner.token))
                .await,
            tonic::Code::FailedPrecondition,
        );
    })
    .await;
}

/// Owner invitations and memberships (orgd's own lists) are whole without limit and
/// offset, refused past the bound; with either they page, limit 1..100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_invitations_and_memberships_page_or_stop_at_the_bound() {
    for_each_backend_with(two_unpaged, |app| async move {
        let owner = app.user("inviter").await;
        let outsider = app.user("outsider").await;
        let org = id_of(&app.org(&owner.token, "Inviting").await);
        let mut invitees = Vec::new();
        for i in 0..3 {
            invitees.push(app.user(&format!("invitee{i}")).await);
        }
        let path = format!("/api/v1/organization/{org}/owner/invitations");
        for invitee in &invitees[..2] {
            app.rest(
                Method::POST,
                &path,
                Auth::Bearer(&owner.token),
                Some(&json!({"email": invitee.email})),
            )
            .await
            .assert_status(201);
        }
        let get = |query: &str, token: &str| {
            let (app, token) = (app.clone(), token.to_string());
            let path = format!("{path}{query}");
            async move {
                app.rest(Method::GET, &path, Auth::Bearer(&token), None)
                    .await
            }
        };
        let r = get("", &owner.token).await;
        r.assert_status(200);
        assert_eq!(r.json.as_array().unwrap().len(), 2);
        app.rest(
            Method::POST,
            &path,
            Auth::Bearer(&owner.token),
            Some(&json!({"email": invitees[2].email})),
        )
        .await
        .assert_status(201);
        get("", &owner.token)
            .await
            .assert_error(409, "TOO_MANY_RESULTS");
        let emails = |r: &Resp| -> Vec<String> {
            r.json
                .as_array()
                .unwrap_or_else(|| panic!("an array: {}", r.text))
                .iter()
                .map(|i| i["email"].as_str().unwrap().to_string())
                .collect()
        };
        let first = get("?limit=2", &owner.token).await;
        let rest = get("?limit=2&offset=2", &owner.token).await;
        let mut paged = emails(&first);
        paged.extend(emails(&rest));
        let all: Vec<String> = invitees.iter().map(|u| u.email.clone()).collect();
        assert_eq!(paged, all, "oldest first, each once");
        assert_eq!(emails(&get("?offset=0", &owner.token).await), all);
        for bad in ["?limit=0", "?limit=101", "?offset=-1"] {
            get(bad, &owner.token)
                .await
                .assert_error(400, "INVALID_ARGUMENT");
            // Permission before the values.
            get(bad, &outsider.token)
                .await
                .assert_error(403, "PERMISSION_DENIED");
        }

        // Memberships: the owner and two members are three.
        let org_key = org.to_string();
        for invitee in &invitees[..2] {
            app.member_add(org, &invitee.email, "member").await;
        }
        let mut memberships = app.memberships().await;
        let list = |limit: Option<i32>, offset: Option<i32>| ListMembershipsRequest {
            organization: org_key.clone(),
            limit,
            offset,
        };
        assert_code(
            memberships
                .list_memberships(bearer(list(None, None), &owner.token))
                .await,
            tonic::Code::FailedPrecondition,
        );
        let page = memberships
            .list_memberships(bearer(list(Some(2), None), &owner.token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.memberships.len(), 2);
        assert_eq!(page.total_memberships, 3);
        assert_eq!(page.memberships[0].user_id, owner.id);
        let page = memberships
            .list_memberships(bearer(list(None, Some(2)), &owner.token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.memberships.len(), 1);
        assert_eq!(page.memberships[0].user_id, invitees[1].id);
        assert_code(
            memberships
                .list_memberships(bearer(list(Some(101), None), &owner.token))
                .await,
            tonic::Code::InvalidArgument,
        );
        assert_code(
            memberships
                .list_memberships(bearer(list(Some(101), None), &outsider.token))
                .await,
            tonic::Code::PermissionDenied,
        );
        app.cli(&[
            "member",
            "remove",
            "--organization",
            &org_key,
            "--email",
            &invitees[0].email,
        ])
        .await
        .json();
        let whole = memberships
            .list_memberships(bearer(list(None, None), &owner.token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(whole.memberships.len(), 2);
        assert_eq!(whole.total_memberships, 2);
    })
    .await;
}

/// Every string and list of every request is bounded, whatever the RPC and surface: a field
/// the domain has no rule for (an id, a filter list, an OAuth2 client id) included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_string_and_list_has_a_bound() {
    use orgd::limits::{MAX_LIST_ITEMS, MAX_STRING_CHARS};
    for_each_backend(|app| async move {
        let owner = app.user("bounded").await;
        let org = app.org(&owner.token, "Bounded").await;
        let id = id_of(&org);
        let uuid = org["uuid"].as_str().unwrap().to_string();
        let long = "x".repeat(MAX_STRING_CHARS + 1);

        // GroupAlarm: a read-only list the domain ignores still has its bound; the
        // organization is unchanged.
        let mut update = org.clone();
        update["ownerIDs"] = json!(vec![owner.id; MAX_LIST_ITEMS + 1]);
        update["name"] = json!("Renamed");
        let r = app
            .rest(
                Method::PUT,
                "/api/v1/organization",
                Auth::Bearer(&owner.token),
                Some(&update),
            )
            .await;
        r.assert_error(400, "INVALID_ARGUMENT");
        assert!(r.json["message"].as_str().unwrap().contains("ownerIDs"), "{}", r.text);
        assert_eq!(app.get_org_json(&owner.token, id).await["name"], "Bounded");
        // Who is calling comes first.
        app.rest(Method::PUT, "/api/v1/organization", Auth::None, Some(&update))
            .await
            .assert_error(401, "UNAUTHENTICATED");

        // giosg: the field's messages under its name.
        let r = app
            .rest(
                Method::PATCH,
                &format!("/api/v5/orgs/{uuid}/partnerships/{uuid}"),
                Auth::Token(&owner.token),
                Some(&json!({"display_name": long})),
            )
            .await;
        r.assert_status(400);
        assert_eq!(
            r.json,
            json!({"display_name": [format!("must be at most {MAX_STRING_CHARS} characters")]})
        );

        // MyCreditApp, with no token at all (the token endpoint is public): 422 at the field.
        let r = send(
            app.http
                .post(app.url("/v1/oauth2/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("client_id={long}&client_secret=s")),
        )
        .await;
        r.assert_status(422);
        assert_eq!(r.json["detail"][0]["loc"], json!(["body", "client_id"]));

        // gRPC: a filter list the domain never counted.
        let channel = app.channel().await;
        let mut partners =
            orgd::proto::v1::organization_partner_service_client::OrganizationPartnerServiceClient::new(channel);
        let status = partners
            .list_organization_partners(bearer(
                ListOrganizationPartnersRequest {
                    requester_organization_id: uuid.clone(),
                    target_organization_id: uuid.clone(),
                    partner_types: vec![1],
                    partner_ids: vec![uuid.clone(); MAX_LIST_ITEMS + 1],
                    limit: Some(10),
                    offset: Some(0),
                    ..Default::default()
                },
                &owner.token,
            ))
            .await
            .expect_err("too many partner ids");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let details = tonic_types::StatusExt::get_error_details(&status);
        let violations = details.bad_request().unwrap().field_violations.clone();
        assert_eq!(violations[0].field, "partner_ids");
        // At the bound itself the request goes through.
        let ok = partners
            .list_organization_partners(bearer(
                ListOrganizationPartnersRequest {
                    requester_organization_id: uuid.clone(),
                    target_organization_id: uuid.clone(),
                    partner_types: vec![1],
                    partner_ids: vec![uuid.clone(); MAX_LIST_ITEMS],
                    limit: Some(10),
                    offset: Some(0),
                    ..Default::default()
                },
                &owner.token,
            ))
            .await;
        assert!(ok.is_ok(), "{ok:?}");
    })
    .await;
}

/// A NUL byte is refused in every string of every request, on every surface and both
/// backends (PostgreSQL's text cannot hold one: it used to answer 500), before anything
/// is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_byte_in_any_request_string_is_refused() {
    for_each_backend(|app| async move {
        let owner = app.user("nul").await;
        let org = app.org(&owner.token, "Nul").await;
        let id = id_of(&org);
        let uuid = org["uuid"].as_str().unwrap().to_string();

        // Unauthenticated, on the public token endpoint: MyCreditApp's 422 at the field.
        let r = app
            .rest(
                Method::POST,
                "/v1/oauth2/token",
                Auth::None,
                Some(&json!({"client_id": "a\u{0}", "client_secret": "b"})),
            )
            .await;
        r.assert_status(422);
        assert_eq!(r.json["detail"][0]["loc"], json!(["body", "client_id"]));
        assert_eq!(
            r.json["detail"][0]["msg"],
            json!("must not contain a NUL character")
        );

        // GroupAlarm: a create and an update; nothing is created or changed.
        for body in [
            json!({"name": "A\u{0}B", "timezone": "Europe/Berlin"}),
            json!({"name": "Fine", "timezone": "Europe/Berlin", "description": "x\u{0}"}),
            json!({"name": "Fine", "timezone": "Europe/Berlin", "tags": ["ok", "\u{0}"]}),
        ] {
            app.rest(
                Method::POST,
                "/api/v1/organization",
                Auth::Bearer(&owner.token),
                Some(&body),
            )
            .await
            .assert_error(400, "INVALID_ARGUMENT");
        }
        let mut update = org.clone();
        update["name"] = json!("Re\u{0}named");
        app.rest(
            Method::PUT,
            "/api/v1/organization",
            Auth::Bearer(&owner.token),
            Some(&update),
        )
        .await
        .assert_error(400, "INVALID_ARGUMENT");
        let listed = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        assert_eq!(ids_of(&listed.json), [id]);
        assert_eq!(listed.json[0]["name"], "Nul");

        // A NUL in the query string, percent-encoded.
        let r = send(
            app.http
                .get(app.url(&format!(
                    "/api/v5/orgs/{uuid}/partnerships?ordering=%00created_at"
                )))
                .header("Authorization", format!("Token {}", owner.token)),
        )
        .await;
        r.assert_status(400);

        // giosg: the field's message under its name.
        let r = app
            .rest(
                Method::POST,
                "/api/v5/outgoing_invitations",
                Auth::Token(&owner.token),
                Some(&json!({"email": "a\u{0}@example.com", "partner_display_name": "P"})),
            )
            .await;
        r.assert_status(400);
        assert_eq!(
            r.json,
            json!({"email": ["must not contain a NUL character"]}),
            "{}",
            r.text
        );

        // gRPC: INVALID_ARGUMENT naming the field.
        let mut orgs = app.organizations().await;
        let status = orgs
            .create_organization(bearer(
                CreateOrganizationRequest {
                    organization: Some(Organization {
                        name: "Grpc\u{0}".into(),
                        timezone: "Europe/Berlin".into(),
                        ..Default::default()
                    }),
                },
                &owner.token,
            ))
            .await
            .expect_err("a NUL in the name");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let details = tonic_types::StatusExt::get_error_details(&status);
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            "organization.name"
        );
        let listed = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        assert_eq!(ids_of(&listed.json), [id]);
    })
    .await;
}

/// The `Retry-After` of a refused request: whole seconds, at least one.
#[track_caller]
fn retry_after(r: &Resp) -> u64 {
    let v = r
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("429 carries retry-after: {} {}", r.status, r.text));
    let secs: u64 = v.to_str().unwrap().parse().expect("whole seconds");
    assert!(secs >= 1, "{secs}");
    secs
}

#[track_caller]
fn assert_rate_limited_grpc(status: &tonic::Status) {
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    let details = tonic_types::StatusExt::get_error_details(status);
    assert_eq!(details.error_info().unwrap().reason, "RATE_LIMITED");
    assert!(
        details
            .retry_info()
            .and_then(|r| r.retry_delay)
            .is_some_and(|d| !d.is_zero()),
        "{status:?}"
    );
    assert!(status.metadata().get("retry-after").is_some(), "{status:?}");
}

/// Each user or organization token has a write budget (a token bucket); past it every
/// surface answers 429 with Retry-After in its dialect and gRPC RESOURCE_EXHAUSTED, while
/// reads and other principals go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_rate_limited_per_principal() {
    for_each_backend_with(
        // No refill: the budget is spent for the whole test, whatever its speed.
        |c| c.write_rate = Some(orgd::rate_limit::Rate::new(3, 0)),
        |app| async move {
            let a = app.user("writer-a").await;
            let b = app.user("writer-b").await;
            let org = app.org(&a.token, "A1").await;
            let uuid = org["uuid"].as_str().unwrap().to_string();
            app.org(&a.token, "A2").await;
            app.org(&a.token, "A3").await;

            // GroupAlarm.
            let r = app
                .rest(
                    Method::POST,
                    "/api/v1/organization",
                    Auth::Bearer(&a.token),
                    Some(&json!({"name": "A4", "timezone": "Europe/Berlin"})),
                )
                .await;
            r.assert_error(429, "RATE_LIMITED");
            retry_after(&r);
            // giosg.
            let r = app
                .rest(
                    Method::POST,
                    "/api/v5/outgoing_invitations",
                    Auth::Token(&a.token),
                    Some(&json!({"email": "x@example.com", "partner_display_name": "X"})),
                )
                .await;
            assert_eq!(r.status, 429, "{}", r.text);
            assert!(r.json["detail"].as_str().is_some(), "{}", r.text);
            retry_after(&r);
            // MyCreditApp.
            let r = send(
                app.http
                    .post(app.url("/v1/partners"))
                    .bearer_auth(&a.token)
                    .header("Requester-Organization-ID", &uuid)
                    .header("Target-Organization-ID", &uuid)
                    .json(&json!({
                        "company_name": "P", "sales_amount": 1, "partner_type": "customer",
                        "email": "p@example.com", "country_code": "DE",
                    })),
            )
            .await;
            assert_eq!(r.status, 429, "{}", r.text);
            assert_eq!(r.json["detail"][0]["code"], "RATE_LIMITED", "{}", r.text);
            retry_after(&r);
            // gRPC.
            let mut orgs = app.organizations().await;
            let status = orgs
                .create_organization(bearer(
                    CreateOrganizationRequest {
                        organization: Some(Organization {
                            name: "A5".into(),
                            timezone: "Europe/Berlin".into(),
                            ..Default::default()
                        }),
                    },
                    &a.token,
                ))
                .await
                .expect_err("over the write budget");
            assert_rate_limited_grpc(&status);

            // Reads are not writes; nothing past the budget was stored.
            let listed = app
                .rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::Bearer(&a.token),
                    None,
                )
                .await;
            listed.assert_status(200);
            assert_eq!(listed.json.as_array().unwrap().len(), 3);
            // Another principal has a budget of its own.
            app.org(&b.token, "B1").await;
        },
    )
    .await;
}

/// Failed OAuth2 client-credential attempts are counted per existing client id and per
/// peer address: past either budget the token endpoint answers 429 + Retry-After in
/// MyCreditApp's dialect (RESOURCE_EXHAUSTED on gRPC), even for the right secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_oauth_attempts_are_throttled_per_client_and_per_peer() {
    for_each_backend_with(
        |c| {
            c.oauth_failures_per_client = orgd::rate_limit::Rate::new(3, 0);
            c.oauth_failures_per_peer = orgd::rate_limit::Rate::new(6, 0);
        },
        |app| async move {
            let owner = app.user("oauth").await;
            let org = app.org(&owner.token, "Clients").await;
            let id = id_of(&org).to_string();
            let client = |app: App, id: String| async move {
                let v = app
                    .cli(&["client", "create", "--organization", &id])
                    .await
                    .json();
                (
                    v["client_id"].as_str().unwrap().to_string(),
                    v["client_secret"].as_str().unwrap().to_string(),
                )
            };
            let (a_id, a_secret) = client(app.clone(), id.clone()).await;
            let (b_id, b_secret) = client(app.clone(), id.clone()).await;
            let token = |client_id: &str, secret: &str| {
                let body = json!({"client_id": client_id, "client_secret": secret,
                                  "grant_type": "client_credentials"});
                let app = app.clone();
                async move {
                    app.rest(Method::POST, "/v1/oauth2/token", Auth::None, Some(&body))
                        .await
                }
            };

            for _ in 0..3 {
                token(&a_id, "wrong").await.assert_status(401);
            }
            // Client A's budget is spent: refused before the secret is looked at.
            let r = token(&a_id, &a_secret).await;
            assert_eq!(r.status, 429, "{}", r.text);
            assert_eq!(r.json["detail"][0]["code"], "RATE_LIMITED", "{}", r.text);
            retry_after(&r);
            // Client B is another client: it still gets its token.
            token(&b_id, &b_secret).await.assert_status(200);

            // Made-up client ids count against the peer only; three more failures spend
            // the peer's budget of six, and then even client B is refused from here.
            for i in 0..3 {
                token(&format!("made-up-{i}"), "wrong")
                    .await
                    .assert_status(401);
            }
            let r = token(&b_id, &b_secret).await;
            assert_eq!(r.status, 429, "{}", r.text);
            retry_after(&r);

            // gRPC answers the same.
            let channel = app.channel().await;
            let mut oauth =
                orgd::proto::v1::o_auth_service_client::OAuthServiceClient::new(channel);
            let status = oauth
                .create_token(CreateTokenRequest {
                    client_id: b_id.clone(),
                    client_secret: b_secret.clone(),
                    grant_type: "client_credentials".into(),
                })
                .await
                .expect_err("the peer's budget is spent");
            assert_rate_limited_grpc(&status);
        },
    )
    .await;
}

/// Expired access tokens and presence clients are deleted by a background task started
/// with the server; live ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_rows_are_purged_in_the_background() {
    use orgd::entity::{api_token, user_client};
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
    for_each_backend_with(
        |c| c.purge_interval = std::time::Duration::from_millis(50),
        |app| async move {
            let owner = app.user("purged").await;
            let db = sea_orm::Database::connect(app.database_url.as_str())
                .await
                .unwrap();
            let conn = &db;
            let past = chrono::Utc::now() - chrono::Duration::hours(1);
            let future = chrono::Utc::now() + chrono::Duration::hours(1);
            let principal = orgd::auth::Principal::User { user_id: owner.id };
            let expired = orgd::domain::token::issue(conn, &principal, Some(past))
                .await
                .unwrap();
            let live = orgd::domain::token::issue(conn, &principal, Some(future))
                .await
                .unwrap();
            for (client_id, expires_at) in [("gone", past), ("here", future)] {
                user_client::ActiveModel {
                    user_id: Set(owner.id),
                    client_id: Set(client_id.into()),
                    expires_at: Set(expires_at),
                    created_at: Set(past),
                    ..Default::default()
                }
                .insert(conn)
                .await
                .unwrap();
            }
            let hash = orgd::auth::token::hash(&expired);

            // Eventually gone (the deadline is only there to end a failing run).
            let mut purged = false;
            for _ in 0..400 {
                let tokens = api_token::Entity::find()
                    .filter(api_token::Column::TokenHash.eq(hash.clone()))
                    .count(conn)
                    .await
                    .unwrap();
                let clients = user_client::Entity::find()
                    .filter(user_client::Column::ClientId.eq("gone"))
                    .count(conn)
                    .await
                    .unwrap();
                if tokens == 0 && clients == 0 {
                    purged = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            assert!(purged, "expired rows are still there");
            // The live ones stay, and still work.
            let left = user_client::Entity::find()
                .filter(user_client::Column::ClientId.eq("here"))
                .count(conn)
                .await
                .unwrap();
            assert_eq!(left, 1);
            for token in [&live, &owner.token] {
                app.rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::Bearer(token),
                    None,
                )
                .await
                .assert_status(200);
            }
        },
    )
    .await;
}

/// Every response has a byte budget, checked while it is written (protobuf on gRPC, JSON on
/// REST): past it a list is refused whole with TOO_MANY_RESULTS, never cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_over_the_byte_budget_are_refused_whole() {
    const BUDGET: usize = 8 * 1024;
    for_each_backend_with(
        |c| c.max_response_bytes = BUDGET,
        |app| async move {
            let owner = app.user("budget").await;
            let make = |i: usize| {
                json!({"name": format!("Big {i}"), "timezone": "Europe/Berlin",
                       "description": "d".repeat(1500)})
            };
            let first = app.create_org(&owner.token, make(0)).await;
            app.create_org(&owner.token, make(1)).await;
            // Two fit, on both surfaces.
            let list = |app: App, token: String| async move {
                app.rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::Bearer(&token),
                    None,
                )
                .await
            };
            let r = list(app.clone(), owner.token.clone()).await;
            r.assert_status(200);
            assert!(r.text.len() <= BUDGET, "{}", r.text.len());
            let mut orgs = app.organizations().await;
            let got = orgs
                .get_organizations(bearer(GetOrganizationsRequest {}, &owner.token))
                .await
                .unwrap();
            assert_eq!(got.get_ref().organizations.len(), 2);

            for i in 2..8 {
                app.create_org(&owner.token, make(i)).await;
            }
            // Eight do not: refused, not cut.
            let r = list(app.clone(), owner.token.clone()).await;
            r.assert_error(409, "TOO_MANY_RESULTS");
            let status = orgs
                .get_organizations(bearer(GetOrganizationsRequest {}, &owner.token))
                .await
                .expect_err("over the byte budget");
            assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
            let details = tonic_types::StatusExt::get_error_details(&status);
            assert_eq!(details.error_info().unwrap().reason, "TOO_MANY_RESULTS");
            // A page and a single organization are within it.
            let r = app
                .rest(
                    Method::GET,
                    "/api/v1/organizations/paginated?limit=2&offset=0",
                    Auth::Bearer(&owner.token),
                    None,
                )
                .await;
            r.assert_status(200);
            app.get_org_json(&owner.token, id_of(&first)).await;
        },
    )
    .await;
}

/// An organization has at most `max_children` children and a user belongs to at most
/// `max_organizations_per_user` organizations when creating one; past either, 409 /
/// FAILED_PRECONDITION with a reason of its own, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_and_organizations_per_user_are_bounded() {
    for_each_backend_with(
        |c| {
            c.max_children = 2;
            c.max_organizations_per_user = 4;
        },
        |app| async move {
            let owner = app.user("quota").await;
            let root = id_of(&app.org(&owner.token, "Root").await);
            app.child_org(&owner.token, root, "C1").await;
            app.child_org(&owner.token, root, "C2").await;
            let r = app
                .rest(
                    Method::POST,
                    "/api/v1/organization",
                    Auth::Bearer(&owner.token),
                    Some(&json!({"name": "C3", "timezone": "Europe/Berlin", "parentID": root})),
                )
                .await;
            r.assert_error(409, "TOO_MANY_CHILDREN");
            // A fourth organization, at the root; then moving it under the full parent is
            // refused too.
            let other = app.org(&owner.token, "Other").await;
            let mut moved = other.clone();
            moved["parentID"] = json!(root);
            app.rest(
                Method::PUT,
                "/api/v1/organization",
                Auth::Bearer(&owner.token),
                Some(&moved),
            )
            .await
            .assert_error(409, "TOO_MANY_CHILDREN");
            // The user belongs to four: a fifth is refused on every surface.
            let r = app
                .rest(
                    Method::POST,
                    "/api/v1/organization",
                    Auth::Bearer(&owner.token),
                    Some(&json!({"name": "Fifth", "timezone": "Europe/Berlin"})),
                )
                .await;
            r.assert_error(409, "TOO_MANY_ORGANIZATIONS");
            let mut orgs = app.organizations().await;
            let status = orgs
                .create_organization(bearer(
                    CreateOrganizationRequest {
                        organization: Some(Organization {
                            name: "Fifth".into(),
                            timezone: "Europe/Berlin".into(),
                            ..Default::default()
                        }),
                    },
                    &owner.token,
                ))
                .await
                .expect_err("one organization too many");
            assert_eq!(status.code(), tonic::Code::FailedPrecondition);
            let details = tonic_types::StatusExt::get_error_details(&status);
            assert_eq!(
                details.error_info().unwrap().reason,
                "TOO_MANY_ORGANIZATIONS"
            );
            let listed = app
                .rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::Bearer(&owner.token),
                    None,
                )
                .await;
            assert_eq!(listed.json.as_array().unwrap().len(), 4);
            assert!(
                listed
                    .json
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|o| o["id"] != moved["id"] || o["parentID"] != json!(root)),
                "the move was not stored"
            );
        },
    )
    .await;
}
