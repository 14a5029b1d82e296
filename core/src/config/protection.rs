//! `[protection]`: the checks mail from the internet passes on arrival.

use serde::{Deserialize, Serialize};

/// What to do with a message a check finds against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// Deliver as usual (the verdict is still in Authentication-Results).
    Accept,
    /// Deliver to the recipient's Junk mailbox.
    Junk,
    /// Refuse at the end of DATA with 550 5.7.1.
    Reject,
    /// Accept, but hold in the quarantine for the admin (`roost quarantine`), delivered to
    /// nobody until released.
    Quarantine,
}

/// Where an engine (clamd) listens: "unix:/run/clamav/clamd.ctl", "/run/clamav/clamd.ctl" or "host:port".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(String),
    Tcp(String),
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let t = text.trim();
        if let Some(path) = t.strip_prefix("unix:") {
            return Ok(Endpoint::Unix(path.to_string()));
        }
        if t.starts_with('/') {
            return Ok(Endpoint::Unix(t.to_string()));
        }
        match t.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Endpoint::Tcp(t.to_string()))
            }
            _ => Err(format!(
                "'{t}' is neither a socket path (unix:/path) nor host:port"
            )),
        }
    }
}

/// When an optional engine (clamd) cannot be reached or does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unavailable {
    /// Deliver unscanned (and say so in the message's header and in the log).
    Deliver,
    /// Answer 451 so that the sender retries later.
    Tempfail,
}

/// One DNS list of client addresses (RFC 5782): a block list (positive weight) or an allow
/// list (negative weight).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsList {
    pub zone: String,
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtectionConfig {
    /// SPF (MAIL FROM and HELO), DKIM, ARC and DMARC for mail that arrives without signing in,
    /// with one Authentication-Results header. Off: nothing is checked or added.
    pub authentication: bool,
    /// Apply the sender domain's DMARC policy: p=reject refused, p=quarantine to Junk.
    pub dmarc_policy: bool,
    /// An SPF fail ("-all") where no DMARC policy decides.
    pub spf_fail: Disposition,
    /// Mail from outside that names one of Roost's own domains (MAIL FROM or From:) without
    /// a DKIM signature of that domain or an SPF pass is refused.
    pub refuse_forged_own_domains: bool,
    /// Forwarders (mailing lists, forwarding services) whose ARC seal is trusted: a message
    /// that fails DMARC only because it was forwarded is accepted when the newest valid seal
    /// is one of these domains.
    pub trusted_arc_sealers: Vec<String>,
    /// When DNS does not answer, so that no verdict is possible for a domain with a policy:
    /// false delivers (and says "temperror"), true answers 451 so that the sender retries.
    pub tempfail_on_dns_error: bool,
    /// The longest the checks of one message may wait for DNS, in seconds: a sender's slow
    /// name servers must not hold the session (then as if DNS did not answer).
    pub check_timeout_secs: u64,
    /// DNS block and allow lists asked about every client that does not sign in.
    pub dnsbl: Vec<DnsList>,
    /// A client whose lists' weights add up to this is refused at RCPT with 554 5.7.1
    /// (postmaster still reachable).
    pub dnsbl_threshold: f64,
    /// Clients the lists are not asked about: public lists never list these addresses, and
    /// a query for one only tells the list about your network.
    pub dnsbl_exempt_networks: Vec<String>,
    /// clamd's socket, "unix:/run/clamav/clamd.ctl" or "host:port". Empty: no virus scan.
    pub clamav: String,
    /// A message clamd finds a virus in: "reject" (554 5.7.1), "junk", "accept" or
    /// "quarantine".
    pub clamav_infected: Disposition,
    /// When clamd is configured but does not answer: "deliver" or "tempfail".
    pub clamav_unavailable: Unavailable,
    pub clamav_timeout_secs: u64,
    /// rspamd's normal worker, "127.0.0.1:11333" or "unix:/path". Empty: no rspamd.
    pub rspamd: String,
    /// When rspamd is configured but does not answer: "deliver" or "tempfail".
    pub rspamd_unavailable: Unavailable,
    pub rspamd_timeout_secs: u64,
    /// rspamd's controller worker, for learning: a message moved into Junk by any client is
    /// learned as spam, one moved out of Junk as ham. Empty: no learning.
    pub rspamd_controller: String,
    /// The controller's password, when it asks for one (not needed from 127.0.0.1 or a unix
    /// socket, which rspamd trusts by default).
    pub rspamd_password: String,
    /// Attachments refused by extension, also inside .zip archives; "exe" also refuses
    /// Windows programs under any name. Empty: none refused.
    pub refused_attachments: Vec<String>,
    /// What happens to a message with one: "reject" (554 5.7.1), "junk", "accept" or
    /// "quarantine".
    pub attachment_action: Disposition,
    /// DMARC aggregate reports (RFC 7489 7.2): a domain whose DMARC record asks (rua=) gets a
    /// daily report of the mail this server received from it. Off by default: a report tells
    /// the sender's domain who wrote to your users.
    pub dmarc_reports: bool,
    /// Roost's own spam score, no engine needed: header and structure rules, the sender
    /// authentication results and each user's Bayesian classifier (learned from the messages
    /// they move into and out of Junk). Its verdict is in X-Roost-Score.
    pub classifier: bool,
    /// A message scoring at least this goes to Junk (never refused: nothing is lost).
    pub junk_score: f64,
    /// Messages a user must have sorted, of each kind (spam and not), before their classifier
    /// counts.
    pub classifier_min_learned: u64,
    /// The answer to the first message from a sender none of its recipients has heard from
    /// waits this many seconds (after it is stored): a spam run pays it on every message, a
    /// real correspondent once. 0: no delay.
    pub first_sender_delay_secs: u64,
    /// Clients the delay never applies to: your own network (a scanner or a script on the LAN
    /// that mails without signing in, with a short time-out).
    pub first_sender_delay_exempt: Vec<String>,
    /// Days a quarantined message is kept before it is deleted.
    pub quarantine_days: u64,
    /// How long an automatic block lasts, in seconds (`roost block list` shows them). 0: Roost
    /// never blocks by itself.
    pub auto_block_secs: u64,
    /// An address that fails [auth] max_failures logins is blocked (every service), not only
    /// refused further logins.
    pub block_on_login_failures: bool,
    /// Unknown recipients asked for by one address within unknown_recipients_window_secs
    /// before it is blocked (a dictionary attack). 0: not counted.
    pub unknown_recipients_max: u32,
    pub unknown_recipients_window_secs: u64,
    /// Addresses no person uses, published where only harvesters find them: a client that
    /// writes to one is blocked. They need not exist as accounts.
    pub spam_traps: Vec<String>,
    /// Addresses and networks never blocked automatically (the allow list also protects one).
    pub auto_block_exempt: Vec<String>,
    /// Greylisting: the first message from an unknown (client network, sender, recipient) is
    /// answered 451 and accepted when retried after greylist_delay_secs. Real servers retry;
    /// many spam engines do not. Delays a new correspondent's first mail by minutes.
    pub greylisting: bool,
    pub greylist_delay_secs: u64,
    /// A triplet that passed is remembered this many days after its last message.
    pub greylist_days: u64,
}

