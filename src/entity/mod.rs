//! SeaORM entities, one module per table of `migrations/`.

pub mod api_token;
pub mod availability_sample;
pub mod event;
pub mod event_organization;
pub mod guest_connection;
pub mod guest_invitation;
pub mod membership;
pub mod oauth_client;
pub mod organization;
pub mod organization_avatar;
pub mod organization_partner;
pub mod owner_invitation;
pub mod partnership;
pub mod partnership_invitation;
pub mod quick_action;
pub mod user;
pub mod user_availability;
pub mod user_client;
