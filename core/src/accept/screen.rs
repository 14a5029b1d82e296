//! The protection checks of a message from outside, before anything is written: sender
//! authentication (SPF, DKIM, ARC, DMARC), the virus scan, then rspamd; their verdicts go into the
//! message's trace headers, and the message is refused, deferred or filed to Junk.

use super::classify;
use super::content::Content;
use super::{Failure, Filing, Incoming};
use crate::config::{Config, Disposition, Endpoint, Unavailable};
use crate::context::Shared;
use crate::protect::{self, Outcome, OwnDomains, clamav, reputation, rspamd};
use crate::store::Store;
use crate::store::reputation::ListKind;
use std::sync::Arc;
use std::time::Duration;

/// What the checks leave of a message they let in.
#[derive(Default)]
pub struct Screened {
    /// The message to store, when it differs from the one that arrived (a forged
    /// Authentication-Results field renamed).
    pub replaced: Option<Vec<u8>>,
    /// Held for the admin instead of delivered, for this reason.
    pub quarantine: Option<String>,
}

pub async fn screen_arrival(
    shared: &Arc<Shared>,
    m: &mut Incoming,
    content: &Content<'_>,
) -> Result<Screened, Failure> {
    let Some(arrival) = m.arrival.as_ref() else {
        return Ok(Screened::default());
    };
    let cfg = shared.config();
    let p = &cfg.protection;
    let trained = classify::trained(shared, p, m);
    // Only the attachment rule on, and a header that says a single text part: nothing to
    // read (the usual case on a default install).
    let text_only = m
        .header
        .as_deref()
        .is_some_and(|h| !protect::attachments::may_attach(h));
    if !p.authentication
        && p.clamav.is_empty()
        && p.rspamd.is_empty()
        && (p.refused_attachments.is_empty() || text_only)
        && trained.is_empty()
    {
        let scored = classify::score(shared, p, m, None, Vec::new(), None).await;
        m.trace.push_str(&scored.header);
        file_by_lists(shared, m, Vouched::from(None), |a| scored.junk_for(a));
        return Ok(Screened::default());
    }
    let busy = || Failure::Deferred("4.3.1 Insufficient system resources, try again later".into());
    // DKIM hashes the whole body and clamd reads all of it: the message is read into memory,
    // within the budget every connection shares.
    let held = shared
        .memory
        .hold_a_while(content.len())
        .await
        .ok_or_else(busy)?;
    let bytes = content.head(usize::MAX).map_err(|e| {
        tracing::error!(error = %e, "cannot read an arriving message back");
        busy()
    })?;
    let mut headers = String::new();
    let mut junk: Option<String> = None;
    let mut renamed = None;
    let mut words = None;
    let mut quarantine: Option<String> = None;
    if p.authentication {
        renamed = protect::forged_results::rename(&bytes, &cfg.hostname);
        if renamed.is_some() {
            tracing::info!(queue_id = %m.queue_id,
                "an Authentication-Results field in the message claimed to be ours: renamed");
        }
        let dns = shared.check_dns();
        let own = LocalDomains(&shared.store);
        let checks = protect::authenticate(
            dns.authenticator(),
            &shared.auth_cache,
            p,
            &cfg.hostname,
            &own,
            arrival,
            &bytes,
        );
        let budget = Duration::from_secs(p.check_timeout_secs.max(1));
        let verdicts = match tokio::time::timeout(budget, checks).await {
            Ok(v) => v,
            Err(_) => protect::timed_out(p, &cfg.hostname, &own, arrival),
        };
        let outcome = match &verdicts.outcome {
            Outcome::Deliver => "deliver",
            Outcome::Junk(_) => "junk",
            Outcome::Refuse(_) => "refuse",
            Outcome::Defer(_) => "defer",
            Outcome::Quarantine(_) => "quarantine",
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
        if p.dmarc_reports
            && let Some(seen) = &verdicts.dmarc_seen
        {
            count_for_dmarc_report(shared, arrival.ip, seen, &verdicts.outcome);
        }
        match verdicts.outcome {
            Outcome::Deliver => {}
            Outcome::Junk(why) => junk = Some(why),
            Outcome::Refuse(why) => return Err(Failure::Refused(format!("550 {why}"))),
            Outcome::Defer(why) => return Err(Failure::Deferred(why)),
            Outcome::Quarantine(why) => quarantine = Some(why),
        }
        headers.push_str(&verdicts.header);
        words = Some(verdicts.words);
    }
    if let Some(file) = protect::attachments::refused(&bytes, &p.refused_attachments) {
        tracing::info!(target: "roost_core::transactions", queue_id = %m.queue_id,
            file = %file, "dangerous attachment");
        match p.attachment_action {
            Disposition::Reject => {
                return Err(Failure::Refused(format!(
                    "554 5.7.1 Attachments of this type are refused here: {file}; send it \
                     another way (a link to a shared folder, for example)"
                )));
            }
            Disposition::Junk => junk = Some(format!("attachment {file}")),
            Disposition::Quarantine => quarantine = Some(format!("attachment {file}")),
            Disposition::Accept => {}
        }
    }
    if !p.clamav.is_empty() {
        match virus_scan(&cfg, &m.queue_id, &bytes).await? {
            Scanned::Infected(name) => {
                match p.clamav_infected {
                    Disposition::Junk => junk = Some(format!("virus {name}")),
                    Disposition::Quarantine => quarantine = Some(format!("virus {name}")),
                    _ => {}
                }
                headers.push_str(&format!("X-Virus-Scanned: ClamAV, infected: {name}\r\n"));
            }
            Scanned::Clean => headers.push_str("X-Virus-Scanned: ClamAV, clean\r\n"),
            // No header: nothing vouches for it.
            Scanned::Not => {}
        }
    }
    if !p.rspamd.is_empty()
        && let Some((header, spam)) = spam_score(&cfg, &m.queue_id, arrival, &bytes).await?
    {
        headers.push_str(&header);
        if spam.is_some() && junk.is_none() {
            junk = spam;
        }
    }
    let scored = classify::score(shared, p, m, words, trained, Some(&bytes)).await;
    headers.push_str(&scored.header);
    drop(bytes);
    drop(held);
    // A verdict of the checks stands; the score decides only where they found nothing.
    if quarantine.is_none() {
        file_by_lists(shared, m, Vouched::from(words), |a| {
            junk.clone().or_else(|| scored.junk_for(a))
        });
    }
    // Below our Received line, as Postfix with a milter writes them: all belong to this hop.
    m.trace.push_str(&headers);
    if let Some(b) = &renamed {
        m.header = Some(crate::store::header_of(b).to_vec());
    }
    Ok(Screened {
        replaced: renamed,
        quarantine,
    })
}

/// Which sender addresses an allow entry may be believed for: a forged address must not
/// skip the checks. With sender authentication off, the lists are believed as they are.
#[derive(Clone, Copy)]
struct Vouched {
    /// SPF passed for the envelope sender.
    envelope: bool,
    /// DMARC passed for the author in From:.
    author: bool,
}

impl Vouched {
    fn from(words: Option<protect::Words>) -> Vouched {
        match words {
            Some(w) => Vouched {
                envelope: w.spf == "pass",
                author: w.dmarc == "pass",
            },
            None => Vouched {
                envelope: true,
                author: true,
            },
        }
    }
}

/// Files each local copy to Junk or INBOX. In order: the recipient's own allow entry (for a
/// vouched sender), their own block of an author in From:, the server's allow list (the
/// client's address, or a vouched sender), then the verdict for that recipient (`junk`).
fn file_by_lists(
    shared: &Shared,
    m: &mut Incoming,
    vouched: Vouched,
    junk: impl Fn(i64) -> Option<String>,
) {
    let Some(arrival) = m.arrival.as_ref() else {
        return;
    };
    let store = &shared.store;
    let server_allows = arrival.allowed
        || (vouched.envelope
            && reputation::sender_verdict(store, &arrival.mail_from, None)
                == Some(ListKind::Allow));
    let authors: Vec<String> = m
        .header
        .as_deref()
        .and_then(|h| crate::rfc5322::from_mailboxes(h).ok())
        .map(|list| list.iter().take(10).map(|mb| mb.addr_spec()).collect())
        .unwrap_or_default();
    for l in &mut m.local {
        if !matches!(l.into, Filing::Inbox) {
            continue;
        }
        let own = |who: &str| reputation::sender_verdict(store, who, Some(l.account_id));
        let user_allows = (vouched.envelope && own(&arrival.mail_from) == Some(ListKind::Allow))
            || (vouched.author && authors.iter().any(|a| own(a) == Some(ListKind::Allow)));
        let user_blocks = authors.iter().any(|a| own(a) == Some(ListKind::Block));
        let verdict = junk(l.account_id);
        let why = if user_allows {
            None
        } else if user_blocks {
            Some("the author is on the recipient's block list".to_string())
        } else if server_allows {
            None
        } else {
            verdict.clone()
        };
        if let (Some(v), None) = (&verdict, &why) {
            tracing::info!(queue_id = %m.queue_id, account = l.account_id, reason = %v,
                "not filed to Junk: the sender is on an allow list");
        }
        if let Some(why) = why {
            tracing::info!(queue_id = %m.queue_id, account = l.account_id, reason = %why,
                "filed to Junk");
            l.into = Filing::Junk;
        }
    }
}

/// Counts the message toward the day's aggregate report to its author's domain (in the
/// background: the answer to the client does not wait for it).
fn count_for_dmarc_report(
    shared: &Shared,
    ip: std::net::IpAddr,
    seen: &protect::DmarcSeen,
    outcome: &Outcome,
) {
    use crate::store::dmarc_report::{self, Row};
    let disposition = match outcome {
        Outcome::Deliver => "none",
        Outcome::Junk(_) | Outcome::Quarantine(_) => "quarantine",
        Outcome::Refuse(_) => "reject",
        // Deferred: it comes back, and is counted then.
        Outcome::Defer(_) => return,
    };
    let row = Row {
        source_ip: ip.to_canonical().to_string(),
        header_from: seen.header_from.clone(),
        disposition: disposition.into(),
        dkim_pass: seen.dkim_pass,
        spf_pass: seen.spf_pass,
        count: 1,
    };
    let seen = seen.clone();
    let store = shared.store.clone();
    let day = crate::store::now().div_euclid(86_400);
    tokio::spawn(async move {
        let written = store
            .write_async(Vec::new(), move |tx| {
                dmarc_report::record(tx, day, &seen.domain, seen.policy, &seen.rua, &row)
            })
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "DMARC report data not counted");
        }
    });
}

