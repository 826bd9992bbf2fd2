//! The change log's two services (giosg's EventService, GroupAlarm's
//! OrganizationEventService): ListEvents (branch `events`) and WatchEvents (`watch`).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::watch::{self, Stream};
use crate::db::Db;
use crate::domain::watch::{Filter, Hub, Item};
use crate::proto::v1::event_service_server::EventService;
use crate::proto::v1::organization_event_service_server::OrganizationEventService;
use crate::proto::v1::*;

pub struct Events {
    pub db: Db,
    pub hub: Arc<Hub>,
}

#[tonic::async_trait]
impl EventService for Events {
    async fn list_events(
        &self,
        _req: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsResponse>, Status> {
        Err(Status::unimplemented(
            "ListEvents comes with the events branch",
        ))
    }

    type WatchEventsStream = Stream<WatchEventsResponse>;

    async fn watch_events(
        &self,
        req: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let body = req.get_ref();
        // An unknown or malformed UUID is refused as no access (permission first).
        let organization_id = watch::organization_by_uuid(&self.db, &body.organization_id)
            .await?
            .unwrap_or(0);
        let filter = Filter {
            organization_id,
            include_subtree: body.include_subtree,
            types: body.types.clone(),
            after: body.after_position,
        };
        watch::watch(&self.hub, &req, filter, |item| WatchEventsResponse {
            kind: Some(match item {
                Item::Event(e) => watch_events_response::Kind::Event(watch::event(&e)),
                Item::Heartbeat { position } => {
                    watch_events_response::Kind::Heartbeat(watch::heartbeat(position))
                }
            }),
        })
        .await
    }
}

#[tonic::async_trait]
impl OrganizationEventService for Events {
    async fn list_organization_events(
        &self,
        _req: Request<ListOrganizationEventsRequest>,
    ) -> Result<Response<ListOrganizationEventsResponse>, Status> {
        Err(Status::unimplemented(
            "ListEvents comes with the events branch",
        ))
    }

    type WatchOrganizationEventsStream = Stream<WatchOrganizationEventsResponse>;

    async fn watch_organization_events(
        &self,
        req: Request<WatchOrganizationEventsRequest>,
    ) -> Result<Response<Self::WatchOrganizationEventsStream>, Status> {
        let body = req.get_ref();
        let filter = Filter {
            organization_id: body.organization_id,
            include_subtree: body.include_subtree,
            types: body.types.clone(),
            after: body.after_position,
        };
        watch::watch(&self.hub, &req, filter, |item| {
            WatchOrganizationEventsResponse {
                kind: Some(match item {
                    Item::Event(e) => {
                        watch_organization_events_response::Kind::Event(watch::event(&e))
                    }
                    Item::Heartbeat { position } => {
                        watch_organization_events_response::Kind::Heartbeat(watch::heartbeat(
                            position,
                        ))
                    }
                }),
            }
        })
        .await
    }
}
