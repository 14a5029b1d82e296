//! What the server does to a store at start: make the first admin account when there is none,
//! and collect blobs that nothing references (a crash between writing a blob and committing its
//! rows leaves one behind).

use crate::config::Config;
use crate::directory::{self, NewAccount, password};
use crate::error::Result;
use crate::store::Store;
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct FirstAdmin {
    pub address: String,
    pub password: String,
    /// Where the password was also written (mode 0600), so it is not lost with the terminal.
    pub password_file: std::path::PathBuf,
}

/// Creates the first domain and the admin account on a store without accounts.
pub fn bootstrap(store: &Store, config: &Config) -> Result<Option<FirstAdmin>> {
    if store.read(directory::has_accounts)? {
        return Ok(None);
    }
    let domain = config.first_domain();
    let address = format!("admin@{domain}");
    let password = random_password();
    let hash = password::hash(&password)?;
    let (d, a) = (domain.clone(), address.clone());
    store.write(move |c| {
        if directory::local_domain(c, &d)?.is_none() {
            directory::domain_add(c, &d)?;
        }
        directory::account_add(
            c,
            &NewAccount {
                address: &a,
                password_hash: &hash,
                name: "Administrator",
                quota: 0,
                admin: true,
            },
        )
    })?;
    let password_file = store.dir().join("admin-password.txt");
    crate::util::write_private(&password_file, &format!("{address}\n{password}\n"))?;
    Ok(Some(FirstAdmin {
        address,
        password,
        password_file,
    }))
}

/// 20 characters from an alphabet without look-alikes (no 0/O, 1/l/I).
fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    if getrandom::fill(&mut bytes).is_err() {
        // No kernel randomness is a broken machine; still never hand out a fixed password.
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8 ^ (std::process::id() as u8).wrapping_mul(i as u8 + 1);
        }
    }
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}
