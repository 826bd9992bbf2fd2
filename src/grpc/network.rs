//! giosg's v3 network API (NetworkService): conversion only; the rules are the v5 mapping's,
//! in `domain::invitation` and `domain::partnership`.

use prost_types::value::Kind;
use tonic::{Request, Response, Status};

use super::convert::{json_to_value, timestamp};
use super::giosg::display_name;
use super::{principal, request_url};
use crate::db::Db;
use crate::domain::giosg::{InvitationRef, OrganizationRef};
use crate::domain::invitation::{self, Acceptance, InvitationInput, InvitationView, ListQuery};
use crate::domain::page_number::{self, NumberRequest, NumberedPage};
use crate::domain::partnership::{self, Changes, NetworkPartnershipView, UpdateMode};
use crate::domain::{DomainError, DomainResult};
use crate::entity::{organization, user};
use crate::proto::v1::network_service_server::NetworkService;
use crate::proto::v1::*;

pub struct Network {
    pub db: Db,
}

fn company(m: &organization::Model) -> NetworkCompany {
    NetworkCompany {
        id: m.id,
        name: m.name.clone(),
        email: m.email.clone(),
        created_at: Some(timestamp(m.created_at)),
    }
}

fn person(m: &user::Model) -> NetworkPerson {
    NetworkPerson {
        id: m.id,
        full_name: m.full_name.clone(),
        email: m.email.clone(),
    }
}

fn value_to_json(v: &prost_types::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => J::Null,
        Some(Kind::BoolValue(b)) => J::Bool(*b),
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Some(Kind::StringValue(s)) => J::String(s.clone()),
        Some(Kind::ListValue(l)) => J::Array(l.values.iter().map(value_to_json).collect()),
        Some(Kind::StructValue(s)) => struct_to_json(s),
    }
}

