//! The SMTP session: a state machine read top to bottom. One command is read, dispatched to its
//! handler, and answered; replies are flushed whenever the client has nothing more pipelined.

use super::command::{self, Command, MailParams, ParseError, Path};
use super::data::{Canonicalizer, DataReceiver, Defect};
use super::screen::Stranger;
use super::{Service, auth, deliver};
use crate::config::Config;
use crate::context::{AuthUser, Shared};
use crate::directory::{self, Address, RcptError, Resolved};
use crate::net::{Conn, Line, ReadError};
use crate::store::Spool;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

const MAX_COMMAND_LINE: usize = 4096;
const JUNK_LIMIT: u32 = 100;

/// What a session knows about its client; survives a STARTTLS upgrade only in part (RFC 3207 4.2).
pub struct State {
    pub service: Service,
    pub peer: SocketAddr,
    pub tls: Option<String>,
    pub helo: Option<String>,
    pub esmtp: bool,
    pub auth: Option<AuthUser>,
    pub tx: Option<Transaction>,
    pub errors: u32,
    /// NOOP, RSET, VRFY and HELP so far: past JUNK_LIMIT each one counts as an error, so a
    /// client cannot hold a connection open forever doing nothing (Postfix's junk limit).
    pub junk: u32,
    /// BDAT chunks of the current message; BDAT and DATA do not mix in one transaction.
    pub bdat: Option<BdatBuffer>,
    /// The DNS lists' verdict on the client, asked at the first RCPT: None not asked yet,
    /// Some(None) not listed, Some(Some(reply)) refused with that reply.
    pub listed: Option<Option<String>>,
    /// The server's allow list names the client (read once, at connection).
    pub allowed: bool,
}

pub struct Transaction {
    pub from: Path,
    pub params: MailParams,
    pub rcpts: Vec<Accepted>,
    /// Every RCPT and its answer, for the transaction's log line.
    pub log: Vec<(String, String)>,
}

pub struct Accepted {
    pub address: String,
    pub dest: Resolved,
}

/// The message of a BDAT transaction while its chunks arrive.
pub struct BdatBuffer {
    spool: Spool,
    canon: Canonicalizer,
    too_big: bool,
    /// Writing the spool failed: the chunks are still read, the message then refused.
    broken: bool,
}

pub enum Outcome {
    Closed,
    StartTls,
}

impl State {
    pub fn new(service: Service, peer: SocketAddr, tls: Option<String>, allowed: bool) -> State {
        State {
            service,
            peer,
            tls,
            helo: None,
            esmtp: false,
            auth: None,
            tx: None,
            errors: 0,
            junk: 0,
            bdat: None,
            listed: None,
            allowed,
        }
    }

    /// After STARTTLS the client starts over with EHLO; nothing learned in clear text is kept.
    pub fn reset_for_tls(&mut self, tls: String) {
        let listed = self.listed.take();
        *self = State::new(self.service, self.peer, Some(tls), self.allowed);
        // What the DNS lists say of the address does not change with TLS.
        self.listed = listed;
    }

    fn auth_allowed(&self, cfg: &Config) -> bool {
        self.tls.is_some() || cfg.plaintext_auth_allowed(self.peer.ip())
    }

    fn must_auth(&self) -> bool {
        matches!(self.service, Service::Submission | Service::Submissions) && self.auth.is_none()
    }
}

pub(super) enum Flow {
    Continue,
    Close,
    StartTls,
}

