//! The IMAP session: reading commands with their literals, the state machine (not
//! authenticated, authenticated, selected, logout) and dispatch to the command families.

use super::command::{self, Allowed, Cmd};
use super::selected::Selected;
use super::token::{self, Segment};
use super::{mailboxes, selected};
use crate::context::{AuthUser, Login, Shared};
use crate::memory::Held;
use crate::net::{Conn, Line, ReadError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

const MAX_LINE: usize = 64 * 1024;
/// Literals in one command, and their total: APPEND's message is bounded by APPENDLIMIT.
const MAX_LITERALS: usize = 64;
pub const APPEND_LIMIT: u64 = 50 * 1024 * 1024;
const MAX_ERRORS: u32 = 20;
/// Commands a client may send before it logs in (a login takes five or so).
const MAX_BEFORE_LOGIN: u32 = 50;
/// Literals up to this size are not worth counting against the message memory budget.
const LITERAL_UNBUDGETED: u64 = 64 * 1024;
/// RFC 3501 5.4: at least 30 minutes once logged in; strangers get less.
const IDLE_AUTHENTICATED: Duration = Duration::from_secs(30 * 60);
const IDLE_LOGIN: Duration = Duration::from_secs(180);

pub struct Session {
    pub peer: SocketAddr,
    pub tls: Option<String>,
    pub service: &'static str,
    pub state: State,
    pub rev2: bool,
    pub utf8: bool,
    pub condstore: bool,
    /// QRESYNC enabled: expunges are reported as VANISHED.
    pub qresync: bool,
    errors: u32,
    /// Commands so far without a login: a stranger gets MAX_BEFORE_LOGIN.
    before_login: u32,
}

/// Where a session stands (RFC 9051 3): which commands it may give depends on it, and a
/// selected mailbox without a logged-in user cannot be written down.
pub enum State {
    NotAuthenticated,
    Authenticated(AuthUser),
    /// Boxed: a selected mailbox's view is large, and most sessions spend time without one.
    Selected(AuthUser, Box<Selected>),
}

impl State {
    pub fn user(&self) -> Option<&AuthUser> {
        match self {
            State::NotAuthenticated => None,
            State::Authenticated(u) | State::Selected(u, _) => Some(u),
        }
    }

    pub fn selected(&self) -> Option<&Selected> {
        match self {
            State::Selected(_, sel) => Some(sel),
            _ => None,
        }
    }

    pub fn selected_mut(&mut self) -> Option<&mut Selected> {
        match self {
            State::Selected(_, sel) => Some(sel),
            _ => None,
        }
    }

    pub fn log_in(&mut self, user: AuthUser) {
        *self = State::Authenticated(user);
    }

    /// Selects `sel` (replacing any selected mailbox); nothing when nobody is logged in.
    pub fn select(&mut self, sel: Selected) {
        *self = match std::mem::replace(self, State::NotAuthenticated) {
            State::Authenticated(u) | State::Selected(u, _) => State::Selected(u, Box::new(sel)),
            State::NotAuthenticated => State::NotAuthenticated,
        };
    }

    /// Back to the authenticated state; the mailbox that was selected.
    pub fn unselect(&mut self) -> Option<Selected> {
        match std::mem::replace(self, State::NotAuthenticated) {
            State::Selected(u, sel) => {
                *self = State::Authenticated(u);
                Some(*sel)
            }
            other => {
                *self = other;
                None
            }
        }
    }
}

pub enum Outcome {
    Closed,
    StartTls,
}

pub(super) enum Flow {
    Continue,
    Close,
    StartTls,
}

impl Session {
    pub fn new(peer: SocketAddr, tls: Option<String>, service: &'static str) -> Session {
        Session {
            peer,
            tls,
            service,
            state: State::NotAuthenticated,
            rev2: false,
            utf8: false,
            condstore: false,
            qresync: false,
            errors: 0,
            before_login: 0,
        }
    }

    fn plaintext_ok(&self, shared: &Shared) -> bool {
        self.tls.is_some() || shared.config().plaintext_auth_allowed(self.peer.ip())
    }

    pub fn capabilities(&self, shared: &Shared) -> String {
        let mut caps = vec![
            "IMAP4rev1",
            "IMAP4rev2",
            "LITERAL+",
            "SASL-IR",
            "ENABLE",
            "ID",
            "IDLE",
            "NAMESPACE",
        ];
        if self.state.user().is_none() {
            if self.tls.is_none() {
                caps.push("STARTTLS");
            }
            if self.plaintext_ok(shared) {
                caps.push("AUTH=PLAIN");
            } else {
                caps.push("LOGINDISABLED");
            }
        } else {
            caps.extend([
                "UIDPLUS",
                "MOVE",
                "UNSELECT",
                "CHILDREN",
                "SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "CONDSTORE",
                "QRESYNC",
                "ESEARCH",
                "SEARCHRES",
                "BINARY",
                "STATUS=SIZE",
                "UTF8=ACCEPT",
                "APPENDLIMIT=52428800",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "SORT",
                "THREAD=ORDEREDSUBJECT",
                "THREAD=REFERENCES",
            ]);
        }
        caps.join(" ")
    }

    /// A mailbox name from the client, in UTF-8.
    pub fn decode_name(&self, name: &str) -> Result<String, String> {
        if self.utf8 {
            return Ok(name.to_string());
        }
        super::mutf7::decode(name).map_err(str::to_string)
    }

    /// A mailbox name for the client: modified UTF-7 unless it enabled UTF-8.
    pub fn encode_name(&self, name: &str) -> String {
        if self.utf8 {
            name.to_string()
        } else {
            super::mutf7::encode(name)
        }
    }
}

pub async fn greet<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &Session,
    shared: &Shared,
) {
    conn.reply(&format!(
        "* OK [CAPABILITY {}] Roost IMAP ready",
        s.capabilities(shared)
    ));
    let _ = conn.flush().await;
}

