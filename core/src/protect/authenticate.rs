//! Sender authentication on arrival: SPF (RFC 7208) for HELO and MAIL FROM, every DKIM
//! signature (RFC 6376), the ARC chain (RFC 8617) and DMARC (RFC 7489), written into one
//! Authentication-Results header (RFC 8601) and turned into what happens to the message.

use super::cache::{DnsCache, TtlCache};
use super::{Arrival, Outcome};
use crate::config::{Disposition, ProtectionConfig};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcOutput,
    DmarcResult, MX, MessageAuthenticator, Parameters, RecordSet, SpfOutput, SpfResult, Txt,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the checks found.
pub struct Verdicts {
    /// The Authentication-Results header, CRLF-terminated.
    pub header: String,
    /// One line for the log: "spf=pass dkim=pass arc=none dmarc=pass".
    pub summary: String,
    pub outcome: Outcome,
    /// The results in words ("pass", "fail", "none", ...), for the spam score.
    pub words: Words,
    /// What a DMARC aggregate report to the author's domain would say of this message, when
    /// that domain asks for reports (rua=).
    pub dmarc_seen: Option<DmarcSeen>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcSeen {
    /// The policy domain (the author's organisational domain, or the author's).
    pub domain: String,
    /// The published p=: "none", "quarantine" or "reject".
    pub policy: &'static str,
    /// The mailto: addresses of its rua=.
    pub rua: Vec<String>,
    pub header_from: String,
    pub dkim_pass: bool,
    pub spf_pass: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    pub spf: &'static str,
    pub dkim: &'static str,
    pub dmarc: &'static str,
}

/// Whether a domain is one of Roost's own (asked only for the domains a message claims).
pub trait OwnDomains {
    fn is_own(&self, domain: &str) -> bool;
}

/// mail-auth's parameters with every cache of `DnsCache` attached.
type Cached<'x, P> = Parameters<
    'x,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

fn cached<'x, P>(cache: &'x DnsCache, params: P) -> Cached<'x, P> {
    Parameters::new(params)
        .with_txt_cache(&cache.txt)
        .with_mx_cache(&cache.mx)
        .with_ipv4_cache(&cache.ipv4)
        .with_ipv6_cache(&cache.ipv6)
        .with_ptr_cache(&cache.ptr)
}

pub async fn authenticate(
    auth: &MessageAuthenticator,
    cache: &DnsCache,
    cfg: &ProtectionConfig,
    hostname: &str,
    own: &(dyn OwnDomains + Sync),
    arrival: &Arrival,
    message: &[u8],
) -> Verdicts {
    let helo = arrival.helo.as_str();
    let mail_from = arrival.mail_from.as_str();
    let spf = auth
        .verify_spf(cached(
            cache,
            SpfParameters::verify(arrival.ip, helo, hostname, mail_from),
        ))
        .await;
    let mut results = AuthenticationResults::new(hostname);
    let Some(msg) = AuthenticatedMessage::parse(message) else {
        // No header block to read: only the envelope can be judged.
        results = results.with_spf_mailfrom_result(&spf, arrival.ip, mail_from, helo);
        let outcome = match spf.result() {
            SpfResult::Fail => disposed(cfg.spf_fail, "SPF fails for the sender's domain"),
            _ => Outcome::Deliver,
        };
        return Verdicts {
            header: results.to_header(),
            summary: format!(
                "spf={} dkim=none arc=none dmarc=none",
                spf_word(spf.result())
            ),
            outcome,
            words: Words {
                spf: spf_word(spf.result()),
                dkim: "none",
                dmarc: "none",
            },
            dmarc_seen: None,
        };
    };
    let dkim = auth.verify_dkim(cached(cache, &msg)).await;
    let arc = auth.verify_arc(cached(cache, &msg)).await;
    let envelope_domain = mail_from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or(helo)
        .to_ascii_lowercase();
    let dmarc = auth
        .verify_dmarc(cached(
            cache,
            DmarcParameters::new(&msg, &dkim, &envelope_domain, &spf),
        ))
        .await;
    let from_domain = msg
        .from
        .first()
        .and_then(|f| f.rsplit_once('@'))
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    results = results
        .with_dkim_results(&dkim, &from_domain)
        .with_spf_mailfrom_result(&spf, arrival.ip, mail_from, helo)
        .with_arc_result(&arc, arrival.ip)
        .with_dmarc_result(&dmarc);
    let summary = format!(
        "spf={} dkim={} arc={} dmarc={}",
        spf_word(spf.result()),
        dkim_word(&dkim),
        dkim_result_word(arc.result()),
        dmarc_word(&dmarc.result())
    );
    let outcome = decide(
        cfg,
        own,
        &Facts {
            envelope_domain: &envelope_domain,
            from: &msg.from,
            spf: &spf,
            dkim: &dkim,
            arc: &arc,
            arc_sealer: newest_sealer(&msg),
            dmarc: &dmarc,
        },
    );
    Verdicts {
        header: results.to_header(),
        summary,
        outcome,
        words: Words {
            spf: spf_word(spf.result()),
            dkim: dkim_word(&dkim),
            dmarc: dmarc_word(&dmarc.result()),
        },
        dmarc_seen: dmarc_seen(&dmarc, &from_domain),
    }
}

