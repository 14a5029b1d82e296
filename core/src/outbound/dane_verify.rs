//! The certificate check DANE asks for (RFC 7671, RFC 7672 3): DANE-EE(3) records name the
//! server's own certificate or key, and nothing else is checked (no issuer, name or dates);
//! DANE-TA(2) records name a certificate of the chain, which then serves as the only trust
//! anchor, with the host's name and the dates checked as usual.

use crate::tls::tlsa::{Tlsa, matches};
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
