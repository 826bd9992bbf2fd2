//! One client connection, from accept to close: TLS when configured, HTTP/1.1 or HTTP/2 by
//! what the client speaks, and closed when it sits idle or the server stops.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::limits;

/// What every connection is served with.
pub struct Settings {
    pub builder: auto::Builder<TokioExecutor>,
    pub tls: Option<TlsAcceptor>,
    pub idle_timeout: Duration,
}

/// Serves one accepted connection until it ends, goes idle, or `stop` turns true (then its
/// requests in progress finish; HTTP/2 gets GOAWAY). `_permit` is its place under the
/// connection cap, given back when it closes.
pub async fn serve(
    stream: TcpStream,
    app: Router,
    settings: Arc<Settings>,
    stop: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    // The peer's address, for what is throttled per address (OAuth2 attempts).
    let peer = stream.peer_addr().ok();
    match &settings.tls {
        None => serve_io(Lingering::new(stream, permit), app, peer, &settings, stop).await,
        Some(acceptor) => {
            match tokio::time::timeout(limits::TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
            {
                Ok(Ok(tls)) => {
                    serve_io(Lingering::new(tls, permit), app, peer, &settings, stop).await
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

async fn serve_io<I>(
    io: I,
    app: Router,
    peer: Option<std::net::SocketAddr>,
    settings: &Settings,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::default();
    let service = {
        let activity = activity.clone();
        tower::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            if let Some(peer) = peer {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
            }
            let in_flight = activity.begin();
            let app = app.clone();
            async move {
                let response = app.oneshot(req).await?;
                // The guard rides in the body: a streamed response is in flight until its
                // last frame, so an open stream never counts as idle.
                Ok::<_, Infallible>(response.map(|body| {
                    axum::body::Body::new(body.map_frame(move |frame| {
                        let _ = &in_flight;
                        frame
                    }))
                }))
            }
        })
    };
    let conn = settings
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
    tokio::pin!(conn);
    // Once closing, an idle connection gets this long to say goodbye (an h2 GOAWAY waits
    // for the peer's ping answer) before it is dropped.
    let mut idle_close_deadline: Option<tokio::time::Instant> = None;
    let mut stopping = false;
    loop {
        tokio::select! {
            outcome = conn.as_mut() => {
                if let Err(e) = outcome {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = activity.idle(settings.idle_timeout), if idle_close_deadline.is_none() && !stopping => {
                tracing::debug!("closing an idle connection");
                conn.as_mut().graceful_shutdown();
                idle_close_deadline =
                    Some(tokio::time::Instant::now() + limits::HEADER_READ_TIMEOUT);
            }
            _ = tokio::time::sleep_until(idle_close_deadline.unwrap_or_else(tokio::time::Instant::now)),
                if idle_close_deadline.is_some() && !stopping => return,
            _ = stop_requested(&mut stop), if !stopping => {
                stopping = true;
                if idle_close_deadline.is_none() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Resolves once `stop` is true or its sender is gone (without holding the value's lock
/// across an await, which would make the future not `Send`).
pub async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// How long a closed connection keeps reading what the peer still sends.
const LINGER: Duration = Duration::from_secs(2);

/// A connection's socket that, once hyper is done with it, closes the way HTTP servers must
/// (a lingering close): FIN first, then read and discard until the peer closes too. Closing
/// at once with the peer's last frames unread (its PING answer to a GOAWAY, a WINDOW_UPDATE)
/// makes the kernel send RST, and the peer may then lose the end of the response it had
/// not read yet. The connection keeps its place under the cap until then.
struct Lingering<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    io: Option<I>,
    permit: Option<OwnedSemaphorePermit>,
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> Lingering<I> {
    fn new(io: I, permit: OwnedSemaphorePermit) -> Self {
        Lingering {
            io: Some(io),
            permit: Some(permit),
        }
    }

    fn io(&mut self) -> &mut I {
        self.io.as_mut().expect("present until dropped")
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Lingering<I> {
    fn drop(&mut self) {
        let (Some(mut io), permit) = (self.io.take(), self.permit.take()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(LINGER, async {
                let _ = io.shutdown().await;
                let mut sink = [0u8; 1024];
                while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
        });
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for Lingering<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(self.io()).poll_read(cx, buf)
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Lingering<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(self.io()).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(self.io()).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(self.io()).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(self.io()).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(|io| io.is_write_vectored())
    }
}

#[derive(Clone, Copy, Default)]
struct Load {
    in_flight: usize,
    /// Bumped on every start and end, so a request that came and went is seen as activity.
    changes: u64,
}

/// The requests in progress on one connection.
#[derive(Clone, Default)]
struct Activity(Arc<watch::Sender<Load>>);

/// One request in progress; dropped when its response has been sent (or abandoned).
struct InFlight(Activity);

impl Activity {
    fn begin(&self) -> InFlight {
        self.0.send_modify(|load| {
            load.in_flight += 1;
            load.changes += 1;
        });
        InFlight(self.clone())
    }

    /// Resolves once no request has been in progress for `limit`.
    async fn idle(&self, limit: Duration) {
        let mut load = self.0.subscribe();
        loop {
            let seen = *load.borrow_and_update();
            if seen.in_flight > 0 {
                // The sender lives as long as `self`: this never errs.
                let _ = load.changed().await;
                continue;
            }
            let changed = load.wait_for(|now| now.changes != seen.changes);
            if tokio::time::timeout(limit, changed).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.0.send_modify(|load| {
            load.in_flight -= 1;
            load.changes += 1;
        });
    }
}
