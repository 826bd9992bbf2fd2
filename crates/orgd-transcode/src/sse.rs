//! A `google.api.http` binding on a server-streaming RPC, served as Server-Sent Events
//! (`text/event-stream`): each message is one event whose `data:` is the JSON the surface
//! writes, its `id:` the value of the field the app names ([`crate::Annotations::stream_id`]),
//! a heartbeat message (the field [`crate::Annotations::stream_heartbeat`] names is set) a
//! comment line, and a failed RPC a last `event: error` carrying the surface's error body.
//! Each message is written as it comes, never buffered; a client that goes away drops the
//! body, which drops the in-process call and so cancels the RPC.
//!
//! A failure before the first message (refused, invalid) is answered as a plain error
//! response with its status, as any other binding's: a client learns it from the status
//! line, not from inside a 200 stream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderValue, StatusCode, header};
use http_body::Frame;
use prost_reflect::{DynamicMessage, FieldDescriptor, MessageDescriptor, Value};

use crate::json::{self, FieldNaming};

/// What the app's annotations say of one server-streaming method.
#[derive(Clone, Debug, Default)]
pub struct StreamSpec {
    /// Field path of each message whose value is its event's `id:` (it may run through a
    /// oneof member: `event.position`); empty when the events have no id.
    pub id: Vec<FieldDescriptor>,
    /// A field whose presence makes a message a heartbeat, written as a comment.
    pub heartbeat: Option<FieldDescriptor>,
}

/// The error body of a failed RPC, in the binding's surface.
pub type ErrorJson = Box<dyn Fn(&tonic::Status) -> Vec<u8> + Send + Sync>;

/// The SSE response of the RPC's (already successful) response head and body.
pub fn respond(
    head: http::response::Parts,
    inner: Body,
    output: MessageDescriptor,
    naming: FieldNaming,
    spec: StreamSpec,
    error_json: ErrorJson,
) -> Response {
    let events = Events {
        inner,
        head: head.headers,
        output,
        naming,
        spec: Arc::new(spec),
        error_json,
        buffer: BytesMut::new(),
        done: false,
    };
    let mut response = Response::new(Body::new(events));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies that buffer (nginx) pass each event on at once.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

struct Events {
    inner: Body,
    /// The response head, whose status a trailers-only answer carries.
    head: http::HeaderMap,
    output: MessageDescriptor,
    naming: FieldNaming,
    spec: Arc<StreamSpec>,
    error_json: ErrorJson,
    /// The part of a gRPC frame that has come so far.
    buffer: BytesMut,
    done: bool,
}

impl Events {
    /// The events of the whole frames buffered so far.
    fn events(&mut self) -> Result<Bytes, tonic::Status> {
        let mut out = Vec::new();
        while let Some(header) = self.buffer.get(..5) {
            if header[0] != 0 {
                return Err(tonic::Status::internal(
                    "the RPC compressed a message it was not asked to",
                ));
            }
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            if self.buffer.len() < 5 + len {
                break;
            }
            self.buffer.advance(5);
            let payload = self.buffer.split_to(len).freeze();
            let message = DynamicMessage::decode(self.output.clone(), payload)
                .map_err(|_| tonic::Status::internal("undecodable RPC response"))?;
            self.write_event(&message, &mut out);
        }
        Ok(out.into())
    }

    fn write_event(&self, message: &DynamicMessage, out: &mut Vec<u8>) {
        if let Some(beat) = &self.spec.heartbeat
            && message.has_field(beat)
        {
            out.extend_from_slice(b": keep-alive\n\n");
            return;
        }
        if let Some(id) = event_id(message, &self.spec.id) {
            out.extend_from_slice(b"id: ");
            out.extend_from_slice(id.as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"data: ");
        // The JSON writer escapes control characters, so the data is one line.
        json::encode_message(message, self.naming, out);
        out.extend_from_slice(b"\n\n");
    }

    fn end(&mut self, trailers: &http::HeaderMap) -> Option<Frame<Bytes>> {
        self.done = true;
        let status = tonic::Status::from_header_map(trailers)
            .or_else(|| tonic::Status::from_header_map(&self.head))
            .unwrap_or_else(|| tonic::Status::internal("the RPC ended without a status"));
        (status.code() != tonic::Code::Ok).then(|| self.error_event(&status))
    }

    fn error_event(&mut self, status: &tonic::Status) -> Frame<Bytes> {
        self.done = true;
        let mut out = b"event: error\ndata: ".to_vec();
        out.extend_from_slice(&(self.error_json)(status));
        out.extend_from_slice(b"\n\n");
        Frame::data(out.into())
    }
}

/// The text of the `id` field path's value, when every message on the way is set.
fn event_id(message: &DynamicMessage, path: &[FieldDescriptor]) -> Option<String> {
    let (last, through) = path.split_last()?;
    let mut current = message.clone();
    for field in through {
        if !current.has_field(field) {
            return None;
        }
        current = current.get_field(field).as_message()?.clone();
    }
    if last.supports_presence() && !current.has_field(last) {
        return None;
    }
    match &*current.get_field(last) {
        Value::I32(v) => Some(v.to_string()),
        Value::I64(v) => Some(v.to_string()),
        Value::U32(v) => Some(v.to_string()),
        Value::U64(v) => Some(v.to_string()),
        // An id is one line (the SSE spec ends it at a line break).
        Value::String(s) if !s.contains(['\n', '\r', '\0']) => Some(s.clone()),
        _ => None,
    }
}

impl http_body::Body for Events {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(this.end(&http::HeaderMap::new()).map(Ok)),
                Poll::Ready(Some(Err(e))) => {
                    let status = tonic::Status::internal(format!("the RPC failed: {e}"));
                    return Poll::Ready(Some(Ok(this.error_event(&status))));
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => {
                    this.buffer.extend_from_slice(&data);
                    match this.events() {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => return Poll::Ready(Some(Ok(Frame::data(out)))),
                        Err(status) => return Poll::Ready(Some(Ok(this.error_event(&status)))),
                    }
                }
                Err(frame) => {
                    let trailers = frame.into_trailers().unwrap_or_default();
                    return Poll::Ready(this.end(&trailers).map(Ok));
                }
            }
        }
    }
}
