//! A unary Connect call: the message is the whole body (or the GET query), the response the
//! whole body, errors the JSON of [`ConnectError`] under their HTTP status, and the RPC's
//! trailers headers prefixed with `trailer-`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::{BufMut, Bytes};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use sha2::Digest;

use super::compress::{self, Encoding};
use super::error::ConnectError;
use super::{Codec, Connect, Procedure, check_version, deadline_exceeded, metadata, timeout};

/// A POST: the message in the body, in the codec of its content type.
pub(super) async fn serve(
    connect: &Connect,
    procedure: Procedure,
    codec: Codec,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let accept_gzip = compress::accepts_gzip(parts.headers.get(header::ACCEPT_ENCODING));
    let read = async {
        check_version(&parts.headers)?;
        let timeout = timeout(&parts.headers)?;
        let encoding = Encoding::parse(
            parts
                .headers
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok()),
        )?;
        let max = connect.inner.options.max_request_bytes;
        let bytes = read_body(body, max).await?;
        let bytes = match encoding {
            Encoding::Identity => bytes,
            Encoding::Gzip => compress::gunzip(&bytes, max)?,
        };
        Ok::<_, ConnectError>((timeout, request_message(&procedure.input(), codec, bytes)?))
    };
    match read.await {
        Ok((timeout, message)) => {
            respond(
                connect,
                &procedure,
                codec,
                parts,
                timeout,
                message,
                accept_gzip,
                None,
            )
            .await
        }
        Err(e) => e.into_response(connect.pool()),
    }
}

/// The body, refused past `max` bytes (one more than gzip could need to hold `max`).
pub(super) async fn read_body(body: Body, max: usize) -> Result<Bytes, ConnectError> {
    Ok(Limited::new(body, max + max / 100 + 1024)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                compress::too_large(max)
            } else {
                ConnectError::invalid(format!("the request body could not be read: {e}"))
            }
        })?
        .to_bytes())
}

/// The request message in protobuf, whatever the codec it came in.
pub(super) fn request_message(
    input: &MessageDescriptor,
    codec: Codec,
    bytes: Bytes,
) -> Result<Bytes, ConnectError> {
    match codec {
        // Decoded (and bounded) by the service's own codec.
        Codec::Proto => Ok(bytes),
        // An empty body is the empty message, as Connect clients send it.
        Codec::Json if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Bytes::new()),
        Codec::Json => {
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            let message = DynamicMessage::deserialize(input.clone(), &mut de)
                .and_then(|m| de.end().map(|()| m))
                .map_err(|e| {
                    ConnectError::invalid(format!(
                        "the request is not a {} in JSON: {e}",
                        input.full_name()
                    ))
                })?;
            Ok(message.encode_to_vec().into())
        }
    }
}

/// A response message from protobuf into the codec of the call.
pub(super) fn response_message(
    output: &MessageDescriptor,
    codec: Codec,
    payload: Bytes,
) -> Result<Bytes, ConnectError> {
    match codec {
        Codec::Proto => Ok(payload),
        Codec::Json => {
            let message = DynamicMessage::decode(output.clone(), payload).map_err(|e| {
                ConnectError::new(
                    tonic::Code::Internal,
                    format!("the RPC's response does not decode: {e}"),
                )
            })?;
            Ok(serde_json::to_vec(&message)
                .map_err(|e| {
                    ConnectError::new(tonic::Code::Internal, format!("writing JSON: {e}"))
                })?
                .into())
        }
    }
}

/// One gRPC frame holding `message`.
pub(super) fn frame(message: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(message.len() as u32);
    frame.extend_from_slice(message);
    frame.into()
}

/// What a GET sent to revalidate what its cache holds.
pub(super) struct Conditional {
    pub if_none_match: Option<HeaderValue>,
}

