//! The `roost` command line: `serve` runs the daemon; every other subcommand is a thin call into
//! the admin layer, printed as a table for people or as JSON with --json.

mod lists;
mod output;
mod password_prompt;
mod progress;

use crate::admin::{Admin, Request, Response};
use crate::config::{ByteSize, Config};
use crate::error::Error;
use crate::store::{QueueFilter, QueueState, Store};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "roost",
    version,
    about = "Roost: a complete mail server for your NAS"
)]
pub struct Cli {
    /// Configuration file (TOML). Without it, the embedded defaults apply.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder; overrides data_dir from the configuration.
    #[arg(long, short = 'd', global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the mail server.
    Serve,
    /// Mail domains, domain aliases and catch-alls.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Mail accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Addresses that forward to one or more others.
    #[command(subcommand)]
    Alias(AliasCmd),
    /// Groups of accounts: a shared address and the unit of per-group settings.
    #[command(subcommand)]
    Group(GroupCmd),
    /// The outbound queue.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// DKIM keys: outbound mail of a domain with a key is signed.
    #[command(subcommand)]
    Dkim(DkimCmd),
    /// DNS: what your domains' records must say, checked.
    #[command(subcommand)]
    Dns(DnsCmd),
    /// The full-text search index.
    #[command(subcommand)]
    Search(SearchCmd),
    /// Client addresses, networks, senders and domains refused: for the whole server or one
    /// user; Roost's own automatic blocks (failed logins, unknown recipients, spam traps) too.
    #[command(subcommand)]
    Block(lists::ListCmd),
    /// Client addresses, networks, senders and domains never refused by the DNS lists nor
    /// filed to Junk: for the whole server or one user.
    #[command(subcommand)]
    Allow(lists::ListCmd),
    /// Messages held for you instead of delivered (a virus, a refused attachment, when the
    /// action is "quarantine"): list, show, release, delete.
    #[command(subcommand)]
    Quarantine(lists::QuarantineCmd),
    /// Each user's own spam classifier, learned from the mail they move into and out of Junk.
    #[command(subcommand)]
    Classifier(lists::ClassifierCmd),
    /// Reports: those sent to other domains that ask (TLS-RPT, DMARC), and the DMARC reports
    /// received about yours.
    #[command(subcommand)]
    Reports(lists::ReportsCmd),
    /// Whether the server runs, where it listens, and the queue's counts.
    Status,
    /// The mail ports in the system firewall (nftables, as root): register, unregister, status;
    /// `sc` prints the DSM port file made from the same list.
    #[command(subcommand)]
    Firewall(FirewallCmd),
    /// Read or change the configuration file (validated before it is written).
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Send one admin request as JSON and print the JSON reply (the C ABI's entry point).
    Admin {
        /// e.g. '{"op":"domain_list"}'
        request: String,
    },
}

#[derive(Subcommand)]
pub enum DomainCmd {
    /// Add a mail domain.
    Add { name: String },
    /// List domains with their aliases and catch-alls.
    List,
    /// Remove a domain that has no accounts left.
    Remove { name: String },
    /// Domain aliases: mail to user@ALIAS reaches user@DOMAIN.
    #[command(subcommand)]
    Alias(DomainAliasCmd),
    /// Catch-all: where mail to unknown addresses of a domain goes.
    #[command(subcommand)]
    Catchall(CatchallCmd),
}

#[derive(Subcommand)]
pub enum DomainAliasCmd {
    Add { alias: String, domain: String },
    Remove { alias: String },
}

#[derive(Subcommand)]
pub enum CatchallCmd {
    Set { domain: String, target: String },
    Clear { domain: String },
}

#[derive(Args)]
pub struct PasswordArgs {
    /// Read the password from standard input (one line) instead of asking.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add an account; asks for the password, or reads it with --password-stdin.
    Add {
        address: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Mailbox quota, e.g. 2G or 500M; 0 or absent is unlimited.
        #[arg(long, value_parser = parse_size)]
        quota: Option<ByteSize>,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// May manage the server.
        #[arg(long)]
        admin: bool,
    },
    List {
        #[arg(long)]
        domain: Option<String>,
    },
    Show {
        address: String,
    },
    /// Remove an account and all its mail.
    Remove {
        address: String,
    },
    /// Change the password.
    Passwd {
        address: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Stop an account from logging in and receiving mail; its mail is kept.
    Disable {
        address: String,
    },
    Enable {
        address: String,
    },
    /// Set the quota (e.g. 2G; 0 for unlimited).
    Quota {
        address: String,
        #[arg(value_parser = parse_size)]
        size: ByteSize,
    },
}

#[derive(Subcommand)]
pub enum AliasCmd {
    /// Create an alias, or add targets to it: local accounts, other aliases, outside addresses.
    Add {
        address: String,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Remove the named targets, or the whole alias when none are named.
    Remove {
        address: String,
        targets: Vec<String>,
    },
    List {
        #[arg(long)]
        domain: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum GroupCmd {
    /// Create a group; with --address it receives mail as one address (a distribution list).
    Add {
        name: String,
        #[arg(long)]
        address: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    Remove {
        name: String,
    },
    List,
    #[command(subcommand)]
    Member(GroupMemberCmd),
}

#[derive(Subcommand)]
pub enum GroupMemberCmd {
    Add {
        group: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
    Remove {
        group: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum QueueCmd {
    List(QueueFilterArgs),
    Show {
        id: String,
    },
    /// Try waiting messages now instead of at their next retry time.
    Retry(QueueSelectArgs),
    /// Stop delivery attempts until released.
    Hold(QueueSelectArgs),
    /// Let held messages go again.
    Release(QueueSelectArgs),
    /// Remove messages from the queue without telling their senders.
    Delete(QueueSelectArgs),
}

/// Which entries: those whose sender or a recipient contains the text, or with a recipient in
/// that state.
#[derive(Args)]
pub struct QueueFilterArgs {
    #[arg(long)]
    sender: Option<String>,
    #[arg(long)]
    recipient: Option<String>,
    /// queued, active, deferred or held
    #[arg(long, value_parser = parse_state)]
    state: Option<QueueState>,
}

impl From<QueueFilterArgs> for QueueFilter {
    fn from(a: QueueFilterArgs) -> Self {
        QueueFilter {
            sender: a.sender,
            recipient: a.recipient,
            state: a.state,
        }
    }
}

#[derive(Args)]
pub struct QueueSelectArgs {
    /// Queue ids (see roost queue list).
    ids: Vec<String>,
    #[command(flatten)]
    filter: QueueFilterArgs,
    /// Every message in the queue.
    #[arg(long)]
    all: bool,
}

impl From<QueueSelectArgs> for crate::admin::QueueSelect {
    fn from(a: QueueSelectArgs) -> Self {
        crate::admin::QueueSelect {
            ids: a.ids,
            filter: a.filter.into(),
            all: a.all,
        }
    }
}

#[derive(Subcommand)]
pub enum DkimCmd {
    /// Make (or replace) the domain's key and print the DNS record to publish.
    Generate {
        domain: String,
        #[arg(long, default_value = crate::admin::DEFAULT_SELECTOR)]
        selector: String,
        /// RSA key size; 0 makes an Ed25519 key (not yet verified by every receiver).
        #[arg(long, default_value_t = 2048)]
        bits: usize,
    },
    /// Print the domain's DNS record again.
    Show {
        domain: String,
    },
    List,
}

#[derive(Subcommand)]
pub enum SearchCmd {
    /// Documents, size on disk, messages waiting, who has CJK indexing.
    Status,
    /// Index again one user's mail, or everyone's (--all), with a progress bar.
    Reindex {
        address: Option<String>,
        #[arg(long, conflicts_with = "address")]
        all: bool,
    },
    /// CJK (Chinese, Japanese, Korean) indexing for a user or a group (@name).
    #[command(subcommand)]
    Cjk(CjkCmd),
}

#[derive(Subcommand)]
pub enum CjkCmd {
    Enable { target: String },
    Disable { target: String },
}

#[derive(Subcommand)]
pub enum FirewallCmd {
    /// Accept the mail ports, and redirect the standard ports to Roost's when they differ.
    Register,
    /// Remove Roost's table (inet roost) and nothing else.
    Unregister,
    /// Show Roost's rules.
    Status,
    /// Print DSM's port file (roost.sc).
    Sc,
}

/// Firewall commands change the system, not the store: the admin layer runs them without one.
fn firewall(cmd: &FirewallCmd, config: &Config) -> i32 {
    use crate::admin::FirewallAction;
    let action = match cmd {
        FirewallCmd::Register => FirewallAction::Register,
        FirewallCmd::Unregister => FirewallAction::Unregister,
        FirewallCmd::Status => FirewallAction::Status,
        FirewallCmd::Sc => FirewallAction::Sc,
    };
    let result = crate::admin::firewall(config, action);
    match result {
        Ok(text) => {
            println!("{}", text.trim_end());
            0
        }
        Err(e) => {
            eprintln!("roost: {e}");
            1
        }
    }
}

#[derive(Subcommand)]
pub enum SettingsCmd {
    /// Every key with the value in force.
    Get,
    /// Change keys: roost settings set smtp.max_recipients=50 relay.host=smtp.example.net
    Set {
        /// KEY=VALUE, the value in TOML syntax (a bare word is taken as a string).
        #[arg(required = true)]
        assignments: Vec<String>,
    },
}

/// "a.b=VALUE" pairs into {"a": {"b": VALUE}}.
fn settings_changes(assignments: &[String]) -> Result<serde_json::Value, Error> {
    let mut root = serde_json::Map::new();
    for a in assignments {
        let (key, raw) = a
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("'{a}': write KEY=VALUE")))?;
        let value: serde_json::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            Ok(mut t) => t
                .remove("v")
                .map(|v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null))
                .unwrap_or(serde_json::Value::Null),
            Err(_) => serde_json::Value::String(raw.to_string()),
        };
        let parts: Vec<&str> = key.trim().split('.').collect();
        let mut map = &mut root;
        for p in &parts[..parts.len() - 1] {
            let entry = map
                .entry(p.to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            map = entry
                .as_object_mut()
                .ok_or_else(|| Error::Invalid(format!("'{key}': {p} is set twice")))?;
        }
        map.insert(parts[parts.len() - 1].to_string(), value);
    }
    Ok(serde_json::Value::Object(root))
}

#[derive(Subcommand)]
pub enum DnsCmd {
    /// Check MX, the host's address and reverse name, SPF, DKIM and DMARC; print the records
    /// to publish and the router's port table.
    Check {
        /// One domain; without it, every domain.
        domain: Option<String>,
    },
}

fn parse_size(s: &str) -> Result<ByteSize, String> {
    ByteSize::parse(s)
}

fn parse_state(s: &str) -> Result<QueueState, String> {
    QueueState::parse(s)
        .ok_or_else(|| format!("'{s}' is not a queue state (queued, active, deferred, held)"))
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    // Whatever roost writes (mail, the database, keys, settings) is its user's alone.
    // SAFETY: umask only sets this process's file creation mask.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), cli.data.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("roost: {e}");
            return 2;
        }
    };
    crate::logging::init(&config, matches!(cli.command, Command::Serve));
    if let Command::Serve = cli.command {
        let launch = crate::server::Launch {
            config_path: cli.config.clone(),
            data_override: cli.data.clone(),
        };
        return match crate::server::run(config, launch) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("roost: {e}");
                1
            }
        };
    }
    if let Command::Firewall(f) = &cli.command {
        return firewall(f, &config);
    }
    let reindex = matches!(cli.command, Command::Search(SearchCmd::Reindex { .. }));
    let request = match to_request(cli.command) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("roost: {e}");
            return 1;
        }
    };
    let store = match Store::open(&config.data_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("roost: {e}");
            return 1;
        }
    };
    let admin = Admin::new(store.clone(), std::sync::Arc::new(config.clone()))
        .with_config_path(cli.config.clone());
    let code = match request {
        Req::Json(text) => {
            let reply = admin.handle_json(&text);
            println!("{reply}");
            i32::from(reply.starts_with("{\"error\""))
        }
        Req::Typed(req) => match admin.handle(req) {
            Ok(resp) => {
                print_response(&resp, cli.json);
                if reindex && !cli.json {
                    crate::cli::progress::reindex(&admin)
                } else {
                    0
                }
            }
            Err(e) => {
                if cli.json {
                    println!("{}", serde_json::json!({ "error": e }));
                } else {
                    eprintln!("roost: {e}");
                }
                1
            }
        },
    };
    store.close();
    code
}

