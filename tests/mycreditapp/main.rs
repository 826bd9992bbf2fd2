//! The MyCreditApp partner directory (`/v1`) against a real server: every list filter and
//! order field, pagination, the 422 rules of each parameter with their `loc`, the
//! requester/target rules across organizations connected as host and guest, the
//! invitation flow, CRUD status codes, the OAuth2 token endpoint, the gRPC service, and
//! `search_text` with its trigram indexes.
//! Each test runs on SQLite and (when configured) PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod beta_alias;
mod crud;
mod field_limits;
mod grpc;
mod guests;
mod invitations;
mod listing;
mod oauth;
mod pagination;
mod requester_and_target;
mod search;
mod validation;

use std::collections::{BTreeSet, HashSet};

use common::mycreditapp::*;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

use orgd::proto::v1 as pb;
use orgd::proto::v1::organization_partner_service_client::OrganizationPartnerServiceClient;

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect()
}

fn id_set(items: &[Value]) -> BTreeSet<String> {
    ids(items).into_iter().collect()
}

fn sid(p: &Value) -> String {
    p["id"].as_str().expect("partner id").to_string()
}

/// A minimal valid create body.
fn body(name: &str, kind: &str, email: &str) -> Value {
    json!({"company_name": name, "partner_type": kind, "email": email})
}

/// Every page of `query` (without limit/offset) with page size `limit`.
async fn all_pages(ctx: &Ctx<'_>, query: &str, limit: usize) -> (Vec<Value>, i64) {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut total = None;
    loop {
        let (items, t) = ctx
            .list_ok(&format!("{query}&limit={limit}&offset={offset}"))
            .await;
        if let Some(prev) = total {
            assert_eq!(prev, t, "total_items is the same on every page of {query}");
        }
        total = Some(t);
        assert!(items.len() <= limit, "a page holds at most limit items");
        let n = items.len();
        out.extend(items);
        if n < limit {
            break;
        }
        offset += limit;
        assert!(offset <= 1000, "runaway pagination");
    }
    (out, total.unwrap())
}

const BOTH: &str = "partner_types=customer&partner_types=supplier";
