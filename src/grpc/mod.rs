//! tonic services: proto ↔ domain conversion only; the rules live in `domain`.

pub mod admission;
pub mod availability;
pub mod billing;
pub mod codec;
pub mod convert;
pub mod event;
pub mod giosg;
/// The framing of a unary gRPC request, checked before tonic reads it (protocol, in the
/// transcoder crate).
pub use orgd_transcode::framing;
pub mod guest;
pub mod invitation;
pub mod membership;
pub mod network;
pub mod oauth;
pub mod organization;
pub mod partner;
pub mod partnership;
pub mod presence;
pub mod watch;

use tonic::{Request, Status};

use crate::auth::{Authn, Principal};
use crate::domain::DomainError;

/// The principal the auth layer resolved for this request.
pub fn principal<T>(req: &Request<T>) -> Result<Principal, Status> {
    match req.extensions().get::<Authn>() {
        Some(authn) => Ok(authn.principal()?.clone()),
        None => Err(DomainError::Unauthenticated.into()),
    }
}

/// The absolute URL of the REST request an RPC serves, from the context the transcoder
/// gives the in-process call (collections build their `next` / `previous` links from it);
/// None on gRPC.
pub fn request_url<T>(req: &Request<T>) -> Option<String> {
    req.extensions()
        .get::<orgd_transcode::RequestContext>()
        .and_then(|c| c.url.clone())
}

/// `scheme://host` of the REST or Connect request an RPC serves, for absolute links
/// (avatarURL); empty over gRPC, whose links stay relative to the server the client called.
/// The one place that reads the request's origin.
pub fn request_origin<T>(req: &Request<T>) -> String {
    req.extensions()
        .get::<orgd_transcode::RequestContext>()
        .and_then(|c| c.origin.clone())
        .unwrap_or_default()
}

/// Prefixes the field paths of violations with the request field that held them.
pub fn within(field: &str, e: DomainError) -> DomainError {
    within_except(field, e, &[])
}

/// As [`within`], leaving alone the violations of the request's own top-level fields
/// (`request_fields`), which the domain names already.
pub fn within_except(field: &str, e: DomainError, request_fields: &[&str]) -> DomainError {
    match e {
        DomainError::Invalid(violations) => DomainError::Invalid(
            violations
                .into_iter()
                .map(|mut v| {
                    if !request_fields.contains(&v.field.as_str()) {
                        v.field = format!("{field}.{}", v.field);
                    }
                    v
                })
                .collect(),
        ),
        other => other,
    }
}
