//! The rest of the GroupAlarm Organization API (`/api/v1`): children, availability and its
//! history, avatar, location, owners and owner invitations, quick actions, paginated
//! top-level organizations and the trial, over REST with every status code each operation
//! can answer, the hierarchy's permission rules, real concurrent requests, and the happy path
//! of each new RPC over native gRPC.

mod common;

use std::collections::HashSet;

use base64::Engine;
use common::*;
use orgd::proto::v1::availability_service_client::AvailabilityServiceClient;
use orgd::proto::v1::*;
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;

// ---------------------------------------------------------------------------------------
// Helpers.

/// `/api/v1/organization/{id}{tail}`.
fn org_path(id: impl std::fmt::Display, tail: &str) -> String {
    format!("/api/v1/organization/{id}{tail}")
}

const MISSING: i64 = 999_999;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("valid base64 constant")
}

/// A real 1×1 RGBA PNG.
fn png() -> Vec<u8> {
    unb64(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    )
}

/// A second, different PNG (the same image with a trailing byte after IEND).
fn png2() -> Vec<u8> {
    let mut p = png();
    p.push(0);
    p
}

fn jpeg() -> Vec<u8> {
    vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
    ]
}

fn gif() -> Vec<u8> {
    unb64("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
}

fn webp() -> Vec<u8> {
    unb64("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
}

/// A PNG padded with zeros after IEND to exactly `len` bytes.
fn png_of_len(len: usize) -> Vec<u8> {
    let mut p = png();
    assert!(len >= p.len());
    p.resize(len, 0);
    p
}

/// The JSON body of PUT avatar: a JSON string holding base64.
fn avatar_body(bytes: &[u8]) -> Value {
    Value::String(b64(bytes))
}

#[track_caller]
fn assert_empty_200(r: &Resp, what: &str) {
    assert_eq!(
        r.status.as_u16(),
        200,
        "{what}: expected 200, got {} {}",
        r.status,
        r.text
    );
    assert!(
        r.text.trim().is_empty(),
        "{what}: 200 with an empty body, got {:?}",
        r.text
    );
}

/// Asserts the GroupAlarm error body with a description of the request.
#[track_caller]
fn expect_error(r: &Resp, status: u16, reason: &str, what: &str) {
    assert_eq!(
        r.status.as_u16(),
        status,
        "{what}: expected {status} {reason}, got {} {}",
        r.status,
        r.text
    );
    r.assert_error(status, reason);
}

#[track_caller]
fn expect_status(r: &Resp, status: u16, what: &str) {
    assert_eq!(
        r.status.as_u16(),
        status,
        "{what}: expected {status}, got {} {}",
        r.status,
        r.text
    );
}

fn counts(available: i64, in_event: i64, not_available: i64) -> Value {
    json!({
        "countAvailable": available,
        "countInEvent": in_event,
        "countNotAvailable": not_available,
    })
}

/// An organization's JSON without the availability counts, which only GetOrganization must
/// fill in (lists and create responses may leave them null).
fn without_counts(org: &Value) -> Value {
    let mut org = org.clone();
    if let Some(obj) = org.as_object_mut() {
        obj.remove("availableUsers");
        obj.remove("availableUsersTotal");
    }
    org
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort();
    v
}

#[track_caller]
fn owner_ids(org: &Value) -> Vec<i64> {
    sorted(
        org["ownerIDs"]
            .as_array()
            .unwrap_or_else(|| panic!("ownerIDs is an array: {org}"))
            .iter()
            .map(|v| v.as_i64().expect("owner id is a number"))
            .collect(),
    )
}

impl App {
    async fn get(&self, path: &str, auth: Auth<'_>) -> Resp {
        self.rest(Method::GET, path, auth, None).await
    }

    /// GET `path` as `token` (Bearer), asserting 200.
    async fn get_ok(&self, path: &str, token: &str) -> Value {
        let r = self.get(path, Auth::Bearer(token)).await;
        expect_status(&r, 200, &format!("GET {path}"));
        r.json
    }

    async fn org_json(&self, token: &str, id: i64) -> Value {
        self.get_ok(&org_path(id, ""), token).await
    }

    async fn put_avatar(&self, token: &str, id: i64, bytes: &[u8]) -> Resp {
        self.rest(
            Method::PUT,
            &org_path(id, "/avatar"),
            Auth::Bearer(token),
            Some(&avatar_body(bytes)),
        )
        .await
    }

    async fn quick_actions(&self, token: &str, id: i64) -> Value {
        self.get_ok(&org_path(id, "/quick-actions"), token).await
    }

    async fn invitations(&self, token: &str, id: i64) -> Value {
        self.get_ok(&org_path(id, "/owner/invitations"), token)
            .await
    }

    async fn invite(&self, token: &str, id: i64, email: &str) -> Resp {
        self.rest(
            Method::POST,
            &org_path(id, "/owner/invitations"),
            Auth::Bearer(token),
            Some(&json!({ "email": email })),
        )
        .await
    }

    async fn accept(&self, auth: Auth<'_>, id: i64, invitation: &str) -> Resp {
        self.rest(
            Method::POST,
            &org_path(id, &format!("/owner/invitations/{invitation}/accept")),
            auth,
            None,
        )
        .await
    }

    /// The avatar bytes and content type behind the organization's avatarURL (None: "").
    async fn avatar_of(&self, token: &str, id: i64) -> Option<(Vec<u8>, String)> {
        let org = self.org_json(token, id).await;
        let url = org["avatarURL"]
            .as_str()
            .filter(|u| !u.is_empty())?
            .to_string();
        let resp = self
            .http
            .get(&url)
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("GET avatar");
        assert_eq!(resp.status().as_u16(), 200, "GET {url}");
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Some((resp.bytes().await.unwrap().to_vec(), ct))
    }
}

async fn availability_client(app: &App) -> AvailabilityServiceClient<tonic::transport::Channel> {
    AvailabilityServiceClient::connect(app.endpoint())
        .await
        .expect("connect AvailabilityService")
}

async fn set_status(
    app: &App,
    token: &str,
    organization: &str,
    user: &str,
    status: AvailabilityStatus,
) -> Result<tonic::Response<SetUserAvailabilityResponse>, tonic::Status> {
    availability_client(app)
        .await
        .set_user_availability(bearer(
            SetUserAvailabilityRequest {
                organization: organization.to_string(),
                user: user.to_string(),
                status: status as i32,
            },
            token,
        ))
        .await
}

#[track_caller]
fn ok<T>(r: Result<tonic::Response<T>, tonic::Status>, what: &str) -> T {
    match r {
        Ok(r) => r.into_inner(),
        Err(s) => panic!("{what}: {:?} {}", s.code(), s.message()),
    }
}

/// One of the codes the REST surface answers with 409.
#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>, what: &str) {
    match r {
        Ok(r) => panic!("{what}: expected a conflict, got OK: {:?}", r.get_ref()),
        Err(s) => assert!(
            matches!(
                s.code(),
                Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted
            ),
            "{what}: expected FAILED_PRECONDITION, ALREADY_EXISTS or ABORTED, got {:?}: {}",
            s.code(),
            s.message()
        ),
    }
}

fn quick_action(name: &str) -> Value {
    json!({
        "name": name,
        "color": "#ff0000",
        "icon": "bell",
        "one_click": true,
        "resource": "alarm_template",
        "resource_id": 7,
    })
}

const QUICK_ACTION_KEYS: &[&str] = &[
    "id",
    "organization_id",
    "name",
    "color",
    "icon",
    "one_click",
    "resource",
    "resource_id",
];

#[track_caller]
fn assert_quick_action_shape(qa: &Value, organization: i64) {
    let obj = qa
        .as_object()
        .unwrap_or_else(|| panic!("quick action is an object: {qa}"));
    for key in QUICK_ACTION_KEYS {
        assert!(obj.contains_key(*key), "quick action lacks {key:?}: {qa}");
    }
    assert!(
        qa["id"].as_i64().is_some_and(|i| i > 0),
        "id is a positive number: {qa}"
    );
    assert_eq!(qa["organization_id"], json!(organization), "{qa}");
    assert!(qa["name"].is_string(), "{qa}");
    assert!(qa["color"].is_string(), "{qa}");
    assert!(qa["icon"].is_string(), "{qa}");
    assert!(qa["one_click"].is_boolean(), "{qa}");
    assert!(qa["resource"].is_string(), "{qa}");
    assert!(qa["resource_id"].is_i64(), "{qa}");
}

#[track_caller]
fn names_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a JSON array: {list}"))
        .iter()
        .map(|q| q["name"].as_str().expect("name").to_string())
        .collect()
}

/// One operation of the API with the access level it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Read,
    Own,
}

struct Call {
    what: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    need: Need,
}

