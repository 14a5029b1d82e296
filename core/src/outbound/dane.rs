//! DANE for mail leaving (RFC 7672): when DNSSEC vouches for a domain's MX answer, for an MX
//! host's addresses and for its TLSA records (`_25._tcp.HOST`), mail goes to that host only
//! over TLS with a certificate one of those records names, whatever the certificate's issuer.
//! An MX host without secure TLSA records gets ordinary opportunistic TLS (or what MTA-STS
//! asks); TLSA records that cannot be looked up (a bogus answer) keep mail from the host until
//! they can. DANE goes before MTA-STS for a host that has it (RFC 8461 2).

use crate::dns::Dns;
use hickory_resolver::proto::rr::{RData, RecordType};

pub use crate::tls::tlsa::Tlsa;

/// What DANE asks of one MX host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPolicy {
    /// No DNSSEC-secure TLSA records: nothing beyond what would happen without DANE.
    None,
    /// TLS, with a certificate one of these records (found at `owner`) names.
    Authenticate { owner: String, records: Vec<Tlsa> },
    /// Secure TLSA records, none usable: TLS all the same, unauthenticated (RFC 7672 2.2).
    EncryptOnly,
}

/// The owner name of a host's TLSA records.
pub fn tlsa_name(host: &str, port: u16) -> String {
    format!("_{port}._tcp.{}", host.trim_end_matches('.'))
}

/// Whether the resolver validated the domain's MX answer (records or their absence): only
/// then are its hosts' TLSA records believed (RFC 7672 2.2.1).
pub async fn mx_secure(dns: &Dns, domain: &str) -> bool {
    match dns.secure().query(domain, RecordType::MX).await {
        Ok(a) => a.secure,
        Err(e) => {
            tracing::debug!(domain, error = %e, "no DNSSEC status for the MX answer");
            false
        }
    }
}

/// DANE's demand on one host whose MX answer was secure. Err: its TLSA records exist in a
/// signed zone but could not be had (SERVFAIL, time-out): the host is not used this round.
pub async fn host_policy(dns: &Dns, host: &str, port: u16) -> Result<HostPolicy, String> {
    // The host's addresses must be secure too (RFC 7672 2.2.2): else an attacker who forged
    // them would choose the TLSA records as well.
    let mut addresses = dns.secure().query(host, RecordType::A).await;
    if addresses.as_ref().is_ok_and(|a| a.records.is_empty()) {
        addresses = dns.secure().query(host, RecordType::AAAA).await;
    }
    let Ok(addresses) = addresses.map(|a| (a.secure, a.canonical)) else {
        return Ok(HostPolicy::None);
    };
    let (true, canonical) = addresses else {
        return Ok(HostPolicy::None);
    };
    // A host reached through a secure CNAME chain: its TLSA records are looked for at the
    // chain's end first, then at the MX name (RFC 7672 2.2.3).
    let mut answer = None;
    for base in canonical.iter().map(String::as_str).chain([host]) {
        let owner = tlsa_name(base, port);
        let a = dns
            .secure()
            .query(&owner, RecordType::TLSA)
            .await
            .map_err(|e| format!("DANE: the TLSA records of {owner} cannot be looked up ({e})"))?;
        if a.secure && !a.records.is_empty() {
            answer = Some((owner, a));
            break;
        }
    }
    let Some((owner, answer)) = answer else {
        return Ok(HostPolicy::None);
    };
    let records: Vec<Tlsa> = answer
        .records
        .iter()
        .filter_map(|r| match r {
            RData::TLSA(t) => Some(Tlsa {
                usage: t.cert_usage.into(),
                selector: t.selector.into(),
                matching: t.matching.into(),
                data: t.cert_data.clone(),
            }),
            _ => None,
        })
        .collect();
    let usable: Vec<Tlsa> = records.iter().filter(|t| t.usable()).cloned().collect();
    if usable.is_empty() {
        tracing::info!(
            host,
            records = records.len(),
            "TLSA records, none usable: TLS without authentication"
        );
        return Ok(HostPolicy::EncryptOnly);
    }
    Ok(HostPolicy::Authenticate {
        owner,
        records: usable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlsa_owner_names() {
        assert_eq!(tlsa_name("mx.example.", 25), "_25._tcp.mx.example");
    }
}
