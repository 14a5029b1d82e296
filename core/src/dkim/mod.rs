//! DKIM: making a domain's key, the TXT record that publishes it, and signing outbound mail
//! with it. Keys live in the store; parsed keys are cached and reloaded when a key changes.

use crate::error::{Error, Result};
use crate::store::{self, Store, dkim::DkimKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done, generate::DkimKeyPair};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What is signed: the headers a reader sees and that change a message's meaning.
const SIGNED_HEADERS: [&str; 12] = [
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Makes a key for `domain`: RSA of `bits` (1024 to 4096), or Ed25519 when `bits` is 0.
pub fn generate(domain: &str, selector: &str, bits: usize) -> Result<DkimKey> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if !valid_label_list(&domain) {
        return Err(Error::Invalid(format!("'{domain}' is not a domain name")));
    }
    if !valid_label_list(selector) {
        return Err(Error::Invalid(format!(
            "'{selector}' is not a selector (letters, digits and dashes, e.g. roost2026)"
        )));
    }
    let (pair, algorithm) = match bits {
        0 => (DkimKeyPair::generate_ed25519(), "ed25519-sha256"),
        1024..=4096 => (DkimKeyPair::generate_rsa(bits), "rsa-sha256"),
        _ => {
            return Err(Error::Invalid(format!(
                "{bits} bits: use 1024 to 4096 (2048 is the usual), or 0 for Ed25519"
            )));
        }
    };
    let pair = pair.map_err(|e| Error::Invalid(format!("cannot make the key: {e}")))?;
    let (private_key, public_key) = pair.into_inner();
    Ok(DkimKey {
        domain,
        selector: selector.to_string(),
        algorithm: algorithm.into(),
        private_key,
        public_key: B64.encode(public_key),
        created: store::now(),
    })
}

fn valid_label_list(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The name the key is published under.
pub fn record_name(key: &DkimKey) -> String {
    format!("{}._domainkey.{}", key.selector, key.domain)
}

/// The TXT record's text.
pub fn record_text(key: &DkimKey) -> String {
    let k = if key.algorithm.starts_with("ed25519") {
        "ed25519"
    } else {
        "rsa"
    };
    format!("v=DKIM1; k={k}; p={}", key.public_key)
}

/// The zone-file line, with the text split into strings of at most 255 bytes as DNS requires.
pub fn zone_line(key: &DkimKey) -> String {
    let text = record_text(key);
    let parts: Vec<String> = text
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    format!("{}. 3600 IN TXT ( {} )", record_name(key), parts.join(" "))
}

enum SigningKey {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

struct Loaded {
    created: i64,
    key: SigningKey,
}

/// Parsed keys by domain, shared by every session and the queue runner.
#[derive(Default, Clone)]
pub struct Signers {
    cache: Arc<Mutex<HashMap<String, Arc<Loaded>>>>,
}

impl Signers {
    /// A DKIM-Signature header for `message` when `domain` has a key; None when it has none.
    pub fn sign(&self, store: &Store, domain: &str, message: &[u8]) -> Option<String> {
        let domain = domain.to_ascii_lowercase();
        let created = store.read(|c| store::dkim::created(c, &domain)).ok()??;
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|m| m.get(&domain).cloned())
            .filter(|l| l.created == created);
        let loaded = match cached {
            Some(l) => l,
            None => {
                let key = store.read(|c| store::dkim::get(c, &domain)).ok()??;
                let loaded = Arc::new(match load(&key) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(domain, error = %e, "DKIM key unusable; mail leaves unsigned");
                        return None;
                    }
                });
                if let Ok(mut m) = self.cache.lock() {
                    m.insert(domain.clone(), loaded.clone());
                }
                loaded
            }
        };
        let signed = match &loaded.key {
            SigningKey::Rsa(s) => s.sign(message).map(|s| s.to_header()),
            SigningKey::Ed25519(s) => s.sign(message).map(|s| s.to_header()),
        };
        match signed {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(domain, error = %e, "cannot DKIM-sign; mail leaves unsigned");
                None
            }
        }
    }
}

fn signer<T: mail_auth::common::crypto::SigningKey>(key: T, k: &DkimKey) -> DkimSigner<T, Done> {
    DkimSigner::from_key(key)
        .domain(k.domain.clone())
        .selector(k.selector.clone())
        .headers(SIGNED_HEADERS)
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}

fn load(key: &DkimKey) -> std::result::Result<Loaded, String> {
    let signing = if key.algorithm.starts_with("ed25519") {
        let k = Ed25519Key::from_pkcs8_der(&key.private_key).map_err(|e| e.to_string())?;
        SigningKey::Ed25519(signer(k, key))
    } else {
        let der = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(key.private_key.clone()));
        let k = RsaKey::<Sha256>::from_key_der(der).map_err(|e| e.to_string())?;
        SigningKey::Rsa(signer(k, key))
    };
    Ok(Loaded {
        created: key.created,
        key: signing,
    })
}

/// The domain of the From: header's address, which DMARC aligns DKIM with; None when the
/// From: is missing, repeated, or names addresses of more than one domain.
pub fn from_domain(header: &[u8]) -> Option<String> {
    let list = crate::rfc5322::from_mailboxes(header).ok()?;
    let domain = list
        .first()?
        .domain
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let one = list
        .iter()
        .all(|m| m.domain.trim_end_matches('.').eq_ignore_ascii_case(&domain));
    (one && !domain.is_empty()).then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_domain_with_and_without_display_name() {
        assert_eq!(
            from_domain(b"Subject: x\r\nFrom: \"A, B\" <a@Example.COM>\r\n\r\nbody").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            from_domain(b"From:\r\n a@b.test\r\n\r\n").as_deref(),
            Some("b.test")
        );
        assert_eq!(from_domain(b"To: a@b\r\n\r\nFrom: x@y\r\n"), None);
    }

    #[test]
    fn zone_lines_split_long_text() {
        let key = generate("example.test", "s1", 0).unwrap();
        assert!(
            zone_line(&key)
                .starts_with("s1._domainkey.example.test. 3600 IN TXT ( \"v=DKIM1; k=ed25519; p=")
        );
        let long = DkimKey {
            public_key: "A".repeat(400),
            ..key
        };
        assert_eq!(zone_line(&long).matches('"').count(), 4);
        assert!(generate("bad domain", "s", 0).is_err());
        assert!(generate("example.test", "s", 512).is_err());
    }
}
