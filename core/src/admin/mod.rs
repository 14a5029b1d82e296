//! The admin operations: one typed request in, one typed reply out, both serialisable as JSON.
//! The CLI, the C ABI, the HTTP API and the UI all come through `Admin::handle`; none of them
//! carries logic of its own.

mod bootstrap;

pub use bootstrap::{FirstAdmin, bootstrap, collect_garbage};

use crate::config::ByteSize;
use crate::directory::{self, AliasInfo, DomainInfo, GroupInfo, NewAccount, UserInfo, password};
use crate::error::{Error, Result};
use crate::store::{self, QueueEntry, QueueFilter, Store};
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
}

#[derive(Clone)]
pub struct Admin {
    store: Store,
}

impl Admin {
    pub fn new(store: Store) -> Admin {
        Admin { store }
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
        }
    }

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
