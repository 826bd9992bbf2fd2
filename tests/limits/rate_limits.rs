//! Rate limits: each principal's write budget, and failed OAuth2 attempts per client and per
//! peer.

use super::*;

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
