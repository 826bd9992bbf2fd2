//! SeaORM entities, one module per table of `migrations/`.

pub mod api_token;
pub mod membership;
pub mod organization;
pub mod user;
