//! Authorization flows (issue 13): where `authz_matrix` calls each RPC once, these tests
//! follow the ways a grant across organizations comes into being — a partnership, a
//! partnership invitation, a membership, an ownership, access to a partner directory, an
//! organization moved into another tree — and try every path to it from each principal
//! outside the consenting set, over REST and gRPC. Every attempt must fail with a client
//! error, leave every stored fact about A unchanged, and make nothing of A newly visible.
//!
//! It also holds the regression tests of the holes the issue found (H1, H2, L4, L5), the
//! check that every RPC creating a cross-organization grant has its row in
//! `docs/AUTHORIZATION.md`, and issue 12 item 9: one pending invitation per (sender,
//! addressee), even when 20 arrive at once.

mod common;

use std::collections::BTreeSet;

use common::raw_grpc::RawCodec;
use common::*;
use prost::Message;
use prost_reflect::{DynamicMessage, MethodDescriptor, Value as PValue};
use reqwest::Method;
use serde_json::{Value, json};
use tonic::transport::Channel;

use orgd::proto::DESCRIPTOR_POOL;
use orgd::surfaces::Binding;
use orgd::surfaces::Dialect;
use orgd_transcode::binding::BodyTarget;

// ---------------------------------------------------------------------------------------
// One RPC, sent over gRPC (a unary call of raw bytes) or over its REST binding.

fn methods() -> Vec<MethodDescriptor> {
    DESCRIPTOR_POOL
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect()
}

fn method_by_name(full_name: &str) -> MethodDescriptor {
    methods()
        .into_iter()
        .find(|m| m.full_name() == full_name)
        .unwrap_or_else(|| panic!("no RPC {full_name} in the descriptor pool"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Grpc,
    Rest,
}

/// A request: the message as proto3 JSON, plus the REST query and body (path and headers
/// come from the binding and the same message).
#[derive(Clone, Debug)]
struct Call {
    rpc: &'static str,
    grpc: Value,
    query: String,
    body: Option<Value>,
}

fn call(rpc: &'static str, grpc: Value) -> Call {
    Call {
        rpc,
        grpc,
        query: String::new(),
        body: None,
    }
}

impl Call {
    fn query(mut self, q: impl Into<String>) -> Call {
        self.query = q.into();
        self
    }

    fn body(mut self, b: Value) -> Call {
        self.body = Some(b);
        self
    }
}

/// An outcome in HTTP terms (gRPC codes mapped as API.md says; MyCreditApp's 422 is 400)
/// and the response as JSON (the message on success).
#[derive(Clone, Debug)]
struct Outcome {
    status: u16,
    json: Value,
    text: String,
}

fn http_of(code: tonic::Code) -> u16 {
    use tonic::Code::*;
    match code {
        Ok => 200,
        InvalidArgument => 400,
        Unauthenticated => 401,
        PermissionDenied => 403,
        NotFound => 404,
        AlreadyExists | Aborted | FailedPrecondition => 409,
        ResourceExhausted => 429,
        Unavailable => 503,
        _ => 500,
    }
}

fn message(method: &MethodDescriptor, json: &Value) -> DynamicMessage {
    DynamicMessage::deserialize(method.input(), json.clone()).unwrap_or_else(|e| {
        panic!(
            "{}: request JSON does not fit the input message: {e}: {json}",
            method.full_name()
        )
    })
}

async fn grpc_call(channel: &Channel, c: &Call, token: &str) -> Outcome {
    let method = method_by_name(c.rpc);
    let msg = message(&method, &c.grpc);
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let path = http::uri::PathAndQuery::try_from(format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .expect("gRPC path");
    let mut req = tonic::Request::new(msg.encode_to_vec());
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ASCII token"),
    );
    match grpc.unary(req, path, RawCodec).await {
        Ok(resp) => {
            let m = DynamicMessage::decode(method.output(), resp.into_inner().as_slice())
                .expect("decodable response");
            let json = serde_json::to_value(&m).expect("response JSON");
            Outcome {
                status: 200,
                text: json.to_string(),
                json,
            }
        }
        Err(s) => Outcome {
            status: http_of(s.code()),
            json: Value::Null,
            text: format!("{:?}: {}", s.code(), s.message()),
        },
    }
}

fn field_text(v: &PValue) -> String {
    match v {
        PValue::String(s) => s.clone(),
        PValue::I64(n) => n.to_string(),
        PValue::I32(n) => n.to_string(),
        other => panic!("unsupported path/header value {other:?}"),
    }
}

fn value_at(msg: &DynamicMessage, path: &[prost_reflect::FieldDescriptor]) -> String {
    let (first, rest) = path.split_first().expect("a field path");
    let v = msg.get_field(first).into_owned();
    if rest.is_empty() {
        return field_text(&v);
    }
    match v {
        PValue::Message(inner) => value_at(&inner, rest),
        other => panic!("path through a non-message {other:?}"),
    }
}

fn binding_of(rpc: &str) -> Option<Binding> {
    orgd::surfaces::bindings()
        .into_iter()
        .find(|b| b.method.full_name() == rpc)
}

async fn rest_call(app: &App, b: &Binding, c: &Call, token: &str) -> Outcome {
    let msg = message(&b.method, &c.grpc);
    let mut path = b.route.clone();
    for (i, var) in b.variables.iter().enumerate() {
        let value = value_at(&msg, var);
        path = path
            .replace(&format!("{{v{i}}}"), &value)
            .replace(&format!("{{*v{i}}}"), &value);
    }
    if !c.query.is_empty() {
        path = format!("{path}?{}", c.query);
    }
    let mut builder = app.http.request(b.http_method.clone(), app.url(&path));
    for (name, field) in &b.headers {
        builder = builder.header(name.as_str(), field_text(&msg.get_field(field)));
    }
    if let Some(body) = &c.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.to_string());
    } else if !matches!(b.body, BodyTarget::None) {
        builder = builder
            .header("content-type", "application/json")
            .body("{}");
    }
    let scheme = if b.dialect == Dialect::Giosg {
        "Token"
    } else {
        "Bearer"
    };
    builder = builder.header("authorization", format!("{scheme} {token}"));
    let resp = send(builder).await;
    let status = match resp.status.as_u16() {
        422 if b.dialect == Dialect::MyCreditApp => 400,
        _ if resp.status.is_success() => 200,
        s => s,
    };
    Outcome {
        status,
        json: resp.json,
        text: resp.text,
    }
}

async fn run(fx: &Fx, transport: Transport, c: &Call, token: &str) -> Outcome {
    match transport {
        Transport::Grpc => grpc_call(&fx.channel, c, token).await,
        Transport::Rest => {
            let b = binding_of(c.rpc).unwrap_or_else(|| panic!("{} has no REST binding", c.rpc));
            rest_call(&fx.app, &b, c, token).await
        }
    }
}

/// The transports an RPC is served on.
fn transports(rpc: &str) -> Vec<Transport> {
    if binding_of(rpc).is_some() {
        vec![Transport::Grpc, Transport::Rest]
    } else {
        vec![Transport::Grpc]
    }
}

