//! giosg's messages from the domain's views (organizations, users, partners,
//! partnerships), its pages and their links, and its display-name patch: the converter
//! every giosg service shares.

use prost_types::value::Kind;

use super::convert::timestamp;
use crate::domain::pagination::{self, Page, PageRequest};
use crate::domain::partnership::{PartnershipView, Patch};
use crate::domain::presence::{OrganizationPresence, UserView};
use crate::domain::{DomainError, DomainResult};
use crate::proto::v1::*;

pub fn giosg_organization(view: &OrganizationPresence) -> GiosgOrganization {
    let m = &view.model;
    GiosgOrganization {
        id: m.uuid.to_string(),
        name: m.name.clone(),
        email: m.email.clone(),
        created_at: Some(timestamp(m.created_at)),
        is_present: view.presence.present,
        is_online: view.presence.online,
    }
}

pub fn giosg_user(view: &UserView) -> GiosgUser {
    let m = &view.model;
    let avatar = match (&m.avatar_id, &m.avatar_url) {
        (Some(id), Some(url)) => Some(UserAvatar {
            id: id.to_string(),
            url: url.clone(),
        }),
        _ => None,
    };
    GiosgUser {
        id: m.uuid.to_string(),
        full_name: m.full_name.clone(),
        email: m.email.clone(),
        current_chat_count: m.current_chat_count,
        avatar_id: avatar.as_ref().map(|a| a.id.clone()),
        avatar,
        created_at: Some(timestamp(m.created_at)),
        is_present: view.presence.present,
        is_online: view.presence.online,
    }
}

pub fn partner(view: &OrganizationPresence) -> Partner {
    let m = &view.model;
    Partner {
        id: m.uuid.to_string(),
        name: m.name.clone(),
        created_at: Some(timestamp(m.created_at)),
        is_present: view.presence.present,
        is_online: view.presence.online,
    }
}

pub fn partnership(view: &PartnershipView) -> Partnership {
    Partnership {
        partner_organization_id: view.partner.model.uuid.to_string(),
        partner_organization: Some(giosg_organization(&view.partner)),
        organization_id: view.organization.model.uuid.to_string(),
        organization: Some(giosg_organization(&view.organization)),
        display_name: view.row.display_name.clone(),
        created_at: Some(timestamp(view.row.created_at)),
    }
}

pub fn page_request(
    cursor: Option<String>,
    ordering: Option<String>,
    page_size: Option<i32>,
) -> PageRequest {
    PageRequest {
        cursor,
        ordering,
        page_size,
    }
}

/// `next` / `previous` as the client follows them, and the page's items converted.
pub fn links<T, U>(
    page: Page<T>,
    url: Option<&str>,
    f: impl FnMut(&T) -> U,
) -> (Option<String>, Option<String>, Vec<U>) {
    (
        pagination::link(url, page.next),
        pagination::link(url, page.previous),
        page.items.iter().map(f).collect(),
    )
}

/// A JSON display name: absent, null, or a string; anything else is a 400.
pub fn display_name(value: Option<prost_types::Value>) -> DomainResult<Patch<String>> {
    match value.and_then(|v| v.kind) {
        None => Ok(Patch::Absent),
        Some(Kind::NullValue(_)) => Ok(Patch::Null),
        Some(Kind::StringValue(s)) => Ok(Patch::Value(s)),
        Some(_) => Err(DomainError::invalid("display_name", "Not a valid string.")),
    }
}
