//! The checks of the client itself, before any message: the DNS block and allow lists.

use crate::config::Config;
use crate::context::Shared;
use crate::protect::dnsbl;
use std::net::IpAddr;
use std::time::Duration;

/// None when the client may go on; the RCPT reply when its lists refuse it.
pub async fn dns_lists(shared: &Shared, cfg: &Config, ip: IpAddr) -> Option<String> {
    let p = &cfg.protection;
    if p.dnsbl.is_empty() {
        return None;
    }
    let ip = ip.to_canonical();
    let exempt = p
        .dnsbl_exempt_networks
        .iter()
        .any(|n| crate::netaddr::Network::parse(n).is_ok_and(|n| n.contains(ip)));
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
