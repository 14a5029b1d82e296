//! The SMTP client that outbound delivery stands on: a reply parser that does no I/O, and a
//! client that speaks EHLO, STARTTLS (opportunistic or required), AUTH PLAIN/LOGIN, PIPELINING,
//! SIZE, 8BITMIME and SMTPUTF8 as the server offers them, with RFC 5321 4.5.3.2 timeouts.

pub use crate::config::Security;
use crate::net::{Conn, Line, ReadError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// One SMTP reply: the code and the text of each line (without code and separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }
    /// "550 5.1.1 text" as one line, for logs and bounces.
    pub fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" "))
    }
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// Not a reply: the peer is not speaking SMTP.
    Malformed(String),
    TooLong,
}

const MAX_REPLY: usize = 64 * 1024;

/// Parses one whole reply from the front of `buf`: Ok(None) when more bytes are needed,
/// Ok(Some((reply, consumed))) when one is complete.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut lines = Vec::new();
    let mut code = None;
    let mut pos = 0;
    loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            return if buf.len() > MAX_REPLY {
                Err(ReplyError::TooLong)
            } else {
                Ok(None)
            };
        };
        let raw = &buf[pos..pos + nl];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        pos += nl + 1;
        let text = String::from_utf8_lossy(line);
        let digits = text
            .get(..3)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        let Some(this) = digits
            .and_then(|d| d.parse::<u16>().ok())
            .filter(|c| (200..600).contains(c))
        else {
            return Err(ReplyError::Malformed(text.chars().take(100).collect()));
        };
        if *code.get_or_insert(this) != this {
            return Err(ReplyError::Malformed(format!(
                "code changed within a reply: {text}"
            )));
        }
        let sep = line.get(3).copied();
        lines.push(text.get(4..).unwrap_or("").to_string());
        match sep {
            Some(b'-') => continue,
            None | Some(b' ') => return Ok(Some((Reply { code: this, lines }, pos))),
            Some(_) => return Err(ReplyError::Malformed(text.chars().take(100).collect())),
        }
    }
}

/// What the server offered in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub pipelining: bool,
    pub size: Option<u64>,
    pub eightbit: bool,
    pub smtputf8: bool,
    pub starttls: bool,
    pub chunking: bool,
    pub auth: Vec<String>,
}

impl Extensions {
    pub fn from_ehlo(r: &Reply) -> Extensions {
        let mut e = Extensions::default();
        for line in r.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(kw) = words.next() else { continue };
            match kw.to_ascii_uppercase().as_str() {
                "PIPELINING" => e.pipelining = true,
                "SIZE" => e.size = words.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0),
                "8BITMIME" => e.eightbit = true,
                "SMTPUTF8" => e.smtputf8 = true,
                "STARTTLS" => e.starttls = true,
                "CHUNKING" => e.chunking = true,
                "AUTH" => e.auth = words.map(|w| w.to_ascii_uppercase()).collect(),
                _ => {}
            }
        }
        e
    }
}

/// How the server's certificate is judged once TLS is up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verification {
    /// Any certificate; whether it would verify is logged (opportunistic TLS to MX hosts,
    /// RFC 7435: encryption against passive eavesdropping, better than clear text).
    Opportunistic,
    /// It must chain to a public root (or one of `ca_file`) and name the host: relay hosts,
    /// which get a password.
    Required { ca_file: Option<String> },
    /// Turned off on purpose for a relay (`verify_certificate = false`); logged every time.
    Off,
    /// It must be one that the host's DNSSEC-signed TLSA records name (DANE, RFC 7672).
    Dane(Vec<super::dane::Tlsa>),
}

/// RFC 5321 4.5.3.2 timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub greeting: Duration,
    pub command: Duration,
    pub data_block: Duration,
    pub data_end: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: Duration::from_secs(300),
            command: Duration::from_secs(300),
            data_block: Duration::from_secs(180),
            data_end: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No connection, timeout, or a connection lost: worth another try later.
    Transient(String),
    /// The server answered with a reply that ends the attempt.
    Rejected { stage: &'static str, reply: Reply },
    /// TLS was required and could not be had.
    Tls(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Transient(m) => write!(f, "{m}"),
            ClientError::Rejected { stage, reply } => write!(f, "{stage}: {}", reply.text()),
            ClientError::Tls(m) => write!(f, "TLS: {m}"),
        }
    }
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