/// The verdicts when DNS did not answer within the message's time budget: temperror for all,
/// and a message naming one of our own domains is deferred (it cannot be vouched for).
pub fn timed_out(
    cfg: &ProtectionConfig,
    hostname: &str,
    own: &(dyn OwnDomains + Sync),
    arrival: &Arrival,
) -> Verdicts {
    let sender = if arrival.mail_from.is_empty() {
        "<>".to_string()
    } else {
        arrival.mail_from.clone()
    };
    let header = format!(
        "Authentication-Results: {hostname};\r\n\tspf=temperror (DNS did not answer in time) \
         smtp.mailfrom={sender};\r\n\tdkim=temperror;\r\n\tdmarc=temperror\r\n"
    );
    let envelope_domain = arrival
        .mail_from
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase());
    let outcome = if envelope_domain.as_deref().is_some_and(|d| own.is_own(d)) {
        Outcome::Defer(format!(
            "4.7.0 Cannot check that {} sent this message (DNS did not answer); try again later",
            envelope_domain.unwrap_or_default()
        ))
    } else if cfg.tempfail_on_dns_error {
        Outcome::Defer("4.7.0 The sender's DNS did not answer; try again later".into())
    } else {
        Outcome::Deliver
    };
    Verdicts {
        header,
        summary: "spf=temperror dkim=temperror arc=temperror dmarc=temperror (timed out)".into(),
        outcome,
        words: Words {
            spf: "temperror",
            dkim: "temperror",
            dmarc: "temperror",
        },
        dmarc_seen: None,
    }
}

struct Facts<'a> {
    envelope_domain: &'a str,
    from: &'a [String],
    spf: &'a SpfOutput,
    dkim: &'a [DkimOutput<'a>],
    arc: &'a ArcOutput<'a>,
    arc_sealer: Option<String>,
    dmarc: &'a DmarcOutput,
}

fn decide(cfg: &ProtectionConfig, own: &(dyn OwnDomains + Sync), f: &Facts<'_>) -> Outcome {
    if cfg.refuse_forged_own_domains
        && let Some(outcome) = forged_own_domain(own, f)
    {
        return outcome;
    }
    let forwarded_by_trusted = matches!(f.arc.result(), DkimResult::Pass)
        && f.arc_sealer.as_deref().is_some_and(|s| {
            cfg.trusted_arc_sealers
                .iter()
                .any(|t| t.eq_ignore_ascii_case(s))
        });
    if cfg.dmarc_policy {
        match f.dmarc.result() {
            DmarcResult::Fail(_) if forwarded_by_trusted => return Outcome::Deliver,
            DmarcResult::Fail(_) => {
                let domain = f.dmarc.domain();
                match f.dmarc.policy() {
                    Policy::Reject => {
                        return Outcome::Refuse(format!(
                            "5.7.1 Refused by the DMARC policy of {domain}: the message is \
                             neither signed by it nor sent from a server it allows"
                        ));
                    }
                    Policy::Quarantine => {
                        return Outcome::Junk(format!("DMARC policy of {domain}: quarantine"));
                    }
                    Policy::None | Policy::Unspecified => {}
                }
            }
            DmarcResult::TempError(_) if cfg.tempfail_on_dns_error => {
                return Outcome::Defer(
                    "4.7.0 The sender's DNS did not answer; try again later".into(),
                );
            }
            _ => {}
        }
    }
    if f.spf.result() == SpfResult::Fail
        && !matches!(f.dmarc.result(), DmarcResult::Pass)
        && !forwarded_by_trusted
    {
        return disposed(cfg.spf_fail, &format!("SPF fails for {}", f.spf.domain()));
    }
    Outcome::Deliver
}

