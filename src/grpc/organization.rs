use tonic::{Request, Response, Status};

use super::{convert, principal, within};
use crate::db::Db;
use crate::domain::{DomainError, organization};
use crate::proto::v1::organization_service_server::OrganizationService;
use crate::proto::v1::*;

pub struct Organizations {
    pub db: Db,
}

fn required(o: Option<Organization>) -> Result<Organization, Status> {
    o.ok_or_else(|| DomainError::invalid("organization", "is required").into())
}

#[tonic::async_trait]
impl OrganizationService for Organizations {
    async fn create_organization(
        &self,
        req: Request<CreateOrganizationRequest>,
    ) -> Result<Response<CreateOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        let input = convert::organization_input(required(req.into_inner().organization)?);
        let view = organization::create(&self.db, &principal, input)
            .await
            .map_err(|e| within("organization", e))?;
        Ok(Response::new(CreateOrganizationResponse {
            organization: Some(convert::organization(&view)),
        }))
    }

    async fn update_organization(
        &self,
        req: Request<UpdateOrganizationRequest>,
    ) -> Result<Response<UpdateOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        let body = required(req.into_inner().organization)?;
        let id = body.id;
        let view =
            organization::update(&self.db, &principal, id, convert::organization_input(body))
                .await
                .map_err(|e| within("organization", e))?;
        Ok(Response::new(UpdateOrganizationResponse {
            organization: Some(convert::organization(&view)),
        }))
    }

    async fn get_organization(
        &self,
        req: Request<GetOrganizationRequest>,
    ) -> Result<Response<GetOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        let view = organization::get(&self.db, &principal, req.get_ref().organization_id).await?;
        Ok(Response::new(GetOrganizationResponse {
            organization: Some(convert::organization(&view)),
        }))
    }

    async fn delete_organization(
        &self,
        req: Request<DeleteOrganizationRequest>,
    ) -> Result<Response<DeleteOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        organization::delete(&self.db, &principal, req.get_ref().organization_id).await?;
        Ok(Response::new(DeleteOrganizationResponse {}))
    }

    async fn get_organizations(
        &self,
        req: Request<GetOrganizationsRequest>,
    ) -> Result<Response<GetOrganizationsResponse>, Status> {
        let principal = principal(&req)?;
        let views = organization::list(&self.db, &principal).await?;
        Ok(Response::new(GetOrganizationsResponse {
            organizations: views.iter().map(convert::organization).collect(),
        }))
    }
}
