//! The authorization matrix (issue 7): every RPC in the descriptor pool, called over gRPC
//! and (when it has a `google.api.http` rule) over REST, as each kind of caller, against one
//! target organization T. The expected outcome of every cell is written down in [`TABLE`];
//! an RPC without a row fails the test by name, so a new RPC cannot slip in unreviewed.
//!
//! Callers (the columns of the table, in order):
//! none (no token), unknown (a token the server never issued), stranger (a user of an
//! unrelated organization U), member, admin and owner of T, foreign (an organization API
//! token of U), partner (a member of P, which has an accepted giosg partnership with T and
//! is T's MyCreditApp guest) and
//! service (an internal service token, an extra column) and t-token (an organization API
//! token of T itself, also extra: Own within T's subtree, but no user).
//!
//! Requests are generic: each row's request is written as proto3 JSON, turned into a
//! `DynamicMessage` of the method's input and sent as a unary gRPC call through a raw bytes
//! codec; the REST request is derived from the RPC's binding (method, path variables and
//! headers from the same message) with only the query and body written here.
//!
//! Besides the status, no response to a caller outside T (none, unknown, stranger, foreign),
//! and no non-2xx response to anyone, may contain T's data: the run's secret (in T's name,
//! its child's name, quick actions, partner record, invitation message), T's or its child's
//! UUID, or T's int64 id under an organization-id key. A marker the request itself carried is
//! reported as an echo, not a leak (the caller learns nothing it did not send).
//!
//! MyCreditApp calls are also sent by callers outside T claiming T as the requester (403).
//!
//! Permission before existence: every call that names T is sent again naming an
//! organization that does not exist, by every authenticated caller. Without access the answer
//! must stay 403, a role in T gives none elsewhere (403), and only services, which act for
//! any organization, may learn that it is missing (404).
//!
//! Destructive RPCs act on throwaway copies or have their precondition restored before each
//! cell, so the order of cells does not matter.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base64::Engine;
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
// The table.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Caller {
    None,
    Unknown,
    Stranger,
    Member,
    Admin,
    Owner,
    Foreign,
    Partner,
    Service,
    TargetToken,
}

const CALLERS: [Caller; 10] = [
    Caller::None,
    Caller::Unknown,
    Caller::Stranger,
    Caller::Member,
    Caller::Admin,
    Caller::Owner,
    Caller::Foreign,
    Caller::Partner,
    Caller::Service,
    Caller::TargetToken,
];

impl Caller {
    fn name(self) -> &'static str {
        match self {
            Caller::None => "none",
            Caller::Unknown => "unknown",
            Caller::Stranger => "stranger",
            Caller::Member => "member",
            Caller::Admin => "admin",
            Caller::Owner => "owner",
            Caller::Foreign => "foreign",
            Caller::Partner => "partner",
            Caller::Service => "service",
            Caller::TargetToken => "t-token",
        }
    }

    /// Callers with no business in T: even their successful responses must not carry T's data.
    fn outsider(self) -> bool {
        matches!(
            self,
            Caller::None | Caller::Unknown | Caller::Stranger | Caller::Foreign
        )
    }
}

/// An expected outcome, in HTTP terms (gRPC codes are mapped as API.md documents; the
/// MyCreditApp surface's 422 counts as 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exp {
    /// Any 2xx / OK.
    Ok,
    /// OK the first time this caller does it, 409 afterwards (starting one's trial).
    Once,
    Status(u16),
}

impl fmt::Display for Exp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exp::Ok => write!(f, "ok"),
            Exp::Once => write!(f, "once"),
            Exp::Status(s) => write!(f, "{s}"),
        }
    }
}

fn parse_row(rpc: &str, row: &str) -> [Exp; 10] {
    let cells: Vec<Exp> = row
        .split_whitespace()
        .map(|c| match c {
            "ok" => Exp::Ok,
            "once" => Exp::Once,
            n => Exp::Status(
                n.parse()
                    .unwrap_or_else(|_| panic!("{rpc}: bad cell {n:?} in the table")),
            ),
        })
        .collect();
    cells
        .try_into()
        .unwrap_or_else(|_| panic!("{rpc}: the row must have 10 cells: {row:?}"))
}