pub struct Client {
    conn: Conn<Box<dyn Io>>,
    pub ext: Extensions,
    /// "TLSv1.3 …" once encrypted.
    pub tls: Option<String>,
    timeouts: Timeouts,
    helo: String,
}

/// The outcome of one transaction: the answer to each RCPT, then to the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub rcpts: Vec<(String, Reply)>,
    /// None when no recipient was accepted (no DATA was sent).
    pub data: Option<Reply>,
}

impl Client {
    /// Connects, reads the greeting, says EHLO (HELO when EHLO is refused) and sets up TLS as
    /// `security` asks.
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        helo: &str,
        security: Security,
        verify: &Verification,
        timeouts: Timeouts,
    ) -> Result<Client, ClientError> {
        let tcp = tokio::time::timeout(timeouts.connect, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Transient(format!("connect to {addr}: timed out")))?
            .map_err(|e| ClientError::Transient(format!("connect to {addr}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let (stream, tls): (Box<dyn Io>, Option<String>) = if security == Security::Tls {
            let (s, info) = tls_connect(tcp, server_name, verify).await?;
            (Box::new(s), Some(info))
        } else {
            (Box::new(tcp), None)
        };
        let mut c = Client {
            conn: Conn::new(stream),
            ext: Extensions::default(),
            tls,
            timeouts,
            helo: helo.into(),
        };
        let greeting = c.read(timeouts.greeting).await?;
        if greeting.code != 220 {
            return Err(ClientError::Rejected {
                stage: "greeting",
                reply: greeting,
            });
        }
        c.hello().await?;
        if c.tls.is_none() && security != Security::None {
            if c.ext.starttls {
                let r = c.command("STARTTLS").await?;
                if r.code == 220 {
                    c = c.upgrade(server_name, verify).await?;
                } else if security == Security::StartTls {
                    return Err(ClientError::Rejected {
                        stage: "STARTTLS",
                        reply: r,
                    });
                }
            } else if security == Security::StartTls {
                return Err(ClientError::Tls(format!(
                    "{server_name} does not offer STARTTLS"
                )));
            }
        }
        Ok(c)
    }

    /// TLS on the connection after the server said 220 to STARTTLS, then EHLO again.
    async fn upgrade(
        self,
        server_name: &str,
        verify: &Verification,
    ) -> Result<Client, ClientError> {
        let Client {
            conn,
            timeouts,
            helo,
            ..
        } = self;
        let (s, info) = tls_connect(conn.into_stream(), server_name, verify).await?;
        let mut c = Client {
            conn: Conn::new(Box::new(s)),
            ext: Extensions::default(),
            tls: Some(info),
            timeouts,
            helo,
        };
        c.hello().await?;
        Ok(c)
    }

    async fn hello(&mut self) -> Result<(), ClientError> {
        let r = self.command(&format!("EHLO {}", self.helo)).await?;
        if r.code == 250 {
            self.ext = Extensions::from_ehlo(&r);
            return Ok(());
        }
        let r = self.command(&format!("HELO {}", self.helo)).await?;
        if r.code != 250 {
            return Err(ClientError::Rejected {
                stage: "HELO",
                reply: r,
            });
        }
        self.ext = Extensions::default();
        Ok(())
    }

    async fn read(&mut self, timeout: Duration) -> Result<Reply, ClientError> {
        loop {
            match parse_reply(self.conn.buffered()) {
                Ok(Some((r, used))) => {
                    self.conn.consume(used);
                    return Ok(r);
                }
                Ok(None) => {}
                Err(e) => return Err(ClientError::Transient(format!("bad reply: {e:?}"))),
            }
            match self.conn.fill(timeout, None).await {
                Ok(_) => {}
                Err(ReadError::Timeout) => {
                    return Err(ClientError::Transient(
                        "timed out waiting for a reply".into(),
                    ));
                }
                Err(_) => return Err(ClientError::Transient("connection lost".into())),
            }
        }
    }

    async fn flush(&mut self) -> Result<(), ClientError> {
        self.conn
            .flush()
            .await
            .map_err(|e| ClientError::Transient(format!("write: {e}")))
    }

    pub async fn command(&mut self, line: &str) -> Result<Reply, ClientError> {
        self.conn.reply(line);
        self.flush().await?;
        self.read(self.timeouts.command).await
    }

    /// AUTH PLAIN when offered, else LOGIN.
    pub async fn auth(&mut self, user: &str, password: &str) -> Result<(), ClientError> {
        let r = if self.ext.auth.iter().any(|m| m == "PLAIN") {
            let token = B64.encode(format!("\0{user}\0{password}"));
            self.command(&format!("AUTH PLAIN {token}")).await?
        } else if self.ext.auth.iter().any(|m| m == "LOGIN") {
            let r = self.command("AUTH LOGIN").await?;
            if r.code != 334 {
                return Err(ClientError::Rejected {
                    stage: "AUTH",
                    reply: r,
                });
            }
            let r = self.command(&B64.encode(user)).await?;
            if r.code != 334 {
                return Err(ClientError::Rejected {
                    stage: "AUTH",
                    reply: r,
                });
            }
            self.command(&B64.encode(password)).await?
        } else {
            return Err(ClientError::Rejected {
                stage: "AUTH",
                reply: Reply {
                    code: 504,
                    lines: vec!["the server offers neither PLAIN nor LOGIN".into()],
                },
            });
        };
        if r.code != 235 {
            return Err(ClientError::Rejected {
                stage: "AUTH",
                reply: r,
            });
        }
        Ok(())
    }

    /// One transaction. With PIPELINING, MAIL, every RCPT and DATA go in one write.
    pub async fn send(
        &mut self,
        from: &str,
        rcpts: &[String],
        message: &[u8],
    ) -> Result<Sent, ClientError> {
        let mut mail = format!("MAIL FROM:<{from}>");
        if let Some(limit) = self.ext.size {
            if message.len() as u64 > limit {
                return Err(ClientError::Rejected {
                    stage: "MAIL",
                    reply: Reply {
                        code: 552,
                        lines: vec![format!(
                            "5.3.4 message of {} bytes exceeds the server's limit of {limit}",
                            message.len()
                        )],
                    },
                });
            }
            mail.push_str(&format!(" SIZE={}", message.len()));
        }
        if self.ext.eightbit && message.iter().any(|&b| b >= 0x80) {
            mail.push_str(" BODY=8BITMIME");
        }
        let utf8 = !from.is_ascii() || rcpts.iter().any(|r| !r.is_ascii());
        if utf8 {
            if !self.ext.smtputf8 {
                return Err(ClientError::Rejected {
                    stage: "MAIL",
                    reply: Reply {
                        code: 553,
                        lines: vec![
                            "5.6.7 the server does not offer SMTPUTF8 for a UTF-8 address".into(),
                        ],
                    },
                });
            }
            mail.push_str(" SMTPUTF8");
        }
        let pipelined = self.ext.pipelining;
        self.conn.reply(&mail);
        if !pipelined {
            self.flush().await?;
            let r = self.read(self.timeouts.command).await?;
            if r.code != 250 {
                return Err(ClientError::Rejected {
                    stage: "MAIL",
                    reply: r,
                });
            }
        }
        let mut answers = Vec::with_capacity(rcpts.len());
        for rcpt in rcpts {
            self.conn.reply(&format!("RCPT TO:<{rcpt}>"));
            if !pipelined {
                self.flush().await?;
                answers.push((rcpt.clone(), self.read(self.timeouts.command).await?));
            }
        }
        if pipelined {
            self.conn.reply("DATA");
            self.flush().await?;
            let r = self.read(self.timeouts.command).await?;
            if r.code != 250 {
                // Drain the RCPT and DATA answers to stay in step; a server that still said
                // 354 gets an empty message ended at once.
                for i in 0..=rcpts.len() {
                    let a = self.read(self.timeouts.command).await?;
                    if i == rcpts.len() && a.code == 354 {
                        self.conn.write_raw(b".\r\n");
                        self.flush().await?;
                        self.read(self.timeouts.data_end).await?;
                    }
                }
                self.command("RSET").await?;
                return Err(ClientError::Rejected {
                    stage: "MAIL",
                    reply: r,
                });
            }
            for rcpt in rcpts {
                answers.push((rcpt.clone(), self.read(self.timeouts.command).await?));
            }
        }
        let accepted = answers.iter().any(|(_, r)| r.code == 250 || r.code == 251);
        if !pipelined {
            if !accepted {
                self.command("RSET").await?;
                return Ok(Sent {
                    rcpts: answers,
                    data: None,
                });
            }
            self.conn.reply("DATA");
            self.flush().await?;
        }
        let go = self.read(self.timeouts.command).await?;
        if go.code != 354 {
            // The transaction is still open on the server (MAIL stays in effect): end it.
            self.command("RSET").await?;
            if pipelined && !accepted {
                return Ok(Sent {
                    rcpts: answers,
                    data: None,
                });
            }
            return Err(ClientError::Rejected {
                stage: "DATA",
                reply: go,
            });
        }
        if !accepted {
            // Pipelined DATA was accepted with no valid recipient: send an empty message then
            // forget it (RFC 2920 3.1 leaves no other way out).
            self.conn.write_raw(b".\r\n");
            self.flush().await?;
            let _ = self.read(self.timeouts.data_end).await?;
            self.command("RSET").await?;
            return Ok(Sent {
                rcpts: answers,
                data: None,
            });
        }
        self.conn.write_raw(&dot_stuff(message));
        self.conn
            .flush()
            .await
            .map_err(|e| ClientError::Transient(format!("write: {e}")))?;
        let end = self.read(self.timeouts.data_end).await?;
        Ok(Sent {
            rcpts: answers,
            data: Some(end),
        })
    }

    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.command("QUIT")).await;
    }

    /// Reads a line the server sent unasked (tests only use the reply parser).
    #[doc(hidden)]
    pub async fn read_line(&mut self) -> Option<Vec<u8>> {
        match self.conn.read_line(4096, self.timeouts.command, None).await {
            Ok(Line::Complete(l)) => Some(l),
            _ => None,
        }
    }
}

