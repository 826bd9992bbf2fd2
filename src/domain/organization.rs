//! Organizations: a tree by `parent_id`, owned by users, in state trial, active or inactive.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, Set,
    SqlErr, Statement,
};

use super::access::{self, Own, Read, Services};
use super::availability::{self, Availability};
use super::error::{DomainError, DomainResult};
use super::events::{self, NewEvent, types};
use super::keys::OrganizationKey;
use super::membership::{self, Role};
use super::validate::{
    DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS, PageBounds, TAG_MAX_CHARS, TAGS_MAX, Violations,
    is_bcp47, is_iana_timezone, too_many_results,
};
use crate::auth::Principal;
use crate::db::{Columns, Db, text_agg};
use crate::entity::organization;

pub const TRIAL_DAYS: i64 = 14;
pub const DEFAULT_LANGUAGE: &str = "en";
pub const DEFAULT_TIMEZONE: &str = "UTC";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Trial,
    Active,
    Inactive,
}

impl State {
    pub fn parse(s: &str) -> Option<State> {
        match s {
            "trial" => Some(State::Trial),
            "active" => Some(State::Active),
            "inactive" => Some(State::Inactive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Trial => "trial",
            State::Active => "active",
            State::Inactive => "inactive",
        }
    }
}

/// The writable fields of an organization, as a client sent them.
#[derive(Clone, Debug, Default)]
pub struct OrganizationInput {
    pub name: String,
    pub description: String,
    pub parent_id: Option<i64>,
    /// Empty: the default on create, unchanged on update.
    pub language: String,
    /// Empty: the default on create, unchanged on update.
    pub timezone: String,
    pub enforces_two_factor_auth: bool,
    pub data_retention_period: i64,
    pub tags: Vec<String>,
    /// Checked like every input but not stored: the location endpoints set it.
    pub location: Option<Location>,
}

impl OrganizationInput {
    fn validate(&self) -> DomainResult<()> {
        let mut v = Violations::default();
        v.required_text("name", &self.name, NAME_MAX_CHARS);
        v.max_chars("description", &self.description, DESCRIPTION_MAX_CHARS);
        if !self.language.is_empty() && !is_bcp47(&self.language) {
            v.add(
                "language",
                "must be an IETF BCP 47 language tag such as 'de' or 'en-GB'",
            );
        }
        if !self.timezone.is_empty() && !is_iana_timezone(&self.timezone) {
            v.add(
                "timezone",
                "must be an IANA time zone name such as 'Europe/Berlin'",
            );
        }
        if self.data_retention_period < 0 {
            v.add("data_retention_period", "must be 0 or more months");
        }
        if self.tags.len() > TAGS_MAX {
            v.add("tags", format!("at most {TAGS_MAX} tags"));
        }
        for tag in &self.tags {
            v.max_chars("tags", tag, TAG_MAX_CHARS);
        }
        if let Some(location) = &self.location {
            location.check(&mut v, "location.");
        }
        v.into_result()
    }
}

/// An organization with what is derived from other rows, never stored stale.
#[derive(Clone, Debug)]
pub struct OrganizationView {
    pub model: organization::Model,
    pub owner_ids: Vec<i64>,
    pub has_children: bool,
    pub availability: Availability,
}

impl OrganizationView {
    /// An expired trial behaves as inactive.
    pub fn state(&self, now: DateTime<Utc>) -> State {
        effective_state(&self.model, now)
    }

