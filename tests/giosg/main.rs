//! The giosg Partnerships API (`/api/v5`) against a real server, over REST (`Authorization:
//! Token`) and gRPC: invitations, partnerships on both sides, partners and their users, your
//! own organization and users, presence, cursor pagination, every listed status code, and
//! concurrent accepts. Each test runs on SQLite and (when configured) PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod grpc;
mod invitations;
mod own_organization;
mod pagination;
mod partnerships;
mod presence;
mod status_codes;
mod v3;
mod v3_invitation_rules;
mod v3_invitations;
mod v3_partnerships;

use std::collections::HashSet;

use common::giosg::*;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

use orgd::proto::v1 as pb;
use orgd::proto::v1::partnership_invitation_service_client::PartnershipInvitationServiceClient;
use orgd::proto::v1::partnership_service_client::PartnershipServiceClient;
use orgd::proto::v1::presence_service_client::PresenceServiceClient;

#[track_caller]
fn assert_keys(v: &Value, keys: &[&str]) {
    let obj = v.as_object().unwrap_or_else(|| panic!("object: {v}"));
    let mut have: Vec<&str> = obj.keys().map(String::as_str).collect();
    have.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(have, want, "keys of {v}");
}

const ORG_KEYS: &[&str] = &[
    "id",
    "name",
    "email",
    "created_at",
    "is_present",
    "is_online",
];

const USER_KEYS: &[&str] = &[
    "id",
    "full_name",
    "email",
    "current_chat_count",
    "avatar_id",
    "avatar",
    "created_at",
    "is_present",
    "is_online",
];

fn ids(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {page}"))
        .iter()
        .map(|r| {
            r.get("id")
                .or_else(|| r.get("partner_organization_id"))
                .and_then(Value::as_str)
                .expect("id")
                .to_string()
        })
        .collect()
}
