//! The change log's rules. The audit log (ListEvents) is for those who administer the
//! organization: admins and owners (an owner of an ancestor too) and its API token; a plain
//! member, another tenant and internal services get PERMISSION_DENIED, whether or not the
//! organization exists.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::super::error::DomainResult;
use super::super::giosg::OrganizationRef;
use super::{Admin, Authorized, Services};
use crate::auth::Principal;
use crate::entity::organization;

/// The proof for reading `organization`'s audit log. A UUID that names nothing (or is not
/// one) is refused as an organization without access is.
pub async fn audit_log(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    organization: OrganizationRef<'_>,
) -> DomainResult<Authorized<Admin>> {
    let id = match organization {
        OrganizationRef::Id(id) => Some(id),
        OrganizationRef::Uuid(text) => match Uuid::parse_str(text.trim()) {
            Ok(uuid) => {
                organization::Entity::find()
                    .select_only()
                    .column(organization::Column::Id)
                    .filter(organization::Column::Uuid.eq(uuid))
                    .into_tuple::<i64>()
                    .one(conn)
                    .await?
            }
            Err(_) => None,
        },
    };
    super::require::<Admin>(conn, principal, id, Services::Denied).await
}
