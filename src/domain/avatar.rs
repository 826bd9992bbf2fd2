//! Organization avatars: images up to 1 MiB whose type is read from their bytes.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

use super::access::{self, Services};
use super::error::{DomainError, DomainResult};
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::{organization, organization_avatar};

pub const MAX_BYTES: usize = 1024 * 1024;

/// The image type by its magic bytes; a client's claim is not trusted.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Sets the avatar; empty data removes it.
pub async fn set(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
    data: Vec<u8>,
) -> DomainResult<()> {
    let content_type = if data.is_empty() {
        None
    } else if data.len() > MAX_BYTES {
        return Err(DomainError::TooLarge(
            "the avatar must be at most 1 MiB".into(),
        ));
    } else {
        Some(sniff(&data).ok_or_else(|| {
            DomainError::invalid("avatar", "must be a PNG, JPEG, GIF or WebP image")
        })?)
    };
    let txn = db.begin_write().await?;
    let organization_id =
        access::require::<access::Own>(&txn, principal, Some(organization_id), Services::Denied)
            .await?
            .organization_id();
    let org = organization::Entity::find_by_id(organization_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DomainError::NotFound("organization not found".into()))?;
    let next_version = match content_type {
        None => {
            organization_avatar::Entity::delete_by_id(organization_id)
                .exec(&txn)
                .await?;
            None
        }
        Some(content_type) => {
            organization_avatar::Entity::insert(organization_avatar::ActiveModel {
                organization_id: Set(organization_id),
                content_type: Set(content_type.to_string()),
                data: Set(data),
                updated_at: Set(super::now()),
            })
            .on_conflict(
                OnConflict::column(organization_avatar::Column::OrganizationId)
                    .update_columns([
                        organization_avatar::Column::ContentType,
                        organization_avatar::Column::Data,
                        organization_avatar::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
            Some(org.avatar_version.unwrap_or(0) + 1)
        }
    };
    let mut active = org.into_active_model();
    active.avatar_version = Set(next_version);
    active.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// (content type, bytes).
pub async fn get(
    db: &Db,
    principal: &Principal,
    organization_id: i64,
) -> DomainResult<(String, Vec<u8>)> {
    let conn = db.read();
    let organization_id =
        access::require::<access::Read>(conn, principal, Some(organization_id), Services::Allowed)
            .await?
            .organization_id();
    let avatar = organization_avatar::Entity::find_by_id(organization_id)
        .one(conn)
        .await?
        .ok_or_else(|| DomainError::NotFound("the organization has no avatar".into()))?;
    Ok((avatar.content_type, avatar.data))
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn sniffs_by_magic_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<svg xmlns=...>"), None);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVE"), None);
    }
}
