//! Every schema change of orgd, applied in order at start-up and by `orgd migrate`.

pub use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_groupalarm;
mod m0003_giosg;
mod m0004_partner_directory;
mod m0005_partner_search;
mod m0006_pending_invitation_unique;
pub mod m0007_token_notify;
mod m0008_guest_connections;
mod m0009_giosg_network;
pub mod m0010_server_keys;
mod m0011_change_log;
mod m0012_change_log_lean;
mod m0013_partner_order;
mod m0014_partner_totals;
mod sql;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_groupalarm::Migration),
            Box::new(m0003_giosg::Migration),
            Box::new(m0004_partner_directory::Migration),
            Box::new(m0005_partner_search::Migration),
            Box::new(m0006_pending_invitation_unique::Migration),
            Box::new(m0007_token_notify::Migration),
            Box::new(m0008_guest_connections::Migration),
            Box::new(m0009_giosg_network::Migration),
            Box::new(m0010_server_keys::Migration),
            Box::new(m0011_change_log::Migration),
            Box::new(m0012_change_log_lean::MIGRATION),
            Box::new(m0013_partner_order::MIGRATION),
            Box::new(m0014_partner_totals::MIGRATION),
        ]
    }
}
