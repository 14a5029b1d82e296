//! Where a recipient's mail goes: directly to its domain's MX hosts, or through a relay host;
//! and, for a destination, the hosts to try in order (RFC 5321 5.1).

use crate::config::{Config, RelayHost};
use crate::dns::{Dns, LookupError, Mx};
use crate::outbound::client::{Security, Verification};
use crate::outbound::mta_sts::{Mode, Policy};
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// Direct delivery to the MX hosts of this domain (lower case).
    Mx(String),
    Relay(RelayHost),
}

impl Destination {
    pub fn for_recipient(cfg: &Config, sender: &str, recipient: &str) -> Destination {
        let relay = cfg.relay.choose(sender, recipient);
        if relay.is_direct() {
            Destination::Mx(domain_of(recipient))
        } else {
            Destination::Relay(relay)
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Destination::Mx(d) => d.clone(),
            Destination::Relay(r) => format!("relay {}:{}", r.host, r.port()),
        }
    }
}

pub fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// One host to try: its name (for TLS and logs), the port, how to secure the session.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub port: u16,
    pub security: Security,
    pub verify: Verification,
    /// Relay credentials: (username, password file).
    pub login: Option<(String, String)>,
    /// What requires TLS and an authenticated certificate of this host, said as a sentence
    /// (MTA-STS or DANE).
    pub policy: Option<String>,
}

/// Why a destination has no host to try.
#[derive(Debug, Clone)]
pub enum NoRoute {
    /// The answer will not change: bounce with this status and text.
    Permanent {
        status: &'static str,
        text: String,
    },
    Temporary(String),
}

/// The hosts for `dest`, best first: MX by preference (random order among equals), the domain
/// itself when it has no MX; a relay host alone.
pub async fn hosts(
    dns: &Dns,
    cfg: &Config,
    dest: &Destination,
    sts: Option<&Policy>,
) -> Result<Vec<Host>, NoRoute> {
    let relay = match dest {
        Destination::Relay(r) => r,
        Destination::Mx(domain) => {
            let hosts = mx_hosts(dns, cfg, domain).await?;
            return match sts {
                Some(p) => enforce(cfg, p, hosts),
                None => Ok(hosts),
            };
        }
    };
    Ok(vec![Host {
        name: relay.host.clone(),
        port: relay.port(),
        security: relay.security(),
        verify: if relay.verify_certificate {
            Verification::Required {
                ca_file: (!relay.ca_file.is_empty()).then(|| relay.ca_file.clone()),
            }
        } else {
            Verification::Off
        },
        login: (!relay.username.is_empty())
            .then(|| (relay.username.clone(), relay.password_file.clone())),
        policy: None,
    }])
}

/// The MX hosts an MTA-STS policy lets mail go to: in "enforce" mode only those it names,
/// each over TLS with a valid certificate; "testing" and "none" change nothing (a host the
/// policy would refuse is logged).
fn enforce(cfg: &Config, p: &Policy, hosts: Vec<Host>) -> Result<Vec<Host>, NoRoute> {
    if p.mode != Mode::Enforce {
        for h in hosts.iter().filter(|h| !p.allows(&h.name)) {
            tracing::info!(host = %h.name, policy = %p.describe(), "MX host not in the policy (not enforced)");
        }
        return Ok(hosts);
    }
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    let ca_file = (!cfg.queue.ca_file.is_empty()).then(|| cfg.queue.ca_file.clone());
    let allowed: Vec<Host> = hosts
        .into_iter()
        .filter(|h| p.allows(&h.name))
        .map(|h| Host {
            security: Security::StartTls,
            verify: Verification::Required {
                ca_file: ca_file.clone(),
            },
            policy: Some(format!(
                "{} requires TLS with a valid certificate",
                p.describe()
            )),
            ..h
        })
        .collect();
    if allowed.is_empty() {
        return Err(NoRoute::Temporary(format!(
            "{}: none of the MX hosts ({}) is one the policy names ({})",
            p.describe(),
            names.join(", "),
            p.mx.join(", ")
        )));
    }
    Ok(allowed)
}

async fn mx_hosts(dns: &Dns, cfg: &Config, domain: &str) -> Result<Vec<Host>, NoRoute> {
    let direct = |name: String| Host {
        name,
        port: 25,
        security: Security::Opportunistic,
        verify: Verification::Opportunistic,
        login: None,
        policy: None,
    };
    // An address literal: [192.0.2.1]
    if let Some(lit) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return match lit.trim_start_matches("IPv6:").parse::<IpAddr>() {
            Ok(_) => Ok(vec![direct(lit.trim_start_matches("IPv6:").to_string())]),
            Err(_) => Err(NoRoute::Permanent {
                status: "5.1.2",
                text: format!("{domain} is not a valid address literal"),
            }),
        };
    }
    let list = match dns.mx(domain).await {
        Ok(Mx::Hosts(list)) => list,
        Ok(Mx::Implicit) => return Ok(vec![direct(domain.to_string())]),
        Ok(Mx::Null) => {
            return Err(NoRoute::Permanent {
                status: "5.1.10",
                text: format!("{domain} does not accept mail (null MX, RFC 7505)"),
            });
        }
        Err(LookupError::NoSuchName) => {
            return Err(NoRoute::Permanent {
                status: "5.1.2",
                text: format!("the domain {domain} does not exist (DNS: no such domain)"),
            });
        }
        Err(LookupError::NoRecords) => return Ok(vec![direct(domain.to_string())]),
        Err(LookupError::Temporary(e)) => {
            return Err(NoRoute::Temporary(format!(
                "cannot look up the MX of {domain}: {e}"
            )));
        }
    };
    let ordered = order_mx(list, &cfg.hostname);
    if ordered.is_empty() {
        return Err(NoRoute::Permanent {
            status: "5.4.6",
            text: format!(
                "mail for {domain} loops back to this server ({} is its best MX) but {domain} \
                 is not one of its domains",
                cfg.hostname
            ),
        });
    }
    Ok(ordered.into_iter().map(direct).collect())
}

/// Sorts by preference with equal preferences shuffled, and drops this server and every MX not
/// better than it (RFC 5321 5.1), so that a backup MX never sends mail back around.
pub fn order_mx(mut list: Vec<(u16, String)>, own_hostname: &str) -> Vec<String> {
    if let Some(own) = list
        .iter()
        .filter(|(_, h)| h.eq_ignore_ascii_case(own_hostname))
        .map(|(p, _)| *p)
        .min()
    {
        list.retain(|(p, _)| *p < own);
    }
    let mut keyed: Vec<(u16, u32, String)> = list
        .into_iter()
        .map(|(p, h)| (p, random_u32(), h))
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, _, h)| h).collect()
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_order_by_preference_and_without_self() {
        let list = vec![
            (20, "b.test".to_string()),
            (10, "a.test".to_string()),
            (30, "c.test".to_string()),
        ];
        assert_eq!(
            order_mx(list.clone(), "me.test"),
            ["a.test", "b.test", "c.test"]
        );
        assert_eq!(order_mx(list.clone(), "b.test"), ["a.test"]);
        assert!(order_mx(list, "a.test").is_empty());
        let equal = vec![(10, "x.test".to_string()), (10, "y.test".to_string())];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..64 {
            seen.insert(order_mx(equal.clone(), "me.test")[0].clone());
        }
        assert_eq!(seen.len(), 2, "equal preferences are tried in random order");
    }
}
