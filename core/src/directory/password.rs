//! Password hashes: argon2id in PHC string form. The parameters live inside each hash, so
//! raising them later only affects new hashes and old ones keep verifying.

use crate::error::{Error, Result};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Set by test harnesses only: cheap argon2 parameters, so hundreds of logins stay fast.
pub const FAST_HASH_ENV: &str = "ROOST_INSECURE_FAST_HASH";

fn hasher() -> Argon2<'static> {
    if std::env::var_os(FAST_HASH_ENV).is_some()
        && let Ok(p) = Params::new(256, 1, 1, None)
    {
        return Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
    }
    Argon2::default()
}

pub fn check_strength(password: &str) -> Result<()> {
    if password.chars().count() < 8 {
        return Err(Error::Invalid(
            "the password is shorter than 8 characters".into(),
        ));
    }
    if password.len() > 1024 {
        return Err(Error::Invalid(
            "the password is longer than 1024 bytes".into(),
        ));
    }
    if password.chars().any(|c| c.is_control()) {
        return Err(Error::Invalid(
            "the password holds a control character".into(),
        ));
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String> {
    check_strength(password)?;
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Storage(format!("cannot hash the password: {e}")))
}

/// A hash to verify against when the login does not exist, so that the answer takes as long
/// as for a real account.
pub fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| hash("no such account, never matches").unwrap_or_default())
        .clone()
}

/// Constant-time comparison inside argon2; a malformed stored hash never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong horse!", &a));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(hash("short").is_err());
        assert!(hash("with\u{0}nul-byte").is_err());
    }
}
