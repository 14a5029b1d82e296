//! IDLE (RFC 2177).

use super::selected::sync;
use super::session::{Flow, Session};
use crate::context::Shared;
use crate::net::{Conn, Line};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// IDLE (RFC 2177): changes are pushed as they happen (within a second) until DONE.
pub async fn idle<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
) -> Flow {
    let Some(account) = s.state.user().map(|u| u.account_id) else {
        return Flow::Close;
    };
    let mut changes = shared.hub.subscribe(account);
    let mut shutdown = shared.shutdown_receiver();
    conn.reply("+ idling");
    if conn.flush().await.is_err() {
        return Flow::Close;
    }
    // Changes made by other processes (the admin CLI) have no notification: look now and then.
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30 * 60);
    loop {
        if s.state.selected().is_some() {
            sync(conn, s, shared, true).await;
        }
        if conn.flush().await.is_err() {
            return Flow::Close;
        }
        if conn.has_line() {
            break;
        }
        tokio::select! {
            r = conn.fill(Duration::from_secs(30 * 60), None) => {
                if r.is_err() {
                    return Flow::Close;
                }
                if conn.has_line() {
                    break;
                }
            }
            _ = changes.changed() => {}
            _ = poll.tick() => {}
            _ = shutdown.changed() => {
                conn.reply("* BYE server shutting down");
                return Flow::Close;
            }
            _ = tokio::time::sleep_until(deadline) => {
                conn.reply("* BYE idle for too long");
                return Flow::Close;
            }
        }
    }
    match conn.read_line(1024, Duration::from_secs(1), None).await {
        Ok(Line::Complete(l)) if l.eq_ignore_ascii_case(b"DONE") => {
            conn.reply(&format!("{tag} OK IDLE terminated"));
            Flow::Continue
        }
        Ok(_) => {
            conn.reply(&format!("{tag} BAD expected DONE"));
            Flow::Continue
        }
        Err(_) => Flow::Close,
    }
}
