//! The `state` an event carries for each kind of resource: its stored fields, named as in
//! the database, minus what is secret or bulky. The one place that decides what the log
//! shows of a row: invitation tokens and keys (which accept an invitation) and avatar bytes
//! never enter it.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::entity::{
    guest_connection, guest_invitation, membership, organization, organization_partner,
    owner_invitation, partnership, partnership_invitation, quick_action, user, user_client,
};

fn time(t: &DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

fn opt_time(t: &Option<DateTime<Utc>>) -> Value {
    t.as_ref().map(time).unwrap_or(Value::Null)
}

pub fn organization(m: &organization::Model) -> Value {
    json!({
        "id": m.id,
        "uuid": m.uuid,
        "parent_id": m.parent_id,
        "name": m.name,
        "description": m.description,
        "language": m.language,
        "timezone": m.timezone,
        "enforces_two_factor_auth": m.enforces_two_factor_auth,
        "data_retention_period": m.data_retention_period,
        "tags": serde_json::from_str::<Value>(&m.tags).unwrap_or(Value::Null),
        "state": m.state,
        "trial_end_date": opt_time(&m.trial_end_date),
        "avatar_version": m.avatar_version,
        "location_address": m.location_address,
        "location_latitude": m.location_latitude,
        "location_longitude": m.location_longitude,
        "email": m.email,
        "created_at": time(&m.created_at),
        "updated_at": time(&m.updated_at),
    })
}

/// A deleted organization: what names it, not its last fields. A delete must fit where
/// the rows it removes were: on a full database (SQLite's cap) deleting is how space is won
/// back, and a copy of a large row would need the space the delete frees.
pub fn deleted_organization(m: &organization::Model) -> Value {
    json!({"id": m.id, "uuid": m.uuid, "parent_id": m.parent_id, "name": m.name})
}

pub fn membership(m: &membership::Model) -> Value {
    json!({
        "organization_id": m.organization_id,
        "user_id": m.user_id,
        "role": m.role,
        "created_at": time(&m.created_at),
    })
}

/// A role: who holds (or, removed, held) which.
pub fn role(organization_id: i64, user_id: i64, role: &str) -> Value {
    json!({"organization_id": organization_id, "user_id": user_id, "role": role})
}

pub fn owner_invitation(m: &owner_invitation::Model) -> Value {
    json!({
        "uuid": m.uuid,
        "organization_id": m.organization_id,
        "user_id": m.user_id,
        "invited_by_user_id": m.invited_by_user_id,
        "created_at": time(&m.created_at),
        "accepted_at": opt_time(&m.accepted_at),
    })
}

pub fn quick_actions(organization_id: i64, actions: &[quick_action::Model]) -> Value {
    let list: Vec<Value> = actions
        .iter()
        .map(|a| {
            json!({
                "position": a.position,
                "name": a.name,
                "color": a.color,
                "icon": a.icon,
                "one_click": a.one_click,
                "resource": a.resource,
                "resource_id": a.resource_id,
            })
        })
        .collect();
    json!({"organization_id": organization_id, "quick_actions": list})
}

pub fn partnership(m: &partnership::Model) -> Value {
    json!({
        "uuid": m.uuid,
        "organization_id": m.organization_id,
        "partner_organization_id": m.partner_organization_id,
        "display_name": m.display_name,
        "visible_to_everyone": m.visible_to_everyone,
        "created_at": time(&m.created_at),
    })
}

pub fn partnership_invitation(m: &partnership_invitation::Model) -> Value {
    json!({
        "uuid": m.uuid,
        "organization_id": m.organization_id,
        "created_by_user_id": m.created_by_user_id,
        "email": m.email,
        "partner_display_name": m.partner_display_name,
        "status": m.status,
        "created_at": time(&m.created_at),
        "resolved_at": opt_time(&m.resolved_at),
        "resolved_by_organization_id": m.resolved_by_organization_id,
        "resolved_by_user_id": m.resolved_by_user_id,
        "partnership_uuid": m.partnership_uuid,
        "created_new_partnership": m.created_new_partnership,
    })
}

pub fn guest_invitation(m: &guest_invitation::Model) -> Value {
    json!({
        "uuid": m.uuid,
        "host_organization_id": m.host_organization_id,
        "email": m.email,
        "parent_organization_id": m.parent_organization_id,
        "status": m.status,
        "first_invitation_sent_at": time(&m.first_invitation_sent_at),
        "last_invitation_sent_at": time(&m.last_invitation_sent_at),
        "expired_at": time(&m.expired_at),
        "archived": m.archived,
        "accepted_at": opt_time(&m.accepted_at),
        "guest_organization_id": m.guest_organization_id,
        "updated_at": time(&m.updated_at),
    })
}

pub fn guest_connection(m: &guest_connection::Model) -> Value {
    json!({
        "uuid": m.uuid,
        "host_organization_id": m.host_organization_id,
        "guest_organization_id": m.guest_organization_id,
        "archived": m.archived,
        "archived_at": opt_time(&m.archived_at),
        "created_at": time(&m.created_at),
        "updated_at": time(&m.updated_at),
    })
}

pub fn partner(m: &organization_partner::Model) -> Value {
    json!({
        "uuid": m.uuid,
        "organization_id": m.organization_id,
        "company_name": m.company_name,
        "sales_amount": m.sales_amount,
        "partner_type": m.partner_type,
        "email": m.email,
        "frequency": m.frequency,
        "payment_terms": m.payment_terms,
        "address": m.address,
        "city": m.city,
        "state": m.state,
        "postal_code": m.postal_code,
        "country_code": m.country_code,
        "company_registration_number": m.company_registration_number,
        "invitation_status": m.invitation_status,
        "guest_organization_id": m.guest_organization_id,
        "updated_at": time(&m.updated_at),
    })
}

pub fn user_client(m: &user_client::Model) -> Value {
    json!({
        "user_id": m.user_id,
        "client_id": m.client_id,
        "expires_at": time(&m.expires_at),
        "created_at": time(&m.created_at),
    })
}

/// A user's status as presence shows it.
pub fn user_status(m: &user::Model) -> Value {
    json!({
        "user_id": m.id,
        "user_uuid": m.uuid,
        "current_chat_count": m.current_chat_count,
        "avatar_url": m.avatar_url,
        "online_enabled": m.online_enabled,
    })
}
