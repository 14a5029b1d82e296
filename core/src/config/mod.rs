//! Typed configuration: a TOML file over embedded defaults that run out of the box.
//!
//! Every key lives here with its default; `conf/roost.toml` documents the same keys. Unknown keys
//! are refused so that a typo never silently leaves a default in force.

mod protection;
mod relay;
mod size;

pub use protection::{Disposition, DnsList, Endpoint, ProtectionConfig, Unavailable};
pub use relay::{RelayConfig, RelayHost, RelayRule, Security};
pub use size::ByteSize;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The listener names Roost knows, as IANA service names, with their unprivileged default port
/// (10000 + the standard port, so that the package's redirect rules can map one onto the other).
pub const SERVICES: &[(&str, u16)] = &[
    ("smtp", 10025),
    ("submission", 10587),
    ("submissions", 10465),
    ("imap", 10143),
    ("imaps", 10993),
    ("pop3", 10110),
    ("pop3s", 10995),
    ("sieve", 14190),
];

/// Services this build serves; the others are accepted in the file but not yet started.
pub const SERVED: &[&str] = &[
    "smtp",
    "submission",
    "submissions",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the store, blobs, certificates and queue live.
    pub data_dir: PathBuf,
    /// The server's fully qualified name, used in greetings and Received headers.
    pub hostname: String,
    /// The first mail domain, created with the first admin account on first start.
    pub domain: String,
    /// Drop to this user (and its group) after the listeners are bound. Empty: stay.
    pub user: String,
    /// Write the daemon's pid here. Empty: no pid file.
    pub pid_file: String,
    /// IANA service name to a list of "addr:port".
    pub listeners: BTreeMap<String, Vec<String>>,
    pub tls: TlsConfig,
    pub smtp: SmtpConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
    pub queue: QueueConfig,
    pub dns: DnsConfig,
    pub relay: RelayConfig,
    pub limits: LimitsConfig,
    pub search: SearchConfig,
    pub protection: ProtectionConfig,
    /// Keys of older versions found in the file, with what replaced them: logged at start.
    #[serde(skip)]
    pub deprecated: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Empty: a self-signed certificate in DATA/tls/.
    pub cert: String,
    /// PEM private key matching `cert`.
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub max_message_size: ByteSize,
    pub max_recipients: usize,
    pub max_received_headers: usize,
    pub command_timeout_secs: u64,
    pub data_timeout_secs: u64,
    /// Moved to `limits.max_connections` (it always covered every service); still read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Moved to `limits.max_connections_per_ip`; still read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_ip: Option<usize>,
    /// Bad commands (syntax, unknown, refused recipients) before the connection is closed.
    pub max_errors: u32,
    /// Wait this long before the greeting; a client that talks first is dropped.
    pub greet_pause_ms: u64,
    /// "user+tag@domain" is delivered to "user@domain". Empty: off.
    pub recipient_delimiter: String,
    /// Moved to `limits.shutdown_grace_secs`; still read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Allow passwords without TLS (SMTP AUTH, IMAP LOGIN, POP3 USER/PASS) from anywhere.
    /// Off: passwords never cross the network in clear.
    pub allow_plaintext: bool,
    /// Allow them without TLS from loopback clients only (a local webmail, scripts).
    pub allow_plaintext_on_loopback: bool,
    /// Failed logins from one address within `block_window_secs` before it is blocked.
    pub max_failures: u32,
    /// Seconds a password that verified is remembered (as a keyed digest) so that repeated
    /// logins skip argon2. 0: never.
    pub cache_secs: u64,
    pub block_window_secs: u64,
    pub block_secs: u64,
    /// Failed logins to one account (from anywhere) within `block_window_secs` before the
    /// account is locked. A password that verified recently (see `cache_secs`) still gets in,
    /// so its owner's clients keep working while guesses are refused. 0: never lock.
    pub account_max_failures: u32,
    /// The first lock lasts this long; each further lock twice as long, up to the maximum.
    pub account_lock_secs: u64,
    pub account_lock_max_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: "info", "debug", "roost_core::smtp=debug" …
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Wait before the first retry; each later retry waits twice as long, up to retry_max_secs.
    pub retry_min_secs: u64,
    pub retry_max_secs: u64,
    /// A message that could not be delivered for this long is returned to its sender.
    pub lifetime_secs: u64,
    /// Tell the sender that a message is delayed once it has waited this long. 0: never.
    pub delay_warning_secs: u64,
    /// Outbound connections at once, over all destinations.
    pub max_connections: usize,
    /// Outbound connections at once to one destination (domain or relay host).
    pub max_connections_per_destination: usize,
    /// Messages sent over one connection before it is closed and a new one opened.
    pub max_messages_per_connection: usize,
    /// MTA-STS (RFC 8461): a domain that publishes a policy in "enforce" mode gets its mail
    /// only over TLS with a valid certificate, from the MX hosts its policy names.
    pub mta_sts: bool,
    /// TLS-RPT (RFC 8460): a domain that asks (its _smtp._tls record) gets a daily report of
    /// the TLS sessions this server had with its MX hosts.
    pub tls_reports: bool,
    /// DANE (RFC 7672): an MX host whose TLSA records the resolver validated with DNSSEC gets
    /// mail only over TLS with a certificate those records name. Needs a validating resolver.
    pub dane: bool,
    /// Certificate authorities (PEM) trusted besides the public ones when a server's
    /// certificate must be valid (MTA-STS policy hosts and MX hosts): a private authority.
    pub ca_file: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Name servers as "addr:port" (or "addr" for port 53). Empty: the system's (/etc/resolv.conf).
    pub nameservers: Vec<String>,
    /// The address the world reaches this server at, which MX, A and PTR records should point
    /// to. Empty: detected from the network interfaces.
    pub public_ip: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Messages one signed-in user may send per day (UTC). 0: no limit.
    pub messages_per_day: u32,
    /// Recipients one signed-in user may name in one message. 0: no limit.
    pub recipients_per_message: usize,
    /// Message bytes all connections together may hold in memory: arriving mail past it goes
    /// to temporary files, readers and IMAP APPEND wait their turn. Read at start.
    pub message_memory: ByteSize,
    /// An arriving SMTP message larger than this is written to a temporary file as it comes.
    pub message_in_memory: ByteSize,
    /// Before login: the largest IMAP literal and the longest command line.
    pub literal_before_login: ByteSize,
    /// New connections one address (an IPv6 /64) may open per minute, over every service.
    /// 0: no limit.
    pub connections_per_minute: u32,
    /// Networks the connection rate does not apply to ("127.0.0.0/8", "::1", "192.168.1.0/24").
    pub rate_exempt: Vec<String>,
    /// Connections at once over every listener (SMTP, IMAP, POP3 together).
    pub max_connections: usize,
    /// Connections at once from one address (an IPv6 /64 counts as one), over every listener.
    pub max_connections_per_ip: usize,
    /// Seconds that transactions and sessions in progress get to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// The largest message one of our domains accepts, below smtp.max_message_size:
    /// {"example.com" = "10M"}.
    pub domain_message_size: std::collections::BTreeMap<String, ByteSize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// The full-text index beside the store. Off: SEARCH reads every message.
    pub enabled: bool,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig { enabled: true }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            retry_min_secs: 300,
            retry_max_secs: 4 * 3600,
            lifetime_secs: 5 * 24 * 3600,
            delay_warning_secs: 4 * 3600,
            max_connections: 50,
            max_connections_per_destination: 5,
            max_messages_per_connection: 100,
            mta_sts: true,
            tls_reports: true,
            dane: true,
            ca_file: String::new(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            messages_per_day: 1000,
            recipients_per_message: 100,
            message_memory: ByteSize(64 << 20),
            message_in_memory: ByteSize(256 << 10),
            literal_before_login: ByteSize(8 << 10),
            connections_per_minute: 60,
            rate_exempt: vec!["127.0.0.0/8".into(), "::1".into()],
            max_connections: 1000,
            max_connections_per_ip: 50,
            shutdown_grace_secs: 30,
            domain_message_size: Default::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("roost-data"),
            hostname: String::new(),
            domain: String::new(),
            user: String::new(),
            pid_file: String::new(),
            listeners: BTreeMap::new(),
            tls: TlsConfig::default(),
            smtp: SmtpConfig::default(),
            auth: AuthConfig::default(),
            log: LogConfig::default(),
            queue: QueueConfig::default(),
            dns: DnsConfig::default(),
            relay: RelayConfig::default(),
            limits: LimitsConfig::default(),
            search: SearchConfig::default(),
            protection: ProtectionConfig::default(),
            deprecated: Vec::new(),
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            max_message_size: ByteSize(50 * 1024 * 1024),
            max_recipients: 100,
            max_received_headers: 50,
            command_timeout_secs: 300,
            data_timeout_secs: 600,
            max_connections: None,
            max_connections_per_ip: None,
            max_errors: 20,
            greet_pause_ms: 0,
            recipient_delimiter: "+".into(),
            shutdown_grace_secs: None,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            allow_plaintext: false,
            allow_plaintext_on_loopback: false,
            max_failures: 10,
            cache_secs: 3600,
            block_window_secs: 600,
            block_secs: 900,
            account_max_failures: 10,
            account_lock_secs: 60,
            account_lock_max_secs: 3600,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// Where a configuration value came from, for error messages.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Whether a client at `ip`, without TLS, may send a password.
    pub fn plaintext_auth_allowed(&self, ip: std::net::IpAddr) -> bool {
        self.auth.allow_plaintext
            || (self.auth.allow_plaintext_on_loopback && ip.to_canonical().is_loopback())
    }

    /// Whether connections from `ip` are exempt from the connection rate.
    /// The size limit of the domain of `address`, when it has one of its own.
    pub fn domain_size_limit(&self, address: &str) -> Option<(String, u64)> {
        let domain = address.rsplit_once('@')?.1.to_ascii_lowercase();
        self.limits
            .domain_message_size
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(&domain))
            .map(|(_, size)| (domain, size.0))
    }

    pub fn rate_exempt(&self, ip: std::net::IpAddr) -> bool {
        crate::netaddr::listed(&self.limits.rate_exempt, ip)
    }

    /// Reads `path` (when given) over the defaults, applies `data_override`, fills what is left
    /// to detect (hostname), and validates.
    pub fn load(path: Option<&Path>, data_override: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ConfigError(format!("cannot read configuration {}: {e}", p.display()))
                })?;
                Self::parse(&text).map_err(|e| ConfigError(format!("{}: {}", p.display(), e.0)))?
            }
            None => Config::default(),
        };
        if let Some(d) = data_override {
            config.data_dir = d.to_path_buf();
        }
        if config.hostname.is_empty() {
            config.hostname = detect_hostname();
        }
        config.hostname = config.hostname.trim_end_matches('.').to_ascii_lowercase();
        config.validate()?;
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        config.move_deprecated();
        Ok(config)
    }

    /// Keys that moved to `[limits]` (they always governed every listener, not only SMTP):
    /// their values still apply, and the log says where they live now.
    fn move_deprecated(&mut self) {
        let mut note = |old: &str, new: &str, value: String| {
            self.deprecated.push(format!(
                "smtp.{old} is now limits.{new}: its value {value} applies; move it to [limits]"
            ));
        };
        if let Some(v) = self.smtp.max_connections.take() {
            note("max_connections", "max_connections", v.to_string());
            self.limits.max_connections = v;
        }
        if let Some(v) = self.smtp.max_connections_per_ip.take() {
            note(
                "max_connections_per_ip",
                "max_connections_per_ip",
                v.to_string(),
            );
            self.limits.max_connections_per_ip = v;
        }
        if let Some(v) = self.smtp.shutdown_grace_secs.take() {
            note("shutdown_grace_secs", "shutdown_grace_secs", v.to_string());
            self.limits.shutdown_grace_secs = v;
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (name, addrs) in &self.listeners {
            if !SERVICES.iter().any(|(s, _)| s == name) {
                let known: Vec<&str> = SERVICES.iter().map(|(s, _)| *s).collect();
                return Err(ConfigError(format!(
                    "listeners.{name}: unknown service (known: {})",
                    known.join(", ")
                )));
            }
            for a in addrs {
                a.parse::<SocketAddr>().map_err(|_| {
                    ConfigError(format!("listeners.{name}: '{a}' is not addr:port (e.g. \"0.0.0.0:25\" or \"[::]:25\")"))
                })?;
            }
        }
        if self.smtp.max_recipients == 0 {
            return Err(ConfigError("smtp.max_recipients must be at least 1".into()));
        }
        if self.smtp.max_message_size.0 < 1024 {
            return Err(ConfigError(
                "smtp.max_message_size must be at least 1K".into(),
            ));
        }
        if self.limits.max_connections == 0 || self.limits.max_connections_per_ip == 0 {
            return Err(ConfigError(
                "limits.max_connections and max_connections_per_ip must be at least 1".into(),
            ));
        }
        if self.tls.cert.is_empty() != self.tls.key.is_empty() {
            return Err(ConfigError(
                "tls.cert and tls.key go together: set both or neither".into(),
            ));
        }
        if self.smtp.recipient_delimiter.chars().count() > 1 {
            return Err(ConfigError(
                "smtp.recipient_delimiter is one character (or empty)".into(),
            ));
        }
        if self.hostname.is_empty() || self.hostname.contains(char::is_whitespace) {
            return Err(ConfigError(format!(
                "hostname '{}' is not a host name",
                self.hostname
            )));
        }
        self.relay.choose("", "").validate("relay")?;
        for (i, r) in self.relay.rules.iter().enumerate() {
            if r.sender.is_empty() == r.recipient.is_empty() {
                return Err(ConfigError(format!(
                    "relay.rules[{i}]: give either sender or recipient (an address or a domain)"
                )));
            }
            r.relay().validate(&format!("relay.rules[{i}]"))?;
        }
        for ns in &self.dns.nameservers {
            parse_nameserver(ns).map_err(|e| ConfigError(format!("dns.nameservers: {e}")))?;
        }
        if !self.dns.public_ip.is_empty() && self.dns.public_ip.parse::<std::net::IpAddr>().is_err()
        {
            return Err(ConfigError(format!(
                "dns.public_ip '{}' is not an IP address",
                self.dns.public_ip
            )));
        }
        if self.queue.retry_min_secs == 0 || self.queue.retry_max_secs < self.queue.retry_min_secs {
            return Err(ConfigError(
                "queue.retry_min_secs must be at least 1 and at most queue.retry_max_secs".into(),
            ));
        }
        if self.queue.max_connections == 0
            || self.queue.max_connections_per_destination == 0
            || self.queue.max_messages_per_connection == 0
        {
            return Err(ConfigError(
                "queue.max_connections, max_connections_per_destination and \
                 max_messages_per_connection must be at least 1"
                    .into(),
            ));
        }
        let l = &self.limits;
        if l.message_memory.0 < (1 << 20) {
            return Err(ConfigError(
                "limits.message_memory must be at least 1M".into(),
            ));
        }
        if l.message_in_memory.0 > l.message_memory.0 {
            return Err(ConfigError(
                "limits.message_in_memory cannot be larger than limits.message_memory".into(),
            ));
        }
        if !(1024..=(1 << 20)).contains(&l.literal_before_login.0) {
            return Err(ConfigError(
                "limits.literal_before_login must be between 1K and 1M".into(),
            ));
        }
        let p = &self.protection;
        for (key, list) in [
            ("limits.rate_exempt", &l.rate_exempt),
            ("protection.dnsbl_exempt_networks", &p.dnsbl_exempt_networks),
            (
                "protection.first_sender_delay_exempt",
                &p.first_sender_delay_exempt,
            ),
            ("protection.auto_block_exempt", &p.auto_block_exempt),
        ] {
            if let Some((net, e)) = crate::netaddr::first_invalid(list) {
                return Err(ConfigError(format!("{key}: '{net}': {e}")));
            }
        }
        for trap in &p.spam_traps {
            if crate::address::Address::parse(trap).is_err() {
                return Err(ConfigError(format!(
                    "protection.spam_traps: '{trap}' is not an address"
                )));
            }
        }
        for l in &p.dnsbl {
            if l.zone.trim().is_empty() || l.zone.contains(char::is_whitespace) {
                return Err(ConfigError(format!(
                    "protection.dnsbl: '{}' is not a DNS zone",
                    l.zone
                )));
            }
        }
        if !p.clamav.is_empty() {
            Endpoint::parse(&p.clamav)
                .map_err(|e| ConfigError(format!("protection.clamav: {e}")))?;
        }
        if !p.rspamd.is_empty() {
            Endpoint::parse(&p.rspamd)
                .map_err(|e| ConfigError(format!("protection.rspamd: {e}")))?;
        }
        if !p.rspamd_controller.is_empty() {
            Endpoint::parse(&p.rspamd_controller)
                .map_err(|e| ConfigError(format!("protection.rspamd_controller: {e}")))?;
        }
        if p.junk_score.is_nan() || p.junk_score <= 0.0 {
            return Err(ConfigError("protection.junk_score must be above 0".into()));
        }
        if p.dnsbl_threshold <= 0.0 {
            return Err(ConfigError(
                "protection.dnsbl_threshold must be above 0".into(),
            ));
        }
        if self.auth.account_lock_max_secs < self.auth.account_lock_secs {
            return Err(ConfigError(
                "auth.account_lock_max_secs cannot be less than auth.account_lock_secs".into(),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError(format!("log.level '{}': {e}", self.log.level)))?;
        Ok(())
    }

    /// The addresses each served service listens on: configured, or every address on the
    /// unprivileged default port.
    pub fn listen_addrs(&self) -> Vec<(String, SocketAddr)> {
        let mut out = Vec::new();
        for &(name, port) in SERVICES {
            if !SERVED.contains(&name) {
                continue;
            }
            match self.listeners.get(name) {
                Some(list) => out.extend(
                    list.iter()
                        .filter_map(|a| a.parse().ok())
                        .map(|a| (name.to_string(), a)),
                ),
                None => {
                    out.push((name.to_string(), SocketAddr::from(([0, 0, 0, 0], port))));
                    out.push((name.to_string(), SocketAddr::from(([0u16; 8], port))));
                }
            }
        }
        out
    }

    /// The first mail domain: configured, else derived from the host name.
    pub fn first_domain(&self) -> String {
        if !self.domain.is_empty() {
            return self.domain.to_ascii_lowercase();
        }
        let labels: Vec<&str> = self.hostname.split('.').collect();
        match labels.len() {
            0 | 1 => "localhost".into(),
            2 => self.hostname.clone(),
            _ => labels[1..].join("."),
        }
    }
}

/// The machine's name: the kernel's node name, made fully qualified through /etc/hosts when it
/// is a bare name there.
fn detect_hostname() -> String {
    let node = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    if node.contains('.') {
        return node;
    }
    if let Ok(hosts) = std::fs::read_to_string("/etc/hosts") {
        for line in hosts.lines() {
            let names: Vec<&str> = line
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .skip(1)
                .collect();
            if names.contains(&node.as_str())
                && let Some(fqdn) = names
                    .iter()
                    .find(|n| n.contains('.') && n.starts_with(&format!("{node}.")))
            {
                return fqdn.to_string();
            }
        }
    }
    node
}

/// "192.0.2.1", "192.0.2.1:5353", "::1", "[::1]:53".
pub fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("'{text}' is not addr or addr:port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(ByteSize::parse("50M").unwrap().0, 50 << 20);
        assert_eq!(ByteSize::parse("1 GiB").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("512").unwrap().0, 512);
        assert!(ByteSize::parse("12Q").is_err());
        assert!(ByteSize::parse("").is_err());
        assert_eq!(ByteSize(50 << 20).to_string(), "50M");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = Config::parse("[smtp]\nmax_mesage_size = 10\n").unwrap_err();
        assert!(err.0.contains("max_mesage_size"), "{}", err.0);
    }

    #[test]
    fn listeners_validate_names_and_addresses() {
        let mut c = Config::parse("[listeners]\nsmtp = [\"127.0.0.1:2525\"]\n").unwrap();
        c.hostname = "mail.example.test".into();
        assert!(c.validate().is_ok());
        let mut c = Config::parse("[listeners]\nsmpt = [\"127.0.0.1:2525\"]\n").unwrap();
        c.hostname = "h".into();
        assert!(c.validate().unwrap_err().0.contains("smpt"));
        let mut c = Config::parse("[listeners]\nsmtp = [\"localhost\"]\n").unwrap();
        c.hostname = "h".into();
        assert!(c.validate().unwrap_err().0.contains("localhost"));
    }

    #[test]
    fn defaults_listen_on_unprivileged_ports() {
        let c = Config::default();
        let ports: Vec<u16> = c.listen_addrs().iter().map(|(_, a)| a.port()).collect();
        assert!(ports.contains(&10025) && ports.contains(&10587) && ports.contains(&10465));
    }

    /// conf/roost.toml documents every key with its default: it must parse and mean exactly
    /// what no file at all means.
    #[test]
    fn shipped_configuration_is_the_defaults() {
        let text = include_str!("../../../conf/roost.toml");
        let shipped = Config::parse(text).unwrap();
        let default = Config::default();
        assert_eq!(shipped.listen_addrs(), default.listen_addrs());
        let strip = |c: &Config| {
            format!(
                "{:?}",
                Config {
                    listeners: BTreeMap::new(),
                    ..c.clone()
                }
            )
        };
        assert_eq!(strip(&shipped), strip(&default));
        for (name, _) in SERVICES.iter().filter(|(n, _)| SERVED.contains(n)) {
            assert!(text.contains(&format!("\n{name} = ")), "{name} documented");
        }
    }

    #[test]
    fn connection_limits_moved_to_limits_and_the_old_keys_still_apply() {
        let c = Config::parse(
            "[smtp]\nmax_connections = 7\nmax_connections_per_ip = 3\nshutdown_grace_secs = 5\n",
        )
        .unwrap();
        assert_eq!(c.limits.max_connections, 7);
        assert_eq!(c.limits.max_connections_per_ip, 3);
        assert_eq!(c.limits.shutdown_grace_secs, 5);
        assert_eq!(c.deprecated.len(), 3);
        assert!(
            c.deprecated[1]
                .contains("smtp.max_connections_per_ip is now limits.max_connections_per_ip"),
            "{:?}",
            c.deprecated
        );
        let c = Config::parse("[limits]\nmax_connections_per_ip = 4\n").unwrap();
        assert_eq!(c.limits.max_connections_per_ip, 4);
        assert!(c.deprecated.is_empty());
        // Written back, a moved key is in its new place only.
        let text =
            toml::to_string(&Config::parse("[smtp]\nmax_connections = 9\n").unwrap()).unwrap();
        let again = Config::parse(&text).unwrap();
        assert_eq!(again.limits.max_connections, 9);
        assert!(again.deprecated.is_empty(), "{text}");
    }

    #[test]
    fn relay_rules_choose_by_sender_or_recipient() {
        let c = Config::parse(
            "[relay]\nhost = \"smtp.isp.example\"\n\
             [[relay.rules]]\nrecipient = \"partner.example\"\nhost = \"\"\n\
             [[relay.rules]]\nsender = \"boss@home.example\"\nhost = \"smtp.other.example\"\n\
             port = 465\nsecurity = \"tls\"\n",
        )
        .unwrap();
        assert_eq!(
            c.relay.choose("a@home.example", "x@far.example").host,
            "smtp.isp.example"
        );
        assert_eq!(
            c.relay.choose("a@home.example", "x@far.example").port(),
            587
        );
        assert!(
            c.relay
                .choose("a@home.example", "x@Partner.Example")
                .is_direct()
        );
        let boss = c.relay.choose("boss@home.example", "x@far.example");
        assert_eq!(
            (boss.host.as_str(), boss.port()),
            ("smtp.other.example", 465)
        );
        let mut bad = Config::parse("[relay]\nhost = \"h\"\nsecurity = \"ssl\"\n").unwrap();
        bad.hostname = "h.example".into();
        assert!(bad.validate().unwrap_err().0.contains("relay.security"));
        let mut both =
            Config::parse("[[relay.rules]]\nsender = \"a\"\nrecipient = \"b\"\n").unwrap();
        both.hostname = "h.example".into();
        assert!(
            both.validate()
                .unwrap_err()
                .0
                .contains("either sender or recipient")
        );
    }

    #[test]
    fn first_domain_from_hostname() {
        let mut c = Config {
            hostname: "mail.example.com".into(),
            ..Config::default()
        };
        assert_eq!(c.first_domain(), "example.com");
        c.hostname = "nas".into();
        assert_eq!(c.first_domain(), "localhost");
        c.domain = "Family.Example".into();
        assert_eq!(c.first_domain(), "family.example");
    }
}
