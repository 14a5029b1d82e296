//! RFC 8601 5: a border server must not let a sender's own Authentication-Results header
//! speak in its name. Fields that claim this server's authserv-id are renamed, so that no
//! mail client mistakes a forger's "dkim=pass" for Roost's verdict; the text stays, for
//! whoever looks into it.

/// What such a field is renamed to.
pub const RENAMED: &str = "X-Roost-Forged-Authentication-Results";

/// The message with every Authentication-Results field of the header block that names
/// `hostname` as its authserv-id renamed; None when there is none (the usual case).
pub fn rename(message: &[u8], hostname: &str) -> Option<Vec<u8>> {
    let header_end = crate::store::header_of(message).len();
    let mut starts = Vec::new();
    let mut pos = 0;
    while pos < header_end {
        let line_end = message[pos..header_end]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| pos + i + 1)
            .unwrap_or(header_end);
        let line = &message[pos..line_end];
        let name = b"authentication-results:";
        if line.len() > name.len() && line[..name.len()].eq_ignore_ascii_case(name) {
            // The field's value, with its continuation lines.
            let mut end = line_end;
            while end < header_end && matches!(message[end], b' ' | b'\t') {
                end = message[end..header_end]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|i| end + i + 1)
                    .unwrap_or(header_end);
            }
            if claims(&message[pos + name.len()..end], hostname) {
                starts.push(pos);
            }
            pos = end;
        } else {
            pos = line_end;
        }
    }
    if starts.is_empty() {
        return None;
    }
    let old = "Authentication-Results".len();
    let mut out = Vec::with_capacity(message.len() + starts.len() * RENAMED.len());
    let mut last = 0;
    for s in starts {
        out.extend_from_slice(&message[last..s]);
        out.extend_from_slice(RENAMED.as_bytes());
        last = s + old;
    }
    out.extend_from_slice(&message[last..]);
    Some(out)
}

/// Whether the value's authserv-id (before the first ';', comments aside) is `hostname`.
fn claims(value: &[u8], hostname: &str) -> bool {
    let text = String::from_utf8_lossy(value);
    let id_part = text.split(';').next().unwrap_or("");
    let mut id = String::new();
    let mut depth = 0usize;
    for c in id_part.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => id.push(c),
            _ => {}
        }
    }
    // "mx.example.org 1" carries a version after the id.
    id.split_whitespace()
        .next()
        .is_some_and(|id| id.trim_end_matches('.').eq_ignore_ascii_case(hostname))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_only_fields_that_claim_this_server() {
        let m = b"Authentication-Results: mx.test.example;\r\n\tdkim=pass\r\n\
                  Authentication-Results: other.example; spf=pass\r\n\
                  authentication-results: (c) MX.TEST.EXAMPLE 1; dmarc=pass\r\n\
                  Subject: x\r\n\r\nAuthentication-Results: mx.test.example; in the body\r\n";
        let out = String::from_utf8(rename(m, "mx.test.example").unwrap()).unwrap();
        assert!(out.starts_with(&format!("{RENAMED}: mx.test.example;\r\n\tdkim=pass\r\n")));
        assert!(out.contains("\r\nAuthentication-Results: other.example; spf=pass\r\n"));
        assert!(out.contains(&format!("\r\n{RENAMED}: (c) MX.TEST.EXAMPLE 1; dmarc=pass")));
        assert!(out.ends_with("\r\n\r\nAuthentication-Results: mx.test.example; in the body\r\n"));
        assert_eq!(rename(b"Subject: x\r\n\r\nbody", "mx.test.example"), None);
    }
}