pub async fn run<S: AsyncRead + AsyncWrite + Unpin + Send>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
) -> Outcome {
    let mut shutdown = shared.shutdown_receiver();
    loop {
        let cfg = shared.config();
        if conn.should_flush() && conn.flush().await.is_err() {
            return Outcome::Closed;
        }
        let timeout = Duration::from_secs(cfg.smtp.command_timeout_secs);
        let line = match conn
            .read_line(MAX_COMMAND_LINE, timeout, Some(&mut shutdown))
            .await
        {
            Ok(Line::Complete(l)) => l,
            Ok(Line::TooLong) => {
                conn.reply("500 5.5.2 Line too long");
                if count_error(conn, st, &cfg) {
                    break;
                }
                continue;
            }
            Err(ReadError::Timeout) => {
                conn.reply("421 4.4.2 Idle too long, closing connection");
                break;
            }
            Err(ReadError::Shutdown) => {
                conn.reply("421 4.3.2 Server shutting down, try again later");
                break;
            }
            Err(ReadError::Eof) | Err(ReadError::Io) => {
                log_transaction_end(st, "connection lost");
                return Outcome::Closed;
            }
        };
        // The configuration may have been reloaded while this session waited for the line.
        let cfg = shared.config();
        if line.contains(&0) {
            conn.reply("500 5.5.2 NUL byte in command");
            if count_error(conn, st, &cfg) {
                break;
            }
            continue;
        }
        let flow = match command::parse(&line) {
            Ok(cmd) => dispatch(conn, st, shared, &cfg, cmd).await,
            Err(ParseError::Http) => {
                conn.reply("500 5.5.1 This is an SMTP server, not a web server");
                Flow::Close
            }
            Err(e) => {
                conn.reply(&match e {
                    ParseError::Unknown | ParseError::Http => {
                        "500 5.5.1 Command not recognized".to_string()
                    }
                    ParseError::Syntax(why) => format!("501 5.5.4 Syntax error: {why}"),
                    ParseError::Param(p) => format!("555 5.5.4 Parameter not supported: {p}"),
                });
                if count_error(conn, st, &cfg) {
                    Flow::Close
                } else {
                    Flow::Continue
                }
            }
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
    log_transaction_end(st, "connection closed");
    let _ = conn.flush().await;
    Outcome::Closed
}

/// Counts a client error; true (after a 421) when the client has made too many.
fn count_error<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut State,
    cfg: &Config,
) -> bool {
    st.errors += 1;
    if st.errors >= cfg.smtp.max_errors {
        conn.reply("421 4.7.0 Too many errors, closing connection");
        tracing::info!(client = %st.peer.ip().to_canonical(), "smtp too many errors, disconnected");
        return true;
    }
    false
}

async fn dispatch<S: AsyncRead + AsyncWrite + Unpin + Send>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
    cfg: &Config,
    cmd: Command,
) -> Flow {
    if matches!(
        cmd,
        Command::Noop | Command::Rset | Command::Vrfy | Command::Help
    ) {
        st.junk += 1;
        if st.junk > JUNK_LIMIT && count_error(conn, st, cfg) {
            return Flow::Close;
        }
    }
    match cmd {
        Command::Ehlo(domain) | Command::Helo(domain) if !conn.buffered().is_empty() => {
            // RFC 2920 3.1: EHLO ends a pipelined group. Postfix and Exim treat a client that
            // does not wait for the answer as a spam engine; so do we.
            let _ = domain;
            conn.reply("554 5.5.0 Error: SMTP protocol synchronization (command sent before the greeting was answered)");
            tracing::info!(client = %st.peer.ip().to_canonical(), "smtp pipelining violation after EHLO/HELO");
            Flow::Close
        }
        Command::Ehlo(domain) => {
            log_transaction_end(st, "EHLO");
            st.helo = Some(domain);
            st.esmtp = true;
            st.tx = None;
            st.bdat = None;
            conn.reply(&ehlo_reply(st, shared, cfg));
            Flow::Continue
        }
        Command::Helo(domain) => {
            log_transaction_end(st, "HELO");
            st.helo = Some(domain);
            st.esmtp = false;
            st.tx = None;
            st.bdat = None;
            conn.reply(&format!("250 {}", cfg.hostname));
            Flow::Continue
        }
        Command::StartTls => {
            if st.tls.is_some() {
                conn.reply("503 5.5.1 TLS is already active");
            } else if !st.esmtp {
                conn.reply("503 5.5.1 Send EHLO first");
            } else {
                conn.reply("220 2.0.0 Ready to start TLS");
                return Flow::StartTls;
            }
            Flow::Continue
        }
        Command::Auth { mechanism, initial } => {
            if st.auth.is_some() {
                conn.reply("503 5.5.1 Already authenticated");
            } else if st.tx.is_some() {
                conn.reply("503 5.5.1 AUTH is not allowed during a mail transaction");
            } else if !st.esmtp {
                conn.reply("503 5.5.1 Send EHLO first");
            } else if !st.auth_allowed(cfg) {
                conn.reply("538 5.7.11 Encryption required: use STARTTLS first");
            } else {
                return auth::run(conn, st, shared, cfg, &mechanism, initial).await;
            }
            Flow::Continue
        }
        Command::Mail(path, params) => {
            mail(conn, st, shared, cfg, path, params);
            Flow::Continue
        }
        Command::Rcpt(path) => {
            if st.listed.is_none() && st.auth.is_none() && st.tx.is_some() {
                st.listed = Some(if st.allowed {
                    None
                } else {
                    super::screen::dns_lists(shared, cfg, st.peer.ip()).await
                });
            }
            rcpt(conn, st, shared, cfg, path);
            if st
                .tx
                .as_ref()
                .is_some_and(|t| t.log.last().is_some_and(|(_, r)| r.starts_with('5')))
                && count_error(conn, st, cfg)
            {
                return Flow::Close;
            }
            Flow::Continue
        }
        Command::Data => data(conn, st, shared, cfg).await,
        Command::Bdat { size, last } => bdat(conn, st, shared, cfg, size, last).await,
        Command::Rset => {
            log_transaction_end(st, "RSET");
            st.tx = None;
            st.bdat = None;
            conn.reply("250 2.0.0 OK");
            Flow::Continue
        }
        Command::Noop => {
            conn.reply("250 2.0.0 OK");
            Flow::Continue
        }
        Command::Quit => {
            conn.reply("221 2.0.0 Bye");
            Flow::Close
        }
        Command::Vrfy => {
            // Never confirm addresses to strangers (harvesting); RFC 5321 3.5.3 allows 252.
            conn.reply("252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
            Flow::Continue
        }
        Command::Expn => {
            conn.reply("502 5.5.1 EXPN is not available");
            Flow::Continue
        }
        Command::Help => {
            conn.reply("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT STARTTLS AUTH VRFY HELP");
            Flow::Continue
        }
    }
}

fn ehlo_reply(st: &State, shared: &Shared, cfg: &Config) -> String {
    let mut lines = vec![
        format!(
            "{} Hello {}",
            cfg.hostname,
            st.helo.as_deref().unwrap_or("")
        ),
        "PIPELINING".into(),
        format!("SIZE {}", cfg.smtp.max_message_size.0),
        "8BITMIME".into(),
        "ENHANCEDSTATUSCODES".into(),
        "SMTPUTF8".into(),
        "CHUNKING".into(),
    ];
    if st.tls.is_none() && shared.tls_available() {
        lines.push("STARTTLS".into());
    }
    if st.auth.is_none()
        && st.auth_allowed(cfg)
        && !matches!(st.service, Service::Smtp if st.tls.is_none())
    {
        lines.push("AUTH PLAIN LOGIN".into());
    }
    lines.push("HELP".into());
    let last = lines.len() - 1;
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn mail<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Shared,
    cfg: &Config,
    path: Path,
    params: MailParams,
) {
    if st.helo.is_none() {
        return conn.reply("503 5.5.1 Send EHLO or HELO first");
    }
    if st.tx.is_some() {
        return conn.reply("503 5.5.1 Nested MAIL command");
    }
    if st.must_auth() {
        return conn.reply("530 5.7.0 Authentication required");
    }
    if let Some(size) = params.size
        && size > cfg.smtp.max_message_size.0
    {
        return conn.reply(&format!(
            "552 5.3.4 Message too big: the limit is {} bytes",
            cfg.smtp.max_message_size.0
        ));
    }
    if !path.0.is_ascii() && !params.smtputf8 {
        return conn.reply("553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter");
    }
    if let Some(user) = &st.auth {
        match super::sender::envelope_allowed(shared, cfg, user, &path) {
            Ok(true) => {}
            Ok(false) => {
                return conn.reply(&format!(
                    "553 5.7.1 Sender address <{}> is not owned by the logged-in user {}",
                    path.0, user.address
                ));
            }
            Err(_) => return conn.reply("451 4.3.0 Temporary lookup failure, try again later"),
        }
        let limit = cfg.limits.messages_per_day;
        if limit > 0 {
            let (a, day) = (user.address.clone(), crate::store::limits::today());
            match shared
                .store
                .read(|c| crate::store::limits::sent_on(c, &a, day))
            {
                Ok(n) if n >= limit => {
                    return conn.reply(&format!(
                        "550 5.4.5 Daily sending limit reached: {} may send {limit} messages a \
                         day; try again tomorrow",
                        user.address
                    ));
                }
                Ok(_) => {}
                Err(_) => {
                    return conn.reply("451 4.3.0 Temporary lookup failure, try again later");
                }
            }
        }
    }
    if st.auth.is_none()
        && let Some(refusal) = super::screen::sender_refusal(shared, &path.0)
    {
        return conn.reply(&refusal);
    }
    st.tx = Some(Transaction {
        from: path,
        params,
        rcpts: Vec::new(),
        log: Vec::new(),
    });
    st.bdat = None;
    conn.reply("250 2.1.0 Sender OK");
}

fn rcpt<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
    cfg: &Config,
    path: Path,
) {
    let authenticated = st.auth.is_some();
    let Some(tx) = st.tx.as_mut() else {
        return conn.reply("503 5.5.1 Send MAIL first");
    };
    let listed = st.listed.as_ref().and_then(|l| l.as_deref());
    let ip = st.peer.ip().to_canonical();
    let client = (!authenticated).then_some(Stranger {
        ip,
        allowed: st.allowed,
    });
    let reply = rcpt_reply(tx, shared, cfg, client, listed, &path);
    tx.log.push((
        path.0.clone(),
        reply.split(' ').take(2).collect::<Vec<_>>().join(" "),
    ));
    conn.reply(&reply);
}