    pub fn tags(&self) -> Vec<String> {
        serde_json::from_str(&self.model.tags).unwrap_or_default()
    }
}

/// The state as billing set it, an expired trial counting as inactive.
pub fn effective_state(model: &organization::Model, now: DateTime<Utc>) -> State {
    match State::parse(&model.state) {
        Some(State::Trial) if model.trial_end_date.is_some_and(|end| end <= now) => State::Inactive,
        Some(state) => state,
        None => State::Inactive,
    }
}

pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// The columns derived from other rows, for the organization whose id the SQL expression
/// `organization` gives: `owner_ids` (text), `has_children`, `availability` (text).
fn derived_columns_sql(backend: DatabaseBackend, organization: &str) -> String {
    format!(
        "(SELECT {owners} FROM memberships m \
           WHERE m.organization_id = {organization} AND m.role = '{owner}') AS owner_ids, \
         EXISTS(SELECT 1 FROM organizations c WHERE c.parent_id = {organization}) AS has_children, \
         {availability} AS availability",
        owners = text_agg(backend, "m.user_id"),
        owner = Role::Owner.as_str(),
        availability = availability::subtree_counts_sql(backend, organization),
    )
}

/// The organization's own columns (`o.*`) of a row.
pub(super) fn model_from_row(row: &dyn Columns) -> Result<organization::Model, DbErr> {
    Ok(organization::Model {
        id: row.i64("id")?,
        uuid: row.uuid("uuid")?,
        parent_id: row.opt_i64("parent_id")?,
        name: row.string("name")?,
        description: row.string("description")?,
        language: row.string("language")?,
        timezone: row.string("timezone")?,
        enforces_two_factor_auth: row.bool("enforces_two_factor_auth")?,
        data_retention_period: row.i64("data_retention_period")?,
        tags: row.string("tags")?,
        state: row.string("state")?,
        trial_end_date: row.opt_datetime("trial_end_date")?,
        created_at: row.datetime("created_at")?,
        updated_at: row.datetime("updated_at")?,
        avatar_version: row.opt_i64("avatar_version")?,
        location_address: row.opt_string("location_address")?,
        location_latitude: row.opt_f64("location_latitude")?,
        location_longitude: row.opt_f64("location_longitude")?,
        email: row.opt_string("email")?,
    })
}

/// Reads the [`derived_columns_sql`] of a row into a view of `model`.
fn view_from_row(row: &dyn Columns, model: organization::Model) -> DomainResult<OrganizationView> {
    let owners = row.opt_string("owner_ids")?;
    let mut owner_ids: Vec<i64> = owners
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.parse().ok())
        .collect();
    owner_ids.sort_unstable();
    let availability = row.opt_string("availability")?;
    Ok(OrganizationView {
        owner_ids,
        has_children: row.bool("has_children")?,
        availability: availability::parse_counts(availability.as_deref()),
        model,
    })
}

/// Loads owners, children and availability for many organizations in one statement.
pub async fn views(
    conn: &impl ConnectionTrait,
    models: Vec<organization::Model>,
) -> DomainResult<Vec<OrganizationView>> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let placeholders: Vec<String> = (1..=models.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT o.id AS id, {} FROM organizations o WHERE o.id IN ({})",
        derived_columns_sql(backend, "o.id"),
        placeholders.join(", ")
    );
    let mut rows: HashMap<i64, QueryResult> = HashMap::with_capacity(models.len());
    for row in conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            models.iter().map(|m| m.id.into()),
        ))
        .await?
    {
        rows.insert(row.try_get("", "id")?, row);
    }
    models
        .into_iter()
        .map(|model| match rows.get(&model.id) {
            Some(row) => view_from_row(row, model),
            // Deleted since `models` was read: nothing derives from it any more.
            None => Ok(OrganizationView {
                model,
                owner_ids: Vec::new(),
                has_children: false,
                availability: Availability::default(),
            }),
        })
        .collect()
}

pub async fn view(
    conn: &impl ConnectionTrait,
    model: organization::Model,
) -> DomainResult<OrganizationView> {
    Ok(views(conn, vec![model]).await?.remove(0))
}

async fn find(conn: &impl ConnectionTrait, id: i64) -> DomainResult<organization::Model> {
    organization::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| DomainError::NotFound("organization not found".into()))
}

/// How many organizations may be made: children under one parent, and organizations per
/// user (one who belongs to that many creates no more). Both bound what one list reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub max_children: u64,
    pub max_organizations_per_user: u64,
}

impl Default for Quota {
    fn default() -> Quota {
        Quota {
            max_children: crate::limits::DEFAULT_MAX_CHILDREN,
            max_organizations_per_user: crate::limits::DEFAULT_MAX_ORGANIZATIONS_PER_USER,
        }
    }
}

