//! The change log's two services (giosg's EventService, GroupAlarm's
//! OrganizationEventService): conversion only; the rules are in `domain::events`
//! (ListEvents) and `domain::watch` (WatchEvents).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};

use super::convert::{json_to_value, timestamp};
use super::principal;
use super::watch::{self, Stream};
use crate::db::Db;
use crate::domain::DomainError;
use crate::domain::events::Event as DomainEvent;
use crate::domain::events::log::{self, ListRequest};
use crate::domain::giosg::OrganizationRef;
use crate::domain::watch::{Filter, Hub, Item};
use crate::proto::v1::event_service_server::EventService;
use crate::proto::v1::organization_event_service_server::OrganizationEventService;
use crate::proto::v1::*;

pub struct Events {
    pub db: Db,
    pub hub: Arc<Hub>,
}

/// An event as both surfaces show it.
pub fn event(e: &DomainEvent) -> Event {
    Event {
        position: e.position,
        r#type: e.kind.clone(),
        organization_ids: e.organization_ids.clone(),
        organization_uuids: e.organization_uuids.iter().map(|u| u.to_string()).collect(),
        resource_id: e.resource_id.clone(),
        state: match json_to_value(&e.state).kind {
            Some(prost_types::value::Kind::StructValue(s)) => Some(s),
            _ => None,
        },
        actor: e.actor.clone(),
        request_id: e.request_id.clone(),
        time: Some(timestamp(e.time)),
    }
}

/// A Timestamp outside what chrono represents is refused as a bad value of `field`.
fn time(field: &str, t: Option<prost_types::Timestamp>) -> Result<Option<DateTime<Utc>>, Status> {
    match t {
        None => Ok(None),
        Some(t) => DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32)
            .map(Some)
            .ok_or_else(|| DomainError::invalid(field, "must be a valid date and time").into()),
    }
}

struct Query {
    cursor: Option<String>,
    page_size: Option<i32>,
    types: Vec<String>,
    actor: Option<String>,
    start_time: Option<prost_types::Timestamp>,
    end_time: Option<prost_types::Timestamp>,
}

async fn list(
    db: &Db,
    principal: &crate::auth::Principal,
    organization: OrganizationRef<'_>,
    q: Query,
) -> Result<log::LogPage, Status> {
    let request = ListRequest {
        cursor: q.cursor,
        page_size: q.page_size,
        types: q.types,
        actor: q.actor,
        since: time("start_time", q.start_time)?,
        until: time("end_time", q.end_time)?,
    };
    Ok(log::list(db, principal, organization, request).await?)
}

#[tonic::async_trait]
impl EventService for Events {
    async fn list_events(
        &self,
        req: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let page = list(
            &self.db,
            &principal,
            OrganizationRef::Uuid(&body.organization_id),
            Query {
                cursor: body.cursor,
                page_size: body.page_size,
                types: body.types,
                actor: body.actor,
                start_time: body.start_time,
                end_time: body.end_time,
            },
        )
        .await?;
        Ok(Response::new(ListEventsResponse {
            next: page.next,
            results: page.events.iter().map(event).collect(),
        }))
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
                Item::Event(e) => watch_events_response::Kind::Event(event(&e)),
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
        req: Request<ListOrganizationEventsRequest>,
    ) -> Result<Response<ListOrganizationEventsResponse>, Status> {
        let principal = principal(&req)?;
        let body = req.into_inner();
        let page = list(
            &self.db,
            &principal,
            OrganizationRef::Id(body.organization_id),
            Query {
                cursor: body.cursor,
                page_size: body.page_size,
                types: body.types,
                actor: body.actor,
                start_time: body.start_time,
                end_time: body.end_time,
            },
        )
        .await?;
        Ok(Response::new(ListOrganizationEventsResponse {
            next: page.next,
            events: page.events.iter().map(event).collect(),
        }))
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
                    Item::Event(e) => watch_organization_events_response::Kind::Event(event(&e)),
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
