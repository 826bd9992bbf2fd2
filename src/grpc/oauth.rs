//! MyCreditApp's OAuth2 token endpoint: conversion only; the rules live in `domain::oauth`.

use tonic::{Request, Response, Status};

use crate::db::Db;
use crate::domain::oauth;
use crate::proto::v1::o_auth_service_server::OAuthService;
use crate::proto::v1::*;

pub struct OAuth {
    pub db: Db,
    /// Failed attempts so far, per client id and peer.
    pub throttle: std::sync::Arc<oauth::Throttle>,
}

#[tonic::async_trait]
impl OAuthService for OAuth {
    async fn create_token(
        &self,
        req: Request<CreateTokenRequest>,
    ) -> Result<Response<CreateTokenResponse>, Status> {
        let peer = crate::limits::peer_ip(req.extensions());
        let r = req.get_ref();
        let (access_token, expires_in) = oauth::token(
            &self.db,
            &self.throttle,
            peer,
            &r.client_id,
            &r.client_secret,
            &r.grant_type,
        )
        .await?;
        Ok(Response::new(CreateTokenResponse {
            access_token,
            expires_in,
            token_type: "bearer".into(),
        }))
    }
}
