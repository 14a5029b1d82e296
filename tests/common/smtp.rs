//! A deliberately plain SMTP client for tests: it sends exactly the bytes it is given and reads
//! whole replies, so tests can assert codes and texts and misbehave on purpose.

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    Closed,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Closed => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Closed => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Closed => Ok(()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    /// The text of every line, without the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
    /// "250 2.1.5" style: the code and the enhanced status code of the first line.
    pub fn status(&self) -> String {
        let esc = self
            .lines
            .first()
            .and_then(|l| l.split(' ').next())
            .unwrap_or("");
        format!("{} {esc}", self.code)
    }
}

pub struct Client {
    pub stream: Stream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects and returns the client with the greeting already read.
    pub fn connect(addr: SocketAddr) -> (Client, Reply) {
        let mut c = Client::connect_silent(addr);
        let greeting = c.read_reply();
        (c, greeting)
    }

    /// Up to `n` bytes already read from the socket but not yet consumed.
    pub fn take_buffered(&mut self, n: usize) -> Vec<u8> {
        let k = n.min(self.buf.len());
        self.buf.drain(..k).collect()
    }

    /// Sends a line and reads one line back (POP3 and other line protocols).
    pub fn line(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.read_line().expect("connection closed")
    }

    /// Reads a POP3 multi-line body up to its "." line, without the terminator.
    pub fn multiline(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self
                .read_line()
                .expect("connection closed in a multi-line response");
            if l == "." {
                return out;
            }
            out.push(l);
        }
    }

    /// Connects without reading the greeting.
    pub fn connect_silent(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Client {
            stream: Stream::Plain(s),
            buf: Vec::new(),
        }
    }

    /// Connects to a line protocol (POP3) and returns the greeting line.
    pub fn connect_line(addr: SocketAddr) -> (Client, String) {
        let mut c = Client::connect_silent(addr);
        let g = c.read_line().expect("greeting");
        (c, g)
    }

    /// The same over implicit TLS.
    pub fn connect_tls_line(addr: SocketAddr) -> (Client, String) {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Client {
            stream: Stream::Tls(Box::new(tls_wrap(s))),
            buf: Vec::new(),
        };
        let g = c.read_line().expect("greeting");
        (c, g)
    }

    /// Starts TLS on the plain connection (after the server agreed to STARTTLS/STLS).
    pub fn upgrade_tls(&mut self) {
        let Stream::Plain(s) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            panic!("already TLS")
        };
        self.stream = Stream::Tls(Box::new(tls_wrap(s)));
    }

    /// Implicit TLS (port 465).
    pub fn connect_tls(addr: SocketAddr) -> (Client, Reply) {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Client {
            stream: Stream::Tls(Box::new(tls_wrap(s))),
            buf: Vec::new(),
        };
        let greeting = c.read_reply();
        (c, greeting)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
        self.stream.flush().unwrap();
    }

    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes());
        self.read_reply()
    }

    /// Reads one (possibly multi-line) reply. Panics if the connection closes first.
    pub fn read_reply(&mut self) -> Reply {
        self.try_read_reply()
            .unwrap_or_else(|| panic!("connection closed while waiting for a reply"))
    }

    /// None when the server closed the connection before a whole reply.
    pub fn try_read_reply(&mut self) -> Option<Reply> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            let code: u16 = line.get(..3)?.parse().ok()?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Some(Reply { code, lines });
            }
        }
    }

    pub fn read_line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let s = String::from_utf8_lossy(&line)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                return Some(s);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// True when the server has closed the connection (reads EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0) | Err(_))
    }

    pub fn ehlo(&mut self) -> Reply {
        let r = self.cmd("EHLO client.test");
        assert_eq!(r.code, 250, "{r:?}");
        r
    }

    pub fn starttls(&mut self) {
        let r = self.cmd("STARTTLS");
        assert_eq!(r.code, 220, "{r:?}");
        self.upgrade_tls();
    }

    pub fn auth_plain(&mut self, user: &str, password: &str) -> Reply {
        use base64::Engine;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.cmd(&format!("AUTH PLAIN {token}"))
    }

    /// MAIL, RCPTs, DATA; returns the reply to the end of data (or the first refusal).
    pub fn send_mail(&mut self, from: &str, to: &[&str], body: &str) -> Reply {
        self.try_send_mail(from, to, body)
            .expect("connection closed during the transaction")
    }

    /// As send_mail; None when the connection breaks on the way.
    pub fn try_send_mail(&mut self, from: &str, to: &[&str], body: &str) -> Option<Reply> {
        let r = self.try_cmd(&format!("MAIL FROM:<{from}>"))?;
        if r.code != 250 {
            return Some(r);
        }
        let mut accepted = 0;
        for t in to {
            if self.try_cmd(&format!("RCPT TO:<{t}>"))?.code == 250 {
                accepted += 1;
            }
        }
        let r = self.try_cmd("DATA")?;
        if accepted == 0 || r.code != 354 {
            self.try_cmd("RSET")?;
            return Some(r);
        }
        let mut data = body.replace("\r\n", "\n").replace('\n', "\r\n");
        if !data.ends_with("\r\n") {
            data.push_str("\r\n");
        }
        // Dot-stuffing, as every client must.
        let stuffed = data.split("\r\n").map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_string()
            }
        });
        let mut wire = stuffed.collect::<Vec<_>>().join("\r\n");
        wire.push_str(".\r\n");
        self.stream.write_all(wire.as_bytes()).ok()?;
        self.try_read_reply()
    }

    pub fn try_cmd(&mut self, line: &str) -> Option<Reply> {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .ok()?;
        self.try_read_reply()
    }

    pub fn try_connect(addr: SocketAddr) -> Option<(Client, Reply)> {
        let s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let mut c = Client {
            stream: Stream::Plain(s),
            buf: Vec::new(),
        };
        let greeting = c.try_read_reply()?;
        Some((c, greeting))
    }
}

fn tls_wrap(s: TcpStream) -> StreamOwned<ClientConnection, TcpStream> {
    // The server's certificate is self-signed: tests check the protocol, not the PKI.
    let config = roost_core::outbound::client::opportunistic_tls_config().unwrap();
    let conn =
        ClientConnection::new(config, ServerName::try_from("mx.test.example").unwrap()).unwrap();
    StreamOwned::new(conn, s)
}