// ---------------------------------------------------------------------------------------
// The fixture: A and B are partners, C is unrelated. A has a child K whose owner k also
// owns K2 (and nothing of A).

#[derive(Clone, Debug)]
struct Org {
    id: i64,
    uuid: String,
    name: String,
}

fn org_of(v: &Value) -> Org {
    Org {
        id: id_of(v),
        uuid: v["uuid"].as_str().expect("organization uuid").to_string(),
        name: v["name"].as_str().expect("organization name").to_string(),
    }
}

struct Fx {
    app: App,
    channel: Channel,
    a: Org,
    #[allow(dead_code)]
    a_email: String,
    a_owner: User,
    a_admin: User,
    a_member: User,
    /// An organization A's member owns (a destination for moves).
    m: Org,
    k: Org,
    k_owner: User,
    k2: Org,
    b: Org,
    b_admin: User,
    b_token: String,
    b_oauth: String,
    c: Org,
    c_email: String,
    c_owner: User,
    c_admin: User,
    extra: User,
    invitee: User,
    service: String,
    /// A record of A's directory, addressed to C's email.
    record: String,
    /// A pending invitation to A's email, from C: its key.
    incoming_key: String,
    /// A pending invitation to A's member's own email, from C: its key.
    member_key: String,
    /// A pending invitation from A: its id.
    outgoing: String,
    /// An open owner invitation of A for `invitee`.
    owner_invitation: String,
    /// An open MyCreditApp guest invitation from C to A's email: its token.
    guest_token: String,
    a_client: String,
}

async fn ok(r: Resp, what: &str) -> Value {
    assert!(
        r.status.is_success(),
        "fixture step {what}: HTTP {} {}",
        r.status,
        r.text
    );
    r.json
}

async fn rest(app: &App, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
    app.rest(method, path, Auth::Bearer(token), body.as_ref())
        .await
}

fn directory_headers(requester: &str, target: &str) -> Value {
    json!({"requester_organization_id": requester, "target_organization_id": target})
}

async fn directory(
    app: &App,
    method: Method,
    path: &str,
    token: &str,
    requester: &str,
    target: &str,
    body: Option<Value>,
) -> Resp {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("authorization", format!("Bearer {token}"))
        .header("Requester-Organization-ID", requester)
        .header("Target-Organization-ID", target);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    send(req).await
}

async fn set_email(app: &App, org: &Org, email: &str) {
    app.cli(&[
        "organization",
        "set-email",
        "--organization",
        &org.id.to_string(),
        "--email",
        email,
    ])
    .await
    .json();
}

async fn send_invitation(app: &App, token: &str, from: &Org, email: &str, message: &str) -> Value {
    ok(
        rest(
            app,
            Method::POST,
            &format!("/api/v5/outgoing_invitations?organization_id={}", from.uuid),
            token,
            Some(json!({"email": email, "message": message})),
        )
        .await,
        "send a partnership invitation",
    )
    .await
}

/// Every incoming invitation the token sees.
async fn incoming(app: &App, token: &str) -> Vec<Value> {
    let r = rest(
        app,
        Method::GET,
        "/api/v5/incoming_invitations?page_size=100",
        token,
        None,
    )
    .await;
    ok(r, "list incoming invitations").await["results"]
        .as_array()
        .expect("results")
        .clone()
}

async fn key_of(app: &App, token: &str, invitation_id: &str) -> String {
    incoming(app, token)
        .await
        .iter()
        .find(|i| i["id"] == json!(invitation_id))
        .and_then(|i| i["key"].as_str())
        .unwrap_or_else(|| panic!("incoming invitation {invitation_id} not visible"))
        .to_string()
}

async fn oauth_token(app: &App, org: &Org) -> (String, String) {
    let client = app
        .cli(&["client", "create", "--organization", &org.id.to_string()])
        .await
        .json();
    let id = client["client_id"].as_str().expect("client_id").to_string();
    let secret = client["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let r = app
        .rest(
            Method::POST,
            "/v1/oauth2/token",
            Auth::None,
            Some(&json!({"client_id": id, "client_secret": secret})),
        )
        .await;
    let token = ok(r, "oauth token").await["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    (id, token)
}

async fn fixture(app: App) -> Fx {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let a_owner = app.user("a-owner").await;
    let a_admin = app.user("a-admin").await;
    let a_member = app.user("a-member").await;
    let k_owner = app.user("k-owner").await;
    let b_owner = app.user("b-owner").await;
    let b_admin = app.user("b-admin").await;
    let c_owner = app.user("c-owner").await;
    let c_admin = app.user("c-admin").await;
    let extra = app.user("extra").await;
    let invitee = app.user("invitee").await;

    let a = org_of(&app.org(&a_owner.token, &format!("A {tag}")).await);
    let k = org_of(
        &app.child_org(&a_owner.token, a.id, &format!("K {tag}"))
            .await,
    );
    let k2 = org_of(&app.org(&k_owner.token, &format!("K2 {tag}")).await);
    let m = org_of(&app.org(&a_member.token, &format!("M {tag}")).await);
    let b = org_of(&app.org(&b_owner.token, &format!("B {tag}")).await);
    let c = org_of(&app.org(&c_owner.token, &format!("C {tag}")).await);
    for org in [&a, &b, &c] {
        app.set_state(&org.id.to_string(), "active").await;
    }
    app.member_add(a.id, &a_admin.email, "admin").await;
    app.member_add(a.id, &a_member.email, "member").await;
    app.member_add(k.id, &k_owner.email, "owner").await;
    app.member_add(b.id, &b_admin.email, "admin").await;
    app.member_add(c.id, &c_admin.email, "admin").await;
    let a_email = format!("a-{tag}@orgs.example.com");
    let b_email = format!("b-{tag}@orgs.example.com");
    let c_email = format!("c-{tag}@orgs.example.com");
    set_email(&app, &a, &a_email).await;
    set_email(&app, &b, &b_email).await;
    set_email(&app, &c, &c_email).await;

    // A and B become partners, each side consenting through its owner.
    let sent = send_invitation(&app, &a_owner.token, &a, &b_email, "partners?").await;
    let key = key_of(&app, &b_owner.token, sent["id"].as_str().unwrap()).await;
    ok(
        rest(
            &app,
            Method::POST,
            &format!("/api/v5/incoming_invitations/{key}/accept"),
            &b_owner.token,
            Some(json!({})),
        )
        .await,
        "B accepts",
    )
    .await;

    // B becomes A's MyCreditApp guest: A's owner invites, B's owner accepts.
    let invited = guest_invitation(&app, &a_owner.token, &a, &b_email).await;
    ok(
        directory(
            &app,
            Method::POST,
            &format!("/v1/guest-invitations/{invited}/accept"),
            &b_owner.token,
            &b.uuid,
            &b.uuid,
            None,
        )
        .await,
        "B accepts A's guest invitation",
    )
    .await;
    let guest_token = guest_invitation(&app, &c_owner.token, &c, &a_email).await;

    let b_token = app.organization_token(b.id).await;
    let (_, b_oauth) = oauth_token(&app, &b).await;
    let (a_client, _) = oauth_token(&app, &a).await;
    let service = app.service_token("flows").await;

    let record = ok(
        directory(
            &app,
            Method::POST,
            "/v1/partners",
            &a_owner.token,
            &a.uuid,
            &a.uuid,
            Some(json!({"company_name": "C as A's customer", "partner_type": "customer", "email": c_email})),
        )
        .await,
        "A's record of C",
    )
    .await["id"]
        .as_str()
        .expect("record id")
        .to_string();
    let from_c = send_invitation(&app, &c_owner.token, &c, &a_email, "from C").await;
    let incoming_key = key_of(&app, &a_owner.token, from_c["id"].as_str().unwrap()).await;
    let to_member = send_invitation(&app, &c_owner.token, &c, &a_member.email, "to you").await;
    let member_key = key_of(&app, &a_member.token, to_member["id"].as_str().unwrap()).await;
    let outgoing = send_invitation(&app, &a_owner.token, &a, "elsewhere@example.net", "out").await
        ["id"]
        .as_str()
        .expect("id")
        .to_string();
    ok(
        rest(
            &app,
            Method::POST,
            &format!("/api/v1/organization/{}/owner/invitations", a.id),
            &a_owner.token,
            Some(json!({"email": invitee.email})),
        )
        .await,
        "owner invitation",
    )
    .await;
    let list = ok(
        rest(
            &app,
            Method::GET,
            &format!("/api/v1/organization/{}/owner/invitations", a.id),
            &a_owner.token,
            None,
        )
        .await,
        "owner invitations",
    )
    .await;
    let owner_invitation = list
        .as_array()
        .expect("invitations")
        .iter()
        .find(|i| i["userID"] == json!(invitee.id))
        .and_then(|i| i["id"].as_str())
        .expect("the open invitation")
        .to_string();
    let channel = app.channel().await;
    Fx {
        app,
        channel,
        a,
        a_email,
        a_owner,
        a_admin,
        a_member,
        m,
        k,
        k_owner,
        k2,
        b,
        b_admin,
        b_token,
        b_oauth,
        c,
        c_email,
        c_owner,
        c_admin,
        extra,
        invitee,
        service,
        record,
        incoming_key,
        member_key,
        outgoing,
        owner_invitation,
        guest_token,
        a_client,
    }
}

/// A new MyCreditApp guest invitation from `host` to `email`; its token.
async fn guest_invitation(app: &App, token: &str, host: &Org, email: &str) -> String {
    let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    ok(
        directory(
            app,
            Method::POST,
            "/v1/guest-invitations",
            token,
            &host.uuid,
            &host.uuid,
            Some(json!({"email": email, "expired_at": expires})),
        )
        .await,
        "send a guest invitation",
    )
    .await["invitation_token"]
        .as_str()
        .expect("invitation_token")
        .to_string()
}

// ---------------------------------------------------------------------------------------
// What A's state is, and what each outsider sees of A.

/// A JSON value without the keys that change on every read (presence, cursors).
fn stable(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "is_present" | "is_online" | "next" | "previous")
                })
                .map(|(k, v)| (k.clone(), stable(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(stable).collect()),
        other => other.clone(),
    }
}

