//! Protection of arriving mail: the checks a message from the internet passes before it is
//! filed. Today: sender authentication (SPF, DKIM, ARC, DMARC), DNS lists of client
//! addresses (with their DNS answers cached) and ClamAV's virus scan.

pub mod attachments;
pub mod authenticate;
pub mod bayes;
pub mod cache;
pub mod clamav;
pub mod dmarc_reports;
pub mod dnsbl;
mod engine;
pub mod forged_results;
pub mod probe;
pub mod reputation;
pub mod rspamd;
pub mod score;

pub use authenticate::{DmarcSeen, OwnDomains, Verdicts, Words, authenticate, timed_out};
pub use cache::DnsCache;

use std::net::IpAddr;

/// The SMTP session's facts about a message from outside (not signed in).
#[derive(Debug, Clone)]
pub struct Arrival {
    pub ip: IpAddr,
    pub helo: String,
    /// The envelope sender, "" for the null sender.
    pub mail_from: String,
    /// Every accepted recipient, as the client gave it.
    pub recipients: Vec<String>,
    /// The server's allow list names the client.
    pub allowed: bool,
}

/// What happens to the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Deliver,
    /// Delivered to the recipients' Junk mailboxes, for this reason.
    Junk(String),
    /// Refused: an enhanced status code and text, after "550 ".
    Refuse(String),
    /// Refused for now: after "451 ".
    Defer(String),
    /// Accepted, held in the quarantine for the admin, for this reason.
    Quarantine(String),
}
