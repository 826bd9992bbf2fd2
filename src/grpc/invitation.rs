//! The giosg PartnershipInvitationService: conversion only; rules in `domain::invitation`.

use tonic::{Request, Response, Status};

use super::convert::timestamp;
use super::giosg::{links, page_request};
use super::{principal, request_url};
use crate::db::Db;
use crate::domain::giosg::{InvitationRef, OrganizationRef};
use crate::domain::invitation::{self, Acceptance, InvitationInput, InvitationView};
use crate::domain::partnership::Patch;
use crate::proto::v1::partnership_invitation_service_server::PartnershipInvitationService;
use crate::proto::v1::*;

pub struct Invitations {
    pub db: Db,
}

fn invitation(view: &InvitationView) -> PartnershipInvitation {
    let m = &view.model;
    PartnershipInvitation {
        id: m.uuid.to_string(),
        key: view.incoming.then(|| m.key.clone()),
        status: m.status,
        email: m.email.clone(),
        message: m.message.clone(),
        partner_display_name: m.partner_display_name.clone(),
        created_at: Some(timestamp(m.created_at)),
        created_by_organization_id: view
            .creator_company
            .as_ref()
            .map(|o| o.uuid)
            .unwrap_or_default()
            .to_string(),
        created_by_user_id: view.creator_person.as_ref().map(|u| u.uuid.to_string()),
        resolved_at: m.resolved_at.map(timestamp),
        resolved_by_organization_id: view.resolver_company.as_ref().map(|o| o.uuid.to_string()),
        resolved_by_user_id: view.resolver_person.as_ref().map(|u| u.uuid.to_string()),
        partnership_id: m.partnership_uuid.map(|u| u.to_string()),
        created_new_partnership: m.created_new_partnership,
    }
}

#[tonic::async_trait]
impl PartnershipInvitationService for Invitations {
    async fn create_outgoing_invitation(
        &self,
        req: Request<CreateOutgoingInvitationRequest>,
    ) -> Result<Response<CreateOutgoingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let input = body.invitation.unwrap_or_default();
        let view = invitation::create(
            &self.db,
            &principal,
            body.organization_id.as_deref().map(OrganizationRef::Uuid),
            InvitationInput {
                email: input.email,
                message: input.message,
                partner_display_name: input.partner_display_name,
                ..Default::default()
            },
        )
        .await?;
        Ok(Response::new(CreateOutgoingInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }

    async fn list_outgoing_invitations(
        &self,
        req: Request<ListOutgoingInvitationsRequest>,
    ) -> Result<Response<ListOutgoingInvitationsResponse>, Status> {
        let principal = principal(&req)?;
        let url = request_url(&req);
        let body = req.into_inner();
        let page = invitation::list_outgoing(
            &self.db,
            &principal,
            body.organization_id.as_deref().map(OrganizationRef::Uuid),
            &page_request(body.cursor, body.ordering, body.page_size),
        )
        .await?;
        let (next, previous, results) = links(page, url.as_deref(), invitation);
        Ok(Response::new(ListOutgoingInvitationsResponse {
            next,
            previous,
            results,
        }))
    }

    async fn get_outgoing_invitation(
        &self,
        req: Request<GetOutgoingInvitationRequest>,
    ) -> Result<Response<GetOutgoingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let view =
            invitation::get_outgoing(&self.db, &principal, InvitationRef::Uuid(&req.get_ref().id))
                .await?;
        Ok(Response::new(GetOutgoingInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }

    async fn cancel_outgoing_invitation(
        &self,
        req: Request<CancelOutgoingInvitationRequest>,
    ) -> Result<Response<CancelOutgoingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        invitation::cancel_outgoing(&self.db, &principal, InvitationRef::Uuid(&req.get_ref().id))
            .await?;
        Ok(Response::new(CancelOutgoingInvitationResponse {}))
    }

    async fn list_incoming_invitations(
        &self,
        req: Request<ListIncomingInvitationsRequest>,
    ) -> Result<Response<ListIncomingInvitationsResponse>, Status> {
        let principal = principal(&req)?;
        let url = request_url(&req);
        let body = req.into_inner();
        let page = invitation::list_incoming(
            &self.db,
            &principal,
            &page_request(body.cursor, body.ordering, body.page_size),
        )
        .await?;
        let (next, previous, results) = links(page, url.as_deref(), invitation);
        Ok(Response::new(ListIncomingInvitationsResponse {
            next,
            previous,
            results,
        }))
    }

    async fn get_incoming_invitation(
        &self,
        req: Request<GetIncomingInvitationRequest>,
    ) -> Result<Response<GetIncomingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let view = invitation::get_incoming(&self.db, &principal, &req.get_ref().key).await?;
        Ok(Response::new(GetIncomingInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }

    async fn accept_incoming_invitation(
        &self,
        req: Request<AcceptIncomingInvitationRequest>,
    ) -> Result<Response<AcceptIncomingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        // v5 cannot tell a null display name from an absent one: absent.
        let display_name = match body.acceptance.and_then(|a| a.display_name) {
            Some(name) => Patch::Value(name),
            None => Patch::Absent,
        };
        let view = invitation::accept(
            &self.db,
            &principal,
            &body.key,
            body.organization_id.as_deref().map(OrganizationRef::Uuid),
            Acceptance {
                display_name,
                visible_to_everyone: None,
            },
        )
        .await?;
        Ok(Response::new(AcceptIncomingInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }

    async fn reject_incoming_invitation(
        &self,
        req: Request<RejectIncomingInvitationRequest>,
    ) -> Result<Response<RejectIncomingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        let view = invitation::reject(
            &self.db,
            &principal,
            &body.key,
            body.organization_id.as_deref().map(OrganizationRef::Uuid),
        )
        .await?;
        Ok(Response::new(RejectIncomingInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }
}
