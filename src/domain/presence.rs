//! Presence: users' live clients. A user is present while one of their clients is unexpired
//! and online while present with the online switch on; an organization is present / online
//! when any of its members is. Expiry needs no sweeper: every read compares `expires_at`
//! with the time of the read, and writes drop a user's expired clients as they go.

use std::collections::HashMap;

use chrono::Duration;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};

use super::access;
use super::error::{DomainError, DomainResult};
use super::events;
use super::giosg;
use super::keys::UserKey;
use super::validate::Violations;
use crate::auth::Principal;
use crate::db::{Columns, Db};
use crate::entity::{membership, organization, user, user_client};

pub const MAX_EXPIRES_IN: i64 = 86_400;
pub const CLIENT_ID_MAX_CHARS: usize = 255;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Presence {
    pub present: bool,
    pub online: bool,
}

#[derive(Clone, Debug)]
pub struct UserView {
    pub model: user::Model,
    pub presence: Presence,
}

#[derive(Clone, Debug)]
pub struct OrganizationPresence {
    pub model: organization::Model,
    pub presence: Presence,
}

#[derive(Clone, Debug)]
pub struct ClientView {
    pub model: user_client::Model,
    pub user_uuid: uuid::Uuid,
    pub expires_in: i64,
}

/// A scalar subquery: whether the user whose id the SQL expression `user` gives is present
/// (has a client unexpired at the time bound to `now`), as 1 or 0. The one statement of
/// the rule in this module's header for users, so that a read can carry a user's flags in
/// the statement that loads the user.
pub fn user_presence_sql(user: &str, now: &str) -> String {
    format!(
        "CAST(CASE WHEN EXISTS (SELECT 1 FROM user_clients c \
           WHERE c.user_id = {user} AND c.expires_at > {now}) THEN 1 ELSE 0 END AS BIGINT)"
    )
}

/// A user and their presence, as a [`user_presence_sql`] column (`present`) says.
pub fn user_view(model: user::Model, present: i64) -> UserView {
    UserView {
        presence: Presence {
            present: present > 0,
            online: present > 0 && model.online_enabled,
        },
        model,
    }
}

/// A user row's columns (as `Prefixed` reads a joined table's).
pub fn user_from_row(row: &dyn Columns) -> Result<user::Model, DbErr> {
    Ok(user::Model {
        id: row.i64("id")?,
        uuid: row.uuid("uuid")?,
        email: row.string("email")?,
        full_name: row.string("full_name")?,
        created_at: row.datetime("created_at")?,
        trial_started_at: row.opt_datetime("trial_started_at")?,
        current_chat_count: row.i64("current_chat_count")?,
        avatar_id: row.opt_uuid("avatar_id")?,
        avatar_url: row.opt_string("avatar_url")?,
        online_enabled: row.bool("online_enabled")?,
    })
}

/// The presence column `flag` (an expression over `t.id`, the time bound to `$1`) of the
/// rows of `table` whose ids are `ids`, in one query: the lists that load their rows first
/// and their presence after.
async fn flags_by_id(
    conn: &impl ConnectionTrait,
    table: &str,
    flag: String,
    ids: Vec<i64>,
) -> DomainResult<HashMap<i64, Option<i64>>> {
    let mut flags = HashMap::new();
    if ids.is_empty() {
        return Ok(flags);
    }
    let placeholders: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT t.id AS id, {flag} AS flag FROM {table} t WHERE t.id IN ({})",
        placeholders.join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![super::now().into()];
    values.extend(ids.into_iter().map(sea_orm::Value::from));
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            values,
        ))
        .await?;
    for row in rows {
        flags.insert(row.try_get("", "id")?, row.try_get("", "flag")?);
    }
    Ok(flags)
}

pub async fn users(
    conn: &impl ConnectionTrait,
    models: Vec<user::Model>,
) -> DomainResult<Vec<UserView>> {
    let ids = models.iter().map(|u| u.id).collect();
    let present = flags_by_id(conn, "users", user_presence_sql("t.id", "$1"), ids).await?;
    Ok(models
        .into_iter()
        .map(|model| {
            let flag = present.get(&model.id).copied().flatten();
            user_view(model, flag.unwrap_or_default())
        })
        .collect())
}