/// Whether concurrent writers must be serialised by locking a row (PostgreSQL). SQLite has
/// one writer, whose transaction holds the database's write lock from its start (`BEGIN
/// IMMEDIATE`): its `SELECT` in place of `FOR UPDATE` locked nothing and cost a round trip
/// to the writer's thread on every create.
fn serialises_on_rows(txn: &impl ConnectionTrait) -> bool {
    txn.get_database_backend() == DatabaseBackend::Postgres
}

/// The reasons of the quota's refusals (409 / FAILED_PRECONDITION).
pub const TOO_MANY_CHILDREN: &str = "TOO_MANY_CHILDREN";
pub const TOO_MANY_ORGANIZATIONS: &str = "TOO_MANY_ORGANIZATIONS";

impl Quota {
    /// Refuses one more child under `parent`. The parent's row is locked first, so
    /// concurrent creates under it are counted one after another.
    async fn room_for_child(self, txn: &impl ConnectionTrait, parent: i64) -> DomainResult<()> {
        if serialises_on_rows(txn) {
            organization::Entity::find_by_id(parent)
                .lock_exclusive()
                .one(txn)
                .await?;
        }
        let children = organization::Entity::find()
            .filter(organization::Column::ParentId.eq(parent))
            .count(txn)
            .await?;
        if children >= self.max_children {
            return Err(DomainError::Conflict {
                reason: TOO_MANY_CHILDREN,
                message: format!(
                    "the organization has {children} child organizations, the most it may have"
                ),
            });
        }
        Ok(())
    }

    /// Refuses one more organization to a user who belongs to the most already.
    async fn room_for_member(self, txn: &impl ConnectionTrait, user_id: i64) -> DomainResult<()> {
        if serialises_on_rows(txn) {
            crate::entity::user::Entity::find_by_id(user_id)
                .lock_exclusive()
                .one(txn)
                .await?;
        }
        let joined = crate::entity::membership::Entity::find()
            .filter(crate::entity::membership::Column::UserId.eq(user_id))
            .count(txn)
            .await?;
        if joined >= self.max_organizations_per_user {
            return Err(DomainError::Conflict {
                reason: TOO_MANY_ORGANIZATIONS,
                message: format!(
                    "you belong to {joined} organizations, the most one user may; \
                     leave or delete one first"
                ),
            });
        }
        Ok(())
    }
}

/// The caller becomes the owner. A parent must be owned by the caller.
pub async fn create(
    db: &Db,
    principal: &Principal,
    input: OrganizationInput,
) -> DomainResult<OrganizationView> {
    create_within(db, principal, input, Quota::default()).await
}

/// As [`create`], within `quota`.
pub async fn create_within(
    db: &Db,
    principal: &Principal,
    input: OrganizationInput,
    quota: Quota,
) -> DomainResult<OrganizationView> {
    let user_id = access::require_user(principal)?;
    let txn = db.begin_write().await?;
    if input.parent_id.is_some() {
        access::require::<Own>(&txn, principal, input.parent_id, Services::Denied).await?;
    }
    // Permission before validation: a caller without access learns nothing from its input.
    input.validate()?;
    if let Some(parent) = input.parent_id {
        quota.room_for_child(&txn, parent).await?;
    }
    quota.room_for_member(&txn, user_id).await?;
    let now = super::now();
    let model = organization::ActiveModel {
        uuid: Set(uuid::Uuid::new_v4()),
        parent_id: Set(input.parent_id),
        name: Set(input.name.trim().to_string()),
        description: Set(input.description),
        language: Set(or_default(input.language, DEFAULT_LANGUAGE)),
        timezone: Set(or_default(input.timezone, DEFAULT_TIMEZONE)),
        enforces_two_factor_auth: Set(input.enforces_two_factor_auth),
        data_retention_period: Set(input.data_retention_period),
        tags: Set(serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into())),
        state: Set(State::Trial.as_str().to_string()),
        trial_end_date: Set(Some(now + Duration::days(TRIAL_DAYS))),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    membership::upsert(&txn, model.id, user_id, Role::Owner).await?;
    let event = changed(types::ORGANIZATION_CREATED, &model);
    let view = view(&txn, model).await?;
    events::append(&txn, principal, event).await?;
    txn.commit().await?;
    Ok(view)
}

fn or_default(value: String, default: &str) -> String {
    if value.is_empty() {
        default.to_string()
    } else {
        value
    }
}

