//! A streaming Connect call (`application/connect+json|proto`): messages in envelopes (a
//! flags byte, a 4-byte length, the message), which are gRPC's frames with one flag more:
//! `0x02` marks the end-of-stream message, a JSON object carrying the RPC's error and its
//! trailers. Protobuf envelopes pass to and from the RPC as they are, compressed or not;
//! JSON ones are turned into protobuf frames and back. The answer is always HTTP 200: a
//! failure is in the end-of-stream message.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, header};
use http_body::Frame;
use prost_reflect::{DescriptorPool, MessageDescriptor};
use serde_json::{Map, Value};

use super::compress::{self, Encoding};
use super::error::ConnectError;
use super::{Codec, Connect, Procedure, check_version, deadline_exceeded, metadata, timeout};

const COMPRESSED: u8 = 0x01;
const END_STREAM: u8 = 0x02;

pub(super) async fn serve(
    connect: &Connect,
    procedure: Procedure,
    codec: Codec,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let pool = connect.pool().clone();
    let prelude = || {
        check_version(&parts.headers)?;
        let timeout = timeout(&parts.headers)?;
        let encoding = Encoding::parse(
            parts
                .headers
                .get("connect-content-encoding")
                .and_then(|v| v.to_str().ok()),
        )?;
        Ok::<_, ConnectError>((timeout, encoding))
    };
    let (timeout, encoding) = match prelude() {
        Ok(p) => p,
        Err(e) => return ended(codec, &pool, Some(&e), &HeaderMap::new()),
    };
    // Protobuf responses pass through, so they are compressed by the RPC itself.
    let accept_gzip = codec == Codec::Proto
        && compress::accepts_gzip(parts.headers.get("connect-accept-encoding"));
    let body = match codec {
        Codec::Proto => body,
        Codec::Json => {
            let max = connect.inner.options.max_request_bytes;
            let single = !procedure.method.is_client_streaming();
            match json_requests(body, &procedure.input(), encoding, max, single).await {
                Ok(frames) => Body::from(frames),
                Err(e) => return ended(codec, &pool, Some(&e), &HeaderMap::new()),
            }
        }
    };
    let mut request = super::grpc_request(&procedure, parts, timeout, body);
    if codec == Codec::Proto && encoding == Encoding::Gzip {
        request
            .headers_mut()
            .insert("grpc-encoding", HeaderValue::from_static("gzip"));
    }
    if accept_gzip {
        request
            .headers_mut()
            .insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
    }
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let call = connect.call(request);
    let response = match deadline {
        Some(at) => match tokio::time::timeout_at(at, call).await {
            Ok(response) => response,
            Err(_) => return ended(codec, &pool, Some(&deadline_exceeded()), &HeaderMap::new()),
        },
        None => call.await,
    };
    let (head, inner) = response.into_parts();
    let mut response = Response::new(Body::new(Envelopes {
        inner,
        codec,
        output: procedure.output(),
        pool,
        head: head.headers.clone(),
        buffer: BytesMut::new(),
        deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
        done: false,
    }));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, codec.stream_content_type());
    for (name, value) in metadata(&head.headers) {
        headers.append(name, value.clone());
    }
    if head
        .headers
        .get("grpc-encoding")
        .is_some_and(|v| v == "gzip")
    {
        headers.insert("connect-content-encoding", HeaderValue::from_static("gzip"));
    }
    response
}

/// The JSON request envelopes, read whole, as protobuf gRPC frames. Read whole, they are
/// bounded whole: the body by `max` (with gzip's slack) and the messages it decompresses to
/// by `max` together, or small gzip envelopes could each inflate to `max`. `single`: the
/// method takes one message (a server stream), as gRPC's server-streaming calls do.
async fn json_requests(
    body: Body,
    input: &MessageDescriptor,
    encoding: Encoding,
    max: usize,
    single: bool,
) -> Result<Bytes, ConnectError> {
    let mut data = super::unary::read_body(body, max).await?;
    let mut frames = Vec::new();
    let (mut messages, mut read) = (0, 0);
    while !data.is_empty() {
        let (flags, message) = envelope(&mut data)?
            .ok_or_else(|| ConnectError::invalid("the request ends inside an envelope"))?;
        messages += 1;
        if single && messages > 1 {
            return Err(ConnectError::invalid(
                "the method streams its response only: its request is one message",
            ));
        }
        let left = max - read;
        let message = match (flags & COMPRESSED != 0, encoding) {
            (false, _) => message,
            (true, Encoding::Gzip) => compress::gunzip(&message, left).map_err(|e| {
                if e.code == tonic::Code::OutOfRange {
                    compress::too_large(max)
                } else {
                    e
                }
            })?,
            (true, Encoding::Identity) => {
                return Err(ConnectError::invalid(
                    "an envelope is compressed but connect-content-encoding names none",
                ));
            }
        };
        if message.len() > left {
            return Err(compress::too_large(max));
        }
        read += message.len();
        let proto = super::unary::request_message(input, Codec::Json, message)?;
        frames.extend_from_slice(&super::unary::frame(&proto));
    }
    if single && messages == 0 {
        return Err(ConnectError::invalid("the request holds no message"));
    }
    Ok(frames.into())
}

