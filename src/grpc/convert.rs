//! Domain values to and from their proto messages, shared by services, REST and the CLI.

use chrono::{DateTime, Utc};
use prost_types::value::Kind;

use crate::domain::availability::Counts;
use crate::domain::avatar;
use crate::domain::membership::{MembershipView, Role};
use crate::domain::organization::{Location, OrganizationInput, OrganizationView, State};
use crate::domain::owner::OwnerInvitationView;
use crate::domain::quick_action::QuickActionInput;
use crate::domain::trial::TrialStatus;
use crate::entity::quick_action;
use crate::proto::v1 as pb;

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// JSON as a `google.protobuf.Value`.
pub fn json_to_value(v: &serde_json::Value) -> prost_types::Value {
    use serde_json::Value as J;
    let kind = match v {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(*b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        J::String(s) => Kind::StringValue(s.clone()),
        J::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_to_value).collect(),
        }),
        J::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect::<std::collections::BTreeMap<_, _>>(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

pub fn state_to_proto(state: State) -> pb::OrganizationState {
    match state {
        State::Trial => pb::OrganizationState::Trial,
        State::Active => pb::OrganizationState::Active,
        State::Inactive => pb::OrganizationState::Inactive,
    }
}

pub fn state_from_proto(state: pb::OrganizationState) -> Option<State> {
    match state {
        pb::OrganizationState::Unspecified => None,
        pb::OrganizationState::Trial => Some(State::Trial),
        pb::OrganizationState::Active => Some(State::Active),
        pb::OrganizationState::Inactive => Some(State::Inactive),
    }
}

pub fn role_to_proto(role: Role) -> pb::MembershipRole {
    match role {
        Role::Member => pb::MembershipRole::Member,
        Role::Admin => pb::MembershipRole::Admin,
        Role::Owner => pb::MembershipRole::Owner,
    }
}

pub fn role_from_proto(role: pb::MembershipRole) -> Option<Role> {
    match role {
        pb::MembershipRole::Unspecified => None,
        pb::MembershipRole::Member => Some(Role::Member),
        pb::MembershipRole::Admin => Some(Role::Admin),
        pb::MembershipRole::Owner => Some(Role::Owner),
    }
}

/// `links` makes the avatar's capability URL.
pub fn organization(view: &OrganizationView, links: &avatar::Links) -> pb::Organization {
    let m = &view.model;
    pb::Organization {
        id: m.id,
        uuid: m.uuid.to_string(),
        name: m.name.clone(),
        description: m.description.clone(),
        parent_id: m.parent_id,
        owner_ids: view.owner_ids.clone(),
        has_children: view.has_children,
        language: m.language.clone(),
        timezone: m.timezone.clone(),
        enforces_two_factor_auth: m.enforces_two_factor_auth,
        data_retention_period: m.data_retention_period,
        tags: view.tags(),
        state: state_to_proto(view.state(Utc::now())) as i32,
        avatar_url: m
            .avatar_version
            .map(|v| links.avatar_url(m.id, v, crate::surfaces::public_avatar_path)),
        location: Location::of(m).map(|l| location(&l)),
        available_users: Some(counts(view.availability.in_root)),
        available_users_total: Some(counts(view.availability.total)),
        creation_date: Some(timestamp(m.created_at)),
        trial_end_date: m.trial_end_date.map(timestamp),
    }
}

/// The writable fields of a request's organization; the rest are read-only and ignored.
pub fn organization_input(o: pb::Organization) -> OrganizationInput {
    OrganizationInput {
        name: o.name,
        description: o.description,
        parent_id: o.parent_id,
        language: o.language,
        timezone: o.timezone,
        enforces_two_factor_auth: o.enforces_two_factor_auth,
        data_retention_period: o.data_retention_period,
        tags: o.tags,
        location: o.location.map(|l| Location {
            address: l.address,
            latitude: l.latitude,
            longitude: l.longitude,
        }),
    }
}

pub fn membership(view: &MembershipView) -> pb::Membership {
    pb::Membership {
        organization_id: view.membership.organization_id,
        organization_uuid: view.organization_uuid.to_string(),
        user_id: view.user.id,
        user_uuid: view.user.uuid.to_string(),
        email: view.user.email.clone(),
        role: role_to_proto(view.role) as i32,
        created_at: Some(timestamp(view.membership.created_at)),
    }
}

pub fn counts(c: Counts) -> pb::AvailableUsersCount {
    pb::AvailableUsersCount {
        count_available: c.available,
        count_in_event: c.in_event,
        count_not_available: c.not_available,
    }
}

pub fn location(l: &Location) -> pb::OrganizationLocation {
    pb::OrganizationLocation {
        address: l.address.clone(),
        latitude: l.latitude,
        longitude: l.longitude,
    }
}

pub fn invitation(v: &OwnerInvitationView) -> pb::OwnerInvitation {
    pb::OwnerInvitation {
        id: v.invitation.uuid.to_string(),
        email: v.email.clone(),
        organization_id: v.invitation.organization_id,
        user_id: v.invitation.user_id,
        creation_date: Some(timestamp(v.invitation.created_at)),
    }
}

pub fn quick_action(m: &quick_action::Model) -> pb::QuickAction {
    pb::QuickAction {
        id: m.id,
        organization_id: m.organization_id,
        name: m.name.clone(),
        color: m.color.clone(),
        icon: m.icon.clone(),
        one_click: m.one_click,
        resource: m.resource.clone(),
        resource_id: m.resource_id,
    }
}

/// The settable fields; `id` and `organization_id` are the server's.
pub fn quick_action_input(q: pb::QuickAction) -> QuickActionInput {
    QuickActionInput {
        name: q.name,
        color: q.color,
        icon: q.icon,
        one_click: q.one_click,
        resource: q.resource,
        resource_id: q.resource_id,
    }
}

pub fn trial(t: &TrialStatus) -> pb::TrialStatus {
    pb::TrialStatus {
        active: t.active,
        start: t.start.map(timestamp),
        user_id: t.user_id,
    }
}
