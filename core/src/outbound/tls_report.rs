//! TLS-RPT (RFC 8460) for mail leaving: every TLS negotiation with a domain's MX hosts is
//! counted per day; once a day is over, each domain that asks for reports (its _smtp._tls TXT
//! record names a mailto: address) gets one JSON report of that day, sent as ordinary mail.

use super::mta_sts::Policy;
use crate::config::Config;
use crate::dns::Dns;
use crate::error::Result;
use crate::store::tls_report::{self as tally, DayResults};
use crate::store::{self, Store};

/// The policy a session's TLS followed (RFC 8460 4.3 policy-type).
pub enum Applied<'a> {
    /// The TLSA records of the host used ("tlsa").
    Dane(Vec<String>),
    /// The domain's MTA-STS policy ("sts"), or none ("no-policy-found").
    Sts(Option<&'a Policy>),
}

/// Counts one session's TLS negotiations with `domain`'s hosts.
pub async fn record(
    store: &Store,
    domain: &str,
    policy: Applied<'_>,
    outcomes: Vec<(Option<&'static str>, String, String)>,
) {
    if outcomes.is_empty() {
        return;
    }
    let (kind, lines) = match policy {
        Applied::Dane(records) => ("tlsa", records),
        Applied::Sts(Some(p)) => ("sts", policy_lines(p)),
        Applied::Sts(None) => ("no-policy-found", Vec::new()),
    };
    let day = store::now().div_euclid(86_400);
    let d = domain.to_string();
    let written = store
        .write_async(Vec::new(), move |tx| {
            for (failure, mx, ip) in &outcomes {
                let f = failure.map(|t| (t, mx.as_str(), ip.as_str()));
                tally::record(tx, day, &d, kind, &lines, f)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = written {
        tracing::warn!(domain, error = %e, "TLS results not counted");
    }
}

fn policy_lines(p: &Policy) -> Vec<String> {
    let mut lines = vec![
        "version: STSv1".to_string(),
        format!("mode: {}", p.mode.as_str()),
    ];
    lines.extend(p.mx.iter().map(|m| format!("mx: {m}")));
    lines.push(format!("max_age: {}", p.max_age));
    lines
}

/// The report addresses a domain's _smtp._tls record asks for (mailto: only; https: reports
/// are not sent).
fn report_addresses(records: &[String]) -> Vec<String> {
    let Some(r) = records
        .iter()
        .find(|r| r.trim_start().starts_with("v=TLSRPTv1"))
    else {
        return Vec::new();
    };
    r.split(';')
        .filter_map(|f| f.trim().strip_prefix("rua="))
        .flat_map(|v| v.split(','))
        .filter_map(|u| u.trim().strip_prefix("mailto:"))
        .map(|a| a.split('!').next().unwrap_or(a).to_string())
        .filter(|a| a.contains('@'))
        .take(5)
        .collect()
}

fn iso_day(day: i64, end: bool) -> String {
    let (y, m, d) = crate::util::civil_from_days(day);
    if end {
        format!("{y}-{m:02}-{d:02}T23:59:59Z")
    } else {
        format!("{y}-{m:02}-{d:02}T00:00:00Z")
    }
}

/// The RFC 8460 section 4 report of one day of one domain.
pub fn report_json(cfg: &Config, r: &DayResults, id: &str) -> serde_json::Value {
    let mut policy = serde_json::json!({
        "policy-type": r.policy_type,
        "policy-domain": r.domain,
    });
    if !r.policy.is_empty() {
        policy["policy-string"] = serde_json::json!(r.policy);
        let mx: Vec<&str> = r
            .policy
            .iter()
            .filter_map(|l| l.strip_prefix("mx: "))
            .collect();
        policy["mx-host"] = serde_json::json!(mx);
    }
    let failed: u64 = r.failures.iter().map(|f| f.3).sum();
    let details: Vec<serde_json::Value> = r
        .failures
        .iter()
        .map(|(kind, mx, ip, n)| {
            serde_json::json!({
                "result-type": kind,
                "receiving-mx-hostname": mx,
                "receiving-ip": ip,
                "failed-session-count": n,
            })
        })
        .collect();
    serde_json::json!({
        "organization-name": cfg.hostname,
        "date-range": {
            "start-datetime": iso_day(r.day, false),
            "end-datetime": iso_day(r.day, true),
        },
        "contact-info": format!("postmaster@{}", cfg.first_domain()),
        "report-id": id,
        "policies": [{
            "policy": policy,
            "summary": {
                "total-successful-session-count": r.successes,
                "total-failure-session-count": failed,
            },
            "failure-details": details,
        }],
    })
}

/// The report as a message (RFC 8460 5.3: multipart/report, report-type=tlsrpt).
fn report_message(cfg: &Config, r: &DayResults, to: &str) -> Vec<u8> {
    let from = format!("postmaster@{}", cfg.first_domain());
    let id = format!("{}.{}@{}", r.day, r.domain, cfg.hostname);
    let json = report_json(cfg, r, &id).to_string();
    let (start, end) = (iso_day(r.day, false), iso_day(r.day, true));
    let boundary = format!("tlsrpt-{}", r.day);
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: Report Domain: {domain} Submitter: {host} \
         Report-ID: <{id}>\r\nDate: {date}\r\nMessage-ID: <tlsrpt.{id}>\r\n\
         TLS-Report-Domain: {domain}\r\nTLS-Report-Submitter: {host}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         The TLS report of {host} for mail sent to {domain} from {start} to {end}.\r\n\r\n\
         --{boundary}\r\nContent-Type: application/tlsrpt+json\r\n\
         Content-Disposition: attachment; filename=\"{host}!{domain}!{s}!{e}.json\"\r\n\r\n\
         {json}\r\n--{boundary}--\r\n",
        domain = r.domain,
        host = cfg.hostname,
        date = crate::util::rfc5322_date(store::now()),
        s = r.day * 86_400,
        e = r.day * 86_400 + 86_399,
    )
    .into_bytes()
}

/// Sends the reports of every finished day (and of today too with `include_today`) to the
/// domains that ask; the count of reports queued.
pub async fn send_reports(
    store: &Store,
    dns: &Dns,
    cfg: &Config,
    include_today: bool,
) -> Result<usize> {
    let today = store::now().div_euclid(86_400);
    let last = if include_today { today } else { today - 1 };
    let due = store.read_async(move |tx| tally::pending(tx, last)).await?;
    let mut sent = 0;
    for r in due {
        let asked = match dns.txt(&format!("_smtp._tls.{}", r.domain)).await {
            Ok(records) => report_addresses(&records),
            Err(crate::dns::LookupError::Temporary(e)) => {
                tracing::info!(domain = %r.domain, error = %e, "TLS report waits: DNS did not answer");
                continue;
            }
            Err(_) => Vec::new(),
        };
        let messages = asked
            .iter()
            .map(|to| (to.clone(), report_message(cfg, &r, to)))
            .collect();
        let (day, domain) = (r.day, r.domain.clone());
        let n = super::report_mail::queue(store, cfg, messages, move |tx| {
            tally::done(tx, day, &domain)
        })
        .await?;
        if n > 0 {
            tracing::info!(domain = %r.domain, day = r.day, to = %asked.join(","), "TLS report queued");
        }
        sent += n;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_addresses_are_the_mailto_ones() {
        let r = |s: &str| report_addresses(&[s.to_string()]);
        assert_eq!(
            r("v=TLSRPTv1; rua=mailto:a@x.test,https://r.x.test/,mailto:b@x.test!10m"),
            ["a@x.test", "b@x.test"]
        );
        assert!(r("v=spf1 -all").is_empty());
        assert!(r("v=TLSRPTv1; rua=https://only.test/").is_empty());
    }

    #[test]
    fn the_report_follows_rfc_8460() {
        let cfg = Config {
            hostname: "mx.example.test".into(),
            ..Config::default()
        };
        let r = DayResults {
            day: 20_424,
            domain: "far.test".into(),
            policy_type: "sts".into(),
            policy: vec![
                "version: STSv1".into(),
                "mode: enforce".into(),
                "mx: mx.far.test".into(),
            ],
            successes: 3,
            failures: vec![(
                "certificate-not-trusted".into(),
                "mx.far.test".into(),
                "192.0.2.1".into(),
                2,
            )],
        };
        let j = report_json(&cfg, &r, "id1");
        assert_eq!(j["date-range"]["start-datetime"], "2025-12-02T00:00:00Z");
        assert_eq!(j["policies"][0]["policy"]["mx-host"][0], "mx.far.test");
        assert_eq!(
            j["policies"][0]["summary"]["total-successful-session-count"],
            3
        );
        assert_eq!(
            j["policies"][0]["summary"]["total-failure-session-count"],
            2
        );
        assert_eq!(
            j["policies"][0]["failure-details"][0]["result-type"],
            "certificate-not-trusted"
        );
        let m = String::from_utf8(report_message(&cfg, &r, "tls@far.test")).unwrap();
        assert!(m.contains("report-type=\"tlsrpt\""));
        assert!(m.contains("TLS-Report-Domain: far.test"));
    }
}
