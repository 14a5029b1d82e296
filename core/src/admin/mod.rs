//! The admin operations: one typed request in, one typed reply out, both serialisable as JSON.
//! The CLI, the C ABI, the HTTP API and the UI all come through `Admin::handle`; none of them
//! carries logic of its own.

mod bootstrap;
mod lists;
mod network;
pub mod quarantine;
pub mod settings;
pub mod status;
mod sts_check;

pub use crate::store::collect_garbage;
pub use bootstrap::{FirstAdmin, bootstrap};

use crate::config::{ByteSize, Config};
use crate::directory::{self, AliasInfo, DomainInfo, GroupInfo, NewAccount, UserInfo, password};
use crate::error::{Error, Result};
use crate::store::reputation::ListKind;
use crate::store::{self, QueueAction, QueueEntry, QueueFilter, Store};
use std::path::PathBuf;
use std::sync::Arc;

/// The selector `roost dkim generate` uses unless told otherwise.
pub const DEFAULT_SELECTOR: &str = "roost";
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    DomainAdd {
        name: String,
    },
    DomainList,
    DomainRemove {
        name: String,
    },
    DomainAliasAdd {
        alias: String,
        domain: String,
    },
    DomainAliasRemove {
        alias: String,
    },
    CatchallSet {
        domain: String,
        target: String,
    },
    CatchallClear {
        domain: String,
    },
    UserAdd {
        address: String,
        password: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        quota: Option<ByteSize>,
        #[serde(default)]
        admin: bool,
    },
    UserList {
        #[serde(default)]
        domain: Option<String>,
    },
    UserShow {
        address: String,
    },
    UserRemove {
        address: String,
    },
    UserPasswd {
        address: String,
        password: String,
    },
    UserDisable {
        address: String,
    },
    UserEnable {
        address: String,
    },
    UserQuota {
        address: String,
        quota: ByteSize,
    },
    AliasAdd {
        address: String,
        targets: Vec<String>,
    },
    AliasRemove {
        address: String,
        #[serde(default)]
        targets: Vec<String>,
    },
    AliasList {
        #[serde(default)]
        domain: Option<String>,
    },
    GroupAdd {
        name: String,
        #[serde(default)]
        address: Option<String>,
        #[serde(default)]
        description: String,
    },
    GroupRemove {
        name: String,
    },
    GroupMemberAdd {
        group: String,
        members: Vec<String>,
    },
    GroupMemberRemove {
        group: String,
        members: Vec<String>,
    },
    GroupList,
    QueueList {
        #[serde(default)]
        filter: QueueFilter,
    },
    QueueShow {
        id: String,
    },
    /// Waiting recipients are tried now.
    QueueRetry {
        #[serde(default)]
        select: QueueSelect,
    },
    QueueHold {
        #[serde(default)]
        select: QueueSelect,
    },
    QueueRelease {
        #[serde(default)]
        select: QueueSelect,
    },
    /// Removed without telling the sender.
    QueueDelete {
        #[serde(default)]
        select: QueueSelect,
    },
    /// Makes (or replaces) the domain's DKIM key.
    DkimGenerate {
        domain: String,
        #[serde(default)]
        selector: Option<String>,
        /// RSA bits (default 2048); 0 for Ed25519.
        #[serde(default)]
        bits: Option<usize>,
    },
    DkimShow {
        domain: String,
    },
    DkimList,
    /// The setup check for one domain, or every domain.
    DnsCheck {
        #[serde(default)]
        domain: Option<String>,
    },
    /// The search index: documents, size on disk, messages waiting to be indexed.
    SearchStatus,
    /// Index again one account's mail, or everyone's (`address` absent).
    SearchReindex {
        #[serde(default)]
        address: Option<String>,
    },
    /// One step of a reindex the CLI watches: with no server running, the caller indexes one
    /// batch itself; either way the reply says how many messages still wait.
    SearchIndexStep,
    /// The mail ports in the system firewall (root): register, unregister, status, or DSM's
    /// port file.
    Firewall {
        action: FirewallAction,
    },
    /// CJK indexing for a user ("alice@example.com") or a group ("@family").
    SearchCjk {
        target: String,
        enable: bool,
    },
    /// Whether the daemon runs, its listeners and the queue's counts.
    Status,
    /// The configuration in force, every key with its value.
    SettingsGet,
    /// Changes keys of the configuration file, e.g. {"smtp": {"max_recipients": 50}}; null
    /// puts a key back to its default. Refused whole when the result is not valid.
    SettingsSet {
        settings: serde_json::Value,
    },
    /// The allow and block lists in force: one list or both, the server's and every user's or
    /// one user's (`roost block list`, `roost allow list`).
    ListShow {
        #[serde(default)]
        list: Option<ListKind>,
        #[serde(default)]
        user: Option<String>,
    },
    /// Puts a client address or network, a sender or an @domain on a list, for the whole
    /// server or one user; `for_secs` makes the entry lapse.
    ListAdd {
        list: ListKind,
        entry: String,
        #[serde(default)]
        user: Option<String>,
        #[serde(default)]
        for_secs: Option<u64>,
        #[serde(default)]
        reason: String,
    },
    /// Takes an entry off whichever list holds it.
    ListRemove {
        entry: String,
        #[serde(default)]
        user: Option<String>,
    },
    /// What each user's spam classifier has learned from their sorting (or one user's).
    ClassifierShow {
        #[serde(default)]
        user: Option<String>,
    },
    /// Makes a user's classifier forget what it learned.
    ClassifierReset {
        user: String,
    },
    /// Sends the TLS reports due (of days that are over; with `include_today`, today's so far).
    ReportsSend {
        #[serde(default)]
        include_today: bool,
    },
    /// Summaries of the DMARC reports other servers sent about our domains.
    DmarcReports {
        #[serde(default)]
        domain: Option<String>,
    },
    /// Messages held for the admin (a virus, a refused attachment), newest first.
    QuarantineList,
    /// One held message with its header.
    QuarantineShow {
        id: String,
    },
    /// Delivers a held message to its recipients.
    QuarantineRelease {
        id: String,
    },
    QuarantineDelete {
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallAction {
    Register,
    Unregister,
    Status,
    Sc,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchProgress {
    /// Messages indexed by this step (0 when the running server's indexer does the work).
    pub indexed: u64,
    pub waiting: u64,
}

/// The firewall operations change the system, not the store: they need no store open (the
/// package's install scripts run them before the data folder exists).
pub fn firewall(config: &Config, action: FirewallAction) -> Result<String> {
    use crate::firewall as fw;
    match action {
        FirewallAction::Register => fw::register(config),
        FirewallAction::Unregister => fw::unregister().map(|removed| {
            if removed {
                "firewall: Roost's rules removed".to_string()
            } else {
                "firewall: no rules of Roost's were registered".to_string()
            }
        }),
        FirewallAction::Status => fw::status().map(|t| match t {
            Some(rules) => rules,
            None => "firewall: no rules of Roost's are registered".to_string(),
        }),
        FirewallAction::Sc => Ok(fw::sc_file()),
    }
}

/// Which queue entries an operation applies to: these ids, or every entry the filter matches
/// (`all` must be said out loud when the filter is empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSelect {
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default)]
    pub filter: QueueFilter,
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchStatus {
    pub enabled: bool,
    pub documents: u64,
    pub size_bytes: u64,
    pub messages: u64,
    /// Messages not yet in the index (searched by reading them meanwhile).
    pub waiting: u64,
    /// Accounts with CJK indexing.
    pub cjk_accounts: Vec<String>,
}

