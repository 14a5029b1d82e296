//! DMARC aggregate reports (RFC 7489 7.2) leaving: the daily report to each domain that asked
//! (when `[protection] dmarc_reports` is on), made and compressed by mail-auth. (Reports that
//! arrive about our domains are read by protect::dmarc_reports.)

use crate::config::Config;
use crate::dns::Dns;
use crate::error::Result;
use crate::store::dmarc_report::{self as tally, DayReport};
use crate::store::{self, Store};
use mail_auth::report::{ActionDisposition, Disposition, DmarcResult, Record, Report};

fn disposition(word: &str) -> Disposition {
    match word {
        "reject" => Disposition::Reject,
        "quarantine" => Disposition::Quarantine,
        _ => Disposition::None,
    }
}

/// One day's report to one domain, as mail-auth builds it.
pub fn build(cfg: &Config, d: &DayReport) -> Report {
    let result = |pass: bool| {
        if pass {
            DmarcResult::Pass
        } else {
            DmarcResult::Fail
        }
    };
    let mut report = Report::new()
        .with_org_name(cfg.hostname.clone())
        .with_email(format!("postmaster@{}", cfg.first_domain()))
        .with_report_id(format!("{}.{}@{}", d.day, d.domain, cfg.hostname))
        .with_date_range_begin((d.day * 86_400).max(0) as u64)
        .with_date_range_end((d.day * 86_400 + 86_399).max(0) as u64)
        .with_domain(d.domain.clone())
        .with_p(disposition(&d.policy));
    for r in &d.rows {
        let Ok(ip) = r.source_ip.parse() else {
            continue;
        };
        let action = match r.disposition.as_str() {
            "reject" => ActionDisposition::Reject,
            "quarantine" => ActionDisposition::Quarantine,
            _ => ActionDisposition::None,
        };
        report = report.with_record(
            Record::new()
                .with_source_ip(ip)
                .with_count(r.count.min(u32::MAX as u64) as u32)
                .with_action_disposition(action)
                .with_dmarc_dkim_result(result(r.dkim_pass))
                .with_dmarc_spf_result(result(r.spf_pass))
                .with_header_from(r.header_from.clone()),
        );
    }
    report
}

/// Whether `rua` may receive reports about `domain` (RFC 7489 7.1): the same domain, or its
/// domain publishes `<domain>._report._dmarc.<its domain>` with v=DMARC1. None when DNS did
/// not answer: asked again at the next round.
async fn may_receive(dns: &Dns, domain: &str, rua: &str) -> Option<bool> {
    let Some((_, rua_domain)) = rua.rsplit_once('@') else {
        return Some(false);
    };
    let rua_domain = rua_domain.to_ascii_lowercase();
    if rua_domain == domain || rua_domain.ends_with(&format!(".{domain}")) {
        return Some(true);
    }
    match dns
        .txt(&format!("{domain}._report._dmarc.{rua_domain}"))
        .await
    {
        Ok(records) => Some(
            records
                .iter()
                .any(|r| r.trim_start().starts_with("v=DMARC1")),
        ),
        Err(crate::dns::LookupError::Temporary(_)) => None,
        Err(_) => Some(false),
    }
}

/// Sends the reports of finished days (today's too with `include_today`); the count queued.
pub async fn send_reports(
    store: &Store,
    dns: &Dns,
    cfg: &Config,
    include_today: bool,
) -> Result<usize> {
    let today = store::now().div_euclid(86_400);
    let last = if include_today { today } else { today - 1 };
    let due = store.read_async(move |tx| tally::pending(tx, last)).await?;
    let from = format!("postmaster@{}", cfg.first_domain());
    let mut sent = 0;
    for d in due {
        let mut to = Vec::new();
        let mut unsure = false;
        for r in &d.rua {
            match may_receive(dns, &d.domain, r).await {
                Some(true) => to.push(r.clone()),
                Some(false) => {
                    tracing::info!(domain = %d.domain, rua = %r, "DMARC report not sent: that address did not agree to receive them (RFC 7489 7.1)")
                }
                None => unsure = true,
            }
        }
        if unsure {
            tracing::info!(domain = %d.domain, "DMARC report waits: DNS did not answer");
            continue;
        }
        let mut messages = Vec::new();
        if !to.is_empty() {
            let message = build(cfg, &d)
                .to_rfc5322(
                    &cfg.hostname,
                    ("DMARC reports", from.as_str()),
                    to.iter().map(|s| s.as_str()),
                )
                .map_err(|e| crate::error::Error::Storage(format!("DMARC report: {e}")))?;
            messages = to
                .iter()
                .map(|t| (t.clone(), message.clone().into_bytes()))
                .collect();
        }
        let (day, domain) = (d.day, d.domain.clone());
        let n = super::report_mail::queue(store, cfg, messages, move |tx| {
            tally::done(tx, day, &domain)
        })
        .await?;
        if n > 0 {
            tracing::info!(domain = %d.domain, day = d.day, to = %to.join(","), "DMARC report queued");
        }
        sent += n;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dmarc_report::Row;

    #[test]
    fn a_report_we_make_reads_back_as_its_summary() {
        let cfg = Config {
            hostname: "mx.example.test".into(),
            ..Config::default()
        };
        let row = |ip: &str, pass: bool, count| Row {
            source_ip: ip.into(),
            header_from: "sender.test".into(),
            disposition: if pass { "none" } else { "reject" }.into(),
            dkim_pass: pass,
            spf_pass: false,
            count,
        };
        let d = DayReport {
            day: 20_789,
            domain: "sender.test".into(),
            policy: "reject".into(),
            rua: vec!["dmarc@sender.test".into()],
            rows: vec![row("192.0.2.1", true, 5), row("198.51.100.7", false, 2)],
        };
        let m = build(&cfg, &d)
            .to_rfc5322(
                "mx.example.test",
                ("", "postmaster@example.test"),
                ["dmarc@sender.test"].into_iter(),
            )
            .unwrap();
        let s = crate::protect::dmarc_reports::summarise(m.as_bytes()).expect("a report");
        assert_eq!(s.domain, "sender.test");
        assert_eq!(s.org, "mx.example.test");
        assert_eq!((s.messages, s.passed), (7, 5));
        assert_eq!(s.failing_sources, ["198.51.100.7 (2)"]);
        assert!(
            crate::protect::dmarc_reports::summarise(b"Subject: hello\r\n\r\nnot a report\r\n")
                .is_none()
        );
    }
}
