//! Organization avatars: images up to 1 MiB whose type is read from their bytes, served
//! to browsers without a token at a capability URL.
//!
//! GroupAlarm's `avatarURL` goes into an `<img src>`, which sends no token. The URL itself
//! is the permission: `/api/v1/avatars/{organization}-{version}-{mac}`, where `mac` is an
//! HMAC-SHA256, under a key kept in the database (`server_keys`, shared by every replica),
//! of the organization id and the avatar's version. Nobody derives it from the id, and
//! every new avatar gets a new random version, so a URL stops working once the avatar
//! changes or is removed (even when an avatar is set again later).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use ring::hmac;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Set, Statement};
use tokio::sync::OnceCell;

use super::access::{self, Services};
use super::error::{DomainError, DomainResult};
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::{organization, organization_avatar};

pub const MAX_BYTES: usize = 1024 * 1024;

/// The key that signs avatar capability URLs.
#[derive(Clone)]
pub struct UrlKey(hmac::Key);

impl std::fmt::Debug for UrlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlKey(..)")
    }
}

impl UrlKey {
    /// The deployment's key, which migration m0010 made.
    async fn load(db: &Db) -> DomainResult<UrlKey> {
        let conn = db.read();
        let row = conn
            .query_one_raw(Statement::from_sql_and_values(
                conn.get_database_backend(),
                "SELECT secret_hex FROM server_keys WHERE name = $1",
                [migration::m0010_server_keys::AVATAR_URL_KEY.into()],
            ))
            .await?
            .ok_or_else(|| {
                DomainError::Database(sea_orm::DbErr::Custom(
                    "no avatar URL key in server_keys: run `orgd migrate`".into(),
                ))
            })?;
        // The hex text itself is the key material: 256 random bits either way.
        let secret: String = row.try_get_by_index(0)?;
        Ok(UrlKey(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())))
    }

    fn message(organization_id: i64, version: i64) -> String {
        format!("orgd avatar {organization_id} {version}")
    }

    /// The capability of one version of an organization's avatar.
    pub fn capability(&self, organization_id: i64, version: i64) -> String {
        let tag = hmac::sign(&self.0, Self::message(organization_id, version).as_bytes());
        format!(
            "{organization_id}-{version}-{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The (organization, version) a capability was made for, if this key made it.
    fn open(&self, capability: &str) -> Option<(i64, i64)> {
        let mut parts = capability.splitn(3, '-');
        let organization_id: i64 = parts.next()?.parse().ok()?;
        let version: i64 = parts.next()?.parse().ok()?;
        let tag = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        // Constant-time comparison inside ring.
        hmac::verify(
            &self.0,
            Self::message(organization_id, version).as_bytes(),
            &tag,
        )
        .ok()?;
        Some((organization_id, version))
    }
}

/// The [`UrlKey`], read from the database on first use (the server may start before the
/// database answers) and kept; clones share it.
#[derive(Clone, Debug, Default)]
pub struct UrlKeys(Arc<OnceCell<UrlKey>>);

impl UrlKeys {
    pub async fn get(&self, db: &Db) -> DomainResult<&UrlKey> {
        self.0.get_or_try_init(|| UrlKey::load(db)).await
    }
}

/// Turns an organization's avatar version into its `avatarURL`.
pub struct Links<'a> {
    pub key: &'a UrlKey,
    /// `scheme://host` the client called; empty where there is none (gRPC, the CLI), and
    /// the URL is then relative to the server.
    pub origin: String,
}

impl Links<'_> {
    /// The URL of the avatar's capability: where the surface serves it (`at`, the path
    /// with the capability filled in) under the origin.
    pub fn avatar_url(
        &self,
        organization_id: i64,
        version: i64,
        at: impl Fn(&str) -> String,
    ) -> String {
        format!(
            "{}{}",
            self.origin,
            at(&self.key.capability(organization_id, version))
        )
    }
}

/// A new avatar's version: random, so that no earlier URL ever names it.
fn new_version() -> i64 {
    loop {
        let v = (rand::rng().next_u64() >> 1) as i64;
        if v != 0 {
            return v;
        }
    }
}

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
            Some(new_version())
        }
    };
    let mut active = org.into_active_model();
    active.avatar_version = Set(next_version);
    let model = active.update(&txn).await?;
    super::events::append(
        &txn,
        principal,
        super::organization::changed(super::events::types::ORGANIZATION_AVATAR_CHANGED, &model),
    )
    .await?;
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

/// The avatar a capability URL names, with no principal: the capability is the permission.
/// Anything else (forged, malformed, or an avatar since replaced or removed) is not found.
pub async fn get_public(
    db: &Db,
    key: &UrlKey,
    capability: &str,
) -> DomainResult<(String, Vec<u8>)> {
    let not_found = || DomainError::NotFound("no such avatar".into());
    let (organization_id, version) = key.open(capability).ok_or_else(not_found)?;
    let conn = db.read();
    let current = organization::Entity::find_by_id(organization_id)
        .one(conn)
        .await?
        .and_then(|org| org.avatar_version);
    if current != Some(version) {
        return Err(not_found());
    }
    let avatar = organization_avatar::Entity::find_by_id(organization_id)
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
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
