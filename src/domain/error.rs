//! The one error type of the domain layer, and its one mapping to a gRPC status. The REST
//! dialects read the same status back (code, reason, field violations), so every surface
//! reports a rule broken in the domain the same way.

use sea_orm::DbErr;
use tonic::Code;

use crate::db::Outage;
use tonic_types::{ErrorDetails, StatusExt};

/// The `domain` of every `google.rpc.ErrorInfo` orgd sends.
pub const ERROR_DOMAIN: &str = "orgd";

/// The `ErrorInfo.metadata` key of [`DomainError::kind`].
pub const ERROR_KIND: &str = "type";

/// One invalid field. `field` is the proto field path relative to the request message
/// (`organization.name`); the REST layer renders it with the surface's JSON names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub description: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Violation {
        Violation {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("authentication required: send a valid token")]
    Unauthenticated,
    /// OAuth2 client credentials that name no client or the wrong secret (401), answered
    /// in MyCreditApp's published words.
    #[error("The client authentication failed!")]
    ClientAuthentication,
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{}", describe(.0))]
    Invalid(Vec<Violation>),
    /// The request is valid but the current state forbids it (409).
    #[error("{message}")]
    Conflict {
        reason: &'static str,
        message: String,
    },
    /// An upload over its size limit (REST 413).
    #[error("{0}")]
    TooLarge(String),
    /// What the request would create exists already (409).
    #[error("{message}")]
    AlreadyExists {
        reason: &'static str,
        message: String,
    },
    /// The database cannot serve the request now (full, read-only, unreachable, busy): 503.
    #[error("{}", .0.message())]
    Unavailable(Outage),
    /// Too many attempts of this kind from this caller for now (429 / RESOURCE_EXHAUSTED,
    /// with `google.rpc.RetryInfo` and `retry-after`).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("database error: {0}")]
    Database(DbErr),
}

/// Every database error that is an outage becomes [`DomainError::Unavailable`], wherever
/// it was raised, so no operation can turn a full disk or a lost connection into a 500.
impl From<DbErr> for DomainError {
    fn from(e: DbErr) -> DomainError {
        match Outage::of(&e) {
            Some(outage) => {
                tracing::warn!(error = %e, reason = outage.reason(), "database unavailable");
                DomainError::Unavailable(outage)
            }
            None => DomainError::Database(e),
        }
    }
}

fn describe(violations: &[Violation]) -> String {
    let parts: Vec<String> = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect();
    format!("invalid request: {}", parts.join("; "))
}

pub type DomainResult<T> = Result<T, DomainError>;

/// The reason of [`DomainError::TooLarge`]: INVALID_ARGUMENT to gRPC, and the one reason the
/// REST surfaces answer with 413 (`surfaces::host`), as the transcoder's own body limit is.
pub const TOO_LARGE_REASON: &str = "PAYLOAD_TOO_LARGE";

impl DomainError {
    pub fn permission_denied() -> DomainError {
        DomainError::PermissionDenied("you are not allowed to do this".into())
    }

    pub fn invalid(field: &str, description: impl Into<String>) -> DomainError {
        DomainError::Invalid(vec![Violation::new(field, description)])
    }

    /// The stable reason code clients may match on (`ErrorInfo.reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            DomainError::Unauthenticated => "UNAUTHENTICATED",
            DomainError::ClientAuthentication => "oauth_invalid_client_credentials",
            DomainError::PermissionDenied(_) => "PERMISSION_DENIED",
            DomainError::NotFound(_) => "NOT_FOUND",
            DomainError::Invalid(_) => "INVALID_ARGUMENT",
            DomainError::TooLarge(_) => TOO_LARGE_REASON,
            DomainError::Conflict { reason, .. } | DomainError::AlreadyExists { reason, .. } => {
                reason
            }
            DomainError::Database(DbErr::RecordNotUpdated) => "NOT_FOUND",
            DomainError::Unavailable(outage) => outage.reason(),
            DomainError::RateLimited { .. } => "RATE_LIMITED",
            DomainError::Database(_) => "INTERNAL",
        }
    }

    fn code(&self) -> Code {
        match self {
            DomainError::Unauthenticated | DomainError::ClientAuthentication => {
                Code::Unauthenticated
            }
            DomainError::PermissionDenied(_) => Code::PermissionDenied,
            DomainError::NotFound(_) => Code::NotFound,
            DomainError::Invalid(_) | DomainError::TooLarge(_) => Code::InvalidArgument,
            DomainError::Conflict { .. } => Code::FailedPrecondition,
            DomainError::AlreadyExists { .. } => Code::AlreadyExists,
            // The row was read, then deleted by a concurrent request before the UPDATE
            // (PostgreSQL's read committed; SQLite's one writer never interleaves): gone.
            DomainError::Database(DbErr::RecordNotUpdated) => Code::NotFound,
            DomainError::Unavailable(_) => Code::Unavailable,
            DomainError::RateLimited { .. } => Code::ResourceExhausted,
            DomainError::Database(_) => Code::Internal,
        }
    }
}

impl DomainError {
    /// The error's family, where a published API names one (`ErrorInfo.metadata["type"]`,
    /// MyCreditApp's `type`); else the REST dialect derives it from the reason.
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            DomainError::ClientAuthentication => Some("oauth"),
            _ => None,
        }
    }

    /// When a client refused for now may try again (429 and 503 say so).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            DomainError::RateLimited { retry_after, .. } => Some(*retry_after),
            DomainError::Unavailable(outage) => Some(outage.retry_after()),
            _ => None,
        }
    }
}

impl From<DomainError> for tonic::Status {
    fn from(e: DomainError) -> tonic::Status {
        let code = e.code();
        let message = match &e {
            DomainError::Database(DbErr::RecordNotUpdated) => {
                "it was deleted while the request ran".to_string()
            }
            DomainError::Database(db) => {
                tracing::error!(error = %db, "database error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let metadata: std::collections::HashMap<String, String> = e
            .kind()
            .map(|kind| (ERROR_KIND.to_string(), kind.to_string()))
            .into_iter()
            .collect();
        let mut details = ErrorDetails::with_error_info(e.reason(), ERROR_DOMAIN, metadata);
        if let DomainError::Invalid(violations) = &e {
            for v in violations {
                details.add_bad_request_violation(v.field.clone(), v.description.clone());
            }
        }
        let retry_after = e.retry_after();
        if retry_after.is_some() {
            details.set_retry_info(retry_after);
        }
        let mut status = tonic::Status::with_error_details(code, message, details);
        if let Some(wait) = retry_after {
            let secs = crate::rate_limit::retry_after_secs(wait);
            status
                .metadata_mut()
                .insert("retry-after", secs.to_string().parse().expect("digits"));
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row deleted between the read and the UPDATE of a write (seen as a 500 on
    /// PostgreSQL under schemathesis: DELETE .../location racing DELETE of the organization)
    /// is not found, not a server error.
    #[test]
    fn a_row_deleted_under_an_update_is_not_found() {
        let status = tonic::Status::from(DomainError::Database(DbErr::RecordNotUpdated));
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(
            DomainError::Database(DbErr::RecordNotUpdated).reason(),
            "NOT_FOUND"
        );
    }
}
