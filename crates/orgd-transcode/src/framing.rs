//! The length-prefixed framing of a unary gRPC request (flag byte, 4-byte length, message),
//! checked before tonic reads it. tonic reports a client's framing mistakes as INTERNAL, a
//! server error, and takes the first of several messages on a unary call without a word;
//! here a broken frame is INVALID_ARGUMENT, a compression the server does not speak is
//! UNIMPLEMENTED (gzip and identity are spoken), and a unary call carries exactly one message. grpc-web requests arrive
//! here already turned into gRPC by tonic-web, so a grpc-web-text body that is not base64
//! shows up as a body that cannot be read, and is the client's mistake too.

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tonic::Status;
use tonic::body::Body;

const HEADER_BYTES: usize = 5;

/// The request body, once it is known to hold exactly one well-formed frame (compressed only
/// under `grpc-encoding: gzip`)
/// of at most `max` bytes.
pub async fn one_message(
    headers: &http::HeaderMap,
    body: Body,
    max: usize,
) -> Result<Bytes, Status> {
    let compressed = match headers.get("grpc-encoding") {
        None => false,
        Some(e) if e == "identity" => false,
        // The services decompress it (and bound what it decompresses to).
        Some(e) if e == "gzip" => true,
        Some(encoding) => {
            let mut status = Status::unimplemented(format!(
                "grpc-encoding {:?} is not supported; send gzip or uncompressed messages",
                String::from_utf8_lossy(encoding.as_bytes())
            ));
            status.metadata_mut().insert(
                "grpc-accept-encoding",
                "gzip,identity".parse().expect("ASCII"),
            );
            return Err(status);
        }
    };
    // One byte past the largest frame tells "too large" without reading more of it.
    let bytes = Limited::new(body, HEADER_BYTES + max + 1)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                too_large(max)
            } else {
                Status::invalid_argument(format!("the request body could not be read: {e}"))
            }
        })?
        .to_bytes();
    check_frames(&bytes, max, compressed)?;
    Ok(bytes)
}

fn check_frames(bytes: &[u8], max: usize, compressed: bool) -> Result<(), Status> {
    let mut rest = bytes;
    let mut messages = 0;
    while !rest.is_empty() {
        let Some(header) = rest.get(..HEADER_BYTES) else {
            return Err(Status::invalid_argument(format!(
                "truncated gRPC frame: {} bytes where a 5-byte frame header belongs",
                rest.len()
            )));
        };
        match header[0] {
            0 => {}
            1 if compressed => {}
            1 => {
                return Err(Status::invalid_argument(
                    "the compressed flag is set but the request names no grpc-encoding",
                ));
            }
            flag => {
                return Err(Status::invalid_argument(format!(
                    "invalid gRPC frame flag {flag} (0 or 1)"
                )));
            }
        }
        let declared = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if declared > max {
            return Err(too_large(max));
        }
        let available = rest.len() - HEADER_BYTES;
        if declared > available {
            return Err(Status::invalid_argument(format!(
                "truncated gRPC frame: it declares {declared} bytes, {available} follow"
            )));
        }
        rest = &rest[HEADER_BYTES + declared..];
        messages += 1;
    }
    match messages {
        1 => Ok(()),
        0 => Err(Status::invalid_argument("the request carries no message")),
        n => Err(Status::invalid_argument(format!(
            "a unary call takes one request message, this request carries {n}"
        ))),
    }
}

/// tonic's own code for a message over its decoding limit.
fn too_large(max: usize) -> Status {
    Status::out_of_range(format!("a request message may have at most {max} bytes"))
}
