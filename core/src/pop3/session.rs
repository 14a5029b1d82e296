//! The POP3 session: AUTHORIZATION, then TRANSACTION over a snapshot of INBOX taken at login,
//! then UPDATE at QUIT, where the messages marked with DELE are removed (RFC 1939 3).

use super::command::{self, Command};
use crate::context::{AuthUser, Login, Shared};
use crate::net::sasl;
use crate::net::{Conn, Line, ReadError};
use crate::store::{self, BlobId, messages};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// RFC 1939 3: the autologout timer is at least 10 minutes.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_LINE: usize = 1024;
const MAX_ERRORS: u32 = 20;
/// Commands a client may send before it logs in (a login takes a handful).
const MAX_BEFORE_LOGIN: u32 = 50;

pub struct State {
    peer: SocketAddr,
    tls: Option<String>,
    service: &'static str,
    user: Option<String>,
    drop: Option<Maildrop>,
    errors: u32,
    /// Commands so far without a login: a stranger gets MAX_BEFORE_LOGIN.
    before_login: u32,
}

struct Msg {
    uid: u32,
    size: u64,
    blob: BlobId,
    deleted: bool,
}

/// The locked INBOX of the logged-in user.
struct Maildrop {
    user: AuthUser,
    mailbox_id: i64,
    uidvalidity: u32,
    msgs: Vec<Msg>,
    _lock: LockGuard,
}

struct LockGuard {
    shared: Arc<Shared>,
    account_id: i64,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.shared.hub.unlock_pop3(self.account_id);
    }
}

pub enum Outcome {
    Closed,
    StartTls,
}

impl State {
    pub fn new(peer: SocketAddr, tls: Option<String>, service: &'static str) -> State {
        State {
            peer,
            tls,
            service,
            user: None,
            drop: None,
            errors: 0,
            before_login: 0,
        }
    }

    fn plaintext_ok(&self, shared: &Shared) -> bool {
        self.tls.is_some() || shared.config().plaintext_auth_allowed(self.peer.ip())
    }
}

pub async fn greet<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>) {
    conn.reply("+OK Roost POP3 server ready");
    let _ = conn.flush().await;
}

pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
) -> Outcome {
    let mut shutdown = shared.shutdown_receiver();
    loop {
        if conn.should_flush() && conn.flush().await.is_err() {
            return Outcome::Closed;
        }
        let line = match conn
            .read_line(MAX_LINE, IDLE_TIMEOUT, Some(&mut shutdown))
            .await
        {
            Ok(Line::Complete(l)) => l,
            Ok(Line::TooLong) => {
                conn.reply("-ERR line too long");
                if too_many_errors(conn, st) {
                    break;
                }
                continue;
            }
            Err(ReadError::Timeout) => {
                conn.reply("-ERR autologout: idle for too long");
                break;
            }
            Err(ReadError::Shutdown) => {
                conn.reply("-ERR [SYS/TEMP] server shutting down, try again later");
                break;
            }
            Err(_) => return Outcome::Closed,
        };
        let cmd = match command::parse(&line) {
            Ok(c) => c,
            Err(why) => {
                conn.reply(&format!("-ERR {why}"));
                if too_many_errors(conn, st) {
                    break;
                }
                continue;
            }
        };
        let flow = if st.drop.is_some() {
            transaction(conn, st, shared, cmd).await
        } else {
            st.before_login += 1;
            if st.before_login > MAX_BEFORE_LOGIN {
                conn.reply("-ERR too many commands without logging in");
                break;
            }
            authorization(conn, st, shared, cmd).await
        };
        match flow {
            Flow::Continue => {}
            Flow::Close => break,
            Flow::StartTls => {
                let _ = conn.flush().await;
                return Outcome::StartTls;
            }
        }
    }
    let _ = conn.flush().await;
    Outcome::Closed
}

enum Flow {
    Continue,
    Close,
    StartTls,
}

fn too_many_errors<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>, st: &mut State) -> bool {
    st.errors += 1;
    if st.errors >= MAX_ERRORS {
        conn.reply("-ERR too many errors, closing connection");
        return true;
    }
    false
}

fn capabilities(st: &State, shared: &Shared) -> String {
    let mut caps = vec![
        "+OK capability list follows",
        "TOP",
        "UIDL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
    ];
    if st.drop.is_none() {
        if st.tls.is_none() {
            caps.push("STLS");
        }
        if st.plaintext_ok(shared) {
            caps.push("USER");
            caps.push("SASL PLAIN");
        }
    }
    caps.push("IMPLEMENTATION Roost");
    caps.push(".");
    caps.join("\r\n")
}

