//! The setup check: what a domain's DNS must say for its mail to arrive here and for mail sent
//! from here to be trusted, each with a verdict, a reason in plain words and, when something is
//! missing or wrong, the zone-file line to publish.

use super::{Dns, LookupError, Mx};
use crate::config::Config;
use crate::protect::authenticate::spf_word;
use crate::store::dkim::DkimKey;
use mail_auth::SpfResult;
use mail_auth::spf::verify::SpfParameters;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    Info,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    /// "MX", "A", "PTR", "DANE", "SPF", "DKIM", "DMARC", "MTA-STS", "TLS-RPT".
    pub name: String,
    pub verdict: Verdict,
    pub reason: String,
    /// The zone-file line(s) to publish, when something is missing or wrong.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub fix: Vec<String>,
    /// What was found (records as published).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub found: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainReport {
    pub domain: String,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortRow {
    pub service: String,
    pub standard_port: u16,
    /// Where Roost listens for it.
    pub addresses: Vec<String>,
    pub listening: bool,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub hostname: String,
    pub public_ip: Option<String>,
    /// "configured", "detected" or "unknown".
    pub public_ip_source: String,
    /// The host's own records: the FQDN's address and the address's reverse name.
    pub host: Vec<Check>,
    pub domains: Vec<DomainReport>,
    pub ports: Vec<PortRow>,
}

impl Report {
    pub fn worst(&self) -> Verdict {
        let all = self
            .host
            .iter()
            .chain(self.domains.iter().flat_map(|d| d.checks.iter()));
        let mut worst = Verdict::Pass;
        for c in all {
            match c.verdict {
                Verdict::Fail => return Verdict::Fail,
                Verdict::Warn => worst = Verdict::Warn,
                _ => {}
            }
        }
        worst
    }
}

pub(super) fn check(name: &str, verdict: Verdict, reason: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        verdict,
        reason: reason.into(),
        fix: Vec::new(),
        found: Vec::new(),
    }
}

/// Runs the whole check. `keys` are the stored DKIM keys of `domains`.
pub async fn run(cfg: &Config, dns: &Dns, domains: &[String], keys: &[DkimKey]) -> Report {
    let (public_ip, source) = public_ip(cfg);
    let all_domains = async {
        let mut reports = Vec::new();
        for d in domains {
            let key = keys.iter().find(|k| k.domain.eq_ignore_ascii_case(d));
            reports.push(DomainReport {
                domain: d.clone(),
                checks: domain_checks(cfg, dns, d, public_ip, key).await,
            });
        }
        reports
    };
    let (mut host, reports, ports, dane) = tokio::join!(
        host_checks(cfg, dns, public_ip),
        all_domains,
        ports(cfg),
        super::check_dane::dane(cfg, dns)
    );
    if cfg.hostname.contains('.') {
        host.push(dane);
    }
    Report {
        hostname: cfg.hostname.clone(),
        public_ip: public_ip.map(|ip| ip.to_string()),
        public_ip_source: source.into(),
        host,
        domains: reports,
        ports,
    }
}