async fn read(app: &App, path: &str, token: &str) -> Value {
    let r = rest(app, Method::GET, path, token, None).await;
    json!({"status": r.status.as_u16(), "body": stable(&r.json)})
}

/// Every stored fact about A, read by A's owner: partnerships, outgoing invitations,
/// directory, memberships, owners, parent, owner invitations, and K's parent and owners.
async fn state_of_a(fx: &Fx) -> Value {
    let app = &fx.app;
    let owner = &fx.a_owner.token;
    let a = &fx.a;
    let memberships = grpc_call(
        &fx.channel,
        &call(
            "orgd.v1.MembershipService.ListMemberships",
            json!({"organization": a.id.to_string()}),
        ),
        owner,
    )
    .await;
    let dir = directory(
        app,
        Method::GET,
        "/v1/partners?partner_types=customer&partner_types=supplier&limit=100&offset=0",
        owner,
        &a.uuid,
        &a.uuid,
        None,
    )
    .await;
    let mut guests = BTreeSet::new();
    for path in [
        "/v1/guest-invitations",
        "/v1/guest-connections",
        "/v1/host-connections",
    ] {
        let r = directory(app, Method::GET, path, owner, &a.uuid, &a.uuid, None).await;
        guests.insert(
            json!({"path": path, "status": r.status.as_u16(), "body": stable(&r.json)}).to_string(),
        );
    }
    json!({
        "guests": guests,
        "partnerships": read(app, &format!("/api/v5/orgs/{}/partnerships?page_size=100", a.uuid), owner).await,
        "outgoing": read(app, &format!("/api/v5/outgoing_invitations?organization_id={}&page_size=100", a.uuid), owner).await,
        "incoming": read(app, "/api/v5/incoming_invitations?page_size=100", owner).await,
        "member_incoming": read(app, "/api/v5/incoming_invitations?page_size=100", &fx.a_member.token).await,
        "directory": stable(&dir.json),
        "memberships": memberships.json,
        "a": read(app, &format!("/api/v1/organization/{}", a.id), owner).await,
        "k": read(app, &format!("/api/v1/organization/{}", fx.k.id), owner).await,
        "children": read(app, &format!("/api/v1/organization/{}/children", a.id), owner).await,
        "owner_invitations": read(app, &format!("/api/v1/organization/{}/owner/invitations", a.id), owner).await,
        "c_partnerships": read(app, &format!("/api/v5/orgs/{}/partnerships?page_size=100", fx.c.uuid), &fx.c_owner.token).await,
        "c_outgoing": read(app, &format!("/api/v5/outgoing_invitations?organization_id={}&page_size=100", fx.c.uuid), &fx.c_owner.token).await,
    })
}

/// What an outsider sees of A through every read that names it.
async fn view_of_a(fx: &Fx, who: &Outsider) -> Value {
    let app = &fx.app;
    let a = &fx.a;
    let home = &who.home;
    let dir = directory(
        app,
        Method::GET,
        "/v1/partners?partner_types=customer&partner_types=supplier&limit=100&offset=0",
        &who.token,
        &home.uuid,
        &a.uuid,
        None,
    )
    .await;
    json!({
        "incoming": read(app, "/api/v5/incoming_invitations?page_size=100", &who.token).await,
        "organizations": read(app, "/api/v1/organizations", &who.token).await,
        "a": read(app, &format!("/api/v1/organization/{}", a.id), &who.token).await,
        "k": read(app, &format!("/api/v1/organization/{}", fx.k.id), &who.token).await,
        "a_users": read(app, &format!("/api/v5/orgs/{}/partners/{}/users", home.uuid, a.uuid), &who.token).await,
        "a_outgoing": read(app, &format!("/api/v5/outgoing_invitations?organization_id={}", a.uuid), &who.token).await,
        "directory": json!({"status": dir.status.as_u16(), "body": stable(&dir.json)}),
    })
}

