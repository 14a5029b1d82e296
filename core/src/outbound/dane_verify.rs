//! The certificate check DANE asks for (RFC 7671, RFC 7672 3): DANE-EE(3) records name the
//! server's own certificate or key, and nothing else is checked (no issuer, name or dates);
//! DANE-TA(2) records name a certificate of the chain, which then serves as the only trust
//! anchor, with the host's name and the dates checked as usual.

use super::dane::Tlsa;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<Tlsa>,
    provider: Arc<CryptoProvider>,
}

impl DaneVerifier {
    pub fn new(records: Vec<Tlsa>, provider: Arc<CryptoProvider>) -> DaneVerifier {
        DaneVerifier { records, provider }
    }

    /// Ok with what matched, or why nothing did.
    fn check(
        &self,
        end: &CertificateDer<'_>,
        chain: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<String, String> {
        if let Some(r) = self
            .records
            .iter()
            .find(|r| r.usage == 3 && matches(r, end))
        {
            return Ok(format!("DANE-EE {} {}", r.selector, r.matching));
        }
        let mut why = None;
        for r in self.records.iter().filter(|r| r.usage == 2) {
            for anchor in chain.iter().filter(|c| matches(r, c)) {
                match verify_with_anchor(&self.provider, anchor, end, chain, name, now) {
                    Ok(()) => return Ok(format!("DANE-TA {} {}", r.selector, r.matching)),
                    Err(e) => why = Some(e),
                }
            }
        }
        let n = self.records.len();
        Err(match why {
            Some(e) => format!("the certificate chains to a TLSA trust anchor but fails ({e})"),
            None => format!("the certificate matches none of the {n} TLSA records"),
        })
    }
}

/// The chain verified with `anchor` as its only root.
fn verify_with_anchor(
    provider: &Arc<CryptoProvider>,
    anchor: &CertificateDer<'_>,
    end: &CertificateDer<'_>,
    chain: &[CertificateDer<'_>],
    name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(anchor.clone().into_owned())
        .map_err(|e| e.to_string())?;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| e.to_string())?;
    verifier
        .verify_server_cert(end, chain, name, &[], now)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Whether a certificate (DER) is the one a record names.
pub fn matches(record: &Tlsa, cert: &[u8]) -> bool {
    let selected = match record.selector {
        0 => cert,
        1 => match spki(cert) {
            Some(s) => s,
            None => return false,
        },
        _ => return false,
    };
    match record.matching {
        0 => selected == record.data.as_slice(),
        1 => ring::digest::digest(&ring::digest::SHA256, selected).as_ref() == record.data,
        2 => ring::digest::digest(&ring::digest::SHA512, selected).as_ref() == record.data,
        _ => false,
    }
}

/// One DER element at the front of `der`: (tag, header length, content length).
fn element(der: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*der.get(2 + i)?);
        }
        (2 + n, len)
    };
    (der.len() >= header.checked_add(len)?).then_some((tag, header, len))
}

const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0;

/// The SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 4.1), header included: the
/// seventh field of tbsCertificate when the version is given, the sixth when not.
pub fn spki(cert: &[u8]) -> Option<&[u8]> {
    let (tag, header, _) = element(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let tbs = &cert[header..];
    let (tag, header, len) = element(tbs)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = &tbs[header..header + len];
    if rest.first() == Some(&VERSION) {
        let (_, h, l) = element(rest)?;
        rest = &rest[h + l..];
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        let (_, h, l) = element(rest)?;
        rest = &rest[h + l..];
    }
    let (tag, h, l) = element(rest)?;
    (tag == SEQUENCE).then(|| &rest[..h + l])
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        _: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.check(end, intermediates, name, now) {
            Ok(how) => {
                tracing::debug!(%how, "certificate matched its TLSA record");
                Ok(ServerCertVerified::assertion())
            }
            Err(why) => Err(rustls::Error::General(why)),
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(b: &[u8]) -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA256, b)
            .as_ref()
            .to_vec()
    }

    #[test]
    fn the_public_key_is_found_in_a_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        assert_eq!(
            spki(&der),
            Some(rcgen::PublicKeyData::subject_public_key_info(&key).as_slice())
        );
        let rec = |selector, matching, data| Tlsa {
            usage: 3,
            selector,
            matching,
            data,
        };
        assert!(matches(
            &rec(
                1,
                1,
                sha256(&rcgen::PublicKeyData::subject_public_key_info(&key))
            ),
            &der
        ));
        assert!(matches(&rec(0, 1, sha256(&der)), &der));
        assert!(matches(&rec(0, 0, der.clone()), &der));
        assert!(!matches(&rec(1, 1, sha256(&der)), &der));
        assert!(!matches(&rec(1, 1, vec![0; 32]), b"\x30\x03\x02\x01"));
        // Truncated or hostile DER gives no key, and no panic.
        for cut in 0..der.len() {
            let _ = spki(&der[..cut]);
        }
        assert_eq!(spki(b"\x30\x84\xff\xff\xff\xff"), None);
    }
}
