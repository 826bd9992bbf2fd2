//! orgd: organizations, partnerships and partner directories over gRPC, grpc-web and REST.

pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod db;
pub mod domain;
pub mod entity;
pub mod grpc;
pub mod limits;
pub mod memory;
pub mod observability;
pub mod probes;
pub mod proto;
pub mod purge;
pub mod rate_limit;
pub mod server;
pub mod startup;
pub mod surfaces;
pub mod tls;