/// The configured public address, else the first global address of an interface.
pub fn public_ip(cfg: &Config) -> (Option<IpAddr>, &'static str) {
    if let Ok(ip) = cfg.dns.public_ip.parse::<IpAddr>() {
        return (Some(ip), "configured");
    }
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return (None, "unknown");
    };
    let mut found: Vec<IpAddr> = addrs
        .filter_map(|a| a.address)
        .filter_map(|s| {
            s.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .filter(is_global)
        .collect();
    found.sort_by_key(|ip| ip.is_ipv6());
    match found.first() {
        Some(ip) => (Some(*ip), "detected"),
        None => (None, "unknown"),
    }
}

fn is_global(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_documentation()
                || o[0] == 100 && (o[1] & 0xc0) == 64 // carrier-grade NAT
                || o[0] >= 224)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

fn a_record(name: &str, ip: IpAddr) -> String {
    let kind = if ip.is_ipv4() { "A" } else { "AAAA" };
    format!("{name}. 3600 IN {kind} {ip}")
}

async fn host_checks(cfg: &Config, dns: &Dns, public_ip: Option<IpAddr>) -> Vec<Check> {
    let host = &cfg.hostname;
    let mut out = Vec::new();
    if !host.contains('.') {
        let mut c = check(
            "A",
            Verdict::Fail,
            format!(
                "the host name '{host}' is not fully qualified: other servers need a name like \
                 mail.example.com; set hostname in the configuration"
            ),
        );
        c.fix
            .push("hostname = \"mail.example.com\"   # in roost.toml".into());
        out.push(c);
        return out;
    }
    let Some(ip) = public_ip else {
        out.push(check(
            "A",
            Verdict::Warn,
            "the public address of this server is unknown (no global address on its interfaces, \
             as behind a router): set dns.public_ip to the address your router has on the \
             internet, then check again",
        ));
        return out;
    };
    let forward = dns.ips(host).await;
    let mut a = match &forward {
        Ok(ips) if ips.contains(&ip) => check(
            "A",
            Verdict::Pass,
            format!("{host} resolves to {ip}, this server's public address"),
        ),
        Ok(ips) => {
            let mut c = check(
                "A",
                Verdict::Fail,
                format!(
                    "{host} resolves to {}, not to this server's public address {ip}: other \
                     servers would deliver to the wrong machine",
                    join(ips)
                ),
            );
            c.fix.push(a_record(host, ip));
            c
        }
        Err(LookupError::Temporary(e)) => {
            check("A", Verdict::Warn, format!("could not look up {host}: {e}"))
        }
        Err(_) => {
            let mut c = check(
                "A",
                Verdict::Fail,
                format!("{host} has no address record: other servers cannot find this one"),
            );
            c.fix.push(a_record(host, ip));
            c
        }
    };
    if let Ok(ips) = &forward {
        a.found = ips.iter().map(|i| i.to_string()).collect();
    }
    out.push(a);

    let reverse = super::reverse_name(ip);
    let ptr_fix = format!(
        "{reverse}. 3600 IN PTR {host}.   (only the owner of {ip}, usually your internet \
         provider, can publish this: ask them to set the reverse DNS of {ip} to {host})"
    );
    let mut p = match dns.ptr(ip).await {
        Ok(names) if names.iter().any(|n| n.eq_ignore_ascii_case(host)) => {
            let confirmed = matches!(&forward, Ok(ips) if ips.contains(&ip));
            let mut c = if confirmed {
                check(
                    "PTR",
                    Verdict::Pass,
                    format!(
                        "the reverse name of {ip} is {host}, and {host} resolves back to {ip} \
                         (forward-confirmed): receiving servers trust this"
                    ),
                )
            } else {
                check(
                    "PTR",
                    Verdict::Fail,
                    format!(
                        "the reverse name of {ip} is {host}, but {host} does not resolve back \
                         to {ip}; many servers refuse mail from such an address"
                    ),
                )
            };
            c.found = names;
            c
        }
        Ok(names) => {
            let mut c = check(
                "PTR",
                Verdict::Fail,
                format!(
                    "the reverse name of {ip} is {}, not {host}: many servers (Gmail, Outlook) \
                     refuse or junk mail from an address whose reverse name does not match",
                    names.join(", ")
                ),
            );
            c.found = names;
            c.fix.push(ptr_fix);
            c
        }
        Err(LookupError::Temporary(e)) => check(
            "PTR",
            Verdict::Warn,
            format!("could not look up the reverse name of {ip}: {e}"),
        ),
        Err(_) => {
            let mut c = check(
                "PTR",
                Verdict::Fail,
                format!(
                    "{ip} has no reverse name: many servers refuse mail from an address without \
                     one"
                ),
            );
            c.fix.push(ptr_fix);
            c
        }
    };
    p.name = "PTR".into();
    out.push(p);
    out
}

async fn mx_check(cfg: &Config, dns: &Dns, domain: &str) -> Check {
    let host = &cfg.hostname;
    let mx_fix = format!("{domain}. 3600 IN MX 10 {host}.");
    match dns.mx(domain).await {
        Ok(Mx::Hosts(list)) => {
            let found: Vec<String> = list.iter().map(|(p, h)| format!("{p} {h}")).collect();
            let ours = list.iter().find(|(_, h)| h.eq_ignore_ascii_case(host));
            let best = list.iter().map(|(p, _)| *p).min().unwrap_or(0);
            let mut c = match ours {
                Some((p, _)) if *p == best => check(
                    "MX",
                    Verdict::Pass,
                    format!(
                        "mail for {domain} is delivered to this server ({host}, priority {p}){}",
                        backups(&list, host)
                    ),
                ),
                Some((p, _)) => check(
                    "MX",
                    Verdict::Warn,
                    format!(
                        "this server ({host}) is only a backup MX for {domain} (priority {p}); \
                         mail first goes to {}",
                        list.iter()
                            .filter(|(q, _)| *q < *p)
                            .map(|(q, h)| format!("{h} (priority {q})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                None => {
                    let mut c = check(
                        "MX",
                        Verdict::Fail,
                        format!(
                            "the MX records of {domain} point to other servers, not to {host}: \
                             mail for {domain} does not arrive here"
                        ),
                    );
                    c.fix.push(mx_fix.clone());
                    c
                }
            };
            c.found = found;
            c
        }
        Ok(Mx::Null) => {
            let mut c = check(
                "MX",
                Verdict::Fail,
                format!(
                    "{domain} publishes a null MX (\"0 .\"): it tells the world it accepts no mail"
                ),
            );
            c.fix.push(format!("(remove the null MX) {mx_fix}"));
            c
        }
        Ok(Mx::Implicit) | Err(LookupError::NoRecords) => {
            let mut c = check(
                "MX",
                Verdict::Fail,
                format!(
                    "{domain} has no MX record: other servers do not know that its mail goes to \
                     {host}"
                ),
            );
            c.fix.push(mx_fix.clone());
            c
        }
        Err(LookupError::NoSuchName) => {
            let mut c = check(
                "MX",
                Verdict::Fail,
                format!(
                    "{domain} does not exist in DNS: register it, or publish its zone at your \
                     DNS provider"
                ),
            );
            c.fix.push(mx_fix.clone());
            c
        }
        Err(LookupError::Temporary(e)) => check(
            "MX",
            Verdict::Warn,
            format!("could not look up the MX of {domain}: {e}"),
        ),
    }
}

/// Every check of one domain, looked up at the same time (a dead name server costs one
/// time-out, not one per record).
async fn domain_checks(
    cfg: &Config,
    dns: &Dns,
    domain: &str,
    public_ip: Option<IpAddr>,
    key: Option<&DkimKey>,
) -> Vec<Check> {
    let (mx, spf, dkim, dmarc, sts, rpt) = tokio::join!(
        mx_check(cfg, dns, domain),
        spf(cfg, dns, domain, public_ip),
        dkim(dns, domain, key),
        txt_policy(
            dns,
            format!("_dmarc.{domain}"),
            "v=DMARC1",
            "DMARC",
            Verdict::Warn,
            format!(
                "_dmarc.{domain}. 3600 IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@{domain}\""
            ),
            "tells receivers what to do with mail that fails SPF and DKIM; without it, Gmail and \
             Yahoo treat mail from bulk senders as suspect",
        ),
        super::check_sts::mta_sts(cfg, dns, domain),
        super::check_sts::tls_rpt(dns, domain),
    );
    vec![mx, spf, dkim, dmarc, sts, rpt]
}

fn backups(list: &[(u16, String)], host: &str) -> String {
    let others: Vec<String> = list
        .iter()
        .filter(|(_, h)| !h.eq_ignore_ascii_case(host))
        .map(|(p, h)| format!("{h} (priority {p})"))
        .collect();
    if others.is_empty() {
        String::new()
    } else {
        format!("; backup MX: {}", others.join(", "))
    }
}

async fn spf(cfg: &Config, dns: &Dns, domain: &str, public_ip: Option<IpAddr>) -> Check {
    let records: Vec<String> = match dns.txt(domain).await {
        Ok(t) => t
            .into_iter()
            .filter(|r| r.to_ascii_lowercase().starts_with("v=spf1"))
            .collect(),
        Err(LookupError::Temporary(e)) => {
            return check(
                "SPF",
                Verdict::Warn,
                format!("could not look up TXT of {domain}: {e}"),
            );
        }
        Err(_) => Vec::new(),
    };
    let suggested = match public_ip {
        Some(IpAddr::V4(ip)) => format!("{domain}. 3600 IN TXT \"v=spf1 mx ip4:{ip} ~all\""),
        Some(IpAddr::V6(ip)) => format!("{domain}. 3600 IN TXT \"v=spf1 mx ip6:{ip} ~all\""),
        None => format!("{domain}. 3600 IN TXT \"v=spf1 mx ~all\""),
    };
    if records.is_empty() {
        let mut c = check(
            "SPF",
            Verdict::Fail,
            format!(
                "{domain} has no SPF record: receivers cannot tell that this server may send its \
                 mail, and often junk it"
            ),
        );
        c.fix.push(suggested);
        return c;
    }
    if records.len() > 1 {
        let mut c = check(
            "SPF",
            Verdict::Fail,
            format!(
                "{domain} has {} SPF records; only one is allowed (RFC 7208 4.5), so all are ignored",
                records.len()
            ),
        );
        c.found = records;
        c.fix.push(format!("(merge them into one) {suggested}"));
        return c;
    }
    let Some(ip) = public_ip else {
        let mut c = check(
            "SPF",
            Verdict::Warn,
            "SPF record found, but the public address is unknown, so it cannot be evaluated",
        );
        c.found = records;
        return c;
    };
    let sender = format!("postmaster@{domain}");
    let out = dns
        .authenticator()
        .verify_spf(SpfParameters::verify_mail_from(
            ip,
            &cfg.hostname,
            &cfg.hostname,
            &sender,
        ))
        .await;
    let mut c = match out.result() {
        SpfResult::Pass => check(
            "SPF",
            Verdict::Pass,
            format!("the SPF record of {domain} permits {ip} (evaluated: pass)"),
        ),
        SpfResult::Fail | SpfResult::SoftFail => {
            let mut c = check(
                "SPF",
                Verdict::Fail,
                format!(
                    "the SPF record of {domain} does not permit {ip} (evaluated: {}): receivers \
                     will junk or refuse mail sent from here",
                    spf_word(out.result())
                ),
            );
            c.fix.push(format!(
                "(add ip{}:{ip} or mx) {suggested}",
                if ip.is_ipv4() { 4 } else { 6 }
            ));
            c
        }
        SpfResult::Neutral | SpfResult::None => {
            let mut c = check(
                "SPF",
                Verdict::Warn,
                format!(
                    "the SPF record of {domain} says nothing about {ip} (evaluated: {})",
                    spf_word(out.result())
                ),
            );
            c.fix.push(suggested);
            c
        }
        SpfResult::TempError => check(
            "SPF",
            Verdict::Warn,
            format!("the SPF record of {domain} could not be evaluated now (temporary DNS error)"),
        ),
        SpfResult::PermError => {
            let mut c = check(
                "SPF",
                Verdict::Fail,
                format!(
                    "the SPF record of {domain} is broken (evaluated: permerror), so receivers \
                     ignore it"
                ),
            );
            c.fix.push(suggested);
            c
        }
    };
    c.found = records;
    c
}

async fn dkim(dns: &Dns, domain: &str, key: Option<&DkimKey>) -> Check {
    use crate::dkim::{record_name, zone_line};
    let Some(key) = key else {
        let mut c = check(
            "DKIM",
            Verdict::Warn,
            format!(
                "{domain} has no DKIM key yet: mail from it leaves unsigned; make one with \
                 `roost dkim generate {domain}` and publish the record it prints"
            ),
        );
        c.fix.push(format!("roost dkim generate {domain}"));
        return c;
    };
    let name = record_name(key);
    let records = match dns.txt(&name).await {
        Ok(t) => t,
        Err(LookupError::Temporary(e)) => {
            return check(
                "DKIM",
                Verdict::Warn,
                format!("could not look up {name}: {e}"),
            );
        }
        Err(_) => Vec::new(),
    };
    let published: Vec<String> = records
        .iter()
        .filter_map(|r| tag(r, "p"))
        .map(|p| p.split_whitespace().collect::<String>())
        .collect();
    let mut c = if published.contains(&key.public_key) {
        check(
            "DKIM",
            Verdict::Pass,
            format!("{name} publishes the key Roost signs {domain}'s mail with"),
        )
    } else if records.is_empty() {
        let mut c = check(
            "DKIM",
            Verdict::Fail,
            format!("{name} is not published: receivers cannot verify the signatures"),
        );
        c.fix.push(zone_line(key));
        c
    } else {
        let mut c = check(
            "DKIM",
            Verdict::Fail,
            format!(
                "{name} publishes a different key from the one Roost signs with: every \
                 signature fails"
            ),
        );
        c.fix.push(zone_line(key));
        c
    };
    c.found = records;
    c
}

/// The value of `name=` in a tag list ("v=DKIM1; k=rsa; p=…").
fn tag<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    record.split(';').find_map(|t| {
        let (k, v) = t.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn txt_policy(
    dns: &Dns,
    name: String,
    prefix: &str,
    label: &str,
    missing: Verdict,
    fix: String,
    why: &str,
) -> Check {
    let name = name.as_str();
    match dns.txt(name).await {
        Ok(t) => {
            let found: Vec<String> = t
                .into_iter()
                .filter(|r| {
                    r.to_ascii_lowercase()
                        .starts_with(&prefix.to_ascii_lowercase())
                })
                .collect();
            if !found.is_empty() {
                let verdict = if missing == Verdict::Info {
                    Verdict::Info
                } else {
                    Verdict::Pass
                };
                let mut c = check(label, verdict, format!("{name} is published"));
                c.found = found;
                return c;
            }
        }
        Err(LookupError::Temporary(e)) => {
            return check(
                label,
                Verdict::Warn,
                format!("could not look up {name}: {e}"),
            );
        }
        Err(_) => {}
    }
    let mut c = check(label, missing, format!("{name} is not published: {why}"));
    if !fix.is_empty() {
        c.fix.push(fix);
    }
    c
}

fn join(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn ports(cfg: &Config) -> Vec<PortRow> {
    let addrs = cfg.listen_addrs();
    let mut out = Vec::new();
    for svc in crate::firewall::MAIL_SERVICES {
        let (service, standard) = (svc.name, svc.port);
        let mine: Vec<SocketAddr> = addrs
            .iter()
            .filter(|(s, _)| s == service)
            .map(|(_, a)| *a)
            .collect();
        let mut listening = false;
        for a in &mine {
            if probe(*a).await {
                listening = true;
                break;
            }
        }
        let port = mine.first().map(|a| a.port());
        let note = match port {
            None => "not configured".to_string(),
            Some(p) if p == standard => format!("router: forward TCP {standard} to this server"),
            Some(p) => format!(
                "router: forward TCP {standard} to this server's port {p} (or let the package's \
                 firewall rules redirect {standard} to {p})"
            ),
        };
        out.push(PortRow {
            service: service.into(),
            standard_port: standard,
            addresses: mine.iter().map(|a| a.to_string()).collect(),
            listening,
            note,
        });
    }
    out
}

/// Whether something accepts connections at `addr` (a wildcard address is tried on loopback).
async fn probe(addr: SocketAddr) -> bool {
    let target = if addr.ip().is_unspecified() {
        let lo: IpAddr = if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(lo, addr.port())
    } else {
        addr
    };
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(target)
        )
        .await,
        Ok(Ok(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_addresses() {
        assert!(is_global(&"8.8.8.8".parse().unwrap()));
        assert!(!is_global(&"192.168.1.2".parse().unwrap()));
        assert!(!is_global(&"100.64.0.1".parse().unwrap()));
        assert!(!is_global(&"127.0.0.1".parse().unwrap()));
        assert!(is_global(&"2a00:1450::1".parse().unwrap()));
        assert!(!is_global(&"fe80::1".parse().unwrap()));
        assert!(!is_global(&"2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn tags() {
        assert_eq!(tag("v=DKIM1; k=rsa; p=ABC", "p"), Some("ABC"));
        assert_eq!(tag("v=DKIM1; k=rsa", "p"), None);
    }
}