// ---------------------------------------------------------------------------------------
// The principals outside the consenting set, and the paths to each grant.

#[derive(Clone, Debug)]
struct Outsider {
    name: &'static str,
    token: String,
    /// The organization it speaks for (MyCreditApp's requester).
    home: Org,
    /// An organization it may own (a destination for moves).
    own: Org,
}

fn outsiders(fx: &Fx) -> Vec<Outsider> {
    vec![
        Outsider {
            name: "B's admin",
            token: fx.b_admin.token.clone(),
            home: fx.b.clone(),
            own: fx.b.clone(),
        },
        Outsider {
            name: "B's API token",
            token: fx.b_token.clone(),
            home: fx.b.clone(),
            own: fx.b.clone(),
        },
        Outsider {
            name: "B's OAuth client",
            token: fx.b_oauth.clone(),
            home: fx.b.clone(),
            own: fx.b.clone(),
        },
        Outsider {
            name: "A's member",
            token: fx.a_member.token.clone(),
            home: fx.a.clone(),
            own: fx.m.clone(),
        },
        Outsider {
            name: "C's admin",
            token: fx.c_admin.token.clone(),
            home: fx.c.clone(),
            own: fx.c.clone(),
        },
        Outsider {
            name: "a service token",
            token: fx.service.clone(),
            home: fx.c.clone(),
            own: fx.c.clone(),
        },
    ]
}

/// A way to a grant: what it grants, and the request.
struct Path {
    grant: &'static str,
    call: Call,
    /// Internal services are in this grant's consenting set (memberships: the internal
    /// MembershipService exists for them, docs/AUTHORIZATION.md).
    services_consent: bool,
}

fn path(grant: &'static str, call: Call) -> Path {
    Path {
        grant,
        call,
        services_consent: grant_services_consent(grant),
    }
}

fn grant_services_consent(grant: &str) -> bool {
    grant.contains("membership") || grant.contains("admin of A") || grant.contains("A's admin")
}

