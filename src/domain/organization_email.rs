//! The organization email partnership invitations reach (giosg), set by operators.

use sea_orm::EntityTrait;

use super::access::service;
use super::error::{DomainError, DomainResult};
use crate::auth::Principal;
use crate::entity::organization;

/// Sets (or, with an empty string, clears) an organization's email, to which partnership
/// invitations can be sent. Services only: the operator CLI acts as one.
pub async fn set_organization_email(
    db: &crate::db::Db,
    principal: &Principal,
    organization: &str,
    email: &str,
) -> DomainResult<organization::Model> {
    use sea_orm::{ActiveModelTrait, Set};
    service::require(principal, "only operators set an organization's email")?;
    let email = email.trim().to_lowercase();
    if !email.is_empty() && !super::validate::is_email(&email) {
        return Err(DomainError::invalid(
            "email",
            "must be a valid email address",
        ));
    }
    let key = super::keys::OrganizationKey::parse(organization).ok_or_else(|| {
        DomainError::invalid("organization", "must be an organization id or UUID")
    })?;
    let txn = db.begin_write().await?;
    let id = key.resolve(&txn).await?;
    let model = match id {
        Some(id) => organization::Entity::find_by_id(id).one(&txn).await?,
        None => None,
    }
    .ok_or_else(|| DomainError::NotFound("organization not found".into()))?;
    let mut active: organization::ActiveModel = model.into();
    active.email = Set((!email.is_empty()).then_some(email));
    active.updated_at = Set(super::now());
    let model = active.update(&txn).await?;
    super::events::append(
        &txn,
        principal,
        super::organization::changed(super::events::types::ORGANIZATION_UPDATED, &model),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}
