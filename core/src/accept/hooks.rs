//! Where checks and rules decide about an arriving message: `screen_arrival` for mail from
//! outside (sender authentication and the virus scan, in `screen`), `check_message` for
//! every received message (SMTP, and mail Roost writes itself; not IMAP APPEND, which a user
//! files themselves), `choose_mailbox` for every copy bound for INBOX (Sieve, next).

use super::Incoming;
use super::content::Content;

/// What the checks decided about a whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Refused with this reason (the protocol turns it into its own reply).
    Refuse(String),
}

/// The protection checks for a message from outside, before anything is written: adds
/// their verdicts to its trace and files it to Junk, or refuses or defers it; Some(bytes)
/// when the message to store changed.
pub use super::screen::screen_arrival;

/// Protection checks on the content (spam scoring, viruses) run here, once per received
/// message, before anything is written.
pub fn check_message(_message: &Incoming, _content: &Content<'_>) -> Verdict {
    Verdict::Accept
}

/// Personal rules (Sieve) run here, per local recipient, before the mailbox is chosen: the
/// name of the mailbox the copy goes to, None for INBOX.
pub fn choose_mailbox(_account_id: i64, _header: Option<&[u8]>) -> Option<String> {
    None
}
