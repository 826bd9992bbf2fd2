//! People: created by operators, identified by an int64 id, a UUID and a unique email.

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use super::error::{DomainError, DomainResult};
use super::keys::UserKey;
use super::validate::{EMAIL_MAX_CHARS, NAME_MAX_CHARS, Violations, is_email};
use crate::entity::user;

pub async fn create(
    conn: &impl ConnectionTrait,
    email: &str,
    full_name: &str,
) -> DomainResult<user::Model> {
    let email = email.trim().to_lowercase();
    let mut v = Violations::default();
    if !is_email(&email) {
        v.add("email", "must be a valid email address");
    }
    v.max_chars("email", &email, EMAIL_MAX_CHARS);
    v.required_text("full_name", full_name, NAME_MAX_CHARS);
    v.into_result()?;
    if UserKey::Email(email.clone()).find(conn).await?.is_some() {
        return Err(email_taken(&email));
    }
    let inserted = user::ActiveModel {
        uuid: Set(uuid::Uuid::new_v4()),
        email: Set(email.clone()),
        full_name: Set(full_name.trim().to_string()),
        created_at: Set(super::now()),
        ..Default::default()
    }
    .insert(conn)
    .await;
    // A concurrent create of the same email loses on the unique index.
    match inserted {
        Ok(model) => Ok(model),
        Err(e) if super::organization::is_unique_violation(&e) => Err(email_taken(&email)),
        Err(e) => Err(e.into()),
    }
}

fn email_taken(email: &str) -> DomainError {
    DomainError::AlreadyExists {
        reason: "EMAIL_TAKEN",
        message: format!("a user with email {email} exists already"),
    }
}
