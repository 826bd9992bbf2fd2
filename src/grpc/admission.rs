//! What every orgd tonic service is wrapped in (inside tonic-web, so grpc-web calls get
//! the same answers in their own framing): the caller's write budget is spent
//! (`limits::WriteLimiter`), a list answered whole waits for its turn
//! (`limits::WholeLists`), the request's framing is checked (`grpc::framing`), and a
//! response over the byte budget is refused whole with TOO_MANY_RESULTS.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use tonic::Status;
use tonic::body::Body;
use tower::Service;

use crate::limits::{TurnHeld, WholeLists, WriteLimiter};

/// The bounds [`Admission`] applies, shared by every service of a server.
#[derive(Clone, Debug)]
pub struct Bounds {
    pub writes: Arc<WriteLimiter>,
    /// Turns of the lists answered whole.
    pub whole_lists: WholeLists,
    /// The largest request message; tonic's `max_decoding_message_size`.
    pub max_request_bytes: usize,
    /// The largest response message; tonic's `max_encoding_message_size`.
    pub max_response_bytes: usize,
}

/// A tonic service whose every method takes one request message, behind its bounds.
#[derive(Clone)]
pub struct Admission<S> {
    inner: S,
    bounds: Bounds,
}

impl<S> Admission<S> {
    pub fn new(inner: S, bounds: Bounds) -> Admission<S> {
        Admission { inner, bounds }
    }
}

impl<S> Service<http::Request<Body>> for Admission<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // The clone that was made ready is the one that serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let bounds = self.bounds.clone();
        Box::pin(async move {
            if let Err(status) = bounds.writes.admit(req.uri().path(), req.extensions()) {
                return Ok(status.into_http());
            }
            // A REST call holds its turn already, for the JSON it writes afterwards.
            let turn = match req.extensions().get::<TurnHeld>() {
                Some(_) => None,
                None => bounds.whole_lists.turn(req.uri().path()).await,
            };
            let (parts, body) = req.into_parts();
            let bytes =
                match super::framing::one_message(&parts.headers, body, bounds.max_request_bytes)
                    .await
                {
                    Ok(bytes) => bytes,
                    Err(status) => return Ok(status.into_http()),
                };
            let request = http::Request::from_parts(parts, Body::new(Full::new(bytes)));
            let response = inner.call(request).await?;
            let max = bounds.max_response_bytes;
            let mut turn = turn;
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    // tonic encodes the message when the body is first polled: once a frame
                    // is out, the list is built and the turn goes, whether or not the client
                    // reads on (a slow reader must not hold everyone's turn).
                    drop(turn.take());
                    over_budget_is_too_many_results(frame, max)
                }))
            }))
        })
    }
}

/// tonic refuses a response message over `max_encoding_message_size` after encoding it, and
/// ends the call with OUT_OF_RANGE in the trailers; no orgd RPC answers OUT_OF_RANGE itself
/// (`DomainError` has no such code), so that status is the budget's, and becomes the error
/// every list read whole answers when it would be too large.
fn over_budget_is_too_many_results(frame: Frame<Bytes>, max: usize) -> Frame<Bytes> {
    match frame.into_trailers() {
        Ok(trailers)
            if trailers
                .get("grpc-status")
                .is_some_and(|v| v.as_bytes() == b"11") =>
        {
            let status = Status::from(crate::limits::response_too_large(max));
            let mut replaced = http::HeaderMap::new();
            match status.add_header(&mut replaced) {
                Ok(()) => Frame::trailers(replaced),
                Err(_) => Frame::trailers(trailers),
            }
        }
        Ok(trailers) => Frame::trailers(trailers),
        Err(frame) => frame,
    }
}
