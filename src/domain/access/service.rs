//! The rules for internal services (`orgd token create --service`). A service has no role
//! anywhere: it calls the internal RPCs (memberships, organization state and email,
//! availability, presence, user status) for any organization, and none of the published
//! operations that act for an organization's people.

use super::super::error::{DomainError, DomainResult};
use crate::auth::Principal;

/// Proof that the caller is an internal service.
#[derive(Debug)]
pub struct AsService(());

/// Only internal services may do this; `refusal` says what, for everyone else.
pub fn require(principal: &Principal, refusal: &str) -> DomainResult<AsService> {
    match principal {
        Principal::Service { .. } => Ok(AsService(())),
        _ => Err(DomainError::PermissionDenied(refusal.to_string())),
    }
}

/// Whether the caller is an internal service, which acts for every organization.
pub fn is_service(principal: &Principal) -> bool {
    matches!(principal, Principal::Service { .. })
}

/// The published giosg and MyCreditApp operations are for people and organization tokens.
pub fn refuse_published(principal: &Principal) -> DomainResult<()> {
    if is_service(principal) {
        return Err(DomainError::PermissionDenied(
            "internal services call only the internal RPCs".into(),
        ));
    }
    Ok(())
}
