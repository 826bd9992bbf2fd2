//! MyCreditApp's Requester/Target rule, for every `/v1` endpoint that names both headers.
//!
//! The caller must belong to the requester. The target is reached in one of three ways
//! *(published)*: **Self** (target = requester), **Host** (the requester is the host of a
//! connected guest, the target), **Guest** (the requester is a connected guest of the
//! target, its host). A connection is a `guest_connections` row made by accepting a guest
//! invitation, and it is connected until the host archives it; a giosg partnership is no
//! connection here. Each endpoint publishes its own matrix and the level it needs in the
//! requester; each is one [`Endpoint`] type below, so the proof an operation takes names
//! the row it passed.

use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

use super::super::error::{DomainError, DomainResult, Violation};
use super::{Authorized, Level};
use crate::auth::Principal;
use crate::db::Columns;

/// The two MyCreditApp headers as the client sent them (empty when absent).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub requester: String,
    pub target: String,
}

/// How the requester reaches the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Target = requester.
    Itself,
    /// The target is a guest of the requester.
    Host,
    /// The target is the host of the requester.
    Guest,
}

/// One endpoint's published matrix and the level it needs in the requester.
#[derive(Clone, Copy, Debug)]
pub struct Matrix {
    pub itself: bool,
    pub host: bool,
    pub guest: bool,
    pub level: Level,
    /// An archived (disconnected) connection still counts: restoring it is what the
    /// endpoint is for.
    pub archived_counts: bool,
}

impl Matrix {
    const fn self_only(level: Level) -> Matrix {
        Matrix {
            itself: true,
            host: false,
            guest: false,
            level,
            archived_counts: false,
        }
    }

    fn allows(&self, relation: Relation) -> bool {
        match relation {
            Relation::Itself => self.itself,
            Relation::Host => self.host,
            Relation::Guest => self.guest,
        }
    }
}

/// An endpoint (a group of RPCs with one matrix); the parameter of the proof it takes.
pub trait Endpoint {
    const MATRIX: Matrix;
}

macro_rules! endpoint {
    ($(#[$doc:meta])* $name:ident = $matrix:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl Endpoint for $name {
            const MATRIX: Matrix = $matrix;
        }
    };
}

endpoint!(
    /// Reading a directory (list, get): Self, Host and Guest *(orgd)*, any role.
    ReadDirectory = Matrix {
        itself: true,
        host: true,
        guest: true,
        level: Level::Read,
        archived_counts: false,
    }
);
endpoint!(
    /// Writing one's own directory: Self only *(published: create organization partner
    /// Self ✓, Host ✗, Guest ✗)*, any role.
    WriteDirectory = Matrix::self_only(Level::Read)
);
endpoint!(
    /// Sending a guest invitation (and listing them, tokens included): Self only, settings
    /// permission — the host's consent to the connection.
    InviteGuests = Matrix::self_only(Level::Admin)
);
endpoint!(
    /// Accepting a guest invitation for the requester: Self only, settings permission —
    /// the guest's consent.
    AcceptAsGuest = Matrix::self_only(Level::Admin)
);
endpoint!(
    /// Listing one's own guests or hosts: Self only, any role.
    ReadConnections = Matrix::self_only(Level::Read)
);
endpoint!(
    /// Archiving or restoring a guest: Host only (Target = the guest), settings permission
    /// in the host; the archived connection counts.
    ManageGuest = Matrix {
        itself: false,
        host: true,
        guest: false,
        level: Level::Admin,
        archived_counts: true,
    }
);

fn denied() -> DomainError {
    DomainError::PermissionDenied("you may not act on this organization".into())
}

fn parse(bad: &mut Vec<Violation>, field: &str, value: &str) -> Option<Uuid> {
    let parsed = Uuid::parse_str(value.trim()).ok();
    if parsed.is_none() {
        bad.push(Violation::new(
            field,
            if value.trim().is_empty() {
                "field required"
            } else {
                "must be a UUID"
            },
        ));
    }
    parsed
}

/// The headers' problems (422), before anything is looked up.
fn parse_scope(scope: &Scope) -> DomainResult<(Uuid, Uuid)> {
    let mut bad = Vec::new();
    let requester = parse(&mut bad, "requester_organization_id", &scope.requester);
    let target = parse(&mut bad, "target_organization_id", &scope.target);
    match (requester, target) {
        (Some(r), Some(t)) => Ok((r, t)),
        _ => Err(DomainError::Invalid(bad)),
    }
}

/// A path value naming an organization must be the Target header *(published)*: a value
/// that is no UUID is a violation (under `field`); another organization than the Target is
/// one the request has no access to (403), as a schema cannot say "equal to the header".
pub fn path_is_target(scope: &Scope, field: &str, value: &str) -> DomainResult<()> {
    let path = Uuid::parse_str(value.trim()).ok();
    let target = Uuid::parse_str(scope.target.trim()).ok();
    match (path, target) {
        (None, _) => Err(DomainError::invalid(field, "must be a UUID")),
        (Some(p), Some(t)) if p != t => Err(DomainError::PermissionDenied(format!(
            "{field} is not the Target-Organization-ID"
        ))),
        _ => Ok(()),
    }
}

/// What [`check`] found.
#[derive(Debug)]
pub struct Checked<E> {
    /// For the target organization.
    pub proof: Authorized<E>,
    pub relation: Relation,
    /// The requester organization's id.
    pub requester_id: i64,
}