pub async fn user(conn: &impl ConnectionTrait, model: user::Model) -> DomainResult<UserView> {
    Ok(users(conn, vec![model]).await?.remove(0))
}

/// A scalar subquery: the presence of the organization whose id the SQL expression
/// `organization` gives, at the time bound to `now`, as NULL (nobody present), 0 (present)
/// or 1 (online). The one statement of the rule in this module's header, so that a read can
/// carry an organization's flags in the statement that loads it.
pub fn organization_presence_sql(organization: &str, now: &str) -> String {
    format!(
        "(SELECT CAST(MAX(CASE WHEN u.online_enabled THEN 1 ELSE 0 END) AS BIGINT) \
           FROM memberships m \
           JOIN user_clients c ON c.user_id = m.user_id \
           JOIN users u ON u.id = m.user_id \
           WHERE c.expires_at > {now} AND m.organization_id = {organization})"
    )
}

/// The presence an [`organization_presence_sql`] column holds.
pub fn presence_from_column(online: Option<i64>) -> Presence {
    Presence {
        present: online.is_some(),
        online: online.is_some_and(|n| n > 0),
    }
}

/// Presence of many organizations in one query, a subquery per organization over its
/// present members, so the cost follows the number of organizations listed.
pub async fn organizations(
    conn: &impl ConnectionTrait,
    models: Vec<organization::Model>,
) -> DomainResult<Vec<OrganizationPresence>> {
    let ids = models.iter().map(|o| o.id).collect();
    let online = flags_by_id(
        conn,
        "organizations",
        organization_presence_sql("t.id", "$1"),
        ids,
    )
    .await?;
    Ok(models
        .into_iter()
        .map(|model| OrganizationPresence {
            presence: presence_from_column(online.get(&model.id).copied().flatten()),
            model,
        })
        .collect())
}

pub async fn organization(
    conn: &impl ConnectionTrait,
    model: organization::Model,
) -> DomainResult<OrganizationPresence> {
    Ok(organizations(conn, vec![model]).await?.remove(0))
}

/// A member of the organization by UUID (404 for anyone else).
pub async fn find_member(
    conn: &impl ConnectionTrait,
    organization_id: i64,
    user_uuid: &str,
) -> DomainResult<user::Model> {
    let uuid = giosg::parse_uuid(user_uuid, "User")?;
    let found = user::Entity::find()
        .filter(user::Column::Uuid.eq(uuid))
        .one(conn)
        .await?
        .ok_or_else(|| giosg::not_found("User"))?;
    membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(organization_id))
        .filter(membership::Column::UserId.eq(found.id))
        .one(conn)
        .await?
        .ok_or_else(|| giosg::not_found("User"))?;
    Ok(found)
}