/// Calls the RPC with `message` (protobuf) and writes its answer as Connect's unary
/// response. Shared by POST and GET (`conditional`: a success carries an ETag, and is 304
/// when it is the one the client holds).
#[allow(clippy::too_many_arguments)]
pub(super) async fn respond(
    connect: &Connect,
    procedure: &Procedure,
    codec: Codec,
    parts: http::request::Parts,
    timeout: Option<Duration>,
    message: Bytes,
    accept_gzip: bool,
    conditional: Option<Conditional>,
) -> Response {
    // A deadline already past: the RPC is not started at all.
    if timeout.is_some_and(|t| t.is_zero()) {
        return deadline_exceeded().into_response(connect.pool());
    }
    let request = super::grpc_request(procedure, parts, timeout, Body::from(frame(&message)));
    drop(message);
    let call = async {
        let (head, mut body) = connect.call(request).await.into_parts();
        // Read frame by frame rather than collected, so the trailers are taken, not copied.
        let (mut data, mut trailers) = (Vec::<Bytes>::new(), HeaderMap::new());
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ConnectError::new(
                    tonic::Code::Internal,
                    format!("reading the RPC response: {e}"),
                )
            })?;
            match frame.into_data() {
                Ok(chunk) => data.push(chunk),
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers = t;
                    }
                }
            }
        }
        let data = match data.len() {
            1 => data.pop().expect("one chunk"),
            _ => data.concat().into(),
        };
        Ok::<_, ConnectError>((head, data, trailers))
    };
    let called = match timeout {
        Some(t) => tokio::time::timeout(t, call)
            .await
            .unwrap_or_else(|_| Err(deadline_exceeded())),
        None => call.await,
    };
    let (head, data, trailers) = match called {
        Ok(done) => done,
        Err(e) => return e.into_response(connect.pool()),
    };
    let status = super::rpc_status(&trailers, &head.headers);
    let mut response = if status.code() == tonic::Code::Ok {
        match first_message(&data)
            .and_then(|payload| response_message(&procedure.output(), codec, payload))
        {
            Ok(body) => success(codec, body, accept_gzip, conditional),
            Err(e) => e.into_response(connect.pool()),
        }
    } else {
        ConnectError::from_status(&status).into_response(connect.pool())
    };
    let headers = response.headers_mut();
    for (name, value) in metadata(&head.headers) {
        headers.append(name, value.clone());
    }
    for (name, value) in metadata(&trailers) {
        if let Ok(prefixed) = HeaderName::from_bytes(format!("trailer-{name}").as_bytes()) {
            headers.append(prefixed, value.clone());
        }
    }
    response
}

fn success(
    codec: Codec,
    body: Bytes,
    accept_gzip: bool,
    conditional: Option<Conditional>,
) -> Response {
    if let Some(conditional) = conditional {
        // Weak: the same message is sent compressed or not.
        let digest = sha2::Sha256::digest(&body);
        let tag: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("W/\"{tag}\"")).expect("ASCII");
        let held = conditional
            .if_none_match
            .as_ref()
            .and_then(|v| v.to_str().ok());
        let unchanged = held.is_some_and(|list| {
            list.split(',').any(|t| {
                let t = t.trim();
                t == "*"
                    || t.trim_start_matches("W/")
                        == etag.to_str().unwrap_or("").trim_start_matches("W/")
            })
        });
        let mut response = if unchanged {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = http::StatusCode::NOT_MODIFIED;
            r
        } else {
            success(codec, body, accept_gzip, None)
        };
        response.headers_mut().insert(header::ETAG, etag);
        return response;
    }
    let compressed = accept_gzip && body.len() >= compress::MIN_COMPRESS_BYTES;
    let body = if compressed {
        compress::gzip(&body)
    } else {
        body
    };
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, codec.unary_content_type());
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if compressed {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// The message of a unary RPC's response body: one uncompressed gRPC frame.
fn first_message(data: &Bytes) -> Result<Bytes, ConnectError> {
    let broken = || {
        ConnectError::new(
            tonic::Code::Internal,
            "the RPC's response is not one gRPC frame",
        )
    };
    let header = data.get(..5).ok_or_else(broken)?;
    if header[0] != 0 {
        return Err(broken());
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if data.len() < 5 + len {
        return Err(broken());
    }
    Ok(data.slice(5..5 + len))
}