/// Services may read any organization; everyone else needs a role in it or above it.
/// Access, the row and what is derived from other rows come in one statement: this is the
/// most frequent read.
pub async fn get(db: &Db, principal: &Principal, id: i64) -> DomainResult<OrganizationView> {
    // The text depends only on the backend and the kind of principal (ids are bound), so
    // it is written once per pair.
    static SQL: [[OnceLock<String>; 3]; 2] = [const { [const { OnceLock::new() }; 3] }; 2];
    let backend = db.backend();
    let sql = SQL[usize::from(backend == DatabaseBackend::Postgres)][principal.kind_index()]
        .get_or_init(|| {
            format!(
                "SELECT o.*, {} AS access_level, {} FROM organizations o WHERE o.id = $1",
                access::level_sql(principal, "o.id", "$2"),
                derived_columns_sql(backend, "o.id"),
            )
        });
    let values = vec![id.into(), access::principal_param(principal).into()];
    let found = db
        .read_one(sql, values, |row| {
            let level = access::level_from_row(row, "access_level")?;
            let view = view_from_row(row, model_from_row(row)?)?;
            DomainResult::Ok((level, view))
        })
        .await?;
    let level = found.as_ref().and_then(|(level, _)| *level);
    access::decide::<Read>(principal, id, found.is_some(), level, Services::Allowed)?;
    found
        .map(|(_, view)| view)
        .ok_or_else(|| DomainError::NotFound("organization not found".into()))
}

/// Replaces the writable fields. `parent_id` absent keeps the parent; a move needs owner
/// rights over the organization, its current parent and the new one, which must not be
/// the organization itself or one of its descendants.
pub async fn update(
    db: &Db,
    principal: &Principal,
    id: i64,
    input: OrganizationInput,
) -> DomainResult<OrganizationView> {
    update_within(db, principal, id, input, Quota::default()).await
}

/// As [`update`]; a move to a new parent stays within `quota`.
pub async fn update_within(
    db: &Db,
    principal: &Principal,
    id: i64,
    input: OrganizationInput,
    quota: Quota,
) -> DomainResult<OrganizationView> {
    let txn = db.begin_write().await?;
    let own = access::require::<Own>(&txn, principal, Some(id), Services::Denied).await?;
    input.validate()?;
    let current = access::load(&txn, &own).await?;
    if let Some(parent) = input.parent_id.filter(|p| Some(*p) != current.parent_id) {
        access::move_organization(&txn, principal, &own, current.parent_id, parent).await?;
        // Whether the move is possible depends on the tree as it is, not on the request
        // alone: a conflict with that state (409), like deleting a parent.
        if ancestors_of(&txn, parent).await?.contains(&id) {
            return Err(DomainError::Conflict {
                reason: "WOULD_CREATE_CYCLE",
                message: "parentID: an organization cannot be moved under itself or its \
                    descendants"
                    .into(),
            });
        }
        quota.room_for_child(&txn, parent).await?;
    }
    let mut active = current.clone().into_active_model();
    active.name = Set(input.name.trim().to_string());
    active.description = Set(input.description);
    if !input.language.is_empty() {
        active.language = Set(input.language);
    }
    if !input.timezone.is_empty() {
        active.timezone = Set(input.timezone);
    }
    active.enforces_two_factor_auth = Set(input.enforces_two_factor_auth);
    active.data_retention_period = Set(input.data_retention_period);
    active.tags = Set(serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into()));
    if input.parent_id.is_some() {
        active.parent_id = Set(input.parent_id);
    }
    active.updated_at = Set(super::now());
    let model = active.update(&txn).await?;
    let event = changed(types::ORGANIZATION_UPDATED, &model);
    let view = view(&txn, model).await?;
    events::append(&txn, principal, event).await?;
    txn.commit().await?;
    Ok(view)
}

/// The event of a change to the organization row itself.
pub(crate) fn changed(kind: &'static str, model: &organization::Model) -> NewEvent {
    NewEvent {
        kind,
        organizations: vec![model.into()],
        resource_id: model.uuid.to_string(),
        state: events::state::organization(model),
    }
}