async fn authorization<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
    cmd: Command,
) -> Flow {
    match cmd {
        Command::Capa => conn.reply(&capabilities(st, shared)),
        Command::Stls if st.tls.is_some() => conn.reply("-ERR TLS is already active"),
        Command::Stls => {
            conn.reply("+OK begin TLS negotiation");
            return Flow::StartTls;
        }
        Command::Quit => {
            conn.reply("+OK Roost POP3 server signing off");
            return Flow::Close;
        }
        Command::User(_) | Command::Pass(_) | Command::Auth { .. } if !st.plaintext_ok(shared) => {
            conn.reply("-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS first");
        }
        Command::User(name) => {
            st.user = Some(name);
            conn.reply("+OK send PASS");
        }
        Command::Pass(password) => {
            let Some(user) = st.user.take() else {
                conn.reply("-ERR send USER first");
                return Flow::Continue;
            };
            return log_in(conn, st, shared, &user, &password, "USER").await;
        }
        Command::Auth {
            mechanism: None, ..
        } => conn.reply("+OK\r\nPLAIN\r\n."),
        Command::Auth {
            mechanism: Some(m),
            initial,
        } => {
            if m != "PLAIN" {
                conn.reply("-ERR unsupported mechanism; use PLAIN");
                return Flow::Continue;
            }
            let response = match crate::net::sasl_response(conn, initial, IDLE_TIMEOUT).await {
                crate::net::SaslStep::Response(r) => r,
                crate::net::SaslStep::Cancelled => {
                    conn.reply("-ERR authentication cancelled");
                    return Flow::Continue;
                }
                crate::net::SaslStep::Closed => return Flow::Close,
            };
            match sasl::decode_plain(&response) {
                Ok(c) => return log_in(conn, st, shared, &c.login, &c.password, "PLAIN").await,
                Err(why) => conn.reply(&format!("-ERR cannot decode the response: {why}")),
            }
        }
        _ => conn.reply("-ERR log in first (USER/PASS or AUTH PLAIN)"),
    }
    Flow::Continue
}

async fn log_in<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
    user: &str,
    password: &str,
    mechanism: &str,
) -> Flow {
    let ip = st.peer.ip().to_canonical();
    let user = match crate::context::login(shared, ip, user, password, st.service, mechanism).await
    {
        Login::Ok(u) => u,
        Login::Failed => {
            conn.reply("-ERR [AUTH] authentication failed");
            return if too_many_errors(conn, st) {
                Flow::Close
            } else {
                Flow::Continue
            };
        }
        Login::Blocked => {
            conn.reply("-ERR [SYS/TEMP] too many failed logins from your address; try again later");
            return Flow::Close;
        }
    };
    if !shared.hub.lock_pop3(user.account_id) {
        conn.reply("-ERR [IN-USE] this mailbox is already open in another POP3 session");
        return Flow::Continue;
    }
    let lock = LockGuard {
        shared: shared.clone(),
        account_id: user.account_id,
    };
    let snapshot = shared.store.read(|c| {
        let id = store::mailbox_id(c, user.account_id, "INBOX")?
            .ok_or_else(|| crate::error::Error::NotFound("INBOX is missing".into()))?;
        Ok((
            id,
            messages::mailbox_state(c, id)?.uidvalidity,
            messages::messages(c, id)?,
        ))
    });
    let (mailbox_id, uidvalidity, msgs) = match snapshot {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "pop3: cannot open INBOX");
            conn.reply("-ERR [SYS/TEMP] cannot open the mailbox, try again later");
            return Flow::Continue;
        }
    };
    let msgs: Vec<Msg> = msgs
        .into_iter()
        .map(|m| Msg {
            uid: m.uid,
            size: m.size,
            blob: m.blob,
            deleted: false,
        })
        .collect();
    let total: u64 = msgs.iter().map(|m| m.size).sum();
    conn.reply(&format!(
        "+OK {} has {} message(s) ({total} octets)",
        user.address,
        msgs.len()
    ));
    st.drop = Some(Maildrop {
        user,
        mailbox_id,
        uidvalidity,
        msgs,
        _lock: lock,
    });
    Flow::Continue
}