fn struct_to_json(s: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

/// Shares as stored (a JSON array of objects); anything else stored reads as none.
fn shares(stored: &str) -> Vec<prost_types::Struct> {
    match serde_json::from_str::<serde_json::Value>(stored) {
        Ok(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|item| match json_to_value(item).kind {
                Some(Kind::StructValue(s)) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn invitation(view: &InvitationView) -> NetworkInvitation {
    let m = &view.model;
    NetworkInvitation {
        id: m.id,
        key: view.incoming.then(|| m.key.clone()),
        status: m.status,
        email: m.email.clone(),
        message: m.message.clone(),
        partner_display_name: m.partner_display_name.clone(),
        // Not said (sent over v5): a new partnership is visible to everyone.
        partner_visible_to_everyone: m.partner_visible_to_everyone.unwrap_or(true),
        room_shares: shares(&m.room_shares),
        team_shares: shares(&m.team_shares),
        created_at: Some(timestamp(m.created_at)),
        creator_company_id: m.organization_id,
        creator_company: view.creator_company.as_ref().map(company),
        creator_person_id: m.created_by_user_id,
        creator_person: view.creator_person.as_ref().map(person),
        resolved_at: m.resolved_at.map(timestamp),
        resolver_company_id: m.resolved_by_organization_id,
        resolver_company: view.resolver_company.as_ref().map(company),
        resolver_person_id: m.resolved_by_user_id,
        resolver_person: view.resolver_person.as_ref().map(person),
    }
}

fn network_partnership(view: &NetworkPartnershipView) -> NetworkPartnership {
    let p = &view.partnership;
    let made_by = view.invitation.as_ref();
    let incoming = made_by.filter(|i| i.incoming);
    let outgoing = made_by.filter(|i| !i.incoming);
    NetworkPartnership {
        id: p.row.id,
        created_at: Some(timestamp(p.row.created_at)),
        partner_company_id: p.partner.model.id,
        partner_company: Some(company(&p.partner.model)),
        company_id: p.organization.model.id,
        company: Some(company(&p.organization.model)),
        display_name: p.row.display_name.clone(),
        visible_to_everyone: p.row.visible_to_everyone,
        incoming_invitation_id: incoming.map(|i| i.model.id),
        incoming_invitation: incoming.map(invitation),
        outgoing_invitation_id: outgoing.map(|i| i.model.id),
        outgoing_invitation: outgoing.map(invitation),
    }
}

/// `count`, `next` and `previous` as the client follows them, and the page's items.
fn numbered<T, U>(
    page: NumberedPage<T>,
    url: Option<&str>,
    f: impl FnMut(&T) -> U,
) -> (i64, Option<String>, Option<String>, Vec<U>) {
    (
        page.count as i64,
        page_number::link(url, page.next),
        page_number::link(url, page.previous),
        page.items.iter().map(f).collect(),
    )
}

fn number_request(
    ordering: Option<String>,
    page: Option<i32>,
    page_size: Option<i32>,
) -> NumberRequest {
    NumberRequest {
        ordering,
        page,
        page_size,
    }
}

fn required(field: &str) -> DomainError {
    DomainError::invalid(field, "This field is required.")
}

fn changes(
    display: Option<prost_types::Value>,
    visible_to_everyone: Option<bool>,
) -> DomainResult<Changes> {
    Ok(Changes {
        display_name: display_name(display)?,
        visible_to_everyone,
    })
}

#[tonic::async_trait]
impl NetworkService for Network {
    async fn create_network_invitation(
        &self,
        req: Request<CreateNetworkInvitationRequest>,
    ) -> Result<Response<CreateNetworkInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let input = body.invitation.unwrap_or_default();
        let input = InvitationInput {
            email: input.email,
            message: input.message,
            partner_display_name: input.partner_display_name,
            partner_visible_to_everyone: Some(
                input
                    .partner_visible_to_everyone
                    .ok_or_else(|| required("partner_visible_to_everyone"))?,
            ),
            room_shares: input.room_shares.iter().map(struct_to_json).collect(),
            team_shares: input.team_shares.iter().map(struct_to_json).collect(),
        };
        let view = invitation::create(
            &self.db,
            &principal,
            body.organization_id.map(OrganizationRef::Id),
            input,
        )
        .await?;
        Ok(Response::new(CreateNetworkInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }

    async fn list_network_outgoing_invitations(
        &self,
        req: Request<ListNetworkOutgoingInvitationsRequest>,
    ) -> Result<Response<ListNetworkOutgoingInvitationsResponse>, Status> {
        let principal = principal(&req)?;
        let url = request_url(&req);
        let body = req.into_inner();
        let query = ListQuery {
            status: body.status,
            page: number_request(body.ordering, body.page, body.page_size),
        };
        let page = invitation::list_outgoing_numbered(
            &self.db,
            &principal,
            body.organization_id.map(OrganizationRef::Id),
            &query,
        )
        .await?;
        let (count, next, previous, results) = numbered(page, url.as_deref(), invitation);
        Ok(Response::new(ListNetworkOutgoingInvitationsResponse {
            count,
            next,
            previous,
            results,
        }))
    }

    async fn get_network_outgoing_invitation(
        &self,
        req: Request<GetNetworkOutgoingInvitationRequest>,
    ) -> Result<Response<GetNetworkOutgoingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let id = InvitationRef::Id(req.get_ref().invitation_id);
        let view = invitation::get_outgoing(&self.db, &principal, id).await?;
        Ok(Response::new(GetNetworkOutgoingInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }

    async fn cancel_network_outgoing_invitation(
        &self,
        req: Request<CancelNetworkOutgoingInvitationRequest>,
    ) -> Result<Response<CancelNetworkOutgoingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let id = InvitationRef::Id(req.get_ref().invitation_id);
        invitation::cancel_outgoing(&self.db, &principal, id).await?;
        Ok(Response::new(CancelNetworkOutgoingInvitationResponse {}))
    }

    async fn list_network_incoming_invitations(
        &self,
        req: Request<ListNetworkIncomingInvitationsRequest>,
    ) -> Result<Response<ListNetworkIncomingInvitationsResponse>, Status> {
        let principal = principal(&req)?;
        let url = request_url(&req);
        let body = req.into_inner();
        let query = ListQuery {
            status: body.status,
            page: number_request(body.ordering, body.page, body.page_size),
        };
        let page = invitation::list_incoming_numbered(&self.db, &principal, &query).await?;
        let (count, next, previous, results) = numbered(page, url.as_deref(), invitation);
        Ok(Response::new(ListNetworkIncomingInvitationsResponse {
            count,
            next,
            previous,
            results,
        }))
    }

    async fn get_network_incoming_invitation(
        &self,
        req: Request<GetNetworkIncomingInvitationRequest>,
    ) -> Result<Response<GetNetworkIncomingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let view =
            invitation::get_incoming(&self.db, &principal, &req.get_ref().invitation_key).await?;
        Ok(Response::new(GetNetworkIncomingInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }

    async fn accept_network_incoming_invitation(
        &self,
        req: Request<AcceptNetworkIncomingInvitationRequest>,
    ) -> Result<Response<AcceptNetworkIncomingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let acceptance = body.acceptance.unwrap_or_default();
        let acceptance = Acceptance {
            display_name: display_name(acceptance.display_name)?,
            visible_to_everyone: Some(
                acceptance
                    .visible_to_everyone
                    .ok_or_else(|| required("visible_to_everyone"))?,
            ),
        };
        let view = invitation::accept(
            &self.db,
            &principal,
            &body.invitation_key,
            body.organization_id.map(OrganizationRef::Id),
            acceptance,
        )
        .await?;
        Ok(Response::new(AcceptNetworkIncomingInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }

    async fn reject_network_incoming_invitation(
        &self,
        req: Request<RejectNetworkIncomingInvitationRequest>,
    ) -> Result<Response<RejectNetworkIncomingInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        let view = invitation::reject(
            &self.db,
            &principal,
            &body.invitation_key,
            body.organization_id.map(OrganizationRef::Id),
        )
        .await?;
        Ok(Response::new(RejectNetworkIncomingInvitationResponse {
            invitation: Some(invitation(&view)),
        }))
    }

    async fn list_network_partnerships(
        &self,
        req: Request<ListNetworkPartnershipsRequest>,
    ) -> Result<Response<ListNetworkPartnershipsResponse>, Status> {
        let principal = principal(&req)?;
        let url = request_url(&req);
        let body = req.into_inner();
        let page = partnership::list_network(
            &self.db,
            &principal,
            body.organization_id.map(OrganizationRef::Id),
            &number_request(body.ordering, body.page, body.page_size),
        )
        .await?;
        let (count, next, previous, results) = numbered(page, url.as_deref(), network_partnership);
        Ok(Response::new(ListNetworkPartnershipsResponse {
            count,
            next,
            previous,
            results,
        }))
    }

    async fn get_network_partnership(
        &self,
        req: Request<GetNetworkPartnershipRequest>,
    ) -> Result<Response<GetNetworkPartnershipResponse>, Status> {
        let principal = principal(&req)?;
        let view =
            partnership::get_network(&self.db, &principal, req.get_ref().partnership_id).await?;
        Ok(Response::new(GetNetworkPartnershipResponse {
            partnership: Some(network_partnership(&view)),
        }))
    }

    async fn update_network_partnership(
        &self,
        req: Request<UpdateNetworkPartnershipRequest>,
    ) -> Result<Response<UpdateNetworkPartnershipResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let view = partnership::update_network(
            &self.db,
            &principal,
            body.partnership_id,
            UpdateMode::Replace,
            changes(body.display_name, body.visible_to_everyone)?,
        )
        .await?;
        Ok(Response::new(UpdateNetworkPartnershipResponse {
            partnership: Some(network_partnership(&view)),
        }))
    }

    async fn patch_network_partnership(
        &self,
        req: Request<PatchNetworkPartnershipRequest>,
    ) -> Result<Response<PatchNetworkPartnershipResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let view = partnership::update_network(
            &self.db,
            &principal,
            body.partnership_id,
            UpdateMode::Patch,
            changes(body.display_name, body.visible_to_everyone)?,
        )
        .await?;
        Ok(Response::new(PatchNetworkPartnershipResponse {
            partnership: Some(network_partnership(&view)),
        }))
    }

    async fn delete_network_partnership(
        &self,
        req: Request<DeleteNetworkPartnershipRequest>,
    ) -> Result<Response<DeleteNetworkPartnershipResponse>, Status> {
        let principal = principal(&req)?;
        partnership::delete_network(&self.db, &principal, req.get_ref().partnership_id).await?;
        Ok(Response::new(DeleteNetworkPartnershipResponse {}))
    }
}
