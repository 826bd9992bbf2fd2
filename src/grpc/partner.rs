//! MyCreditApp's partner directory: conversion only.

use tonic::{Request, Response, Status};

use super::{convert, principal, within_except};
use crate::db::Db;
use crate::domain::DomainError;
use crate::domain::partner_directory::{
    self as directory, InvitationStatus as DomainInvitation, ListQuery, OrderBy,
    PartnerType as DomainType, Scope, SearchField,
};
use crate::entity::organization_partner;
use crate::proto::v1::organization_partner_service_server::OrganizationPartnerService;
use crate::proto::v1::*;

pub struct Partners {
    pub db: Db,
}

fn scope(requester: &str, target: &str) -> Scope {
    Scope {
        requester: requester.to_string(),
        target: target.to_string(),
    }
}

fn partner_type(t: PartnerType) -> Option<DomainType> {
    match t {
        PartnerType::Unspecified => None,
        PartnerType::Customer => Some(DomainType::Customer),
        PartnerType::Supplier => Some(DomainType::Supplier),
    }
}

fn partner(m: &organization_partner::Model) -> OrganizationPartner {
    OrganizationPartner {
        id: m.uuid.to_string(),
        company_name: m.company_name.clone(),
        sales_amount: m.sales_amount,
        partner_type: match DomainType::parse(&m.partner_type) {
            Some(DomainType::Customer) => PartnerType::Customer,
            Some(DomainType::Supplier) => PartnerType::Supplier,
            None => PartnerType::Unspecified,
        } as i32,
        email: m.email.clone(),
        frequency: m.frequency.clone(),
        payment_terms: m.payment_terms.clone(),
        address: m.address.clone(),
        city: m.city.clone(),
        state: m.state.clone(),
        postal_code: m.postal_code.clone(),
        country_code: m.country_code.clone(),
        company_registration_number: m.company_registration_number.clone(),
        created_at: Some(convert::timestamp(m.created_at)),
        updated_at: Some(convert::timestamp(m.updated_at)),
        invitation_status: match m
            .invitation_status
            .as_deref()
            .and_then(DomainInvitation::parse)
        {
            Some(DomainInvitation::Invited) => InvitationStatus::Invited,
            Some(DomainInvitation::Accepted) => InvitationStatus::Accepted,
            None => InvitationStatus::Unspecified,
        } as i32,
        guest_organization_id: m.guest_organization_id.map(|u| u.to_string()),
    }
}

fn input(p: Option<PartnerInput>) -> directory::PartnerInput {
    let Some(p) = p else {
        return directory::PartnerInput::default();
    };
    directory::PartnerInput {
        partner_type: partner_type(p.partner_type()),
        company_name: p.company_name,
        sales_amount: p.sales_amount,
        email: p.email,
        frequency: p.frequency,
        payment_terms: p.payment_terms,
        address: p.address,
        city: p.city,
        state: p.state,
        postal_code: p.postal_code,
        country_code: p.country_code,
        company_registration_number: p.company_registration_number,
    }
}

#[tonic::async_trait]
impl OrganizationPartnerService for Partners {
    async fn list_organization_partners(
        &self,
        req: Request<ListOrganizationPartnersRequest>,
    ) -> Result<Response<ListOrganizationPartnersResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let query = ListQuery {
            partner_types: r.partner_types().filter_map(partner_type).collect(),
            partner_ids: r.partner_ids.clone(),
            search_field: match r.search_field() {
                PartnerSearchField::Email => Some(SearchField::Email),
                PartnerSearchField::CompanyName => Some(SearchField::CompanyName),
                PartnerSearchField::Unspecified => None,
            },
            search_text: r.search_text.clone(),
            invitation_statuses: r
                .invitation_statuses()
                .filter_map(|s| match s {
                    InvitationStatus::Invited => Some(DomainInvitation::Invited),
                    InvitationStatus::Accepted => Some(DomainInvitation::Accepted),
                    InvitationStatus::Unspecified => None,
                })
                .collect(),
            order_by: match r.order_by() {
                PartnerOrderBy::Unspecified => None,
                PartnerOrderBy::CompanyName => Some(OrderBy::CompanyName),
                PartnerOrderBy::SalesAmount => Some(OrderBy::SalesAmount),
                PartnerOrderBy::PartnerType => Some(OrderBy::PartnerType),
                PartnerOrderBy::Email => Some(OrderBy::Email),
                PartnerOrderBy::Frequency => Some(OrderBy::Frequency),
                PartnerOrderBy::PaymentTerms => Some(OrderBy::PaymentTerms),
            },
            descending: r.order_dir() == OrderDirection::Desc,
            limit: r.limit,
            offset: r.offset,
        };
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let (rows, total) = directory::list(&self.db, &principal, &scope, query).await?;
        Ok(Response::new(ListOrganizationPartnersResponse {
            items: rows.iter().map(partner).collect(),
            total_items: total as i64,
        }))
    }

    async fn create_organization_partner(
        &self,
        req: Request<CreateOrganizationPartnerRequest>,
    ) -> Result<Response<CreateOrganizationPartnerResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.into_inner();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let stored = directory::create(&self.db, &principal, &scope, input(r.partner))
            .await
            .map_err(within_partner)?;
        Ok(Response::new(CreateOrganizationPartnerResponse {
            partner: Some(partner(&stored)),
        }))
    }

    async fn get_organization_partner(
        &self,
        req: Request<GetOrganizationPartnerRequest>,
    ) -> Result<Response<GetOrganizationPartnerResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let found = directory::get(&self.db, &principal, &scope, &r.partner_id).await?;
        Ok(Response::new(GetOrganizationPartnerResponse {
            partner: Some(partner(&found)),
        }))
    }

    async fn update_organization_partner(
        &self,
        req: Request<UpdateOrganizationPartnerRequest>,
    ) -> Result<Response<UpdateOrganizationPartnerResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.into_inner();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let stored = directory::update(
            &self.db,
            &principal,
            &scope,
            &r.partner_id,
            input(r.partner),
        )
        .await
        .map_err(within_partner)?;
        Ok(Response::new(UpdateOrganizationPartnerResponse {
            partner: Some(partner(&stored)),
        }))
    }

    async fn delete_organization_partner(
        &self,
        req: Request<DeleteOrganizationPartnerRequest>,
    ) -> Result<Response<DeleteOrganizationPartnerResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        directory::delete(&self.db, &principal, &scope, &r.partner_id).await?;
        Ok(Response::new(DeleteOrganizationPartnerResponse {}))
    }

    async fn invite_organization_partner(
        &self,
        req: Request<InviteOrganizationPartnerRequest>,
    ) -> Result<Response<InviteOrganizationPartnerResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let stored = directory::invite(&self.db, &principal, &scope, &r.partner_id).await?;
        Ok(Response::new(InviteOrganizationPartnerResponse {
            partner: Some(partner(&stored)),
        }))
    }
}

/// Field paths of the partner body; the scope (header) fields are the request's own.
fn within_partner(e: DomainError) -> DomainError {
    within_except(
        "partner",
        e,
        &["requester_organization_id", "target_organization_id"],
    )
}
