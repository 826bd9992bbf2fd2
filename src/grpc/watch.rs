//! WatchEvents on both surfaces: the request as a `domain::watch::Filter`, the hub's items
//! as response messages, its end as a status. The rules are in `domain::watch`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::convert::timestamp;
use super::principal;
use crate::domain::DomainError;
use crate::domain::watch::{End, Filter, Hub, Item};
use crate::proto::v1::Heartbeat;

/// The ErrorInfo reason of a stream ended by its full buffer; metadata `last_position`.
pub const OVERFLOW_REASON: &str = "WATCH_BUFFER_OVERFLOW";

/// A watch as a response stream of `T`.
pub struct Stream<T> {
    rx: mpsc::Receiver<Result<Item, End>>,
    make: fn(Item) -> T,
}

impl<T> tonic::codegen::tokio_stream::Stream for Stream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let make = self.make;
        self.rx.poll_recv(cx).map(|item| {
            item.map(|r| match r {
                Ok(item) => Ok(make(item)),
                Err(end) => Err(end_status(end)),
            })
        })
    }
}

pub async fn watch<T, R>(
    hub: &Arc<Hub>,
    req: &Request<R>,
    filter: Filter,
    make: fn(Item) -> T,
) -> Result<Response<Stream<T>>, Status> {
    let principal = principal(req)?;
    let rx = hub.watch(&principal, filter).await?;
    Ok(Response::new(Stream { rx, make }))
}

fn end_status(end: End) -> Status {
    match end {
        End::Overflow { last_position } => Status::with_error_details(
            tonic::Code::ResourceExhausted,
            format!(
                "the stream fell behind and its buffer is full; resume after position \
                 {last_position}"
            ),
            ErrorDetails::with_error_info(
                OVERFLOW_REASON,
                "orgd",
                [("last_position".to_string(), last_position.to_string())],
            ),
        ),
        End::Denied(e) | End::Failed(e) => Status::from(e),
    }
}

pub fn heartbeat(position: i64) -> Heartbeat {
    Heartbeat {
        position,
        time: Some(timestamp(chrono::Utc::now())),
    }
}

/// A giosg organization UUID as its id; None when it names none (refused as no access).
pub async fn organization_by_uuid(
    db: &crate::db::Db,
    uuid: &str,
) -> Result<Option<i64>, DomainError> {
    Ok(crate::domain::giosg::find_organization(db.read(), uuid)
        .await?
        .map(|o| o.id))
}
