//! The directory over native gRPC.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_happy_path() {
    for_each_backend(|app| async move {
        let a = Org::create(&app, "grpc").await;
        let g = Org::create(&app, "grpc-guest").await;
        let token = a.owner.token.clone();
        let mut svc = OrganizationPartnerServiceClient::connect(app.endpoint())
            .await
            .expect("connect OrganizationPartnerService");

        let created = svc
            .create_organization_partner(bearer(
                pb::CreateOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner: Some(pb::PartnerInput {
                        company_name: Some("Grpc AG".into()),
                        sales_amount: Some(1_073_741_823),
                        partner_type: pb::PartnerType::Supplier as i32,
                        email: Some(g.owner.email.clone()),
                        frequency: Some("monthly".into()),
                        country_code: Some("AT".into()),
                        ..Default::default()
                    }),
                },
                &token,
            ))
            .await
            .expect("create")
            .into_inner()
            .partner
            .expect("partner");
        assert!(uuid::Uuid::parse_str(&created.id).is_ok());
        assert_eq!(created.company_name, "Grpc AG");
        assert_eq!(created.sales_amount, 1_073_741_823);
        assert_eq!(created.partner_type, pb::PartnerType::Supplier as i32);
        assert_eq!(created.country_code.as_deref(), Some("AT"));
        assert_eq!(created.city, None);
        assert_eq!(
            created.invitation_status,
            pb::InvitationStatus::Unspecified as i32
        );
        assert!(created.created_at.is_some() && created.updated_at.is_some());

        let got = svc
            .get_organization_partner(bearer(
                pb::GetOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_id: created.id.clone(),
                },
                &token,
            ))
            .await
            .expect("get")
            .into_inner()
            .partner
            .expect("partner");
        assert_eq!(got, created);

        let listed = svc
            .list_organization_partners(bearer(
                pb::ListOrganizationPartnersRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_types: vec![pb::PartnerType::Supplier as i32],
                    search_text: Some("grpc".into()),
                    limit: Some(10),
                    offset: Some(0),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .expect("list")
            .into_inner();
        assert_eq!(listed.total_items, 1);
        assert_eq!(listed.items, vec![created.clone()]);

        let updated = svc
            .update_organization_partner(bearer(
                pb::UpdateOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_id: created.id.clone(),
                    partner: Some(pb::PartnerInput {
                        city: Some("Wien".into()),
                        ..Default::default()
                    }),
                },
                &token,
            ))
            .await
            .expect("update")
            .into_inner()
            .partner
            .expect("partner");
        assert_eq!(updated.city.as_deref(), Some("Wien"));
        assert_eq!(updated.company_name, "Grpc AG");
        assert_eq!(updated.partner_type, pb::PartnerType::Supplier as i32);
        assert_eq!(updated.sales_amount, 1_073_741_823);

        let invited = svc
            .invite_organization_partner(bearer(
                pb::InviteOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_id: created.id.clone(),
                },
                &token,
            ))
            .await
            .expect("invite")
            .into_inner()
            .partner
            .expect("partner");
        assert_eq!(
            invited.invitation_status,
            pb::InvitationStatus::Invited as i32
        );

        // Without a token: UNAUTHENTICATED; unconnected target: PERMISSION_DENIED.
        assert_code(
            svc.list_organization_partners(pb::ListOrganizationPartnersRequest {
                requester_organization_id: a.uuid.clone(),
                target_organization_id: a.uuid.clone(),
                partner_types: vec![pb::PartnerType::Customer as i32],
                limit: Some(10),
                offset: Some(0),
                ..Default::default()
            })
            .await,
            tonic::Code::Unauthenticated,
        );
        assert_code(
            svc.get_organization_partner(bearer(
                pb::GetOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: g.uuid.clone(),
                    partner_id: created.id.clone(),
                },
                &token,
            ))
            .await,
            tonic::Code::PermissionDenied,
        );
        assert_code(
            svc.list_organization_partners(bearer(
                pb::ListOrganizationPartnersRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_types: vec![pb::PartnerType::Customer as i32],
                    limit: Some(0),
                    offset: Some(0),
                    ..Default::default()
                },
                &token,
            ))
            .await,
            tonic::Code::InvalidArgument,
        );

        svc.delete_organization_partner(bearer(
            pb::DeleteOrganizationPartnerRequest {
                requester_organization_id: a.uuid.clone(),
                target_organization_id: a.uuid.clone(),
                partner_id: created.id.clone(),
            },
            &token,
        ))
        .await
        .expect("delete");
        assert_code(
            svc.get_organization_partner(bearer(
                pb::GetOrganizationPartnerRequest {
                    requester_organization_id: a.uuid.clone(),
                    target_organization_id: a.uuid.clone(),
                    partner_id: created.id.clone(),
                },
                &token,
            ))
            .await,
            tonic::Code::NotFound,
        );
    })
    .await;
}
