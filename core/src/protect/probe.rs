//! Whether the optional engines answer, for `roost status` and the console: clamd's PING and
//! rspamd's /ping, with a short wait (a person is reading the answer).

use crate::config::{Endpoint, ProtectionConfig};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(2);

/// One check or engine and what it does now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    pub name: String,
    /// "on", "off", "answering" or "not answering".
    pub state: String,
    /// In plain words, with what happens to mail meanwhile.
    pub detail: String,
}

/// A check that is simply on or off.
fn setting(name: &str, on: bool, detail: String) -> Engine {
    Engine {
        name: name.into(),
        state: if on { "on" } else { "off" }.into(),
        detail,
    }
}

pub fn engines(p: &ProtectionConfig) -> Vec<Engine> {
    let words = crate::util::duration_words;
    let lists: Vec<&str> = p.dnsbl.iter().map(|l| l.zone.as_str()).collect();
    let mut out = vec![
        setting(
            "sender authentication",
            p.authentication,
            "SPF, DKIM, ARC and DMARC on mail from outside".into(),
        ),
        setting("DNS lists", !p.dnsbl.is_empty(), lists.join(", ")),
        setting(
            "spam score",
            p.classifier,
            format!(
                "header rules and each user's classifier (learned from their Junk moves); Junk \
                 at {}",
                p.junk_score
            ),
        ),
        setting(
            "automatic blocks",
            p.auto_block_secs > 0,
            format!(
                "failed logins, unknown recipients, spam traps: blocked {}",
                words(p.auto_block_secs)
            ),
        ),
        setting(
            "greylisting",
            p.greylisting,
            format!(
                "a new correspondent's first mail waits {}",
                words(p.greylist_delay_secs)
            ),
        ),
        setting(
            "first-sender delay",
            p.first_sender_delay_secs > 0,
            format!(
                "the answer to a new sender's first message waits {}",
                words(p.first_sender_delay_secs)
            ),
        ),
    ];
    out.push(engine(
        "ClamAV",
        &p.clamav,
        "clamd needs about 1.2 GiB; off by default",
        |e| ask(e, b"zPING\0", "PONG"),
        p.clamav_unavailable == crate::config::Unavailable::Tempfail,
    ));
    out.push(engine(
        "rspamd",
        &p.rspamd,
        "rspamd needs about 250 MB; off by default",
        |e| {
            ask(
                e,
                b"GET /ping HTTP/1.1\r\nHost: rspamd\r\nConnection: close\r\n\r\n",
                "pong",
            )
        },
        p.rspamd_unavailable == crate::config::Unavailable::Tempfail,
    ));
    out
}

fn engine(
    name: &str,
    setting: &str,
    when_off: &str,
    probe: impl Fn(&Endpoint) -> Result<(), String>,
    tempfail: bool,
) -> Engine {
    if setting.is_empty() {
        return Engine {
            name: name.into(),
            state: "off".into(),
            detail: when_off.into(),
        };
    }
    let result = Endpoint::parse(setting).and_then(|e| probe(&e));
    match result {
        Ok(()) => Engine {
            name: name.into(),
            state: "answering".into(),
            detail: format!("at {setting}"),
        },
        Err(e) => Engine {
            name: name.into(),
            state: "not answering".into(),
            detail: format!(
                "at {setting}: {e}; meanwhile mail is {}",
                if tempfail {
                    "deferred (451) until it answers"
                } else {
                    "delivered without it"
                }
            ),
        },
    }
}

fn ask(endpoint: &Endpoint, request: &[u8], expect: &str) -> Result<(), String> {
    let reply = match endpoint {
        Endpoint::Unix(path) => {
            let mut s = std::os::unix::net::UnixStream::connect(path).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
            s.set_write_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
            exchange(&mut s, request)?
        }
        Endpoint::Tcp(addr) => {
            use std::net::ToSocketAddrs;
            let a = addr
                .to_socket_addrs()
                .map_err(|e| e.to_string())?
                .next()
                .ok_or("no address")?;
            let mut s =
                std::net::TcpStream::connect_timeout(&a, WAIT).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
            s.set_write_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
            exchange(&mut s, request)?
        }
    };
    if reply.contains(expect) {
        Ok(())
    } else {
        Err("an unexpected answer".into())
    }
}

fn exchange(s: &mut (impl Read + Write), request: &[u8]) -> Result<String, String> {
    s.write_all(request).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() >= 4096 || got.contains(&0) {
                    break;
                }
            }
            Err(e) if got.is_empty() => return Err(e.to_string()),
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}
