//! The id that names one request in its response and in every log line it causes: the
//! client's own `x-request-id` when it is sane, else a fresh UUIDv7 (time ordered, so ids
//! sort as the requests arrived).

use http::{HeaderMap, HeaderName, HeaderValue};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client id kept: room for any UUID or trace id format, not for a payload that
/// would be copied into every log line.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// Whether a client's id may be used as given: 1 to [`MAX_REQUEST_ID_BYTES`] bytes of
/// visible ASCII, so it cannot break a log line or a header.
pub fn acceptable(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_BYTES).contains(&value.len()) && value.iter().all(|b| b.is_ascii_graphic())
}

/// The request's id: the first `x-request-id` the client sent if [`acceptable`], else a
/// new UUIDv7. Anything else the client sent is replaced, never echoed.
pub fn of(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&REQUEST_ID)
        .filter(|v| acceptable(v.as_bytes()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header value")
        })
}

tokio::task_local! {
    /// The id of the request the current task serves, for what a write records of it (the
    /// change log): the id belongs to the request as its tracing span does, so it travels
    /// the same way instead of through every domain function's arguments.
    static CURRENT: HeaderValue;
}

/// Runs `future` as the request `id`'s work.
pub async fn scope<F: std::future::Future>(id: HeaderValue, future: F) -> F::Output {
    CURRENT.scope(id, future).await
}

/// The id of the request being served; empty outside one (the CLI, background work).
pub fn current() -> String {
    CURRENT
        .try_with(|id| id.to_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_characters() {
        assert!(acceptable(b"abc-123_X.y:z/="));
        assert!(acceptable(&[b'a'; MAX_REQUEST_ID_BYTES]));
        assert!(!acceptable(&[b'a'; MAX_REQUEST_ID_BYTES + 1]));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"has space"));
        assert!(!acceptable(b"tab\there"));
        assert!(!acceptable("é".as_bytes()));
    }
}
