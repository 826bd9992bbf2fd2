//! The operator command line. Scripts parse its output: one JSON object per command.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};
use prost::Message;
use prost_reflect::DynamicMessage;

use crate::auth::Principal;
use crate::config::{Config, DEFAULT_DATABASE_URL, DEFAULT_LISTEN};
use crate::db::Db;
use crate::domain::keys::{OrganizationKey, UserKey};
use crate::domain::membership::{self, Role};
use crate::domain::organization::{self, State};
use crate::domain::{DomainError, oauth, token, user};
use crate::grpc::convert;
use crate::proto::DESCRIPTOR_POOL;
use crate::rest::json::{FieldNaming, encode_message};
use crate::server::{BoxError, Server};

#[derive(Parser, Debug)]
#[command(
    name = "orgd",
    version,
    about = "Organization service: gRPC, grpc-web and REST on one port"
)]
pub struct Cli {
    /// sqlite:... (created if absent) or postgres://...
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve gRPC, grpc-web and REST on one port.
    Serve {
        #[arg(long, env = "ORGD_LISTEN", default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Requests in progress at once; more are refused with 503 and retry-after.
        #[arg(long, env = "ORGD_MAX_IN_FLIGHT", default_value_t = crate::limits::DEFAULT_MAX_IN_FLIGHT)]
        max_in_flight: usize,
        /// The most bytes one response may have; a list past it is refused whole (409).
        #[arg(long, env = "ORGD_MAX_RESPONSE_BYTES", default_value_t = crate::limits::DEFAULT_MAX_RESPONSE_BYTES)]
        max_response_bytes: usize,
        /// Writes per minute one user or organization token may make (0: unlimited).
        #[arg(long, env = "ORGD_WRITES_PER_MINUTE", default_value_t = crate::limits::DEFAULT_WRITE_RATE.per_minute)]
        writes_per_minute: u32,
        /// Writes one token may make at once before the per-minute rate applies.
        #[arg(long, env = "ORGD_WRITE_BURST", default_value_t = crate::limits::DEFAULT_WRITE_RATE.burst)]
        write_burst: u32,
        /// Child organizations one organization may have.
        #[arg(long, env = "ORGD_MAX_CHILDREN", default_value_t = crate::limits::DEFAULT_MAX_CHILDREN)]
        max_children: u64,
        /// Organizations a user may belong to and still create another.
        #[arg(long, env = "ORGD_MAX_ORGANIZATIONS_PER_USER", default_value_t = crate::limits::DEFAULT_MAX_ORGANIZATIONS_PER_USER)]
        max_organizations_per_user: u64,
    },
    /// Apply all migrations and exit.
    Migrate,
    #[command(subcommand)]
    User(UserCommand),
    #[command(subcommand)]
    Token(TokenCommand),
    #[command(subcommand)]
    Member(MemberCommand),
    #[command(subcommand)]
    Organization(OrganizationCommand),
    #[command(subcommand)]
    Client(ClientCommand),
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Create an OAuth2 client (MyCreditApp `POST /v1/oauth2/token`) acting for an
    /// organization; prints its id and secret once.
    Create {
        /// The organization's int64 id or UUID.
        #[arg(long)]
        organization: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; prints it with a new personal access token (shown once).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token: personal (--email), organization API token (--organization) or
    /// internal service (--service).
    Create(TokenTarget),
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct TokenTarget {
    #[arg(long)]
    email: Option<String>,
    /// The organization's int64 id or UUID.
    #[arg(long)]
    organization: Option<String>,
    #[arg(long)]
    service: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Add a user to an organization, or change their role.
    Add {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["member", "admin", "owner"])]
        role: String,
    },
    Remove {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum OrganizationCommand {
    /// What a billing system does.
    SetState {
        #[arg(long)]
        organization: String,
        #[arg(long, value_parser = ["trial", "active", "inactive"])]
        state: String,
    },
    /// The email partnership invitations reach the organization by (empty: none).
    SetEmail {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        email: String,
    },
}

/// The CLI acts with the rights of an internal service, as operators do.
fn operator() -> Principal {
    Principal::Service {
        name: "operator-cli".into(),
    }
}

/// A proto message as the JSON its REST surface would show.
fn proto_json<M: Message>(message: &M, full_name: &str, naming: FieldNaming) -> String {
    let descriptor = DESCRIPTOR_POOL
        .get_message_by_name(full_name)
        .expect("message is in the descriptor pool");
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("a message decodes as itself");
    let mut out = Vec::new();
    encode_message(&dynamic, naming, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

pub async fn run(cli: Cli) -> Result<(), BoxError> {
    if let Command::Serve {
        listen,
        max_in_flight,
        max_response_bytes,
        writes_per_minute,
        write_burst,
        max_children,
        max_organizations_per_user,
    } = cli.command
    {
        let mut config = Config::new(listen, cli.database_url.clone());
        config.max_in_flight = max_in_flight.max(1);
        config.max_response_bytes = max_response_bytes.max(1);
        config.write_rate = (writes_per_minute > 0)
            .then(|| crate::rate_limit::Rate::new(write_burst.max(1), writes_per_minute));
        config.max_children = max_children;
        config.max_organizations_per_user = max_organizations_per_user;
        let server = Server::start(config).await?;
        tracing::info!(
            "orgd ready on http://{} (gRPC, grpc-web, REST; database {})",
            server.local_addr(),
            redact(&cli.database_url)
        );
        server.run_until_signal().await;
        return Ok(());
    }
    let db = Db::connect_and_migrate(&cli.database_url).await?;
    let out = match cli.command {
        Command::Serve { .. } => unreachable!("handled above"),
        Command::Migrate => serde_json::json!({"migrated": true}).to_string(),
        Command::User(UserCommand::Create { email, name }) => {
            let txn = db.begin_write().await?;
            let created = user::create(&txn, &email, &name).await?;
            let token = token::issue(
                &txn,
                &Principal::User {
                    user_id: created.id,
                },
                None,
            )
            .await?;
            txn.commit().await?;
            serde_json::json!({
                "id": created.id,
                "uuid": created.uuid.to_string(),
                "email": created.email,
                "token": token,
            })
            .to_string()
        }
        Command::Client(ClientCommand::Create { organization }) => {
            let id = organization_id(&db, &organization).await?;
            let txn = db.begin_write().await?;
            let (client_id, client_secret) = oauth::create_client(&txn, id).await?;
            txn.commit().await?;
            serde_json::json!({ "client_id": client_id, "client_secret": client_secret })
                .to_string()
        }
        Command::Token(TokenCommand::Create(target)) => {
            let principal = if let Some(email) = target.email {
                let found = UserKey::Email(email.trim().to_lowercase())
                    .find(db.read())
                    .await?
                    .ok_or_else(|| DomainError::NotFound(format!("no user with email {email}")))?;
                Principal::User { user_id: found.id }
            } else if let Some(org) = target.organization {
                Principal::Organization {
                    organization_id: organization_id(&db, &org).await?,
                }
            } else {
                let name = target.service.unwrap_or_default();
                if name.trim().is_empty() {
                    return Err(DomainError::invalid("service", "is required").into());
                }
                Principal::Service { name }
            };
            let txn = db.begin_write().await?;
            let token = token::issue(&txn, &principal, None).await?;
            txn.commit().await?;
            serde_json::json!({ "token": token }).to_string()
        }
        Command::Member(MemberCommand::Add {
            organization,
            email,
            role,
        }) => {
            let role = Role::parse(&role).expect("clap restricts the values");
            let view = membership::set(&db, &operator(), &organization, &email, role).await?;
            proto_json(
                &convert::membership(&view),
                "orgd.v1.Membership",
                FieldNaming::ProtoName,
            )
        }
        Command::Member(MemberCommand::Remove {
            organization,
            email,
        }) => {
            membership::remove(&db, &operator(), &organization, &email).await?;
            serde_json::json!({"removed": true}).to_string()
        }
        Command::Organization(OrganizationCommand::SetState {
            organization,
            state,
        }) => {
            let state = State::parse(&state).expect("clap restricts the values");
            let view = organization::set_state(&db, &operator(), &organization, state).await?;
            proto_json(
                &convert::organization(&view),
                "orgd.v1.Organization",
                FieldNaming::JsonName,
            )
        }
        Command::Organization(OrganizationCommand::SetEmail {
            organization,
            email,
        }) => {
            let model = crate::domain::giosg::set_organization_email(
                &db,
                &operator(),
                &organization,
                &email,
            )
            .await?;
            serde_json::json!({
                "id": model.id,
                "uuid": model.uuid.to_string(),
                "email": model.email,
            })
            .to_string()
        }
    };
    println!("{out}");
    Ok(())
}

/// An organization named by its int64 id or UUID.
async fn organization_id(db: &Db, named: &str) -> Result<i64, DomainError> {
    match OrganizationKey::parse(named) {
        Some(key) => key.resolve(db.read()).await?,
        None => None,
    }
    .ok_or_else(|| DomainError::NotFound(format!("no organization {named}")))
}

/// The database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
