//! Virus scanning with ClamAV's clamd over its INSTREAM protocol (clamd.conf(5), clamd(8)):
//! "zINSTREAM\0", then chunks each led by its length as 4 bytes big-endian, a zero length to
//! end, and one reply: "stream: OK", "stream: NAME FOUND" or "... ERROR".

use crate::config::Endpoint;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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
    let work = async {
        match endpoint {
            Endpoint::Unix(path) => {
                let s = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| format!("cannot reach clamd at {path}: {e}"))?;
                exchange(s, message).await
            }
            Endpoint::Tcp(addr) => {
                let s = tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| format!("cannot reach clamd at {addr}: {e}"))?;
                exchange(s, message).await
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "clamd did not answer within {} s",
            timeout.as_secs()
        )),
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    message: &[u8],
) -> Result<Scan, String> {
    let io = |e: std::io::Error| format!("clamd connection: {e}");
    s.write_all(b"zINSTREAM\0").await.map_err(io)?;
    for chunk in message.chunks(CHUNK) {
        s.write_all(&(chunk.len() as u32).to_be_bytes())
            .await
            .map_err(io)?;
        s.write_all(chunk).await.map_err(io)?;
    }
    s.write_all(&0u32.to_be_bytes()).await.map_err(io)?;
    s.flush().await.map_err(io)?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = s.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if reply.contains(&0) || reply.len() > MAX_REPLY {
            break;
        }
    }
    if reply.is_empty() {
        return Err("clamd closed the connection without an answer".into());
    }
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