enum Req {
    Typed(Request),
    Json(String),
}

fn to_request(cmd: Command) -> Result<Req, Error> {
    use Request as R;
    Ok(Req::Typed(match cmd {
        Command::Serve => return Err(Error::Invalid("serve is not an admin request".into())),
        Command::Firewall(_) => {
            return Err(Error::Invalid("firewall is not an admin request".into()));
        }
        Command::Admin { request } => return Ok(Req::Json(request)),
        Command::Domain(d) => match d {
            DomainCmd::Add { name } => R::DomainAdd { name },
            DomainCmd::List => R::DomainList,
            DomainCmd::Remove { name } => R::DomainRemove { name },
            DomainCmd::Alias(DomainAliasCmd::Add { alias, domain }) => {
                R::DomainAliasAdd { alias, domain }
            }
            DomainCmd::Alias(DomainAliasCmd::Remove { alias }) => R::DomainAliasRemove { alias },
            DomainCmd::Catchall(CatchallCmd::Set { domain, target }) => {
                R::CatchallSet { domain, target }
            }
            DomainCmd::Catchall(CatchallCmd::Clear { domain }) => R::CatchallClear { domain },
        },
        Command::User(u) => match u {
            UserCmd::Add {
                address,
                password,
                quota,
                name,
                admin,
            } => {
                let password = password_prompt::obtain(password.password_stdin, &address)?;
                R::UserAdd {
                    address,
                    password,
                    name,
                    quota,
                    admin,
                }
            }
            UserCmd::List { domain } => R::UserList { domain },
            UserCmd::Show { address } => R::UserShow { address },
            UserCmd::Remove { address } => R::UserRemove { address },
            UserCmd::Passwd { address, password } => {
                let password = password_prompt::obtain(password.password_stdin, &address)?;
                R::UserPasswd { address, password }
            }
            UserCmd::Disable { address } => R::UserDisable { address },
            UserCmd::Enable { address } => R::UserEnable { address },
            UserCmd::Quota { address, size } => R::UserQuota {
                address,
                quota: size,
            },
        },
        Command::Alias(a) => match a {
            AliasCmd::Add { address, targets } => R::AliasAdd { address, targets },
            AliasCmd::Remove { address, targets } => R::AliasRemove { address, targets },
            AliasCmd::List { domain } => R::AliasList { domain },
        },
        Command::Group(g) => match g {
            GroupCmd::Add {
                name,
                address,
                description,
            } => R::GroupAdd {
                name,
                address,
                description,
            },
            GroupCmd::Remove { name } => R::GroupRemove { name },
            GroupCmd::List => R::GroupList,
            GroupCmd::Member(GroupMemberCmd::Add { group, members }) => {
                R::GroupMemberAdd { group, members }
            }
            GroupCmd::Member(GroupMemberCmd::Remove { group, members }) => {
                R::GroupMemberRemove { group, members }
            }
        },
        Command::Queue(q) => match q {
            QueueCmd::List(f) => R::QueueList { filter: f.into() },
            QueueCmd::Show { id } => R::QueueShow { id },
            QueueCmd::Retry(a) => R::QueueRetry { select: a.into() },
            QueueCmd::Hold(a) => R::QueueHold { select: a.into() },
            QueueCmd::Release(a) => R::QueueRelease { select: a.into() },
            QueueCmd::Delete(a) => R::QueueDelete { select: a.into() },
        },
        Command::Dkim(d) => match d {
            DkimCmd::Generate {
                domain,
                selector,
                bits,
            } => R::DkimGenerate {
                domain,
                selector: Some(selector),
                bits: Some(bits),
            },
            DkimCmd::Show { domain } => R::DkimShow { domain },
            DkimCmd::List => R::DkimList,
        },
        Command::Dns(DnsCmd::Check { domain }) => R::DnsCheck { domain },
        Command::Search(SearchCmd::Status) => R::SearchStatus,
        Command::Search(SearchCmd::Reindex { address, all }) => {
            if address.is_none() && !all {
                return Err(Error::Invalid(
                    "name a user, or --all for everyone's mail".into(),
                ));
            }
            R::SearchReindex { address }
        }
        Command::Search(SearchCmd::Cjk(CjkCmd::Enable { target })) => R::SearchCjk {
            target,
            enable: true,
        },
        Command::Search(SearchCmd::Cjk(CjkCmd::Disable { target })) => R::SearchCjk {
            target,
            enable: false,
        },
        Command::Block(c) => lists::request(crate::store::reputation::ListKind::Block, c),
        Command::Allow(c) => lists::request(crate::store::reputation::ListKind::Allow, c),
        Command::Quarantine(c) => lists::quarantine_request(c),
        Command::Classifier(c) => lists::classifier_request(c),
        Command::Reports(c) => lists::reports_request(c),
        Command::Status => R::Status,
        Command::Settings(SettingsCmd::Get) => R::SettingsGet,
        Command::Settings(SettingsCmd::Set { assignments }) => R::SettingsSet {
            settings: settings_changes(&assignments)?,
        },
    }))
}

fn print_response(resp: &Response, json: bool) {
    if json {
        // The payload alone: a list command prints a JSON array, a change prints {"message": …}.
        let value = match serde_json::to_value(resp) {
            Ok(serde_json::Value::Object(mut m)) => match (m.remove("type"), m.remove("data")) {
                (Some(t), Some(serde_json::Value::String(msg))) if t == "done" => {
                    serde_json::json!({ "message": msg })
                }
                (_, Some(data)) => data,
                _ => serde_json::Value::Null,
            },
            _ => serde_json::Value::Null,
        };
        match serde_json::to_string_pretty(&value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("roost: cannot print JSON: {e}"),
        }
        return;
    }
    print!("{}", output::render(resp));
}
