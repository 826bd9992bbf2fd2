//! The giosg PartnershipService: conversion only (`grpc::giosg`); the rules live in
//! `domain::partnership`.

use tonic::{Request, Response, Status};

use super::giosg::{
    display_name, giosg_organization, giosg_user, links, page_request, partner, partnership,
};
use super::{principal, request_url};
use crate::db::Db;
use crate::domain::partnership::{self, UpdateMode};
use crate::domain::partnership_pages;
use crate::proto::v1::partnership_service_server::PartnershipService;
use crate::proto::v1::*;

pub struct Partnerships {
    pub db: Db,
}

#[tonic::async_trait]
impl PartnershipService for Partnerships {
    async fn get_own_organization(
        &self,
        req: Request<GetOwnOrganizationRequest>,
    ) -> Result<Response<GetOwnOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        let view =
            partnership::get_own_organization(&self.db, &principal, &req.get_ref().organization_id)
                .await?;
        Ok(Response::new(GetOwnOrganizationResponse {
            organization: Some(giosg_organization(&view)),
        }))
    }

    async fn list_organization_users(
        &self,
        req: Request<ListOrganizationUsersRequest>,
    ) -> Result<Response<ListOrganizationUsersResponse>, Status> {
        let principal = principal(&req)?;
        let url = request_url(&req);
        let body = req.into_inner();
        let page = partnership_pages::list_users(
            &self.db,
            &principal,
            &body.organization_id,
            &page_request(body.cursor, body.ordering, body.page_size),
        )
        .await?;
        let (next, previous, results) = links(page, url.as_deref(), giosg_user);
        Ok(Response::new(ListOrganizationUsersResponse {
            next,
            previous,
            results,
        }))
    }

    async fn get_organization_user(
        &self,
        req: Request<GetOrganizationUserRequest>,
    ) -> Result<Response<GetOrganizationUserResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        let view =
            partnership::get_user(&self.db, &principal, &body.organization_id, &body.user_id)
                .await?;
        Ok(Response::new(GetOrganizationUserResponse {
            user: Some(giosg_user(&view)),
        }))
    }

    async fn list_partnerships(
        &self,
        req: Request<ListPartnershipsRequest>,
    ) -> Result<Response<ListPartnershipsResponse>, Status> {
        let principal = principal(&req)?;
        let url = request_url(&req);
        let body = req.into_inner();
        let page = partnership_pages::list_partnerships(
            &self.db,
            &principal,
            &body.organization_id,
            &page_request(body.cursor, body.ordering, body.page_size),
        )
        .await?;
        let (next, previous, results) = links(page, url.as_deref(), partnership);
        Ok(Response::new(ListPartnershipsResponse {
            next,
            previous,
            results,
        }))
    }

    async fn get_partnership(
        &self,
        req: Request<GetPartnershipRequest>,
    ) -> Result<Response<GetPartnershipResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        let view = partnership::get_partnership(
            &self.db,
            &principal,
            &body.organization_id,
            &body.partner_organization_id,
        )
        .await?;
        Ok(Response::new(GetPartnershipResponse {
            partnership: Some(partnership(&view)),
        }))
    }

    async fn update_partnership(
        &self,
        req: Request<UpdatePartnershipRequest>,
    ) -> Result<Response<UpdatePartnershipResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let view = partnership::update_partnership(
            &self.db,
            &principal,
            &body.organization_id,
            &body.partner_organization_id,
            UpdateMode::Replace,
            display_name(body.display_name)?,
        )
        .await?;
        Ok(Response::new(UpdatePartnershipResponse {
            partnership: Some(partnership(&view)),
        }))
    }

    async fn patch_partnership(
        &self,
        req: Request<PatchPartnershipRequest>,
    ) -> Result<Response<PatchPartnershipResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let view = partnership::update_partnership(
            &self.db,
            &principal,
            &body.organization_id,
            &body.partner_organization_id,
            UpdateMode::Patch,
            display_name(body.display_name)?,
        )
        .await?;
        Ok(Response::new(PatchPartnershipResponse {
            partnership: Some(partnership(&view)),
        }))
    }

    async fn delete_partnership(
        &self,
        req: Request<DeletePartnershipRequest>,
    ) -> Result<Response<DeletePartnershipResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        partnership::delete_partnership(
            &self.db,
            &principal,
            &body.organization_id,
            &body.partner_organization_id,
        )
        .await?;
        Ok(Response::new(DeletePartnershipResponse {}))
    }

    async fn list_partners(
        &self,
        req: Request<ListPartnersRequest>,
    ) -> Result<Response<ListPartnersResponse>, Status> {
        let principal = principal(&req)?;
        let url = request_url(&req);
        let body = req.into_inner();
        let page = partnership_pages::list_partners(
            &self.db,
            &principal,
            &body.organization_id,
            &page_request(body.cursor, body.ordering, body.page_size),
        )
        .await?;
        let (next, previous, results) = links(page, url.as_deref(), partner);
        Ok(Response::new(ListPartnersResponse {
            next,
            previous,
            results,
        }))
    }

    async fn get_partner(
        &self,
        req: Request<GetPartnerRequest>,
    ) -> Result<Response<GetPartnerResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        let view = partnership::get_partner(
            &self.db,
            &principal,
            &body.organization_id,
            &body.partner_organization_id,
        )
        .await?;
        Ok(Response::new(GetPartnerResponse {
            partner: Some(partner(&view)),
        }))
    }

    async fn list_partner_users(
        &self,
        req: Request<ListPartnerUsersRequest>,
    ) -> Result<Response<ListPartnerUsersResponse>, Status> {
        let principal = principal(&req)?;
        let url = request_url(&req);
        let body = req.into_inner();
        let page = partnership_pages::list_partner_users(
            &self.db,
            &principal,
            &body.organization_id,
            &body.partner_organization_id,
            &page_request(body.cursor, body.ordering, body.page_size),
        )
        .await?;
        let (next, previous, results) = links(page, url.as_deref(), giosg_user);
        Ok(Response::new(ListPartnerUsersResponse {
            next,
            previous,
            results,
        }))
    }

    async fn get_partner_user(
        &self,
        req: Request<GetPartnerUserRequest>,
    ) -> Result<Response<GetPartnerUserResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        let view = partnership::get_partner_user(
            &self.db,
            &principal,
            &body.organization_id,
            &body.partner_organization_id,
            &body.user_id,
        )
        .await?;
        Ok(Response::new(GetPartnerUserResponse {
            user: Some(giosg_user(&view)),
        }))
    }
}
