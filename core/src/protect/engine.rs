//! The connection to an optional engine (clamd, rspamd): a unix or TCP socket, one request,
//! one answer, all within a time limit.

use crate::config::Endpoint;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Sends `parts` to the engine `name` at `endpoint` and reads its answer: to the end of the
/// stream, or up to and including the first `stop` byte when given; never more than `max`.
pub async fn ask(
    name: &str,
    endpoint: &Endpoint,
    parts: &[&[u8]],
    stop: Option<u8>,
    max: usize,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let work = async {
        let mut s: Box<dyn Stream> = match endpoint {
            Endpoint::Unix(path) => Box::new(
                tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| format!("cannot reach {name} at {path}: {e}"))?,
            ),
            Endpoint::Tcp(addr) => Box::new(
                tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| format!("cannot reach {name} at {addr}: {e}"))?,
            ),
        };
        let io = |e: std::io::Error| format!("{name} connection: {e}");
        for p in parts {
            s.write_all(p).await.map_err(io)?;
        }
        s.flush().await.map_err(io)?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = s.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.len() > max {
                return Err(format!("{name}'s answer is too large"));
            }
            if stop.is_some_and(|b| buf[..n].contains(&b)) {
                break;
            }
        }
        if answer.is_empty() {
            return Err(format!("{name} closed the connection without an answer"));
        }
        Ok(answer)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{name} did not answer within {} s",
            timeout.as_secs()
        )),
    }
}
