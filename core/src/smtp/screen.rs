//! The checks of the client itself, before any message: the DNS block and allow lists, the
//! server's and the recipients' own allow and block lists, the automatic blocks.

use crate::config::Config;
use crate::context::Shared;
use crate::protect::{dnsbl, reputation};
use crate::store::reputation::ListKind;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// A client that did not sign in: its address, and whether the server's allow list names it.
#[derive(Clone, Copy)]
pub struct Stranger {
    pub ip: IpAddr,
    pub allowed: bool,
}

/// None when the client may go on; the RCPT reply when its lists refuse it.
pub async fn dns_lists(shared: &Shared, cfg: &Config, ip: IpAddr) -> Option<String> {
    let p = &cfg.protection;
    if p.dnsbl.is_empty() {
        return None;
    }
    let ip = ip.to_canonical();
    let exempt = crate::netaddr::listed(&p.dnsbl_exempt_networks, ip);
    if exempt {
        return None;
    }
    let dns = shared.check_dns();
    let budget = Duration::from_secs(p.check_timeout_secs.max(1));
    let ask = dnsbl::check(dns.authenticator(), &shared.auth_cache, &p.dnsbl, ip);
    let verdict = match tokio::time::timeout(budget, ask).await {
        Ok(v) => v,
        Err(_) => {
            tracing::info!(client = %ip, "DNS lists did not answer in time: not counted");
            return None;
        }
    };
    let zones: Vec<String> = verdict
        .listed
        .iter()
        .map(|(z, a)| format!("{z}={a}"))
        .collect();
    if verdict.score < p.dnsbl_threshold {
        if !zones.is_empty() {
            tracing::info!(client = %ip, score = verdict.score, lists = %zones.join(" "),
                "listed, below the threshold");
        }
        return None;
    }
    tracing::info!(
        target: "roost_core::transactions",
        client = %ip,
        score = verdict.score,
        lists = %zones.join(" "),
        "client refused by DNS lists"
    );
    let first = verdict
        .listed
        .first()
        .map(|(z, _)| z.as_str())
        .unwrap_or("a DNS list");
    Some(format!(
        "554 5.7.1 Service unavailable; client [{}] blocked using {first}",
        ip.to_canonical()
    ))
}

/// MAIL FROM of a client that did not sign in: refused when the server's block list names the
/// sender or its domain.
pub fn sender_refusal(shared: &Shared, sender: &str) -> Option<String> {
    match reputation::sender_verdict(&shared.store, sender, None) {
        Some(ListKind::Block) => {
            tracing::info!(target: "roost_core::transactions", from = %sender,
                "sender refused by the block list");
            Some(format!("550 5.7.1 Sender <{sender}> is not accepted here"))
        }
        _ => None,
    }
}

/// RCPT of a client that did not sign in, for an address that exists: refused when one of the
/// recipient accounts' own lists blocks the client or the sender (and does not allow it).
pub fn recipient_refusal(
    shared: &Shared,
    ip: IpAddr,
    sender: &str,
    recipient: &str,
    accounts: &[i64],
) -> Option<String> {
    for &account in accounts {
        let by_sender = reputation::sender_verdict(&shared.store, sender, Some(account));
        let by_ip = reputation::account_ip_verdict(&shared.store, ip, account);
        let blocked = match (by_sender, by_ip) {
            (Some(ListKind::Allow), _) | (_, Some(ListKind::Allow)) => false,
            (Some(ListKind::Block), _) | (_, Some(ListKind::Block)) => true,
            _ => false,
        };
        if blocked {
            tracing::info!(target: "roost_core::transactions", client = %ip, from = %sender,
                to = %recipient, "refused by the recipient's block list");
            return Some(format!(
                "550 5.7.1 <{recipient}>: the recipient does not accept mail from this sender"
            ));
        }
    }
    None
}

