//! The setup check's DANE line for this server (RFC 7672): whether `_25._tcp.HOSTNAME` has
//! TLSA records, whether DNSSEC vouches for them, and above all whether they name the
//! certificate this server presents: a record that does not (a certificate renewed with a new
//! key) makes every sender that uses DANE keep its mail back.

use super::Dns;
use super::check::{Check, Verdict, check};
use crate::config::Config;
use crate::tls::tlsa::{Tlsa, matches, spki};
use hickory_resolver::proto::rr::{RData, RecordType};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Why a TLSA record goes stale, and how to keep it from doing so.
const RENEWAL: &str = "; it names the certificate's key, so keep the key when the certificate \
     is renewed (certbot: --reuse-key), or publish the new key's record beside the old one a day \
     before switching";

pub async fn dane(cfg: &Config, dns: &Dns) -> Check {
    let host = &cfg.hostname;
    let owner = format!("_25._tcp.{host}");
    let chain = match own_chain(cfg) {
        Ok(c) => c,
        Err(e) => {
            return check(
                "DANE",
                Verdict::Warn,
                format!("cannot read the certificate: {e}"),
            );
        }
    };
    let Some(key) = chain.first().and_then(|c| spki(c)) else {
        return check(
            "DANE",
            Verdict::Warn,
            "the certificate's public key cannot be read",
        );
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, key);
    let ours = Tlsa {
        usage: 3,
        selector: 1,
        matching: 1,
        data: digest.as_ref().to_vec(),
    };
    let fix = vec![format!("{owner}. 3600 IN TLSA {}", ours.describe())];
    let answer = match dns.secure().query(&owner, RecordType::TLSA).await {
        Ok(a) => a,
        Err(e) => {
            return check(
                "DANE",
                Verdict::Warn,
                format!(
                    "could not look up {owner}: {e} (a zone whose signatures fail looks like this)"
                ),
            );
        }
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
    if records.is_empty() {
        let mut c = check(
            "DANE",
            Verdict::Info,
            format!(
                "optional: with DANE, servers sending to you check this server's certificate \
                 against a TLSA record at {owner}, which needs a DNSSEC-signed zone (many \
                 registrars sign at a click). Publish the record below once the zone is signed{RENEWAL}"
            ),
        );
        c.fix = fix;
        return c;
    }
    let named = records.iter().any(|r| names_ours(r, &chain));
    let mut c = match (named, answer.secure) {
        (true, true) => check(
            "DANE",
            Verdict::Pass,
            format!("{owner} is signed and names this server's certificate"),
        ),
        (true, false) => check(
            "DANE",
            Verdict::Warn,
            format!(
                "{owner} names this server's certificate, but the answer is not DNSSEC-secure \
                 (the zone is unsigned, or the resolver in dns.nameservers does not validate): \
                 senders ignore it unless the zone is signed"
            ),
        ),
        (false, secure) => {
            let mut c = check(
                "DANE",
                if secure { Verdict::Fail } else { Verdict::Warn },
                format!(
                    "{owner} names no certificate this server presents: senders that use DANE \
                     will not deliver to it{}. Replace the records with the one below{RENEWAL}",
                    if secure {
                        ""
                    } else {
                        " once the zone is signed"
                    }
                ),
            );
            c.fix = fix;
            c
        }
    };
    c.found = records.iter().map(|r| r.describe()).collect();
    c
}

/// DANE-EE records name the server's own certificate; DANE-TA records one of its chain.
fn names_ours(r: &Tlsa, chain: &[CertificateDer<'static>]) -> bool {
    match r.usage {
        3 => chain.first().is_some_and(|c| matches(r, c)),
        2 => chain.iter().skip(1).any(|c| matches(r, c)),
        _ => false,
    }
}

/// The chain the server presents (read, never made here: the server makes its self-signed
/// one at first start).
fn own_chain(cfg: &Config) -> Result<Vec<CertificateDer<'static>>, String> {
    let cert = if cfg.tls.cert.is_empty() {
        cfg.data_dir.join("tls").join("cert.pem")
    } else {
        std::path::PathBuf::from(&cfg.tls.cert)
    };
    CertificateDer::pem_file_iter(&cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))
}
