//! What every protocol server shares on the wire: the buffered connection and TLS set-up.

mod conn;
pub mod sasl;

pub use conn::{Conn, Line, ReadError};

use crate::context::Shared;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the server side of a TLS handshake; None (logged) when it fails or stalls.
pub async fn tls_accept(
    shared: &Shared,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    let acceptor = TlsAcceptor::from(shared.tls.get());
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::info!(client = %peer.ip().to_canonical(), error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!(client = %peer.ip().to_canonical(), "TLS handshake timed out");
            None
        }
    }
}

/// "TLSv1.3 TLS13_AES_256_GCM_SHA384", for logs and Received headers.
pub fn tls_info(s: &TlsStream<TcpStream>) -> String {
    let (_, c) = s.get_ref();
    let version = c
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default()
        .replace("TLSv1_", "TLSv1.");
    let cipher = c
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    format!("{version} {cipher}")
}

/// What a client answered when asked for its SASL response.
pub enum SaslStep {
    Response(String),
    /// The client sent "*" (RFC 4422 3.5).
    Cancelled,
    Closed,
}

/// The SASL response for a one-step mechanism (PLAIN): the initial response sent with the
/// command, or, when there is none (or it is "=", the empty one), asked for with "+ " as IMAP
/// and POP3 both do.
pub async fn sasl_response<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    initial: Option<String>,
    timeout: Duration,
) -> SaslStep {
    if let Some(i) = initial.filter(|i| i != "=") {
        return SaslStep::Response(i);
    }
    conn.reply("+ ");
    if conn.flush().await.is_err() {
        return SaslStep::Closed;
    }
    match conn.read_line(64 * 1024, timeout, None).await {
        Ok(Line::Complete(l)) if l == b"*" => SaslStep::Cancelled,
        Ok(Line::Complete(l)) => SaslStep::Response(String::from_utf8_lossy(&l).into_owned()),
        _ => SaslStep::Closed,
    }
}