/// `client`: a client that did not sign in (None when it did).
fn rcpt_reply(
    tx: &mut Transaction,
    shared: &Arc<Shared>,
    cfg: &Config,
    client: Option<Stranger>,
    listed: Option<&str>,
    path: &Path,
) -> String {
    let authenticated = client.is_none();
    let per_user = cfg.limits.recipients_per_message;
    if authenticated && per_user > 0 && tx.rcpts.len() >= per_user {
        return format!(
            "452 4.5.3 Too many recipients: a signed-in user may address at most {per_user} per \
             message"
        );
    }
    if tx.rcpts.len() >= cfg.smtp.max_recipients {
        return format!(
            "452 4.5.3 Too many recipients: at most {} per message",
            cfg.smtp.max_recipients
        );
    }
    if !path.0.is_ascii() && !tx.params.smtputf8 {
        return "553 5.6.7 Non-ASCII address needs SMTPUTF8 on MAIL".into();
    }
    let target = if path.0 == "postmaster" {
        format!("postmaster@{}", cfg.first_domain())
    } else {
        path.0.clone()
    };
    let Ok(addr) = Address::parse(&target) else {
        return format!("553 5.1.3 <{}> is not a valid mailbox address", path.0);
    };
    // A listed client may still reach postmaster (RFC 5321 4.5.1), to ask why.
    if let Some(reply) = listed
        && !addr.local.eq_ignore_ascii_case("postmaster")
    {
        return reply.to_string();
    }
    if let Some(c) = client
        && super::screen::spam_trap(shared, cfg, c.ip, &addr.to_string())
    {
        return format!(
            "550 5.1.1 <{}>: Recipient address rejected: no such user",
            path.0
        );
    }
    let delimiter = cfg.smtp.recipient_delimiter.clone();
    // On this thread: an indexed read in WAL mode never waits for the writer, and takes less
    // than the hand-off to the blocking pool would (measured: 30% of SMTP throughput).
    let resolved = match shared
        .store
        .read(|c| directory::resolve(c, &addr, &delimiter, true))
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "recipient lookup failed");
            return "451 4.3.0 Temporary lookup failure, try again later".into();
        }
    };
    let dest = match resolved {
        Ok(d) => d,
        Err(RcptError::NotLocal) if authenticated => Resolved {
            accounts: vec![],
            external: vec![addr.to_string()],
        },
        Err(RcptError::NotLocal) => return format!("554 5.7.1 <{}>: Relay access denied", path.0),
        Err(RcptError::NoSuchUser) => {
            if let Some(c) = client {
                super::screen::unknown_recipient(shared, cfg, c.ip);
            }
            return format!(
                "550 5.1.1 <{}>: Recipient address rejected: no such user",
                path.0
            );
        }
        Err(RcptError::Disabled) => return format!("550 5.2.1 <{}>: Mailbox disabled", path.0),
        Err(RcptError::TooDeep) => {
            return format!("550 5.4.6 <{}>: Alias loop or too deep", path.0);
        }
    };
    if let Some(Stranger { ip, allowed }) = client {
        let ids: Vec<i64> = dest.accounts.iter().map(|a| a.id).collect();
        if let Some(refusal) =
            super::screen::recipient_refusal(shared, ip, &tx.from.0, &path.0, &ids).or_else(|| {
                (!allowed)
                    .then(|| super::screen::greylist(shared, cfg, ip, &tx.from.0, &path.0))
                    .flatten()
            })
        {
            return refusal;
        }
    }
    let declared = tx.params.size.unwrap_or(0);
    if let Some((domain, limit)) = cfg.domain_size_limit(&path.0)
        && declared > limit
    {
        return format!(
            "552 5.3.4 <{}>: Messages to {domain} are limited to {limit} bytes",
            path.0
        );
    }
    for a in &dest.accounts {
        if a.quota > 0 && declared > a.quota {
            return format!(
                "552 5.2.2 <{}>: Message is larger than the mailbox quota",
                path.0
            );
        }
        if a.quota > 0 && a.used.saturating_add(declared) >= a.quota && dest.accounts.len() == 1 {
            return format!("452 4.2.2 <{}>: Mailbox full, try again later", path.0);
        }
    }
    tx.rcpts.push(Accepted {
        address: path.0.clone(),
        dest,
    });
    "250 2.1.5 Recipient OK".into()
}

