use tonic::{Request, Response, Status};

use super::principal;
use crate::db::Db;
use crate::domain::DomainError;
use crate::domain::availability::{self, Status as Availability};
use crate::proto::v1::availability_service_server::AvailabilityService;
use crate::proto::v1::*;

pub struct AvailabilityReports {
    pub db: Db,
}

#[tonic::async_trait]
impl AvailabilityService for AvailabilityReports {
    async fn set_user_availability(
        &self,
        req: Request<SetUserAvailabilityRequest>,
    ) -> Result<Response<SetUserAvailabilityResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let status = match r.status() {
            AvailabilityStatus::Available => Availability::Available,
            AvailabilityStatus::NotAvailable => Availability::NotAvailable,
            AvailabilityStatus::InEvent => Availability::InEvent,
            AvailabilityStatus::Unspecified => {
                return Err(DomainError::invalid(
                    "status",
                    "must be available, not_available or in_event",
                )
                .into());
            }
        };
        availability::set(&self.db, &principal, &r.organization, &r.user, status).await?;
        Ok(Response::new(SetUserAvailabilityResponse {}))
    }
}
