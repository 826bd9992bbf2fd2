//! The bounds a client cannot exceed: body sizes (413), URI and header sizes (414, 431),
//! work in progress at once (503 / RESOURCE_EXHAUSTED with retry-after, no queue), lists
//! read whole (refused past a bound, never cut short) and every string and list in a request.

#[path = "../common/mod.rs"]
mod common;

mod list_bounds;
mod load;
mod purge;
mod rate_limits;
mod request_fields;
mod request_sizes;

use common::*;
use orgd::proto::v1::*;
use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncWriteExt;
