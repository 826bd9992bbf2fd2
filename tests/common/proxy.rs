//! A loopback TCP proxy between orgd and its PostgreSQL that a test can cut and restore: a
//! real outage as orgd sees one (open connections drop, the port refuses new ones, as when
//! the server stops), without touching the shared server.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct TcpProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    /// Bumped by every cut; each piped connection ends when it changes.
    cuts: watch::Sender<u64>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cuts, _) = watch::channel(0u64);
        let proxy = TcpProxy {
            addr,
            upstream,
            cuts,
            accept: Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let cuts = self.cuts.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        *self.accept.lock().unwrap() = Some(task);
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection and closes the port until [`TcpProxy::restore`].
    pub async fn cut(&self) {
        let accepting = self.accept.lock().unwrap().take();
        if let Some(task) = accepting {
            task.abort();
            let _ = task.await;
        }
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Listens on the same port again.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("the proxy's port can be bound again");
        self.serve(listener);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
        self.cuts.send_modify(|n| *n += 1);
    }
}

/// `postgres://user@host:port/db?x` with host and port replaced by `addr`.
pub fn pg_url_via(url: &str, addr: SocketAddr) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).expect("a URL");
    let rest = &url[scheme_end..];
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..host_end];
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!(
        "{}{}{}{}",
        &url[..scheme_end],
        userinfo.unwrap_or_default(),
        addr,
        &rest[host_end..]
    )
}

/// The host and port of a PostgreSQL URL.
pub fn pg_addr(url: &str) -> SocketAddr {
    let scheme_end = url.find("://").map(|i| i + 3).expect("a URL");
    let rest = &url[scheme_end..];
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..host_end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5432")
    };
    let hostport = hostport.replace("localhost", "127.0.0.1");
    hostport.parse().expect("host:port of the PostgreSQL URL")
}
