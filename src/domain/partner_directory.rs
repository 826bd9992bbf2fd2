//! MyCreditApp's partner directory: customer and supplier records of an organization,
//! written by its members and read by them or by members of an organization connected to
//! it as its host or guest (the rule is `access::directory`). A record's
//! `invitation_status` follows the guest invitations its organization sends to the
//! record's email (`guest`).

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};
use uuid::Uuid;

use super::access::Authorized;
pub use super::access::directory::Scope;
use super::access::directory::{
    self as access, InviteGuests, OpensDirectory, ReadDirectory, WriteDirectory,
};
use super::error::{DomainError, DomainResult};
use super::events;
pub use super::partner_search::SearchField;
use super::validate::{Violations, is_country_code, is_email, rule};
use crate::auth::Principal;
use crate::db::Db;
use crate::entity::organization_partner as partner;

pub const SEARCH_TEXT_MAX_CHARS: usize = 255;
pub const MAX_LIMIT: i32 = 100;
/// The published bounds of `sales_amount`.
pub const MAX_SALES_AMOUNT: i64 = 2_147_483_647;
/// How long an invitation sent from a record (`invite`) stays open *(orgd)*.
pub const RECORD_INVITATION_DAYS: i64 = 14;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartnerType {
    Customer,
    Supplier,
}

