//! The setup check's look at a published MTA-STS policy file: fetched over HTTPS as a sending
//! server would, and read for what it makes senders do with mail for this server.

use crate::config::Config;
use crate::dns::Dns;
use crate::dns::check::{Check, Report, Verdict};
use crate::outbound::mta_sts::{self, Mode};

/// Adds a "MTA-STS policy" line to each domain whose _mta-sts record is published.
pub async fn add_policy_checks(cfg: &Config, dns: &Dns, report: &mut Report) {
    for d in &mut report.domains {
        let published = d
            .checks
            .iter()
            .any(|c| c.name == "MTA-STS" && c.verdict == Verdict::Pass);
        if published {
            let c = policy_check(cfg, dns, &d.domain).await;
            d.checks.push(c);
        }
    }
}

async fn policy_check(cfg: &Config, dns: &Dns, domain: &str) -> Check {
    let host = &cfg.hostname;
    let url = format!("https://mta-sts.{domain}/.well-known/mta-sts.txt");
    let line = |verdict, reason: String, fix: Vec<String>, found: Vec<String>| Check {
        name: "MTA-STS policy".into(),
        verdict,
        reason,
        fix,
        found,
    };
    let file = format!("version: STSv1 | mode: testing | mx: {host} | max_age: 604800");
    match mta_sts::fetch(dns, cfg, domain).await {
        Err(e) => line(
            Verdict::Fail,
            format!(
                "the record says a policy exists, but {url} cannot be read ({e}): senders that \
                 knew an earlier policy keep applying it; publish the file or remove the record"
            ),
            vec![format!("(file {url}) {file}")],
            Vec::new(),
        ),
        Ok((p, text)) => {
            let found = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
                .collect();
            match (p.mode, p.allows(host)) {
                (Mode::None, _) => line(
                    Verdict::Info,
                    "mode: none: the policy is switched off".into(),
                    Vec::new(),
                    found,
                ),
                (mode, true) => line(
                    Verdict::Pass,
                    format!(
                        "mode: {}, names {host}, kept by senders for {} s{}",
                        mode.as_str(),
                        p.max_age,
                        if mode == Mode::Testing {
                            "; switch to enforce once the TLS reports show no failures"
                        } else {
                            ""
                        }
                    ),
                    Vec::new(),
                    found,
                ),
                (mode, false) => line(
                    if mode == Mode::Enforce {
                        Verdict::Fail
                    } else {
                        Verdict::Warn
                    },
                    format!(
                        "the policy's mx lines do not name {host}: in enforce mode servers refuse \
                         to deliver {domain}'s mail here"
                    ),
                    vec![format!("(file {url}) {file}")],
                    found,
                ),
            }
        }
    }
}
