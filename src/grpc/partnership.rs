//! The giosg PartnershipService: conversion only; the rules live in `domain::partnership`.

use prost_types::value::Kind;
use tonic::{Request, Response, Status};

use super::convert::timestamp;
use super::{principal, request_url};
use crate::db::Db;
use crate::domain::pagination::{self, Page, PageRequest};
use crate::domain::partnership::{self, PartnershipView, Patch, UpdateMode};
use crate::domain::presence::{OrganizationView, UserView};
use crate::domain::{DomainError, DomainResult};
use crate::proto::v1::partnership_service_server::PartnershipService;
use crate::proto::v1::*;

pub struct Partnerships {
    pub db: Db,
}

pub fn giosg_organization(view: &OrganizationView) -> GiosgOrganization {
    let m = &view.model;
    GiosgOrganization {
        id: m.uuid.to_string(),
        name: m.name.clone(),
        email: m.email.clone(),
        created_at: Some(timestamp(m.created_at)),
        is_present: view.presence.present,
        is_online: view.presence.online,
    }
}

pub fn giosg_user(view: &UserView) -> GiosgUser {
    let m = &view.model;
    let avatar = match (&m.avatar_id, &m.avatar_url) {
        (Some(id), Some(url)) => Some(UserAvatar {
            id: id.to_string(),
            url: url.clone(),
        }),
        _ => None,
    };
    GiosgUser {
        id: m.uuid.to_string(),
        full_name: m.full_name.clone(),
        email: m.email.clone(),
        current_chat_count: m.current_chat_count,
        avatar_id: avatar.as_ref().map(|a| a.id.clone()),
        avatar,
        created_at: Some(timestamp(m.created_at)),
        is_present: view.presence.present,
        is_online: view.presence.online,
    }
}

fn partner(view: &OrganizationView) -> Partner {
    let m = &view.model;
    Partner {
        id: m.uuid.to_string(),
        name: m.name.clone(),
        created_at: Some(timestamp(m.created_at)),
        is_present: view.presence.present,
        is_online: view.presence.online,
    }
}

fn partnership(view: &PartnershipView) -> Partnership {
    Partnership {
        partner_organization_id: view.partner.model.uuid.to_string(),
        partner_organization: Some(giosg_organization(&view.partner)),
        organization_id: view.organization.model.uuid.to_string(),
        organization: Some(giosg_organization(&view.organization)),
        display_name: view.row.display_name.clone(),
        created_at: Some(timestamp(view.row.created_at)),
    }
}

pub fn page_request(
    cursor: Option<String>,
    ordering: Option<String>,
    page_size: Option<i32>,
) -> PageRequest {
    PageRequest {
        cursor,
        ordering,
        page_size,
    }
}

/// `next` / `previous` as the client follows them, and the page's items converted.
pub fn links<T, U>(
    page: Page<T>,
    url: Option<&str>,
    f: impl FnMut(&T) -> U,
) -> (Option<String>, Option<String>, Vec<U>) {
    (
        pagination::link(url, page.next),
        pagination::link(url, page.previous),
        page.items.iter().map(f).collect(),
    )
}

/// A JSON display name: absent, null, or a string; anything else is a 400.
pub fn display_name(value: Option<prost_types::Value>) -> DomainResult<Patch<String>> {
    match value.and_then(|v| v.kind) {
        None => Ok(Patch::Absent),
        Some(Kind::NullValue(_)) => Ok(Patch::Null),
        Some(Kind::StringValue(s)) => Ok(Patch::Value(s)),
        Some(_) => Err(DomainError::invalid("display_name", "Not a valid string.")),
    }
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
        let page = partnership::list_users(
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
        let page = partnership::list_partnerships(
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
        let page = partnership::list_partners(
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
        let page = partnership::list_partner_users(
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