/// Loopback, the private ranges (RFC 1918, CGNAT, ULA) and link-local.
fn private_networks() -> Vec<String> {
    [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    ]
    .map(String::from)
    .to_vec()
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        ProtectionConfig {
            authentication: true,
            dmarc_policy: true,
            spf_fail: Disposition::Junk,
            refuse_forged_own_domains: true,
            trusted_arc_sealers: Vec::new(),
            tempfail_on_dns_error: false,
            check_timeout_secs: 15,
            dnsbl: vec![DnsList {
                zone: "zen.spamhaus.org".into(),
                weight: 1.0,
            }],
            dnsbl_threshold: 1.0,
            dnsbl_exempt_networks: private_networks(),
            clamav: String::new(),
            clamav_infected: Disposition::Reject,
            clamav_unavailable: Unavailable::Deliver,
            clamav_timeout_secs: 30,
            rspamd: String::new(),
            rspamd_unavailable: Unavailable::Deliver,
            rspamd_timeout_secs: 20,
            rspamd_controller: String::new(),
            rspamd_password: String::new(),
            refused_attachments: [
                "exe", "scr", "com", "pif", "bat", "cmd", "vbs", "vbe", "js", "jse", "wsf", "wsh",
                "hta", "cpl", "msi", "msp", "jar", "ps1", "lnk", "reg", "iso", "img",
            ]
            .map(String::from)
            .to_vec(),
            attachment_action: Disposition::Reject,
            dmarc_reports: false,
            classifier: true,
            junk_score: 5.0,
            classifier_min_learned: 10,
            first_sender_delay_secs: 15,
            first_sender_delay_exempt: private_networks(),
            quarantine_days: 30,
            auto_block_secs: 3600,
            block_on_login_failures: true,
            unknown_recipients_max: 20,
            unknown_recipients_window_secs: 600,
            spam_traps: Vec::new(),
            auto_block_exempt: vec!["127.0.0.0/8".into(), "::1".into()],
            greylisting: false,
            greylist_delay_secs: 300,
            greylist_days: 36,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            Endpoint::parse("unix:/run/clamav/clamd.ctl"),
            Ok(Endpoint::Unix("/run/clamav/clamd.ctl".into()))
        );
        assert_eq!(
            Endpoint::parse("127.0.0.1:3310"),
            Ok(Endpoint::Tcp("127.0.0.1:3310".into()))
        );
        assert!(Endpoint::parse("clamd").is_err());
    }
}