async fn data<S: AsyncRead + AsyncWrite + Unpin + Send>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
    cfg: &Config,
) -> Flow {
    match &st.tx {
        None => {
            conn.reply("503 5.5.1 Send MAIL first");
            return Flow::Continue;
        }
        Some(tx) if tx.rcpts.is_empty() => {
            conn.reply("554 5.5.1 No valid recipients");
            return Flow::Continue;
        }
        Some(_) if st.bdat.is_some() => {
            conn.reply("503 5.5.1 DATA cannot follow BDAT in one transaction");
            return Flow::Continue;
        }
        Some(_) => {}
    }
    conn.reply("354 Start mail input; end with <CRLF>.<CRLF>");
    if conn.flush().await.is_err() {
        return Flow::Close;
    }
    let mut rx = DataReceiver::new(cfg.smtp.max_message_size.0 as usize);
    let mut spool = new_spool(shared, cfg);
    let mut broken = false;
    let mut chunk = Vec::new();
    let timeout = Duration::from_secs(cfg.smtp.data_timeout_secs);
    loop {
        chunk.clear();
        let (used, done) = rx.feed(conn.buffered(), &mut chunk);
        conn.consume(used);
        if !broken && let Err(e) = spool.push(&chunk) {
            tracing::error!(error = %e, "cannot spool an arriving message");
            broken = true;
        }
        if done {
            break;
        }
        if !read_message_bytes(conn, st, timeout, "DATA").await {
            return Flow::Close;
        }
    }
    let reply = match rx.finish() {
        Err(d) => refuse(st, d, cfg),
        Ok(()) if broken => refuse_storage(st),
        Ok(()) => match spool.into_body() {
            Ok(body) => deliver::accept(st, shared, cfg, body).await,
            Err(_) => refuse_storage(st),
        },
    };
    conn.reply(&reply);
    Flow::Continue
}

