//! Who calls: the principals of an organization as typed values (its owner, admins and
//! members, its API token, an OAuth client), and a service. Each is made the way an operator
//! (the CLI) or the organization's users (the public API) make them, never by writing rows.

use serde_json::json;

use super::{App, User, id_of, unique};

/// An organization created over GroupAlarm REST by its owner, a fresh user.
#[derive(Clone, Debug)]
pub struct Org {
    pub id: i64,
    pub uuid: String,
    pub owner: User,
    /// The organization's own email, which giosg invitations are addressed to; only
    /// [`Org::active`] gives one.
    pub email: Option<String>,
}

/// A role in an organization, as `orgd member add --role` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// A service (a caller of its own, not a user), with its token.
#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    pub token: String,
}

/// An OAuth2 client of an organization: the client credentials the MyCreditApp token
/// endpoint (`POST /v1/oauth2/token`) exchanges for a bearer token.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    pub id: String,
    pub secret: String,
}

impl Org {
    /// A root organization in its trial, owned by a new user named after `label`.
    pub async fn create(app: &App, label: &str) -> Org {
        let owner = app.user(label).await;
        let org = app.org(&owner.token, &unique(label)).await;
        Org {
            id: id_of(&org),
            uuid: org["uuid"].as_str().expect("organization uuid").to_string(),
            owner,
            email: None,
        }
    }

    /// An organization in state active with an email of its own: what the giosg API needs
    /// of a partner.
    pub async fn active(app: &App, label: &str) -> Org {
        let mut org = Org::create(app, label).await;
        app.set_state(&org.id.to_string(), "active").await;
        let email = format!(
            "{label}-{}@orgs.example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let set = app
            .cli(&[
                "organization",
                "set-email",
                "--organization",
                &org.id.to_string(),
                "--email",
                &email,
            ])
            .await
            .json();
        assert_eq!(set["email"], json!(email));
        org.email = Some(email);
        org
    }

    /// The organization's own email (see [`Org::active`]).
    #[track_caller]
    pub fn email(&self) -> &str {
        self.email.as_deref().unwrap_or_else(|| {
            panic!(
                "organization {} has no email: make it with Org::active",
                self.id
            )
        })
    }

    /// A new user added to the organization with `role`.
    pub async fn add(&self, app: &App, label: &str, role: Role) -> User {
        let user = app.user(label).await;
        app.member_add(self.id, &user.email, role.as_str()).await;
        user
    }

    /// A new admin of the organization.
    pub async fn admin(&self, app: &App, label: &str) -> User {
        self.add(app, label, Role::Admin).await
    }

    /// A new plain member of the organization.
    pub async fn member(&self, app: &App, label: &str) -> User {
        self.add(app, label, Role::Member).await
    }

    /// A new API token of the organization (it acts within the organization's subtree).
    pub async fn api_token(&self, app: &App) -> String {
        app.organization_token(self.id).await
    }

    /// A new OAuth2 client of the organization.
    pub async fn oauth_client(&self, app: &App) -> OAuthClient {
        OAuthClient::create(app, &self.uuid).await
    }
}

/// A new user added to `org` with `role` (`"member"`, `"admin"` or `"owner"`).
pub async fn member(app: &App, org: &Org, label: &str, role: &str) -> User {
    let user = app.user(label).await;
    app.member_add(org.id, &user.email, role).await;
    user
}

impl Service {
    /// A new service named `name`, with its token.
    pub async fn create(app: &App, name: &str) -> Service {
        Service {
            name: name.to_string(),
            token: app.service_token(name).await,
        }
    }
}

impl OAuthClient {
    /// `orgd client create --organization ORGANIZATION` (its id or its uuid).
    pub async fn create(app: &App, organization: &str) -> OAuthClient {
        let v = app
            .cli(&["client", "create", "--organization", organization])
            .await
            .json();
        OAuthClient {
            id: v["client_id"].as_str().expect("client_id").to_string(),
            secret: v["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_string(),
        }
    }
}
