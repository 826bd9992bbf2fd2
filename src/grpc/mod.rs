//! tonic services: proto ↔ domain conversion only; the rules live in `domain`.

pub mod availability;
pub mod billing;
pub mod convert;
pub mod membership;
pub mod organization;
pub mod partner;

use tonic::{Request, Status};

use crate::auth::{Authn, Principal};
use crate::domain::DomainError;

/// The principal the auth layer resolved for this request.
pub fn principal<T>(req: &Request<T>) -> Result<Principal, Status> {
    match req.extensions().get::<Authn>() {
        Some(authn) => Ok(authn.principal()?.clone()),
        None => Err(DomainError::Unauthenticated.into()),
    }
}

/// Prefixes the field paths of violations with the request field that held them.
pub fn within(field: &str, e: DomainError) -> DomainError {
    match e {
        DomainError::Invalid(violations) => DomainError::Invalid(
            violations
                .into_iter()
                .map(|mut v| {
                    v.field = format!("{field}.{}", v.field);
                    v
                })
                .collect(),
        ),
        other => other,
    }
}