fn paths(fx: &Fx, who: &Outsider) -> Vec<Path> {
    let a = &fx.a;
    let home = &who.home.uuid;
    let mut dir_scopes = vec![(home.clone(), a.uuid.clone())];
    if home != &a.uuid {
        // Claiming to speak for A as well.
        dir_scopes.push((a.uuid.clone(), a.uuid.clone()));
    }
    let with = |mut base: Value, extra: Value| {
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let mut out = vec![
        path(
            "partnership invitation from A (giosg)",
            call(
                "orgd.v1.PartnershipInvitationService.CreateOutgoingInvitation",
                json!({"organization_id": a.uuid, "invitation": {"email": fx.c_email, "message": "m"}}),
            )
            .query(format!("organization_id={}", a.uuid))
            .body(json!({"email": fx.c_email, "message": "m"})),
        ),
        path(
            "accept an invitation for A",
            call(
                "orgd.v1.PartnershipInvitationService.AcceptIncomingInvitation",
                json!({"key": fx.incoming_key, "organization_id": a.uuid, "acceptance": {}}),
            )
            .query(format!("organization_id={}", a.uuid))
            .body(json!({})),
        ),
        path(
            "accept an invitation for A (no organization named)",
            call(
                "orgd.v1.PartnershipInvitationService.AcceptIncomingInvitation",
                json!({"key": fx.incoming_key, "acceptance": {}}),
            )
            .body(json!({})),
        ),
        path(
            "accept, for A, an invitation to A's member",
            call(
                "orgd.v1.PartnershipInvitationService.AcceptIncomingInvitation",
                json!({"key": fx.member_key, "organization_id": a.uuid, "acceptance": {}}),
            )
            .query(format!("organization_id={}", a.uuid))
            .body(json!({})),
        ),
        path(
            "reject an invitation for A",
            call(
                "orgd.v1.PartnershipInvitationService.RejectIncomingInvitation",
                json!({"key": fx.incoming_key, "organization_id": a.uuid}),
            )
            .query(format!("organization_id={}", a.uuid)),
        ),
        path(
            "cancel A's invitation",
            call(
                "orgd.v1.PartnershipInvitationService.CancelOutgoingInvitation",
                json!({"id": fx.outgoing}),
            ),
        ),
        path(
            "rename A's partnership",
            call(
                "orgd.v1.PartnershipService.PatchPartnership",
                json!({"organization_id": a.uuid, "partner_organization_id": fx.b.uuid, "display_name": "x"}),
            )
            .body(json!({"display_name": "x"})),
        ),
        path(
            "remove A's partnership",
            call(
                "orgd.v1.PartnershipService.DeletePartnership",
                json!({"organization_id": a.uuid, "partner_organization_id": fx.b.uuid}),
            ),
        ),
        path(
            "membership in A",
            call(
                "orgd.v1.MembershipService.SetMembership",
                json!({"organization": a.id.to_string(), "user": fx.extra.email, "role": "MEMBERSHIP_ROLE_MEMBER"}),
            ),
        ),
        path(
            "admin of A",
            call(
                "orgd.v1.MembershipService.SetMembership",
                json!({"organization": a.id.to_string(), "user": fx.a_member.email, "role": "MEMBERSHIP_ROLE_ADMIN"}),
            ),
        ),
        path(
            "remove A's admin",
            call(
                "orgd.v1.MembershipService.RemoveMembership",
                json!({"organization": a.id.to_string(), "user": fx.a_admin.email}),
            ),
        ),
        path(
            "owner invitation of A",
            call(
                "orgd.v1.OrganizationService.InviteOwner",
                json!({"organization_id": a.id, "email": fx.extra.email}),
            )
            .body(json!({"email": fx.extra.email})),
        ),
        path(
            "accept A's owner invitation",
            call(
                "orgd.v1.OrganizationService.AcceptOwnerInvitation",
                json!({"organization_id": a.id, "invitation_id": fx.owner_invitation}),
            ),
        ),
        path(
            "withdraw A's owner invitation",
            call(
                "orgd.v1.OrganizationService.RemoveOwnerInvitation",
                json!({"organization_id": a.id, "user_id": fx.invitee.id}),
            ),
        ),
        path(
            "owner of A",
            call(
                "orgd.v1.OrganizationService.AddOwner",
                json!({"organization_id": a.id, "user_id": fx.extra.id}),
            ),
        ),
        path(
            "API token of A (client credentials)",
            call(
                "orgd.v1.OAuthService.CreateToken",
                json!({"client_id": fx.a_client, "client_secret": "guessed"}),
            )
            .body(json!({"client_id": fx.a_client, "client_secret": "guessed"})),
        ),
        path(
            "move A's child out of A",
            call(
                "orgd.v1.OrganizationService.UpdateOrganization",
                json!({"organization": {"id": fx.k.id, "name": fx.k.name, "parentID": who.own.id}}),
            )
            .body(json!({"id": fx.k.id, "name": fx.k.name, "parentID": who.own.id})),
        ),
        path(
            "move A under another organization",
            call(
                "orgd.v1.OrganizationService.UpdateOrganization",
                json!({"organization": {"id": a.id, "name": a.name, "parentID": who.own.id}}),
            )
            .body(json!({"id": a.id, "name": a.name, "parentID": who.own.id})),
        ),
        path(
            "a child organization under A",
            call(
                "orgd.v1.OrganizationService.CreateOrganization",
                json!({"organization": {"name": "Intruder", "parentID": a.id}}),
            )
            .body(json!({"name": "Intruder", "parentID": a.id})),
        ),
    ];
    out.push(path(
        "accept a guest invitation for A",
        call(
            "orgd.v1.GuestConnectionService.AcceptGuestInvitation",
            json!({"requester_organization_id": a.uuid, "target_organization_id": a.uuid,
                "invitation_token": fx.guest_token}),
        ),
    ));
    for requester in [home.clone(), a.uuid.clone()] {
        out.push(path(
            "archive A's guest",
            call(
                "orgd.v1.GuestConnectionService.UpdateGuestConnection",
                json!({"requester_organization_id": requester, "target_organization_id": fx.b.uuid,
                    "guest_org_id": fx.b.uuid, "connection": {"archived": true}}),
            )
            .body(json!({"archived": true})),
        ));
    }
    for (requester, target) in dir_scopes {
        let scope = directory_headers(&requester, &target);
        out.push(path(
            "guest invitation from A",
            call(
                "orgd.v1.GuestConnectionService.CreateGuestInvitation",
                with(
                    scope.clone(),
                    json!({"invitation": {"email": fx.c_email, "expired_at": "2099-01-01T00:00:00Z"}}),
                ),
            )
            .body(json!({"email": fx.c_email, "expired_at": "2099-01-01T00:00:00Z"})),
        ));
        out.push(path(
            "partnership invitation from A (directory record)",
            call(
                "orgd.v1.OrganizationPartnerService.InviteOrganizationPartner",
                with(scope.clone(), json!({"partner_id": fx.record})),
            ),
        ));
        if requester == a.uuid && who.home.uuid == a.uuid {
            // A's own members keep their own directory (not a grant); only invitations
            // from it need settings permission.
            continue;
        }
        out.push(path(
            "a record in A's directory",
            call(
                "orgd.v1.OrganizationPartnerService.CreateOrganizationPartner",
                with(
                    scope.clone(),
                    json!({"partner": {"company_name": "Planted", "partner_type": "PARTNER_TYPE_CUSTOMER", "email": fx.c_email}}),
                ),
            )
            .body(json!({"company_name": "Planted", "partner_type": "customer", "email": fx.c_email})),
        ));
        out.push(path(
            "change A's directory record",
            call(
                "orgd.v1.OrganizationPartnerService.UpdateOrganizationPartner",
                with(
                    scope.clone(),
                    json!({"partner_id": fx.record, "partner": {"email": "attacker@example.net"}}),
                ),
            )
            .body(json!({"email": "attacker@example.net"})),
        ));
        out.push(path(
            "delete A's directory record",
            call(
                "orgd.v1.OrganizationPartnerService.DeleteOrganizationPartner",
                with(scope.clone(), json!({"partner_id": fx.record})),
            ),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_grant_of_a_without_its_consent() {
    for_each_backend(|app| async move {
        let fx = fixture(app).await;
        let mut failures = Vec::new();
        let mut tried = 0usize;
        let mut grants = BTreeSet::new();
        let mut before = state_of_a(&fx).await;
        for who in outsiders(&fx) {
            let mut seen = view_of_a(&fx, &who).await;
            for p in paths(&fx, &who) {
                if p.services_consent && who.name == "a service token" {
                    continue;
                }
                grants.insert(p.grant);
                for transport in transports(p.call.rpc) {
                    tried += 1;
                    let got = run(&fx, transport, &p.call, &who.token).await;
                    let what =
                        format!("{} → {} ({}, {transport:?})", who.name, p.grant, p.call.rpc);
                    if !(400..500).contains(&got.status) {
                        failures.push(format!("{what}: HTTP {} {}", got.status, got.text));
                    }
                    let after = state_of_a(&fx).await;
                    if after != before {
                        failures.push(format!(
                            "{what}: changed A's state\nbefore {before}\nafter  {after}"
                        ));
                        before = after;
                    }
                    let now = view_of_a(&fx, &who).await;
                    if now != seen {
                        failures.push(format!(
                            "{what}: made more of A visible\nbefore {seen}\nafter  {now}"
                        ));
                        seen = now;
                    }
                }
            }
        }
        eprintln!(
            "[{}] {tried} flows tried ({} grants, 6 principals, REST and gRPC)",
            fx.app.backend.name(),
            grants.len()
        );
        assert!(
            failures.is_empty(),
            "{} of {tried} flows failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Regression tests of the holes issue 13 found.

/// H1: being connected to A lets B read A's directory, never act as A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h1_a_partner_cannot_make_a_partner_with_anyone() {
    for_each_backend(|app| async move {
        let fx = fixture(app).await;
        let app = &fx.app;
        let a = &fx.a;
        for who in outsiders(&fx).into_iter().take(3) {
            // Reading the connected directory is what the published API allows.
            let r = directory(app, Method::GET, "/v1/partners?partner_types=customer&limit=10&offset=0", &who.token, &fx.b.uuid, &a.uuid, None).await;
            r.assert_status(200);
            let planted = directory(
                app,
                Method::POST,
                "/v1/partners",
                &who.token,
                &fx.b.uuid,
                &a.uuid,
                Some(json!({"company_name": "Planted", "partner_type": "customer", "email": fx.c_email})),
            )
            .await;
            assert_eq!(planted.status.as_u16(), 403, "{}: create in A's directory: {}", who.name, planted.text);
            let invited = directory(app, Method::POST, &format!("/v1/partners/{}/invitation", fx.record), &who.token, &fx.b.uuid, &a.uuid, None).await;
            assert_eq!(invited.status.as_u16(), 403, "{}: invite from A: {}", who.name, invited.text);
            let changed = directory(app, Method::PATCH, &format!("/v1/partners/{}", fx.record), &who.token, &fx.b.uuid, &a.uuid, Some(json!({"city": "Elsewhere"}))).await;
            assert_eq!(changed.status.as_u16(), 403, "{}: change A's record: {}", who.name, changed.text);
            let grpc = grpc_call(
                &fx.channel,
                &call(
                    "orgd.v1.OrganizationPartnerService.InviteOrganizationPartner",
                    json!({"requester_organization_id": fx.b.uuid, "target_organization_id": a.uuid, "partner_id": fx.record}),
                ),
                &who.token,
            )
            .await;
            assert_eq!(grpc.status, 403, "{}: invite from A over gRPC: {}", who.name, grpc.text);
        }
        // Nothing reached C, nothing left A.
        let from_a: Vec<Value> = incoming(app, &fx.c_admin.token)
            .await
            .into_iter()
            .filter(|i| i["created_by_organization_id"] == json!(a.uuid))
            .collect();
        assert!(from_a.is_empty(), "C received invitations from A: {from_a:?}");
        let out = ok(rest(app, Method::GET, &format!("/api/v5/outgoing_invitations?organization_id={}", a.uuid), &fx.a_owner.token, None).await, "A's outgoing").await;
        let to_c: Vec<&Value> = out["results"].as_array().unwrap().iter().filter(|i| i["email"] == json!(fx.c_email)).collect();
        assert!(to_c.is_empty(), "A sent invitations it never made: {to_c:?}");
        let got = directory(app, Method::GET, &format!("/v1/partners/{}", fx.record), &fx.a_owner.token, &a.uuid, &a.uuid, None).await;
        got.assert_status(200);
        assert_eq!(got.json["invitation_status"], Value::Null, "{}", got.text);
        assert_eq!(got.json["city"], Value::Null, "{}", got.text);
    })
    .await;
}

/// H2: a plain member of A sends no invitation through any surface; A's admin does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_a_plain_member_cannot_send_invitations() {
    for_each_backend(|app| async move {
        let fx = fixture(app).await;
        let app = &fx.app;
        let a = &fx.a;
        let member = &fx.a_member.token;
        let r = directory(app, Method::POST, &format!("/v1/partners/{}/invitation", fx.record), member, &a.uuid, &a.uuid, None).await;
        assert_eq!(r.status.as_u16(), 403, "MyCreditApp invitation by a member: {}", r.text);
        let grpc = grpc_call(
            &fx.channel,
            &call(
                "orgd.v1.OrganizationPartnerService.InviteOrganizationPartner",
                json!({"requester_organization_id": a.uuid, "target_organization_id": a.uuid, "partner_id": fx.record}),
            ),
            member,
        )
        .await;
        assert_eq!(grpc.status, 403, "over gRPC: {}", grpc.text);
        let giosg = rest(app, Method::POST, &format!("/api/v5/outgoing_invitations?organization_id={}", a.uuid), member, Some(json!({"email": fx.c_email}))).await;
        assert_eq!(giosg.status.as_u16(), 403, "giosg invitation by a member: {}", giosg.text);
        assert!(
            incoming(app, &fx.c_admin.token).await.iter().all(|i| i["created_by_organization_id"] != json!(a.uuid)),
            "the member's invitation reached C"
        );
        let sent_to_c = || async {
            let r = directory(app, Method::GET, "/v1/guest-invitations", &fx.a_owner.token, &a.uuid, &a.uuid, None).await;
            r.assert_status(200);
            r.json["items"].as_array().unwrap().iter().any(|i| i["email"] == json!(fx.c_email))
        };
        assert!(!sent_to_c().await, "the member sent A's guest invitation");
        // The consenting side: A's admin may (a guest invitation to the record's email).
        let r = directory(app, Method::POST, &format!("/v1/partners/{}/invitation", fx.record), &fx.a_admin.token, &a.uuid, &a.uuid, None).await;
        r.assert_status(200);
        assert!(sent_to_c().await, "the admin's guest invitation is sent");
    })
    .await;
}

/// L4: an invitation to a person is theirs; one to an organization is its admins' and
/// owners'. The message goes to nobody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l4_invitations_are_visible_only_to_their_addressee() {
    for_each_backend(|app| async move {
        let s_owner = app.user("sender").await;
        let person = app.user("person").await;
        let y_owner = app.user("y-owner").await;
        let y_admin = app.user("y-admin").await;
        let s = org_of(&app.org(&s_owner.token, &unique("S")).await);
        let y = org_of(&app.org(&y_owner.token, &unique("Y")).await);
        let z = org_of(&app.org(&person.token, &unique("Z")).await);
        for org in [&s, &y, &z] {
            app.set_state(&org.id.to_string(), "active").await;
        }
        app.member_add(y.id, &person.email, "member").await;
        app.member_add(y.id, &y_admin.email, "admin").await;
        let y_email = format!(
            "y-{}@orgs.example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        set_email(&app, &y, &y_email).await;

        let to_person = send_invitation(
            &app,
            &s_owner.token,
            &s,
            &person.email,
            "for the person only",
        )
        .await;
        let to_y = send_invitation(&app, &s_owner.token, &s, &y_email, "for Y's managers").await;
        let (to_person, to_y) = (to_person["id"].clone(), to_y["id"].clone());
        let channel = app.channel().await;
        let sees = |token: String| {
            let app = app.clone();
            let channel = channel.clone();
            async move {
                let rest_ids: BTreeSet<String> = incoming(&app, &token)
                    .await
                    .iter()
                    .map(|i| i["id"].to_string())
                    .collect();
                let g = grpc_call(
                    &channel,
                    &call(
                        "orgd.v1.PartnershipInvitationService.ListIncomingInvitations",
                        json!({"page_size": 100}),
                    ),
                    &token,
                )
                .await;
                assert_eq!(g.status, 200, "{}", g.text);
                let grpc_ids: BTreeSet<String> = g.json["results"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|i| i["id"].to_string())
                    .collect();
                assert_eq!(rest_ids, grpc_ids, "REST and gRPC agree");
                rest_ids
            }
        };
        let person_sees = sees(person.token.clone()).await;
        assert!(
            person_sees.contains(&to_person.to_string()),
            "the person sees theirs"
        );
        assert!(
            !person_sees.contains(&to_y.to_string()),
            "a plain member does not see Y's invitation"
        );
        for manager in [&y_admin, &y_owner] {
            let seen = sees(manager.token.clone()).await;
            assert!(
                seen.contains(&to_y.to_string()),
                "Y's managers see Y's invitation"
            );
            assert!(
                !seen.contains(&to_person.to_string()),
                "Y's managers do not see the person's invitation"
            );
        }
        // Not by key either.
        let key = incoming(&app, &person.token)
            .await
            .iter()
            .find(|i| i["id"] == to_person)
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_string();
        for manager in [&y_admin, &y_owner] {
            let r = rest(
                &app,
                Method::GET,
                &format!("/api/v5/incoming_invitations/{key}"),
                &manager.token,
                None,
            )
            .await;
            assert_eq!(r.status.as_u16(), 404, "{}", r.text);
            assert!(!r.text.contains("for the person only"), "{}", r.text);
            let r = rest(
                &app,
                Method::POST,
                &format!(
                    "/api/v5/incoming_invitations/{key}/accept?organization_id={}",
                    y.uuid
                ),
                &manager.token,
                Some(json!({})),
            )
            .await;
            assert_eq!(r.status.as_u16(), 404, "{}", r.text);
        }
        // The person answers it for an organization they manage.
        let r = rest(
            &app,
            Method::POST,
            &format!(
                "/api/v5/incoming_invitations/{key}/accept?organization_id={}",
                z.uuid
            ),
            &person.token,
            Some(json!({})),
        )
        .await;
        r.assert_status(200);
        assert_eq!(r.json["message"], json!("for the person only"));
    })
    .await;
}

/// L5: a move needs owner rights over the organization, its current parent and the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l5_a_child_cannot_leave_its_parents_tree() {
    for_each_backend(|app| async move {
        let fx = fixture(app).await;
        let app = &fx.app;
        let k = &fx.k;
        let move_k = |to: i64| json!({"id": k.id, "name": k.name, "parentID": to});
        let parent_of_k =
            || async { app.get_org_json(&fx.service, k.id).await["parentID"].clone() };
        // K's owner owns K2 but not A: 403 over REST and gRPC, and K stays.
        let r = rest(
            app,
            Method::PUT,
            "/api/v1/organization",
            &fx.k_owner.token,
            Some(move_k(fx.k2.id)),
        )
        .await;
        assert_eq!(r.status.as_u16(), 403, "{}", r.text);
        let g = grpc_call(
            &fx.channel,
            &call(
                "orgd.v1.OrganizationService.UpdateOrganization",
                json!({"organization": move_k(fx.k2.id)}),
            ),
            &fx.k_owner.token,
        )
        .await;
        assert_eq!(g.status, 403, "{}", g.text);
        assert_eq!(parent_of_k().await, json!(fx.a.id));
        // A's owner owns A and K but not K2: 403.
        let r = rest(
            app,
            Method::PUT,
            "/api/v1/organization",
            &fx.a_owner.token,
            Some(move_k(fx.k2.id)),
        )
        .await;
        assert_eq!(r.status.as_u16(), 403, "{}", r.text);
        assert_eq!(parent_of_k().await, json!(fx.a.id));
        // A's API token: Own over A's tree, nothing over K2.
        let a_token = app.organization_token(fx.a.id).await;
        let r = rest(
            app,
            Method::PUT,
            "/api/v1/organization",
            &a_token,
            Some(move_k(fx.k2.id)),
        )
        .await;
        assert_eq!(r.status.as_u16(), 403, "{}", r.text);
        // A's owners keep access.
        app.get_org(Auth::Bearer(&fx.a_owner.token), k.id)
            .await
            .assert_status(200);
        // Owning all three (K through A): the move is allowed.
        app.member_add(fx.k2.id, &fx.a_owner.email, "owner").await;
        let r = rest(
            app,
            Method::PUT,
            "/api/v1/organization",
            &fx.a_owner.token,
            Some(move_k(fx.k2.id)),
        )
        .await;
        r.assert_status(200);
        assert_eq!(parent_of_k().await, json!(fx.k2.id));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Every RPC that creates a cross-organization grant has its row in docs/AUTHORIZATION.md.

/// The RPCs that create, answer or withdraw a grant across organizations (or across the
/// tree), each with its row in the table.
const GRANT_RPCS: &[&str] = &[
    "orgd.v1.PartnershipInvitationService.CreateOutgoingInvitation",
    "orgd.v1.PartnershipInvitationService.AcceptIncomingInvitation",
    "orgd.v1.PartnershipInvitationService.RejectIncomingInvitation",
    "orgd.v1.PartnershipInvitationService.CancelOutgoingInvitation",
    "orgd.v1.PartnershipService.DeletePartnership",
    "orgd.v1.NetworkService.CreateNetworkInvitation",
    "orgd.v1.NetworkService.AcceptNetworkIncomingInvitation",
    "orgd.v1.NetworkService.RejectNetworkIncomingInvitation",
    "orgd.v1.NetworkService.CancelNetworkOutgoingInvitation",
    "orgd.v1.NetworkService.DeleteNetworkPartnership",
    "orgd.v1.OrganizationPartnerService.InviteOrganizationPartner",
    "orgd.v1.GuestConnectionService.CreateGuestInvitation",
    "orgd.v1.GuestConnectionService.AcceptGuestInvitation",
    "orgd.v1.GuestConnectionService.UpdateGuestConnection",
    "orgd.v1.OrganizationPartnerService.CreateOrganizationPartner",
    "orgd.v1.OrganizationPartnerService.UpdateOrganizationPartner",
    "orgd.v1.OrganizationPartnerService.DeleteOrganizationPartner",
    "orgd.v1.OrganizationPartnerService.ListOrganizationPartners",
    "orgd.v1.OrganizationPartnerService.GetOrganizationPartner",
    "orgd.v1.OrganizationService.InviteOwner",
    "orgd.v1.OrganizationService.AcceptOwnerInvitation",
    "orgd.v1.OrganizationService.RemoveOwnerInvitation",
    "orgd.v1.OrganizationService.AddOwner",
    "orgd.v1.OrganizationService.RemoveOwner",
    "orgd.v1.OrganizationService.CreateOrganization",
    "orgd.v1.OrganizationService.UpdateOrganization",
    "orgd.v1.MembershipService.SetMembership",
    "orgd.v1.MembershipService.RemoveMembership",
    "orgd.v1.OAuthService.CreateToken",
];

/// Names of RPCs that may create a grant: a new one whose name starts so must be listed
/// above (and so in the table), or below as creating none.
const GRANT_VERBS: &[&str] = &[
    "Create", "Accept", "Invite", "Add", "Set", "Move", "Grant", "Share", "Connect", "Join",
    "Transfer", "Link", "Issue",
];

/// RPCs whose names start with a grant verb but give nobody anything in another
/// organization, and why.
const NOT_GRANTS: &[(&str, &str)] = &[
    (
        "orgd.v1.OrganizationService.SetAvatar",
        "the organization's own picture",
    ),
    (
        "orgd.v1.OrganizationService.SetOrganizationQuickActions",
        "the organization's own settings",
    ),
    (
        "orgd.v1.BillingService.SetOrganizationState",
        "billing state, services only",
    ),
    (
        "orgd.v1.AvailabilityService.SetUserAvailability",
        "a user's availability, services only",
    ),
    (
        "orgd.v1.PresenceService.SetUserStatus",
        "a user's chat status, services only",
    ),
];

#[test]
fn every_grant_rpc_has_a_row_in_the_authorization_table() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/AUTHORIZATION.md"
    ))
    .expect("docs/AUTHORIZATION.md");
    let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with('|')).collect();
    let mut problems = Vec::new();
    let names: BTreeSet<String> = methods()
        .iter()
        .map(|m| m.full_name().to_string())
        .collect();
    for rpc in GRANT_RPCS {
        if !names.contains(*rpc) {
            problems.push(format!("{rpc} is listed but not in the descriptor pool"));
        }
        let short = rpc.rsplit('.').next().unwrap();
        if !rows.iter().any(|r| r.contains(&format!("`{short}`"))) {
            problems.push(format!("{rpc} has no row in docs/AUTHORIZATION.md"));
        }
    }
    for m in methods() {
        let (full, name) = (m.full_name(), m.name());
        if GRANT_VERBS.iter().any(|v| name.starts_with(v))
            && !GRANT_RPCS.contains(&full)
            && !NOT_GRANTS.iter().any(|(n, _)| *n == full)
        {
            problems.push(format!(
                "{full} may create a grant: list it in GRANT_RPCS with a row in \
                 docs/AUTHORIZATION.md, or in NOT_GRANTS with the reason"
            ));
        }
    }
    for grant in [
        "partnership",
        "invitation",
        "directory",
        "owner invitation",
        "membership",
        "API token",
        "mov",
    ] {
        if !rows
            .iter()
            .any(|r| r.to_lowercase().contains(&grant.to_lowercase()))
        {
            problems.push(format!("the table has no row about {grant}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Issue 12, item 9: one pending invitation per (sending organization, addressee).

/// The pending invitations `org` sent to `email`, as its owner lists them.
async fn pending_to(app: &App, token: &str, org: &Org, email: &str) -> Vec<Value> {
    let r = rest(
        app,
        Method::GET,
        &format!(
            "/api/v5/outgoing_invitations?organization_id={}&page_size=100",
            org.uuid
        ),
        token,
        None,
    )
    .await;
    ok(r, "outgoing").await["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|i| i["email"] == json!(email) && i["status"] == json!(0))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_invitations_at_once_leave_one_pending() {
    for_each_backend(|app| async move {
        let owner = app.user("dup-owner").await;
        let s = org_of(&app.org(&owner.token, &unique("Dup")).await);
        app.set_state(&s.id.to_string(), "active").await;
        let record_email = format!("record-{}@dup.example", uuid::Uuid::new_v4().simple());
        let record = ok(
            directory(
                &app,
                Method::POST,
                "/v1/partners",
                &owner.token,
                &s.uuid,
                &s.uuid,
                Some(json!({"company_name": "Dup Co", "partner_type": "customer", "email": record_email})),
            )
            .await,
            "record",
        )
        .await["id"]
            .as_str()
            .expect("id")
            .to_string();

        // A directory record invited 20 times at once.
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (app, token, uuid, record) =
                (app.clone(), owner.token.clone(), s.uuid.clone(), record.clone());
            tasks.push(tokio::spawn(async move {
                let r = directory(&app, Method::POST, &format!("/v1/partners/{record}/invitation"), &token, &uuid, &uuid, None).await;
                (r.status.as_u16(), r.text)
            }));
        }
        for t in tasks {
            let (status, text) = t.await.expect("join");
            assert_eq!(status, 200, "{text}");
        }
        // One guest invitation to the record's email.
        let sent = directory(&app, Method::GET, "/v1/guest-invitations", &owner.token, &s.uuid, &s.uuid, None).await;
        sent.assert_status(200);
        let to_record = sent.json["items"].as_array().unwrap().iter().filter(|i| i["email"] == json!(record_email)).count();
        assert_eq!(to_record, 1, "{}", sent.text);

        // The same email invited 20 times at once through giosg: each answer is the one
        // invitation.
        let email = format!("person-{}@dup.example", uuid::Uuid::new_v4().simple());
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (app, token, s, email) = (app.clone(), owner.token.clone(), s.clone(), email.clone());
            tasks.push(tokio::spawn(async move {
                let r = rest(
                    &app,
                    Method::POST,
                    &format!("/api/v5/outgoing_invitations?organization_id={}", s.uuid),
                    &token,
                    Some(json!({"email": email, "message": format!("try {i}")})),
                )
                .await;
                assert!(r.status.is_success(), "{} {}", r.status, r.text);
                r.json["id"].as_str().expect("id").to_string()
            }));
        }
        let mut ids = BTreeSet::new();
        for t in tasks {
            ids.insert(t.await.expect("join"));
        }
        let pending = pending_to(&app, &owner.token, &s, &email).await;
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert_eq!(ids.len(), 1, "every repeat answered the same invitation: {ids:?}");
        assert_eq!(pending[0]["id"].as_str(), ids.iter().next().map(String::as_str));

        // Once answered, a new invitation may be sent.
        let cancelled = rest(&app, Method::DELETE, &format!("/api/v5/outgoing_invitations/{}", pending[0]["id"].as_str().unwrap()), &owner.token, None).await;
        cancelled.assert_status(204);
        send_invitation(&app, &owner.token, &s, &email, "again").await;
        assert_eq!(pending_to(&app, &owner.token, &s, &email).await.len(), 1);
    })
    .await;
}

/// m0006 applies to a database that already holds duplicates: it keeps the oldest pending
/// one of each (sender, email) and every resolved one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unique_pending_migration_resolves_existing_duplicates() {
    use migration::{Migrator, MigratorTrait};
    use orgd::entity::{organization, partnership_invitation as inv};
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

    for backend in backends() {
        let db = TestDatabase::create(backend).await;
        let conn = sea_orm::Database::connect(db.url.as_str())
            .await
            .expect("connect");
        Migrator::up(&conn, Some(5))
            .await
            .expect("migrate to m0005");
        let now = chrono::Utc::now();
        let org = organization::ActiveModel {
            uuid: Set(uuid::Uuid::new_v4()),
            name: Set("Before m0006".into()),
            description: Set(String::new()),
            language: Set("en".into()),
            timezone: Set("UTC".into()),
            enforces_two_factor_auth: Set(false),
            data_retention_period: Set(0),
            tags: Set("[]".into()),
            state: Set("active".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&conn)
        .await
        .expect("organization");
        let row = |email: &str, status: i32| inv::ActiveModel {
            uuid: Set(uuid::Uuid::new_v4()),
            key: Set(uuid::Uuid::new_v4().simple().to_string()),
            organization_id: Set(org.id),
            email: Set(email.to_string()),
            message: Set(String::new()),
            status: Set(status),
            created_at: Set(now),
            ..Default::default()
        };
        let mut kept = Vec::new();
        for (email, status) in [
            ("twice@dup.example", 0),
            ("twice@dup.example", 0),
            ("twice@dup.example", 0),
            ("twice@dup.example", 1),
            ("twice@dup.example", 2),
            ("once@dup.example", 0),
        ] {
            // Inserted without reading the row back: the entity knows columns that later
            // migrations add.
            let id = inv::Entity::insert(row(email, status))
                .exec(&conn)
                .await
                .expect("invitation")
                .last_insert_id;
            kept.push(id);
        }
        Migrator::up(&conn, None)
            .await
            .expect("m0006 over duplicates");
        let left: Vec<i64> = inv::Entity::find()
            .filter(inv::Column::OrganizationId.eq(org.id))
            .order_by_asc(inv::Column::Id)
            .all(&conn)
            .await
            .expect("rows")
            .into_iter()
            .map(|m| m.id)
            .collect();
        let expected: Vec<i64> = [0, 3, 4, 5].iter().map(|i| kept[*i]).collect();
        assert_eq!(
            left,
            expected,
            "[{}] the oldest pending one and the resolved ones stay",
            backend.name()
        );
        // And the index holds from now on.
        assert!(
            row("twice@dup.example", 0).insert(&conn).await.is_err(),
            "[{}] a second pending invitation is refused",
            backend.name()
        );
        let _ = conn.close().await;
        db.destroy().await;
    }
}
