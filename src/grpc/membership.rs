use tonic::{Request, Response, Status};

use super::{convert, principal};
use crate::db::Db;
use crate::domain::{DomainError, membership};
use crate::proto::v1::membership_service_server::MembershipService;
use crate::proto::v1::*;

pub struct Memberships {
    pub db: Db,
    /// The most items a list read whole answers (`Config::max_unpaged_items`).
    pub max_unpaged_items: usize,
}

#[tonic::async_trait]
impl MembershipService for Memberships {
    async fn set_membership(
        &self,
        req: Request<SetMembershipRequest>,
    ) -> Result<Response<SetMembershipResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let role = convert::role_from_proto(body.role())
            .ok_or_else(|| DomainError::invalid("role", "must be member, admin or owner"))?;
        let view =
            membership::set(&self.db, &principal, &body.organization, &body.user, role).await?;
        Ok(Response::new(SetMembershipResponse {
            membership: Some(convert::membership(&view)),
        }))
    }

    async fn remove_membership(
        &self,
        req: Request<RemoveMembershipRequest>,
    ) -> Result<Response<RemoveMembershipResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        membership::remove(&self.db, &principal, &body.organization, &body.user).await?;
        Ok(Response::new(RemoveMembershipResponse {}))
    }

    async fn list_memberships(
        &self,
        req: Request<ListMembershipsRequest>,
    ) -> Result<Response<ListMembershipsResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let (views, total) = membership::list(
            &self.db,
            &principal,
            &r.organization,
            r.limit,
            r.offset,
            self.max_unpaged_items,
        )
        .await?;
        Ok(Response::new(ListMembershipsResponse {
            memberships: views.iter().map(convert::membership).collect(),
            total_memberships: total as i64,
        }))
    }
}
