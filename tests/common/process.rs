//! `orgd serve` as its own process, for tests that kill, restart or start it together with
//! others: started, waited for until it says it is ready, its log drained from then on so a
//! full pipe never stalls it.

use std::time::Duration;

use tokio::io::AsyncBufReadExt;

/// A port that was free a moment ago, for a process that binds it itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `orgd --database-url URL serve --listen 127.0.0.1:PORT EXTRA...` and returns it
/// once ready, or what it logged before it exited.
pub async fn serve(url: &str, port: u16, extra: &[&str]) -> Result<tokio::process::Child, String> {
    let listen = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["--database-url", url, "serve", "--listen", &listen])
        .args(extra)
        .env("ORGD_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("orgd serve starts");
    let mut log = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), log.next_line())
            .await
            .expect("ready or exited within 60 s")
            .unwrap();
        match line {
            Some(l) if l.contains("ready on http://") => {
                tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
                return Ok(child);
            }
            Some(l) => seen.push(l),
            None => {
                let status = child.wait().await.unwrap();
                return Err(format!("exited with {status}: {}", seen.join("\n")));
            }
        }
    }
}