fn new_spool(shared: &Shared, cfg: &Config) -> Spool {
    shared.store.blobs().spool(
        shared.memory.clone(),
        cfg.limits.message_in_memory.0 as usize,
    )
}

/// The temporary file for an arriving message could not be written (a full disk).
fn refuse_storage(st: &mut State) -> String {
    let reply = "452 4.3.1 Insufficient system storage, try again later".to_string();
    finish_tx(st, &reply, None, None);
    reply
}

/// Reads more of a message; false (with the transaction logged) when the client went silent
/// or away. No shutdown check here: a message in flight is finished, then the client gets 421.
async fn read_message_bytes<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut State,
    timeout: Duration,
    what: &str,
) -> bool {
    match conn.fill(timeout, None).await {
        Ok(_) => true,
        Err(ReadError::Timeout) => {
            conn.reply("421 4.4.2 Timeout while receiving the message");
            finish_tx(st, &format!("421 4.4.2 {what} timeout"), None, None);
            false
        }
        Err(_) => {
            finish_tx(st, &format!("connection lost during {what}"), None, None);
            false
        }
    }
}

/// Refuses the message of the current transaction and logs it.
fn refuse(st: &mut State, d: Defect, cfg: &Config) -> String {
    let reply = defect_reply(d, cfg);
    finish_tx(st, &reply, None, None);
    reply
}

