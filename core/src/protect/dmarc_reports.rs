//! DMARC aggregate reports that other servers send about our domains: read (XML, gzip or zip,
//! by mail-auth) and summarised as they arrive, for `roost reports dmarc`.

use crate::store::{self, dmarc_report::Received};
use mail_auth::report::{DmarcResult, Report};

/// Whether a message's header looks like an aggregate report (RFC 7489 7.2.1.1's subject),
/// and not a TLS report, which shares the subject.
pub fn looks_like_report(header: &[u8]) -> bool {
    let subject = crate::rfc5322::field_values(header, "subject");
    // Some senders (mail-builder among them) write the subject as encoded words, whose
    // spaces are underscores: the words themselves are there either way.
    subject
        .first()
        .is_some_and(|s| s.contains("Report") && s.contains("Domain:"))
        && crate::rfc5322::field_values(header, "tls-report-domain").is_empty()
}

/// The summary of an aggregate report in a message, when it is one.
pub fn summarise(message: &[u8]) -> Option<Received> {
    let r = Report::parse_rfc5322(message, 10 * 1024 * 1024).ok()?;
    let (mut messages, mut passed) = (0u64, 0u64);
    let mut failing: std::collections::HashMap<String, u64> = Default::default();
    for rec in r.records().iter().take(100_000) {
        let n = u64::from(rec.count());
        messages += n;
        if rec.dmarc_dkim_result() == DmarcResult::Pass
            || rec.dmarc_spf_result() == DmarcResult::Pass
        {
            passed += n;
        } else if let Some(ip) = rec.source_ip() {
            *failing.entry(ip.to_string()).or_default() += n;
        }
    }
    let mut sources: Vec<(String, u64)> = failing.into_iter().collect();
    sources.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Some(Received {
        org: r.org_name().chars().take(200).collect(),
        report_id: r.report_id().chars().take(200).collect(),
        domain: r.domain().to_ascii_lowercase(),
        begin: r.date_range_begin().min(i64::MAX as u64) as i64,
        end: r.date_range_end().min(i64::MAX as u64) as i64,
        messages,
        passed,
        failing_sources: sources
            .into_iter()
            .take(10)
            .map(|(ip, n)| format!("{ip} ({n})"))
            .collect(),
        received: store::now(),
    })
}
