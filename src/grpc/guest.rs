//! MyCreditApp's guest invitations and host/guest connections: conversion only.

use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};

use super::{convert, principal, within_except};
use crate::db::Db;
use crate::domain::DomainError;
use crate::domain::guest::{self, ConnectionView, InvitationInput, InvitationView};
use crate::domain::partner_directory::Scope;
use crate::proto::v1::guest_connection_service_server::GuestConnectionService;
use crate::proto::v1::*;

pub struct Guests {
    pub db: Db,
}

fn scope(requester: &str, target: &str) -> Scope {
    Scope {
        requester: requester.to_string(),
        target: target.to_string(),
    }
}

fn timestamp(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    t.map(convert::timestamp)
}

fn invitation(v: &InvitationView) -> GuestInvitation {
    let m = &v.model;
    GuestInvitation {
        id: m.uuid.to_string(),
        host_organization_id: v.host.to_string(),
        email: m.email.clone(),
        first_invitation_sent_at: Some(convert::timestamp(m.first_invitation_sent_at)),
        last_invitation_sent_at: Some(convert::timestamp(m.last_invitation_sent_at)),
        expired_at: Some(convert::timestamp(m.expired_at)),
        expired: v.expired,
        status: match m.status.as_str() {
            guest::SENT => GuestInvitationStatus::Sent,
            guest::ACCEPTED => GuestInvitationStatus::Accepted,
            _ => GuestInvitationStatus::Unspecified,
        } as i32,
        invitation_token: m.invitation_token.clone(),
        archived: m.archived,
        created_at: Some(convert::timestamp(m.created_at)),
        updated_at: Some(convert::timestamp(m.updated_at)),
        accepted_at: timestamp(m.accepted_at),
        archived_at: timestamp(m.archived_at),
        parent_organization_id: v.parent.as_ref().map(|(id, _)| id.to_string()),
        parent_organization_name: v.parent.as_ref().map(|(_, name)| name.clone()),
    }
}

fn connection(v: &ConnectionView) -> GuestConnection {
    let m = &v.model;
    GuestConnection {
        id: m.uuid.to_string(),
        host_organization_id: v.host.0.to_string(),
        host_organization_name: v.host.1.clone(),
        guest_organization_id: v.guest.0.to_string(),
        guest_organization_name: v.guest.1.clone(),
        status: if m.archived {
            ConnectionStatus::Disconnected
        } else {
            ConnectionStatus::Connected
        } as i32,
        archived: m.archived,
        archived_at: timestamp(m.archived_at),
        created_at: Some(convert::timestamp(m.created_at)),
        updated_at: Some(convert::timestamp(m.updated_at)),
        invitation_id: v.invitation.map(|u| u.to_string()),
    }
}

/// A Timestamp outside what chrono represents is no time at all: refused as a bad value.
fn time(t: Option<prost_types::Timestamp>) -> Result<Option<DateTime<Utc>>, DomainError> {
    match t {
        None => Ok(None),
        Some(t) => DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32)
            .map(Some)
            .ok_or_else(|| DomainError::invalid("expired_at", "must be a valid date and time")),
    }
}

/// Field paths of the invitation body; the scope (header) fields are the request's own.
fn within_invitation(e: DomainError) -> DomainError {
    within_except(
        "invitation",
        e,
        &["requester_organization_id", "target_organization_id"],
    )
}

#[tonic::async_trait]
impl GuestConnectionService for Guests {
    async fn create_guest_invitation(
        &self,
        req: Request<CreateGuestInvitationRequest>,
    ) -> Result<Response<CreateGuestInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.into_inner();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let body = r.invitation.unwrap_or_default();
        let input = InvitationInput {
            email: body.email,
            expired_at: time(body.expired_at).map_err(within_invitation)?,
            parent_organization_id: body.parent_organization_id,
        };
        let view = guest::create(&self.db, &principal, &scope, input)
            .await
            .map_err(within_invitation)?;
        Ok(Response::new(CreateGuestInvitationResponse {
            guest_invitation: Some(invitation(&view)),
        }))
    }

    async fn list_guest_invitations(
        &self,
        req: Request<ListGuestInvitationsRequest>,
    ) -> Result<Response<ListGuestInvitationsResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let (rows, total) =
            guest::list_invitations(&self.db, &principal, &scope, r.limit, r.offset).await?;
        Ok(Response::new(ListGuestInvitationsResponse {
            items: rows.iter().map(invitation).collect(),
            total_items: total as i64,
        }))
    }

    async fn accept_guest_invitation(
        &self,
        req: Request<AcceptGuestInvitationRequest>,
    ) -> Result<Response<AcceptGuestInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let view = guest::accept(&self.db, &principal, &scope, &r.invitation_token).await?;
        Ok(Response::new(AcceptGuestInvitationResponse {
            guest_invitation: Some(invitation(&view)),
        }))
    }

    async fn list_guest_connections(
        &self,
        req: Request<ListGuestConnectionsRequest>,
    ) -> Result<Response<ListGuestConnectionsResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let (rows, total) =
            guest::list_guests(&self.db, &principal, &scope, r.limit, r.offset).await?;
        Ok(Response::new(ListGuestConnectionsResponse {
            items: rows.iter().map(connection).collect(),
            total_items: total as i64,
        }))
    }

    async fn update_guest_connection(
        &self,
        req: Request<UpdateGuestConnectionRequest>,
    ) -> Result<Response<UpdateGuestConnectionResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let archived = r.connection.as_ref().and_then(|c| c.archived);
        let view =
            guest::update_guest(&self.db, &principal, &scope, &r.guest_org_id, archived).await?;
        Ok(Response::new(UpdateGuestConnectionResponse {
            guest_connection: Some(connection(&view)),
        }))
    }

    async fn list_host_connections(
        &self,
        req: Request<ListHostConnectionsRequest>,
    ) -> Result<Response<ListHostConnectionsResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let scope = scope(&r.requester_organization_id, &r.target_organization_id);
        let statuses: Vec<guest::ConnectionStatus> = r
            .statuses()
            .filter_map(|s| match s {
                ConnectionStatus::Connected => Some(guest::ConnectionStatus::Connected),
                ConnectionStatus::Disconnected => Some(guest::ConnectionStatus::Disconnected),
                ConnectionStatus::Unspecified => None,
            })
            .collect();
        let (rows, total) =
            guest::list_hosts(&self.db, &principal, &scope, &statuses, r.limit, r.offset).await?;
        Ok(Response::new(ListHostConnectionsResponse {
            items: rows.iter().map(connection).collect(),
            total_items: total as i64,
        }))
    }
}
