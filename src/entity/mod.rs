//! SeaORM entities, one module per table of `migrations/`.

pub mod api_token;
pub mod membership;
pub mod organization;
pub mod partnership;
pub mod partnership_invitation;
pub mod user;
pub mod user_client;