impl PartnerType {
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerType::Customer => "customer",
            PartnerType::Supplier => "supplier",
        }
    }

    pub fn parse(s: &str) -> Option<PartnerType> {
        match s {
            "customer" => Some(PartnerType::Customer),
            "supplier" => Some(PartnerType::Supplier),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    Invited,
    Accepted,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Invited => "invited",
            InvitationStatus::Accepted => "accepted",
        }
    }

    pub fn parse(s: &str) -> Option<InvitationStatus> {
        match s {
            "invited" => Some(InvitationStatus::Invited),
            "accepted" => Some(InvitationStatus::Accepted),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderBy {
    CompanyName,
    SalesAmount,
    PartnerType,
    Email,
    Frequency,
    PaymentTerms,
}

impl OrderBy {
    fn column(self) -> partner::Column {
        match self {
            OrderBy::CompanyName => partner::Column::CompanyName,
            OrderBy::SalesAmount => partner::Column::SalesAmount,
            OrderBy::PartnerType => partner::Column::PartnerType,
            OrderBy::Email => partner::Column::Email,
            OrderBy::Frequency => partner::Column::Frequency,
            OrderBy::PaymentTerms => partner::Column::PaymentTerms,
        }
    }
}

/// The writable fields; on update only the present ones change.
#[derive(Clone, Debug, Default)]
pub struct PartnerInput {
    pub company_name: Option<String>,
    pub sales_amount: Option<i64>,
    pub partner_type: Option<PartnerType>,
    pub email: Option<String>,
    pub frequency: Option<String>,
    pub payment_terms: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub company_registration_number: Option<String>,
}

impl PartnerInput {
    /// The published limits, as `validate::FIELD_RULES` states them for the OpenAPI
    /// document too.
    fn validate(&self, creating: bool) -> DomainResult<()> {
        let mut v = Violations::default();
        let texts = [
            ("company_name", &self.company_name),
            ("email", &self.email),
            ("frequency", &self.frequency),
            ("payment_terms", &self.payment_terms),
            ("address", &self.address),
            ("city", &self.city),
            ("state", &self.state),
            ("postal_code", &self.postal_code),
            (
                "company_registration_number",
                &self.company_registration_number,
            ),
        ];
        for (field, value) in texts {
            let rule = rule(&format!("orgd.v1.PartnerInput.{field}"));
            match value {
                Some(value) => v.text(field, rule, value),
                None if creating && rule.needed_on_create() => v.add(field, "field required"),
                None => {}
            }
        }
        if let Some(email) = &self.email
            && !is_email(email.trim())
        {
            v.add("email", "value is not a valid email address");
        }
        if creating && self.partner_type.is_none() {
            v.add("partner_type", "field required");
        }
        if let Some(amount) = self.sales_amount {
            v.number(
                "sales_amount",
                rule("orgd.v1.PartnerInput.sales_amount"),
                amount as f64,
            );
        }
        if self
            .country_code
            .as_deref()
            .is_some_and(|c| !is_country_code(c))
        {
            v.add(
                "country_code",
                "must be an ISO 3166-1 alpha-2 code such as 'DE'",
            );
        }
        v.into_result()
    }

    fn apply(self, m: &mut partner::ActiveModel) {
        if let Some(x) = self.company_name {
            let name = x.trim().to_string();
            m.company_name_folded = Set(name.to_lowercase());
            m.company_name = Set(name);
        }
        if let Some(x) = self.sales_amount {
            m.sales_amount = Set(x);
        }
        if let Some(x) = self.partner_type {
            m.partner_type = Set(x.as_str().to_string());
        }
        if let Some(x) = self.email {
            let email = x.trim().to_lowercase();
            m.email_folded = Set(email.clone());
            m.email = Set(email);
        }
        if let Some(x) = self.frequency {
            m.frequency = Set(x);
        }
        if let Some(x) = self.payment_terms {
            m.payment_terms = Set(x);
        }
        if let Some(x) = self.address {
            m.address = Set(Some(x));
        }
        if let Some(x) = self.city {
            m.city = Set(Some(x));
        }
        if let Some(x) = self.state {
            m.state = Set(Some(x));
        }
        if let Some(x) = self.postal_code {
            m.postal_code = Set(Some(x));
        }
        if let Some(x) = self.country_code {
            m.country_code = Set(Some(x));
        }
        if let Some(x) = self.company_registration_number {
            m.company_registration_number = Set(Some(x));
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub partner_types: Vec<PartnerType>,
    pub partner_ids: Vec<String>,
    pub search_field: Option<SearchField>,
    pub search_text: Option<String>,
    pub invitation_statuses: Vec<InvitationStatus>,
    pub order_by: Option<OrderBy>,
    pub descending: bool,
    pub limit: Option<i32>,
    pub offset: Option<i64>,
}

impl ListQuery {
    /// Every rule of the published query at once.
    fn check(&self) -> DomainResult<(Vec<Uuid>, u64, u64)> {
        let mut v = Violations::default();
        if self.partner_types.is_empty() {
            v.add("partner_types", "field required");
        }
        let mut ids = Vec::with_capacity(self.partner_ids.len());
        for (i, id) in self.partner_ids.iter().enumerate() {
            match Uuid::parse_str(id.trim()) {
                Ok(u) => ids.push(u),
                Err(_) => v.add(&format!("partner_ids.{i}"), "must be a UUID"),
            }
        }
        if let Some(text) = &self.search_text {
            let n = text.chars().count();
            if n == 0 || n > SEARCH_TEXT_MAX_CHARS {
                v.add(
                    "search_text",
                    format!("must be 1 to {SEARCH_TEXT_MAX_CHARS} characters"),
                );
            }
        }
        match self.limit {
            None => v.add("limit", "field required"),
            Some(l) if !(1..=MAX_LIMIT).contains(&l) => {
                v.add("limit", format!("must be between 1 and {MAX_LIMIT}"))
            }
            _ => {}
        }
        match self.offset {
            None => v.add("offset", "field required"),
            Some(o) if o < 0 => v.add("offset", "must be greater than or equal to 0"),
            _ => {}
        }
        v.into_result()?;
        Ok((
            ids,
            self.limit.unwrap_or(1) as u64,
            self.offset.unwrap_or(0) as u64,
        ))
    }
}

/// Both results, or every violation of both at once (MyCreditApp lists every bad field,
/// headers and values alike, before it looks at permission), or else the first error.
pub(crate) fn together<A, B>(a: DomainResult<A>, b: DomainResult<B>) -> DomainResult<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(DomainError::Invalid(mut x)), Err(DomainError::Invalid(y))) => {
            x.extend(y);
            Err(DomainError::Invalid(x))
        }
        (Err(e @ DomainError::Invalid(_)), _) | (_, Err(e @ DomainError::Invalid(_))) => Err(e),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// A page of the target's directory and the number of all matches.
pub async fn list(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    query: ListQuery,
) -> DomainResult<(Vec<partner::Model>, u64)> {
    let conn = db.read();
    let checked = query.check();
    let (target, (ids, limit, offset)) = together(read(conn, principal, scope).await, checked)?;
    // On the pool, one transaction for the reads: the count and the page see the same
    // rows, and a search may set how PostgreSQL plans these statements only.
    match db.read_transaction().await? {
        Some(txn) => {
            let found =
                count_and_page(&txn, target.organization_id(), &query, ids, limit, offset).await?;
            txn.commit().await?;
            Ok(found)
        }
        None => count_and_page(conn, target.organization_id(), &query, ids, limit, offset).await,
    }
}

async fn count_and_page(
    conn: &impl ConnectionTrait,
    organization: i64,
    query: &ListQuery,
    ids: Vec<Uuid>,
    limit: u64,
    offset: u64,
) -> DomainResult<(Vec<partner::Model>, u64)> {
    if query.search_text.is_some() {
        super::partner_search::plan_for_each_term(conn).await?;
    }
    let base = matching(conn, organization, query, ids).await?;
    let total = base.clone().count(conn).await?;
    let rows = ordered(base, query)
        .limit(limit)
        .offset(offset)
        .all(conn)
        .await?;
    Ok((rows, total))
}

/// Every record of `organization`'s directory that the (checked) query's filters match.
async fn matching(
    conn: &impl ConnectionTrait,
    organization: i64,
    query: &ListQuery,
    ids: Vec<Uuid>,
) -> DomainResult<Select<partner::Entity>> {
    let search = query
        .search_text
        .as_deref()
        .map(|text| (query.search_field.unwrap_or(SearchField::CompanyName), text));
    let mut filter = super::partner_search::scoped(conn, organization, search)
        .await?
        .add(partner::Column::PartnerType.is_in(query.partner_types.iter().map(|t| t.as_str())));
    if !ids.is_empty() {
        filter = filter.add(partner::Column::Uuid.is_in(ids));
    }
    if !query.invitation_statuses.is_empty() {
        filter = filter.add(
            partner::Column::InvitationStatus
                .is_in(query.invitation_statuses.iter().map(|s| s.as_str())),
        );
    }
    Ok(partner::Entity::find().filter(filter))
}

/// `matching` in the query's order, the id breaking ties.
fn ordered(matching: Select<partner::Entity>, query: &ListQuery) -> Select<partner::Entity> {
    let order = if query.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    matching
        .order_by(
            query.order_by.unwrap_or(OrderBy::CompanyName).column(),
            order.clone(),
        )
        .order_by(partner::Column::Id, order)
}

async fn find<N: OpensDirectory>(
    conn: &impl ConnectionTrait,
    directory: &Authorized<N>,
    partner_id: &str,
) -> DomainResult<partner::Model> {
    let organization_id = directory.organization_id();
    let not_found = || DomainError::NotFound("partner not found".into());
    let id = Uuid::parse_str(partner_id.trim()).map_err(|_| not_found())?;
    partner::Entity::find()
        .filter(partner::Column::OrganizationId.eq(organization_id))
        .filter(partner::Column::Uuid.eq(id))
        .one(conn)
        .await?
        .ok_or_else(not_found)
}

pub async fn create(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    input: PartnerInput,
) -> DomainResult<partner::Model> {
    let txn = db.begin_write().await?;
    let (target, ()) = together(write(&txn, principal, scope).await, input.validate(true))?;
    let now = super::now();
    let mut model = partner::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        organization_id: Set(target.organization_id()),
        sales_amount: Set(0),
        frequency: Set(String::new()),
        payment_terms: Set(String::new()),
        address: Set(None),
        city: Set(None),
        state: Set(None),
        postal_code: Set(None),
        country_code: Set(None),
        company_registration_number: Set(None),
        invitation_status: Set(None),
        guest_organization_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    input.apply(&mut model);
    let stored = model.insert(&txn).await?;
    record(&txn, principal, events::types::PARTNER_CREATED, &stored).await?;
    txn.commit().await?;
    Ok(stored)
}

pub async fn get(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    partner_id: &str,
) -> DomainResult<partner::Model> {
    let conn = db.read();
    let target = read(conn, principal, scope).await?;
    find(conn, &target, partner_id).await
}

pub async fn update(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    partner_id: &str,
    input: PartnerInput,
) -> DomainResult<partner::Model> {
    let txn = db.begin_write().await?;
    let (target, ()) = together(write(&txn, principal, scope).await, input.validate(false))?;
    let mut model = find(&txn, &target, partner_id).await?.into_active_model();
    input.apply(&mut model);
    model.updated_at = Set(super::now());
    let stored = model.update(&txn).await?;
    record(&txn, principal, events::types::PARTNER_UPDATED, &stored).await?;
    txn.commit().await?;
    Ok(stored)
}

pub async fn delete(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    partner_id: &str,
) -> DomainResult<()> {
    let txn = db.begin_write().await?;
    let target = write(&txn, principal, scope).await?;
    let found = find(&txn, &target, partner_id).await?;
    partner::Entity::delete_by_id(found.id).exec(&txn).await?;
    record(&txn, principal, events::types::PARTNER_DELETED, &found).await?;
    txn.commit().await?;
    Ok(())
}

async fn read(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    scope: &Scope,
) -> DomainResult<Authorized<ReadDirectory>> {
    Ok(access::check(conn, principal, scope).await?.proof)
}

async fn write(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    scope: &Scope,
) -> DomainResult<Authorized<WriteDirectory>> {
    Ok(access::check(conn, principal, scope).await?.proof)
}

/// Sends a guest invitation from the organization to the record's email, open for
/// [`RECORD_INVITATION_DAYS`] (or sends the open one again): the record becomes
/// `invited`, and `accepted` once the invitation is. An accepted record is not invited
/// again.
pub async fn invite(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
    partner_id: &str,
) -> DomainResult<partner::Model> {
    let txn = db.begin_write().await?;
    let host = access::check::<InviteGuests>(&txn, principal, scope)
        .await?
        .proof;
    let found = find(&txn, &host, partner_id).await?;
    if found.invitation_status.as_deref() == Some(InvitationStatus::Accepted.as_str()) {
        return Err(DomainError::Conflict {
            reason: "ALREADY_ACCEPTED",
            message: "the partner accepted an invitation already".into(),
        });
    }
    let expires = super::now() + chrono::Duration::days(RECORD_INVITATION_DAYS);
    super::guest::send(&txn, principal, &host, &found.email, expires, None).await?;
    let stored = find(&txn, &host, partner_id).await?;
    record(&txn, principal, events::types::PARTNER_INVITED, &stored).await?;
    txn.commit().await?;
    Ok(stored)
}

/// Marks `status` the records of `host`'s directory with `email` that are not accepted
/// yet (`guest` is the organization that accepted).
pub(crate) async fn invitation_status_changed(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    host: i64,
    email: &str,
    status: InvitationStatus,
    guest: Option<Uuid>,
) -> DomainResult<()> {
    let changing: Vec<i64> = partner::Entity::find()
        .select_only()
        .column(partner::Column::Id)
        .filter(partner::Column::OrganizationId.eq(host))
        .filter(partner::Column::EmailFolded.eq(email.trim().to_lowercase()))
        .filter(
            sea_orm::Condition::any()
                .add(partner::Column::InvitationStatus.is_null())
                .add(partner::Column::InvitationStatus.ne(InvitationStatus::Accepted.as_str())),
        )
        .into_tuple()
        .all(conn)
        .await?;
    if changing.is_empty() {
        return Ok(());
    }
    let mut update = partner::Entity::update_many()
        .col_expr(
            partner::Column::InvitationStatus,
            Expr::value(status.as_str()),
        )
        .col_expr(partner::Column::UpdatedAt, Expr::value(super::now()))
        .filter(partner::Column::Id.is_in(changing.clone()));
    if let Some(guest) = guest {
        update = update.col_expr(partner::Column::GuestOrganizationId, Expr::value(guest));
    }
    update.exec(conn).await?;
    let changed = partner::Entity::find()
        .filter(partner::Column::Id.is_in(changing))
        .all(conn)
        .await?;
    for record_row in &changed {
        record(conn, principal, events::types::PARTNER_UPDATED, record_row).await?;
    }
    Ok(())
}

/// The event of a change to a directory record.
async fn record(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    kind: &'static str,
    row: &partner::Model,
) -> DomainResult<()> {
    events::record(
        conn,
        principal,
        kind,
        &[row.organization_id],
        row.uuid,
        events::state::partner(row),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod plan_tests {
    //! SQLite's plans for a search, read from `EXPLAIN QUERY PLAN` over a few rows: with no
    //! statistics the planner decides from the schema and the SQL alone, so what it picks
    //! here it picks at any size.

    use super::*;
    use crate::domain::{organization, user};
    use sea_orm::{DatabaseBackend, QueryTrait, Statement};

    async fn plan(db: &Db, statement: Statement) -> String {
        let explain = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {}", statement.sql),
            statement.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.read().query_all_raw(explain).await.expect("explain");
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(3).expect("plan detail"))
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// The plans of the page and of the count (as `PaginatorTrait::count` writes it) for a
    /// search of `text` in `field` of `organization`'s directory.
    async fn plans(db: &Db, organization: i64, field: SearchField, text: &str) -> [String; 2] {
        let query = ListQuery {
            partner_types: vec![PartnerType::Customer, PartnerType::Supplier],
            search_field: Some(field),
            search_text: Some(text.into()),
            order_by: Some(OrderBy::SalesAmount),
            descending: true,
            ..Default::default()
        };
        let base = matching(db.read(), organization, &query, vec![])
            .await
            .expect("matching");
        let count = DatabaseBackend::Sqlite.build(
            sea_orm::sea_query::SelectStatement::new()
                .expr(Expr::cust("COUNT(*) AS num_items"))
                .from_subquery(base.clone().into_query(), "sub_query"),
        );
        let page = ordered(base, &query)
            .limit(25)
            .offset(0)
            .build(DatabaseBackend::Sqlite);
        [plan(db, page).await, plan(db, count).await]
    }

    /// An organization whose directory holds `names` (with emails `n@<name>.example`).
    async fn directory(db: &Db, principal: &Principal, names: &[String]) -> i64 {
        let org = organization::create(
            db,
            principal,
            organization::OrganizationInput {
                name: "Plans".into(),
                ..Default::default()
            },
        )
        .await
        .expect("organization");
        let now = super::super::now();
        let txn = db.begin_write().await.expect("begin");
        partner::Entity::insert_many(names.iter().map(|name| {
            let email = format!("n@{}.example", name.replace(' ', "-")).to_lowercase();
            partner::ActiveModel {
                uuid: Set(Uuid::new_v4()),
                organization_id: Set(org.model.id),
                company_name: Set(name.clone()),
                company_name_folded: Set(name.to_lowercase()),
                sales_amount: Set(0),
                partner_type: Set("customer".into()),
                email: Set(email.clone()),
                email_folded: Set(email),
                frequency: Set(String::new()),
                payment_terms: Set(String::new()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        }))
        .exec_without_returning(&txn)
        .await
        .expect("insert");
        txn.commit().await.expect("commit");
        org.model.id
    }

    /// The rows come by primary key from the ids the trigram index found (handed over as a
    /// JSON array): no walk over the organization's rows in an order index.
    fn drives_from_the_index(plan: &str) -> bool {
        plan.starts_with("SEARCH organization_partners USING INTEGER PRIMARY KEY (rowid=?)")
            && plan.contains("SCAN json_each VIRTUAL TABLE")
            && !plan.contains("organization_id=?")
    }

    /// The organization's rows through one of its indexes, as before m0005.
    fn scans_the_directory(plan: &str) -> bool {
        plan.starts_with("SEARCH organization_partners USING INDEX organization_partners_")
            && plan.contains("(organization_id=?")
            && !plan.contains("VIRTUAL TABLE")
    }

    #[tokio::test]
    async fn the_trigram_index_drives_a_long_term_that_it_narrows() {
        let db = Db::connect_and_migrate("sqlite::memory:").await.unwrap();
        let txn = db.begin_write().await.unwrap();
        let owner = user::create(&txn, "plans@example.com", "Plans")
            .await
            .unwrap();
        txn.commit().await.unwrap();
        let principal = Principal::User { user_id: owner.id };
        let names = |word: &str, n: usize| -> Vec<String> {
            (0..n).map(|i| format!("{word} Metal {i}")).collect()
        };
        let small = directory(&db, &principal, &names("Alpha", 3)).await;
        let large = directory(&db, &principal, &names("Digital", 20)).await;

        for field in [SearchField::CompanyName, SearchField::Email] {
            // 3 matches, 3 rows in the directory: the index is at least as narrow.
            for plan in plans(&db, small, field, "Alpha Metal").await {
                assert!(drives_from_the_index(&plan), "{field:?}: {plan}");
            }
            // 20 matches in another directory, 3 rows in this one: reading this one is less.
            for plan in plans(&db, small, field, "digital").await {
                assert!(scans_the_directory(&plan), "{field:?}: {plan}");
            }
            for plan in plans(&db, large, field, "digital").await {
                assert!(drives_from_the_index(&plan), "{field:?}: {plan}");
            }
            // A trigram index has nothing for two characters.
            for plan in plans(&db, large, field, "al").await {
                assert!(scans_the_directory(&plan), "{field:?}: {plan}");
            }
        }
    }
}
