//! The setup check's MTA-STS and TLS-RPT lines for one of our domains: what each record is
//! for, and exactly what to publish. (Whether the published policy file itself is right is
//! checked by the admin layer, which can fetch it over HTTPS.)

use super::check::{Check, Verdict, check};
use super::{Dns, LookupError};
use crate::config::Config;

/// The _mta-sts TXT record: present with an id, or what to publish to have one.
pub async fn mta_sts(cfg: &Config, dns: &Dns, domain: &str) -> Check {
    let name = format!("_mta-sts.{domain}");
    let found = match published(dns, &name, "v=STSv1", "MTA-STS").await {
        Ok(f) => f,
        Err(warn) => return warn,
    };
    if found.len() > 1 {
        let mut c = check(
            "MTA-STS",
            Verdict::Fail,
            format!(
                "{name} has {} v=STSv1 records: receivers ignore them all; keep one",
                found.len()
            ),
        );
        c.found = found;
        return c;
    }
    if let Some(r) = found.first() {
        let has_id = r.split(';').any(|f| f.trim().starts_with("id="));
        let mut c = if has_id {
            check(
                "MTA-STS",
                Verdict::Pass,
                format!("{name} is published; change its id whenever you change the policy file"),
            )
        } else {
            check(
                "MTA-STS",
                Verdict::Fail,
                format!("{name} has no id=: receivers ignore it"),
            )
        };
        c.found = found;
        return c;
    }
    let host = &cfg.hostname;
    let mut c = check(
        "MTA-STS",
        Verdict::Info,
        format!(
            "optional: with MTA-STS, servers sending to {domain} must use TLS with a valid \
             certificate for {host}, so nobody between them and you can read or divert the mail. \
             It needs a web server for https://mta-sts.{domain}/ with a real certificate \
             (start with mode: testing; switch to enforce once TLS-RPT reports are clean)"
        ),
    );
    c.fix = vec![
        format!(
            "_mta-sts.{domain}. 3600 IN TXT \"v=STSv1; id={}\"",
            today_id()
        ),
        format!("mta-sts.{domain}. 3600 IN CNAME {host}."),
        format!(
            "(file https://mta-sts.{domain}/.well-known/mta-sts.txt) version: STSv1 | mode: \
             testing | mx: {host} | max_age: 604800"
        ),
    ];
    c
}

/// The _smtp._tls TXT record (RFC 8460): where other servers send their TLS reports.
pub async fn tls_rpt(dns: &Dns, domain: &str) -> Check {
    let name = format!("_smtp._tls.{domain}");
    let found = match published(dns, &name, "v=TLSRPTv1", "TLS-RPT").await {
        Ok(f) => f,
        Err(warn) => return warn,
    };
    if let Some(r) = found.first() {
        let mut c = if r.contains("rua=") {
            check(
                "TLS-RPT",
                Verdict::Pass,
                format!("{name} is published: servers report TLS problems they meet"),
            )
        } else {
            check(
                "TLS-RPT",
                Verdict::Fail,
                format!("{name} has no rua=: nobody gets the reports"),
            )
        };
        c.found = found;
        return c;
    }
    let mut c = check(
        "TLS-RPT",
        Verdict::Info,
        format!(
            "optional: asks servers that send to {domain} for a daily report of TLS problems \
             they met (a certificate about to expire, an attack), to tls-reports@{domain}"
        ),
    );
    c.fix = vec![format!(
        "_smtp._tls.{domain}. 3600 IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@{domain}\""
    )];
    c
}

/// The TXT records of `name` that start with `prefix` (none when the name does not exist);
/// the Warn line of `label` when DNS did not answer.
async fn published(dns: &Dns, name: &str, prefix: &str, label: &str) -> Result<Vec<String>, Check> {
    match dns.txt(name).await {
        Ok(t) => Ok(t
            .into_iter()
            .filter(|r| r.trim_start().starts_with(prefix))
            .collect()),
        Err(LookupError::Temporary(e)) => Err(check(
            label,
            Verdict::Warn,
            format!("could not look up {name}: {e}"),
        )),
        Err(_) => Ok(Vec::new()),
    }
}

/// A policy id from today's date (any letters and digits do; a date says when it changed).
fn today_id() -> String {
    let (y, m, d) = crate::util::civil_from_days(crate::store::now().div_euclid(86_400));
    format!("{y}{m:02}{d:02}")
}