/// The next whole envelope of `data`, taken off it; None while it is incomplete.
fn envelope(data: &mut Bytes) -> Result<Option<(u8, Bytes)>, ConnectError> {
    let Some(header) = data.get(..5) else {
        return Ok(None);
    };
    let flags = header[0];
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if data.len() < 5 + len {
        return Ok(None);
    }
    data.advance(5);
    Ok(Some((flags, data.split_to(len))))
}

/// A response of nothing but its end-of-stream message.
pub(super) fn ended(
    codec: Codec,
    pool: &DescriptorPool,
    error: Option<&ConnectError>,
    trailers: &HeaderMap,
) -> Response {
    let mut response = Response::new(Body::from(end_of_stream(pool, error, trailers)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, codec.stream_content_type());
    response
}

/// The end-of-stream envelope: `{"error": ..., "metadata": {name: [values]}}`.
fn end_of_stream(
    pool: &DescriptorPool,
    error: Option<&ConnectError>,
    trailers: &HeaderMap,
) -> Bytes {
    let mut object = Map::new();
    if let Some(e) = error {
        object.insert("error".into(), e.to_json(pool));
    }
    let mut meta: Map<String, Value> = Map::new();
    for (name, value) in metadata(trailers) {
        let values = meta
            .entry(name.as_str().to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let (Value::Array(list), Ok(v)) = (values, value.to_str()) {
            list.push(Value::from(v));
        }
    }
    if !meta.is_empty() {
        object.insert("metadata".into(), Value::Object(meta));
    }
    let json = serde_json::to_vec(&Value::Object(object)).expect("JSON serialises");
    let mut out = BytesMut::with_capacity(5 + json.len());
    out.put_u8(END_STREAM);
    out.put_u32(json.len() as u32);
    out.extend_from_slice(&json);
    out.freeze()
}

/// The RPC's response body as Connect envelopes, ended by the end-of-stream message (from
/// its trailers, or from the deadline when that comes first).
struct Envelopes {
    inner: Body,
    codec: Codec,
    output: MessageDescriptor,
    pool: DescriptorPool,
    /// The response head, whose status a trailers-only answer carries.
    head: HeaderMap,
    /// JSON only: the part of a frame that has come so far.
    buffer: BytesMut,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
}

impl Envelopes {
    fn end(&mut self, trailers: &HeaderMap) -> Frame<Bytes> {
        self.done = true;
        let status = super::rpc_status(trailers, &self.head);
        let error = (status.code() != tonic::Code::Ok).then(|| ConnectError::from_status(&status));
        Frame::data(end_of_stream(&self.pool, error.as_ref(), trailers))
    }

    fn fail(&mut self, error: ConnectError) -> Frame<Bytes> {
        self.done = true;
        Frame::data(end_of_stream(&self.pool, Some(&error), &HeaderMap::new()))
    }

    /// The JSON envelopes of the whole frames buffered so far.
    fn json_envelopes(&mut self) -> Result<Bytes, ConnectError> {
        let mut out = BytesMut::new();
        let mut data = self.buffer.split().freeze();
        while let Some((flags, message)) = envelope(&mut data)? {
            if flags & COMPRESSED != 0 {
                return Err(ConnectError::new(
                    tonic::Code::Internal,
                    "the RPC compressed a message it was not asked to",
                ));
            }
            let json = super::unary::response_message(&self.output, Codec::Json, message)?;
            out.put_u8(0);
            out.put_u32(json.len() as u32);
            out.extend_from_slice(&json);
        }
        self.buffer.extend_from_slice(&data);
        Ok(out.freeze())
    }
}

impl http_body::Body for Envelopes {
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
            if let Some(deadline) = this.deadline.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Some(Ok(this.fail(deadline_exceeded()))));
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Some(Ok(this.end(&HeaderMap::new())))),
                Poll::Ready(Some(Err(e))) => {
                    let e =
                        ConnectError::new(tonic::Code::Internal, format!("the RPC failed: {e}"));
                    return Poll::Ready(Some(Ok(this.fail(e))));
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            let data = match frame.into_data() {
                Ok(data) => data,
                Err(frame) => {
                    let trailers = frame.into_trailers().unwrap_or_default();
                    return Poll::Ready(Some(Ok(this.end(&trailers))));
                }
            };
            match this.codec {
                Codec::Proto => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Codec::Json => {
                    this.buffer.extend_from_slice(&data);
                    match this.json_envelopes() {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => return Poll::Ready(Some(Ok(Frame::data(out)))),
                        Err(e) => return Poll::Ready(Some(Ok(this.fail(e)))),
                    }
                }
            }
        }
    }
}
