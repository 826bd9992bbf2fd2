//! The giosg PresenceService: conversion only; rules in `domain::presence`.

use tonic::{Request, Response, Status};

use super::convert::timestamp;
use super::giosg::giosg_user;
use super::principal;
use crate::db::Db;
use crate::domain::presence::{self, StatusInput};
use crate::proto::v1::presence_service_server::PresenceService;
use crate::proto::v1::*;

pub struct Presences {
    pub db: Db,
}

#[tonic::async_trait]
impl PresenceService for Presences {
    async fn register_user_client(
        &self,
        req: Request<RegisterUserClientRequest>,
    ) -> Result<Response<RegisterUserClientResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        let (view, created) = presence::register(
            &self.db,
            &principal,
            &body.organization_id,
            &body.user_id,
            &body.client_id,
            body.expires_in,
        )
        .await?;
        Ok(Response::new(RegisterUserClientResponse {
            client: Some(UserClient {
                id: view.model.client_id.clone(),
                user_id: view.user_uuid.to_string(),
                expires_in: view.expires_in,
                expires_at: Some(timestamp(view.model.expires_at)),
                created_at: Some(timestamp(view.model.created_at)),
            }),
            created,
        }))
    }

    async fn remove_user_client(
        &self,
        req: Request<RemoveUserClientRequest>,
    ) -> Result<Response<RemoveUserClientResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.get_ref();
        presence::remove(
            &self.db,
            &principal,
            &body.organization_id,
            &body.user_id,
            &body.client_id,
        )
        .await?;
        Ok(Response::new(RemoveUserClientResponse {}))
    }

    async fn set_user_status(
        &self,
        req: Request<SetUserStatusRequest>,
    ) -> Result<Response<SetUserStatusResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let view = presence::set_status(
            &self.db,
            &principal,
            &body.user,
            StatusInput {
                current_chat_count: body.current_chat_count,
                online_enabled: body.online_enabled,
                avatar_url: body.avatar_url,
            },
        )
        .await?;
        Ok(Response::new(SetUserStatusResponse {
            user: Some(giosg_user(&view)),
        }))
    }
}
