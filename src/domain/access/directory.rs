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

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::super::error::{DomainError, DomainResult, Violation};
use super::{Authorized, Level};
use crate::auth::Principal;
use crate::entity::{guest_connection, organization};

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

/// The proof for endpoint `E`, for the target organization, and how the requester reached
/// it. Header problems come first (422), then permission (403): an unknown requester or
/// target, no role (or too low a level) in the requester, or a relation the matrix refuses.
pub async fn check<E: Endpoint>(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    scope: &Scope,
) -> DomainResult<Checked<E>> {
    let matrix = E::MATRIX;
    let (requester, target) = parse_scope(scope)?;
    let find = |id: Uuid| {
        organization::Entity::find()
            .filter(organization::Column::Uuid.eq(id))
            .one(conn)
    };
    let requester_org = find(requester).await?.ok_or_else(denied)?;
    let (_, level) = super::level(conn, principal, requester_org.id).await?;
    let level = level.ok_or_else(denied)?;
    let (target_id, relation) = if requester == target {
        (requester_org.id, Relation::Itself)
    } else {
        let target_org = find(target).await?.ok_or_else(denied)?;
        let relations = connections(
            conn,
            requester_org.id,
            target_org.id,
            matrix.archived_counts,
        )
        .await?;
        let relation = relations
            .iter()
            .copied()
            .find(|r| matrix.allows(*r))
            .or(relations.first().copied())
            .ok_or_else(denied)?;
        (target_org.id, relation)
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
        requester_id: requester_org.id,
    })
}

/// How `requester` is connected to `target`: as the host of a guest, as a guest of its
/// host, or both. Archived connections only when `archived_counts`.
async fn connections(
    conn: &impl ConnectionTrait,
    requester: i64,
    target: i64,
    archived_counts: bool,
) -> DomainResult<Vec<Relation>> {
    use sea_orm::Condition;
    let pair = |host: i64, guest: i64| {
        Condition::all()
            .add(guest_connection::Column::HostOrganizationId.eq(host))
            .add(guest_connection::Column::GuestOrganizationId.eq(guest))
    };
    let mut query = guest_connection::Entity::find().filter(
        Condition::any()
            .add(pair(requester, target))
            .add(pair(target, requester)),
    );
    if !archived_counts {
        query = query.filter(guest_connection::Column::Archived.eq(false));
    }
    Ok(query
        .all(conn)
        .await?
        .iter()
        .map(|r| {
            if r.host_organization_id == requester {
                Relation::Host
            } else {
                Relation::Guest
            }
        })
        .collect())
}

/// The proofs that open a directory's records.
pub trait OpensDirectory {}
impl OpensDirectory for ReadDirectory {}
impl OpensDirectory for WriteDirectory {}
impl OpensDirectory for InviteGuests {}
