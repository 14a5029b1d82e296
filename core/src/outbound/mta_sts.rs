//! MTA-STS (RFC 8461) for direct delivery: the _mta-sts TXT record says a policy exists and
//! its id; the policy comes from https://mta-sts.DOMAIN/.well-known/mta-sts.txt and is kept
//! for its max_age; in "enforce" mode only the MX hosts it names are used, over TLS with a
//! certificate that is valid for the host.

use crate::config::Config;
use crate::dns::{Dns, LookupError};
use crate::store::Store;
use crate::store::mta_sts::{self as cache, CachedPolicy};
use std::time::Duration;

/// The longest max_age honoured (RFC 8461 3.2: one year).
const MAX_AGE: u64 = 31_557_600;
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub domain: String,
    pub mode: Mode,
    /// "mx1.example.net", "*.example.net"
    pub mx: Vec<String>,
    pub max_age: u64,
}

impl Policy {
    /// Whether the policy allows delivery to this MX host (RFC 8461 4.1: a wildcard stands
    /// for exactly one leftmost label).
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|p| match p.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => *p == host,
        })
    }

    /// For the log and the queue's reasons: "MTA-STS policy of example.net (enforce)".
    pub fn describe(&self) -> String {
        format!("MTA-STS policy of {} ({})", self.domain, self.mode.as_str())
    }
}

/// The id of the one valid "v=STSv1" record among the TXT strings; None when there is none
/// (or more than one, which RFC 8461 3.1 says to treat as none).
pub fn record_id(records: &[String]) -> Option<String> {
    let mut found = records
        .iter()
        .filter(|r| r.trim_start().starts_with("v=STSv1"));
    let one = found.next()?;
    if found.next().is_some() {
        return None;
    }
    one.split(';').find_map(|field| {
        let (k, v) = field.split_once('=')?;
        let v = v.trim();
        let valid = (1..=32).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric());
        (k.trim() == "id" && valid).then(|| v.to_string())
    })
}

/// The policy file (RFC 8461 3.2), lines of "key: value".
pub fn parse(domain: &str, text: &str) -> Result<Policy, String> {
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    for line in text.lines().take(1000) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "version" => version = Some(v.to_string()),
            "mode" => {
                mode = Some(match v {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => return Err(format!("unknown mode '{other}'")),
                })
            }
            "max_age" => {
                max_age = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("max_age '{v}' is not a number"))?
                        .min(MAX_AGE),
                )
            }
            "mx" => mx.push(v.trim_end_matches('.').to_ascii_lowercase()),
            _ => {}
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err("the policy does not say version: STSv1".into());
    }
    let mode = mode.ok_or("the policy has no mode")?;
    let max_age = max_age.ok_or("the policy has no max_age")?;
    if mode != Mode::None && mx.is_empty() {
        return Err("the policy names no mx".into());
    }
    Ok(Policy {
        domain: domain.to_string(),
        mode,
        mx,
        max_age,
    })
}

/// The policy file of `domain`, fetched now and parsed, with its text.
pub async fn fetch(dns: &Dns, cfg: &Config, domain: &str) -> Result<(Policy, String), String> {
    let ca = (!cfg.queue.ca_file.is_empty()).then_some(cfg.queue.ca_file.as_str());
    let host = format!("mta-sts.{domain}");
    let text = super::https::get(dns, &host, "/.well-known/mta-sts.txt", ca, FETCH_TIMEOUT).await?;
    let p = parse(domain, &text)?;
    Ok((p, text))
}

/// The policy that applies to mail for `domain`, None when it has none (or none could be
/// learned and none is kept). Errors of the look-up are logged, never fatal: RFC 8461 5.1
/// falls back to the kept policy, then to delivery as without MTA-STS.
pub async fn policy(store: &Store, dns: &Dns, cfg: &Config, domain: &str) -> Option<Policy> {
    if !cfg.queue.mta_sts || domain.starts_with('[') {
        return None;
    }
    let d = domain.to_string();
    let kept = store.read(|tx| cache::get(tx, &d)).ok().flatten();
    let now = crate::store::now();
    let kept = kept.filter(|k| k.expires > now);
    let id = match dns.txt(&format!("_mta-sts.{domain}")).await {
        Ok(records) => record_id(&records),
        Err(LookupError::NoSuchName | LookupError::NoRecords) => None,
        Err(LookupError::Temporary(e)) => {
            tracing::info!(domain, error = %e, "MTA-STS record not readable; using the kept policy if any");
            return kept.and_then(|k| parse(domain, &k.text).ok());
        }
    };
    let Some(id) = id else {
        // No record: a kept policy still holds until it lapses (RFC 8461 3.1, 5.1).
        return kept.and_then(|k| parse(domain, &k.text).ok());
    };
    // Unchanged and fresh: kept as it is. Past half its max_age it is fetched again, so that
    // a policy in use never lapses (RFC 8461 5.1); if that fails, the kept one still holds.
    if let Some(k) = &kept
        && k.id == id
        && let Ok(p) = parse(domain, &k.text)
        && now - k.fetched < (p.max_age / 2) as i64
    {
        return Some(p);
    }
    match fetch(dns, cfg, domain).await {
        Ok((p, text)) => {
            tracing::info!(domain, id, mode = p.mode.as_str(), mx = %p.mx.join(" "),
                max_age = p.max_age, "MTA-STS policy fetched");
            let entry = CachedPolicy {
                id,
                text,
                fetched: now,
                expires: now + p.max_age as i64,
            };
            let d = domain.to_string();
            if let Err(e) = store
                .write_async(Vec::new(), move |tx| cache::put(tx, &d, &entry))
                .await
            {
                tracing::warn!(domain = %domain, error = %e, "MTA-STS policy not kept");
            }
            Some(p)
        }
        Err(e) => {
            tracing::warn!(domain, error = %e, "MTA-STS policy not fetched; using the kept policy if any");
            kept.and_then(|k| parse(domain, &k.text).ok())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let r = |v: &[&str]| record_id(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(r(&["v=STSv1; id=20261201T1;"]), Some("20261201T1".into()));
        assert_eq!(r(&["v=spf1 -all", "v=STSv1; id=abc"]), Some("abc".into()));
        assert_eq!(r(&["v=STSv1; id=a", "v=STSv1; id=b"]), None);
        assert_eq!(r(&["v=STSv1; id=not-valid!"]), None);
        assert_eq!(r(&[]), None);
    }

    #[test]
    fn policies() {
        let p = parse(
            "example.net",
            "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.net\r\nmx: *.backup.example.net\r\nmax_age: 86400\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert!(p.allows("mx1.example.net"));
        assert!(p.allows("MX1.example.net."));
        assert!(p.allows("a.backup.example.net"));
        assert!(!p.allows("a.b.backup.example.net"));
        assert!(!p.allows("backup.example.net"));
        assert!(!p.allows("mx2.example.net"));
        assert_eq!(p.describe(), "MTA-STS policy of example.net (enforce)");
        assert!(parse("x", "version: STSv1\nmode: enforce\nmax_age: 1\n").is_err());
        assert!(parse("x", "mode: enforce\nmx: a\nmax_age: 1\n").is_err());
        assert!(parse("x", "version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n").is_err());
        let long = parse(
            "x",
            "version: STSv1\nmode: testing\nmx: a\nmax_age: 999999999999\n",
        );
        assert_eq!(long.unwrap().max_age, MAX_AGE);
    }
}
