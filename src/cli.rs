//! The operator command line. Scripts parse its output: one JSON object per command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use prost::Message;
use prost_reflect::DynamicMessage;

use crate::auth::Principal;
use crate::config::{
    Config, DEFAULT_DATABASE_URL, DEFAULT_LISTEN, TlsFiles, parse_duration, parse_listen,
};
use crate::db::Db;
use crate::domain::keys::{OrganizationKey, UserKey};
use crate::domain::membership::{self, Role};
use crate::domain::organization::{self, State};
use crate::domain::{DomainError, oauth, token, user};
use crate::grpc::convert;
use crate::observability::logging::LogFormat;
use crate::proto::DESCRIPTOR_POOL;
use crate::server::{BoxError, Server};
use orgd_transcode::json::FieldNaming;

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
    /// Log lines as text, or as one JSON object each (for a log pipeline).
    #[arg(long, global = true, env = "ORGD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// One line per request at info level (target orgd::access); false turns it off.
    #[arg(long, global = true, env = "ORGD_ACCESS_LOG", default_value_t = true, action = clap::ArgAction::Set)]
    pub access_log: bool,
    /// Export traces over OTLP/HTTP (protobuf) to this collector (`/v1/traces` is added).
    #[arg(long, global = true, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve gRPC, grpc-web and REST on one port.
    Serve(ServeArgs),
    /// Apply all migrations and exit.
    Migrate,
    /// Users and their personal access tokens.
    #[command(subcommand)]
    User(UserCommand),
    /// Tokens: personal, an organization's API token, an internal service's.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Who belongs to an organization, with which role.
    #[command(subcommand)]
    Member(MemberCommand),
    /// An organization's billing state and invitation email.
    #[command(subcommand)]
    Organization(OrganizationCommand),
    /// OAuth2 clients (MyCreditApp).
    #[command(subcommand)]
    Client(ClientCommand),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// host:port (an IP or a host name) or :port for every interface.
    #[arg(long, env = "ORGD_LISTEN", default_value = DEFAULT_LISTEN, value_parser = parse_listen)]
    listen: SocketAddr,
    /// Requests in progress at once; more are refused with 503 and retry-after.
    #[arg(long, env = "ORGD_MAX_IN_FLIGHT", default_value_t = crate::limits::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// Open client connections at once; more are closed at once [default: RLIMIT_NOFILE
    /// minus 128 for the database]
    #[arg(long, env = "ORGD_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Close a connection with no request in progress (none sent yet, keep-alive between
    /// requests, HTTP/2 without streams) after this long.
    #[arg(long, env = "ORGD_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Ping HTTP/2 connections this often.
    #[arg(long, env = "ORGD_H2_KEEPALIVE_INTERVAL", default_value = "20s", value_parser = parse_duration)]
    h2_keepalive_interval: Duration,
    /// Drop an HTTP/2 connection whose ping goes unanswered this long.
    #[arg(long, env = "ORGD_H2_KEEPALIVE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    h2_keepalive_timeout: Duration,
    /// PEM certificate chain: serve TLS (ALPN h2, http/1.1); needs --tls-key.
    #[arg(long, env = "ORGD_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "ORGD_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// On SIGTERM, report not ready this long before closing the listener.
    #[arg(long, env = "ORGD_DRAIN_DELAY", default_value = "0s", value_parser = parse_duration)]
    drain_delay: Duration,
    /// After the drain delay, open requests and streams get this long; then the process
    /// exits with status 1.
    #[arg(long, env = "ORGD_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    shutdown_timeout: Duration,
    /// SQLite: the most MiB the database may hold; past it writes answer 503
    /// STORAGE_FULL (with Retry-After) until rows are deleted [default: the disk's size]
    #[arg(long, env = "ORGD_SQLITE_MAX_SIZE_MIB")]
    sqlite_max_size_mib: Option<u64>,
    /// Serve a database that takes no writes (a read-only file, mode=ro, a standby):
    /// reads work, writes answer 503 READ_ONLY. Without it such a database is refused.
    #[arg(long, env = "ORGD_READ_ONLY")]
    read_only: bool,
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
    /// How long the change log keeps an event; older ones are purged in the background.
    #[arg(long, env = "ORGD_EVENT_RETENTION", default_value = "30d", value_parser = parse_duration)]
    event_retention: Duration,
    /// Whether writes append to the change log. `false` only to measure what it costs.
    #[arg(long, env = "ORGD_CHANGE_LOG", default_value_t = true, action = clap::ArgAction::Set)]
    change_log: bool,
}

