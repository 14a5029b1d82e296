//! A small HTTPS GET for MTA-STS policies (RFC 8461 3.3): a verified certificate, no
//! redirects, a bounded body, a deadline. Nothing else of HTTP is needed.

use crate::dns::Dns;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest response read: the policy itself may be 64 KiB (RFC 8461 3.3), plus its header.
const MAX_RESPONSE: usize = 64 * 1024 + 16 * 1024;

/// The body of `https://{host}{path}` when it answers 200 with a text/plain body.
pub async fn get(
    dns: &Dns,
    host: &str,
    path: &str,
    ca_file: Option<&str>,
    timeout: Duration,
) -> Result<String, String> {
    match tokio::time::timeout(timeout, fetch(dns, host, path, ca_file)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "https://{host}{path}: no answer within {}s",
            timeout.as_secs()
        )),
    }
}

async fn fetch(dns: &Dns, host: &str, path: &str, ca_file: Option<&str>) -> Result<String, String> {
    let url = format!("https://{host}{path}");
    let ips: Vec<IpAddr> = dns.ips(host).await.map_err(|e| format!("{url}: {e}"))?;
    let config = super::client::verifying_tls_config(ca_file)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut last = format!("{url}: no address");
    for ip in ips {
        let tcp = match tokio::net::TcpStream::connect(SocketAddr::new(ip, 443)).await {
            Ok(t) => t,
            Err(e) => {
                last = format!("{url} [{ip}]: {e}");
                continue;
            }
        };
        let mut tls = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name.clone(), tcp)
            .await
            .map_err(|e| format!("{url} [{ip}]: TLS: {e}"))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Roost\r\nAccept: text/plain\r\n\
             Connection: close\r\n\r\n"
        );
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let mut response = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = match tls.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => n,
                // Many servers close without close_notify; what arrived is judged as it is.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(format!("{url}: {e}")),
            };
            response.extend_from_slice(&chunk[..n]);
            if response.len() > MAX_RESPONSE {
                return Err(format!("{url}: the answer is larger than 64 KiB"));
            }
        }
        return parse_response(&response).map_err(|e| format!("{url}: {e}"));
    }
    Err(last)
}

/// Status 200, a text/plain body (chunked or not): the body.
pub fn parse_response(response: &[u8]) -> Result<String, String> {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete HTTP header")?;
    let head = String::from_utf8_lossy(&response[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if code != "200" {
        // Redirects are not followed (RFC 8461 3.3).
        return Err(format!("HTTP status {}", status.trim()));
    }
    let mut chunked = false;
    let mut content_type = String::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
            if k == "transfer-encoding" && v.contains("chunked") {
                chunked = true;
            } else if k == "content-type" {
                content_type = v;
            }
        }
    }
    if !content_type.starts_with("text/plain") {
        return Err(format!(
            "the policy's media type is '{content_type}', not text/plain"
        ));
    }
    let body = &response[end + 4..];
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    String::from_utf8(body).map_err(|_| "the policy is not UTF-8 text".to_string())
}

/// A chunked body put back together; bounded by the response's own size.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is cut off")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| "a chunk size is not hex")?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size {
            return Err("a chunk is cut off".into());
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        let plain =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse_response(plain).unwrap(), "hello");
        let chunked = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
                        Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), "hello world");
        let moved = b"HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n\r\n";
        assert!(parse_response(moved).unwrap_err().contains("301"));
        let html = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>";
        assert!(parse_response(html).unwrap_err().contains("text/plain"));
        let cut = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nab";
        assert!(parse_response(cut).is_err());
        assert!(parse_response(b"HTTP/1.1 200").is_err());
    }
}
