//! Where checks and rules will decide about an arriving message: `check_message` for every
//! received message (SMTP, and mail Roost writes itself; not IMAP APPEND, which a user files
//! themselves), `choose_mailbox` for every copy bound for INBOX. Today they let everything
//! through to INBOX.

use super::Incoming;
use super::content::Content;

/// What the checks decided about a whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Refused with this reason (the protocol turns it into its own reply).
    Refuse(String),
}

/// Protection checks (spam scoring, viruses, SPF/DKIM/DMARC) run here, once per received
/// message, before anything is written.
pub fn check_message(_message: &Incoming, _content: &Content<'_>) -> Verdict {
    Verdict::Accept
}

/// Personal rules (Sieve) run here, per local recipient, before the mailbox is chosen: the
/// name of the mailbox the copy goes to, None for INBOX.
pub fn choose_mailbox(_account_id: i64, _header: Option<&[u8]>) -> Option<String> {
    None
}
