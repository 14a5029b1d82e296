//! SASL decoding shared by SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH: PLAIN (RFC 4616) and the
//! base64 steps of LOGIN. Plain functions; the exchanges with clients live in each protocol.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    pub login: String,
    pub password: String,
}

/// "authzid NUL authcid NUL passwd", base64-encoded. An authorization identity other than the
/// login itself would mean acting as someone else: refused.
pub fn decode_plain(b64: &str) -> Result<Credentials, &'static str> {
    let raw = B64.decode(b64.trim()).map_err(|_| "invalid base64")?;
    let mut parts = raw.split(|&b| b == 0);
    let (Some(authz), Some(authc), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("PLAIN needs authzid\\0login\\0password");
    };
    let login = String::from_utf8(authc.to_vec()).map_err(|_| "login is not UTF-8")?;
    let password = String::from_utf8(pass.to_vec()).map_err(|_| "password is not UTF-8")?;
    if !authz.is_empty() && authz != authc {
        return Err("acting for another user is not allowed");
    }
    if login.is_empty() {
        return Err("empty login");
    }
    Ok(Credentials { login, password })
}

pub fn decode_text(b64: &str) -> Result<String, &'static str> {
    let raw = B64.decode(b64.trim()).map_err(|_| "invalid base64")?;
    String::from_utf8(raw).map_err(|_| "not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decoding() {
        let enc = B64.encode(b"\0alice@example.test\0secret pw");
        assert_eq!(
            decode_plain(&enc).unwrap(),
            Credentials {
                login: "alice@example.test".into(),
                password: "secret pw".into()
            }
        );
        let same = B64.encode(b"a@x\0a@x\0pw");
        assert!(decode_plain(&same).is_ok());
        assert!(decode_plain(&B64.encode(b"bob@x\0a@x\0pw")).is_err());
        assert!(decode_plain(&B64.encode(b"a@x\0pw")).is_err());
        assert!(decode_plain("***").is_err());
        assert!(decode_plain(&B64.encode(b"\0\0pw")).is_err());
    }
}
