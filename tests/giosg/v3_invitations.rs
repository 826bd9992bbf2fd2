//! giosg's v3 network invitations (`/api/v3/network/invitations`) against a real server:
//! the published paths and attributes with integer ids, accepting from an existing partner,
//! and the network service over gRPC (their rules are in `v3_invitation_rules`). Each test
//! runs on SQLite and (when configured) PostgreSQL.

use super::v3::*;
use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};
// The v3 fixtures' own member (of their own Org), not the shared library's.
use super::v3::member;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_list_get_and_accept_with_published_attributes() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "v3-a").await;
        let b = active_org(&app, "v3-b").await;

        // partner_visible_to_everyone is required; nothing is stored without it.
        assert_field_error(
            &call(
                &app,
                Method::POST,
                OUTGOING,
                &a.owner.token,
                Some(json!({"email": b.email})),
            )
            .await,
            "partner_visible_to_everyone",
        );
        assert_eq!(
            get(&app, OUTGOING, &a.owner.token).await.json["count"],
            json!(0)
        );

        let sent = call(
            &app,
            Method::POST,
            OUTGOING,
            &a.owner.token,
            Some(json!({
                "email": b.email,
                "message": "let us partner",
                "partner_display_name": "Our Beta",
                "partner_visible_to_everyone": false,
                "room_shares": [{"room_id": "r-7", "name": "Lobby"}],
                "team_shares": [],
            })),
        )
        .await;
        sent.assert_status(201);
        let sent = sent.json;
        assert_keys(&sent, INVITATION_KEYS);
        let id = sent["id"].as_i64().expect("integer id");
        assert_eq!(sent["key"], Value::Null);
        assert_eq!(sent["status"], json!(0));
        assert_eq!(sent["email"], json!(b.email));
        assert_eq!(sent["partner_display_name"], json!("Our Beta"));
        assert_eq!(sent["partner_visible_to_everyone"], json!(false));
        assert_eq!(
            sent["room_shares"],
            json!([{"room_id": "r-7", "name": "Lobby"}])
        );
        assert_eq!(sent["team_shares"], json!([]));
        assert_eq!(sent["creator_company_id"], json!(a.id));
        assert_keys(&sent["creator_company"], COMPANY_KEYS);
        assert_eq!(sent["creator_company"]["id"], json!(a.id));
        assert_eq!(sent["creator_company"]["email"], json!(a.email));
        assert_eq!(sent["creator_person_id"], json!(a.owner.id));
        assert_keys(&sent["creator_person"], PERSON_KEYS);
        assert_eq!(sent["creator_person"]["email"], json!(a.owner.email));
        for field in [
            "resolved_at",
            "resolver_company_id",
            "resolver_company",
            "resolver_person_id",
            "resolver_person",
        ] {
            assert_eq!(sent[field], Value::Null, "{field}");
        }

        // The sender lists and reads it; with a trailing slash or without.
        let list = get(&app, OUTGOING, &a.owner.token).await;
        list.assert_status(200);
        assert_keys(&list.json, &["count", "next", "previous", "results"]);
        assert_eq!(list.json["count"], json!(1));
        assert_eq!(ids(&list.json), vec![id]);
        let one = get(&app, &format!("{OUTGOING}{id}"), &a.owner.token).await;
        one.assert_status(200);
        assert_eq!(one.json, sent);
        get(&app, &format!("{OUTGOING}{id}/"), &a.owner.token)
            .await
            .assert_status(200);

        // The addressee sees it as incoming, with its key.
        let key = key_of(&app, &b.owner.token, id).await;
        let incoming = get(&app, &format!("{INCOMING}{key}"), &b.owner.token).await;
        incoming.assert_status(200);
        assert_keys(&incoming.json, INVITATION_KEYS);
        assert_eq!(incoming.json["key"], json!(key));
        assert_eq!(incoming.json["id"], json!(id));

        // Accepting needs visible_to_everyone; the invitation stays pending meanwhile.
        assert_field_error(
            &call(
                &app,
                Method::POST,
                &accept_path(&key),
                &b.owner.token,
                Some(json!({"display_name": "Our Alpha"})),
            )
            .await,
            "visible_to_everyone",
        );
        assert_eq!(
            get(&app, &format!("{INCOMING}{key}"), &b.owner.token)
                .await
                .json["status"],
            json!(0)
        );
        let accepted = call(
            &app,
            Method::POST,
            &accept_path(&key),
            &b.owner.token,
            Some(json!({"display_name": "Our Alpha", "visible_to_everyone": true})),
        )
        .await;
        accepted.assert_status(200);
        let accepted = accepted.json;
        assert_keys(&accepted, INVITATION_KEYS);
        assert_eq!(accepted["status"], json!(1));
        assert_eq!(accepted["key"], json!(key));
        assert_eq!(accepted["resolver_company_id"], json!(b.id));
        assert_eq!(accepted["resolver_company"]["id"], json!(b.id));
        assert_eq!(accepted["resolver_person_id"], json!(b.owner.id));
        assert_eq!(accepted["resolver_person"]["id"], json!(b.owner.id));
        assert!(accepted["resolved_at"].is_string(), "{accepted}");

        // The partnership exists on both sides, each with what its side asked for.
        let a_side = side(&app, &a, &b).await;
        assert_eq!(a_side["display_name"], json!("Our Beta"));
        assert_eq!(a_side["visible_to_everyone"], json!(false));
        let b_side = side(&app, &b, &a).await;
        assert_eq!(b_side["display_name"], json!("Our Alpha"));
        assert_eq!(b_side["visible_to_everyone"], json!(true));

        // The v5 mapping shows the same invitation, resolved.
        let v5 = get(&app, "/api/v5/outgoing_invitations", &a.owner.token).await;
        assert_eq!(v5.json["results"][0]["status"], json!(1));
        assert_eq!(
            v5.json["results"][0]["resolved_by_organization_id"],
            json!(b.uuid)
        );

        // Bad input: 400 in giosg's shape, 404 for an id that names nothing.
        assert_detail(
            &get(&app, &format!("{OUTGOING}abc"), &a.owner.token).await,
            404,
        );
        assert_detail(
            &get(&app, &format!("{OUTGOING}999999"), &a.owner.token).await,
            404,
        );
        assert_detail(
            &get(&app, &format!("{OUTGOING}{id}"), &b.owner.token).await,
            404,
        );
        assert_detail(
            &app.rest(Method::GET, OUTGOING, Auth::None, None).await,
            401,
        );
        assert_field_error(
            &call(
                &app,
                Method::POST,
                OUTGOING,
                &a.owner.token,
                Some(json!({"email": "not an email", "partner_visible_to_everyone": true})),
            )
            .await,
            "email",
        );
        assert_field_error(
            &call(
                &app,
                Method::POST,
                OUTGOING,
                &a.owner.token,
                Some(
                    json!({"email": "x@example.com", "partner_visible_to_everyone": true,
                    "room_shares": [5]}),
                ),
            )
            .await,
            "room_shares.0",
        );
        let many: Vec<Value> = (0..101).map(|i| json!({"room_id": i})).collect();
        assert_field_error(
            &call(
                &app,
                Method::POST,
                OUTGOING,
                &a.owner.token,
                Some(
                    json!({"email": "x@example.com", "partner_visible_to_everyone": true,
                    "room_shares": many}),
                ),
            )
            .await,
            "room_shares",
        );
        assert_eq!(
            get(&app, OUTGOING, &a.owner.token).await.json["count"],
            json!(1)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_from_an_existing_partner_overwrites_unless_omitted() {
    for_each_backend(|app| async move {
        let a = active_org(&app, "again-a").await;
        let b = active_org(&app, "again-b").await;
        let first = partner_up(&app, &a, &b).await;
        let b_side = side(&app, &b, &a).await;
        assert_eq!(b_side["display_name"], Value::Null);
        assert_eq!(b_side["visible_to_everyone"], json!(true));
        assert_eq!(b_side["incoming_invitation_id"], first["id"]);

        // Again, with a display name and another visibility: nothing new, both overwritten.
        let sent = invite(&app, &a, &b.email, true).await;
        let key = key_of(&app, &b.owner.token, sent["id"].as_i64().unwrap()).await;
        call(
            &app,
            Method::POST,
            &accept_path(&key),
            &b.owner.token,
            Some(json!({"display_name": "Alpha Oy", "visible_to_everyone": false})),
        )
        .await
        .assert_status(200);
        let again = side(&app, &b, &a).await;
        assert_eq!(again["id"], b_side["id"], "the same partnership");
        assert_eq!(again["display_name"], json!("Alpha Oy"));
        assert_eq!(again["visible_to_everyone"], json!(false));
        assert_eq!(
            get(&app, PARTNERSHIPS, &b.owner.token).await.json["count"],
            json!(1)
        );
        // It was made by the first invitation still.
        assert_eq!(again["incoming_invitation_id"], first["id"]);

        // Again, display_name omitted: it stays; visible_to_everyone is set.
        let sent = invite(&app, &a, &b.email, true).await;
        let key = key_of(&app, &b.owner.token, sent["id"].as_i64().unwrap()).await;
        call(
            &app,
            Method::POST,
            &accept_path(&key),
            &b.owner.token,
            Some(json!({"visible_to_everyone": true})),
        )
        .await
        .assert_status(200);
        let again = side(&app, &b, &a).await;
        assert_eq!(again["display_name"], json!("Alpha Oy"));
        assert_eq!(again["visible_to_everyone"], json!(true));

        // Again, display_name null: shown by the partner's own name.
        let sent = invite(&app, &a, &b.email, true).await;
        let key = key_of(&app, &b.owner.token, sent["id"].as_i64().unwrap()).await;
        call(
            &app,
            Method::POST,
            &accept_path(&key),
            &b.owner.token,
            Some(json!({"display_name": null, "visible_to_everyone": true})),
        )
        .await
        .assert_status(200);
        assert_eq!(side(&app, &b, &a).await["display_name"], Value::Null);
        // The sender's side took each invitation's partner_visible_to_everyone (true).
        assert_eq!(side(&app, &a, &b).await["visible_to_everyone"], json!(true));
    })
    .await;
}

/// The same RPCs over gRPC (tonic): integer ids, page numbers as bare numbers, the error
/// split as status codes; and an organization that resolved an invitation sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_service_over_grpc() {
    use orgd::proto::v1 as pb;
    use orgd::proto::v1::network_service_client::NetworkServiceClient;

    for_each_backend(|app| async move {
        let a = active_org(&app, "g3-a").await;
        let b = active_org(&app, "g3-b").await;
        let mut network = NetworkServiceClient::connect(app.endpoint()).await.unwrap();
        let send = |email: String, visible: Option<bool>| pb::CreateNetworkInvitationRequest {
            organization_id: Some(a.id),
            invitation: Some(pb::NetworkInvitationInput {
                email,
                message: "over gRPC".into(),
                partner_visible_to_everyone: visible,
                ..Default::default()
            }),
        };
        assert_code(
            network
                .create_network_invitation(send(b.email.clone(), Some(true)))
                .await,
            tonic::Code::Unauthenticated,
        );
        assert_code(
            network
                .create_network_invitation(bearer(send(b.email.clone(), None), &a.owner.token))
                .await,
            tonic::Code::InvalidArgument,
        );
        let sent = network
            .create_network_invitation(bearer(send(b.email.clone(), Some(false)), &a.owner.token))
            .await
            .unwrap()
            .into_inner()
            .invitation
            .unwrap();
        assert_eq!(sent.creator_company_id, a.id);
        assert_eq!(sent.creator_person_id, Some(a.owner.id));
        assert!(!sent.partner_visible_to_everyone);
        for i in 0..2 {
            network
                .create_network_invitation(bearer(
                    send(format!("g3-{i}@elsewhere.example"), Some(true)),
                    &a.owner.token,
                ))
                .await
                .unwrap();
        }
        let page = network
            .list_network_outgoing_invitations(bearer(
                pb::ListNetworkOutgoingInvitationsRequest {
                    page_size: Some(2),
                    ordering: Some("-created_at".into()),
                    ..Default::default()
                },
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.count, 3);
        assert_eq!(page.results.len(), 2);
        assert_eq!(page.next.as_deref(), Some("2"));
        assert_eq!(page.previous, None);

        let incoming = network
            .list_network_incoming_invitations(bearer(
                pb::ListNetworkIncomingInvitationsRequest::default(),
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(incoming.count, 1);
        let key = incoming.results[0].key.clone().expect("incoming key");
        let accept = |visible: Option<bool>| pb::AcceptNetworkIncomingInvitationRequest {
            invitation_key: key.clone(),
            organization_id: None,
            acceptance: Some(pb::NetworkAcceptance {
                display_name: None,
                visible_to_everyone: visible,
            }),
        };
        assert_code(
            network
                .accept_network_incoming_invitation(bearer(accept(None), &b.owner.token))
                .await,
            tonic::Code::InvalidArgument,
        );
        assert_code(
            network
                .accept_network_incoming_invitation(bearer(accept(Some(true)), &a.owner.token))
                .await,
            tonic::Code::PermissionDenied,
        );
        let accepted = network
            .accept_network_incoming_invitation(bearer(accept(Some(true)), &b.owner.token))
            .await
            .unwrap()
            .into_inner()
            .invitation
            .unwrap();
        assert_eq!(accepted.status, 1);
        assert_eq!(accepted.resolver_company_id, Some(b.id));
        assert_code(
            network
                .accept_network_incoming_invitation(bearer(accept(Some(true)), &b.owner.token))
                .await,
            tonic::Code::PermissionDenied,
        );

        // Sent to a person of X, who accepts it for X: X's owner sees it among X's
        // incoming ones (X resolved it), though it was sent to neither X's email nor theirs.
        let x = active_org(&app, "g3-x").await;
        let person = member(&app, &x, "g3-person", "admin").await;
        let to_person = network
            .create_network_invitation(bearer(
                send(person.email.clone(), Some(true)),
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .invitation
            .unwrap();
        let reader = network.clone();
        let list_as = |token: String| {
            let mut network = reader.clone();
            async move {
                network
                    .list_network_incoming_invitations(bearer(
                        pb::ListNetworkIncomingInvitationsRequest::default(),
                        &token,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
            }
        };
        assert_eq!(list_as(x.owner.token.clone()).await.count, 0);
        let person_key = list_as(person.token.clone()).await.results[0]
            .key
            .clone()
            .unwrap();
        network
            .accept_network_incoming_invitation(bearer(
                pb::AcceptNetworkIncomingInvitationRequest {
                    invitation_key: person_key,
                    organization_id: None,
                    acceptance: Some(pb::NetworkAcceptance {
                        display_name: None,
                        visible_to_everyone: Some(true),
                    }),
                },
                &person.token,
            ))
            .await
            .unwrap();
        let seen = list_as(x.owner.token.clone()).await;
        assert_eq!(seen.count, 1);
        assert_eq!(seen.results[0].id, to_person.id);
        assert_eq!(seen.results[0].resolver_company_id, Some(x.id));

        let partnerships = network
            .list_network_partnerships(bearer(
                pb::ListNetworkPartnershipsRequest::default(),
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(partnerships.count, 2);
        let mine = partnerships
            .results
            .iter()
            .find(|p| p.partner_company_id == b.id)
            .expect("A's side with B");
        assert_eq!(mine.partner_company_id, b.id);
        assert!(!mine.visible_to_everyone);
        assert_eq!(mine.outgoing_invitation_id, Some(sent.id));
        let patched = network
            .patch_network_partnership(bearer(
                pb::PatchNetworkPartnershipRequest {
                    partnership_id: mine.id,
                    display_name: None,
                    visible_to_everyone: Some(true),
                },
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .partnership
            .unwrap();
        assert!(patched.visible_to_everyone);
        assert_code(
            network
                .get_network_partnership(bearer(
                    pb::GetNetworkPartnershipRequest {
                        partnership_id: mine.id,
                    },
                    &b.owner.token,
                ))
                .await,
            tonic::Code::NotFound,
        );
        network
            .delete_network_partnership(bearer(
                pb::DeleteNetworkPartnershipRequest {
                    partnership_id: mine.id,
                },
                &a.owner.token,
            ))
            .await
            .unwrap();
        let left = network
            .list_network_partnerships(bearer(
                pb::ListNetworkPartnershipsRequest::default(),
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(left.count, 0);
    })
    .await;
}
