//! Who may log in and where mail for an address goes: password hashes, the failed-login guard
//! and the cache of verified logins, over the directory's data in the store
//! (`store::directory`, re-exported here so that callers name one place).

mod guard;
mod login_cache;
pub mod password;

pub use crate::address::{Address, normalize_domain};
pub use crate::store::directory::*;
pub use guard::{AccountPolicy, AuthGuard};
pub use login_cache::LoginCache;
