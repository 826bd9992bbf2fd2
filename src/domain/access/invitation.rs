//! Who sees and answers a partnership invitation. One addressed to a person's email is that
//! person's: they see it, and answer it for an organization in which they have settings
//! permission. One addressed to an organization's email is for that organization's admins
//! and owners (owner rights through an ancestor count). Nobody else sees it — its message
//! included — except the sending organization, which sees what it sent, and the
//! organization that resolved it, whose admins and owners keep seeing it as incoming.
//!
//! Answering one already resolved is refused as giosg publishes it: 403 when the caller's
//! organization resolved it, 404 when another one did (it is none of the caller's business);
//! 403 as well for the sender's own people, who may never answer what they sent.

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

use super::super::error::{DomainError, DomainResult};
use super::super::giosg::{OrganizationRef, not_found};
use super::super::membership::Role;
use super::{Admin, Authorized};
use crate::auth::Principal;
use crate::entity::{organization, partnership_invitation as inv, user};

/// Whom an invitation may be addressed to, for one caller.
#[derive(Clone, Debug, Default)]
pub struct Addressee {
    /// The caller's own email (people only).
    email: Option<String>,
    /// Organizations in which the caller has settings permission.
    managed: Vec<i64>,
    /// Organizations the caller belongs to directly (those a person may answer for).
    member_of: Vec<i64>,
}

impl Addressee {
    pub async fn of(conn: &impl ConnectionTrait, principal: &Principal) -> DomainResult<Addressee> {
        let email = match principal {
            Principal::User { user_id } => user::Entity::find_by_id(*user_id)
                .one(conn)
                .await?
                .map(|u| u.email),
            _ => None,
        };
        Ok(Addressee {
            email,
            managed: managed_organization_ids(conn, principal).await?,
            member_of: super::giosg::member_organization_ids(conn, principal).await?,
        })
    }

    /// The invitations addressed to the caller: to their own email, or to the email of an
    /// organization they manage; and those an organization they manage resolved.
    pub fn condition(&self) -> Condition {
        let org_emails = Query::select()
            .column(organization::Column::Email)
            .from(organization::Entity)
            .and_where(organization::Column::Id.is_in(self.managed.clone()))
            .and_where(organization::Column::Email.is_not_null())
            .to_owned();
        let mut any = Condition::any()
            .add(inv::Column::Email.in_subquery(org_emails))
            .add(inv::Column::ResolvedByOrganizationId.is_in(self.managed.clone()));
        if let Some(email) = &self.email {
            any = any.add(inv::Column::Email.eq(email.as_str()));
        }
        any
    }

    /// The organizations the caller may answer `invitation` (addressed to them) for: those
    /// they manage with that email, or else, when it is the caller's own email, those they
    /// belong to (settings permission there is checked when they answer). Never the
    /// sender itself.
    pub async fn may_answer_for(
        &self,
        conn: &impl ConnectionTrait,
        invitation: &inv::Model,
    ) -> DomainResult<Vec<i64>> {
        let by_org_email: Vec<i64> = if self.managed.is_empty() {
            Vec::new()
        } else {
            organization::Entity::find()
                .filter(organization::Column::Id.is_in(self.managed.clone()))
                .filter(organization::Column::Email.eq(invitation.email.as_str()))
                .all(conn)
                .await?
                .into_iter()
                .map(|o| o.id)
                .collect()
        };
        let candidates = if !by_org_email.is_empty() {
            by_org_email
        } else if self.email.as_deref() == Some(invitation.email.as_str()) {
            self.member_of.clone()
        } else {
            Vec::new()
        };
        Ok(candidates
            .into_iter()
            .filter(|id| *id != invitation.organization_id)
            .collect())
    }
}

