//! The rules of orgd: permissions, validation and transactions, independent of transport.

pub mod access;
pub mod availability;
pub mod avatar;
pub mod error;
pub mod events;
pub mod giosg;
pub mod guest;
pub mod invitation;
pub mod keys;
pub mod membership;
pub mod oauth;
pub mod organization;
pub mod organization_email;
pub mod owner;
pub mod page_number;
pub mod pagination;
pub mod partner_directory;
pub mod partner_search;
pub mod partnership;
pub mod partnership_pages;
pub mod presence;
pub mod quick_action;
pub mod token;
pub mod trial;
pub mod user;
pub mod validate;
pub mod watch;

pub use error::{DomainError, DomainResult};

/// Times are stored and compared in UTC, to the microsecond (PostgreSQL's precision), so a
/// value reads back exactly as it was written on every backend.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}