/// Ids from `id` up to the root, `id` first.
pub async fn ancestors_of(conn: &impl ConnectionTrait, id: i64) -> DomainResult<Vec<i64>> {
    let mut chain = vec![id];
    let mut next = find(conn, id).await?.parent_id;
    while let Some(parent) = next {
        if chain.contains(&parent) || chain.len() > 64 {
            break;
        }
        chain.push(parent);
        next = find(conn, parent).await?.parent_id;
    }
    Ok(chain)
}

/// Owners only; refused while the organization has children.
pub async fn delete(db: &Db, principal: &Principal, id: i64) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let own = access::require::<Own>(&txn, principal, Some(id), Services::Denied).await?;
    let children = organization::Entity::find()
        .filter(organization::Column::ParentId.eq(own.organization_id()))
        .count(&txn)
        .await?;
    if children > 0 {
        return Err(DomainError::Conflict {
            reason: "HAS_CHILDREN",
            message: format!(
                "the organization has {children} child organization(s); delete or move them first"
            ),
        });
    }
    let last = access::load(&txn, &own).await?;
    organization::Entity::delete_by_id(own.organization_id())
        .exec(&txn)
        .await?;
    let mut event = changed(types::ORGANIZATION_DELETED, &last);
    event.state = events::state::deleted_organization(&last);
    events::append(&txn, principal, event).await?;
    txn.commit().await?;
    Ok(())
}

/// Every organization the caller can read, by id: GroupAlarm's `GET /organizations`, which
/// has no paging, so more than `max_items` is refused rather than cut short. Which
/// organizations, how many, their rows and what derives from them: one statement, the rows
/// left out when there are too many.
pub async fn list(
    db: &Db,
    principal: &Principal,
    max_items: usize,
) -> DomainResult<Vec<OrganizationView>> {
    static SQL: [[OnceLock<String>; 3]; 2] = [const { [const { OnceLock::new() }; 3] }; 2];
    let backend = db.backend();
    let visible = access::visible_sql(principal)?;
    let sql = SQL[usize::from(backend == DatabaseBackend::Postgres)][principal.kind_index()]
        .get_or_init(|| {
            format!(
                "WITH RECURSIVE {visible}, counted(n) AS (SELECT COUNT(*) FROM visible) \
                 SELECT counted.n AS visible_count, o.*, {} FROM counted \
                 LEFT JOIN organizations o ON o.id IN (SELECT id FROM visible) AND counted.n <= $3 \
                 ORDER BY o.id",
                derived_columns_sql(backend, "o.id"),
            )
        });
    let mut values = access::visible_values(principal).to_vec();
    values.push((max_items as i64).into());
    let rows = db
        .read_all(sql, values, |row| {
            let view = match row.opt_i64("id")? {
                Some(_) => Some(view_from_row(row, model_from_row(row)?)?),
                None => None,
            };
            DomainResult::Ok((row.i64("visible_count")?, view))
        })
        .await?;
    let visible = rows.first().map_or(0, |(n, _)| *n);
    if visible > max_items as i64 {
        return Err(too_many_results(
            max_items,
            "organizations you can access",
            "page through the top-level ones with GetPaginatedOrganizations \
             (GET /api/v1/organizations/paginated?limit&offset) and their children with \
             GetChildOrganizations (GET /api/v1/organization/{organizationID}/children?limit&offset)",
        ));
    }
    Ok(rows.into_iter().filter_map(|(_, view)| view).collect())
}

/// The organizations the caller owns, by id: GroupAlarm's `GET /organizations/owner`,
/// unpaged like [`list`] and refused the same way beyond `max_items`.
pub async fn owned(
    db: &Db,
    principal: &Principal,
    max_items: usize,
) -> DomainResult<Vec<OrganizationView>> {
    let conn = db.read();
    let ids = access::owned_organization_ids(conn, principal).await?;
    if ids.len() > max_items {
        return Err(too_many_results(
            max_items,
            "organizations you own",
            "page through the top-level ones with GetPaginatedOrganizations \
             (GET /api/v1/organizations/paginated?limit&offset)",
        ));
    }
    let models = organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .order_by_asc(organization::Column::Id)
        .all(conn)
        .await?;
    views(conn, models).await
}

