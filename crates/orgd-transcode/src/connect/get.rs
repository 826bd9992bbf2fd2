//! A unary call as `GET`, for methods marked `idempotency_level = NO_SIDE_EFFECTS`: the
//! message and its codec in the query (`message`, `encoding`, `base64`, `compression`,
//! `connect`), so that the whole call is its URL and the answer can be cached.

use axum::extract::Request;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use bytes::Bytes;
use http::{HeaderValue, header};

use super::compress::{self, Encoding};
use super::error::ConnectError;
use super::{Codec, Connect, Procedure, timeout, unary};

/// URL-safe base64 with or without its padding, as clients write it.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

struct Query {
    codec: Codec,
    message: Bytes,
}

pub(super) async fn serve(connect: &Connect, procedure: Procedure, req: Request) -> Response {
    let (parts, _body) = req.into_parts();
    let accept_gzip = compress::accepts_gzip(parts.headers.get(header::ACCEPT_ENCODING));
    let read = || {
        let timeout = timeout(&parts.headers)?;
        let query = query(
            parts.uri.query().unwrap_or(""),
            connect.inner.options.max_request_bytes,
        )?;
        let message = unary::request_message(&procedure.input(), query.codec, query.message)?;
        Ok::<_, ConnectError>((timeout, query.codec, message))
    };
    let (timeout, codec, message) = match read() {
        Ok(read) => read,
        Err(e) => return e.into_response(connect.pool()),
    };
    let conditional = unary::Conditional {
        if_none_match: parts.headers.get(header::IF_NONE_MATCH).cloned(),
    };
    let mut response = unary::respond(
        connect,
        &procedure,
        codec,
        parts,
        timeout,
        message,
        accept_gzip,
        Some(conditional),
    )
    .await;
    let cache_control =
        if response.status().is_success() || response.status() == http::StatusCode::NOT_MODIFIED {
            connect.inner.options.get_cache_control.clone()
        } else {
            HeaderValue::from_static("no-store")
        };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, cache_control);
    // The answer depends on who asks, and on the compression the client takes.
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Authorization, Accept-Encoding"),
    );
    response
}

fn query(text: &str, max: usize) -> Result<Query, ConnectError> {
    let (mut message, mut encoding, mut base64, mut compression, mut version) =
        (None, None, false, None, None);
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value =
            percent_encoding::percent_decode_str(&value.replace('+', " ")).collect::<Vec<u8>>();
        match key {
            "message" => message = Some(value),
            "encoding" => encoding = Some(String::from_utf8_lossy(&value).into_owned()),
            "base64" => base64 = value == b"1",
            "compression" => compression = Some(String::from_utf8_lossy(&value).into_owned()),
            "connect" => version = Some(String::from_utf8_lossy(&value).into_owned()),
            // Unknown parameters are the client's own (cache busters and the like).
            _ => {}
        }
    }
    if let Some(v) = version
        && v != "v1"
    {
        return Err(ConnectError::invalid(format!(
            "the connect parameter must be v1, not {v:?}"
        )));
    }
    let codec = match encoding.as_deref() {
        Some("json") => Codec::Json,
        Some("proto") => Codec::Proto,
        Some(other) => {
            return Err(ConnectError::invalid(format!(
                "encoding must be json or proto, not {other:?}"
            )));
        }
        None => {
            return Err(ConnectError::invalid(
                "a GET call names its message's encoding (encoding=json or encoding=proto)",
            ));
        }
    };
    let mut message = message.unwrap_or_default();
    if base64 {
        message = URL_SAFE_ANY_PADDING
            .decode(&message)
            .or_else(|_| general_purpose::STANDARD.decode(&message))
            .map_err(|e| ConnectError::invalid(format!("message is not base64: {e}")))?;
    }
    let message: Bytes = match Encoding::parse(compression.as_deref())? {
        Encoding::Identity if message.len() > max => return Err(compress::too_large(max)),
        Encoding::Identity => message.into(),
        Encoding::Gzip => compress::gunzip(&message, max)?,
    };
    Ok(Query { codec, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_message_and_codec() {
        let q = query("encoding=json&message=%7B%22a%22%3A1%7D&connect=v1", 100).unwrap();
        assert_eq!(q.codec, Codec::Json);
        assert_eq!(&q.message[..], br#"{"a":1}"#);
        let q = query("encoding=proto&base64=1&message=CgFh", 100).unwrap();
        assert_eq!(&q.message[..], b"\n\x01a");
        assert!(query("message=x", 100).is_err());
        assert!(query("encoding=json&connect=v2", 100).is_err());
        assert!(query("encoding=json&compression=br", 100).is_err());
        assert!(query("encoding=proto&message=xxxx", 3).is_err());
    }
}
