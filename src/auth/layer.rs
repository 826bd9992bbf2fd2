//! The middleware that resolves the token of every request, gRPC and REST alike.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::{Authn, token_from_headers};
use crate::db::Db;
use crate::domain::token;

pub async fn authenticate(State(db): State<Db>, mut req: Request, next: Next) -> Response {
    let authn = match token_from_headers(req.headers()) {
        None => Authn::Anonymous,
        Some(Err(())) => Authn::Rejected,
        Some(Ok(t)) => match token::resolve(db.read(), t).await {
            Ok(Some(principal)) => Authn::Authenticated(principal),
            Ok(None) => Authn::Rejected,
            Err(e) => {
                tracing::error!(error = %e, "token lookup failed");
                Authn::Unavailable
            }
        },
    };
    req.extensions_mut().insert(authn);
    next.run(req).await
}
