//! The one error type of the domain layer, and its one mapping to a gRPC status. The REST
//! dialects read the same status back (code, reason, field violations), so every surface
//! reports a rule broken in the domain the same way.

use sea_orm::DbErr;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The `domain` of every `google.rpc.ErrorInfo` orgd sends.
pub const ERROR_DOMAIN: &str = "orgd";

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
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

fn describe(violations: &[Violation]) -> String {
    let parts: Vec<String> = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect();
    format!("invalid request: {}", parts.join("; "))
}

pub type DomainResult<T> = Result<T, DomainError>;

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
            DomainError::PermissionDenied(_) => "PERMISSION_DENIED",
            DomainError::NotFound(_) => "NOT_FOUND",
            DomainError::Invalid(_) => "INVALID_ARGUMENT",
            DomainError::TooLarge(_) => "PAYLOAD_TOO_LARGE",
            DomainError::Conflict { reason, .. } | DomainError::AlreadyExists { reason, .. } => {
                reason
            }
            DomainError::Database(DbErr::RecordNotUpdated) => "NOT_FOUND",
            DomainError::Database(e) if is_busy(e) => "UNAVAILABLE",
            DomainError::Database(_) => "INTERNAL",
        }
    }

    fn code(&self) -> Code {
        match self {
            DomainError::Unauthenticated => Code::Unauthenticated,
            DomainError::PermissionDenied(_) => Code::PermissionDenied,
            DomainError::NotFound(_) => Code::NotFound,
            DomainError::Invalid(_) | DomainError::TooLarge(_) => Code::InvalidArgument,
            DomainError::Conflict { .. } => Code::FailedPrecondition,
            DomainError::AlreadyExists { .. } => Code::AlreadyExists,
            // The row was read, then deleted by a concurrent request before the UPDATE
            // (PostgreSQL's read committed; SQLite's one writer never interleaves): gone.
            DomainError::Database(DbErr::RecordNotUpdated) => Code::NotFound,
            DomainError::Database(e) if is_busy(e) => Code::Unavailable,
            DomainError::Database(_) => Code::Internal,
        }
    }
}

/// Lock contention and pool exhaustion are transient: the client may retry.
fn is_busy(e: &DbErr) -> bool {
    let text = e.to_string();
    text.contains("database is locked")
        || text.contains("pool timed out")
        || text.contains("PoolTimedOut")
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
                if code == Code::Unavailable {
                    "the database is busy, retry later".to_string()
                } else {
                    "internal error".to_string()
                }
            }
            other => other.to_string(),
        };
        let mut details = ErrorDetails::with_error_info(
            e.reason(),
            ERROR_DOMAIN,
            std::collections::HashMap::new(),
        );
        if let DomainError::Invalid(violations) = &e {
            for v in violations {
                details.add_bad_request_violation(v.field.clone(), v.description.clone());
            }
        }
        tonic::Status::with_error_details(code, message, details)
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