enum Read {
    /// The command, and the message memory its literals hold until it has run.
    Command(Vec<Segment>, Vec<Held>),
    /// Answered already (a literal too large); read the next command.
    Refused,
    Close,
}

async fn read_command<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &Session,
    shared: &Shared,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Read {
    // A stranger gets a few KiB per command (as Dovecot does): nobody needs more to log in,
    // and a crowd of idle strangers with open literals then holds next to nothing.
    let (timeout, max_line, max_literal) = match s.state.user() {
        Some(_) => (IDLE_AUTHENTICATED, MAX_LINE, APPEND_LIMIT),
        None => {
            let before_login = shared.config().limits.literal_before_login.0;
            (IDLE_LOGIN, before_login as usize, before_login)
        }
    };
    let mut segs = Vec::new();
    let mut held = Vec::new();
    let mut total: u64 = 0;
    loop {
        let line = match conn.read_line(max_line, timeout, Some(shutdown)).await {
            Ok(Line::Complete(l)) => l,
            Ok(Line::TooLong) => {
                conn.reply("* BAD line too long");
                return Read::Refused;
            }
            Err(ReadError::Timeout) => {
                conn.reply("* BYE autologout: idle for too long");
                return Read::Close;
            }
            Err(ReadError::Shutdown) => {
                conn.reply("* BYE server shutting down, try again later");
                return Read::Close;
            }
            Err(_) => return Read::Close,
        };
        let Some((n, sync)) = token::literal_suffix(&line) else {
            segs.push(Segment::Text(line));
            return Read::Command(segs, held);
        };
        let first = match segs.first() {
            Some(Segment::Text(t)) => t.clone(),
            _ => line.clone(),
        };
        let tag = token::tag_of(&first).unwrap_or_else(|| "*".into());
        // Refused before a byte of it is read or a byte of memory reserved for it.
        if n > max_literal
            || total + n > max_literal + max_line as u64
            || segs.len() / 2 >= MAX_LITERALS
        {
            let what = if s.state.user().is_some() {
                ""
            } else {
                " before login"
            };
            if sync {
                conn.reply(&format!(
                    "{tag} NO [TOOBIG] literal of {n} octets exceeds the limit of {max_literal}{what}"
                ));
                return Read::Refused;
            }
            // LITERAL+ data is already on its way and cannot be skipped safely (RFC 7888 4).
            conn.reply(&format!(
                "* BYE [TOOBIG] literal of {n} octets exceeds the limit of {max_literal}{what}"
            ));
            return Read::Close;
        }
        // A large literal (an APPEND) is held against the message memory budget; when the
        // budget is spent it waits for room a while, then is refused.
        if n > LITERAL_UNBUDGETED {
            match shared.memory.hold_a_while(n).await {
                Some(h) => held.push(h),
                None if sync => {
                    conn.reply(&format!(
                        "{tag} NO [UNAVAILABLE] the server is short of memory for messages; try again later"
                    ));
                    return Read::Refused;
                }
                None => {
                    conn.reply("* BYE [UNAVAILABLE] the server is short of memory for messages; try again later");
                    return Read::Close;
                }
            }
        }
        segs.push(Segment::Text(line));
        if sync {
            conn.reply("+ Ready for literal data");
            if conn.flush().await.is_err() {
                return Read::Close;
            }
        }
        let mut data = Vec::with_capacity((n as usize).min(64 * 1024));
        while (data.len() as u64) < n {
            let want = (n - data.len() as u64) as usize;
            let take = conn.buffered().len().min(want);
            if take > 0 {
                data.extend_from_slice(&conn.buffered()[..take]);
                conn.consume(take);
                continue;
            }
            if conn.fill(timeout, None).await.is_err() {
                return Read::Close;
            }
        }
        total += n;
        segs.push(Segment::Literal(data));
    }
}

