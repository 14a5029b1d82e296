//! DNS for outbound mail and the setup check: one resolver (hickory, through mail-auth so that
//! SPF and DKIM use the same name servers and cache), with answers sorted into what delivery
//! needs to decide: records, no records, no such domain, or try again later.

pub mod check;
mod check_dane;
mod check_sts;
pub mod secure;

use crate::config::DnsConfig;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use mail_auth::MessageAuthenticator;
use std::net::IpAddr;
use std::time::Duration;

/// Why a look-up gave no records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// NXDOMAIN: the name does not exist.
    NoSuchName,
    /// The name exists but has no record of that type.
    NoRecords,
    /// Time-out, SERVFAIL, network: the answer may differ later.
    Temporary(String),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::NoSuchName => f.write_str("no such domain"),
            LookupError::NoRecords => f.write_str("no records"),
            LookupError::Temporary(e) => write!(f, "DNS failure: {e}"),
        }
    }
}

/// The MX answer for a domain (RFC 5321 5.1, RFC 7505).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mx {
    /// (preference, host) as published, host without the trailing dot.
    Hosts(Vec<(u16, String)>),
    /// A single MX of "." : the domain accepts no mail.
    Null,
    /// No MX records: the domain's own address is the implicit MX.
    Implicit,
}

pub struct Dns {
    auth: MessageAuthenticator,
    secure: secure::SecureDns,
}

pub use crate::config::parse_nameserver;

impl Dns {
    /// The resolver delivery uses: 5 s per try, two tries.
    pub fn new(cfg: &DnsConfig) -> Result<Dns, String> {
        Dns::with_patience(cfg, Duration::from_secs(5), 2)
    }

    /// A resolver that gives up sooner, for a person waiting at the setup check.
    pub fn impatient(cfg: &DnsConfig) -> Result<Dns, String> {
        Dns::with_patience(cfg, Duration::from_secs(2), 2)
    }

    /// The resolver of the arrival checks: "no such name" is believed for a minute even when
    /// the answer carries no SOA to say how long (dnsmasq's local zones, some home routers),
    /// since every message asks for names that mostly do not exist (_dmarc of the parent
    /// domain, DNS list entries).
    pub fn for_checks(cfg: &DnsConfig) -> Result<Dns, String> {
        Dns::build(
            cfg,
            Duration::from_secs(3),
            2,
            Some(Duration::from_secs(60)),
        )
    }

    fn with_patience(cfg: &DnsConfig, timeout: Duration, attempts: usize) -> Result<Dns, String> {
        Dns::build(cfg, timeout, attempts, None)
    }

    fn build(
        cfg: &DnsConfig,
        timeout: Duration,
        attempts: usize,
        negative_min_ttl: Option<Duration>,
    ) -> Result<Dns, String> {
        let config = if cfg.nameservers.is_empty() {
            match hickory_resolver::system_conf::read_system_conf() {
                Ok((c, _)) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "no system DNS configuration; set dns.nameservers");
                    ResolverConfig::from_parts(None, vec![], vec![])
                }
            }
        } else {
            let mut servers = Vec::new();
            for ns in &cfg.nameservers {
                let addr = parse_nameserver(ns)?;
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                server.connections = vec![udp, tcp];
                servers.push(server);
            }
            ResolverConfig::from_parts(None, vec![], servers)
        };
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = attempts;
        opts.ndots = 0;
        opts.negative_min_ttl = negative_min_ttl;
        // Mail routing follows DNS alone, as Postfix's smtp_host_lookup = dns does.
        opts.use_hosts_file = ResolveHosts::Never;
        let auth = MessageAuthenticator::new(config, opts).map_err(|e| e.to_string())?;
        let secure = secure::SecureDns::new(cfg, timeout);
        Ok(Dns { auth, secure })
    }

    /// Look-ups whose DNSSEC status counts (DANE).
    pub fn secure(&self) -> &secure::SecureDns {
        &self.secure
    }

    /// For SPF, DKIM and DMARC evaluation with the same name servers.
    pub fn authenticator(&self) -> &MessageAuthenticator {
        &self.auth
    }

    pub async fn mx(&self, domain: &str) -> Result<Mx, LookupError> {
        let records = match self.records(domain, RecordType::MX).await {
            Ok(r) => r,
            Err(LookupError::NoRecords) => return Ok(Mx::Implicit),
            Err(e) => return Err(e),
        };
        let mut hosts: Vec<(u16, String)> = records
            .into_iter()
            .filter_map(|r| match r {
                RData::MX(mx) => Some((mx.preference, host_name(&mx.exchange.to_ascii()))),
                _ => None,
            })
            .collect();
        if hosts.is_empty() {
            return Ok(Mx::Implicit);
        }
        if hosts.len() == 1 && hosts[0].1.is_empty() {
            return Ok(Mx::Null);
        }
        hosts.retain(|(_, h)| !h.is_empty());
        hosts.sort();
        Ok(Mx::Hosts(hosts))
    }

    /// A and AAAA of `host`, IPv4 first.
    pub async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
        let (v4, v6) = tokio::join!(
            self.records(host, RecordType::A),
            self.records(host, RecordType::AAAA)
        );
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for answer in [v4, v6] {
            match answer {
                Ok(records) => out.extend(records.into_iter().filter_map(|r| match r {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                    _ => None,
                })),
                Err(e) => errors.push(e),
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
        // Both failed: the most telling reason wins.
        if let Some(t) = errors
            .iter()
            .find(|e| matches!(e, LookupError::Temporary(_)))
        {
            return Err(t.clone());
        }
        if errors.contains(&LookupError::NoSuchName) {
            return Err(LookupError::NoSuchName);
        }
        Err(LookupError::NoRecords)
    }

    /// Each TXT record as one string (its character-strings joined).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let records = self.records(name, RecordType::TXT).await?;
        Ok(records
            .into_iter()
            .filter_map(|r| match r {
                RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }

    pub async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, LookupError> {
        let records = self.records(&reverse_name(ip), RecordType::PTR).await?;
        Ok(records
            .into_iter()
            .filter_map(|r| match r {
                RData::PTR(p) => Some(host_name(&p.0.to_ascii())),
                _ => None,
            })
            .collect())
    }

    async fn records(&self, name: &str, kind: RecordType) -> Result<Vec<RData>, LookupError> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.auth.resolver().lookup(fqdn.as_str(), kind).await {
            Ok(lookup) => {
                let data: Vec<RData> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() == kind)
                    .map(|r| r.data.clone())
                    .collect();
                if data.is_empty() {
                    Err(LookupError::NoRecords)
                } else {
                    Ok(data)
                }
            }
            Err(e) => Err(classify(&e)),
        }
    }
}

fn classify(e: &NetError) -> LookupError {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => {
            if nr.response_code == ResponseCode::NXDomain {
                LookupError::NoSuchName
            } else {
                LookupError::NoRecords
            }
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => LookupError::NoSuchName,
        other => LookupError::Temporary(other.to_string()),
    }
}

/// "mx.example.com." → "mx.example.com", "." → "".
fn host_name(ascii: &str) -> String {
    ascii.trim_end_matches('.').to_ascii_lowercase()
}

/// The in-addr.arpa / ip6.arpa name of an address.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_with_and_without_port() {
        assert_eq!(
            parse_nameserver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_nameserver("::1").unwrap().port(), 53);
        assert!(parse_nameserver("dns.example").is_err());
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.10".parse().unwrap()),
            "10.2.0.192.in-addr.arpa"
        );
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.") && v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"));
    }
}
