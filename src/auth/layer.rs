//! The middleware that resolves the token of every request, gRPC and REST alike.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::cache::TokenCache;
use super::{Authn, Principal, token, token_from_headers};
use crate::db::Db;
use crate::domain;

/// What the middleware needs: the token store and the tokens it resolved lately.
#[derive(Clone, Debug)]
pub struct Authenticator {
    db: Db,
    cache: Arc<TokenCache>,
}

impl Authenticator {
    /// Also drops the cached tokens whenever another instance on the same PostgreSQL
    /// changes tokens, so a deleted token stops working everywhere at once.
    pub fn new(db: Db) -> Authenticator {
        let (hits, misses) = db.metrics().token_cache_counters();
        let cache = Arc::new(TokenCache::counted(hits, misses));
        db.on_notification(
            migration::m0007_token_notify::CHANNEL,
            Arc::downgrade(&cache),
            TokenCache::clear,
        );
        Authenticator { db, cache }
    }

    async fn principal(&self, presented: &str) -> Result<Option<Principal>, sea_orm::DbErr> {
        let hash = token::hash(presented);
        if let Some(principal) = self.cache.get(&hash, Instant::now()) {
            return Ok(Some(principal));
        }
        let fetched = Instant::now();
        Ok(
            match domain::token::resolve_hash(self.db.read(), &hash).await? {
                Some((principal, expires_at)) => {
                    self.cache.put(hash, principal.clone(), expires_at, fetched);
                    Some(principal)
                }
                None => None,
            },
        )
    }
}

pub async fn authenticate(
    State(auth): State<Authenticator>,
    mut req: Request,
    next: Next,
) -> Response {
    let authn = match token_from_headers(req.headers()) {
        None => Authn::Anonymous,
        Some(Err(())) => Authn::Rejected,
        Some(Ok(t)) => match auth.principal(t).await {
            Ok(Some(principal)) => Authn::Authenticated(principal),
            Ok(None) => Authn::Rejected,
            Err(e) => {
                tracing::error!(error = %e, "token lookup failed");
                // An error that is no outage is still not the client's fault.
                Authn::Unavailable(
                    crate::db::Outage::of(&e).unwrap_or(crate::db::Outage::Unreachable),
                )
            }
        },
    };
    req.extensions_mut().insert(authn);
    next.run(req).await
}