/// What billing does. Services only (the operator CLI acts as one).
pub async fn set_state(
    db: &Db,
    principal: &Principal,
    organization: &str,
    state: State,
) -> DomainResult<OrganizationView> {
    access::service::require(
        principal,
        "only billing services set an organization's state",
    )?;
    let key = OrganizationKey::parse(organization).ok_or_else(|| {
        DomainError::invalid("organization", "must be an organization id or UUID")
    })?;
    let txn = db.begin_write().await?;
    let id = key
        .resolve(&txn)
        .await?
        .ok_or_else(|| DomainError::NotFound("organization not found".into()))?;
    let mut active = find(&txn, id).await?.into_active_model();
    active.state = Set(state.as_str().to_string());
    active.updated_at = Set(super::now());
    let model = active.update(&txn).await?;
    let event = changed(types::ORGANIZATION_STATE_CHANGED, &model);
    let view = view(&txn, model).await?;
    events::append(&txn, principal, event).await?;
    txn.commit().await?;
    Ok(view)
}

pub const CHILDREN_PAGE: PageBounds = PageBounds {
    default_limit: 50,
    max_limit: 100,
};
pub const TOP_LEVEL_PAGE: PageBounds = PageBounds {
    default_limit: 10,
    max_limit: 50,
};

pub struct Children {
    pub children: Vec<OrganizationView>,
    /// From the root down to the organization itself, as far as the caller may read.
    pub path: Vec<OrganizationView>,
    pub total: u64,
}

/// A page of the organization's children, its path and the number of its children: access,
/// rows and what derives from them in one statement. Its rows: the path (`kind` 0), from
/// the organization itself (`pos` 0) up to the root, each with the caller's level in it and
/// the number of children; then the page (`kind` 1).
pub async fn children(
    db: &Db,
    principal: &Principal,
    id: i64,
    limit: Option<i32>,
    offset: Option<i32>,
) -> DomainResult<Children> {
    static SQL: [[OnceLock<String>; 3]; 2] = [const { [const { OnceLock::new() }; 3] }; 2];
    let (limit, offset) = CHILDREN_PAGE.check(limit, offset)?;
    let backend = db.backend();
    let sql = SQL[usize::from(backend == DatabaseBackend::Postgres)][principal.kind_index()]
        .get_or_init(|| {
            let derived = derived_columns_sql(backend, "o.id");
            format!(
                "WITH RECURSIVE path_chain(id, parent_id, depth) AS ( \
                   SELECT id, parent_id, 0 FROM organizations WHERE id = $1 \
                   UNION ALL \
                   SELECT up.id, up.parent_id, pc.depth + 1 FROM organizations up \
                     JOIN path_chain pc ON up.id = pc.parent_id WHERE pc.depth < 64 \
                 ) \
                 SELECT 0 AS kind, pc.depth AS pos, {level} AS access_level, \
                   (SELECT COUNT(*) FROM organizations c WHERE c.parent_id = $1) AS total, \
                   o.*, {derived} \
                 FROM path_chain pc JOIN organizations o ON o.id = pc.id \
                 UNION ALL \
                 SELECT 1 AS kind, 0 AS pos, NULL AS access_level, 0 AS total, o.*, {derived} \
                 FROM (SELECT * FROM organizations WHERE parent_id = $1 ORDER BY id \
                   {limit} OFFSET $4) o \
                 ORDER BY kind, pos DESC, id",
                level = access::level_sql(principal, "o.id", "$2"),
                limit = crate::db::limit_sql("$3"),
            )
        });
    let values = vec![
        id.into(),
        access::principal_param(principal).into(),
        (limit as i64).into(),
        (offset as i64).into(),
    ];
    let rows = db
        .read_all(sql, values, |row| {
            // Integer literals and sums of them: `integer` on PostgreSQL.
            let child = row.opt_i32("kind")? == Some(1);
            let own = !child && row.opt_i32("pos")? == Some(0);
            let level = access::level_from_row(row, "access_level")?;
            let view = view_from_row(row, model_from_row(row)?)?;
            DomainResult::Ok((child, own, level, row.i64("total")?, view))
        })
        .await?;
    let own = rows.iter().find(|(_, own, ..)| *own);
    access::decide::<Read>(
        principal,
        id,
        own.is_some(),
        own.and_then(|(_, _, level, ..)| *level),
        Services::Allowed,
    )?;
    let total = own.map_or(0, |(_, _, _, total, _)| *total);
    let (mut children, mut path) = (Vec::new(), Vec::new());
    for (child, _, level, _, view) in rows {
        if child {
            children.push(view);
        } else if access::readable(principal, level) {
            path.push(view);
        }
    }
    Ok(Children {
        children,
        path,
        total: total.max(0) as u64,
    })
}

