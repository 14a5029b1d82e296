//! Modified UTF-7 mailbox names (RFC 3501 5.1.3), used unless the client enabled UTF8=ACCEPT or
//! IMAP4rev2. Decoding refuses anything that is not the canonical encoding, so that one name
//! has exactly one spelling.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;

pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&STANDARD_NO_PAD.encode(bytes).replace('/', ","));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

pub fn decode(text: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find('-')
            .ok_or("unterminated &-sequence in mailbox name")?;
        let b64 = &after[..end];
        if b64.is_empty() {
            out.push('&');
        } else {
            let bytes = STANDARD_NO_PAD
                .decode(b64.replace(',', "/"))
                .map_err(|_| "invalid modified UTF-7 in mailbox name")?;
            if bytes.len() % 2 != 0 {
                return Err("invalid modified UTF-7 in mailbox name");
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            let s = String::from_utf16(&units).map_err(|_| "invalid UTF-16 in mailbox name")?;
            if s.chars().any(|c| (' '..='~').contains(&c)) {
                return Err("printable ASCII must not be encoded in a mailbox name");
            }
            out.push_str(&s);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if encode(&out) != text {
        return Err("mailbox name is not in canonical modified UTF-7");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (utf8, wire) in [
            ("INBOX", "INBOX"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("A&B", "A&-B"),
            ("日本語", "&ZeVnLIqe-"),
            ("😀", "&2D3eAA-"),
        ] {
            assert_eq!(encode(utf8), wire);
            assert_eq!(decode(wire).unwrap(), utf8);
        }
    }

    #[test]
    fn refuses_bad_encodings() {
        for bad in ["&", "&Jjo", "&AGE-", "&ZeVnLIqe", "&!!!-", "&AP-"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