/// A DKIM key as shown to people: never the private half.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DkimInfo {
    pub domain: String,
    pub selector: String,
    pub algorithm: String,
    pub created: i64,
    /// Where to publish it.
    pub record_name: String,
    pub record_text: String,
    pub zone_line: String,
}

impl From<&store::dkim::DkimKey> for DkimInfo {
    fn from(k: &store::dkim::DkimKey) -> Self {
        use crate::dkim::{record_name, record_text, zone_line};
        DkimInfo {
            domain: k.domain.clone(),
            selector: k.selector.clone(),
            algorithm: k.algorithm.clone(),
            created: k.created,
            record_name: record_name(k),
            record_text: record_text(k),
            zone_line: zone_line(k),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Response {
    /// A change was made; the message says what, for people.
    Done(String),
    Domain(DomainInfo),
    Domains(Vec<DomainInfo>),
    User(UserInfo),
    Users(Vec<UserInfo>),
    Alias(AliasInfo),
    Aliases(Vec<AliasInfo>),
    Group(GroupInfo),
    Groups(Vec<GroupInfo>),
    Queue(Vec<QueueEntry>),
    QueueEntry(QueueEntry),
    Dkim(DkimInfo),
    Dkims(Vec<DkimInfo>),
    DnsCheck(crate::dns::check::Report),
    Status(status::Status),
    SearchStatus(SearchStatus),
    SearchProgress(SearchProgress),
    Settings(serde_json::Value),
    ListEntries(Vec<store::reputation::ListEntry>),
    Quarantine(Vec<quarantine::HeldInfo>),
    Classifier(Vec<lists::ClassifierInfo>),
    DmarcReports(Vec<store::dmarc_report::Received>),
    Held(quarantine::HeldInfo),
}

#[derive(Clone)]
pub struct Admin {
    store: Store,
    config: Arc<Config>,
    /// The file `config` was read from, which settings changes rewrite.
    config_path: Option<PathBuf>,
    /// The index this process opened to reindex while no server runs.
    local_index: Arc<std::sync::OnceLock<crate::search::Search>>,
}

impl Admin {
    pub fn new(store: Store, config: Arc<Config>) -> Admin {
        Admin {
            store,
            config,
            config_path: None,
            local_index: Arc::default(),
        }
    }

    pub fn with_config_path(mut self, path: Option<PathBuf>) -> Admin {
        self.config_path = path;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn handle(&self, req: Request) -> Result<Response> {
        use Request::*;
        let s = &self.store;
        match req {
            DomainAdd { name } => s
                .write(move |c| directory::domain_add(c, &name))
                .map(Response::Domain),
            DomainList => s.read(directory::domain_list).map(Response::Domains),
            DomainRemove { name } => {
                let n = name.clone();
                s.write(move |c| directory::domain_remove(c, &n))?;
                Ok(Response::Done(format!(
                    "domain {} removed",
                    name.trim().to_lowercase()
                )))
            }
            DomainAliasAdd { alias, domain } => {
                let (a, d) = (alias.clone(), domain.clone());
                s.write(move |c| directory::domain_alias_add(c, &a, &d))?;
                Ok(Response::Done(format!(
                    "mail to any address @{alias} now reaches the same address @{domain}"
                )))
            }
            DomainAliasRemove { alias } => {
                let a = alias.clone();
                s.write(move |c| directory::domain_alias_remove(c, &a))?;
                Ok(Response::Done(format!("domain alias {alias} removed")))
            }
            CatchallSet { domain, target } => {
                let (d, t) = (domain.clone(), target.clone());
                s.write(move |c| directory::catchall_set(c, &d, Some(&t)))?;
                Ok(Response::Done(format!(
                    "mail to unknown addresses @{domain} now goes to {target}"
                )))
            }
            CatchallClear { domain } => {
                let d = domain.clone();
                s.write(move |c| directory::catchall_set(c, &d, None))?;
                Ok(Response::Done(format!(
                    "unknown addresses @{domain} are refused again"
                )))
            }
            UserAdd {
                address,
                password,
                name,
                quota,
                admin,
            } => {
                let hash = password::hash(&password)?;
                s.write(move |c| {
                    directory::account_add(
                        c,
                        &NewAccount {
                            address: &address,
                            password_hash: &hash,
                            name: &name,
                            quota: quota.map(|q| q.0).unwrap_or(0),
                            admin,
                        },
                    )
                })
                .map(Response::User)
            }
            UserList { domain } => s
                .read(|c| directory::user_list(c, domain.as_deref()))
                .map(Response::Users),
            UserShow { address } => s
                .read(|c| directory::user_info(c, &address))
                .map(Response::User),
            UserRemove { address } => {
                let a = address.clone();
                s.write(move |c| directory::account_remove(c, &a))?;
                collect_garbage(s)?;
                Ok(Response::Done(format!(
                    "user {address} and their mail removed"
                )))
            }
            UserPasswd { address, password } => {
                let hash = password::hash(&password)?;
                let a = address.clone();
                s.write(move |c| directory::account_set_password(c, &a, &hash))?;
                Ok(Response::Done(format!("password of {address} changed")))
            }
            UserDisable { address } => self.set_disabled(address, true),
            UserEnable { address } => self.set_disabled(address, false),
            UserQuota { address, quota } => {
                let a = address.clone();
                s.write(move |c| directory::account_set_quota(c, &a, quota.0))?;
                let shown = if quota.0 == 0 {
                    "unlimited".to_string()
                } else {
                    quota.to_string()
                };
                Ok(Response::Done(format!("quota of {address} is now {shown}")))
            }
            AliasAdd { address, targets } => s
                .write(move |c| directory::alias_add(c, &address, &targets))
                .map(Response::Alias),
            AliasRemove { address, targets } => {
                let a = address.clone();
                s.write(move |c| directory::alias_remove(c, &a, &targets))?;
                Ok(Response::Done(format!("alias {address} changed")))
            }
            AliasList { domain } => s
                .read(|c| directory::alias_list(c, domain.as_deref()))
                .map(Response::Aliases),
            GroupAdd {
                name,
                address,
                description,
            } => s
                .write(move |c| directory::group_add(c, &name, address.as_deref(), &description))
                .map(Response::Group),
            GroupRemove { name } => {
                let n = name.clone();
                s.write(move |c| directory::group_remove(c, &n))?;
                Ok(Response::Done(format!("group {name} removed")))
            }
            GroupMemberAdd { group, members } => s
                .write(move |c| directory::group_member_add(c, &group, &members))
                .map(Response::Group),
            GroupMemberRemove { group, members } => s
                .write(move |c| directory::group_member_remove(c, &group, &members))
                .map(Response::Group),
            GroupList => s.read(directory::group_list).map(Response::Groups),
            QueueList { filter } => s
                .read(|c| store::queue_list(c, &filter))
                .map(Response::Queue),
            QueueShow { id } => s
                .read(|c| store::queue_get(c, &id))
                .map(Response::QueueEntry),
            QueueRetry { select } => self.queue_apply(select, QueueAction::Retry),
            QueueHold { select } => self.queue_apply(select, QueueAction::Hold),
            QueueRelease { select } => self.queue_apply(select, QueueAction::Release),
            QueueDelete { select } => self.queue_apply(select, QueueAction::Delete),
            DkimGenerate {
                domain,
                selector,
                bits,
            } => {
                let d = directory::normalize_domain(&domain)?;
                let dd = d.clone();
                if s.read(move |c| directory::local_domain(c, &dd))?.is_none() {
                    return Err(Error::NotFound(format!(
                        "{d} is not one of this server's domains: roost domain add {d}"
                    )));
                }
                let key = crate::dkim::generate(
                    &d,
                    selector.as_deref().unwrap_or(DEFAULT_SELECTOR),
                    bits.unwrap_or(2048),
                )?;
                let info = DkimInfo::from(&key);
                s.write(move |c| store::dkim::put(c, &key))?;
                Ok(Response::Dkim(info))
            }
            DkimShow { domain } => {
                let d = directory::normalize_domain(&domain)?;
                let dd = d.clone();
                match s.read(move |c| store::dkim::get(c, &dd))? {
                    Some(k) => Ok(Response::Dkim(DkimInfo::from(&k))),
                    None => Err(Error::NotFound(format!(
                        "{d} has no DKIM key: roost dkim generate {d}"
                    ))),
                }
            }
            DkimList => Ok(Response::Dkims(
                s.read(store::dkim::list)?
                    .iter()
                    .map(DkimInfo::from)
                    .collect(),
            )),
            DnsCheck { domain } => {
                network::dns_check(s, &self.config, domain).map(Response::DnsCheck)
            }
            ReportsSend { include_today } => network::reports_send(s, &self.config, include_today),
            SearchStatus => self.search_status().map(Response::SearchStatus),
            SearchReindex { address } => {
                let account = match &address {
                    Some(a) => {
                        let a = a.clone();
                        Some(s.read(move |c| directory::account_id(c, &a))?)
                    }
                    None => None,
                };
                let n = s.write(move |c| store::search::reset(c, account))?;
                let running = status::running(&self.config.data_dir);
                if account.is_none() && !running {
                    // A full rebuild with no server holding the index: start from nothing.
                    let _ = std::fs::remove_dir_all(self.config.data_dir.join("search"));
                }
                status::signal_daemon(&self.config.data_dir, nix::sys::signal::Signal::SIGUSR1);
                Ok(Response::Done(format!(
                    "{n} message{} queued for indexing{}",
                    if n == 1 { "" } else { "s" },
                    address.map(|a| format!(" for {a}")).unwrap_or_default()
                )))
            }
            SearchIndexStep => {
                let mut indexed = 0;
                if !status::running(&self.config.data_dir) {
                    let search = self
                        .local_index
                        .get_or_init(|| crate::search::Search::open(&self.config, s));
                    indexed = search.index_batch(s)? as u64;
                }
                let waiting = s.read(store::search::unindexed_count)?;
                Ok(Response::SearchProgress(SearchProgress {
                    indexed,
                    waiting,
                }))
            }
            Firewall { action } => firewall(&self.config, action).map(Response::Done),
            ListShow { list, user } => lists::show(s, list, user),
            ListAdd {
                list,
                entry,
                user,
                for_secs,
                reason,
            } => lists::add(s, list, &entry, user, for_secs, &reason),
            ListRemove { entry, user } => lists::remove(s, &entry, user),
            ClassifierShow { user } => lists::classifier_show(s, &self.config, user),
            ClassifierReset { user } => lists::classifier_reset(s, user),
            DmarcReports { domain } => s
                .read(|c| store::dmarc_report::received(c, domain.as_deref()))
                .map(Response::DmarcReports),
            QuarantineList => quarantine::list(s),
            QuarantineShow { id } => quarantine::show(s, &id),
            QuarantineRelease { id } => quarantine::release(s, &self.config.data_dir, &id),
            QuarantineDelete { id } => quarantine::delete(s, &id),
            SearchCjk { target, enable } => {
                let t = target.clone();
                let gained = s.write(move |c| {
                    let (account, group) = match t.strip_prefix('@') {
                        Some(g) => match store::search::group_id(c, g)? {
                            Some(id) => (None, Some(id)),
                            None => {
                                return Err(Error::NotFound(format!("group {g} does not exist")));
                            }
                        },
                        None => (Some(directory::account_id(c, &t)?), None),
                    };
                    store::search::set_cjk(c, account, group, enable)
                })?;
                status::signal_daemon(&self.config.data_dir, nix::sys::signal::Signal::SIGUSR1);
                Ok(Response::Done(if enable {
                    format!(
                        "CJK indexing on for {target}; {} account{} re-indexing",
                        gained.len(),
                        if gained.len() == 1 { "" } else { "s" }
                    )
                } else {
                    format!("CJK indexing off for {target}; CJK text is found by reading the mail")
                }))
            }
            Status => status::read(&self.config, s).map(Response::Status),
            SettingsGet => settings::get(&self.config).map(Response::Settings),
            SettingsSet { settings: changes } => self.settings_set(&changes),
        }
    }

    fn search_status(&self) -> Result<SearchStatus> {
        let s = &self.store;
        let messages = s.read(store::search::message_count)?;
        let waiting = s.read(store::search::unindexed_count)?;
        let cjk_accounts = s.read(store::search::cjk_addresses)?;
        let dir = self.config.data_dir.join("search");
        let size_bytes = crate::search::index::disk_size(&dir);
        // Opening the index read-only to count: the daemon may hold the writer.
        let documents = crate::search::index::document_count(&dir).unwrap_or(0);
        Ok(SearchStatus {
            enabled: self.config.search.enabled,
            documents,
            size_bytes,
            messages,
            waiting,
            cjk_accounts,
        })
    }

    fn settings_set(&self, changes: &serde_json::Value) -> Result<Response> {
        let Some(path) = &self.config_path else {
            return Err(Error::Invalid(
                "Roost runs on its built-in defaults (no configuration file): start it with \
                 --config FILE to change settings"
                    .into(),
            ));
        };
        settings::set(path, &self.config.data_dir, changes)?;
        if status::signal_daemon(&self.config.data_dir, nix::sys::signal::Signal::SIGHUP) {
            return Ok(Response::Done(
                "settings saved; the running server reloads them now".into(),
            ));
        }
        Ok(Response::Done(
            "settings saved; they apply when Roost starts".into(),
        ))
    }

    fn queue_apply(&self, sel: QueueSelect, action: QueueAction) -> Result<Response> {
        let filter = sel.filter;
        let unfiltered =
            filter.sender.is_none() && filter.recipient.is_none() && filter.state.is_none();
        if sel.ids.is_empty() && unfiltered && !sel.all {
            return Err(Error::Invalid(
                "name queue ids, or a filter (sender, recipient, state), or all".into(),
            ));
        }
        let ids = sel.ids;
        let (entries, rcpts) = self
            .store
            .write(move |c| store::queue_apply(c, &ids, &filter, action, store::now()))?;
        // The running server's queue runner looks now instead of at its next poll.
        if action != QueueAction::Delete {
            status::signal_daemon(&self.config.data_dir, nix::sys::signal::Signal::SIGUSR1);
        }
        let verb = match action {
            QueueAction::Retry => "will be tried now",
            QueueAction::Hold => "held until released",
            QueueAction::Release => "released",
            QueueAction::Delete => "deleted",
        };
        Ok(Response::Done(format!(
            "{entries} message{} ({rcpts} recipient{}) {verb}",
            if entries == 1 { "" } else { "s" },
            if rcpts == 1 { "" } else { "s" },
        )))
    }

    /// Runs the DNS look-ups on a runtime of their own, so that the check works the same from
    /// the CLI, the C ABI and inside the server.
    fn set_disabled(&self, address: String, disabled: bool) -> Result<Response> {
        let a = address.clone();
        self.store
            .write(move |c| directory::account_set_disabled(c, &a, disabled))?;
        let what = if disabled {
            "disabled: it can neither log in nor receive mail"
        } else {
            "enabled"
        };
        Ok(Response::Done(format!("user {address} {what}")))
    }

    /// The JSON entry point: a request object in, `{"ok": reply}` or `{"error": {...}}` out.
    pub fn handle_json(&self, request: &str) -> String {
        let reply = match serde_json::from_str::<Request>(request) {
            Ok(req) => self.handle(req),
            Err(e) => Err(Error::Invalid(format!("bad request: {e}"))),
        };
        let value = match reply {
            Ok(r) => serde_json::json!({ "ok": r }),
            Err(e) => serde_json::json!({ "error": e }),
        };
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::Request;

    /// Found by fuzzing (fuzz/artifacts/admin_json): JSON numbers must read back exactly, or
    /// a setting passed through the admin layer twice changes on the way.
    #[test]
    fn requests_print_back_to_themselves() {
        for input in [
            r#"["settings_set",6e46]"#,
            r#"{"op":"settings_set","settings":{"limits":{"x":0.1}}}"#,
            r#"{"op":"domain_add","name":"example.test"}"#,
        ] {
            let req: Request = serde_json::from_str(input).unwrap();
            let text = serde_json::to_string(&req).unwrap();
            let again: Request = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_string(&again).unwrap(), text, "{input}");
        }
    }
}