enum Scanned {
    Clean,
    /// Found, and to be delivered anyway (to Junk or, if so configured, as usual).
    Infected(String),
    /// clamd did not answer and the message goes on unscanned.
    Not,
}

/// What the scan found, or the refusal or deferral as configured.
async fn virus_scan(cfg: &Config, queue_id: &str, bytes: &[u8]) -> Result<Scanned, Failure> {
    let p = &cfg.protection;
    let unavailable = |why: String| {
        tracing::warn!(queue_id, reason = %why, "virus scan not done: clamd unavailable");
        match p.clamav_unavailable {
            Unavailable::Deliver => Ok(Scanned::Not),
            Unavailable::Tempfail => Err(Failure::Deferred(
                "4.7.0 The virus scanner is not available; try again later".into(),
            )),
        }
    };
    let endpoint = match Endpoint::parse(&p.clamav) {
        Ok(e) => e,
        Err(e) => return unavailable(e),
    };
    let timeout = Duration::from_secs(p.clamav_timeout_secs.max(1));
    match clamav::scan(&endpoint, bytes, timeout).await {
        Ok(clamav::Scan::Clean) => Ok(Scanned::Clean),
        Ok(clamav::Scan::Infected(name)) => {
            tracing::info!(target: "roost_core::transactions", queue_id, virus = %name,
                "virus found");
            match p.clamav_infected {
                Disposition::Reject => Err(Failure::Refused(format!(
                    "554 5.7.1 Virus found: {name}; the message was not delivered"
                ))),
                Disposition::Junk | Disposition::Accept | Disposition::Quarantine => {
                    Ok(Scanned::Infected(name))
                }
            }
        }
        Ok(clamav::Scan::Error(e)) => unavailable(format!("clamd: {e}")),
        Err(e) => unavailable(e),
    }
}