pub async fn run<S: AsyncRead + AsyncWrite + Unpin + Send>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
) -> Outcome {
    let mut shutdown = shared.shutdown_receiver();
    loop {
        if conn.should_flush() && conn.flush().await.is_err() {
            return Outcome::Closed;
        }
        let (segs, _held) = match read_command(conn, s, shared, &mut shutdown).await {
            Read::Command(segs, held) => (segs, held),
            Read::Refused => continue,
            Read::Close => break,
        };
        let tag_hint = match segs.first() {
            Some(Segment::Text(t)) => token::tag_of(t),
            _ => None,
        };
        let parsed = match token::tokenize(&segs) {
            Ok(toks) => command::parse(toks),
            Err(why) => (None, Err(why.to_string())),
        };
        let (tag, cmd) = match parsed {
            (Some(tag), Ok(cmd)) => (tag, cmd),
            (tag, result) => {
                let why = result.err().unwrap_or_else(|| "missing tag".into());
                let tag = tag.or(tag_hint).unwrap_or_else(|| "*".into());
                conn.reply(&format!("{tag} BAD {why}"));
                s.errors += 1;
                if s.errors >= MAX_ERRORS {
                    conn.reply("* BYE too many errors");
                    break;
                }
                continue;
            }
        };
        if s.state.user().is_none() {
            s.before_login += 1;
            if s.before_login > MAX_BEFORE_LOGIN {
                conn.reply("* BYE too many commands without logging in");
                break;
            }
        }
        match dispatch(conn, s, shared, &tag, cmd).await {
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

async fn dispatch<S: AsyncRead + AsyncWrite + Unpin + Send>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    cmd: Cmd,
) -> Flow {
    match (cmd.allowed(), &s.state) {
        (Allowed::AnyState, _) => any_state(conn, s, shared, tag, cmd).await,
        (Allowed::NotAuthenticated, State::NotAuthenticated) => {
            not_authenticated(conn, s, shared, tag, cmd).await
        }
        (Allowed::NotAuthenticated, _) => {
            conn.reply(&format!("{tag} BAD already logged in"));
            Flow::Continue
        }
        (_, State::NotAuthenticated) => {
            conn.reply(&format!("{tag} BAD log in first"));
            Flow::Continue
        }
        (Allowed::Authenticated, _) => authenticated(conn, s, shared, tag, cmd).await,
        (Allowed::Selected, State::Selected(..)) => {
            selected::handle(conn, s, shared, tag, cmd).await;
            Flow::Continue
        }
        (Allowed::Selected, State::Authenticated(_)) => {
            conn.reply(&format!("{tag} BAD select a mailbox first"));
            Flow::Continue
        }
    }
}

/// CAPABILITY, NOOP, CHECK, LOGOUT, ID.
async fn any_state<S: AsyncRead + AsyncWrite + Unpin + Send>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    cmd: Cmd,
) -> Flow {
    match cmd {
        Cmd::Capability => {
            conn.reply(&format!("* CAPABILITY {}", s.capabilities(shared)));
            conn.reply(&format!("{tag} OK CAPABILITY completed"));
        }
        Cmd::Logout => {
            conn.reply("* BYE Roost logging out");
            conn.reply(&format!("{tag} OK LOGOUT completed"));
            return Flow::Close;
        }
        Cmd::Id => {
            conn.reply(&format!(
                "* ID (\"name\" \"Roost\" \"version\" \"{}\")",
                env!("CARGO_PKG_VERSION")
            ));
            conn.reply(&format!("{tag} OK ID completed"));
        }
        _ => {
            if s.state.selected().is_some() {
                selected::sync(conn, s, shared, true).await;
            }
            conn.reply(&format!("{tag} OK NOOP completed"));
        }
    }
    Flow::Continue
}

/// The commands of the authenticated state (valid when a mailbox is selected too).
async fn authenticated<S: AsyncRead + AsyncWrite + Unpin + Send>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    cmd: Cmd,
) -> Flow {
    match cmd {
        Cmd::Enable(caps) => {
            let mut on = Vec::new();
            for c in caps {
                match c.as_str() {
                    "IMAP4REV2" => {
                        // RFC 9051 5.1: mailbox names are UTF-8 in IMAP4rev2.
                        s.rev2 = true;
                        s.utf8 = true;
                        on.push("IMAP4rev2");
                    }
                    "UTF8=ACCEPT" => {
                        s.utf8 = true;
                        on.push("UTF8=ACCEPT");
                    }
                    "CONDSTORE" => {
                        s.condstore = true;
                        on.push("CONDSTORE");
                    }
                    "QRESYNC" => {
                        s.condstore = true;
                        s.qresync = true;
                        on.push("QRESYNC");
                    }
                    _ => {}
                }
            }
            if !on.is_empty() {
                conn.reply(&format!("* ENABLED {}", on.join(" ")));
            }
            conn.reply(&format!("{tag} OK ENABLE completed"));
        }
        Cmd::Namespace => {
            conn.reply("* NAMESPACE ((\"\" \"/\")) NIL NIL");
            conn.reply(&format!("{tag} OK NAMESPACE completed"));
        }
        Cmd::Idle => return super::idle::idle(conn, s, shared, tag).await,
        Cmd::GetQuota(_) | Cmd::GetQuotaRoot(_) | Cmd::SetQuota => quota(conn, s, shared, tag, cmd),
        _ => mailboxes::handle(conn, s, shared, tag, cmd).await,
    }
    Flow::Continue
}