/// The caller's top-level organizations: visible ones whose parent the caller cannot see.
/// `all` ignores the page but, like every list read whole, stops at `max_unpaged` items.
pub async fn top_level(
    db: &Db,
    principal: &Principal,
    limit: Option<i32>,
    offset: Option<i32>,
    all: bool,
    max_unpaged: usize,
) -> DomainResult<(Vec<OrganizationView>, u64)> {
    // Bad bounds are refused even when `all` makes them moot: the request is wrong either way.
    let page = TOP_LEVEL_PAGE.check(limit, offset)?;
    let (limit, offset) = if all { (u64::MAX, 0) } else { page };
    let conn = db.read();
    let ids = access::visible_organization_ids(conn, principal).await?;
    let visible: HashSet<i64> = ids.iter().copied().collect();
    let tops: Vec<organization::Model> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .order_by_asc(organization::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .filter(|m| m.parent_id.is_none_or(|p| !visible.contains(&p)))
        .collect();
    if all && tops.len() > max_unpaged {
        return Err(too_many_results(
            max_unpaged,
            "top-level organizations you can access",
            "leave out all=true and page with limit and offset",
        ));
    }
    let total = tops.len() as u64;
    let page = tops
        .into_iter()
        .skip(offset as usize)
        .take(limit.min(usize::MAX as u64) as usize)
        .collect();
    Ok((views(conn, page).await?, total))
}

#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
}

impl Location {
    pub fn of(model: &organization::Model) -> Option<Location> {
        Some(Location {
            address: model.location_address.clone()?,
            latitude: model.location_latitude?,
            longitude: model.location_longitude?,
        })
    }

    /// The one rule of a location, its fields named after `prefix`.
    fn check(&self, v: &mut Violations, prefix: &str) {
        v.max_chars(&format!("{prefix}address"), &self.address, NAME_MAX_CHARS);
        if !(-90.0..=90.0).contains(&self.latitude) {
            v.add(&format!("{prefix}latitude"), "must be between -90 and 90");
        }
        if !(-180.0..=180.0).contains(&self.longitude) {
            v.add(
                &format!("{prefix}longitude"),
                "must be between -180 and 180",
            );
        }
    }
}

pub async fn set_location(
    db: &Db,
    principal: &Principal,
    id: i64,
    location: Location,
) -> DomainResult<Location> {
    let mut v = Violations::default();
    location.check(&mut v, "");
    let txn = db.begin_write().await?;
    let own = access::require::<Own>(&txn, principal, Some(id), Services::Denied).await?;
    v.into_result()?;
    let mut active = access::load(&txn, &own).await?.into_active_model();
    active.location_address = Set(Some(location.address.clone()));
    active.location_latitude = Set(Some(location.latitude));
    active.location_longitude = Set(Some(location.longitude));
    active.updated_at = Set(super::now());
    let model = active.update(&txn).await?;
    events::append(
        &txn,
        principal,
        changed(types::ORGANIZATION_LOCATION_CHANGED, &model),
    )
    .await?;
    txn.commit().await?;
    Ok(location)
}

pub async fn delete_location(db: &Db, principal: &Principal, id: i64) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let own = access::require::<Own>(&txn, principal, Some(id), Services::Denied).await?;
    let mut active = access::load(&txn, &own).await?.into_active_model();
    active.location_address = Set(None);
    active.location_latitude = Set(None);
    active.location_longitude = Set(None);
    active.updated_at = Set(super::now());
    let model = active.update(&txn).await?;
    events::append(
        &txn,
        principal,
        changed(types::ORGANIZATION_LOCATION_CHANGED, &model),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
