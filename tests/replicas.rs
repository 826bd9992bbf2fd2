//! Three `orgd serve` processes on one PostgreSQL database behind a real load balancer
//! (HAProxy, from Debian's package; `.ci/run` installs it): they start together, every
//! write acknowledged through the balancer survives one of them being SIGKILLed and
//! restarted mid-load, one invitation accepted through all three at once makes exactly
//! one partnership, and a token deleted through one is refused by the others at once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::free_port;
use common::*;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

const INSTANCES: usize = 3;
const WRITERS: usize = 4;
const WRITES_PER_WRITER: usize = 60;

async fn serve(url: &str, port: u16) -> tokio::process::Child {
    common::process::serve(url, port, &[])
        .await
        .unwrap_or_else(|e| panic!("orgd serve did not become ready: {e}"))
}

/// HAProxy in the foreground, round-robin over `ports` that `/readyz` says are ready,
/// retrying a refused connection on another instance (never a request that reached one).
async fn haproxy(dir: &std::path::Path, port: u16, ports: &[u16]) -> tokio::process::Child {
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("  server orgd{i} 127.0.0.1:{p} check\n"))
        .collect();
    let config = format!(
        "global\n  maxconn 512\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  \
         retries 3\n  option redispatch\n\
         frontend api\n  bind 127.0.0.1:{port}\n  default_backend orgd\n\
         backend orgd\n  balance roundrobin\n  option httpchk GET /readyz\n  \
         default-server inter 200ms fall 1 rise 1\n{servers}"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let binary = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("HAProxy is installed (apt-get install haproxy; .ci/run does it)");
    let child = tokio::process::Command::new(binary)
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("haproxy starts");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/openapi.json"))
            .send()
            .await
            && r.status().is_success()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("HAProxy did not answer within 10 s");
}

fn app_at(port: u16, url: &str) -> App {
    App::for_server(
        Backend::Postgres,
        format!("127.0.0.1:{port}").parse().unwrap(),
        url,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_behind_haproxy() {
    let Some(_) = std::env::var(PG_ENV).ok().filter(|v| !v.trim().is_empty()) else {
        eprintln!("skipped: {PG_ENV} is not set");
        return;
    };
    let db = TestDatabase::create(Backend::Postgres).await;
    let dir = TempDir::new();
    let ports: Vec<u16> = (0..INSTANCES).map(|_| free_port()).collect();
    // All three at the same moment on the fresh database.
    let starts: Vec<_> = ports
        .iter()
        .map(|&p| {
            let url = db.url.clone();
            tokio::spawn(async move { serve(&url, p).await })
        })
        .collect();
    let mut instances = Vec::new();
    for s in starts {
        instances.push(s.await.unwrap());
    }
    let lb_port = free_port();
    let _lb = haproxy(dir.path(), lb_port, &ports).await;
    let lb = app_at(lb_port, &db.url);

    let owner = lb.user("replica-owner").await;

    acknowledged_writes_survive_a_killed_instance(&lb, &owner, &db.url, &ports, &mut instances)
        .await;
    one_invitation_accepted_everywhere_makes_one_partnership(&lb, &db.url, &ports).await;
    a_deleted_token_is_refused_everywhere_at_once(&lb, &owner, &db.url, &ports).await;

    drop(instances);
    db.destroy().await;
}

async fn acknowledged_writes_survive_a_killed_instance(
    lb: &App,
    owner: &User,
    url: &str,
    ports: &[u16],
    instances: &mut [tokio::process::Child],
) {
    let acknowledged: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let client = client.clone();
            let base = lb.url("");
            let token = owner.token.clone();
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                for i in 0..WRITES_PER_WRITER {
                    let name = format!("replica w{w} #{i}");
                    let r = client
                        .post(format!("{base}/api/v1/organization"))
                        .header("Authorization", format!("Bearer {token}"))
                        .json(&json!({"name": name, "timezone": "Europe/Berlin", "language": "de"}))
                        .send()
                        .await;
                    if let Ok(r) = r
                        && r.status().as_u16() == 201
                    {
                        let body: Value = r.json().await.unwrap();
                        acknowledged
                            .lock()
                            .unwrap()
                            .push((body["id"].as_i64().unwrap(), name));
                    }
                    // A read beside each write, as a mixed load; its outcome is not the point.
                    let _ = client
                        .get(format!("{base}/api/v1/organizations"))
                        .header("Authorization", format!("Bearer {token}"))
                        .send()
                        .await;
                }
            })
        })
        .collect();
    // Kill the second instance once the load is under way, and bring it back.
    for _ in 0..200 {
        if acknowledged.lock().unwrap().len() >= WRITERS * WRITES_PER_WRITER / 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    instances[1].start_kill().expect("SIGKILL");
    instances[1].wait().await.unwrap();
    instances[1] = serve(url, ports[1]).await;
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= WRITERS * WRITES_PER_WRITER / 2,
        "most writes went through: {}",
        acknowledged.len()
    );
    // Every acknowledged write is there, as each instance reads it.
    for port in ports {
        let app = app_at(*port, url);
        let r = app
            .rest(
                Method::GET,
                "/api/v1/organizations",
                Auth::Bearer(&owner.token),
                None,
            )
            .await;
        r.assert_status(200);
        let listed: std::collections::HashMap<i64, String> = r
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (id_of(o), o["name"].as_str().unwrap().to_string()))
            .collect();
        for (id, name) in &acknowledged {
            assert_eq!(
                listed.get(id),
                Some(name),
                "acknowledged write {id} is present"
            );
        }
    }
}