async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
    cmd: Command,
) -> Flow {
    let capa = capabilities(st, shared);
    let Some(md) = st.drop.as_mut() else {
        return Flow::Close;
    };
    match cmd {
        Command::Capa => conn.reply(&capa),
        Command::Stat => {
            let live = md.msgs.iter().filter(|m| !m.deleted);
            let (n, size) = live.fold((0, 0), |(n, s), m| (n + 1, s + m.size));
            conn.reply(&format!("+OK {n} {size}"));
        }
        Command::List(None) => {
            let mut out = format!(
                "+OK {} messages",
                md.msgs.iter().filter(|m| !m.deleted).count()
            );
            for (i, m) in md.msgs.iter().enumerate().filter(|(_, m)| !m.deleted) {
                out.push_str(&format!("\r\n{} {}", i + 1, m.size));
            }
            out.push_str("\r\n.");
            conn.reply(&out);
        }
        Command::Uidl(None) => {
            let mut out = String::from("+OK unique-id listing follows");
            for (i, m) in md.msgs.iter().enumerate().filter(|(_, m)| !m.deleted) {
                out.push_str(&format!("\r\n{} {}", i + 1, uidl(m.uid, md.uidvalidity)));
            }
            out.push_str("\r\n.");
            conn.reply(&out);
        }
        Command::List(Some(n)) => match md.live(n) {
            Ok(m) => conn.reply(&format!("+OK {n} {}", m.size)),
            Err(e) => conn.reply(e),
        },
        Command::Uidl(Some(n)) => match md.live(n) {
            Ok(m) => conn.reply(&format!("+OK {n} {}", uidl(m.uid, md.uidvalidity))),
            Err(e) => conn.reply(e),
        },
        Command::Retr(n) | Command::Top(n, _) => {
            let top = if let Command::Top(_, lines) = cmd {
                Some(lines as usize)
            } else {
                None
            };
            let (blob, size) = match md.live(n) {
                Ok(m) => (m.blob.clone(), m.size),
                Err(e) => {
                    conn.reply(e);
                    return Flow::Continue;
                }
            };
            // The message and its dot-stuffed copy, within the message memory budget.
            let Some(held) = shared.memory.hold_a_while(size.saturating_mul(2)).await else {
                conn.reply("-ERR [SYS/TEMP] the server is short of memory; try again later");
                return Flow::Continue;
            };
            let blobs = shared.store.blobs().clone();
            match tokio::task::spawn_blocking(move || blobs.read(&blob)).await {
                Ok(Ok(data)) => {
                    let body = match top {
                        Some(lines) => head_and_lines(&data, lines),
                        None => &data[..],
                    };
                    conn.reply(&format!("+OK {size} octets"));
                    conn.write_raw(&dot_stuff(body));
                    drop(data);
                    let _ = conn.flush().await;
                }
                _ => conn.reply("-ERR [SYS/TEMP] cannot read the message"),
            }
            drop(held);
        }
        Command::Dele(n) => match md.live(n) {
            Ok(_) => {
                md.msgs[n as usize - 1].deleted = true;
                conn.reply(&format!("+OK message {n} deleted"));
            }
            Err(e) => conn.reply(e),
        },
        Command::Rset => {
            md.msgs.iter_mut().for_each(|m| m.deleted = false);
            conn.reply(&format!("+OK {} messages", md.msgs.len()));
        }
        Command::Noop => conn.reply("+OK"),
        Command::Quit => {
            let doomed: Vec<u32> = md
                .msgs
                .iter()
                .filter(|m| m.deleted)
                .map(|m| m.uid)
                .collect();
            let (mailbox_id, account_id) = (md.mailbox_id, md.user.account_id);
            let n = doomed.len();
            let result = if doomed.is_empty() {
                Ok(Vec::new())
            } else {
                shared
                    .store
                    .write_async(Vec::new(), move |c| {
                        messages::remove_uids(c, mailbox_id, &doomed)
                    })
                    .await
            };
            match result {
                Ok(_) => {
                    if n > 0 {
                        shared.hub.notify(account_id);
                    }
                    conn.reply(&format!(
                        "+OK Roost POP3 server signing off ({n} messages deleted)"
                    ));
                }
                Err(e) => {
                    tracing::error!(error = %e, "pop3: cannot remove deleted messages");
                    conn.reply("-ERR [SYS/TEMP] some deleted messages were not removed");
                }
            }
            st.drop = None;
            return Flow::Close;
        }
        Command::Stls | Command::User(_) | Command::Pass(_) | Command::Auth { .. } => {
            conn.reply("-ERR already logged in");
        }
    }
    Flow::Continue
}

impl Maildrop {
    fn live(&self, n: u32) -> Result<&Msg, &'static str> {
        match self.msgs.get((n as usize).wrapping_sub(1)) {
            Some(m) if !m.deleted => Ok(m),
            Some(_) => Err("-ERR message is deleted"),
            None => Err("-ERR no such message"),
        }
    }
}

/// UIDVALIDITY and UID in hex, as Dovecot's default: stable across sessions, and the same
/// message keeps it for as long as IMAP's UIDVALIDITY stands.
fn uidl(uid: u32, uidvalidity: u32) -> String {
    format!("{uid:08X}{uidvalidity:08X}")
}

/// The header, the blank line, and the first `lines` lines of the body (RFC 1939 TOP).
fn head_and_lines(msg: &[u8], lines: usize) -> &[u8] {
    let Some(body_start) = msg.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
        return msg;
    };
    let mut end = body_start;
    for _ in 0..lines {
        match msg[end..].iter().position(|&b| b == b'\n') {
            Some(i) => end += i + 1,
            None => {
                end = msg.len();
                break;
            }
        }
    }
    &msg[..end]
}

/// A multi-line response body: lines starting with '.' get another, then the terminator.
fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 50 + 5);
    let mut at_line_start = true;
    for &b in data {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_and_top() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b"no end"), b"no end\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        assert_eq!(head_and_lines(m, 0), b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(head_and_lines(m, 2), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
        assert_eq!(head_and_lines(m, 99), &m[..]);
    }

    #[test]
    fn uidl_is_stable_text() {
        assert_eq!(uidl(1, 0x6615_0000), "0000000166150000");
    }
}
