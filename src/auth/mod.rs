//! Who is calling: a token from any of the accepted header forms, resolved once per request
//! into a [`Principal`] that the domain layer checks.

pub mod cache;
pub mod layer;
pub mod token;

use http::HeaderMap;

use crate::domain::error::{DomainError, DomainResult};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A person, by a personal access token (`Personal-Access-Token`, `Authorization`).
    User { user_id: i64 },
    /// A GroupAlarm `API-TOKEN`: acts within one organization and its descendants.
    Organization { organization_id: i64 },
    /// An internal service: the internal RPCs for any organization, nothing user-centred.
    Service { name: String },
}

impl Principal {
    /// 0, 1 or 2 by kind, for tables of what differs by kind only.
    pub fn kind_index(&self) -> usize {
        match self {
            Principal::User { .. } => 0,
            Principal::Organization { .. } => 1,
            Principal::Service { .. } => 2,
        }
    }
}

/// What the auth layer found; a request extension on every request.
#[derive(Clone, Debug)]
pub enum Authn {
    Anonymous,
    /// A token was sent but is malformed, unknown or expired.
    Rejected,
    /// The token store could not be asked.
    Unavailable(crate::db::Outage),
    Authenticated(Principal),
}

impl Authn {
    pub fn principal(&self) -> DomainResult<&Principal> {
        match self {
            Authn::Authenticated(p) => Ok(p),
            Authn::Anonymous | Authn::Rejected => Err(DomainError::Unauthenticated),
            Authn::Unavailable(outage) => Err(DomainError::Unavailable(*outage)),
        }
    }
}

/// The token of a request, from the first header form present:
/// `Authorization: Token <t>` (giosg), `Authorization: Bearer <t>` (MyCreditApp, gRPC),
/// `Personal-Access-Token: <t>` and `API-TOKEN: <t>` (GroupAlarm).
/// `Some(Err(()))` when a header is present but unusable.
pub fn token_from_headers(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let parsed = value.to_str().ok().and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            let token = token.trim();
            let known =
                scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
            (known && !token.is_empty()).then_some(token)
        });
        return Some(parsed.ok_or(()));
    }
    for name in ["personal-access-token", "api-token"] {
        if let Some(value) = headers.get(name) {
            let token = value.to_str().map(str::trim).ok().filter(|t| !t.is_empty());
            return Some(token.ok_or(()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn every_header_form() {
        assert_eq!(
            token_from_headers(&headers(&[("authorization", "Token abc")])),
            Some(Ok("abc"))
        );
        assert_eq!(
            token_from_headers(&headers(&[("authorization", "bearer abc")])),
            Some(Ok("abc"))
        );
        assert_eq!(
            token_from_headers(&headers(&[("personal-access-token", "abc")])),
            Some(Ok("abc"))
        );
        assert_eq!(
            token_from_headers(&headers(&[("api-token", "abc")])),
            Some(Ok("abc"))
        );
        assert_eq!(
            token_from_headers(&headers(&[("authorization", "Basic abc")])),
            Some(Err(()))
        );
        assert_eq!(
            token_from_headers(&headers(&[("authorization", "Bearer ")])),
            Some(Err(()))
        );
        assert_eq!(token_from_headers(&headers(&[])), None);
    }
}
