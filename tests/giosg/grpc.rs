//! The invitation and partnership flow over native gRPC.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_over_grpc() {
    for_each_backend(|app| async move {
        let a = Org::active(&app, "grpc-a").await;
        let b = Org::active(&app, "grpc-b").await;
        let mut invitations = PartnershipInvitationServiceClient::connect(app.endpoint())
            .await
            .unwrap();
        let mut partnerships = PartnershipServiceClient::connect(app.endpoint())
            .await
            .unwrap();

        assert_code(
            invitations
                .create_outgoing_invitation(pb::CreateOutgoingInvitationRequest::default())
                .await,
            tonic::Code::Unauthenticated,
        );
        let sent = invitations
            .create_outgoing_invitation(bearer(
                pb::CreateOutgoingInvitationRequest {
                    organization_id: Some(a.uuid.clone()),
                    invitation: Some(pb::OutgoingInvitationInput {
                        email: b.email().to_string(),
                        message: "over gRPC".into(),
                        partner_display_name: Some("B".into()),
                    }),
                },
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .invitation
            .unwrap();
        assert_eq!(sent.status, 0);
        assert_eq!(sent.key, None);
        let incoming = invitations
            .list_incoming_invitations(bearer(
                pb::ListIncomingInvitationsRequest::default(),
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(incoming.results.len(), 1);
        let key = incoming.results[0].key.clone().expect("incoming key");
        let accepted = invitations
            .accept_incoming_invitation(bearer(
                pb::AcceptIncomingInvitationRequest {
                    key,
                    organization_id: None,
                    acceptance: Some(pb::InvitationAcceptance {
                        display_name: Some("A".into()),
                    }),
                },
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .invitation
            .unwrap();
        assert_eq!(accepted.status, 1);
        assert_eq!(accepted.created_new_partnership, Some(true));

        let list = partnerships
            .list_partnerships(bearer(
                pb::ListPartnershipsRequest {
                    organization_id: a.uuid.clone(),
                    page_size: Some(1),
                    ..Default::default()
                },
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(list.results.len(), 1);
        assert_eq!(list.results[0].display_name.as_deref(), Some("B"));
        assert_eq!(list.next, None);

        let patched = partnerships
            .patch_partnership(bearer(
                pb::PatchPartnershipRequest {
                    organization_id: a.uuid.clone(),
                    partner_organization_id: b.uuid.clone(),
                    display_name: Some(prost_types::Value {
                        kind: Some(prost_types::value::Kind::NullValue(0)),
                    }),
                },
                &a.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .partnership
            .unwrap();
        assert_eq!(patched.display_name, None);
        assert_code(
            partnerships
                .update_partnership(bearer(
                    pb::UpdatePartnershipRequest {
                        organization_id: a.uuid.clone(),
                        partner_organization_id: b.uuid.clone(),
                        display_name: None,
                    },
                    &a.owner.token,
                ))
                .await,
            tonic::Code::InvalidArgument,
        );
        let partner = partnerships
            .get_partner(bearer(
                pb::GetPartnerRequest {
                    organization_id: b.uuid.clone(),
                    partner_organization_id: a.uuid.clone(),
                },
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .partner
            .unwrap();
        assert_eq!(partner.id, a.uuid);
        let users = partnerships
            .list_partner_users(bearer(
                pb::ListPartnerUsersRequest {
                    organization_id: b.uuid.clone(),
                    partner_organization_id: a.uuid.clone(),
                    ..Default::default()
                },
                &b.owner.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(users.results.len(), 1);
        assert_eq!(users.results[0].id, a.owner.uuid);
        assert_code(
            partnerships
                .get_own_organization(bearer(
                    pb::GetOwnOrganizationRequest {
                        organization_id: a.uuid.clone(),
                    },
                    &b.owner.token,
                ))
                .await,
            tonic::Code::PermissionDenied,
        );
        partnerships
            .delete_partnership(bearer(
                pb::DeletePartnershipRequest {
                    organization_id: b.uuid.clone(),
                    partner_organization_id: a.uuid.clone(),
                },
                &b.owner.token,
            ))
            .await
            .unwrap();
        assert_code(
            partnerships
                .get_partnership(bearer(
                    pb::GetPartnershipRequest {
                        organization_id: a.uuid.clone(),
                        partner_organization_id: b.uuid.clone(),
                    },
                    &a.owner.token,
                ))
                .await,
            tonic::Code::NotFound,
        );
    })
    .await;
}