fn defect_reply(d: Defect, cfg: &Config) -> String {
    match d {
        Defect::TooBig => format!("552 5.3.4 Message too big: the limit is {} bytes", cfg.smtp.max_message_size.0),
        Defect::Smuggling => {
            "550 5.5.2 Message refused: non-standard end-of-data sequence (<LF>.<LF> or similar); use <CRLF>.<CRLF>".into()
        }
        Defect::BareCr => "550 5.6.0 Message refused: bare CR (carriage return without line feed)".into(),
    }
}

async fn bdat<S: AsyncRead + AsyncWrite + Unpin + Send>(
    conn: &mut Conn<S>,
    st: &mut State,
    shared: &Arc<Shared>,
    cfg: &Config,
    size: u64,
    last: bool,
) -> Flow {
    let max = cfg.smtp.max_message_size.0;
    let ready = st.tx.as_ref().is_some_and(|t| !t.rcpts.is_empty());
    // The chunk follows the command whatever we think of it (RFC 3030 2): read it either way.
    let mut buf = st.bdat.take().unwrap_or_else(|| BdatBuffer {
        spool: new_spool(shared, cfg),
        canon: Canonicalizer::default(),
        too_big: false,
        broken: false,
    });
    let mut left = size;
    let mut chunk = Vec::new();
    let timeout = Duration::from_secs(cfg.smtp.data_timeout_secs);
    loop {
        let take = (conn.buffered().len() as u64).min(left) as usize;
        if take > 0 {
            if ready && !buf.too_big && buf.spool.len() + take as u64 <= max {
                chunk.clear();
                buf.canon.feed(&conn.buffered()[..take], &mut chunk);
                if !buf.broken
                    && let Err(e) = buf.spool.push(&chunk)
                {
                    tracing::error!(error = %e, "cannot spool an arriving message");
                    buf.broken = true;
                }
            } else if ready && !buf.too_big {
                // Over the limit: the rest is read and dropped, the message refused at LAST.
                buf.too_big = true;
                buf.spool = new_spool(shared, cfg);
            }
            conn.consume(take);
            left -= take as u64;
        }
        if left == 0 {
            break;
        }
        if !read_message_bytes(conn, st, timeout, "BDAT").await {
            return Flow::Close;
        }
    }
    if !ready {
        conn.reply(if st.tx.is_none() {
            "503 5.5.1 Send MAIL first"
        } else {
            "554 5.5.1 No valid recipients"
        });
        return Flow::Continue;
    }
    if !last {
        st.bdat = Some(buf);
        conn.reply(&format!("250 2.0.0 {size} octets received"));
        return Flow::Continue;
    }
    let reply = if buf.too_big {
        refuse(st, Defect::TooBig, cfg)
    } else if buf.broken {
        refuse_storage(st)
    } else {
        match buf.canon.finish() {
            Err(d) => refuse(st, d, cfg),
            Ok(()) => match buf.spool.into_body() {
                Ok(body) => deliver::accept(st, shared, cfg, body).await,
                Err(_) => refuse_storage(st),
            },
        }
    };
    conn.reply(&reply);
    Flow::Continue
}

/// Ends the transaction and writes its one log line.
pub fn finish_tx(st: &mut State, result: &str, queue_id: Option<&str>, size: Option<usize>) {
    let Some(tx) = st.tx.take() else {
        return;
    };
    st.bdat = None;
    let rcpts: Vec<String> = tx.log.iter().map(|(a, r)| format!("<{a}> {r}")).collect();
    tracing::info!(
        target: "roost::smtp",
        queue_id = %queue_id.unwrap_or("-"),
        client = %st.peer.ip().to_canonical(),
        service = %st.service.name(),
        tls = %st.tls.as_deref().unwrap_or("no"),
        auth = %st.auth.as_ref().map(|a| a.address.as_str()).unwrap_or("-"),
        from = %format!("<{}>", tx.from.0),
        rcpts = %rcpts.join(", "),
        size = size.unwrap_or(0),
        result = %result,
        "smtp transaction"
    );
}

fn log_transaction_end(st: &mut State, why: &str) {
    if st.tx.as_ref().is_some_and(|t| !t.log.is_empty()) {
        finish_tx(st, &format!("no message ({why})"), None, None);
    } else {
        st.tx = None;
    }
}