/// Ids of the organizations in which the principal has settings permission (admin or owner
/// there, or owner above it; an organization token: its subtree), ascending.
async fn managed_organization_ids(
    conn: &impl ConnectionTrait,
    principal: &Principal,
) -> DomainResult<Vec<i64>> {
    let (sql, root) = match principal {
        Principal::User { user_id } => (
            format!(
                "WITH RECURSIVE owned(id, depth) AS ( \
                   SELECT organization_id, 0 FROM memberships WHERE user_id = $1 AND role = '{owner}' \
                   UNION \
                   SELECT o.id, owned.depth + 1 FROM organizations o \
                     JOIN owned ON o.parent_id = owned.id WHERE owned.depth < $2 \
                 ) \
                 SELECT id FROM owned \
                 UNION SELECT organization_id FROM memberships WHERE user_id = $1 AND role = '{admin}' \
                 ORDER BY 1",
                owner = Role::Owner.as_str(),
                admin = Role::Admin.as_str(),
            ),
            *user_id,
        ),
        Principal::Organization { .. } => {
            return super::visible_organization_ids(conn, principal).await;
        }
        Principal::Service { .. } => return Ok(Vec::new()),
    };
    super::tree_ids(conn, &sql, root).await
}

/// An invitation addressed to the caller, by its key (anyone else's is unknown: 404).
pub async fn incoming(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    key: &str,
) -> DomainResult<inv::Model> {
    let addressee = Addressee::of(conn, principal).await?;
    find(conn, &addressee, key).await
}

async fn find(
    conn: &impl ConnectionTrait,
    addressee: &Addressee,
    key: &str,
) -> DomainResult<inv::Model> {
    inv::Entity::find()
        .filter(inv::Column::Key.eq(key.trim()))
        .filter(addressee.condition())
        .one(conn)
        .await?
        .ok_or_else(|| not_found("Invitation"))
}

/// Answering (accepting or rejecting) an invitation: a person who is its addressee, with
/// settings permission in the organization answering (named, or the only one possible),
/// which is never the sender. Returns the invitation, the proof for the answering
/// organization and its row.
pub async fn answer(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    key: &str,
    organization_id: Option<OrganizationRef<'_>>,
) -> DomainResult<(inv::Model, Authorized<Admin>, organization::Model)> {
    super::require_user(principal)?;
    let addressee = Addressee::of(conn, principal).await?;
    let model = match find(conn, &addressee, key).await {
        Err(DomainError::NotFound(_)) => return Err(not_addressed(conn, principal, key).await),
        other => other?,
    };
    let candidates = addressee.may_answer_for(conn, &model).await?;
    let (proof, org) =
        super::giosg::acting_among::<Admin>(conn, principal, organization_id, candidates.clone())
            .await?;
    if !candidates.contains(&org.id) {
        return Err(not_found("Invitation"));
    }
    Ok((model, proof, org))
}

/// Why a caller who is not an invitation's addressee cannot answer it: the sender's own
/// people may not (403); to anyone else it does not exist (404).
async fn not_addressed(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    key: &str,
) -> DomainError {
    let sent = inv::Entity::find()
        .filter(inv::Column::Key.eq(key.trim()))
        .one(conn)
        .await;
    match sent {
        Ok(Some(model)) => match super::has_role(conn, principal, model.organization_id).await {
            Ok(true) => DomainError::PermissionDenied(
                "You cannot answer an invitation your organization sent.".into(),
            ),
            Ok(false) => not_found("Invitation"),
            Err(e) => e,
        },
        Ok(None) => not_found("Invitation"),
        Err(e) => e.into(),
    }
}

/// The refusal to answer an invitation already resolved, for the organization answering:
/// 403 when it resolved it itself, 404 when another organization did.
pub fn already_resolved(invitation: &inv::Model, answering: &organization::Model) -> DomainError {
    if invitation.resolved_by_organization_id == Some(answering.id) {
        DomainError::PermissionDenied("The invitation has already been resolved.".into())
    } else {
        not_found("Invitation")
    }
}
