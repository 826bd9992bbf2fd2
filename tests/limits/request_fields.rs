//! Every string and list of every request is bounded, and a NUL byte is refused in any
//! string, before anything is stored.

use super::*;

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
