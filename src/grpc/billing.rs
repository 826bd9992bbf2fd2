use tonic::{Request, Response, Status};

use super::{convert, principal};
use crate::db::Db;
use crate::domain::{DomainError, avatar, organization};
use crate::proto::v1::billing_service_server::BillingService;
use crate::proto::v1::*;

pub struct Billing {
    pub db: Db,
    /// Signs the avatar URL of the organization it answers with.
    pub avatar_keys: avatar::UrlKeys,
}

#[tonic::async_trait]
impl BillingService for Billing {
    async fn set_organization_state(
        &self,
        req: Request<SetOrganizationStateRequest>,
    ) -> Result<Response<SetOrganizationStateResponse>, Status> {
        let principal = principal(&req)?;
        let links = avatar::Links {
            key: self.avatar_keys.get(&self.db).await?,
            origin: super::request_origin(&req),
        };
        let body = req.get_ref();
        let state = convert::state_from_proto(body.state())
            .ok_or_else(|| DomainError::invalid("state", "must be trial, active or inactive"))?;
        let view = organization::set_state(&self.db, &principal, &body.organization, state).await?;
        Ok(Response::new(SetOrganizationStateResponse {
            organization: Some(convert::organization(&view, &links)),
        }))
    }
}
