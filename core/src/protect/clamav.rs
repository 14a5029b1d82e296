//! Virus scanning with ClamAV's clamd over its INSTREAM protocol (clamd.conf(5), clamd(8)):
//! "zINSTREAM\0", then chunks each led by its length as 4 bytes big-endian, a zero length to
//! end, and one reply: "stream: OK", "stream: NAME FOUND" or "... ERROR".

use super::engine::ask;
use crate::config::Endpoint;
use std::time::Duration;

/// clamd's own default StreamMaxLength is 25 MiB; chunks well under it.
const CHUNK: usize = 64 * 1024;
/// The longest reply clamd writes is a signature name and a few words.
const MAX_REPLY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    Clean,
    /// The signature's name.
    Infected(String),
    /// clamd answered, but with an error (size limit, a broken database).
    Error(String),
}

/// The meaning of clamd's reply line.
pub fn parse_reply(reply: &str) -> Scan {
    let line = reply.trim_end_matches(['\0', '\n', '\r']).trim();
    let body = line.strip_prefix("stream:").map(str::trim).unwrap_or(line);
    if body == "OK" {
        Scan::Clean
    } else if let Some(name) = body.strip_suffix(" FOUND") {
        Scan::Infected(name.trim().to_string())
    } else {
        Scan::Error(body.to_string())
    }
}

/// Scans `message`; Err when clamd cannot be reached or does not answer within `timeout`.
pub async fn scan(endpoint: &Endpoint, message: &[u8], timeout: Duration) -> Result<Scan, String> {
    // The chunks are sent from the message itself, each after its length: no copy.
    let chunks: Vec<&[u8]> = message.chunks(CHUNK).collect();
    let lengths: Vec<[u8; 4]> = chunks
        .iter()
        .map(|c| (c.len() as u32).to_be_bytes())
        .collect();
    let mut parts: Vec<&[u8]> = vec![b"zINSTREAM\0"];
    for (len, chunk) in lengths.iter().zip(&chunks) {
        parts.push(len);
        parts.push(chunk);
    }
    parts.push(&[0, 0, 0, 0]);
    let reply = ask("clamd", endpoint, &parts, Some(0), MAX_REPLY, timeout).await?;
    Ok(parse_reply(&String::from_utf8_lossy(&reply)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(parse_reply("stream: OK\0"), Scan::Clean);
        assert_eq!(
            parse_reply("stream: Eicar-Test-Signature FOUND\0"),
            Scan::Infected("Eicar-Test-Signature".into())
        );
        assert!(matches!(
            parse_reply("INSTREAM size limit exceeded. ERROR\0"),
            Scan::Error(_)
        ));
    }
}