impl ServeArgs {
    fn config(self, database_url: String) -> Config {
        let mut config = Config::new(self.listen, database_url);
        config.max_in_flight = self.max_in_flight.max(1);
        config.max_connections = self.max_connections;
        config.idle_timeout = self.idle_timeout;
        config.h2_keepalive_interval = self.h2_keepalive_interval;
        config.h2_keepalive_timeout = self.h2_keepalive_timeout;
        config.tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        };
        config.drain_delay = self.drain_delay;
        config.shutdown_timeout = self.shutdown_timeout;
        config.sqlite_max_size_bytes = self.sqlite_max_size_mib.map(|mib| mib * 1024 * 1024);
        config.read_only = self.read_only;
        config.max_response_bytes = self.max_response_bytes.max(1);
        config.write_rate = (self.writes_per_minute > 0)
            .then(|| crate::rate_limit::Rate::new(self.write_burst.max(1), self.writes_per_minute));
        config.max_children = self.max_children;
        config.max_organizations_per_user = self.max_organizations_per_user;
        config.event_retention = self.event_retention;
        config.change_log = self.change_log;
        config
    }
}

/// Environment variables read outside the arguments (by the logging set-up).
const OTHER_ENVIRONMENT: &[(&str, &str)] =
    &[("ORGD_LOG", "log filter (tracing EnvFilter) [default: info]")];

/// The command line with every (sub)command's help ending in the list of every environment
/// variable orgd reads: the arguments' own and [`OTHER_ENVIRONMENT`].
pub fn command() -> clap::Command {
    let command = Cli::command();
    let mut lines = Vec::new();
    collect_environment(&command, &mut lines);
    lines.extend(
        OTHER_ENVIRONMENT
            .iter()
            .map(|(name, help)| (name.to_string(), help.to_string())),
    );
    lines.sort();
    lines.dedup_by(|a, b| a.0 == b.0);
    let width = lines.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut text = String::from("Environment:");
    for (name, help) in &lines {
        text.push_str(&format!("\n  {name:width$}  {help}"));
    }
    with_after_help(command, &text)
}

fn collect_environment(command: &clap::Command, out: &mut Vec<(String, String)>) {
    for arg in command.get_arguments() {
        if let Some(env) = arg.get_env() {
            let help = arg
                .get_help()
                .map(|h| h.to_string())
                .unwrap_or_else(|| format!("--{}", arg.get_id()));
            let first = help.lines().next().unwrap_or_default().to_string();
            out.push((env.to_string_lossy().into_owned(), first));
        }
    }
    for sub in command.get_subcommands() {
        collect_environment(sub, out);
    }
}

fn with_after_help(command: clap::Command, text: &str) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut command = command.after_help(text.to_string());
    for name in names {
        command = command.mut_subcommand(name, |sub| with_after_help(sub, text));
    }
    command
}

impl Cli {
    /// Parses the process's arguments with [`command`]'s help.
    pub fn from_env() -> Cli {
        let matches = command().get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
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
    /// Remove a user from an organization.
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
    crate::surfaces::json_of(&dynamic, naming)
}

pub async fn run(cli: Cli) -> Result<(), BoxError> {
    if let Command::Serve(args) = cli.command {
        let server = Server::start(args.config(cli.database_url.clone())).await?;
        let signal = crate::server::shutdown_signal();
        tracing::info!(
            "orgd ready on {}://{} (gRPC, grpc-web, REST; database {})",
            server.scheme(),
            server.local_addr(),
            redact(&cli.database_url)
        );
        if !server.run_until(signal).await {
            // A hard exit: whatever still runs (a stuck request, a blocking read) is not
            // waited for.
            eprintln!("orgd: shutdown timeout reached with requests still open");
            std::process::exit(1);
        }
        return Ok(());
    }
    let db = Db::connect_and_migrate(&cli.database_url).await?;
    let out = match cli.command {
        Command::Serve(_) => unreachable!("handled above"),
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
            // No request, so no origin: avatarURL is relative to the server.
            let keys = crate::domain::avatar::UrlKeys::default();
            let links = crate::domain::avatar::Links {
                key: keys.get(&db).await?,
                origin: String::new(),
            };
            proto_json(
                &convert::organization(&view, &links),
                "orgd.v1.Organization",
                FieldNaming::JsonName,
            )
        }
        Command::Organization(OrganizationCommand::SetEmail {
            organization,
            email,
        }) => {
            let model = crate::domain::organization_email::set_organization_email(
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
