//! `[relay]`: where outbound mail goes, a relay host or each domain's MX hosts, and the
//! exceptions to the default route.

use super::ConfigError;
use serde::{Deserialize, Serialize};

/// Where outbound mail goes: a relay host (smarthost), another server that takes the mail and
/// delivers it, for when the provider blocks port 25; or, with an empty host, directly to each
/// domain's MX hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RelayHost {
    pub host: String,
    pub port: u16,
    pub security: String,
    pub username: String,
    pub password_file: String,
    pub ca_file: String,
    pub verify_certificate: bool,
}

/// `[relay]`: the default route, and exceptions to it (`[[relay.rules]]`). The keys are those
/// of `RelayHost`, written out in both tables because TOML tables cannot be merged with
/// `deny_unknown_fields`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    pub host: String,
    /// 0: the usual port for `security` (465 for "tls", 587 for "starttls", 25 for "none").
    pub port: u16,
    /// "tls" (implicit TLS), "starttls" (required) or "none".
    pub security: String,
    pub username: String,
    /// A file holding the password (first line), readable by Roost only.
    pub password_file: String,
    /// PEM certificates of authorities to trust for the relay, besides the public ones.
    pub ca_file: String,
    /// The relay's certificate must be valid for its name (else the password would go to
    /// whoever sits in between). Off only on purpose: every connection then logs a warning.
    pub verify_certificate: bool,
    /// Exceptions, first match wins: mail whose sender or recipient matches goes through the
    /// rule's relay (or directly by MX when the rule's host is empty).
    pub rules: Vec<RelayRule>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            host: String::new(),
            port: 0,
            security: String::new(),
            username: String::new(),
            password_file: String::new(),
            ca_file: String::new(),
            verify_certificate: true,
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RelayRule {
    /// An address ("boss@example.com") or a domain ("example.com" or "@example.com").
    pub sender: String,
    pub recipient: String,
    pub host: String,
    pub port: u16,
    pub security: String,
    pub username: String,
    pub password_file: String,
    pub ca_file: String,
    pub verify_certificate: bool,
}

impl Default for RelayRule {
    fn default() -> Self {
        RelayRule {
            sender: String::new(),
            recipient: String::new(),
            host: String::new(),
            port: 0,
            security: String::new(),
            username: String::new(),
            password_file: String::new(),
            ca_file: String::new(),
            verify_certificate: true,
        }
    }
}

impl RelayHost {
    pub fn is_direct(&self) -> bool {
        self.host.is_empty()
    }

    pub fn security(&self) -> Security {
        match self.security.as_str() {
            "tls" => Security::Tls,
            "none" => Security::None,
            _ => Security::StartTls,
        }
    }

    pub fn port(&self) -> u16 {
        match (self.port, self.security.as_str()) {
            (0, "tls") => 465,
            (0, "none") => 25,
            (0, _) => 587,
            (p, _) => p,
        }
    }

    pub(super) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if !["", "tls", "starttls", "none"].contains(&self.security.as_str()) {
            return Err(ConfigError(format!(
                "{key}.security '{}': use \"tls\", \"starttls\" or \"none\"",
                self.security
            )));
        }
        if self.host.is_empty() && !(self.username.is_empty() && self.password_file.is_empty()) {
            return Err(ConfigError(format!(
                "{key}: username and password_file need a host"
            )));
        }
        if self.username.is_empty() != self.password_file.is_empty() {
            return Err(ConfigError(format!(
                "{key}: username and password_file go together"
            )));
        }
        if !self.username.is_empty() && self.security == "none" {
            return Err(ConfigError(format!(
                "{key}: security = \"none\" would send the relay password in clear text; use \"starttls\" or \"tls\""
            )));
        }
        if !self.ca_file.is_empty() {
            use rustls_pki_types::CertificateDer;
            use rustls_pki_types::pem::PemObject;
            let certs = CertificateDer::pem_file_iter(&self.ca_file)
                .map(|it| it.filter(|c| c.is_ok()).count())
                .map_err(|e| ConfigError(format!("{key}.ca_file {}: {e}", self.ca_file)))?;
            if certs == 0 {
                return Err(ConfigError(format!(
                    "{key}.ca_file {}: no PEM certificate in the file",
                    self.ca_file
                )));
            }
        }
        Ok(())
    }
}

impl RelayRule {
    pub fn relay(&self) -> RelayHost {
        RelayHost {
            host: self.host.clone(),
            port: self.port,
            security: self.security.clone(),
            username: self.username.clone(),
            password_file: self.password_file.clone(),
            ca_file: self.ca_file.clone(),
            verify_certificate: self.verify_certificate,
        }
    }

    /// Whether the rule applies to mail from `sender` to `recipient`.
    pub fn matches(&self, sender: &str, recipient: &str) -> bool {
        fn hit(pattern: &str, address: &str) -> bool {
            if pattern.is_empty() {
                return false;
            }
            let p = pattern.trim_start_matches('@');
            if pattern.contains('@') && !pattern.starts_with('@') {
                return p.eq_ignore_ascii_case(address);
            }
            address
                .rsplit_once('@')
                .is_some_and(|(_, d)| d.eq_ignore_ascii_case(p))
        }
        hit(&self.sender, sender) || hit(&self.recipient, recipient)
    }
}

impl RelayConfig {
    /// The relay for mail from `sender` to `recipient`: a rule's, else the default.
    pub fn choose(&self, sender: &str, recipient: &str) -> RelayHost {
        match self.rules.iter().find(|r| r.matches(sender, recipient)) {
            Some(r) => r.relay(),
            None => RelayHost {
                host: self.host.clone(),
                port: self.port,
                security: self.security.clone(),
                username: self.username.clone(),
                password_file: self.password_file.clone(),
                ca_file: self.ca_file.clone(),
                verify_certificate: self.verify_certificate,
            },
        }
    }
}

/// How the SMTP client secures a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text only.
    None,
    /// STARTTLS when offered, plain text otherwise (delivery to MX hosts).
    Opportunistic,
    /// STARTTLS or fail (relay hosts).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}