/// Mail from outside naming one of our own domains must be vouched for by that domain: an SPF
/// pass for it, or a valid DKIM signature of it.
fn forged_own_domain(own: &(dyn OwnDomains + Sync), f: &Facts<'_>) -> Option<Outcome> {
    let mut claimed: Vec<String> = Vec::new();
    if !f.envelope_domain.is_empty() {
        claimed.push(f.envelope_domain.to_string());
    }
    for from in f.from {
        if let Some((_, d)) = from.rsplit_once('@') {
            let d = d.to_ascii_lowercase();
            if !claimed.contains(&d) {
                claimed.push(d);
            }
        }
    }
    for domain in claimed.iter().filter(|d| own.is_own(d)) {
        let spf_pass =
            f.spf.result() == SpfResult::Pass && f.spf.domain().eq_ignore_ascii_case(domain);
        let dkim_pass = f.dkim.iter().any(|d| {
            matches!(d.result(), DkimResult::Pass)
                && d.signature()
                    .is_some_and(|s| s.d.eq_ignore_ascii_case(domain))
        });
        if spf_pass || dkim_pass {
            continue;
        }
        if f.spf.result() == SpfResult::TempError {
            return Some(Outcome::Defer(format!(
                "4.7.0 Cannot check that {domain} sent this message (DNS did not answer); \
                 try again later"
            )));
        }
        return Some(Outcome::Refuse(format!(
            "5.7.1 This message claims to come from {domain}, a domain of this server, but \
             it was neither sent by a signed-in user nor signed by {domain}"
        )));
    }
    None
}

/// The facts of an aggregate report, when the author's domain publishes rua= addresses.
fn dmarc_seen(dmarc: &DmarcOutput, header_from: &str) -> Option<DmarcSeen> {
    let record = dmarc.dmarc_record()?;
    let rua: Vec<String> = record
        .rua
        .iter()
        // mail-auth keeps mailto: URIs only, without the scheme.
        .map(|u| u.uri.trim_start_matches("mailto:").to_string())
        .filter(|a| a.contains('@'))
        .take(5)
        .collect();
    if rua.is_empty() {
        return None;
    }
    Some(DmarcSeen {
        domain: dmarc.domain().to_ascii_lowercase(),
        policy: match record.p {
            Policy::Reject => "reject",
            Policy::Quarantine => "quarantine",
            _ => "none",
        },
        rua,
        header_from: header_from.to_string(),
        dkim_pass: matches!(dmarc.dkim_result(), DmarcResult::Pass),
        spf_pass: matches!(dmarc.spf_result(), DmarcResult::Pass),
    })
}

fn disposed(d: Disposition, why: &str) -> Outcome {
    match d {
        Disposition::Accept => Outcome::Deliver,
        Disposition::Junk => Outcome::Junk(why.to_string()),
        Disposition::Reject => Outcome::Refuse(format!("5.7.1 {why}")),
        Disposition::Quarantine => Outcome::Quarantine(why.to_string()),
    }
}

/// The signing domain of the newest ARC set (highest instance).
fn newest_sealer(msg: &AuthenticatedMessage<'_>) -> Option<String> {
    msg.as_headers
        .iter()
        .max_by_key(|h| h.header.i)
        .map(|h| h.header.d.to_ascii_lowercase())
}

/// SPF's result in RFC 7208's words.
pub fn spf_word(result: SpfResult) -> &'static str {
    match result {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

fn dkim_result_word(r: &DkimResult) -> &'static str {
    match r {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

/// The best of the signatures: one valid signature is enough.
fn dkim_word(dkim: &[DkimOutput<'_>]) -> &'static str {
    if dkim.iter().any(|d| matches!(d.result(), DkimResult::Pass)) {
        return "pass";
    }
    dkim.first()
        .map(|d| dkim_result_word(d.result()))
        .unwrap_or("none")
}

fn dmarc_word(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}