/// The message in DATA form: CRLF line ends, leading dots doubled, ended by CRLF.CRLF.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 8);
    let mut line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
        prev = b;
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

async fn tls_connect(
    tcp: impl Io + 'static,
    server_name: &str,
    verify: &Verification,
) -> Result<(tokio_rustls::client::TlsStream<Box<dyn Io>>, String), ClientError> {
    let config = match verify {
        Verification::Required { ca_file } => verifying_tls_config(ca_file.as_deref()),
        Verification::Opportunistic | Verification::Off => opportunistic_tls_config(),
        Verification::Dane(records) => dane_tls_config(records),
    }
    .map_err(ClientError::Tls)?;
    let name = match verify {
        // A name that cannot be checked cannot pass.
        Verification::Required { .. } | Verification::Dane(_) => {
            ServerName::try_from(server_name.to_string())
                .map_err(|e| ClientError::Tls(format!("{server_name}: {e}")))?
        }
        _ => ServerName::try_from(server_name.to_string())
            .or_else(|_| ServerName::try_from("localhost".to_string()))
            .map_err(|e| ClientError::Tls(e.to_string()))?,
    };
    let stream: Box<dyn Io> = Box::new(tcp);
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| match verify {
            Verification::Required { .. } => ClientError::Tls(format!(
                "the certificate of {server_name} is not trusted ({e}); nothing was sent"
            )),
            Verification::Dane(_) => ClientError::Tls(format!(
                "DANE: {}; nothing was sent",
                e.to_string().trim_start_matches("unexpected error: ")
            )),
            _ => ClientError::Tls(e.to_string()),
        })?;
    let (_, c) = tls.get_ref();
    let verdict = match (verify, c.peer_certificates()) {
        (Verification::Required { .. }, _) => "certificate verified".to_string(),
        (Verification::Dane(_), _) => "certificate matches its TLSA record (DANE)".to_string(),
        (Verification::Off, _) => {
            tracing::warn!(
                host = server_name,
                "TLS certificate of the relay NOT verified (verify_certificate = false)"
            );
            "certificate not verified (verification turned off)".to_string()
        }
        (Verification::Opportunistic, Some([end, rest @ ..])) => {
            certificate_verdict(end, rest, server_name)
        }
        (Verification::Opportunistic, _) => "no certificate".into(),
    };
    let info = format!(
        "{} {}, {verdict}",
        c.protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default()
            .replace("TLSv1_", "TLSv1."),
        c.negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default()
    );
    Ok((tls, info))
}