async fn not_authenticated<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    cmd: Cmd,
) -> Flow {
    match cmd {
        Cmd::StartTls if s.tls.is_some() => conn.reply(&format!("{tag} BAD TLS is already active")),
        Cmd::StartTls => {
            conn.reply(&format!("{tag} OK begin TLS negotiation now"));
            return Flow::StartTls;
        }
        Cmd::Login(..) | Cmd::Authenticate(..) if !s.plaintext_ok(shared) => {
            conn.reply(&format!(
                "{tag} NO [PRIVACYREQUIRED] passwords only over TLS: use STARTTLS or port 993"
            ));
        }
        Cmd::Login(user, pass) => return log_in(conn, s, shared, tag, &user, &pass, "LOGIN").await,
        Cmd::Authenticate(mech, initial) => {
            if mech != "PLAIN" {
                conn.reply(&format!(
                    "{tag} NO [CANNOT] unsupported mechanism; use PLAIN"
                ));
                return Flow::Continue;
            }
            let response = match crate::net::sasl_response(conn, initial, IDLE_LOGIN).await {
                crate::net::SaslStep::Response(r) => r,
                crate::net::SaslStep::Cancelled => {
                    conn.reply(&format!("{tag} BAD authentication cancelled"));
                    return Flow::Continue;
                }
                crate::net::SaslStep::Closed => return Flow::Close,
            };
            match crate::net::sasl::decode_plain(&response) {
                Ok(c) => return log_in(conn, s, shared, tag, &c.login, &c.password, "PLAIN").await,
                Err(why) => conn.reply(&format!("{tag} BAD cannot decode the response: {why}")),
            }
        }
        _ => conn.reply(&format!("{tag} BAD log in first")),
    }
    Flow::Continue
}

