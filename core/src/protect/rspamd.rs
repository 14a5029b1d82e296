//! Spam scoring with rspamd over its HTTP protocol (POST /checkv2): the message as the body,
//! the SMTP session's facts as headers (IP, Helo, From, Rcpt, Queue-Id, User), and rspamd's
//! verdict as JSON: its action ("reject", "soft reject", "greylist", "rewrite subject",
//! "add header", "no action"), score and threshold.

use super::engine::ask;
use crate::config::Endpoint;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// rspamd's answers are a few KiB (one entry per symbol); anything larger is not rspamd.
const MAX_RESPONSE: usize = 1024 * 1024;

/// What the session knows, passed on to rspamd.
pub struct Facts<'a> {
    pub ip: std::net::IpAddr,
    pub helo: &'a str,
    pub mail_from: &'a str,
    pub recipients: &'a [String],
    pub queue_id: &'a str,
    pub hostname: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    NoAction,
    /// "add header" and "rewrite subject": spam, delivered marked.
    Spam,
    Greylist,
    SoftReject,
    Reject,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub action: Action,
    pub score: f64,
    pub required: f64,
    /// The symbols that fired, highest score first, for the log and the header.
    pub symbols: Vec<(String, f64)>,
}

#[derive(Deserialize)]
struct Reply {
    action: String,
    #[serde(default)]
    score: f64,
    #[serde(default)]
    required_score: f64,
    #[serde(default)]
    symbols: BTreeMap<String, Symbol>,
}

#[derive(Deserialize)]
struct Symbol {
    #[serde(default)]
    score: f64,
}

/// The request, head and body.
pub fn request(f: &Facts<'_>, message_len: usize) -> String {
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).collect() };
    let mut head = format!(
        "POST /checkv2 HTTP/1.1\r\nHost: rspamd\r\nConnection: close\r\n\
         Content-Length: {message_len}\r\nIP: {}\r\nHelo: {}\r\nFrom: <{}>\r\nQueue-Id: {}\r\n\
         MTA-Name: {}\r\n",
        f.ip.to_canonical(),
        clean(f.helo),
        clean(f.mail_from),
        clean(f.queue_id),
        clean(f.hostname)
    );
    for r in f.recipients {
        head.push_str(&format!("Rcpt: <{}>\r\n", clean(r)));
    }
    head.push_str("\r\n");
    head
}

/// The status and body of an HTTP/1.1 response read to its end.
pub fn split_response(raw: &[u8]) -> Result<(u16, &[u8]), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("rspamd's answer has no end of header")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or("rspamd's answer has no status")?;
    let mut body = &raw[end + 4..];
    let length = head.lines().skip(1).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    if let Some(n) = length {
        if body.len() < n {
            return Err("rspamd's answer was cut short".into());
        }
        body = &body[..n];
    }
    Ok((status, body))
}

pub fn parse_verdict(body: &[u8]) -> Result<Verdict, String> {
    let r: Reply =
        serde_json::from_slice(body).map_err(|e| format!("rspamd's answer is not JSON: {e}"))?;
    let action = match r.action.as_str() {
        "no action" => Action::NoAction,
        "add header" | "rewrite subject" => Action::Spam,
        "greylist" => Action::Greylist,
        "soft reject" => Action::SoftReject,
        "reject" => Action::Reject,
        other => return Err(format!("rspamd answered an unknown action '{other}'")),
    };
    let mut symbols: Vec<(String, f64)> = r
        .symbols
        .into_iter()
        .filter(|(_, s)| s.score != 0.0)
        .map(|(n, s)| (n, s.score))
        .collect();
    symbols.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(Verdict {
        action,
        score: r.score,
        required: r.required_score,
        symbols,
    })
}

/// One HTTP request (`head`, then the message as its body) and the whole raw answer.
async fn post(
    who: &str,
    endpoint: &Endpoint,
    head: &str,
    message: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    ask(
        who,
        endpoint,
        &[head.as_bytes(), message],
        None,
        MAX_RESPONSE,
        timeout,
    )
    .await
}

/// Asks rspamd about `message`; Err when it cannot be reached or does not answer in time.
pub async fn check(
    endpoint: &Endpoint,
    facts: &Facts<'_>,
    message: &[u8],
    timeout: Duration,
) -> Result<Verdict, String> {
    let head = request(facts, message.len());
    let raw = post("rspamd", endpoint, &head, message, timeout).await?;
    let (status, body) = split_response(&raw)?;
    if status != 200 {
        return Err(format!(
            "rspamd answered HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
    }
    parse_verdict(body)
}

/// Teaches rspamd's classifier (its controller worker: POST /learnspam or /learnham). Ok when
/// learned or already known (rspamd answers 208 for a message it has learned before).
pub async fn learn(
    controller: &Endpoint,
    password: &str,
    spam: bool,
    message: &[u8],
    timeout: Duration,
) -> Result<(), String> {
    let path = if spam { "/learnspam" } else { "/learnham" };
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: rspamd\r\nConnection: close\r\nContent-Length: {}\r\n",
        message.len()
    );
    if !password.is_empty() {
        head.push_str(&format!("Password: {}\r\n", password.trim()));
    }
    head.push_str("\r\n");
    let raw = post("rspamd's controller", controller, &head, message, timeout).await?;
    let (status, body) = split_response(&raw)?;
    match status {
        200 | 208 => Ok(()),
        _ => Err(format!(
            "rspamd did not learn: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_split_and_parsed() {
        let json = r#"{"action":"reject","score":1000.5,"required_score":15,"symbols":{"GTUBE":{"score":1000}}}"#;
        let raw = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{json}",
            json.len()
        );
        let raw = raw.as_bytes();
        let (status, body) = split_response(raw).unwrap();
        assert_eq!(status, 200);
        let v = parse_verdict(body).unwrap();
        assert_eq!(v.action, Action::Reject);
        assert_eq!(v.symbols, [("GTUBE".to_string(), 1000.0)]);
        assert!(parse_verdict(b"{\"action\":\"explode\"}").is_err());
        assert!(split_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").is_err());
    }

    #[test]
    fn session_facts_cannot_inject_headers() {
        let f = Facts {
            ip: "192.0.2.1".parse().unwrap(),
            helo: "evil\r\nX-Injected: 1",
            mail_from: "a@b.test",
            recipients: &["c@d.test".to_string()],
            queue_id: "Q1",
            hostname: "mx.test",
        };
        let r = request(&f, 10);
        assert!(r.contains("Helo: evilX-Injected: 1\r\n"), "{r}");
        assert!(r.contains("Rcpt: <c@d.test>\r\n"));
    }
}
