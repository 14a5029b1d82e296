//! TLSA records (RFC 6698) and the certificates they name: what DANE holds a server to when
//! mail leaves (outbound), and what the setup check compares this server's own certificate
//! with. A small DER walk finds a certificate's public key; nothing here does I/O.

/// One TLSA record (RFC 6698 2.1), as the numbers it is published with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlsa {
    /// 2 DANE-TA: a trust anchor of the chain; 3 DANE-EE: the server's own certificate.
    pub usage: u8,
    /// 0: the whole certificate; 1: its SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0: the bytes themselves; 1: SHA-256; 2: SHA-512.
    pub matching: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// RFC 7672 3.1: PKIX-TA(0) and PKIX-EE(1) are not for SMTP; unknown numbers are unusable.
    pub fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && matches!(self.selector, 0 | 1) && self.matching <= 2
    }

    /// "3 1 1 2b7c…" as in a zone file.
    pub fn describe(&self) -> String {
        let hex: String = self.data.iter().map(|b| format!("{b:02x}")).collect();
        format!("{} {} {} {hex}", self.usage, self.selector, self.matching)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_records_are_dane_ta_and_dane_ee() {
        let t = |usage, selector, matching| Tlsa {
            usage,
            selector,
            matching,
            data: vec![0xab, 0x01],
        };
        assert!(t(3, 1, 1).usable() && t(2, 0, 2).usable() && t(3, 0, 0).usable());
        assert!(!t(1, 1, 1).usable() && !t(0, 0, 1).usable());
        assert!(!t(3, 2, 1).usable() && !t(3, 1, 3).usable());
        assert_eq!(t(3, 1, 1).describe(), "3 1 1 ab01");
    }

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