/// Every RPC and what each caller gets. Columns:
/// none unknown stranger member admin owner foreign partner service t-token.
#[rustfmt::skip]
const TABLE: &[(&str, &str)] = &[
    // GroupAlarm: reads need a role in T (or ownership above it), services may read;
    // writes need Own (owner, or an API token of T's subtree), services may not.
    ("orgd.v1.OrganizationService.CreateOrganization", "401 401 403 403 403 ok 403 403 403 403"),
    ("orgd.v1.OrganizationService.UpdateOrganization", "401 401 403 403 403 ok 403 403 403 ok"),
    ("orgd.v1.OrganizationService.GetOrganization", "401 401 403 ok ok ok 403 403 ok ok"),
    // Deletes a throwaway root organization with T's owner, admin and member (outside
    // T's subtree, so T's API token has no say in it).
    ("orgd.v1.OrganizationService.DeleteOrganization", "401 401 403 403 403 ok 403 403 403 403"),
    ("orgd.v1.OrganizationService.GetOrganizations", "401 401 ok ok ok ok ok ok 403 ok"),
    ("orgd.v1.OrganizationService.GetChildOrganizations", "401 401 403 ok ok ok 403 403 ok ok"),
    ("orgd.v1.OrganizationService.GetAvailableUsers", "401 401 403 ok ok ok 403 403 ok ok"),
    ("orgd.v1.OrganizationService.SetAvatar", "401 401 403 403 403 ok 403 403 403 ok"),
    ("orgd.v1.OrganizationService.GetAvatar", "401 401 403 ok ok ok 403 403 ok ok"),
    // T's avatar by its capability URL (what a browser's <img> loads): the capability is
    // the permission, whoever calls.
    ("orgd.v1.OrganizationService.GetPublicAvatar", "ok ok ok ok ok ok ok ok ok ok"),
    ("orgd.v1.OrganizationService.GetAvailabilityHistory", "401 401 403 ok ok ok 403 403 ok ok"),
    ("orgd.v1.OrganizationService.UpsertOrganizationLocation", "401 401 403 403 403 ok 403 403 403 ok"),
    ("orgd.v1.OrganizationService.DeleteOrganizationLocation", "401 401 403 403 403 ok 403 403 403 ok"),
    ("orgd.v1.OrganizationService.ListOwnerInvitations", "401 401 403 403 403 ok 403 403 403 ok"),
    ("orgd.v1.OrganizationService.InviteOwner", "401 401 403 403 403 ok 403 403 403 ok"),
    // Only the invited user (none of the callers) may accept; the owner included.
    ("orgd.v1.OrganizationService.AcceptOwnerInvitation", "401 401 403 403 403 403 403 403 403 403"),
    ("orgd.v1.OrganizationService.RemoveOwnerInvitation", "401 401 403 403 403 ok 403 403 403 ok"),
    ("orgd.v1.OrganizationService.AddOwner", "401 401 403 403 403 ok 403 403 403 ok"),
    ("orgd.v1.OrganizationService.GetOwnerInParentOrganization", "401 401 403 ok ok ok 403 403 ok ok"),
    ("orgd.v1.OrganizationService.RemoveOwner", "401 401 403 403 403 ok 403 403 403 ok"),
    ("orgd.v1.OrganizationService.GetOrganizationQuickActions", "401 401 403 ok ok ok 403 403 ok ok"),
    ("orgd.v1.OrganizationService.SetOrganizationQuickActions", "401 401 403 403 403 ok 403 403 403 ok"),
    // The caller's own organizations (leak-checked: U's callers must not see T).
    ("orgd.v1.OrganizationService.GetPaginatedOrganizations", "401 401 ok ok ok ok ok ok 403 ok"),
    // The organizations the caller owns: people only (leak-checked as above).
    ("orgd.v1.OrganizationService.GetOwnedOrganizations", "401 401 ok ok ok ok 403 ok 403 403"),
    // The caller's own trial: people only.
    ("orgd.v1.OrganizationService.GetTrialStatus", "401 401 ok ok ok ok 403 ok 403 403"),
    ("orgd.v1.OrganizationService.StartTrial", "401 401 once once once once 403 once 403 403"),
    // Internal RPCs (gRPC only).
    ("orgd.v1.MembershipService.SetMembership", "401 401 403 403 ok ok 403 403 ok ok"),
    ("orgd.v1.MembershipService.RemoveMembership", "401 401 403 403 ok ok 403 403 ok ok"),
    ("orgd.v1.MembershipService.ListMemberships", "401 401 403 403 ok ok 403 403 ok ok"),
    ("orgd.v1.BillingService.SetOrganizationState", "401 401 403 403 403 403 403 403 ok 403"),
    ("orgd.v1.AvailabilityService.SetUserAvailability", "401 401 403 403 403 403 403 403 ok 403"),
    // MyCreditApp: Requester = the caller's own organization, Target = T. Members of T
    // write their own directory; inviting from it sends a partnership invitation from T, so
    // it needs settings permission (issue 13, H2). A member of the connected P reads it and
    // never writes it (published: create Self ✓, Host ✗, Guest ✗).
    ("orgd.v1.OrganizationPartnerService.ListOrganizationPartners", "401 401 403 ok ok ok 403 ok 403 ok"),
    ("orgd.v1.OrganizationPartnerService.CreateOrganizationPartner", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.OrganizationPartnerService.GetOrganizationPartner", "401 401 403 ok ok ok 403 ok 403 ok"),
    ("orgd.v1.OrganizationPartnerService.UpdateOrganizationPartner", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.OrganizationPartnerService.DeleteOrganizationPartner", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.OrganizationPartnerService.InviteOrganizationPartner", "401 401 403 403 ok ok 403 403 403 ok"),
    // MyCreditApp guest invitations and connections: T is P's host. Inviting (and listing
    // the invitations, tokens included) and accepting need settings permission, Self only;
    // accepting is T accepting H's invitation. Lists of one's own connections take any role,
    // Self only. Archiving a guest is the host's (Requester T, Target and path P), settings
    // permission; P itself, as the guest, may not.
    ("orgd.v1.GuestConnectionService.CreateGuestInvitation", "401 401 403 403 ok ok 403 403 403 ok"),
    ("orgd.v1.GuestConnectionService.ListGuestInvitations", "401 401 403 403 ok ok 403 403 403 ok"),
    ("orgd.v1.GuestConnectionService.AcceptGuestInvitation", "401 401 403 403 ok ok 403 403 403 ok"),
    ("orgd.v1.GuestConnectionService.ListGuestConnections", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.GuestConnectionService.UpdateGuestConnection", "401 401 403 403 ok ok 403 403 403 ok"),
    ("orgd.v1.GuestConnectionService.ListHostConnections", "401 401 403 ok ok ok 403 403 403 ok"),
    // Authenticated by T's client credentials in the body, whatever token comes along.
    ("orgd.v1.OAuthService.CreateToken", "ok ok ok ok ok ok ok ok ok ok"),
    // giosg: 401, 403 not a member, (403 no subscription), 403 no settings permission, 404;
    // services act for any organization.
    ("orgd.v1.PartnershipService.GetOwnOrganization", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.ListOrganizationUsers", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.GetOrganizationUser", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.ListPartnerships", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.GetPartnership", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.UpdatePartnership", "401 401 403 403 ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.PatchPartnership", "401 401 403 403 ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.DeletePartnership", "401 401 403 403 ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.ListPartners", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.GetPartner", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.ListPartnerUsers", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipService.GetPartnerUser", "401 401 403 ok ok ok 403 403 403 ok"),
    // Invitations are addressed by their own id or key: someone else's is as unknown as a
    // missing one (404, as giosg documents), never 403-then-404 about T. The incoming one
    // goes to T's email, so it is for T's admins and owners only: T's plain member does not
    // see it (issue 13, L4).
    ("orgd.v1.PartnershipInvitationService.CreateOutgoingInvitation", "401 401 403 403 ok ok 403 403 403 403"),
    ("orgd.v1.PartnershipInvitationService.ListOutgoingInvitations", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.PartnershipInvitationService.GetOutgoingInvitation", "401 401 404 ok ok ok 404 404 404 ok"),
    ("orgd.v1.PartnershipInvitationService.CancelOutgoingInvitation", "401 401 404 403 ok ok 404 404 404 ok"),
    ("orgd.v1.PartnershipInvitationService.ListIncomingInvitations", "401 401 ok ok ok ok ok ok ok ok"),
    ("orgd.v1.PartnershipInvitationService.GetIncomingInvitation", "401 401 404 404 ok ok 404 404 404 ok"),
    // P sent the incoming one: its people may not answer what they sent (403, as giosg
    // publishes), where anyone else it was not sent to does not see it (404).
    ("orgd.v1.PartnershipInvitationService.AcceptIncomingInvitation", "401 401 404 404 ok ok 403 403 403 403"),
    ("orgd.v1.PartnershipInvitationService.RejectIncomingInvitation", "401 401 404 404 ok ok 403 403 403 403"),
    // giosg v3 (network API): the same rules as the v5 mapping above, by integer ids. A
    // partnership is addressed by T's own side's id: to anyone without a role in T it is
    // unknown (404).
    ("orgd.v1.NetworkService.CreateNetworkInvitation", "401 401 403 403 ok ok 403 403 403 403"),
    ("orgd.v1.NetworkService.ListNetworkOutgoingInvitations", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.NetworkService.GetNetworkOutgoingInvitation", "401 401 404 ok ok ok 404 404 404 ok"),
    ("orgd.v1.NetworkService.CancelNetworkOutgoingInvitation", "401 401 404 403 ok ok 404 404 404 ok"),
    ("orgd.v1.NetworkService.ListNetworkIncomingInvitations", "401 401 ok ok ok ok ok ok ok ok"),
    ("orgd.v1.NetworkService.GetNetworkIncomingInvitation", "401 401 404 404 ok ok 404 404 404 ok"),
    ("orgd.v1.NetworkService.AcceptNetworkIncomingInvitation", "401 401 404 404 ok ok 403 403 403 403"),
    ("orgd.v1.NetworkService.RejectNetworkIncomingInvitation", "401 401 404 404 ok ok 403 403 403 403"),
    ("orgd.v1.NetworkService.ListNetworkPartnerships", "401 401 403 ok ok ok 403 403 403 ok"),
    ("orgd.v1.NetworkService.GetNetworkPartnership", "401 401 404 ok ok ok 404 404 404 ok"),
    ("orgd.v1.NetworkService.UpdateNetworkPartnership", "401 401 404 403 ok ok 404 404 404 ok"),
    ("orgd.v1.NetworkService.PatchNetworkPartnership", "401 401 404 403 ok ok 404 404 404 ok"),
    ("orgd.v1.NetworkService.DeleteNetworkPartnership", "401 401 404 403 ok ok 404 404 404 ok"),
    // Presence: a member for themself (the target user is T's member), settings permission
    // for anyone else, services for all; the user status is internal.
    ("orgd.v1.PresenceService.RegisterUserClient", "401 401 403 ok ok ok 403 403 ok ok"),
    ("orgd.v1.PresenceService.RemoveUserClient", "401 401 403 ok ok ok 403 403 ok ok"),
    ("orgd.v1.PresenceService.SetUserStatus", "401 401 403 403 403 403 403 403 ok 403"),
    // The change log's audit log: admins and owners of T (and T's API token), never
    // services; the same on both surfaces.
    ("orgd.v1.EventService.ListEvents", "401 401 403 403 ok ok 403 403 403 ok"),
    ("orgd.v1.OrganizationEventService.ListOrganizationEvents", "401 401 403 403 ok ok 403 403 403 ok"),
    // Watching the changes: whoever may read T (a stream let in answers its heartbeat).
    ("orgd.v1.EventService.WatchEvents", "401 401 403 ok ok ok 403 403 ok ok"),
    ("orgd.v1.OrganizationEventService.WatchOrganizationEvents", "401 401 403 ok ok ok 403 403 ok ok"),
];

// ---------------------------------------------------------------------------------------
// A generic unary gRPC call: raw bytes in, raw bytes out.

fn method_by_name(full_name: &str) -> MethodDescriptor {
    DESCRIPTOR_POOL
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .find(|m| m.full_name() == full_name)
        .unwrap_or_else(|| panic!("no RPC {full_name} in the descriptor pool"))
}

/// The request message of `method` from proto3 JSON.
fn message(method: &MethodDescriptor, json: &Value) -> DynamicMessage {
    DynamicMessage::deserialize(method.input(), json.clone()).unwrap_or_else(|e| {
        panic!(
            "{}: request JSON does not fit the input message: {e}: {json}",
            method.full_name()
        )
    })
}

async fn grpc_call(
    channel: &Channel,
    method: &MethodDescriptor,
    request: &DynamicMessage,
    authorization: Option<&str>,
) -> Result<DynamicMessage, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("channel not ready: {e}")))?;
    let path = http::uri::PathAndQuery::try_from(format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .expect("gRPC path");
    let mut req = tonic::Request::new(request.encode_to_vec());
    if let Some(value) = authorization {
        req.metadata_mut()
            .insert("authorization", value.parse().expect("ASCII token"));
    }
    let bytes = if method.is_server_streaming() {
        // A stream that was let in stands for its first message (a change stream's first
        // is a heartbeat); it never ends by itself.
        let mut stream = grpc
            .server_streaming(req, path, RawCodec)
            .await?
            .into_inner();
        match tokio::time::timeout(std::time::Duration::from_secs(3), stream.message()).await {
            Ok(first) => first?.unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    } else {
        grpc.unary(req, path, RawCodec).await?.into_inner()
    };
    DynamicMessage::decode(method.output(), bytes.as_slice())
        .map_err(|e| tonic::Status::internal(format!("undecodable response: {e}")))
}

// ---------------------------------------------------------------------------------------
// The fixture.

#[derive(Clone, Debug)]
struct Org {
    id: i64,
    uuid: String,
}

fn org_of(v: &Value) -> Org {
    Org {
        id: id_of(v),
        uuid: v["uuid"].as_str().expect("organization uuid").to_string(),
    }
}

struct Fx {
    app: App,
    channel: Channel,
    /// In T's name, its child's name, its quick action, partner record and invitation.
    secret: String,
    t: Org,
    t_name: String,
    child: Org,
    u: Org,
    p: Org,
    /// A host (owned by q_owner) whose guest invitations T accepts.
    h: Org,
    t_email: String,
    owner: User,
    admin: User,
    member: User,
    stranger: User,
    partner: User,
    p_owner: User,
    owner2: User,
    extra: User,
    invitee: User,
    invitee2: User,
    q_owner: User,
    foreign_token: String,
    service_token: String,
    /// An organization API token of T itself: Own within T's subtree, no user.
    target_token: String,
    record: String,
    outgoing: String,
    incoming_key: String,
    oauth: (String, String),
    counter: AtomicU64,
}

/// A PNG as far as the avatar sniffer cares.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR matrix";

async fn ok(r: Resp, what: &str) -> Value {
    assert!(
        r.status.is_success(),
        "fixture step {what}: HTTP {} {}",
        r.status,
        r.text
    );
    r.json
}

impl Fx {
    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn token(&self, caller: Caller) -> Option<String> {
        match caller {
            Caller::None => None,
            Caller::Unknown => Some("0rgd-never-issued-token-0123456789abcdef".to_string()),
            Caller::Stranger => Some(self.stranger.token.clone()),
            Caller::Member => Some(self.member.token.clone()),
            Caller::Admin => Some(self.admin.token.clone()),
            Caller::Owner => Some(self.owner.token.clone()),
            Caller::Foreign => Some(self.foreign_token.clone()),
            Caller::Partner => Some(self.partner.token.clone()),
            Caller::Service => Some(self.service_token.clone()),
            Caller::TargetToken => Some(self.target_token.clone()),
        }
    }

    /// The organization the caller speaks for (MyCreditApp's Requester-Organization-ID).
    fn home(&self, caller: Caller) -> &Org {
        match caller {
            Caller::Stranger | Caller::Foreign => &self.u,
            Caller::Partner => &self.p,
            _ => &self.t,
        }
    }

    async fn rest(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
        self.app
            .rest(method, path, Auth::Bearer(token), body.as_ref())
            .await
    }

    /// A setup call over gRPC, which must succeed.
    async fn grpc_ok(&self, rpc: &str, json: Value, token: &str) -> Value {
        let method = method_by_name(rpc);
        let msg = message(&method, &json);
        match grpc_call(
            &self.channel,
            &method,
            &msg,
            Some(&format!("Bearer {token}")),
        )
        .await
        {
            Ok(m) => serde_json::to_value(&m).expect("response JSON"),
            Err(s) => panic!("fixture step {rpc} {json}: {:?} {}", s.code(), s.message()),
        }
    }

    async fn invite_partnership(
        &self,
        token: &str,
        from: &Org,
        email: &str,
        message: &str,
    ) -> Value {
        let r = self
            .rest(
                Method::POST,
                &format!("/api/v5/outgoing_invitations?organization_id={}", from.uuid),
                token,
                Some(json!({"email": email, "message": message})),
            )
            .await;
        ok(r, "send a partnership invitation").await
    }

    async fn incoming_key(&self, token: &str, invitation_id: &str) -> String {
        let mut path = "/api/v5/incoming_invitations?page_size=100".to_string();
        loop {
            let page = ok(
                self.rest(Method::GET, &path, token, None).await,
                "list incoming invitations",
            )
            .await;
            let found = page["results"]
                .as_array()
                .expect("results")
                .iter()
                .find(|i| i["id"] == json!(invitation_id))
                .map(|i| i["key"].as_str().expect("key").to_string());
            if let Some(key) = found {
                return key;
            }
            let next = page["next"]
                .as_str()
                .unwrap_or_else(|| panic!("incoming invitation {invitation_id} not found"));
            let url = reqwest::Url::parse(next).expect("next is a URL");
            path = format!("{}?{}", url.path(), url.query().unwrap_or(""));
        }
    }

    /// A pending invitation from P to T's email; its key as T sees it.
    async fn fresh_incoming_key(&self) -> String {
        let sent = self
            .invite_partnership(&self.p_owner.token, &self.p, &self.t_email, "again")
            .await;
        self.incoming_key(&self.owner.token, sent["id"].as_str().expect("id"))
            .await
    }

    /// The v3 (integer) id of the fixture's outgoing invitation from T.
    async fn v3_outgoing_id(&self) -> i64 {
        let page = ok(
            self.rest(
                Method::GET,
                &format!(
                    "/api/v3/network/invitations/outgoing/?organization_id={}&page_size=200",
                    self.t.id
                ),
                &self.owner.token,
                None,
            )
            .await,
            "list v3 outgoing invitations",
        )
        .await;
        page["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|i| i["email"] == json!("someone@elsewhere.example"))
            .and_then(|i| i["id"].as_i64())
            .expect("the fixture's outgoing invitation")
    }

    /// The v3 id of T's own side of its partnership with `partner`.
    async fn v3_side_of_t(&self, partner: i64) -> i64 {
        let page = ok(
            self.rest(
                Method::GET,
                &format!(
                    "/api/v3/network/partnerships/?organization_id={}&page_size=100",
                    self.t.id
                ),
                &self.owner.token,
                None,
            )
            .await,
            "list v3 partnerships",
        )
        .await;
        page["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|p| p["partner_company_id"] == json!(partner))
            .and_then(|p| p["id"].as_i64())
            .expect("T's side of the partnership")
    }

    /// A new organization Q with a partnership to T; returns Q.
    async fn fresh_partner_of_t(&self) -> Org {
        let q = org_of(
            &self
                .app
                .org(&self.q_owner.token, &format!("Q {}", self.next()))
                .await,
        );
        let sent = self
            .invite_partnership(&self.owner.token, &self.t, &self.q_owner.email, "q")
            .await;
        let key = self
            .incoming_key(&self.q_owner.token, sent["id"].as_str().expect("id"))
            .await;
        let r = self
            .rest(
                Method::POST,
                &format!(
                    "/api/v5/incoming_invitations/{key}/accept?organization_id={}",
                    q.uuid
                ),
                &self.q_owner.token,
                Some(json!({})),
            )
            .await;
        ok(r, "Q accepts T's invitation").await;
        q
    }

    /// A new organization like T (owner, admin, member), to be deleted.
    async fn throwaway_org(&self) -> Org {
        let d = org_of(
            &self
                .app
                .org(&self.owner.token, &format!("Throwaway {}", self.next()))
                .await,
        );
        for (user, role) in [
            (&self.admin, "MEMBERSHIP_ROLE_ADMIN"),
            (&self.member, "MEMBERSHIP_ROLE_MEMBER"),
        ] {
            self.grpc_ok(
                "orgd.v1.MembershipService.SetMembership",
                json!({"organization": d.id.to_string(), "user": user.email, "role": role}),
                &self.owner.token,
            )
            .await;
        }
        d
    }

    /// A new guest invitation from `host` to `email`; its token.
    async fn guest_invitation(&self, token: &str, host: &Org, email: &str) -> String {
        let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let r = send(
            self.app
                .http
                .post(self.app.url("/v1/guest-invitations"))
                .header("authorization", format!("Bearer {token}"))
                .header("Requester-Organization-ID", &host.uuid)
                .header("Target-Organization-ID", &host.uuid)
                .header("content-type", "application/json")
                .body(json!({"email": email, "expired_at": expires}).to_string()),
        )
        .await;
        ok(r, "send a guest invitation").await["invitation_token"]
            .as_str()
            .expect("invitation_token")
            .to_string()
    }

    /// A MyCreditApp call without a body.
    async fn rest_scoped(
        &self,
        method: Method,
        path: &str,
        token: &str,
        requester: &str,
        target: &str,
    ) -> Resp {
        send(
            self.app
                .http
                .request(method, self.app.url(path))
                .header("authorization", format!("Bearer {token}"))
                .header("Requester-Organization-ID", requester)
                .header("Target-Organization-ID", target),
        )
        .await
    }

    fn directory_headers(&self, requester: &Org) -> Value {
        json!({"requester_organization_id": requester.uuid, "target_organization_id": self.t.uuid})
    }

    /// A new record in T's partner directory.
    async fn fresh_record(&self) -> String {
        let n = self.next();
        let mut req = self.directory_headers(&self.t);
        req["partner"] = json!({
            "company_name": format!("Throwaway {n}"),
            "partner_type": "PARTNER_TYPE_SUPPLIER",
            "email": format!("throwaway-{n}-{}@partners.example", self.short_id()),
        });
        let created = self
            .grpc_ok(
                "orgd.v1.OrganizationPartnerService.CreateOrganizationPartner",
                req,
                &self.owner.token,
            )
            .await;
        created["partner"]["id"]
            .as_str()
            .expect("partner id")
            .to_string()
    }

    fn short_id(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
    }

    /// An open owner invitation of T for `user`; its id.
    async fn owner_invitation(&self, user: &User) -> String {
        let r = self
            .rest(
                Method::POST,
                &format!("/api/v1/organization/{}/owner/invitations", self.t.id),
                &self.owner.token,
                Some(json!({"email": user.email})),
            )
            .await;
        if !r.status.is_success() {
            assert_eq!(r.status.as_u16(), 409, "re-inviting: {}", r.text);
        }
        let list = ok(
            self.rest(
                Method::GET,
                &format!("/api/v1/organization/{}/owner/invitations", self.t.id),
                &self.owner.token,
                None,
            )
            .await,
            "list owner invitations",
        )
        .await;
        list.as_array()
            .expect("invitations")
            .iter()
            .find(|i| i["userID"] == json!(user.id))
            .and_then(|i| i["id"].as_str())
            .expect("the open invitation")
            .to_string()
    }
}

async fn fixture(app: App) -> Fx {
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let stranger = app.user("stranger").await;
    let partner = app.user("partner").await;
    let p_owner = app.user("powner").await;
    let owner2 = app.user("owner2").await;
    let extra = app.user("extra").await;
    let invitee = app.user("invitee").await;
    let invitee2 = app.user("invitee2").await;
    let q_owner = app.user("qowner").await;

    let t_name = format!("Target-{secret}");
    let t = org_of(
        &app.create_org(
            &owner.token,
            json!({"name": t_name, "timezone": "Europe/Berlin", "language": "de"}),
        )
        .await,
    );
    let child = org_of(
        &app.child_org(&owner.token, t.id, &format!("Child-{secret}"))
            .await,
    );
    let u = org_of(&app.org(&stranger.token, &unique("Unrelated")).await);
    let p = org_of(&app.org(&p_owner.token, &unique("Partner")).await);
    let h = org_of(&app.org(&q_owner.token, &unique("Host")).await);
    for org in [&t, &u, &p] {
        app.set_state(&org.id.to_string(), "active").await;
    }
    let t_email = format!("target-{}@orgs.example.com", &secret[..8]);
    let p_email = format!("partner-{}@orgs.example.com", &secret[..8]);
    for (org, email) in [(&t, &t_email), (&p, &p_email)] {
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
    app.member_add(t.id, &admin.email, "admin").await;
    app.member_add(t.id, &member.email, "member").await;
    app.member_add(t.id, &owner2.email, "owner").await;
    app.member_add(p.id, &partner.email, "member").await;
    let foreign_token = app.organization_token(u.id).await;
    let service_token = app.service_token("authz-matrix").await;
    let target_token = app.organization_token(t.id).await;
    let client = app
        .cli(&["client", "create", "--organization", &t.id.to_string()])
        .await
        .json();
    let oauth = (
        client["client_id"].as_str().expect("client_id").to_string(),
        client["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_string(),
    );
    let channel = app.channel().await;

    let mut fx = Fx {
        app,
        channel,
        secret: secret.clone(),
        t,
        t_name,
        child,
        u,
        p,
        h,
        t_email,
        owner,
        admin,
        member,
        stranger,
        partner,
        p_owner,
        owner2,
        extra,
        invitee,
        invitee2,
        q_owner,
        foreign_token,
        service_token,
        target_token,
        record: String::new(),
        outgoing: String::new(),
        incoming_key: String::new(),
        oauth,
        counter: AtomicU64::new(0),
    };

    // The partnership T–P, through an invitation to P's email.
    let sent = fx
        .invite_partnership(&fx.owner.token, &fx.t, &p_email, "partners?")
        .await;
    let key = fx
        .incoming_key(&fx.p_owner.token, sent["id"].as_str().unwrap())
        .await;
    ok(
        fx.rest(
            Method::POST,
            &format!("/api/v5/incoming_invitations/{key}/accept"),
            &fx.p_owner.token.clone(),
            Some(json!({})),
        )
        .await,
        "P accepts",
    )
    .await;

    // P becomes T's MyCreditApp guest.
    let invitation = fx
        .guest_invitation(&fx.owner.token.clone(), &fx.t, &p_email)
        .await;
    let p_uuid = fx.p.uuid.clone();
    ok(
        fx.rest_scoped(
            Method::POST,
            &format!("/v1/guest-invitations/{invitation}/accept"),
            &fx.p_owner.token.clone(),
            &p_uuid,
            &p_uuid,
        )
        .await,
        "P accepts T's guest invitation",
    )
    .await;

    // Data inside T for reads to leak.
    let t_id = fx.t.id;
    let owner_token = fx.owner.token.clone();
    ok(
        fx.rest(
            Method::PUT,
            &format!("/api/v1/organization/{t_id}/quick-actions"),
            &owner_token,
            Some(
                json!([{"name": format!("QA-{secret}"), "color": "#ff0000", "icon": "bell",
                "one_click": true, "resource": "alarm", "resource_id": 7}]),
            ),
        )
        .await,
        "quick actions",
    )
    .await;
    ok(
        fx.rest(
            Method::PUT,
            &format!("/api/v1/organization/{t_id}/location"),
            &owner_token,
            Some(
                json!({"address": format!("Street-{secret}"), "latitude": 52.5, "longitude": 13.4}),
            ),
        )
        .await,
        "location",
    )
    .await;
    ok(
        fx.rest(
            Method::PUT,
            &format!("/api/v1/organization/{t_id}/avatar"),
            &owner_token,
            Some(json!(base64::engine::general_purpose::STANDARD.encode(PNG))),
        )
        .await,
        "avatar",
    )
    .await;
    let invitee = fx.invitee.clone();
    fx.owner_invitation(&invitee).await;
    let mut record = fx.directory_headers(&fx.t);
    record["partner"] = json!({
        "company_name": format!("Secret-{secret}"),
        "partner_type": "PARTNER_TYPE_CUSTOMER",
        "email": format!("secret-{}@customers.example", &secret[..8]),
        "sales_amount": 1000,
    });
    let created = fx
        .grpc_ok(
            "orgd.v1.OrganizationPartnerService.CreateOrganizationPartner",
            record,
            &owner_token,
        )
        .await;
    fx.record = created["partner"]["id"].as_str().unwrap().to_string();
    let member_uuid = fx.member.uuid.clone();
    fx.grpc_ok(
        "orgd.v1.PresenceService.RegisterUserClient",
        json!({"organization_id": fx.t.uuid, "user_id": member_uuid, "client_id": "fixture-tab", "expires_in": 3600}),
        &fx.service_token.clone(),
    )
    .await;
    let outgoing = fx
        .invite_partnership(
            &owner_token,
            &fx.t,
            "someone@elsewhere.example",
            &format!("Message-{secret}"),
        )
        .await;
    fx.outgoing = outgoing["id"].as_str().unwrap().to_string();
    fx.incoming_key = fx.fresh_incoming_key().await;
    fx
}

// ---------------------------------------------------------------------------------------
// Each RPC's request, aimed at T, as `caller` sends it; preconditions restored first.

struct Req {
    /// The request message as proto3 JSON.
    grpc: Value,
    /// REST query string (without `?`) and body; path and headers come from the binding.
    query: String,
    body: Option<Value>,
}

fn req(grpc: Value) -> Req {
    Req {
        grpc,
        query: String::new(),
        body: None,
    }
}

impl Req {
    fn query(mut self, q: impl Into<String>) -> Req {
        self.query = q.into();
        self
    }

    fn body(mut self, b: Value) -> Req {
        self.body = Some(b);
        self
    }
}

async fn request(fx: &Fx, rpc: &str, caller: Caller) -> Option<Req> {
    let t = &fx.t;
    let tid = t.id;
    let org = json!({"organization_id": tid});
    let giosg = json!({"organization_id": t.uuid});
    let pair = json!({"organization_id": t.uuid, "partner_organization_id": fx.p.uuid});
    let directory = || fx.directory_headers(fx.home(caller));
    let with = |mut base: Value, extra: Value| {
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    Some(match rpc {
        "orgd.v1.OrganizationService.CreateOrganization" => {
            let body = json!({"name": format!("New child {}", fx.next()),
                "timezone": "Europe/Berlin", "language": "de", "parentID": tid});
            req(json!({"organization": body})).body(body)
        }
        "orgd.v1.OrganizationService.UpdateOrganization" => {
            let body = json!({"id": tid, "name": fx.t_name, "timezone": "Europe/Berlin", "language": "de"});
            req(json!({"organization": body})).body(body)
        }
        "orgd.v1.OrganizationService.GetOrganization"
        | "orgd.v1.OrganizationService.GetChildOrganizations"
        | "orgd.v1.OrganizationService.GetAvailableUsers"
        | "orgd.v1.OrganizationService.GetAvatar"
        | "orgd.v1.OrganizationService.GetAvailabilityHistory"
        | "orgd.v1.OrganizationService.ListOwnerInvitations"
        | "orgd.v1.OrganizationService.GetOrganizationQuickActions" => req(org),
        "orgd.v1.OrganizationService.DeleteOrganization" => {
            let d = fx.throwaway_org().await;
            req(json!({"organization_id": d.id}))
        }
        "orgd.v1.OrganizationService.GetOrganizations"
        | "orgd.v1.OrganizationService.GetOwnedOrganizations"
        | "orgd.v1.OrganizationService.GetTrialStatus"
        | "orgd.v1.OrganizationService.StartTrial"
        | "orgd.v1.PartnershipInvitationService.ListIncomingInvitations" => req(json!({})),
        "orgd.v1.OrganizationService.GetPaginatedOrganizations" => {
            req(json!({"limit": 50})).query("limit=50")
        }
        "orgd.v1.OrganizationService.GetPublicAvatar" => {
            // T's current avatar: the SetAvatar cells replace it, and the old URL dies.
            let t_org = fx
                .rest(
                    Method::GET,
                    &format!("/api/v1/organization/{tid}"),
                    &fx.owner.token,
                    None,
                )
                .await;
            let url = t_org.json["avatarURL"].as_str().unwrap_or_default();
            let capability = url.rsplit('/').next().unwrap_or_default();
            req(json!({"capability": capability}))
        }
        "orgd.v1.OrganizationService.SetAvatar" => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(PNG);
            req(with(org, json!({"avatar": b64}))).body(json!(b64))
        }
        "orgd.v1.OrganizationService.UpsertOrganizationLocation" => {
            let location =
                json!({"address": "Matrix street 1", "latitude": 52.5, "longitude": 13.4});
            req(with(org, json!({"location": location}))).body(location)
        }
        "orgd.v1.OrganizationService.DeleteOrganizationLocation" => {
            ok(
                fx.rest(
                    Method::PUT,
                    &format!("/api/v1/organization/{tid}/location"),
                    &fx.owner.token,
                    Some(
                        json!({"address": "Matrix street 1", "latitude": 52.5, "longitude": 13.4}),
                    ),
                )
                .await,
                "restore the location",
            )
            .await;
            req(org)
        }
        "orgd.v1.OrganizationService.InviteOwner" => {
            // No open invitation for invitee2, so the owner's call can succeed.
            let r = fx
                .rest(
                    Method::DELETE,
                    &format!(
                        "/api/v1/organization/{tid}/owner/invitations/{}",
                        fx.invitee2.id
                    ),
                    &fx.owner.token,
                    None,
                )
                .await;
            assert!(
                r.status.is_success() || r.status.as_u16() == 404,
                "withdraw: {}",
                r.text
            );
            let email = fx.invitee2.email.clone();
            req(with(org, json!({"email": email}))).body(json!({"email": email}))
        }
        "orgd.v1.OrganizationService.AcceptOwnerInvitation" => {
            let id = fx.owner_invitation(&fx.invitee).await;
            req(with(org, json!({"invitation_id": id})))
        }
        "orgd.v1.OrganizationService.RemoveOwnerInvitation" => {
            fx.owner_invitation(&fx.invitee).await;
            req(with(org, json!({"user_id": fx.invitee.id})))
        }
        "orgd.v1.OrganizationService.AddOwner" => req(with(org, json!({"user_id": fx.owner2.id}))),
        "orgd.v1.OrganizationService.GetOwnerInParentOrganization" => {
            req(with(org, json!({"user_id": fx.owner.id})))
        }
        "orgd.v1.OrganizationService.RemoveOwner" => {
            ok(
                fx.rest(
                    Method::PUT,
                    &format!("/api/v1/organization/{tid}/owner/{}", fx.owner2.id),
                    &fx.owner.token,
                    None,
                )
                .await,
                "restore owner2",
            )
            .await;
            req(with(org, json!({"user_id": fx.owner2.id})))
        }
        "orgd.v1.OrganizationService.SetOrganizationQuickActions" => {
            let actions = json!([{"name": "Matrix action", "color": "#00ff00", "icon": "bell",
                "one_click": false, "resource": "alarm", "resource_id": 1}]);
            req(with(org, json!({"quick_actions": actions}))).body(actions)
        }

        "orgd.v1.MembershipService.SetMembership" => req(json!({
            "organization": tid.to_string(), "user": fx.extra.email, "role": "MEMBERSHIP_ROLE_MEMBER"
        })),
        "orgd.v1.MembershipService.RemoveMembership" => {
            fx.grpc_ok(
                "orgd.v1.MembershipService.SetMembership",
                json!({"organization": tid.to_string(), "user": fx.extra.email, "role": "MEMBERSHIP_ROLE_MEMBER"}),
                &fx.service_token,
            )
            .await;
            req(json!({"organization": tid.to_string(), "user": fx.extra.email}))
        }
        "orgd.v1.MembershipService.ListMemberships" => {
            req(json!({"organization": tid.to_string()}))
        }
        "orgd.v1.BillingService.SetOrganizationState" => req(json!({
            "organization": tid.to_string(), "state": "ORGANIZATION_STATE_ACTIVE"
        })),
        "orgd.v1.AvailabilityService.SetUserAvailability" => req(json!({
            "organization": tid.to_string(), "user": fx.member.email,
            "status": "AVAILABILITY_STATUS_AVAILABLE"
        })),

        "orgd.v1.OrganizationPartnerService.ListOrganizationPartners" => req(with(
            directory(),
            json!({"partner_types": ["PARTNER_TYPE_CUSTOMER", "PARTNER_TYPE_SUPPLIER"],
                "limit": 100, "offset": 0}),
        ))
        .query("partner_types=customer&partner_types=supplier&limit=100&offset=0"),
        "orgd.v1.OrganizationPartnerService.CreateOrganizationPartner" => {
            let n = fx.next();
            let email = format!("matrix-{n}@customers.example");
            req(with(
                directory(),
                json!({"partner": {"company_name": format!("Matrix {n}"),
                    "partner_type": "PARTNER_TYPE_CUSTOMER", "email": email}}),
            ))
            .body(json!({"company_name": format!("Matrix {n}"), "partner_type": "customer", "email": email}))
        }
        "orgd.v1.OrganizationPartnerService.GetOrganizationPartner" => {
            req(with(directory(), json!({"partner_id": fx.record})))
        }
        "orgd.v1.OrganizationPartnerService.UpdateOrganizationPartner" => req(with(
            directory(),
            json!({"partner_id": fx.record, "partner": {"sales_amount": 2000}}),
        ))
        .body(json!({"sales_amount": 2000})),
        "orgd.v1.OrganizationPartnerService.DeleteOrganizationPartner"
        | "orgd.v1.OrganizationPartnerService.InviteOrganizationPartner" => {
            let id = fx.fresh_record().await;
            req(with(directory(), json!({"partner_id": id})))
        }
        "orgd.v1.GuestConnectionService.CreateGuestInvitation" => {
            let invitation = json!({"email": format!("guest-{}@elsewhere.example", fx.next()),
                "expired_at": "2099-01-01T00:00:00Z"});
            req(with(directory(), json!({"invitation": invitation}))).body(invitation)
        }
        "orgd.v1.GuestConnectionService.ListGuestInvitations"
        | "orgd.v1.GuestConnectionService.ListGuestConnections"
        | "orgd.v1.GuestConnectionService.ListHostConnections" => req(directory()),
        "orgd.v1.GuestConnectionService.AcceptGuestInvitation" => {
            let email = format!("t-{}@hosts.example", fx.next());
            let token = fx.guest_invitation(&fx.q_owner.token, &fx.h, &email).await;
            req(with(directory(), json!({"invitation_token": token})))
        }
        "orgd.v1.GuestConnectionService.UpdateGuestConnection" => req(json!({
            "requester_organization_id": fx.home(caller).uuid,
            "target_organization_id": fx.p.uuid,
            "guest_org_id": fx.p.uuid,
            "connection": {"archived": false},
        }))
        .body(json!({"archived": false})),
        "orgd.v1.OAuthService.CreateToken" => {
            let body = json!({"client_id": fx.oauth.0, "client_secret": fx.oauth.1,
                "grant_type": "client_credentials"});
            req(body.clone()).body(body)
        }

        "orgd.v1.PartnershipService.GetOwnOrganization"
        | "orgd.v1.PartnershipService.ListOrganizationUsers"
        | "orgd.v1.PartnershipService.ListPartnerships"
        | "orgd.v1.PartnershipService.ListPartners" => req(giosg),
        "orgd.v1.PartnershipService.GetOrganizationUser" => {
            req(with(giosg, json!({"user_id": fx.member.uuid})))
        }
        "orgd.v1.PartnershipService.GetPartnership"
        | "orgd.v1.PartnershipService.GetPartner"
        | "orgd.v1.PartnershipService.ListPartnerUsers" => req(pair),
        "orgd.v1.PartnershipService.UpdatePartnership"
        | "orgd.v1.PartnershipService.PatchPartnership" => {
            req(with(pair, json!({"display_name": "Matrix display"})))
                .body(json!({"display_name": "Matrix display"}))
        }
        "orgd.v1.PartnershipService.DeletePartnership" => {
            let q = fx.fresh_partner_of_t().await;
            req(json!({"organization_id": t.uuid, "partner_organization_id": q.uuid}))
        }
        "orgd.v1.PartnershipService.GetPartnerUser" => {
            req(with(pair, json!({"user_id": fx.partner.uuid})))
        }

        "orgd.v1.PartnershipInvitationService.CreateOutgoingInvitation" => {
            let invitation = json!({"email": format!("matrix-{}@elsewhere.example", fx.next()),
                "message": "hello"});
            req(json!({"organization_id": t.uuid, "invitation": invitation}))
                .query(format!("organization_id={}", t.uuid))
                .body(invitation)
        }
        "orgd.v1.PartnershipInvitationService.ListOutgoingInvitations" => {
            req(giosg).query(format!("organization_id={}", t.uuid))
        }
        "orgd.v1.PartnershipInvitationService.GetOutgoingInvitation" => {
            req(json!({"id": fx.outgoing}))
        }
        "orgd.v1.PartnershipInvitationService.CancelOutgoingInvitation" => {
            let sent = fx
                .invite_partnership(&fx.owner.token, t, "cancel-me@elsewhere.example", "bye")
                .await;
            req(json!({"id": sent["id"]}))
        }
        "orgd.v1.PartnershipInvitationService.GetIncomingInvitation" => {
            req(json!({"key": fx.incoming_key}))
        }
        "orgd.v1.PartnershipInvitationService.AcceptIncomingInvitation" => {
            let key = fx.fresh_incoming_key().await;
            req(json!({"key": key, "acceptance": {}})).body(json!({}))
        }
        "orgd.v1.PartnershipInvitationService.RejectIncomingInvitation" => {
            let key = fx.fresh_incoming_key().await;
            req(json!({"key": key}))
        }

        "orgd.v1.NetworkService.CreateNetworkInvitation" => {
            let invitation = json!({"email": format!("matrix3-{}@elsewhere.example", fx.next()),
                "message": "hello", "partner_visible_to_everyone": true});
            req(json!({"organization_id": tid, "invitation": invitation}))
                .query(format!("organization_id={tid}"))
                .body(invitation)
        }
        "orgd.v1.NetworkService.ListNetworkOutgoingInvitations" => {
            req(org.clone()).query(format!("organization_id={tid}"))
        }
        "orgd.v1.NetworkService.GetNetworkOutgoingInvitation" => {
            req(json!({"invitation_id": fx.v3_outgoing_id().await}))
        }
        "orgd.v1.NetworkService.CancelNetworkOutgoingInvitation" => {
            let r = fx
                .rest(
                    Method::POST,
                    &format!("/api/v3/network/invitations/outgoing/?organization_id={tid}"),
                    &fx.owner.token,
                    Some(json!({"email": "cancel-me3@elsewhere.example",
                        "partner_visible_to_everyone": true})),
                )
                .await;
            let sent = ok(r, "send a v3 invitation").await;
            req(json!({"invitation_id": sent["id"]}))
        }
        "orgd.v1.NetworkService.ListNetworkIncomingInvitations" => req(json!({})),
        "orgd.v1.NetworkService.GetNetworkIncomingInvitation" => {
            req(json!({"invitation_key": fx.incoming_key}))
        }
        "orgd.v1.NetworkService.AcceptNetworkIncomingInvitation" => {
            let key = fx.fresh_incoming_key().await;
            let acceptance = json!({"visible_to_everyone": true});
            req(json!({"invitation_key": key, "acceptance": acceptance})).body(acceptance)
        }
        "orgd.v1.NetworkService.RejectNetworkIncomingInvitation" => {
            let key = fx.fresh_incoming_key().await;
            req(json!({"invitation_key": key}))
        }
        "orgd.v1.NetworkService.ListNetworkPartnerships" => {
            req(org.clone()).query(format!("organization_id={tid}"))
        }
        "orgd.v1.NetworkService.GetNetworkPartnership" => {
            req(json!({"partnership_id": fx.v3_side_of_t(fx.p.id).await}))
        }
        "orgd.v1.NetworkService.UpdateNetworkPartnership"
        | "orgd.v1.NetworkService.PatchNetworkPartnership" => {
            let change = json!({"display_name": "Matrix display", "visible_to_everyone": true});
            let mut grpc = change.clone();
            grpc["partnership_id"] = json!(fx.v3_side_of_t(fx.p.id).await);
            req(grpc).body(change)
        }
        "orgd.v1.NetworkService.DeleteNetworkPartnership" => {
            let q = fx.fresh_partner_of_t().await;
            req(json!({"partnership_id": fx.v3_side_of_t(q.id).await}))
        }

        "orgd.v1.PresenceService.RegisterUserClient" => req(with(
            giosg,
            json!({"user_id": fx.member.uuid, "client_id": "matrix-tab",
                "expires_in": 300}),
        ))
        .body(json!({"expires_in": 300})),
        "orgd.v1.PresenceService.RemoveUserClient" => {
            let client = json!({"organization_id": t.uuid, "user_id": fx.member.uuid,
                "client_id": "matrix-tab"});
            fx.grpc_ok(
                "orgd.v1.PresenceService.RegisterUserClient",
                with(client.clone(), json!({"expires_in": 300})),
                &fx.service_token,
            )
            .await;
            req(client)
        }
        "orgd.v1.PresenceService.SetUserStatus" => {
            req(json!({"user": fx.member.uuid, "current_chat_count": 1}))
        }
        "orgd.v1.EventService.ListEvents" | "orgd.v1.EventService.WatchEvents" => req(giosg),
        "orgd.v1.OrganizationEventService.ListOrganizationEvents"
        | "orgd.v1.OrganizationEventService.WatchOrganizationEvents" => req(org),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------
// Running a cell.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Grpc,
    Rest,
}

/// An outcome in the table's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Ok,
    Status(u16, String),
}

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Got::Ok => write!(f, "ok"),
            Got::Status(s, detail) => write!(f, "{s} {detail}"),
        }
    }
}

fn http_of(code: tonic::Code) -> u16 {
    orgd_transcode::status::http_status(code).as_u16()
}

fn clip(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

/// Outcome, the response text to search, and the request text (for echoes).
async fn run_grpc(
    fx: &Fx,
    method: &MethodDescriptor,
    r: &Req,
    caller: Caller,
) -> (Got, String, String) {
    let msg = message(method, &r.grpc);
    let auth = fx.token(caller).map(|t| format!("Bearer {t}"));
    let request_text = r.grpc.to_string();
    match grpc_call(&fx.channel, method, &msg, auth.as_deref()).await {
        Ok(m) => (
            Got::Ok,
            serde_json::to_string(&m).expect("response JSON"),
            request_text,
        ),
        Err(s) => {
            let text = format!("{} {}", s.message(), String::from_utf8_lossy(s.details()));
            (
                Got::Status(
                    http_of(s.code()),
                    format!("{:?}: {}", s.code(), clip(s.message())),
                ),
                text,
                request_text,
            )
        }
    }
}

fn field_text(v: &PValue) -> String {
    match v {
        PValue::String(s) => s.clone(),
        PValue::I64(n) => n.to_string(),
        PValue::I32(n) => n.to_string(),
        PValue::U64(n) => n.to_string(),
        PValue::U32(n) => n.to_string(),
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

async fn run_rest(fx: &Fx, b: &Binding, r: &Req, caller: Caller) -> (Got, String, String) {
    let msg = message(&b.method, &r.grpc);
    let mut path = b.route.clone();
    for (i, var) in b.variables.iter().enumerate() {
        let value = value_at(&msg, var);
        path = path
            .replace(&format!("{{v{i}}}"), &value)
            .replace(&format!("{{*v{i}}}"), &value);
    }
    if !r.query.is_empty() {
        path = format!("{path}?{}", r.query);
    }
    let mut builder = fx
        .app
        .http
        .request(b.http_method.clone(), fx.app.url(&path));
    let mut request_text = path.clone();
    for (name, field) in &b.headers {
        let value = field_text(&msg.get_field(field));
        request_text.push_str(&format!(" {name}: {value}"));
        builder = builder.header(name.as_str(), value);
    }
    if let Some(body) = &r.body {
        request_text.push_str(&format!(" {body}"));
        builder = builder
            .header("content-type", "application/json")
            .body(body.to_string());
    } else if !matches!(b.body, BodyTarget::None) {
        builder = builder
            .header("content-type", "application/json")
            .body("{}");
    }
    if let Some(token) = fx.token(caller) {
        let scheme = if b.dialect == Dialect::Giosg {
            "Token"
        } else {
            "Bearer"
        };
        builder = builder.header("authorization", format!("{scheme} {token}"));
    }
    let resp = if b.method.is_server_streaming() {
        send_stream_start(builder).await
    } else {
        send(builder).await
    };
    let status = resp.status.as_u16();
    let got = if resp.status.is_success() {
        Got::Ok
    } else if status == 422 && b.dialect == Dialect::MyCreditApp {
        Got::Status(400, format!("422 {}", clip(&resp.text)))
    } else {
        Got::Status(status, clip(&resp.text))
    };
    (got, resp.text, request_text)
}

/// Keys (lower case, no underscores) whose value names an organization by its int64 id.
const ORG_ID_KEYS: &[&str] = &[
    "organizationid",
    "parentid",
    "guestorganizationid",
    "createdbyorganizationid",
    "resolvedbyorganizationid",
    "partnerorganizationid",
];

fn names_id(v: &Value, id: i64) -> bool {
    match v {
        Value::Number(n) => n.as_i64() == Some(id),
        Value::String(s) => s == &id.to_string(),
        Value::Array(items) => items.iter().any(|i| names_id(i, id)),
        _ => false,
    }
}

/// Paths (`a.b[2].c`) where the JSON names one of `ids` as an organization id.
fn org_id_hits(v: &Value, ids: &[i64], at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            let organization_like = map.keys().any(|k| {
                let k = k.to_ascii_lowercase();
                k == "ownerids" || k == "uuid"
            });
            for (k, child) in map {
                let norm = k.to_ascii_lowercase().replace('_', "");
                let is_key =
                    ORG_ID_KEYS.contains(&norm.as_str()) || (organization_like && norm == "id");
                if is_key && ids.iter().any(|id| names_id(child, *id)) {
                    out.push(format!("{at}.{k}"));
                }
                org_id_hits(child, ids, &format!("{at}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                org_id_hits(item, ids, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// (leaks, echoes) of T's data in a response.
fn inspect(fx: &Fx, response: &str, request: &str) -> (Vec<String>, Vec<String>) {
    let (mut leaks, mut echoes) = (Vec::new(), Vec::new());
    let lower = response.to_ascii_lowercase();
    let request_lower = request.to_ascii_lowercase();
    for (label, marker) in [
        ("the secret marker", fx.secret.as_str()),
        ("T's UUID", fx.t.uuid.as_str()),
        ("T's child's UUID", fx.child.uuid.as_str()),
    ] {
        let marker = marker.to_ascii_lowercase();
        if lower.contains(&marker) {
            if request_lower.contains(&marker) {
                echoes.push(label.to_string());
            } else {
                leaks.push(label.to_string());
            }
        }
    }
    if let Ok(json) = serde_json::from_str::<Value>(response) {
        let mut hits = Vec::new();
        org_id_hits(&json, &[fx.t.id, fx.child.id], "$", &mut hits);
        for hit in hits {
            // The id as the caller sent it (path, body) counts as an echo.
            let sent = request.contains(&format!("/{}", fx.t.id))
                || request.contains(&format!(":{}", fx.t.id))
                || request.contains(&format!("\"{}\"", fx.t.id));
            if sent {
                echoes.push(format!("T's id at {hit}"));
            } else {
                leaks.push(format!("T's id at {hit}"));
            }
        }
    }
    (leaks, echoes)
}

/// The request aimed at an organization that does not exist instead of T (None when the
/// request does not name T: lists of one's own, invitations by id, user status...). Only
/// organization-valued fields are rewritten, so a user id equal to T's id stays.
fn retarget(fx: &Fx, r: &Req) -> Option<Req> {
    const KEYS: &[&str] = &[
        "organization_id",
        "organization",
        "target_organization_id",
        "parentID",
        "id",
    ];
    let ghost_id = 9_000_000_000_i64 + fx.t.id;
    let ghost_uuid = uuid::Uuid::new_v4().to_string();
    fn walk(v: &mut Value, t: &Org, id: i64, uuid: &str, changed: &mut bool) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    let hit = KEYS.contains(&k.as_str())
                        && match child {
                            Value::Number(n) => n.as_i64() == Some(t.id),
                            Value::String(s) if k != "id" => {
                                *s == t.id.to_string() || s.eq_ignore_ascii_case(&t.uuid)
                            }
                            _ => false,
                        };
                    if hit {
                        *child = match child {
                            Value::Number(_) => json!(id),
                            Value::String(s) if s.eq_ignore_ascii_case(&t.uuid) => json!(uuid),
                            _ => json!(id.to_string()),
                        };
                        *changed = true;
                    } else {
                        walk(child, t, id, uuid, changed);
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, t, id, uuid, changed);
                }
            }
            _ => {}
        }
    }
    let mut changed = false;
    let mut grpc = r.grpc.clone();
    walk(&mut grpc, &fx.t, ghost_id, &ghost_uuid, &mut changed);
    if !changed {
        return None;
    }
    let mut body = r.body.clone();
    if let Some(b) = body.as_mut() {
        walk(b, &fx.t, ghost_id, &ghost_uuid, &mut false);
    }
    Some(Req {
        grpc,
        query: r
            .query
            .replace(&fx.t.uuid, &ghost_uuid)
            .split('&')
            .map(|pair| {
                if pair == format!("organization_id={}", fx.t.id) {
                    format!("organization_id={ghost_id}")
                } else {
                    pair.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("&"),
        body,
    })
}

struct Finding {
    rpc: String,
    transport: Transport,
    caller: Caller,
    text: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix() {
    for_each_backend(|app| async move {
        let started = Instant::now();
        let backend = app.backend.name();
        let fx = fixture(app).await;
        let setup = started.elapsed();

        let table: BTreeMap<&str, [Exp; 10]> = TABLE
            .iter()
            .map(|(rpc, row)| (*rpc, parse_row(rpc, row)))
            .collect();
        assert_eq!(table.len(), TABLE.len(), "an RPC has two rows in the table");
        let bindings = orgd::surfaces::bindings();
        let methods: Vec<MethodDescriptor> = DESCRIPTOR_POOL
            .services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .collect();
        let names: HashSet<String> = methods.iter().map(|m| m.full_name().to_string()).collect();
        let mut problems: Vec<String> = Vec::new();
        for rpc in table.keys() {
            if !names.contains(*rpc) {
                problems.push(format!(
                    "the table names {rpc}, which is not in the descriptor pool"
                ));
            }
        }

        let mut mismatches: Vec<Finding> = Vec::new();
        let mut leaks: Vec<Finding> = Vec::new();
        let mut echoes: Vec<Finding> = Vec::new();
        let mut started_trial: HashSet<Caller> = HashSet::new();
        let (mut cells, mut rest_rpcs) = (0usize, 0usize);
        let (mut missing_cells, mut spoofed_cells) = (0usize, 0usize);
        for method in &methods {
            let rpc = method.full_name();
            let Some(row) = table.get(rpc) else {
                problems.push(format!("{rpc} has no row in the authorization table"));
                continue;
            };
            let binding = bindings.iter().find(|b| b.method.full_name() == rpc);
            let transports: &[Transport] = if binding.is_some() {
                rest_rpcs += 1;
                &[Transport::Grpc, Transport::Rest]
            } else {
                &[Transport::Grpc]
            };
            for &transport in transports {
                for (i, &caller) in CALLERS.iter().enumerate() {
                    let Some(r) = request(&fx, rpc, caller).await else {
                        problems.push(format!("{rpc} has no request in the matrix"));
                        break;
                    };
                    let (got, response, request_text) = match transport {
                        Transport::Grpc => run_grpc(&fx, method, &r, caller).await,
                        Transport::Rest => run_rest(&fx, binding.unwrap(), &r, caller).await,
                    };
                    cells += 1;
                    let expected = row[i];
                    let matches = match (expected, &got) {
                        (Exp::Ok, Got::Ok) => true,
                        (Exp::Status(e), Got::Status(s, _)) => e == *s,
                        (Exp::Once, Got::Ok) => started_trial.insert(caller),
                        (Exp::Once, Got::Status(409, _)) => started_trial.contains(&caller),
                        _ => false,
                    };
                    if !matches {
                        mismatches.push(Finding {
                            rpc: rpc.to_string(),
                            transport,
                            caller,
                            text: format!("expected {expected}, got {got}"),
                        });
                    }
                    // The detector must see T's data where it legitimately is, or the
                    // leak check below would prove nothing.
                    if caller == Caller::Owner
                        && rpc == "orgd.v1.OrganizationService.GetOrganization"
                    {
                        let (seen, _) = inspect(&fx, &response, "");
                        for want in ["the secret marker", "T's UUID", "T's id at $"] {
                            if !seen.iter().any(|s| s.starts_with(want)) {
                                problems.push(format!(
                                    "leak detector blind: {want} not found in the owner's \
                                     {transport:?} GetOrganization response {}",
                                    clip(&response)
                                ));
                            }
                        }
                    }
                    if got != Got::Ok || caller.outsider() {
                        let (l, e) = inspect(&fx, &response, &request_text);
                        let status = match &got {
                            Got::Ok => "ok".to_string(),
                            Got::Status(s, _) => s.to_string(),
                        };
                        for what in l {
                            leaks.push(Finding {
                                rpc: rpc.to_string(),
                                transport,
                                caller,
                                text: format!("{status}: {what}: {}", clip(&response)),
                            });
                        }
                        for what in e {
                            echoes.push(Finding {
                                rpc: rpc.to_string(),
                                transport,
                                caller,
                                text: format!("{status}: {what}: {}", clip(&response)),
                            });
                        }
                    }
                    // MyCreditApp: claiming T as the requester without belonging to it
                    // gives nothing (403), whatever the caller could do as itself.
                    if r.grpc.get("requester_organization_id").is_some()
                        && matches!(
                            caller,
                            Caller::Stranger | Caller::Foreign | Caller::Partner | Caller::Service
                        )
                    {
                        let mut spoofed = Req {
                            grpc: r.grpc.clone(),
                            query: r.query.clone(),
                            body: r.body.clone(),
                        };
                        spoofed.grpc["requester_organization_id"] = json!(fx.t.uuid);
                        let (got, response, request_text) = match transport {
                            Transport::Grpc => run_grpc(&fx, method, &spoofed, caller).await,
                            Transport::Rest => {
                                run_rest(&fx, binding.unwrap(), &spoofed, caller).await
                            }
                        };
                        cells += 1;
                        spoofed_cells += 1;
                        if !matches!(got, Got::Status(403, _)) {
                            mismatches.push(Finding {
                                rpc: rpc.to_string(),
                                transport,
                                caller,
                                text: format!("requester T claimed: expected 403, got {got}"),
                            });
                        }
                        for what in inspect(&fx, &response, &request_text).0 {
                            leaks.push(Finding {
                                rpc: rpc.to_string(),
                                transport,
                                caller,
                                text: format!("requester T claimed: {what}: {}", clip(&response)),
                            });
                        }
                    }
                    // Permission before existence: the same call aimed at an organization
                    // that does not exist. Without access, the answer must not change (403);
                    // a role in T gives none in another organization (403); only services,
                    // which act for any organization, may learn that it is missing (404).
                    if matches!(caller, Caller::None | Caller::Unknown) {
                        continue;
                    }
                    let Some(ghost) = retarget(&fx, &r) else {
                        continue;
                    };
                    let expected = match (caller, expected) {
                        (Caller::Service, Exp::Ok) => Exp::Status(404),
                        (Caller::Service, other) => other,
                        (_, Exp::Ok | Exp::Status(403)) => Exp::Status(403),
                        (_, other) => other,
                    };
                    let (got, _, _) = match transport {
                        Transport::Grpc => run_grpc(&fx, method, &ghost, caller).await,
                        Transport::Rest => run_rest(&fx, binding.unwrap(), &ghost, caller).await,
                    };
                    cells += 1;
                    missing_cells += 1;
                    let matches = match (expected, &got) {
                        (Exp::Ok, Got::Ok) => true,
                        (Exp::Status(e), Got::Status(s, _)) => e == *s,
                        _ => false,
                    };
                    if !matches {
                        mismatches.push(Finding {
                            rpc: rpc.to_string(),
                            transport,
                            caller,
                            text: format!("missing organization: expected {expected}, got {got}"),
                        });
                    }
                }
            }
        }

        println!(
            "[{backend}] authorization matrix: {} RPCs ({rest_rpcs} also over REST), {} callers, \
             {cells} cells ({missing_cells} of them aimed at a missing organization, \
             {spoofed_cells} claiming T as MyCreditApp requester); \
             fixture {:.1?}, total {:.1?}",
            methods.len(),
            CALLERS.len(),
            setup,
            started.elapsed()
        );
        let show = |title: &str, list: &[Finding]| {
            let mut s = format!("{title} ({}):\n", list.len());
            for f in list {
                s.push_str(&format!(
                    "  {:<62} {:<4} {:<8} {}\n",
                    f.rpc,
                    match f.transport {
                        Transport::Grpc => "gRPC",
                        Transport::Rest => "REST",
                    },
                    f.caller.name(),
                    f.text
                ));
            }
            s
        };
        if !echoes.is_empty() {
            println!("{}", show("echoes of what the caller sent", &echoes));
        }
        let mut report = String::new();
        for p in &problems {
            report.push_str(&format!("{p}\n"));
        }
        if !mismatches.is_empty() {
            report.push_str(&show("cells that differ from the table", &mismatches));
        }
        if !leaks.is_empty() {
            report.push_str(&show(
                "responses carrying T's data to a caller without access",
                &leaks,
            ));
        }
        assert!(
            report.is_empty(),
            "[{backend}] authorization matrix ({cells} cells):\n{report}"
        );
    })
    .await;
}
