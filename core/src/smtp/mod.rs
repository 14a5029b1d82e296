//! The SMTP receiving server: `smtp` (25, STARTTLS), `submission` (587, STARTTLS, AUTH
//! required) and `submissions` (465, implicit TLS, AUTH required).

mod auth;
pub mod command;
pub mod data;
mod deliver;
mod screen;
pub mod sender;
mod session;

use crate::context::Shared;
use crate::net::{Conn, tls_accept, tls_info};
use session::{Outcome, State};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Smtp,
    Submission,
    Submissions,
}

impl Service {
    pub fn from_name(name: &str) -> Option<Service> {
        match name {
            "smtp" => Some(Service::Smtp),
            "submission" => Some(Service::Submission),
            "submissions" => Some(Service::Submissions),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::Smtp => "smtp",
            Service::Submission => "submission",
            Service::Submissions => "submissions",
        }
    }
}

/// Serves one accepted connection to its end; `allowed`: the server's allow list names the
/// client.
pub async fn handle(
    shared: Arc<Shared>,
    service: Service,
    stream: TcpStream,
    peer: SocketAddr,
    allowed: bool,
) {
    let _ = stream.set_nodelay(true);
    let cfg = shared.config();
    if service == Service::Submissions {
        let Some(tls) = tls_accept(&shared, stream, peer).await else {
            return;
        };
        let info = tls_info(&tls);
        let mut conn = Conn::new(tls);
        let mut st = State::new(service, peer, Some(info), allowed);
        greet(&mut conn, &cfg.hostname).await;
        let _ = session::run(&mut conn, &mut st, &shared).await;
        return;
    }
    let mut conn = Conn::new(stream);
    if !early_talker_check(&mut conn, &cfg, peer).await {
        return;
    }
    greet(&mut conn, &cfg.hostname).await;
    let mut st = State::new(service, peer, None, allowed);
    if let Outcome::StartTls = session::run(&mut conn, &mut st, &shared).await {
        let Some(tls) = tls_accept(&shared, conn.into_stream(), peer).await else {
            return;
        };
        st.reset_for_tls(tls_info(&tls));
        let mut conn = Conn::new(tls);
        let _ = session::run(&mut conn, &mut st, &shared).await;
    }
}

async fn greet<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    hostname: &str,
) {
    conn.reply(&format!("220 {hostname} ESMTP Roost ready"));
    let _ = conn.flush().await;
}

/// A client that talks before the greeting is not following the protocol (spam engines do it
/// to save time). With `greet_pause_ms` the server waits to see; either way anything already
/// sent ends the connection.
async fn early_talker_check(
    conn: &mut Conn<TcpStream>,
    cfg: &crate::config::Config,
    peer: SocketAddr,
) -> bool {
    let mut probe = [0u8; 1];
    let mut talked = matches!(conn.stream.try_read(&mut probe), Ok(n) if n > 0);
    if !talked && cfg.smtp.greet_pause_ms > 0 {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(cfg.smtp.greet_pause_ms);
        // Readiness can be spurious: keep waiting until the pause is over or bytes arrive.
        while !talked
            && tokio::time::timeout_at(deadline, conn.stream.readable())
                .await
                .is_ok()
        {
            match conn.stream.try_read(&mut probe) {
                Ok(n) => talked = n > 0,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return false,
            }
            if !talked {
                // End of stream: the client left before the greeting.
                return false;
            }
        }
    }
    if talked {
        conn.reply(
            "554 5.5.0 Error: SMTP protocol synchronization (client spoke before the greeting)",
        );
        let _ = conn.flush().await;
        tracing::info!(client = %peer.ip().to_canonical(), "smtp client spoke before the greeting, disconnected");
        return false;
    }
    true
}