/// An active organization with an email, owned by a new user; through `app`.
async fn active_org(app: &App, label: &str) -> (i64, String, User) {
    let owner = app.user(label).await;
    let org = app.org(&owner.token, &unique(label)).await;
    let id = id_of(&org);
    app.set_state(&id.to_string(), "active").await;
    let email = format!("{label}-{}@orgs.example.com", uuid::Uuid::new_v4().simple());
    app.cli(&[
        "organization",
        "set-email",
        "--organization",
        &id.to_string(),
        "--email",
        &email,
    ])
    .await
    .json();
    (id, email, owner)
}

async fn one_invitation_accepted_everywhere_makes_one_partnership(
    lb: &App,
    url: &str,
    ports: &[u16],
) {
    let (a, _, a_owner) = active_org(lb, "replica-a").await;
    let (b, b_email, b_owner) = active_org(lb, "replica-b").await;
    let sent = lb
        .rest(
            Method::POST,
            "/api/v5/outgoing_invitations",
            Auth::Token(&a_owner.token),
            Some(&json!({"email": b_email})),
        )
        .await;
    sent.assert_status(201);
    let incoming = lb
        .rest(
            Method::GET,
            "/api/v5/incoming_invitations",
            Auth::Token(&b_owner.token),
            None,
        )
        .await;
    incoming.assert_status(200);
    let key = incoming.json["results"][0]["key"]
        .as_str()
        .expect("the invited side sees the key")
        .to_string();
    let accepts: Vec<_> = ports
        .iter()
        .map(|&p| {
            let app = app_at(p, url);
            let path = format!("/api/v5/incoming_invitations/{key}/accept");
            let token = b_owner.token.clone();
            tokio::spawn(async move {
                app.rest(Method::POST, &path, Auth::Token(&token), Some(&json!({})))
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for a in accepts {
        statuses.push(a.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s < 500),
        "no accept fails with a server error: {statuses:?}"
    );
    assert!(statuses.contains(&200), "one accept succeeds: {statuses:?}");
    let conn = Database::connect(url).await.unwrap();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!(
                "SELECT count(*) AS n FROM partnerships \
                 WHERE (organization_id = {a} AND partner_organization_id = {b}) \
                    OR (organization_id = {b} AND partner_organization_id = {a})"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    assert_eq!(
        n, 2,
        "exactly one partnership: one row per side ({statuses:?})"
    );
    let _ = conn.close().await;
}

async fn a_deleted_token_is_refused_everywhere_at_once(
    lb: &App,
    owner: &User,
    url: &str,
    ports: &[u16],
) {
    let org = lb.org(&owner.token, &unique("replica-token")).await;
    let id = id_of(&org);
    let token = lb.organization_token(id).await;
    // Each instance resolves, and so caches, the token.
    for &p in ports {
        let r = app_at(p, url).get_org(Auth::ApiToken(&token), id).await;
        r.assert_status(200);
    }
    // Deleting the organization through the first instance deletes its token.
    let first = app_at(ports[0], url);
    let r = first
        .rest(
            Method::DELETE,
            &format!("/api/v1/organization/{id}"),
            Auth::Bearer(&owner.token),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.text);
    let deleted = Instant::now();
    for &p in &ports[1..] {
        let app = app_at(p, url);
        loop {
            let r = app
                .rest(
                    Method::GET,
                    "/api/v1/organizations",
                    Auth::ApiToken(&token),
                    None,
                )
                .await;
            if r.status.as_u16() == 401 {
                break;
            }
            // The requirement itself (a cache lifetime is 5 s): refused within 1 s.
            assert!(
                deleted.elapsed() < Duration::from_secs(1),
                "instance on {p} still accepts a deleted token: {}",
                r.status
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
