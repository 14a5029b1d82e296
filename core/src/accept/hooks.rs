//! Where checks and rules decide about an arriving message: `screen_arrival` for mail from
//! outside (sender authentication today; spam and virus engines next), `check_message` for
//! every received message (SMTP, and mail Roost writes itself; not IMAP APPEND, which a user
//! files themselves), `choose_mailbox` for every copy bound for INBOX (Sieve, next).

use super::content::Content;
use super::{Failure, Filing, Incoming};
use crate::context::Shared;
use crate::protect::{self, Outcome, OwnDomains};
use crate::store::Store;
use std::sync::Arc;

/// What the checks decided about a whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Refused with this reason (the protocol turns it into its own reply).
    Refuse(String),
}

/// The protection checks for a message from outside, before anything is written: adds the
/// Authentication-Results header to its trace and files it to Junk, or refuses it.
pub async fn screen_arrival(
    shared: &Arc<Shared>,
    m: &mut Incoming,
    content: &Content<'_>,
) -> Result<(), Failure> {
    let Some(arrival) = m.arrival.as_ref() else {
        return Ok(());
    };
    let cfg = shared.config();
    if !cfg.protection.authentication {
        return Ok(());
    }
    let busy = || Failure::Deferred("4.3.1 Insufficient system resources, try again later".into());
    // DKIM hashes the whole body: the message is read into memory within the budget.
    let held = shared
        .memory
        .hold_a_while(content.len())
        .await
        .ok_or_else(busy)?;
    let bytes = content.head(usize::MAX).map_err(|e| {
        tracing::error!(error = %e, "cannot read an arriving message back");
        busy()
    })?;
    let dns = shared.dns();
    let own = LocalDomains(&shared.store);
    let checks = protect::authenticate(
        dns.authenticator(),
        &shared.auth_cache,
        &cfg.protection,
        &cfg.hostname,
        &own,
        arrival,
        &bytes,
    );
    let budget = std::time::Duration::from_secs(cfg.protection.check_timeout_secs.max(1));
    let verdicts = match tokio::time::timeout(budget, checks).await {
        Ok(v) => v,
        Err(_) => protect::timed_out(&cfg.protection, &cfg.hostname, &own, arrival),
    };
    drop(bytes);
    drop(held);
    let outcome = match &verdicts.outcome {
        Outcome::Deliver => "deliver",
        Outcome::Junk(_) => "junk",
        Outcome::Refuse(_) => "refuse",
        Outcome::Defer(_) => "defer",
    };
    tracing::info!(
        target: "roost_core::transactions",
        queue_id = %m.queue_id,
        client = %arrival.ip,
        from = %arrival.mail_from,
        checks = %verdicts.summary,
        outcome,
        "sender authentication"
    );
    match verdicts.outcome {
        Outcome::Deliver => {}
        Outcome::Junk(why) => {
            tracing::info!(queue_id = %m.queue_id, reason = %why, "filed to Junk");
            for l in &mut m.local {
                if matches!(l.into, Filing::Inbox) {
                    l.into = Filing::Junk;
                }
            }
        }
        Outcome::Refuse(why) => return Err(Failure::Refused(why)),
        Outcome::Defer(why) => return Err(Failure::Deferred(why)),
    }
    // Below our Received line, as Postfix with a milter writes it: both belong to this hop.
    m.trace.push_str(&verdicts.header);
    Ok(())
}

/// The domains of this server (and their aliases), read from the directory.
struct LocalDomains<'a>(&'a Store);

impl OwnDomains for LocalDomains<'_> {
    fn is_own(&self, domain: &str) -> bool {
        // A microsecond read on the reader connection, as RCPT's look-up (see smtp::session).
        match self
            .0
            .read(|tx| crate::store::directory::local_domain(tx, domain))
        {
            Ok(found) => found.is_some(),
            Err(e) => {
                tracing::warn!(error = %e, domain, "cannot read the local domains");
                false
            }
        }
    }
}

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