/// Counts an unknown recipient asked for by a client that did not sign in; blocks the client
/// when it asks for too many.
pub fn unknown_recipient(shared: &Arc<Shared>, cfg: &Config, ip: IpAddr) {
    let p = &cfg.protection;
    let window = Duration::from_secs(p.unknown_recipients_window_secs.max(1));
    if shared
        .tracker
        .unknown_recipient(ip, p.unknown_recipients_max, window)
    {
        shared.block_automatically(ip, "too many unknown recipients");
    }
}

/// Whether the address is one of the spam traps; the client that wrote to it is blocked.
pub fn spam_trap(shared: &Arc<Shared>, cfg: &Config, ip: IpAddr, address: &str) -> bool {
    let trap = cfg
        .protection
        .spam_traps
        .iter()
        .any(|t| t.eq_ignore_ascii_case(address));
    if trap {
        tracing::info!(target: "roost_core::transactions", client = %ip, to = %address,
            "mail to a spam trap");
        shared.block_automatically(ip, "mail to a spam trap");
    }
    trap
}

/// Greylisting of one recipient for a client that did not sign in (`[protection]
/// greylisting`; the caller skips clients the server allows): the 451 reply while the triplet
/// is new; None lets it through.
pub fn greylist(
    shared: &Shared,
    cfg: &Config,
    ip: IpAddr,
    sender: &str,
    recipient: &str,
) -> Option<String> {
    use crate::store::greylist::{self, Greylist};
    let p = &cfg.protection;
    if !p.greylisting
        || reputation::sender_verdict(&shared.store, sender, None) == Some(ListKind::Allow)
    {
        return None;
    }
    // A sending pool retries from another address of its network: count networks.
    let net = match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        v6 => format!("{}/64", crate::netaddr::client_key(v6)),
    };
    let key = format!(
        "{net}|{}|{}",
        sender.to_ascii_lowercase(),
        recipient.to_ascii_lowercase()
    );
    let now = crate::store::now();
    let (delay, days) = (p.greylist_delay_secs, p.greylist_days);
    // Decided by a read; what it changes is written in the background, so that a client
    // making up a new sender at every RCPT does not hold the session's thread on the disk.
    let judged = shared
        .store
        .read(|tx| greylist::judge(tx, &key, now, delay));
    if let Ok((_, true)) = judged {
        let store = shared.store.clone();
        tokio::spawn(async move {
            let written = store
                .write_async(Vec::new(), move |tx| {
                    greylist::check(tx, &key, now, delay, days)
                })
                .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "greylisting: the triplet was not recorded");
            }
        });
    }
    match judged.map(|(verdict, _)| verdict) {
        Ok(Greylist::Pass) => None,
        Ok(Greylist::Wait(secs)) => {
            tracing::info!(target: "roost_core::transactions", client = %ip, from = %sender,
                to = %recipient, retry_in = secs, "greylisted");
            Some(format!(
                "451 4.7.1 <{recipient}>: Greylisted: this server does not know yours yet; try \
                 again in {secs} seconds"
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "greylisting not applied: the store failed");
            None
        }
    }
}

/// How long the answer to a message from outside waits: `first_sender_delay_secs` when none of
/// its local recipients has had mail from this sender before (read before the message is
/// stored, which makes the sender known); None otherwise.
pub fn first_sender_delay(
    shared: &Shared,
    cfg: &Config,
    arrival: &crate::protect::Arrival,
    local: &[crate::accept::Local],
) -> Option<Duration> {
    let secs = cfg.protection.first_sender_delay_secs;
    if secs == 0 || arrival.mail_from.is_empty() || local.is_empty() {
        return None;
    }
    let known = local.iter().any(|l| {
        shared
            .store
            .read(|tx| crate::store::correspondents::known(tx, l.account_id, &arrival.mail_from))
            .unwrap_or(true)
    });
    let exempt = crate::netaddr::listed(&cfg.protection.first_sender_delay_exempt, arrival.ip);
    if known || exempt || arrival.allowed {
        return None;
    }
    Some(Duration::from_secs(secs))
}