/// Every organization-scoped operation of this slice against `id`; `subject` is a user id
/// (and email) the owner operations name, `owner` a user owning the organization.
fn calls(id: i64, subject: &User, owner: &User) -> Vec<Call> {
    let s = subject.id;
    vec![
        Call {
            what: "GetChildOrganizations",
            method: Method::GET,
            path: org_path(id, "/children"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetAvailableUsers",
            method: Method::GET,
            path: org_path(id, "/availability"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetAvailabilityHistory",
            method: Method::GET,
            path: org_path(id, "/availability-history"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetAvatar",
            method: Method::GET,
            path: org_path(id, "/avatar"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetOrganizationQuickActions",
            method: Method::GET,
            path: org_path(id, "/quick-actions"),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "GetOwnerInParentOrganization",
            method: Method::GET,
            path: org_path(id, &format!("/owner/{}", owner.id)),
            body: None,
            need: Need::Read,
        },
        Call {
            what: "SetAvatar",
            method: Method::PUT,
            path: org_path(id, "/avatar"),
            body: Some(avatar_body(&png2())),
            need: Need::Own,
        },
        Call {
            what: "SetAvatar (remove)",
            method: Method::PUT,
            path: org_path(id, "/avatar"),
            body: Some(json!("")),
            need: Need::Own,
        },
        Call {
            what: "UpsertOrganizationLocation",
            method: Method::PUT,
            path: org_path(id, "/location"),
            body: Some(json!({"address": "Elsewhere", "latitude": 1.0, "longitude": 2.0})),
            need: Need::Own,
        },
        Call {
            what: "DeleteOrganizationLocation",
            method: Method::DELETE,
            path: org_path(id, "/location"),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "ListOwnerInvitations",
            method: Method::GET,
            path: org_path(id, "/owner/invitations"),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "InviteOwner",
            method: Method::POST,
            path: org_path(id, "/owner/invitations"),
            body: Some(json!({"email": subject.email})),
            need: Need::Own,
        },
        Call {
            what: "RemoveOwnerInvitation",
            method: Method::DELETE,
            path: org_path(id, &format!("/owner/invitations/{s}")),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "AddOwner",
            method: Method::PUT,
            path: org_path(id, &format!("/owner/{s}")),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "RemoveOwner",
            method: Method::DELETE,
            path: org_path(id, &format!("/owner/{}", owner.id)),
            body: None,
            need: Need::Own,
        },
        Call {
            what: "SetOrganizationQuickActions",
            method: Method::PUT,
            path: org_path(id, "/quick-actions"),
            body: Some(json!([quick_action("Hijack")])),
            need: Need::Own,
        },
    ]
}

/// Everything the calls above could change, read by an owner.
async fn state_of(app: &App, owner_token: &str, id: i64) -> (Value, Value, Value, Value) {
    let org = app.org_json(owner_token, id).await;
    let invitations = app.invitations(owner_token, id).await;
    let quick = app.quick_actions(owner_token, id).await;
    let avatar = app
        .avatar_of(owner_token, id)
        .await
        .map(|(b, ct)| json!({"bytes": b64(&b), "type": ct}))
        .unwrap_or(Value::Null);
    (org, invitations, quick, avatar)
}

/// A root organization of `owner` carrying an avatar, a location, quick actions and an open
/// owner invitation for `invitee`, so that any write would show.
async fn furnished_org(app: &App, owner: &User, invitee: &User) -> i64 {
    let id = id_of(&app.org(&owner.token, &unique("Furnished")).await);
    expect_status(
        &app.put_avatar(&owner.token, id, &png()).await,
        200,
        "set avatar",
    );
    let r = app
        .rest(
            Method::PUT,
            &org_path(id, "/location"),
            Auth::Bearer(&owner.token),
            Some(&json!({"address": "Hauptstraße 1", "latitude": 52.5, "longitude": 13.4})),
        )
        .await;
    expect_status(&r, 200, "set location");
    let r = app
        .rest(
            Method::PUT,
            &org_path(id, "/quick-actions"),
            Auth::Bearer(&owner.token),
            Some(&json!([quick_action("Keep")])),
        )
        .await;
    expect_status(&r, 200, "set quick actions");
    expect_status(
        &app.invite(&owner.token, id, &invitee.email).await,
        201,
        "invite",
    );
    id
}

// ---------------------------------------------------------------------------------------
// Children.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_lists_direct_children_with_the_path_and_total() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let root = app.org(&owner.token, "Root").await;
        let r = id_of(&root);
        let c1 = id_of(&app.child_org(&owner.token, r, "C1").await);
        let c2 = id_of(&app.child_org(&owner.token, r, "C2").await);
        let g = id_of(&app.child_org(&owner.token, c1, "G").await);
        let c3 = id_of(&app.child_org(&owner.token, r, "C3").await);

        let body = app.get_ok(&org_path(r, "/children"), &owner.token).await;
        let obj = body.as_object().expect("object");
        for key in ["childs", "path", "totalChilds"] {
            assert!(
                obj.contains_key(key),
                "children response lacks {key}: {body}"
            );
        }
        assert_eq!(
            ids_of(&body["childs"]),
            vec![c1, c2, c3],
            "direct children only, ordered by id"
        );
        for child in body["childs"].as_array().unwrap() {
            assert_organization_shape(child);
            assert_eq!(child["parentID"], json!(r));
        }
        assert_eq!(body["childs"][0]["hasChildren"], json!(true));
        assert_eq!(body["totalChilds"], json!(3));
        assert_eq!(ids_of(&body["path"]), vec![r], "the root's path is itself");
        let fresh_root = app.org_json(&owner.token, r).await;
        assert_eq!(
            without_counts(&body["path"][0]),
            without_counts(&fresh_root)
        );

        // A grandchild: path root → child → grandchild, no children.
        let body = app.get_ok(&org_path(g, "/children"), &owner.token).await;
        assert_eq!(body["childs"], json!([]));
        assert_eq!(body["totalChilds"], json!(0));
        assert_eq!(ids_of(&body["path"]), vec![r, c1, g]);
        for org in body["path"].as_array().unwrap() {
            assert_organization_shape(org);
        }

        let body = app.get_ok(&org_path(c1, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["childs"]), vec![g]);
        assert_eq!(ids_of(&body["path"]), vec![r, c1]);
        assert_eq!(body["totalChilds"], json!(1));

        // Readers: a member of the child, the org's API token, a service.
        let member = app.user("member").await;
        app.member_add(c1, &member.email, "member").await;
        let member_view = app.get_ok(&org_path(c1, "/children"), &member.token).await;
        assert_eq!(ids_of(&member_view["childs"]), vec![g]);
        assert_eq!(member_view["totalChilds"], json!(1));
        let api = app.organization_token(r).await;
        let rr = app
            .get(&org_path(c1, "/children"), Auth::ApiToken(&api))
            .await;
        expect_status(&rr, 200, "API token of the root");
        assert_eq!(ids_of(&rr.json["childs"]), vec![g]);
        let service = app.service_token("reporting").await;
        let rr = app
            .get(&org_path(r, "/children"), Auth::Bearer(&service))
            .await;
        expect_status(&rr, 200, "service");
        assert_eq!(rr.json["totalChilds"], json!(3));
        expect_error(
            &app.get(&org_path(MISSING, "/children"), Auth::Bearer(&service))
                .await,
            404,
            "NOT_FOUND",
            "service, missing organization",
        );
        // The member of the child cannot read the root's children.
        expect_error(
            &app.get(&org_path(r, "/children"), Auth::Bearer(&member.token))
                .await,
            403,
            "PERMISSION_DENIED",
            "member of a child reading the parent",
        );
        let _ = c2;
        // The path stops where the caller's access does: a reader of the child only does
        // not learn about the root (tenant isolation holds inside a tree too).
        assert_eq!(
            ids_of(&member_view["path"]),
            vec![c1],
            "path for a member of the child: {member_view}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_pagination_defaults_and_bounds() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let r = id_of(&app.org(&owner.token, "Many").await);
        let mut children = Vec::new();
        for i in 0..52 {
            children.push(id_of(
                &app.child_org(&owner.token, r, &format!("Child {i}")).await,
            ));
        }
        children.sort();
        let page = |q: &str| {
            let app = app.clone();
            let token = owner.token.clone();
            let path = org_path(r, &format!("/children{q}"));
            async move { app.get(&path, Auth::Bearer(&token)).await }
        };

        let body = page("").await;
        expect_status(&body, 200, "default page");
        assert_eq!(
            ids_of(&body.json["childs"]),
            children[..50].to_vec(),
            "default limit 50"
        );
        assert_eq!(body.json["totalChilds"], json!(52));
        assert_eq!(ids_of(&body.json["path"]), vec![r]);

        let body = page("?limit=2&offset=50").await;
        expect_status(&body, 200, "last page");
        assert_eq!(ids_of(&body.json["childs"]), children[50..].to_vec());
        assert_eq!(body.json["totalChilds"], json!(52));

        let body = page("?limit=3&offset=4").await;
        expect_status(&body, 200, "middle page");
        assert_eq!(ids_of(&body.json["childs"]), children[4..7].to_vec());

        let body = page("?limit=100").await;
        expect_status(&body, 200, "limit 100");
        assert_eq!(ids_of(&body.json["childs"]), children);

        let body = page("?limit=1").await;
        expect_status(&body, 200, "limit 1");
        assert_eq!(ids_of(&body.json["childs"]), vec![children[0]]);

        let body = page("?offset=60").await;
        expect_status(&body, 200, "offset past the end");
        assert_eq!(body.json["childs"], json!([]));
        assert_eq!(body.json["totalChilds"], json!(52));

        for q in [
            "?limit=0",
            "?limit=101",
            "?limit=-1",
            "?limit=x",
            "?offset=-1",
            "?offset=x",
        ] {
            expect_error(&page(q).await, 400, "INVALID_ARGUMENT", q);
        }
        expect_error(
            &app.get(
                "/api/v1/organization/abc/children",
                Auth::Bearer(&owner.token),
            )
            .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric id",
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Availability.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_counts_the_organization_and_its_subtree() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let r_org = app.org(&owner.token, "Root").await;
        let r = id_of(&r_org);
        let c_org = app.child_org(&owner.token, r, "Child").await;
        let c = id_of(&c_org);
        let g = id_of(&app.child_org(&owner.token, c, "Grandchild").await);
        let service = app.service_token("alarming").await;

        // Nobody has a status yet.
        for id in [r, c, g] {
            let body = app
                .get_ok(&org_path(id, "/availability"), &owner.token)
                .await;
            assert_eq!(
                body,
                json!({"countInRoot": counts(0, 0, 0), "countTotal": counts(0, 0, 0)}),
                "no statuses yet in {id}"
            );
        }

        let a1 = app.user("a1").await;
        let a2 = app.user("a2").await;
        let a3 = app.user("a3").await;
        let c1 = app.user("c1").await;
        let c2 = app.user("c2").await;
        let g1 = app.user("g1").await;
        for (org, u) in [(r, &a1), (r, &a2), (r, &a3), (c, &c1), (c, &c2), (g, &g1)] {
            app.member_add(org, &u.email, "member").await;
        }
        let rs = r.to_string();
        let cu = c_org["uuid"].as_str().unwrap().to_string();
        let gs = g.to_string();
        use AvailabilityStatus::*;
        // Users by email, int64 id and UUID; organizations by id and UUID.
        ok(
            set_status(&app, &service, &rs, &a1.email, Available).await,
            "a1",
        );
        ok(
            set_status(&app, &service, &rs, &a2.id.to_string(), InEvent).await,
            "a2",
        );
        ok(
            set_status(&app, &service, &rs, &a3.uuid, NotAvailable).await,
            "a3",
        );
        // A second report replaces the first.
        ok(
            set_status(&app, &service, &rs, &a3.email, Available).await,
            "a3 again",
        );
        ok(
            set_status(&app, &service, &cu, &c1.email, NotAvailable).await,
            "c1",
        );
        ok(
            set_status(&app, &service, &cu, &c2.uuid, InEvent).await,
            "c2",
        );
        ok(
            set_status(&app, &service, &gs, &g1.email, Available).await,
            "g1",
        );

        let expected = [
            (r, counts(2, 1, 0), counts(3, 2, 1)),
            (c, counts(0, 1, 1), counts(1, 1, 1)),
            (g, counts(1, 0, 0), counts(1, 0, 0)),
        ];
        for (id, in_root, total) in &expected {
            let body = app
                .get_ok(&org_path(id, "/availability"), &owner.token)
                .await;
            assert_eq!(
                body,
                json!({"countInRoot": in_root, "countTotal": total}),
                "availability of {id}"
            );
            let org = app.org_json(&owner.token, *id).await;
            assert_eq!(&org["availableUsers"], in_root, "availableUsers of {id}");
            assert_eq!(
                &org["availableUsersTotal"], total,
                "availableUsersTotal of {id}"
            );
        }

        // Readers: a member (of the root), the API token, the service; outsiders are refused.
        let body = app.get_ok(&org_path(r, "/availability"), &a1.token).await;
        assert_eq!(body["countTotal"], counts(3, 2, 1));
        let body = app.get_ok(&org_path(c, "/availability"), &service).await;
        assert_eq!(body["countInRoot"], counts(0, 1, 1));
        let api = app.organization_token(c).await;
        let rr = app
            .get(&org_path(g, "/availability"), Auth::ApiToken(&api))
            .await;
        expect_status(&rr, 200, "API token of the parent");
        assert_eq!(rr.json["countInRoot"], counts(1, 0, 0));
        expect_error(
            &app.get(&org_path(MISSING, "/availability"), Auth::Bearer(&service))
                .await,
            404,
            "NOT_FOUND",
            "service, missing organization",
        );
        let outsider = app.user("outsider").await;
        for id in [r, MISSING] {
            expect_error(
                &app.get(
                    &org_path(id, "/availability"),
                    Auth::Bearer(&outsider.token),
                )
                .await,
                403,
                "PERMISSION_DENIED",
                "outsider",
            );
        }
        // g1 (member of the grandchild only) cannot read the root.
        expect_error(
            &app.get(&org_path(r, "/availability"), Auth::Bearer(&g1.token))
                .await,
            403,
            "PERMISSION_DENIED",
            "member of a descendant",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_service_rejects_bad_reports_and_changes_nothing() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = id_of(&app.org(&owner.token, "Reported").await);
        let other = id_of(&app.org(&owner.token, "Other").await);
        let member = app.user("member").await;
        app.member_add(org, &member.email, "member").await;
        let stranger = app.user("stranger").await;
        let service = app.service_token("alarming").await;
        let api = app.organization_token(org).await;
        let os = org.to_string();
        use AvailabilityStatus::*;

        ok(
            set_status(&app, &service, &os, &member.email, InEvent).await,
            "baseline",
        );
        let before = app
            .get_ok(&org_path(org, "/availability"), &owner.token)
            .await;
        assert_eq!(before["countInRoot"], counts(0, 1, 0));

        // User tokens (even the owner's) and API tokens may not report.
        assert_code(
            set_status(&app, &owner.token, &os, &member.email, Available).await,
            Code::PermissionDenied,
        );
        assert_code(
            set_status(&app, &member.token, &os, &member.email, Available).await,
            Code::PermissionDenied,
        );
        assert_code(
            set_status(&app, &api, &os, &member.email, Available).await,
            Code::PermissionDenied,
        );
        // No or an unknown token.
        let mut client = availability_client(&app).await;
        assert_code(
            client
                .set_user_availability(SetUserAvailabilityRequest {
                    organization: os.clone(),
                    user: member.email.clone(),
                    status: Available as i32,
                })
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            set_status(&app, "not-a-token", &os, &member.email, Available).await,
            Code::Unauthenticated,
        );
        // Unspecified status.
        assert_code(
            set_status(&app, &service, &os, &member.email, Unspecified).await,
            Code::InvalidArgument,
        );
        // Unknown users.
        assert_code(
            set_status(&app, &service, &os, "nobody@example.com", Available).await,
            Code::NotFound,
        );
        assert_code(
            set_status(&app, &service, &os, "987654321", Available).await,
            Code::NotFound,
        );
        assert_code(
            set_status(
                &app,
                &service,
                &os,
                &uuid::Uuid::new_v4().to_string(),
                Available,
            )
            .await,
            Code::NotFound,
        );
        // A user who is not a member of that organization.
        assert_code(
            set_status(&app, &service, &os, &stranger.email, Available).await,
            Code::FailedPrecondition,
        );
        assert_code(
            set_status(&app, &service, &other.to_string(), &member.email, Available).await,
            Code::FailedPrecondition,
        );

        let after = app
            .get_ok(&org_path(org, "/availability"), &owner.token)
            .await;
        assert_eq!(after, before, "rejected reports changed nothing");
        let after = app
            .get_ok(&org_path(other, "/availability"), &owner.token)
            .await;
        assert_eq!(after["countTotal"], counts(0, 0, 0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_history_covers_fourteen_days_ending_today() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let org = id_of(&app.org(&owner.token, "Historic").await);
        let service = app.service_token("alarming").await;
        let users = [
            app.user("x1").await,
            app.user("x2").await,
            app.user("x3").await,
            app.user("x4").await,
        ];
        for u in &users {
            app.member_add(org, &u.email, "member").await;
        }
        let os = org.to_string();
        use AvailabilityStatus::*;
        ok(
            set_status(&app, &service, &os, &users[0].email, Available).await,
            "x1",
        );
        ok(
            set_status(&app, &service, &os, &users[1].email, InEvent).await,
            "x2",
        );
        ok(
            set_status(&app, &service, &os, &users[2].email, NotAvailable).await,
            "x3",
        );
        ok(
            set_status(&app, &service, &os, &users[2].email, InEvent).await,
            "x3 again",
        );
        ok(
            set_status(&app, &service, &os, &users[3].email, Available).await,
            "x4",
        );

        let today_before = chrono::Utc::now().date_naive();
        let body = app
            .get_ok(&org_path(org, "/availability-history"), &owner.token)
            .await;
        let today_after = chrono::Utc::now().date_naive();
        let obj = body.as_object().expect("object");
        for key in ["start_date", "end_date", "entries"] {
            assert!(obj.contains_key(key), "history lacks {key}: {body}");
        }
        let entries = body["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 14, "14 entries by default: {body}");
        let dates: Vec<_> = entries.iter().map(|e| utc(&e["date"])).collect();
        for d in &dates {
            assert_eq!(
                d.time(),
                chrono::NaiveTime::MIN,
                "entry dates are midnight UTC: {d}"
            );
        }
        for w in dates.windows(2) {
            assert_eq!(
                w[1] - w[0],
                chrono::Duration::days(1),
                "one entry per day, oldest first"
            );
        }
        let last = dates[13].date_naive();
        assert!(
            last == today_before || last == today_after,
            "the last entry is today: {last}"
        );
        assert_eq!(
            utc(&body["start_date"]).date_naive(),
            dates[0].date_naive(),
            "start_date is the first day"
        );
        assert_eq!(
            utc(&body["end_date"]).date_naive(),
            last,
            "end_date is the last day"
        );
        for e in entries {
            for key in [
                "date",
                "countAvailable",
                "countInEvent",
                "countNotAvailable",
            ] {
                assert!(e.get(key).is_some(), "entry lacks {key}: {e}");
            }
        }
        // Today counts the statuses as of now; the earlier days had none.
        let today = &entries[13];
        assert_eq!(
            json!({
                "countAvailable": today["countAvailable"],
                "countInEvent": today["countInEvent"],
                "countNotAvailable": today["countNotAvailable"],
            }),
            counts(2, 2, 0),
            "today's entry: {today}"
        );
        for e in &entries[..13] {
            assert_eq!(
                (
                    &e["countAvailable"],
                    &e["countInEvent"],
                    &e["countNotAvailable"]
                ),
                (&json!(0), &json!(0), &json!(0)),
                "no statuses before today: {e}"
            );
        }

        // Pages are windows of the same list; the window's bounds do not move.
        for (q, len) in [
            ("?limit=5", 5),
            ("?limit=14&offset=0", 14),
            ("?limit=3&offset=4", 3),
            ("?offset=13", 1),
            ("?limit=1", 1),
        ] {
            let page = app
                .get_ok(
                    &org_path(org, &format!("/availability-history{q}")),
                    &owner.token,
                )
                .await;
            let got = page["entries"].as_array().expect("entries");
            assert_eq!(got.len(), len, "{q}: {page}");
            assert_eq!(page["start_date"], body["start_date"], "{q}");
            assert_eq!(page["end_date"], body["end_date"], "{q}");
            let pos = entries
                .iter()
                .position(|e| e == &got[0])
                .unwrap_or_else(|| panic!("{q}: entries come from the window: {page}"));
            assert_eq!(
                &entries[pos..pos + len],
                got.as_slice(),
                "{q}: a contiguous slice"
            );
        }
        let page = app
            .get_ok(
                &org_path(org, "/availability-history?limit=14&offset=0"),
                &owner.token,
            )
            .await;
        assert_eq!(page, body, "limit=14&offset=0 is the default");

        for q in [
            "?limit=0",
            "?limit=15",
            "?limit=-1",
            "?offset=-1",
            "?limit=x",
        ] {
            expect_error(
                &app.get(
                    &org_path(org, &format!("/availability-history{q}")),
                    Auth::Bearer(&owner.token),
                )
                .await,
                400,
                "INVALID_ARGUMENT",
                q,
            );
        }

        // Readers and outsiders.
        let page = app
            .get_ok(&org_path(org, "/availability-history"), &users[0].token)
            .await;
        assert_eq!(
            page["entries"].as_array().unwrap().len(),
            14,
            "a member reads it"
        );
        app.get_ok(&org_path(org, "/availability-history"), &service)
            .await;
        expect_error(
            &app.get(
                &org_path(MISSING, "/availability-history"),
                Auth::Bearer(&service),
            )
            .await,
            404,
            "NOT_FOUND",
            "service, missing organization",
        );
        let outsider = app.user("outsider").await;
        for id in [org, MISSING] {
            expect_error(
                &app.get(
                    &org_path(id, "/availability-history"),
                    Auth::Bearer(&outsider.token),
                )
                .await,
                403,
                "PERMISSION_DENIED",
                "outsider",
            );
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Avatar.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_set_serve_replace_and_remove() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Pictured").await);
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(org["avatarURL"], "");
        expect_error(
            &app.get(&org_path(id, "/avatar"), Auth::Bearer(&owner.token))
                .await,
            404,
            "NOT_FOUND",
            "no avatar yet",
        );

        assert_empty_200(&app.put_avatar(&owner.token, id, &png()).await, "set PNG");
        let got = app.org_json(&owner.token, id).await;
        let url1 = got["avatarURL"]
            .as_str()
            .unwrap_or_else(|| panic!("avatarURL is set: {got}"))
            .to_string();
        // An absolute capability URL (tests/groupalarm_avatar_url.rs); the checks below use
        // its path, and the token rules the plain path's.
        let prefix = "/api/v1/avatars/";
        let url1 = url1
            .strip_prefix(&app.endpoint())
            .unwrap_or_else(|| panic!("avatarURL is absolute: {url1}"))
            .to_string();
        assert!(
            url1.starts_with(prefix),
            "avatarURL is {prefix}<capability>: {url1}"
        );
        let plain = org_path(id, "/avatar");
        // Nothing else changed.
        for key in ORGANIZATION_KEYS.iter().filter(|k| **k != "avatarURL") {
            assert_eq!(got[*key], org[*key], "setting the avatar keeps {key}");
        }

        // The URL serves the exact bytes, with auth; the plain path too.
        let r = app.get(&url1, Auth::Bearer(&owner.token)).await;
        expect_status(&r, 200, "GET avatarURL");
        let (bytes, ct) = app.avatar_of(&owner.token, id).await.unwrap();
        assert_eq!(bytes, png(), "the exact bytes");
        assert!(ct.starts_with("image/png"), "content-type image/png: {ct}");
        let r = app
            .http
            .get(app.url(&org_path(id, "/avatar")))
            .header("Authorization", format!("Bearer {}", owner.token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.bytes().await.unwrap().to_vec(), png());
        expect_error(
            &app.get(&plain, Auth::None).await,
            401,
            "UNAUTHENTICATED",
            "GET avatar without a token",
        );

        // Readers: a member, the API token, a service; outsiders not.
        let member = app.user("member").await;
        app.member_add(id, &member.email, "member").await;
        let (bytes, _) = app.avatar_of(&member.token, id).await.unwrap();
        assert_eq!(bytes, png());
        let api = app.organization_token(id).await;
        expect_status(
            &app.get(&plain, Auth::ApiToken(&api)).await,
            200,
            "API token",
        );
        let service = app.service_token("cdn").await;
        expect_status(
            &app.get(&plain, Auth::Bearer(&service)).await,
            200,
            "service",
        );
        let outsider = app.user("outsider").await;
        expect_error(
            &app.get(&plain, Auth::Bearer(&outsider.token)).await,
            403,
            "PERMISSION_DENIED",
            "outsider",
        );

        // Replacing changes the URL's version and the bytes.
        assert_empty_200(&app.put_avatar(&owner.token, id, &jpeg()).await, "set JPEG");
        let url2 = app.org_json(&owner.token, id).await["avatarURL"]
            .as_str()
            .expect("avatarURL")
            .replace(&app.endpoint(), "");
        assert_ne!(url2, url1, "a new avatar gets a new version");
        assert!(url2.starts_with(prefix), "{url2}");
        let (bytes, ct) = app.avatar_of(&owner.token, id).await.unwrap();
        assert_eq!(bytes, jpeg());
        assert!(
            ct.starts_with("image/jpeg"),
            "content-type image/jpeg: {ct}"
        );
        // Setting the same image again still moves the version.
        assert_empty_200(
            &app.put_avatar(&owner.token, id, &jpeg()).await,
            "set JPEG again",
        );
        let url3 = app.org_json(&owner.token, id).await["avatarURL"]
            .as_str()
            .expect("avatarURL")
            .replace(&app.endpoint(), "");
        assert_ne!(url3, url2, "n changes on each set");

        // An empty string removes it.
        assert_empty_200(
            &app.rest(
                Method::PUT,
                &org_path(id, "/avatar"),
                Auth::Bearer(&owner.token),
                Some(&json!("")),
            )
            .await,
            "remove with \"\"",
        );
        assert_eq!(app.org_json(&owner.token, id).await["avatarURL"], "");
        expect_error(
            &app.get(&org_path(id, "/avatar"), Auth::Bearer(&owner.token))
                .await,
            404,
            "NOT_FOUND",
            "removed avatar",
        );
        expect_error(
            &app.get(&url3, Auth::Bearer(&owner.token)).await,
            404,
            "NOT_FOUND",
            "removed avatar's old URL",
        );

        // So does an empty body.
        assert_empty_200(&app.put_avatar(&owner.token, id, &gif()).await, "set GIF");
        assert!(app.org_json(&owner.token, id).await["avatarURL"].is_string());
        assert_empty_200(
            &app.rest_raw(
                Method::PUT,
                &org_path(id, "/avatar"),
                Auth::Bearer(&owner.token),
                "",
            )
            .await,
            "remove with an empty body",
        );
        assert_eq!(app.org_json(&owner.token, id).await["avatarURL"], "");
        expect_error(
            &app.get(&org_path(id, "/avatar"), Auth::Bearer(&owner.token))
                .await,
            404,
            "NOT_FOUND",
            "removed avatar",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_serves_each_image_format_with_its_content_type() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Formats").await);
        for (bytes, ct) in [
            (png(), "image/png"),
            (jpeg(), "image/jpeg"),
            (gif(), "image/gif"),
            (webp(), "image/webp"),
        ] {
            assert_empty_200(&app.put_avatar(&owner.token, id, &bytes).await, ct);
            let (got, got_ct) = app.avatar_of(&owner.token, id).await.expect(ct);
            assert_eq!(got, bytes, "{ct}: the exact bytes");
            assert!(got_ct.starts_with(ct), "content-type {ct}, got {got_ct}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_rejects_non_images_and_oversize_and_keeps_the_old_one() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Strict").await);
        assert_empty_200(&app.put_avatar(&owner.token, id, &png()).await, "baseline");
        let before = app.org_json(&owner.token, id).await;

        let text = b"hello, this is not an image\n".to_vec();
        let mut truncated_png = png();
        truncated_png.truncate(4);
        let cases: Vec<(&str, String)> = vec![
            ("a text file", avatar_body(&text).to_string()),
            (
                "PNG signature cut short",
                avatar_body(&truncated_png).to_string(),
            ),
            ("not base64", json!("!!! not base64 ???").to_string()),
            ("a number", "42".to_string()),
            ("an object", json!({"avatar": b64(&png())}).to_string()),
            ("malformed JSON", "\"abc".to_string()),
        ];
        for (what, body) in cases {
            let r = app
                .rest_raw(
                    Method::PUT,
                    &org_path(id, "/avatar"),
                    Auth::Bearer(&owner.token),
                    &body,
                )
                .await;
            expect_error(&r, 400, "INVALID_ARGUMENT", what);
        }

        // 1 MiB + 1 byte is refused (400 or 413) ...
        let r = app
            .put_avatar(&owner.token, id, &png_of_len(1024 * 1024 + 1))
            .await;
        match r.status.as_u16() {
            413 => {}
            400 => r.assert_error(400, "INVALID_ARGUMENT"),
            other => panic!("1 MiB + 1: expected 400 or 413, got {other} {}", r.text),
        }
        let after = app.org_json(&owner.token, id).await;
        assert_eq!(after, before, "rejected avatars changed nothing");
        let (bytes, _) = app.avatar_of(&owner.token, id).await.unwrap();
        assert_eq!(bytes, png(), "the old avatar is still served");

        // ... and exactly 1 MiB is accepted and served back byte for byte.
        let big = png_of_len(1024 * 1024);
        assert_empty_200(
            &app.put_avatar(&owner.token, id, &big).await,
            "exactly 1 MiB",
        );
        let (bytes, ct) = app.avatar_of(&owner.token, id).await.unwrap();
        assert_eq!(bytes.len(), big.len());
        assert!(bytes == big, "the 1 MiB avatar round-trips");
        assert!(ct.starts_with("image/png"), "{ct}");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Location.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_upsert_replace_and_delete() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Located").await);
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(org["location"], json!({"address": "", "latitude": 0.0, "longitude": 0.0}));

        let loc = json!({"address": "Alexanderplatz 1, Berlin", "latitude": 52.5219, "longitude": 13.4132});
        let r = app
            .rest(Method::PUT, &org_path(id, "/location"), Auth::Bearer(&owner.token), Some(&loc))
            .await;
        expect_status(&r, 200, "upsert");
        assert_eq!(r.json, loc, "the location JSON comes back");
        let got = app.org_json(&owner.token, id).await;
        assert_eq!(got["location"], loc);
        for key in ORGANIZATION_KEYS.iter().filter(|k| **k != "location") {
            assert_eq!(got[*key], org[*key], "setting the location keeps {key}");
        }

        // Replace, at the extremes of the ranges and with a 255-character address.
        let loc2 = json!({"address": "ß".repeat(255), "latitude": -90.0, "longitude": 180.0});
        let r = app
            .rest(Method::PUT, &org_path(id, "/location"), Auth::Bearer(&owner.token), Some(&loc2))
            .await;
        expect_status(&r, 200, "replace");
        assert_eq!(r.json, loc2);
        assert_eq!(app.org_json(&owner.token, id).await["location"], loc2);
        let loc3 = json!({"address": "North pole", "latitude": 90.0, "longitude": -180.0});
        let r = app
            .rest(Method::PUT, &org_path(id, "/location"), Auth::Bearer(&owner.token), Some(&loc3))
            .await;
        expect_status(&r, 200, "other extremes");
        assert_eq!(app.org_json(&owner.token, id).await["location"], loc3);

        // A member sees it too.
        let member = app.user("member").await;
        app.member_add(id, &member.email, "member").await;
        assert_eq!(app.org_json(&member.token, id).await["location"], loc3);

        let r = app
            .rest(Method::DELETE, &org_path(id, "/location"), Auth::Bearer(&owner.token), None)
            .await;
        assert_empty_200(&r, "delete location");
        let got = app.org_json(&owner.token, id).await;
        assert_eq!(got["location"], json!({"address": "", "latitude": 0.0, "longitude": 0.0}));
        assert_eq!(got, org, "back to the original organization");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_out_of_range_is_400_and_stores_nothing() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Bounded").await);
        let fresh = app.org_json(&owner.token, id).await;
        let cases: Vec<(&str, String)> = vec![
            (
                "latitude > 90",
                json!({"address": "a", "latitude": 90.0001, "longitude": 0.0}).to_string(),
            ),
            (
                "latitude < -90",
                json!({"address": "a", "latitude": -90.5, "longitude": 0.0}).to_string(),
            ),
            (
                "longitude > 180",
                json!({"address": "a", "latitude": 0.0, "longitude": 180.5}).to_string(),
            ),
            (
                "longitude < -180",
                json!({"address": "a", "latitude": 0.0, "longitude": -181.0}).to_string(),
            ),
            (
                "address of 256 characters",
                json!({"address": "x".repeat(256), "latitude": 0.0, "longitude": 0.0}).to_string(),
            ),
            (
                "latitude is a string",
                r#"{"address": "a", "latitude": "north", "longitude": 0}"#.to_string(),
            ),
            ("not an object", "[1, 2]".to_string()),
            ("malformed JSON", r#"{"address": "#.to_string()),
        ];
        // Without a location, then with one: a rejected upsert stores nothing either way.
        for round in 0..2 {
            let before = app.org_json(&owner.token, id).await;
            for (what, body) in &cases {
                let r = app
                    .rest_raw(
                        Method::PUT,
                        &org_path(id, "/location"),
                        Auth::Bearer(&owner.token),
                        body,
                    )
                    .await;
                expect_error(&r, 400, "INVALID_ARGUMENT", what);
            }
            let after = app.org_json(&owner.token, id).await;
            assert_eq!(
                after, before,
                "round {round}: rejected upserts changed nothing"
            );
            if round == 0 {
                assert_eq!(after, fresh);
                let r = app
                    .rest(
                        Method::PUT,
                        &org_path(id, "/location"),
                        Auth::Bearer(&owner.token),
                        Some(&json!({"address": "Valid", "latitude": 10.0, "longitude": 20.0})),
                    )
                    .await;
                expect_status(&r, 200, "valid upsert");
            }
        }
        expect_error(
            &app.rest(
                Method::PUT,
                "/api/v1/organization/abc/location",
                Auth::Bearer(&owner.token),
                Some(&json!({"address": "a", "latitude": 0.0, "longitude": 0.0})),
            )
            .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric id",
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Owner invitations.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_invitation_lifecycle() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let id = id_of(&app.org(&owner.token, "Inviting").await);
        assert_eq!(app.invitations(&owner.token, id).await, json!([]));

        let r = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&r, 201, "invite");
        let inv = r.json.clone();
        for key in ["id", "email", "organizationID", "userID", "creationDate"] {
            assert!(inv.get(key).is_some(), "invitation lacks {key}: {inv}");
        }
        let inv_id = inv["id"].as_str().expect("id is a string").to_string();
        assert!(
            uuid::Uuid::parse_str(&inv_id).is_ok(),
            "id is a UUID: {inv_id}"
        );
        assert_eq!(inv["email"], json!(invitee.email));
        assert_eq!(inv["organizationID"], json!(id));
        assert_eq!(inv["userID"], json!(invitee.id));
        utc(&inv["creationDate"]);
        assert_eq!(app.invitations(&owner.token, id).await, json!([inv]));
        // Inviting changes no owners yet.
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            vec![owner.id]
        );

        // Conflicts and bad input, none of which changes anything.
        expect_error(
            &app.invite(&owner.token, id, &invitee.email).await,
            409,
            "INVITATION_EXISTS",
            "second open invitation",
        );
        expect_error(
            &app.invite(&owner.token, id, &owner.email).await,
            409,
            "ALREADY_OWNER",
            "inviting an owner",
        );
        expect_error(
            &app.invite(&owner.token, id, "nobody-here@example.com")
                .await,
            404,
            "NOT_FOUND",
            "unknown email",
        );
        for (what, body) in [
            ("invalid email", json!({"email": "not-an-email"})),
            ("empty email", json!({"email": ""})),
            ("missing email", json!({})),
            ("email is a number", json!({"email": 5})),
        ] {
            let r = app
                .rest(
                    Method::POST,
                    &org_path(id, "/owner/invitations"),
                    Auth::Bearer(&owner.token),
                    Some(&body),
                )
                .await;
            expect_error(&r, 400, "INVALID_ARGUMENT", what);
        }
        assert_eq!(
            app.invitations(&owner.token, id).await,
            json!([inv]),
            "one open invitation"
        );

        // A second invitee, then the first accepts.
        let second = app.user("second").await;
        let inv2 = app.invite(&owner.token, id, &second.email).await;
        expect_status(&inv2, 201, "second invite");
        let listed = app.invitations(&owner.token, id).await;
        assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

        let r = app.accept(Auth::Bearer(&invitee.token), id, &inv_id).await;
        assert_empty_200(&r, "accept");
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(owner_ids(&org), sorted(vec![owner.id, invitee.id]));
        assert_eq!(
            app.invitations(&owner.token, id).await,
            json!([inv2.json]),
            "the accepted invitation is no longer listed"
        );
        // Accepting again: 200 and still one owner entry.
        assert_empty_200(
            &app.accept(Auth::Bearer(&invitee.token), id, &inv_id).await,
            "accept again",
        );
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(owner_ids(&org), sorted(vec![owner.id, invitee.id]));
        // The new owner now manages the organization.
        assert_eq!(
            app.invitations(&invitee.token, id).await,
            json!([inv2.json])
        );
        // And is now ALREADY_OWNER.
        expect_error(
            &app.invite(&owner.token, id, &invitee.email).await,
            409,
            "ALREADY_OWNER",
            "inviting the new owner",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_invited_user_accepts() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let other = app.user("other").await;
        let id = id_of(&app.org(&owner.token, "Exclusive").await);
        let inv = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&inv, 201, "invite");
        let inv_id = inv.json["id"].as_str().unwrap().to_string();
        let api = app.organization_token(id).await;
        let service = app.service_token("svc").await;

        for (what, auth) in [
            ("another user", Auth::Bearer(&other.token)),
            ("the organization's API token", Auth::ApiToken(&api)),
            ("a service", Auth::Bearer(&service)),
        ] {
            expect_error(
                &app.accept(auth, id, &inv_id).await,
                403,
                "PERMISSION_DENIED",
                what,
            );
        }
        for (what, auth) in [
            ("no token", Auth::None),
            ("unknown token", Auth::Bearer("nope")),
        ] {
            expect_error(
                &app.accept(auth, id, &inv_id).await,
                401,
                "UNAUTHENTICATED",
                what,
            );
        }
        // The right invitation id under another organization is not it.
        let elsewhere = id_of(&app.org(&owner.token, "Elsewhere").await);
        let r = app
            .accept(Auth::Bearer(&invitee.token), elsewhere, &inv_id)
            .await;
        assert!(
            matches!(r.status.as_u16(), 403 | 404),
            "accepting under another organization: {} {}",
            r.status,
            r.text
        );

        // Nonexistent invitation: 403 for who cannot manage the org, 404 for an owner.
        let ghost = uuid::Uuid::new_v4().to_string();
        expect_error(
            &app.accept(Auth::Bearer(&other.token), id, &ghost).await,
            403,
            "PERMISSION_DENIED",
            "nonexistent invitation, outsider",
        );
        expect_error(
            &app.accept(Auth::Bearer(&invitee.token), id, &ghost).await,
            403,
            "PERMISSION_DENIED",
            "nonexistent invitation, invitee who cannot manage the org",
        );
        expect_error(
            &app.accept(Auth::Bearer(&owner.token), id, &ghost).await,
            404,
            "NOT_FOUND",
            "nonexistent invitation, owner",
        );
        let r = app
            .accept(Auth::Bearer(&owner.token), id, "not-a-uuid")
            .await;
        match r.status.as_u16() {
            404 => r.assert_error(404, "NOT_FOUND"),
            400 => r.assert_error(400, "INVALID_ARGUMENT"),
            s => panic!(
                "malformed invitation id: expected 404 or 400, got {s} {}",
                r.text
            ),
        }

        let org = app.org_json(&owner.token, id).await;
        assert_eq!(
            owner_ids(&org),
            vec![owner.id],
            "refused accepts made nobody an owner"
        );
        assert_eq!(app.invitations(&owner.token, id).await, json!([inv.json]));
        app.get_ok(&org_path(elsewhere, ""), &owner.token).await;
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, elsewhere).await),
            vec![owner.id]
        );

        // The invited user still can.
        assert_empty_200(
            &app.accept(Auth::Bearer(&invitee.token), id, &inv_id).await,
            "accept",
        );
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, invitee.id])
        );
        // With the Personal-Access-Token header form too (idempotent).
        assert_empty_200(
            &app.accept(Auth::PersonalAccessToken(&invitee.token), id, &inv_id)
                .await,
            "accept again with Personal-Access-Token",
        );

        // An owner cannot accept somebody else's invitation either.
        let third = app.user("third").await;
        let inv3 = app.invite(&owner.token, id, &third.email).await;
        expect_status(&inv3, 201, "invite third");
        let inv3_id = inv3.json["id"].as_str().unwrap().to_string();
        expect_error(
            &app.accept(Auth::Bearer(&owner.token), id, &inv3_id).await,
            403,
            "PERMISSION_DENIED",
            "an owner accepting another user's invitation",
        );
        assert!(!owner_ids(&app.org_json(&owner.token, id).await).contains(&third.id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_owner_invitation() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let keeper = app.user("keeper").await;
        let id = id_of(&app.org(&owner.token, "Withdrawing").await);
        let inv = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&inv, 201, "invite");
        let inv_id = inv.json["id"].as_str().unwrap().to_string();
        let kept = app.invite(&owner.token, id, &keeper.email).await;
        expect_status(&kept, 201, "invite keeper");

        let path = org_path(id, &format!("/owner/invitations/{}", invitee.id));
        assert_empty_200(
            &app.rest(Method::DELETE, &path, Auth::Bearer(&owner.token), None)
                .await,
            "remove invitation",
        );
        assert_eq!(app.invitations(&owner.token, id).await, json!([kept.json]));
        expect_error(
            &app.rest(Method::DELETE, &path, Auth::Bearer(&owner.token), None)
                .await,
            404,
            "NOT_FOUND",
            "removing it again",
        );
        expect_error(
            &app.rest(
                Method::DELETE,
                &org_path(id, &format!("/owner/invitations/{}", owner.id)),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            404,
            "NOT_FOUND",
            "a user without an open invitation",
        );
        expect_error(
            &app.rest(
                Method::DELETE,
                &org_path(id, "/owner/invitations/987654"),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            404,
            "NOT_FOUND",
            "an unknown user",
        );
        expect_error(
            &app.rest(
                Method::DELETE,
                &org_path(id, "/owner/invitations/abc"),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric user id",
        );

        // The withdrawn invitation cannot be accepted any more.
        let r = app.accept(Auth::Bearer(&invitee.token), id, &inv_id).await;
        assert!(
            matches!(r.status.as_u16(), 403 | 404),
            "accepting a withdrawn invitation: {} {}",
            r.status,
            r.text
        );
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            vec![owner.id]
        );

        // An accepted invitation is not open either: removing it is 404.
        let kept_id = kept.json["id"].as_str().unwrap().to_string();
        assert_empty_200(
            &app.accept(Auth::Bearer(&keeper.token), id, &kept_id).await,
            "accept",
        );
        expect_error(
            &app.rest(
                Method::DELETE,
                &org_path(id, &format!("/owner/invitations/{}", keeper.id)),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            404,
            "NOT_FOUND",
            "an accepted invitation",
        );
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, keeper.id])
        );

        // Invited again after the withdrawal: a fresh invitation works.
        let again = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&again, 201, "invite again");
        assert_ne!(again.json["id"], inv.json["id"], "a new invitation id");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_accepts_make_exactly_one_owner_entry() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let id = id_of(&app.org(&owner.token, "Racing").await);
        let inv = app.invite(&owner.token, id, &invitee.email).await;
        expect_status(&inv, 201, "invite");
        let inv_id = inv.json["id"].as_str().unwrap().to_string();

        let mut set = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let app = app.clone();
            let token = invitee.token.clone();
            let inv_id = inv_id.clone();
            set.spawn(async move { app.accept(Auth::Bearer(&token), id, &inv_id).await });
        }
        let mut n = 0;
        while let Some(r) = set.join_next().await {
            let r = r.expect("accept task");
            assert_empty_200(&r, "concurrent accept");
            n += 1;
        }
        assert_eq!(n, 10);
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(
            owner_ids(&org),
            sorted(vec![owner.id, invitee.id]),
            "the invitee is an owner exactly once"
        );
        assert_eq!(app.invitations(&owner.token, id).await, json!([]));
        // Also exactly one membership: the member list of the org over the membership RPC
        // is not part of this slice; ownerIDs above is the contract.
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Owners.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_owner_is_idempotent_and_checks_the_user() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let newcomer = app.user("newcomer").await;
        let member = app.user("member").await;
        let id = id_of(&app.org(&owner.token, "Owned").await);
        app.member_add(id, &member.email, "member").await;

        let put = |uid: String| {
            let app = app.clone();
            let token = owner.token.clone();
            async move {
                app.rest(
                    Method::PUT,
                    &org_path(id, &format!("/owner/{uid}")),
                    Auth::Bearer(&token),
                    None,
                )
                .await
            }
        };
        assert_empty_200(&put(newcomer.id.to_string()).await, "add a non-member");
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, newcomer.id])
        );
        assert_empty_200(&put(newcomer.id.to_string()).await, "add again");
        assert_empty_200(&put(owner.id.to_string()).await, "add an existing owner");
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, newcomer.id]),
            "no duplicates"
        );
        // A member is promoted.
        assert_empty_200(&put(member.id.to_string()).await, "promote a member");
        assert_eq!(
            owner_ids(&app.org_json(&owner.token, id).await),
            sorted(vec![owner.id, newcomer.id, member.id])
        );
        // The new owner manages the organization.
        assert_eq!(app.invitations(&newcomer.token, id).await, json!([]));

        let before = app.org_json(&owner.token, id).await;
        expect_error(
            &put("987654321".into()).await,
            404,
            "NOT_FOUND",
            "unknown user id",
        );
        expect_error(
            &put("abc".into()).await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric user id",
        );
        assert_eq!(
            app.org_json(&owner.token, id).await,
            before,
            "refused adds changed nothing"
        );

        // The organization's API token may add owners too.
        let api = app.organization_token(id).await;
        let fourth = app.user("fourth").await;
        assert_empty_200(
            &app.rest(
                Method::PUT,
                &org_path(id, &format!("/owner/{}", fourth.id)),
                Auth::ApiToken(&api),
                None,
            )
            .await,
            "add with the API token",
        );
        assert!(owner_ids(&app.org_json(&owner.token, id).await).contains(&fourth.id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_in_parent_organization_is_the_topmost_owned() {
    for_each_backend(|app| async move {
        let founder = app.user("founder").await;
        let mid = app.user("mid").await;
        let reader = app.user("reader").await;
        let r = id_of(&app.org(&founder.token, "Root").await);
        let c = id_of(&app.child_org(&founder.token, r, "Child").await);
        let g = id_of(&app.child_org(&founder.token, c, "Grandchild").await);
        assert_empty_200(
            &app.rest(
                Method::PUT,
                &org_path(c, &format!("/owner/{}", mid.id)),
                Auth::Bearer(&founder.token),
                None,
            )
            .await,
            "mid owns the child",
        );
        app.member_add(g, &reader.email, "member").await;

        let lookup = |org: i64, user: i64, token: String| {
            let app = app.clone();
            async move {
                app.get(
                    &org_path(org, &format!("/owner/{user}")),
                    Auth::Bearer(&token),
                )
                .await
            }
        };
        // The founder owns the root: topmost from anywhere below.
        for org in [r, c, g] {
            let got = lookup(org, founder.id, founder.token.clone()).await;
            expect_status(&got, 200, "founder");
            assert_eq!(id_of(&got.json), r, "topmost for the founder from {org}");
            assert_organization_shape(&got.json);
        }
        // mid owns the child only.
        let got = lookup(g, mid.id, founder.token.clone()).await;
        expect_status(&got, 200, "mid from the grandchild");
        assert_eq!(id_of(&got.json), c);
        assert_eq!(got.json, app.org_json(&founder.token, c).await);
        let got = lookup(c, mid.id, founder.token.clone()).await;
        expect_status(&got, 200, "mid from the child");
        assert_eq!(id_of(&got.json), c);
        expect_error(
            &lookup(r, mid.id, founder.token.clone()).await,
            404,
            "NOT_FOUND",
            "mid owns nothing on the root's path",
        );
        // A member is not an owner.
        expect_error(
            &lookup(g, reader.id, founder.token.clone()).await,
            404,
            "NOT_FOUND",
            "a member",
        );
        expect_error(
            &lookup(g, 987_654_321, founder.token.clone()).await,
            404,
            "NOT_FOUND",
            "unknown user",
        );
        // A service reads it too; 404 on a missing organization.
        let service = app.service_token("svc").await;
        let got = lookup(g, mid.id, service.clone()).await;
        expect_status(&got, 200, "service");
        assert_eq!(id_of(&got.json), c);
        expect_error(
            &lookup(MISSING, mid.id, service).await,
            404,
            "NOT_FOUND",
            "service, missing org",
        );
        // But the grandchild's member cannot ask about the child.
        expect_error(
            &lookup(c, founder.id, reader.token.clone()).await,
            403,
            "PERMISSION_DENIED",
            "reader of the grandchild asking at the child",
        );
        expect_error(
            &app.get(&org_path(g, "/owner/abc"), Auth::Bearer(&founder.token))
                .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric user id",
        );
        // Read access suffices, but the answer is the topmost owned organization the caller
        // can read: the grandchild's member learns nothing about the root or the child.
        let got = lookup(g, founder.id, reader.token.clone()).await;
        expect_status(&got, 200, "a reader of the grandchild");
        assert_eq!(id_of(&got.json), g);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_owner_never_removes_the_last_one() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let second = app.user("second").await;
        let member = app.user("member").await;
        let id = id_of(&app.org(&owner.token, "Shrinking").await);
        app.member_add(id, &member.email, "member").await;
        let del = |uid: String, token: String| {
            let app = app.clone();
            async move {
                app.rest(
                    Method::DELETE,
                    &org_path(id, &format!("/owner/{uid}")),
                    Auth::Bearer(&token),
                    None,
                )
                .await
            }
        };

        let before = app.org_json(&owner.token, id).await;
        expect_error(
            &del(owner.id.to_string(), owner.token.clone()).await,
            409,
            "LAST_OWNER",
            "the only owner",
        );
        expect_error(
            &del(member.id.to_string(), owner.token.clone()).await,
            404,
            "NOT_FOUND",
            "a member",
        );
        expect_error(
            &del(second.id.to_string(), owner.token.clone()).await,
            404,
            "NOT_FOUND",
            "a stranger",
        );
        expect_error(
            &del("987654321".into(), owner.token.clone()).await,
            404,
            "NOT_FOUND",
            "unknown user",
        );
        expect_error(
            &del("abc".into(), owner.token.clone()).await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric",
        );
        assert_eq!(
            app.org_json(&owner.token, id).await,
            before,
            "refused removals changed nothing"
        );
        // The member is still a reader.
        app.org_json(&member.token, id).await;

        assert_empty_200(
            &app.rest(
                Method::PUT,
                &org_path(id, &format!("/owner/{}", second.id)),
                Auth::Bearer(&owner.token),
                None,
            )
            .await,
            "add second",
        );
        assert_empty_200(
            &del(owner.id.to_string(), owner.token.clone()).await,
            "the first removes itself",
        );
        assert_eq!(
            owner_ids(&app.org_json(&second.token, id).await),
            vec![second.id]
        );
        // The removed owner manages no more.
        expect_error(
            &app.get(
                &org_path(id, "/owner/invitations"),
                Auth::Bearer(&owner.token),
            )
            .await,
            403,
            "PERMISSION_DENIED",
            "a removed owner",
        );
        expect_error(
            &del(second.id.to_string(), second.token.clone()).await,
            409,
            "LAST_OWNER",
            "now second is the last owner",
        );
        assert_eq!(
            owner_ids(&app.org_json(&second.token, id).await),
            vec![second.id]
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Quick actions.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_actions_replace_the_whole_list() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Quick").await);
        let other = id_of(&app.org(&owner.token, "Other").await);
        assert_eq!(app.quick_actions(&owner.token, id).await, json!([]));

        let body = json!([
            {"id": 424242, "organization_id": other, "name": "Alarm", "color": "#ff0000", "icon": "bell",
             "one_click": true, "resource": "alarm_template", "resource_id": 7},
            {"name": "Only a name"},
            {"id": 424243, "name": "Third", "color": "blue", "icon": "", "one_click": false,
             "resource": "scenario", "resource_id": 9_000_000_000_i64},
        ]);
        let r = app
            .rest(Method::PUT, &org_path(id, "/quick-actions"), Auth::Bearer(&owner.token), Some(&body))
            .await;
        expect_status(&r, 200, "set");
        let set = r.json.clone();
        let list = set.as_array().expect("an array");
        assert_eq!(list.len(), 3);
        for qa in list {
            assert_quick_action_shape(qa, id);
        }
        assert_eq!(names_of(&set), vec!["Alarm", "Only a name", "Third"], "order kept");
        let ids: HashSet<i64> = list.iter().map(|q| q["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), 3, "distinct ids");
        assert!(
            !ids.contains(&424242) && !ids.contains(&424243),
            "client ids are ignored: {set}"
        );
        assert_eq!(list[0]["color"], json!("#ff0000"));
        assert_eq!(list[0]["icon"], json!("bell"));
        assert_eq!(list[0]["one_click"], json!(true));
        assert_eq!(list[0]["resource"], json!("alarm_template"));
        assert_eq!(list[0]["resource_id"], json!(7));
        assert_eq!(
            list[1],
            json!({"id": list[1]["id"], "organization_id": id, "name": "Only a name", "color": "",
                   "icon": "", "one_click": false, "resource": "", "resource_id": 0}),
            "every key present with its default"
        );
        assert_eq!(list[2]["resource_id"], json!(9_000_000_000_i64));
        assert_eq!(app.quick_actions(&owner.token, id).await, set, "GET shows the set list");
        assert_eq!(app.quick_actions(&owner.token, other).await, json!([]), "other org untouched");

        // Replace: the old entries are gone.
        let r = app
            .rest(
                Method::PUT,
                &org_path(id, "/quick-actions"),
                Auth::Bearer(&owner.token),
                Some(&json!([quick_action("New")])),
            )
            .await;
        expect_status(&r, 200, "replace");
        assert_eq!(names_of(&r.json), vec!["New"]);
        assert_quick_action_shape(&r.json[0], id);
        assert_eq!(app.quick_actions(&owner.token, id).await, r.json);

        // Readers.
        let member = app.user("member").await;
        app.member_add(id, &member.email, "member").await;
        assert_eq!(app.quick_actions(&member.token, id).await, r.json);
        let service = app.service_token("svc").await;
        assert_eq!(app.quick_actions(&service, id).await, r.json);
        expect_error(
            &app.get(&org_path(MISSING, "/quick-actions"), Auth::Bearer(&service)).await,
            404,
            "NOT_FOUND",
            "service, missing organization",
        );

        // [] clears.
        let r = app
            .rest(Method::PUT, &org_path(id, "/quick-actions"), Auth::Bearer(&owner.token), Some(&json!([])))
            .await;
        expect_status(&r, 200, "clear");
        assert_eq!(r.json, json!([]));
        assert_eq!(app.quick_actions(&owner.token, id).await, json!([]));

        // Exactly 100 actions is allowed, with the maximal lengths.
        let hundred: Vec<Value> = (0..100)
            .map(|i| {
                json!({"name": format!("{i:03}{}", "n".repeat(252)), "color": "c".repeat(32),
                       "icon": "i".repeat(255), "resource": "r".repeat(255), "one_click": i % 2 == 0,
                       "resource_id": i})
            })
            .collect();
        let r = app
            .rest(Method::PUT, &org_path(id, "/quick-actions"), Auth::Bearer(&owner.token), Some(&Value::Array(hundred.clone())))
            .await;
        expect_status(&r, 200, "100 actions");
        assert_eq!(r.json.as_array().unwrap().len(), 100);
        let names: Vec<String> = hundred.iter().map(|q| q["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(names_of(&r.json), names);
        assert_eq!(app.quick_actions(&owner.token, id).await, r.json);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_quick_actions_are_400_and_keep_the_old_list() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Guarded").await);
        let r = app
            .rest(
                Method::PUT,
                &org_path(id, "/quick-actions"),
                Auth::Bearer(&owner.token),
                Some(&json!([quick_action("Old 1"), quick_action("Old 2")])),
            )
            .await;
        expect_status(&r, 200, "baseline");
        let before = r.json;

        let good = quick_action("Fine");
        let with = |field: &str, value: Value| {
            let mut q = quick_action("X");
            q[field] = value;
            q
        };
        let mut no_name = quick_action("X");
        no_name.as_object_mut().unwrap().remove("name");
        let cases: Vec<(&str, String)> = vec![
            ("name missing", json!([good, no_name]).to_string()),
            (
                "name empty",
                json!([good, with("name", json!(""))]).to_string(),
            ),
            (
                "name of 256",
                json!([good, with("name", json!("n".repeat(256)))]).to_string(),
            ),
            (
                "color of 33",
                json!([good, with("color", json!("c".repeat(33)))]).to_string(),
            ),
            (
                "icon of 256",
                json!([good, with("icon", json!("i".repeat(256)))]).to_string(),
            ),
            (
                "resource of 256",
                json!([good, with("resource", json!("r".repeat(256)))]).to_string(),
            ),
            (
                "name is a number",
                json!([with("name", json!(5))]).to_string(),
            ),
            (
                "one_click is a string",
                json!([with("one_click", json!("yes"))]).to_string(),
            ),
            (
                "101 actions",
                Value::Array((0..101).map(|i| quick_action(&format!("a{i}"))).collect())
                    .to_string(),
            ),
            ("an object, not an array", good.to_string()),
            ("malformed JSON", "[{\"name\": ".to_string()),
        ];
        for (what, body) in cases {
            let r = app
                .rest_raw(
                    Method::PUT,
                    &org_path(id, "/quick-actions"),
                    Auth::Bearer(&owner.token),
                    &body,
                )
                .await;
            expect_error(&r, 400, "INVALID_ARGUMENT", what);
            assert_eq!(
                app.quick_actions(&owner.token, id).await,
                before,
                "{what}: the old list is unchanged"
            );
        }
        expect_error(
            &app.get(
                "/api/v1/organization/abc/quick-actions",
                Auth::Bearer(&owner.token),
            )
            .await,
            400,
            "INVALID_ARGUMENT",
            "non-numeric id",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_quick_action_replaces_are_atomic() {
    for_each_backend(|app| async move {
        const N: usize = 6;
        const WRITERS: usize = 6;
        const ROUNDS: usize = 3;
        const READERS: usize = 4;
        const READS: usize = 15;
        let owner = app.user("owner").await;
        let id = id_of(&app.org(&owner.token, "Atomic").await);
        let list_of = |k: &str| Value::Array((0..N).map(|_| quick_action(k)).collect());
        let r = app
            .rest(
                Method::PUT,
                &org_path(id, "/quick-actions"),
                Auth::Bearer(&owner.token),
                Some(&list_of("set-init")),
            )
            .await;
        expect_status(&r, 200, "initial");

        #[track_caller]
        fn check_complete(list: &Value, what: &str) -> String {
            let names = names_of(list);
            assert_eq!(names.len(), N, "{what}: a complete list of {N}: {list}");
            assert!(
                names.iter().all(|n| *n == names[0]),
                "{what}: names all equal (never a mix): {names:?}"
            );
            let ids: HashSet<i64> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["id"].as_i64().unwrap())
                .collect();
            assert_eq!(ids.len(), N, "{what}: distinct ids: {list}");
            names[0].clone()
        }

        let mut set = tokio::task::JoinSet::new();
        for w in 0..WRITERS {
            let app = app.clone();
            let token = owner.token.clone();
            set.spawn(async move {
                for round in 0..ROUNDS {
                    let name = format!("set-{w}-{round}");
                    let body = Value::Array((0..N).map(|_| quick_action(&name)).collect());
                    let r = app
                        .rest(
                            Method::PUT,
                            &org_path(id, "/quick-actions"),
                            Auth::Bearer(&token),
                            Some(&body),
                        )
                        .await;
                    assert_eq!(
                        r.status.as_u16(),
                        200,
                        "concurrent PUT: {} {}",
                        r.status,
                        r.text
                    );
                    let got = check_complete(&r.json, "PUT response");
                    assert_eq!(got, name, "the PUT answers its own list");
                }
            });
        }
        for _ in 0..READERS {
            let app = app.clone();
            let token = owner.token.clone();
            set.spawn(async move {
                for _ in 0..READS {
                    let r = app
                        .get(&org_path(id, "/quick-actions"), Auth::Bearer(&token))
                        .await;
                    assert_eq!(
                        r.status.as_u16(),
                        200,
                        "concurrent GET: {} {}",
                        r.status,
                        r.text
                    );
                    check_complete(&r.json, "concurrent GET");
                }
            });
        }
        while let Some(res) = set.join_next().await {
            if let Err(e) = res {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        let last = app.quick_actions(&owner.token, id).await;
        let name = check_complete(&last, "final GET");
        assert!(
            name.starts_with("set-") && name != "set-init",
            "a writer's list won: {name}"
        );
        assert_quick_action_shape(&last[0], id);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Paginated organizations.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_organizations_are_the_callers_top_level() {
    for_each_backend(|app| async move {
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        let a1 = id_of(&app.org(&alice.token, "A1").await);
        let _a1c = id_of(&app.child_org(&alice.token, a1, "A1 child").await);
        let a2 = id_of(&app.org(&alice.token, "A2").await);
        let a3 = id_of(&app.org(&alice.token, "A3").await);
        let b = id_of(&app.org(&bob.token, "B").await);
        let bc = id_of(&app.child_org(&bob.token, b, "B child").await);
        let _b2 = id_of(&app.org(&bob.token, "B2").await);
        app.member_add(bc, &alice.email, "member").await;

        let page = |q: &str, token: &str| {
            let app = app.clone();
            let token = token.to_string();
            let path = format!("/api/v1/organizations/paginated{q}");
            async move { app.get(&path, Auth::Bearer(&token)).await }
        };
        let r = page("", &alice.token).await;
        expect_status(&r, 200, "default");
        let obj = r.json.as_object().expect("object");
        assert!(
            obj.contains_key("organizations") && obj.contains_key("totalOrganizations"),
            "{}",
            r.json
        );
        let top = vec![a1, a2, a3, bc];
        assert_eq!(
            ids_of(&r.json["organizations"]),
            top,
            "top level from alice's view, by id"
        );
        assert_eq!(r.json["totalOrganizations"], json!(4));
        for org in r.json["organizations"].as_array().unwrap() {
            assert_organization_shape(org);
        }
        assert_eq!(
            without_counts(&r.json["organizations"][0]),
            without_counts(&app.org_json(&alice.token, a1).await)
        );

        let r = page("?limit=2", &alice.token).await;
        expect_status(&r, 200, "limit 2");
        assert_eq!(ids_of(&r.json["organizations"]), top[..2].to_vec());
        assert_eq!(r.json["totalOrganizations"], json!(4));
        let r = page("?limit=2&offset=2", &alice.token).await;
        expect_status(&r, 200, "second page");
        assert_eq!(ids_of(&r.json["organizations"]), top[2..].to_vec());
        assert_eq!(r.json["totalOrganizations"], json!(4));
        let r = page("?offset=4", &alice.token).await;
        expect_status(&r, 200, "past the end");
        assert_eq!(r.json["organizations"], json!([]));
        assert_eq!(r.json["totalOrganizations"], json!(4));
        let r = page("?all=true&limit=1&offset=3", &alice.token).await;
        expect_status(&r, 200, "all");
        assert_eq!(
            ids_of(&r.json["organizations"]),
            top,
            "all ignores limit and offset"
        );
        assert_eq!(r.json["totalOrganizations"], json!(4));

        // Once alice can see B, B is top level and its child no longer is.
        app.member_add(b, &alice.email, "member").await;
        let r = page("", &alice.token).await;
        expect_status(&r, 200, "after joining B");
        assert_eq!(ids_of(&r.json["organizations"]), vec![a1, a2, a3, b]);
        assert_eq!(r.json["totalOrganizations"], json!(4));

        // The organization API token sees its organization as its top level.
        let api = app.organization_token(a1).await;
        let r = app
            .get("/api/v1/organizations/paginated", Auth::ApiToken(&api))
            .await;
        expect_status(&r, 200, "API token");
        assert_eq!(ids_of(&r.json["organizations"]), vec![a1]);
        assert_eq!(r.json["totalOrganizations"], json!(1));

        // Services read single organizations, not a caller's list.
        let service = app.service_token("svc").await;
        expect_error(
            &app.get("/api/v1/organizations/paginated", Auth::Bearer(&service))
                .await,
            403,
            "PERMISSION_DENIED",
            "service",
        );

        // Nothing for a user without organizations.
        let carol = app.user("carol").await;
        let r = page("", &carol.token).await;
        expect_status(&r, 200, "carol");
        assert_eq!(
            r.json,
            json!({"organizations": [], "totalOrganizations": 0})
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_organizations_limits() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let mut ids = Vec::new();
        for i in 0..12 {
            ids.push(id_of(&app.org(&owner.token, &format!("Org {i:02}")).await));
        }
        ids.sort();
        let page = |q: &str| {
            let app = app.clone();
            let token = owner.token.clone();
            let path = format!("/api/v1/organizations/paginated{q}");
            async move { app.get(&path, Auth::Bearer(&token)).await }
        };
        let r = page("").await;
        expect_status(&r, 200, "default");
        assert_eq!(
            ids_of(&r.json["organizations"]),
            ids[..10].to_vec(),
            "default limit 10"
        );
        assert_eq!(r.json["totalOrganizations"], json!(12));
        let r = page("?offset=10").await;
        expect_status(&r, 200, "offset 10");
        assert_eq!(ids_of(&r.json["organizations"]), ids[10..].to_vec());
        let r = page("?limit=50").await;
        expect_status(&r, 200, "limit 50");
        assert_eq!(ids_of(&r.json["organizations"]), ids);
        let r = page("?limit=1&offset=11").await;
        expect_status(&r, 200, "limit 1");
        assert_eq!(ids_of(&r.json["organizations"]), vec![ids[11]]);
        let r = page("?all=true").await;
        expect_status(&r, 200, "all");
        assert_eq!(
            ids_of(&r.json["organizations"]),
            ids,
            "all returns more than the default limit"
        );
        let r = page("?all=false&limit=3").await;
        expect_status(&r, 200, "all=false");
        assert_eq!(ids_of(&r.json["organizations"]), ids[..3].to_vec());

        for q in [
            "?limit=0",
            "?limit=51",
            "?limit=-1",
            "?limit=x",
            "?offset=-1",
            "?offset=x",
        ] {
            expect_error(&page(q).await, 400, "INVALID_ARGUMENT", q);
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Trial.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trial_starts_once_per_user() {
    for_each_backend(|app| async move {
        let user = app.user("trialist").await;
        let other = app.user("other").await;
        let r = app.get("/api/v1/trial", Auth::Bearer(&user.token)).await;
        expect_status(&r, 200, "status before");
        assert_eq!(
            r.json,
            json!({"active": false, "start": null, "userID": user.id})
        );

        let before = chrono::Utc::now() - chrono::Duration::seconds(60);
        let r = app
            .rest(
                Method::POST,
                "/api/v1/trial",
                Auth::Bearer(&user.token),
                None,
            )
            .await;
        expect_status(&r, 200, "start");
        assert_eq!(r.json["active"], json!(true));
        assert_eq!(r.json["userID"], json!(user.id));
        let start = utc(&r.json["start"]);
        assert!(start >= before, "start is now-ish: {start}");
        let started = r.json.clone();
        assert_eq!(started.as_object().unwrap().len(), 3, "{started}");

        let r = app
            .get("/api/v1/trial", Auth::PersonalAccessToken(&user.token))
            .await;
        expect_status(&r, 200, "status after");
        assert_eq!(r.json, started, "GET shows the started trial");

        expect_error(
            &app.rest(
                Method::POST,
                "/api/v1/trial",
                Auth::Bearer(&user.token),
                None,
            )
            .await,
            409,
            "TRIAL_ALREADY_STARTED",
            "second start",
        );
        assert_eq!(
            app.get("/api/v1/trial", Auth::Bearer(&user.token))
                .await
                .json,
            started,
            "unchanged"
        );

        // Per user: another user has not started one.
        let r = app.get("/api/v1/trial", Auth::Bearer(&other.token)).await;
        expect_status(&r, 200, "other user");
        assert_eq!(
            r.json,
            json!({"active": false, "start": null, "userID": other.id})
        );

        // Not for API tokens or services; not without a token.
        let org = id_of(&app.org(&other.token, "Tokened").await);
        let api = app.organization_token(org).await;
        let service = app.service_token("svc").await;
        for (what, auth) in [
            ("API-TOKEN", Auth::ApiToken(&api)),
            ("service", Auth::Bearer(&service)),
        ] {
            expect_error(
                &app.get("/api/v1/trial", auth.clone()).await,
                403,
                "PERMISSION_DENIED",
                what,
            );
            expect_error(
                &app.rest(Method::POST, "/api/v1/trial", auth, None).await,
                403,
                "PERMISSION_DENIED",
                what,
            );
        }
        for (what, auth) in [
            ("no token", Auth::None),
            ("unknown token", Auth::Bearer("nope")),
        ] {
            expect_error(
                &app.get("/api/v1/trial", auth.clone()).await,
                401,
                "UNAUTHENTICATED",
                what,
            );
            expect_error(
                &app.rest(Method::POST, "/api/v1/trial", auth, None).await,
                401,
                "UNAUTHENTICATED",
                what,
            );
        }
        let r = app.get("/api/v1/trial", Auth::Bearer(&other.token)).await;
        assert_eq!(
            r.json["active"],
            json!(false),
            "refused starts changed nothing"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Authentication and permissions across every operation.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_requires_a_token() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let id = furnished_org(&app, &owner, &invitee).await;
        let before = state_of(&app, &owner.token, id).await;
        let inv_id = app.invitations(&owner.token, id).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut all = calls(id, &invitee, &owner);
        all.push(Call {
            what: "AcceptOwnerInvitation",
            method: Method::POST,
            path: org_path(id, &format!("/owner/invitations/{inv_id}/accept")),
            body: None,
            need: Need::Own,
        });
        for (what, path) in [
            (
                "GetPaginatedOrganizations",
                "/api/v1/organizations/paginated",
            ),
            ("GetTrialStatus", "/api/v1/trial"),
        ] {
            all.push(Call {
                what,
                method: Method::GET,
                path: path.into(),
                body: None,
                need: Need::Read,
            });
        }
        all.push(Call {
            what: "StartTrial",
            method: Method::POST,
            path: "/api/v1/trial".into(),
            body: None,
            need: Need::Own,
        });
        for (auth_what, auth) in [
            ("no header", Auth::None),
            ("unknown Bearer", Auth::Bearer("definitely-not-a-token")),
            ("unknown Token", Auth::Token("definitely-not-a-token")),
            (
                "unknown Personal-Access-Token",
                Auth::PersonalAccessToken("definitely-not-a-token"),
            ),
            (
                "unknown API-TOKEN",
                Auth::ApiToken("definitely-not-a-token"),
            ),
        ] {
            for c in &all {
                let r = app
                    .rest(c.method.clone(), &c.path, auth.clone(), c.body.as_ref())
                    .await;
                expect_error(
                    &r,
                    401,
                    "UNAUTHENTICATED",
                    &format!("{} {} with {auth_what}", c.what, c.path),
                );
            }
        }
        assert_eq!(
            state_of(&app, &owner.token, id).await,
            before,
            "nothing changed"
        );
        let r = app.get("/api/v1/trial", Auth::Bearer(&owner.token)).await;
        assert_eq!(r.json["active"], json!(false), "no trial was started");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_read_and_nobody_else_writes() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let id = furnished_org(&app, &owner, &invitee).await;
        let member = app.user("member").await;
        let admin = app.user("admin").await;
        let outsider = app.user("outsider").await;
        let child_member = app.user("child-member").await;
        let child = id_of(&app.child_org(&owner.token, id, "Child").await);
        app.member_add(id, &member.email, "member").await;
        app.member_add(id, &admin.email, "admin").await;
        app.member_add(child, &child_member.email, "owner").await;
        let service = app.service_token("svc").await;
        let child_api = app.organization_token(child).await;
        let other_org = id_of(&app.org(&outsider.token, "Outsider's own").await);
        let other_api = app.organization_token(other_org).await;
        let before = state_of(&app, &owner.token, id).await;

        // Readers: Read operations answer 200, Own operations 403.
        for (who, auth) in [
            ("member", Auth::Bearer(&member.token)),
            ("admin", Auth::Bearer(&admin.token)),
            ("service", Auth::Bearer(&service)),
        ] {
            for c in calls(id, &invitee, &owner) {
                let r = app
                    .rest(c.method.clone(), &c.path, auth.clone(), c.body.as_ref())
                    .await;
                let what = format!("{who}: {} {}", c.what, c.path);
                match c.need {
                    Need::Read => expect_status(&r, 200, &what),
                    Need::Own => expect_error(&r, 403, "PERMISSION_DENIED", &what),
                }
            }
        }
        // No access at all: 403 everywhere, for the organization and for a missing one.
        for (who, auth) in [
            ("outsider", Auth::Bearer(&outsider.token)),
            ("owner of a child", Auth::Bearer(&child_member.token)),
            ("API token of a child", Auth::ApiToken(&child_api)),
            (
                "API token of another organization",
                Auth::ApiToken(&other_api),
            ),
        ] {
            for target in [id, MISSING] {
                for c in calls(target, &invitee, &owner) {
                    let r = app
                        .rest(c.method.clone(), &c.path, auth.clone(), c.body.as_ref())
                        .await;
                    expect_error(
                        &r,
                        403,
                        "PERMISSION_DENIED",
                        &format!("{who}: {} {}", c.what, c.path),
                    );
                }
            }
        }
        // Members and admins get 403 on a missing organization too (permission first).
        for c in calls(MISSING, &invitee, &owner) {
            let r = app
                .rest(
                    c.method.clone(),
                    &c.path,
                    Auth::Bearer(&member.token),
                    c.body.as_ref(),
                )
                .await;
            expect_error(
                &r,
                403,
                "PERMISSION_DENIED",
                &format!("member, missing: {}", c.what),
            );
        }
        // A service learns that an organization is missing only where it may read.
        for c in calls(MISSING, &invitee, &owner) {
            let r = app
                .rest(
                    c.method.clone(),
                    &c.path,
                    Auth::Bearer(&service),
                    c.body.as_ref(),
                )
                .await;
            let what = format!("service, missing: {} {}", c.what, c.path);
            match c.need {
                Need::Read => expect_error(&r, 404, "NOT_FOUND", &what),
                Need::Own => expect_error(&r, 403, "PERMISSION_DENIED", &what),
            }
        }
        // The owner still has everything as it was.
        assert_eq!(
            state_of(&app, &owner.token, id).await,
            before,
            "refused requests changed nothing"
        );
        let org = app.org_json(&owner.token, id).await;
        assert_eq!(owner_ids(&org), vec![owner.id]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_of_a_grandparent_manages_a_grandchild_and_a_siblings_owner_does_not() {
    for_each_backend(|app| async move {
        let founder = app.user("founder").await;
        let heir = app.user("heir").await;
        let sibling_owner = app.user("sibling").await;
        let target = app.user("target").await;
        let r = id_of(&app.org(&founder.token, "Root").await);
        let c = id_of(&app.child_org(&founder.token, r, "Child").await);
        let s = id_of(&app.child_org(&founder.token, r, "Sibling").await);
        let g = id_of(&app.child_org(&founder.token, c, "Grandchild").await);
        app.member_add(r, &heir.email, "owner").await;
        app.member_add(s, &sibling_owner.email, "owner").await;
        let root_api = app.organization_token(r).await;

        // The sibling's owner is refused everything on the grandchild (and the child).
        let g_before = state_of(&app, &founder.token, g).await;
        for org in [g, c] {
            for call in calls(org, &target, &founder) {
                let resp = app
                    .rest(
                        call.method.clone(),
                        &call.path,
                        Auth::Bearer(&sibling_owner.token),
                        call.body.as_ref(),
                    )
                    .await;
                expect_error(
                    &resp,
                    403,
                    "PERMISSION_DENIED",
                    &format!("sibling owner: {} {}", call.what, call.path),
                );
            }
        }
        expect_error(
            &app.rest(
                Method::PUT,
                "/api/v1/organization",
                Auth::Bearer(&sibling_owner.token),
                Some(&json!({"id": g, "name": "Hijacked"})),
            )
            .await,
            403,
            "PERMISSION_DENIED",
            "sibling owner updates",
        );
        assert_eq!(
            state_of(&app, &founder.token, g).await,
            g_before,
            "the sibling's owner changed nothing"
        );

        for (who, auth) in [
            ("grandparent's owner", Auth::Bearer(&heir.token)),
            ("root API token", Auth::ApiToken(&root_api)),
        ] {
            // Read.
            let rr = app.get(&org_path(g, ""), auth.clone()).await;
            expect_status(&rr, 200, who);
            let rr = app.get(&org_path(g, "/children"), auth.clone()).await;
            expect_status(&rr, 200, who);
            assert_eq!(ids_of(&rr.json["path"]), vec![r, c, g]);
            // Update.
            let name = format!("Renamed by {who}");
            let rr = app
                .rest(
                    Method::PUT,
                    "/api/v1/organization",
                    auth.clone(),
                    Some(&json!({"id": g, "name": name})),
                )
                .await;
            expect_status(&rr, 200, &format!("{who}: update"));
            assert_eq!(rr.json["name"], json!(name));
            // Avatar.
            assert_empty_200(
                &app.rest(
                    Method::PUT,
                    &org_path(g, "/avatar"),
                    auth.clone(),
                    Some(&avatar_body(&webp())),
                )
                .await,
                &format!("{who}: avatar"),
            );
            let rr = app.get(&org_path(g, "/avatar"), auth.clone()).await;
            expect_status(&rr, 200, &format!("{who}: get avatar"));
            // Location.
            let loc = json!({"address": who, "latitude": 48.1, "longitude": 11.6});
            let rr = app
                .rest(
                    Method::PUT,
                    &org_path(g, "/location"),
                    auth.clone(),
                    Some(&loc),
                )
                .await;
            expect_status(&rr, 200, &format!("{who}: location"));
            assert_eq!(app.org_json(&founder.token, g).await["location"], loc);
            assert_empty_200(
                &app.rest(
                    Method::DELETE,
                    &org_path(g, "/location"),
                    auth.clone(),
                    None,
                )
                .await,
                &format!("{who}: delete location"),
            );
            // Quick actions.
            let rr = app
                .rest(
                    Method::PUT,
                    &org_path(g, "/quick-actions"),
                    auth.clone(),
                    Some(&json!([quick_action(who)])),
                )
                .await;
            expect_status(&rr, 200, &format!("{who}: quick actions"));
            assert_eq!(
                names_of(&app.quick_actions(&founder.token, g).await),
                vec![who.to_string()]
            );
            // Owners and invitations.
            let rr = app
                .rest(
                    Method::POST,
                    &org_path(g, "/owner/invitations"),
                    auth.clone(),
                    Some(&json!({"email": target.email})),
                )
                .await;
            expect_status(&rr, 201, &format!("{who}: invite"));
            let rr = app
                .get(&org_path(g, "/owner/invitations"), auth.clone())
                .await;
            expect_status(&rr, 200, &format!("{who}: list invitations"));
            assert_eq!(rr.json.as_array().unwrap().len(), 1);
            assert_empty_200(
                &app.rest(
                    Method::DELETE,
                    &org_path(g, &format!("/owner/invitations/{}", target.id)),
                    auth.clone(),
                    None,
                )
                .await,
                &format!("{who}: remove invitation"),
            );
            assert_empty_200(
                &app.rest(
                    Method::PUT,
                    &org_path(g, &format!("/owner/{}", target.id)),
                    auth.clone(),
                    None,
                )
                .await,
                &format!("{who}: add owner"),
            );
            assert!(owner_ids(&app.org_json(&founder.token, g).await).contains(&target.id));
            let rr = app
                .get(&org_path(g, &format!("/owner/{}", target.id)), auth.clone())
                .await;
            expect_status(&rr, 200, &format!("{who}: owner in parent"));
            assert_eq!(id_of(&rr.json), g);
            assert_empty_200(
                &app.rest(
                    Method::DELETE,
                    &org_path(g, &format!("/owner/{}", target.id)),
                    auth.clone(),
                    None,
                )
                .await,
                &format!("{who}: remove owner"),
            );
            assert_eq!(
                owner_ids(&app.org_json(&founder.token, g).await),
                vec![founder.id]
            );
        }
        // heir's topmost owned organization on g's path is the root.
        let rr = app
            .get(
                &org_path(g, &format!("/owner/{}", heir.id)),
                Auth::Bearer(&founder.token),
            )
            .await;
        expect_status(&rr, 200, "heir in parent");
        assert_eq!(id_of(&rr.json), r);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_stays_a_tree() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let root = app.org(&owner.token, "Root").await;
        let r = id_of(&root);
        let c = id_of(&app.child_org(&owner.token, r, "Child").await);
        let g = id_of(&app.child_org(&owner.token, c, "Grandchild").await);
        let root = app.org_json(&owner.token, r).await;
        let child = app.org_json(&owner.token, c).await;

        for (what, org, name, parent) in [
            ("root under its grandchild", r, "Root", g),
            ("root under its child", r, "Root", c),
            ("root under itself", r, "Root", r),
            ("child under its child", c, "Child", g),
        ] {
            let resp = app
                .rest(
                    Method::PUT,
                    "/api/v1/organization",
                    Auth::Bearer(&owner.token),
                    Some(&json!({"id": org, "name": name, "parentID": parent, "timezone": "Europe/Berlin", "language": "de"})),
                )
                .await;
            expect_error(&resp, 409, "WOULD_CREATE_CYCLE", what);
        }
        assert_eq!(app.org_json(&owner.token, r).await, root, "the root did not move");
        assert_eq!(app.org_json(&owner.token, c).await, child, "the child did not move");
        let body = app.get_ok(&org_path(g, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["path"]), vec![r, c, g]);

        for org in [r, c] {
            expect_error(
                &app.rest(Method::DELETE, &org_path(org, ""), Auth::Bearer(&owner.token), None).await,
                409,
                "HAS_CHILDREN",
                "delete with children",
            );
        }
        let body = app.get_ok(&org_path(r, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["childs"]), vec![c]);

        // Moving the grandchild up under the root is fine.
        let resp = app
            .rest(
                Method::PUT,
                "/api/v1/organization",
                Auth::Bearer(&owner.token),
                Some(&json!({"id": g, "name": "Grandchild", "parentID": r, "timezone": "Europe/Berlin", "language": "de"})),
            )
            .await;
        expect_status(&resp, 200, "move up");
        let body = app.get_ok(&org_path(r, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["childs"]), vec![c, g]);
        assert_eq!(body["totalChilds"], json!(2));
        let body = app.get_ok(&org_path(g, "/children"), &owner.token).await;
        assert_eq!(ids_of(&body["path"]), vec![r, g]);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// gRPC.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_rpc_over_grpc() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let invitee = app.user("invitee").await;
        let extra = app.user("extra").await;
        let root = id_of(&app.org(&owner.token, "gRPC root").await);
        let child = id_of(&app.child_org(&owner.token, root, "gRPC child").await);
        let service = app.service_token("alarming").await;
        let t = owner.token.as_str();
        let mut client = app.organizations().await;

        // Children.
        let resp = ok(
            client
                .get_child_organizations(bearer(
                    GetChildOrganizationsRequest {
                        organization_id: root,
                        limit: Some(10),
                        offset: Some(0),
                    },
                    t,
                ))
                .await,
            "GetChildOrganizations",
        );
        assert_eq!(
            resp.childs.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![child]
        );
        assert_eq!(
            resp.path.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![root]
        );
        assert_eq!(resp.total_childs, 1);

        // Availability.
        app.member_add(child, &extra.email, "member").await;
        ok(
            set_status(
                &app,
                &service,
                &child.to_string(),
                &extra.email,
                AvailabilityStatus::InEvent,
            )
            .await,
            "SetUserAvailability",
        );
        let resp = ok(
            client
                .get_available_users(bearer(
                    GetAvailableUsersRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "GetAvailableUsers",
        );
        assert_eq!(
            resp.count_in_root.unwrap_or_default(),
            AvailableUsersCount::default()
        );
        assert_eq!(
            resp.count_total.expect("count_total"),
            AvailableUsersCount {
                count_available: 0,
                count_in_event: 1,
                count_not_available: 0
            }
        );
        let resp = ok(
            client
                .get_availability_history(bearer(
                    GetAvailabilityHistoryRequest {
                        organization_id: child,
                        limit: None,
                        offset: None,
                    },
                    t,
                ))
                .await,
            "GetAvailabilityHistory",
        );
        assert_eq!(resp.entries.len(), 14);
        assert_eq!(resp.entries[13].count_in_event, 1);
        assert!(resp.start_date.is_some() && resp.end_date.is_some());

        // Avatar.
        ok(
            client
                .set_avatar(bearer(
                    SetAvatarRequest {
                        organization_id: root,
                        avatar: png(),
                    },
                    t,
                ))
                .await,
            "SetAvatar",
        );
        let resp = ok(
            client
                .get_avatar(bearer(
                    GetAvatarRequest {
                        organization_id: root,
                        v: 0,
                    },
                    t,
                ))
                .await,
            "GetAvatar",
        );
        let image = resp.image.expect("image");
        assert_eq!(image.data, png());
        assert_eq!(image.content_type, "image/png");
        let org = ok(
            client
                .get_organization(bearer(
                    GetOrganizationRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "GetOrganization",
        )
        .organization
        .unwrap();
        assert!(
            org.avatar_url
                .as_deref()
                .is_some_and(|u| u.starts_with(&format!("/api/v1/avatars/{root}-"))),
            "{:?}",
            org.avatar_url
        );

        // Location.
        let loc = OrganizationLocation {
            address: "Marienplatz".into(),
            latitude: 48.137,
            longitude: 11.575,
        };
        let resp = ok(
            client
                .upsert_organization_location(bearer(
                    UpsertOrganizationLocationRequest {
                        organization_id: root,
                        location: Some(loc.clone()),
                    },
                    t,
                ))
                .await,
            "UpsertOrganizationLocation",
        );
        assert_eq!(resp.location, Some(loc.clone()));
        ok(
            client
                .delete_organization_location(bearer(
                    DeleteOrganizationLocationRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "DeleteOrganizationLocation",
        );
        let org = ok(
            client
                .get_organization(bearer(
                    GetOrganizationRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "GetOrganization",
        )
        .organization
        .unwrap();
        assert_eq!(org.location, None);

        // Owner invitations.
        let inv = ok(
            client
                .invite_owner(bearer(
                    InviteOwnerRequest {
                        organization_id: root,
                        email: invitee.email.clone(),
                    },
                    t,
                ))
                .await,
            "InviteOwner",
        )
        .invitation
        .expect("invitation");
        assert_eq!(inv.user_id, invitee.id);
        assert_eq!(inv.organization_id, root);
        assert_eq!(inv.email, invitee.email);
        assert!(uuid::Uuid::parse_str(&inv.id).is_ok());
        let listed = ok(
            client
                .list_owner_invitations(bearer(
                    ListOwnerInvitationsRequest {
                        organization_id: root,
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            "ListOwnerInvitations",
        );
        assert_eq!(listed.invitations, vec![inv.clone()]);
        ok(
            client
                .accept_owner_invitation(bearer(
                    AcceptOwnerInvitationRequest {
                        organization_id: root,
                        invitation_id: inv.id.clone(),
                    },
                    &invitee.token,
                ))
                .await,
            "AcceptOwnerInvitation",
        );
        let inv2 = ok(
            client
                .invite_owner(bearer(
                    InviteOwnerRequest {
                        organization_id: root,
                        email: extra.email.clone(),
                    },
                    t,
                ))
                .await,
            "InviteOwner 2",
        )
        .invitation
        .unwrap();
        assert_eq!(inv2.user_id, extra.id);
        ok(
            client
                .remove_owner_invitation(bearer(
                    RemoveOwnerInvitationRequest {
                        organization_id: root,
                        user_id: extra.id,
                    },
                    t,
                ))
                .await,
            "RemoveOwnerInvitation",
        );
        let listed = ok(
            client
                .list_owner_invitations(bearer(
                    ListOwnerInvitationsRequest {
                        organization_id: root,
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            "ListOwnerInvitations",
        );
        assert!(listed.invitations.is_empty());

        // Owners.
        ok(
            client
                .add_owner(bearer(
                    AddOwnerRequest {
                        organization_id: child,
                        user_id: extra.id,
                    },
                    t,
                ))
                .await,
            "AddOwner",
        );
        let top = ok(
            client
                .get_owner_in_parent_organization(bearer(
                    GetOwnerInParentOrganizationRequest {
                        organization_id: child,
                        user_id: extra.id,
                    },
                    t,
                ))
                .await,
            "GetOwnerInParentOrganization",
        )
        .organization
        .unwrap();
        assert_eq!(top.id, child);
        let top = ok(
            client
                .get_owner_in_parent_organization(bearer(
                    GetOwnerInParentOrganizationRequest {
                        organization_id: child,
                        user_id: invitee.id,
                    },
                    t,
                ))
                .await,
            "GetOwnerInParentOrganization (invitee)",
        )
        .organization
        .unwrap();
        assert_eq!(
            top.id, root,
            "the accepted invitation made the invitee an owner of the root"
        );
        ok(
            client
                .remove_owner(bearer(
                    RemoveOwnerRequest {
                        organization_id: child,
                        user_id: extra.id,
                    },
                    t,
                ))
                .await,
            "RemoveOwner",
        );
        assert_conflict(
            client
                .remove_owner(bearer(
                    RemoveOwnerRequest {
                        organization_id: child,
                        user_id: owner.id,
                    },
                    t,
                ))
                .await,
            "RemoveOwner of the last owner",
        );
        let org = ok(
            client
                .get_organization(bearer(
                    GetOrganizationRequest {
                        organization_id: child,
                    },
                    t,
                ))
                .await,
            "GetOrganization child",
        )
        .organization
        .unwrap();
        assert_eq!(org.owner_ids, vec![owner.id]);

        // Quick actions.
        let set = ok(
            client
                .set_organization_quick_actions(bearer(
                    SetOrganizationQuickActionsRequest {
                        organization_id: root,
                        quick_actions: vec![QuickAction {
                            name: "Alarm".into(),
                            color: "red".into(),
                            icon: "bell".into(),
                            one_click: true,
                            resource: "alarm_template".into(),
                            resource_id: 3,
                            ..Default::default()
                        }],
                    },
                    t,
                ))
                .await,
            "SetOrganizationQuickActions",
        )
        .quick_actions;
        assert_eq!(set.len(), 1);
        assert!(set[0].id > 0);
        assert_eq!(set[0].organization_id, root);
        assert_eq!(set[0].name, "Alarm");
        let got = ok(
            client
                .get_organization_quick_actions(bearer(
                    GetOrganizationQuickActionsRequest {
                        organization_id: root,
                    },
                    t,
                ))
                .await,
            "GetOrganizationQuickActions",
        )
        .quick_actions;
        assert_eq!(got, set);

        // Paginated.
        let resp = ok(
            client
                .get_paginated_organizations(bearer(
                    GetPaginatedOrganizationsRequest {
                        limit: Some(10),
                        offset: Some(0),
                        all: false,
                    },
                    t,
                ))
                .await,
            "GetPaginatedOrganizations",
        );
        assert_eq!(
            resp.organizations.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![root]
        );
        assert_eq!(resp.total_organizations, 1);

        // Trial.
        let status = ok(
            client
                .get_trial_status(bearer(GetTrialStatusRequest {}, t))
                .await,
            "GetTrialStatus",
        )
        .trial
        .expect("trial");
        assert!(!status.active);
        assert_eq!(status.start, None);
        assert_eq!(status.user_id, owner.id);
        let started = ok(
            client.start_trial(bearer(StartTrialRequest {}, t)).await,
            "StartTrial",
        )
        .trial
        .expect("trial");
        assert!(started.active);
        assert!(started.start.is_some());
        assert_eq!(started.user_id, owner.id);
        assert_conflict(
            client.start_trial(bearer(StartTrialRequest {}, t)).await,
            "StartTrial again",
        );
    })
    .await;
}

/// GetOrganization reads its row its own way (one statement; on an SQLite file, rusqlite on
/// the calling thread): every field must come back as the lists, read through SeaORM,
/// show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_organization_equals_its_listed_self() {
    for_each_backend(|app| async move {
        let owner = app.user("owner").await;
        let member = app.user("member").await;
        let service = app.service_token("alarming").await;
        let t = owner.token.as_str();
        let root = id_of(
            &app.create_org(
                t,
                json!({
                    "name": "Every field", "description": "ünïcödé ✓", "timezone": "Asia/Tokyo",
                    "language": "en-GB", "enforcesTwoFactorAuth": true,
                    "dataRetentionPeriod": 7, "tags": ["a", "b,c", "\"q\""]
                }),
            )
            .await,
        );
        let child = id_of(&app.child_org(t, root, "Child").await);
        app.member_add(root, &member.email, "member").await;
        ok(
            set_status(
                &app,
                &service,
                &root.to_string(),
                &member.email,
                AvailabilityStatus::InEvent,
            )
            .await,
            "SetUserAvailability",
        );
        let mut client = app.organizations().await;
        ok(
            client
                .set_avatar(bearer(
                    SetAvatarRequest {
                        organization_id: root,
                        avatar: png(),
                    },
                    t,
                ))
                .await,
            "SetAvatar",
        );
        ok(
            client
                .upsert_organization_location(bearer(
                    UpsertOrganizationLocationRequest {
                        organization_id: root,
                        location: Some(OrganizationLocation {
                            address: "Marienplatz 1".into(),
                            latitude: 48.137_154,
                            longitude: -11.575_382,
                        }),
                    },
                    t,
                ))
                .await,
            "UpsertOrganizationLocation",
        );

        let listed = ok(
            client
                .get_organizations(bearer(GetOrganizationsRequest {}, t))
                .await,
            "GetOrganizations",
        )
        .organizations;
        assert_eq!(listed.len(), 2);
        for org in listed {
            let fetched = ok(
                client
                    .get_organization(bearer(
                        GetOrganizationRequest {
                            organization_id: org.id,
                        },
                        t,
                    ))
                    .await,
                "GetOrganization",
            )
            .organization
            .expect("organization");
            assert_eq!(fetched, org, "organization {}", org.id);
            if org.id == root {
                assert!(fetched.has_children);
                assert_eq!(fetched.owner_ids, vec![owner.id]);
                assert_eq!(fetched.tags, vec!["a", "b,c", "\"q\""]);
                assert!(fetched.avatar_url.is_some());
                assert_eq!(fetched.location.as_ref().unwrap().longitude, -11.575_382);
                assert_eq!(fetched.available_users.unwrap().count_in_event, 1);
                assert!(fetched.trial_end_date.is_some());
            } else {
                assert_eq!(org.id, child);
                assert_eq!(fetched.parent_id, Some(root));
                assert!(!fetched.has_children);
            }
        }
    })
    .await;
}