async fn log_in<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    user: &str,
    pass: &str,
    mechanism: &str,
) -> Flow {
    let ip = s.peer.ip().to_canonical();
    match crate::context::login(shared, ip, user, pass, s.service, mechanism).await {
        Login::Ok(u) => {
            s.state.log_in(u);
            conn.reply(&format!(
                "{tag} OK [CAPABILITY {}] logged in",
                s.capabilities(shared)
            ));
        }
        Login::Failed => {
            conn.reply(&format!(
                "{tag} NO [AUTHENTICATIONFAILED] invalid credentials"
            ));
            s.errors += 1;
        }
        Login::Blocked => {
            conn.reply(
                "* BYE [UNAVAILABLE] too many failed logins from your address; try again later",
            );
            return Flow::Close;
        }
    }
    Flow::Continue
}

/// QUOTA (RFC 9208): one quota root, "", holding the account's storage limit.
fn quota<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &Session,
    shared: &Shared,
    tag: &str,
    cmd: Cmd,
) {
    let Some(account) = s.state.user().map(|u| u.account_id) else {
        return;
    };
    let usage = shared.store.read(|c| crate::directory::usage(c, account));
    let Ok((limit, used)) = usage else {
        return conn.reply(&format!("{tag} NO [SERVERBUG] cannot read the quota"));
    };
    let line = format!(
        "* QUOTA \"\" (STORAGE {} {})",
        used.div_ceil(1024),
        limit / 1024
    );
    match cmd {
        Cmd::SetQuota => conn.reply(&format!(
            "{tag} NO [NOPERM] quotas are set by the administrator"
        )),
        Cmd::GetQuota(root) if !root.is_empty() || limit == 0 => {
            conn.reply(&format!("{tag} NO [NONEXISTENT] no such quota root"))
        }
        Cmd::GetQuota(_) => {
            conn.reply(&line);
            conn.reply(&format!("{tag} OK GETQUOTA completed"));
        }
        Cmd::GetQuotaRoot(mailbox) => {
            let name = super::mailboxes::quote_name(&mailbox);
            if limit == 0 {
                conn.reply(&format!("* QUOTAROOT {name}"));
            } else {
                conn.reply(&format!("* QUOTAROOT {name} \"\""));
                conn.reply(&line);
            }
            conn.reply(&format!("{tag} OK GETQUOTAROOT completed"));
        }
        _ => {}
    }
}
