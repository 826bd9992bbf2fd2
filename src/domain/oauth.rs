//! OAuth2 client credentials: operators create clients for an organization; a client trades
//! its id and secret for a short-lived bearer token acting for that organization. Failed
//! attempts are throttled per client and per peer address, so secrets cannot be guessed at
//! the speed of the server.

use std::net::IpAddr;

use chrono::Duration;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use subtle::ConstantTimeEq;

use super::error::{DomainError, DomainResult};
use super::token;
use super::validate::{Violations, rule};
use crate::auth::{Principal, token as secrets};
use crate::db::Db;
use crate::entity::oauth_client;
use crate::rate_limit::{Limiter, Rate, retry_after_secs};

/// Lifetime of an access token, in seconds.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;

/// (client_id, client_secret); the secret is shown once and stored hashed.
pub async fn create_client(
    conn: &impl ConnectionTrait,
    organization_id: i64,
) -> DomainResult<(String, String)> {
    let client_id = uuid::Uuid::new_v4().to_string();
    let secret = secrets::generate_client_secret();
    oauth_client::ActiveModel {
        client_id: Set(client_id.clone()),
        secret_hash: Set(secrets::hash(&secret)),
        organization_id: Set(organization_id),
        created_at: Set(super::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok((client_id, secret))
}

/// Failed attempts for one existing client id: 10 at once, then 10 a minute.
pub const DEFAULT_FAILURES_PER_CLIENT: Rate = Rate::new(10, 10);
/// Failed attempts from one peer address (an IPv6 /64), whatever the client id: 30 at
/// once, then 30 a minute.
pub const DEFAULT_FAILURES_PER_PEER: Rate = Rate::new(30, 30);

/// What failed attempts have spent, per existing client id and per peer. Unknown client
/// ids count against their peer only, so made-up ids cannot grow the table.
#[derive(Debug)]
pub struct Throttle {
    per_client: Limiter<String>,
    per_peer: Limiter<IpAddr>,
}

impl Throttle {
    pub fn new(per_client: Rate, per_peer: Rate) -> Throttle {
        Throttle {
            per_client: Limiter::new(per_client),
            per_peer: Limiter::new(per_peer),
        }
    }

    fn refuse_if_spent(&self, client_id: &str, peer: Option<IpAddr>) -> DomainResult<()> {
        let peer_wait = peer.map(|p| self.per_peer.check(&p)).and_then(Result::err);
        let client_wait = self.per_client.check(&client_id.to_string()).err();
        match peer_wait.max(client_wait) {
            None => Ok(()),
            Some(retry_after) => Err(DomainError::RateLimited {
                message: format!(
                    "too many failed attempts; retry in {} s",
                    retry_after_secs(retry_after)
                ),
                retry_after,
            }),
        }
    }

    fn failed(&self, client_id: Option<&str>, peer: Option<IpAddr>) {
        if let Some(peer) = peer {
            let _ = self.per_peer.take(&peer);
        }
        if let Some(id) = client_id {
            let _ = self.per_client.take(&id.to_string());
        }
    }
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new(DEFAULT_FAILURES_PER_CLIENT, DEFAULT_FAILURES_PER_PEER)
    }
}

/// The key a peer is throttled by: its IPv4 address, or the /64 an IPv6 host gets.
pub fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
        v4 => v4,
    }
}

/// (access token, lifetime in seconds). `peer` is the caller's address, when known.
pub async fn token(
    db: &Db,
    throttle: &Throttle,
    peer: Option<IpAddr>,
    client_id: &str,
    client_secret: &str,
    grant_type: &str,
) -> DomainResult<(String, i64)> {
    let mut v = Violations::default();
    if !grant_type.is_empty() && grant_type != "client_credentials" {
        v.add("grant_type", "only client_credentials is supported");
    }
    v.text(
        "client_id",
        rule("orgd.v1.CreateTokenRequest.client_id"),
        client_id,
    );
    v.text(
        "client_secret",
        rule("orgd.v1.CreateTokenRequest.client_secret"),
        client_secret,
    );
    v.into_result()?;
    let client_id = client_id.trim();
    let peer = peer.map(peer_key);
    // Refused before the secret is looked at: a spent budget is no oracle.
    throttle.refuse_if_spent(client_id, peer)?;
    let txn = db.begin_write().await?;
    let client = oauth_client::Entity::find()
        .filter(oauth_client::Column::ClientId.eq(client_id))
        .one(&txn)
        .await?;
    // Compared in constant time; an unknown client costs the same hash as a known one.
    let presented = secrets::hash(client_secret);
    let valid = client
        .as_ref()
        .is_some_and(|c| bool::from(c.secret_hash.as_bytes().ct_eq(presented.as_bytes())));
    let known = client.is_some();
    let Some(client) = client.filter(|_| valid) else {
        throttle.failed(known.then_some(client_id), peer);
        return Err(DomainError::ClientAuthentication);
    };
    let expires_at = super::now() + Duration::seconds(TOKEN_LIFETIME_SECS);
    let access_token = token::issue(
        &txn,
        &Principal::Organization {
            organization_id: client.organization_id,
        },
        Some(expires_at),
    )
    .await?;
    txn.commit().await?;
    Ok((access_token, TOKEN_LIFETIME_SECS))
}