/// rspamd's verdict: its header, and a reason when the message goes to Junk; None when
/// rspamd did not answer and the message goes on unscored; the refusal or deferral its
/// action asks for otherwise.
async fn spam_score(
    cfg: &Config,
    queue_id: &str,
    arrival: &protect::Arrival,
    bytes: &[u8],
) -> Result<Option<(String, Option<String>)>, Failure> {
    let p = &cfg.protection;
    let unavailable = |why: String| {
        tracing::warn!(queue_id, reason = %why, "spam check not done: rspamd unavailable");
        match p.rspamd_unavailable {
            Unavailable::Deliver => Ok(None),
            Unavailable::Tempfail => Err(Failure::Deferred(
                "4.7.0 The spam filter is not available; try again later".into(),
            )),
        }
    };
    let endpoint = match Endpoint::parse(&p.rspamd) {
        Ok(e) => e,
        Err(e) => return unavailable(e),
    };
    let facts = rspamd::Facts {
        ip: arrival.ip,
        helo: &arrival.helo,
        mail_from: &arrival.mail_from,
        recipients: &arrival.recipients,
        queue_id,
        hostname: &cfg.hostname,
    };
    let timeout = Duration::from_secs(p.rspamd_timeout_secs.max(1));
    let v = match rspamd::check(&endpoint, &facts, bytes, timeout).await {
        Ok(v) => v,
        Err(e) => return unavailable(e),
    };
    let symbols: Vec<String> = v
        .symbols
        .iter()
        .take(12)
        .map(|(n, s)| format!("{n}({s:.2})"))
        .collect();
    let action = format!("{:?}", v.action);
    tracing::info!(target: "roost_core::transactions", queue_id, score = v.score,
        required = v.required, action = %action, symbols = %symbols.join(" "), "spam check");
    let spam = !matches!(v.action, rspamd::Action::NoAction);
    let header = format!(
        "X-Spam-Status: {}, score={:.2} required={:.2}\r\n\tsymbols={}\r\n",
        if spam { "Yes" } else { "No" },
        v.score,
        v.required,
        symbols.join(",\r\n\t ")
    );
    match v.action {
        rspamd::Action::Reject => Err(Failure::Refused("550 5.7.1 Spam message rejected".into())),
        rspamd::Action::SoftReject => Err(Failure::Deferred("4.7.1 Try again later".into())),
        rspamd::Action::Greylist => Err(Failure::Deferred(
            "4.7.1 Greylisted, try again later".into(),
        )),
        rspamd::Action::Spam => Ok(Some((header, Some(format!("rspamd score {:.2}", v.score))))),
        rspamd::Action::NoAction => Ok(Some((header, None))),
    }
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