/// Registers or refreshes a client; `true` when it is new (or had expired).
pub async fn register(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    user_uuid: &str,
    client_id: &str,
    expires_in: i64,
) -> DomainResult<(ClientView, bool)> {
    let txn = db.begin_write().await?;
    let (grant, target) =
        access::presence::clients(&txn, principal, organization_id, user_uuid).await?;
    let mut v = Violations::default();
    v.required_text("client_id", client_id, CLIENT_ID_MAX_CHARS);
    if !(1..=MAX_EXPIRES_IN).contains(&expires_in) {
        v.add(
            "expires_in",
            format!("must be between 1 and {MAX_EXPIRES_IN} seconds"),
        );
    }
    v.into_result()?;
    let now = super::now();
    user_client::Entity::delete_many()
        .filter(user_client::Column::UserId.eq(target.id))
        .filter(user_client::Column::ExpiresAt.lte(now))
        .exec(&txn)
        .await?;
    let existing = user_client::Entity::find()
        .filter(user_client::Column::UserId.eq(target.id))
        .filter(user_client::Column::ClientId.eq(client_id))
        .one(&txn)
        .await?;
    let expires_at = now + Duration::seconds(expires_in);
    // An upsert, so two registrations of a new client at once leave one row.
    user_client::Entity::insert(user_client::ActiveModel {
        user_id: Set(target.id),
        client_id: Set(client_id.to_string()),
        expires_at: Set(expires_at),
        created_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([user_client::Column::UserId, user_client::Column::ClientId])
            .update_column(user_client::Column::ExpiresAt)
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let model = user_client::Entity::find()
        .filter(user_client::Column::UserId.eq(target.id))
        .filter(user_client::Column::ClientId.eq(client_id))
        .one(&txn)
        .await?
        .ok_or_else(|| giosg::not_found("Client"))?;
    events::record(
        &txn,
        principal,
        events::types::PRESENCE_CLIENT_REGISTERED,
        &[grant.organization_id()],
        target.uuid,
        events::state::user_client(&model),
    )
    .await?;
    txn.commit().await?;
    Ok((
        ClientView {
            model,
            user_uuid: target.uuid,
            expires_in,
        },
        existing.is_none(),
    ))
}

/// Expires a client now; 404 when it is unknown or expired already.
pub async fn remove(
    db: &Db,
    principal: &Principal,
    organization_id: &str,
    user_uuid: &str,
    client_id: &str,
) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let (grant, target) =
        access::presence::clients(&txn, principal, organization_id, user_uuid).await?;
    let deleted = user_client::Entity::delete_many()
        .filter(user_client::Column::UserId.eq(target.id))
        .filter(user_client::Column::ClientId.eq(client_id))
        .filter(user_client::Column::ExpiresAt.gt(super::now()))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(giosg::not_found("Client"));
    }
    events::record(
        &txn,
        principal,
        events::types::PRESENCE_CLIENT_REMOVED,
        &[grant.organization_id()],
        target.uuid,
        serde_json::json!({"user_id": target.id, "client_id": client_id}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// What other systems own about a user. None leaves a value as it is.
#[derive(Clone, Debug, Default)]
pub struct StatusInput {
    pub current_chat_count: Option<i64>,
    pub online_enabled: Option<bool>,
    /// Some(""): remove the avatar.
    pub avatar_url: Option<String>,
}

/// Internal services only.
pub async fn set_status(
    db: &Db,
    principal: &Principal,
    user_key: &str,
    input: StatusInput,
) -> DomainResult<UserView> {
    access::service::require(principal, "only internal services set a user's status")?;
    let mut v = Violations::default();
    if input.current_chat_count.is_some_and(|n| n < 0) {
        v.add("current_chat_count", "must be 0 or more");
    }
    if let Some(url) = &input.avatar_url {
        v.max_chars("avatar_url", url, 2048);
    }
    v.into_result()?;
    let key = UserKey::parse(user_key)
        .ok_or_else(|| DomainError::invalid("user", "must be an email, user id or UUID"))?;
    let txn = db.begin_write().await?;
    let found = key
        .find(&txn)
        .await?
        .ok_or_else(|| DomainError::NotFound("user not found".into()))?;
    let mut active: user::ActiveModel = found.into();
    if let Some(n) = input.current_chat_count {
        active.current_chat_count = Set(n);
    }
    if let Some(on) = input.online_enabled {
        active.online_enabled = Set(on);
    }
    match input.avatar_url.as_deref().map(str::trim) {
        None => {}
        Some("") => {
            active.avatar_id = Set(None);
            active.avatar_url = Set(None);
        }
        Some(url) => {
            active.avatar_id = Set(Some(uuid::Uuid::new_v4()));
            active.avatar_url = Set(Some(url.to_string()));
        }
    }
    let model = active.update(&txn).await?;
    // A user's status shows in every organization they belong to.
    let organizations: Vec<i64> = membership::Entity::find()
        .select_only()
        .column(membership::Column::OrganizationId)
        .filter(membership::Column::UserId.eq(model.id))
        .order_by_asc(membership::Column::OrganizationId)
        .into_tuple()
        .all(&txn)
        .await?;
    if !organizations.is_empty() {
        events::record(
            &txn,
            principal,
            events::types::PRESENCE_STATUS_CHANGED,
            &organizations,
            model.uuid,
            events::state::user_status(&model),
        )
        .await?;
    }
    txn.commit().await?;
    user(db.read(), model).await
}