/// The public roots (Mozilla's list, built in), parsed once.
fn public_roots() -> &'static rustls::RootCertStore {
    static ROOTS: std::sync::OnceLock<rustls::RootCertStore> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        roots
    })
}

/// Whether the certificate would pass a browser-grade check for `server_name` against the
/// public roots. Opportunistic TLS goes ahead either way; the log records which it was.
fn certificate_verdict(
    end: &CertificateDer<'_>,
    rest: &[CertificateDer<'_>],
    server_name: &str,
) -> String {
    static VERIFIER: std::sync::OnceLock<Option<Arc<rustls::client::WebPkiServerVerifier>>> =
        std::sync::OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(public_roots().clone()),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .ok()
    });
    let (Some(v), Ok(name)) = (verifier, ServerName::try_from(server_name.to_string())) else {
        return "certificate not checked".into();
    };
    match v.verify_server_cert(end, rest, &name, &[], UnixTime::now()) {
        Ok(_) => "certificate verified".into(),
        Err(e) => format!("certificate not verified ({e})"),
    }
}

/// A TLS 1.2+ client configuration that verifies the server: the public roots, and the
/// authorities in `ca_file` (read at each connection, so a changed file is picked up).
pub fn verifying_tls_config(ca_file: Option<&str>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = public_roots().clone();
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("ca_file {path}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("ca_file {path}: {e}"))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!("ca_file {path}: no usable certificate"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TLS 1.2+ client configuration that accepts only a certificate the TLSA records name.
fn dane_tls_config(records: &[super::dane::Tlsa]) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = super::dane_verify::DaneVerifier::new(records.to_vec(), provider.clone());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TLS 1.2+ client configuration for opportunistic TLS (also what the tests use to talk to a
/// server with a self-signed certificate).
pub fn opportunistic_tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Opportunistic(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Opportunistic TLS between MTAs (RFC 7435): encrypt whatever certificate the peer shows;
/// the signature of the handshake is still checked, so the session is bound to that key.
#[derive(Debug)]
struct Opportunistic(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Opportunistic {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_single_multi_and_partial() {
        let (r, used) = parse_reply(b"250 2.0.0 OK\r\nnext").unwrap().unwrap();
        assert_eq!((r.code, used), (250, 14));
        assert_eq!(r.lines, ["2.0.0 OK"]);
        let (r, _) = parse_reply(b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.lines.len(), 3);
        let e = Extensions::from_ehlo(&r);
        assert!(e.pipelining && e.size == Some(1000) && !e.starttls);
        assert_eq!(parse_reply(b"250-first\r\n250 sec").unwrap(), None);
        assert!(parse_reply(b"HTTP/1.1 400 Bad\r\n").is_err());
        assert!(parse_reply(b"250-a\r\n251 b\r\n").is_err());
        assert_eq!(parse_reply(b"220\r\n").unwrap().unwrap().0.code, 220);
    }

    #[test]
    fn stuffing() {
        assert_eq!(dot_stuff(b"a\n.b\r\n..c"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
    }
}