/// A statement's part that finds what [`decide`] needs, as one row of columns prefixed `s_`
/// (none when the requester does not exist): the requester's id and the principal's level in
/// it, the target's id (NULL when it does not exist) and whether the requester is its host or
/// its guest. `requester`, `target` and `principal_id` are the placeholders bound to
/// [`scope_values`]. A read puts this in front of its rows (`WITH scope AS (...)`), so that
/// access and rows are one statement.
pub fn scope_sql<E: Endpoint>(
    principal: &Principal,
    requester: &str,
    target: &str,
    principal_id: &str,
) -> String {
    let archived = if E::MATRIX.archived_counts {
        ""
    } else {
        " AND g.archived = FALSE"
    };
    let connected = |host: &str, guest: &str| {
        format!(
            "EXISTS(SELECT 1 FROM guest_connections g WHERE g.host_organization_id = {host} \
             AND g.guest_organization_id = {guest}{archived})"
        )
    };
    format!(
        "SELECT r.id AS s_requester_id, {level} AS s_access_level, t.id AS s_target_id, \
           {as_host} AS s_as_host, {as_guest} AS s_as_guest \
         FROM organizations r LEFT JOIN organizations t ON t.uuid = {target} \
         WHERE r.uuid = {requester}",
        level = super::level_sql(principal, "r.id", principal_id),
        as_host = connected("r.id", "t.id"),
        as_guest = connected("t.id", "r.id"),
    )
}

/// The headers, checked (422 before anything is looked up), for a statement with
/// [`scope_sql`].
#[derive(Clone, Copy, Debug)]
pub struct ParsedScope {
    requester: Uuid,
    target: Uuid,
}

impl ParsedScope {
    pub fn parse(scope: &Scope) -> DomainResult<ParsedScope> {
        let (requester, target) = parse_scope(scope)?;
        Ok(ParsedScope { requester, target })
    }

    /// The target organization's UUID.
    pub fn target(&self) -> Uuid {
        self.target
    }
}

/// The values of [`scope_sql`]'s placeholders: requester, target, principal.
pub fn scope_values(principal: &Principal, scope: &ParsedScope) -> [sea_orm::Value; 3] {
    [
        scope.requester.into(),
        scope.target.into(),
        super::principal_param(principal).into(),
    ]
}

/// What a [`scope_sql`] row says.
#[derive(Clone, Copy, Debug)]
pub struct ScopeRow {
    requester_id: i64,
    level: Option<Level>,
    target_id: Option<i64>,
    as_host: bool,
    as_guest: bool,
}

/// Reads the `s_` columns of a [`scope_sql`] row.
pub fn scope_from_row(row: &dyn Columns) -> DomainResult<ScopeRow> {
    Ok(ScopeRow {
        requester_id: row.i64("s_requester_id")?,
        level: super::level_from_row(row, "s_access_level")?,
        target_id: row.opt_i64("s_target_id")?,
        as_host: row.bool("s_as_host")?,
        as_guest: row.bool("s_as_guest")?,
    })
}

/// The proof for endpoint `E`, for the target organization, and how the requester reached
/// it, from the [`scope_sql`] row (None: no such requester). Permission (403): an unknown
/// requester or target, no role (or too low a level) in the requester, or a relation the
/// matrix refuses.
pub fn decide<E: Endpoint>(
    principal: &Principal,
    scope: &ParsedScope,
    row: Option<ScopeRow>,
) -> DomainResult<Checked<E>> {
    let matrix = E::MATRIX;
    let row = row.ok_or_else(denied)?;
    let level = row.level.ok_or_else(denied)?;
    let target_id = row.target_id.ok_or_else(denied)?;
    let relation = if scope.requester == scope.target {
        Relation::Itself
    } else {
        let relations = [
            (row.as_host, Relation::Host),
            (row.as_guest, Relation::Guest),
        ];
        let connected = || relations.iter().filter(|(on, _)| *on).map(|(_, r)| *r);
        connected()
            .find(|r| matrix.allows(*r))
            .or(connected().next())
            .ok_or_else(denied)?
    };
    if !matrix.allows(relation) {
        return Err(DomainError::PermissionDenied(match relation {
            Relation::Itself => {
                "this endpoint acts on a connected organization, not on the requester itself".into()
            }
            _ => "this endpoint allows no access through a host/guest connection".into(),
        }));
    }
    if level < matrix.level {
        return Err(DomainError::PermissionDenied(
            "this needs settings permission (admin or owner) in the requester organization".into(),
        ));
    }
    Ok(Checked {
        proof: Authorized::grant(principal, target_id),
        relation,
        requester_id: row.requester_id,
    })
}

/// [`decide`] on its own statement, for operations whose rows come after (writes, which
/// read in their transaction). Header problems come first (422), then permission (403).
pub async fn check<E: Endpoint>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    scope: &Scope,
) -> DomainResult<Checked<E>> {
    let parsed = ParsedScope::parse(scope)?;
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            scope_sql::<E>(principal, "$1", "$2", "$3"),
            scope_values(principal, &parsed),
        ))
        .await?;
    let row = row.as_ref().map(|r| scope_from_row(r)).transpose()?;
    decide(principal, &parsed, row)
}

/// The proofs that open a directory's records.
pub trait OpensDirectory {}
impl OpensDirectory for ReadDirectory {}
impl OpensDirectory for WriteDirectory {}
impl OpensDirectory for InviteGuests {}
