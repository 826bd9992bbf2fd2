//! The application a test runs against, built once per backend of the run: the real server
//! on `127.0.0.1:0` over a fresh database (an SQLite file of its own; a database of its own
//! on the PostgreSQL server of [`PG_ENV`](super::PG_ENV) when that is set).
//!
//! ```ignore
//! TestApp::new()
//!     .configure(|c| c.max_unpaged_items = 5)
//!     .run(|app| async move { /* app.rest(...), app.organizations().await, ... */ })
//!     .await;
//! ```
//!
//! [`for_each_backend`](super::for_each_backend) and
//! [`for_each_backend_with`](super::for_each_backend_with) are this builder with no
//! configuration and with one.

use std::future::Future;

use orgd::config::Config;

use super::{App, Backend, TestDatabase, backends};

type Configure<'a> = Box<dyn Fn(&mut Config) + 'a>;

/// Builds the application a test body runs against.
pub struct TestApp<'a> {
    backends: Vec<Backend>,
    configure: Vec<Configure<'a>>,
}

impl Default for TestApp<'_> {
    fn default() -> Self {
        TestApp::new()
    }
}

impl<'a> TestApp<'a> {
    /// Every backend this run covers ([`backends`]), the server's default configuration.
    pub fn new() -> Self {
        TestApp {
            backends: backends(),
            configure: Vec::new(),
        }
    }

    /// Changes the server's configuration before it starts (a small bound, say, that would
    /// otherwise take thousands of rows to reach). Several apply in the order given.
    pub fn configure(mut self, configure: impl Fn(&mut Config) + 'a) -> Self {
        self.configure.push(Box::new(configure));
        self
    }

    /// Starts the server on a fresh database of `backend`; [`Running::stop`] ends both.
    pub async fn start(&self, backend: Backend) -> Running {
        let db = TestDatabase::create(backend).await;
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
        for configure in &self.configure {
            configure(&mut config);
        }
        let server = orgd::server::Server::start(config)
            .await
            .unwrap_or_else(|e| panic!("[{}] server did not start: {e}", backend.name()));
        let app = App::for_server(backend, server.local_addr(), &db.url);
        Running { app, server, db }
    }

    /// Runs `body` once per backend, each time against a fresh server on a fresh database.
    /// A panic in the body is reported with the backend's name and re-raised after the
    /// server and its database are gone, so a failing test leaves nothing behind.
    pub async fn run<F, Fut>(self, body: F)
    where
        F: Fn(App) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        for &backend in &self.backends {
            let running = self.start(backend).await;
            let outcome = tokio::spawn(body(running.app.clone())).await;
            running.stop().await;
            if let Err(e) = outcome {
                eprintln!("test body failed on backend {}", backend.name());
                if e.is_panic() {
                    std::panic::resume_unwind(e.into_panic());
                }
                panic!("[{}] test body did not finish: {e}", backend.name());
            }
        }
    }
}

/// A started server and the database it runs on.
pub struct Running {
    pub app: App,
    server: orgd::server::Server,
    db: TestDatabase,
}

impl Running {
    /// Shuts the server down, then drops its database.
    pub async fn stop(self) {
        self.server.shutdown().await;
        self.db.destroy().await;
    }
}
