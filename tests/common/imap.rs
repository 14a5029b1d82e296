//! A plain IMAP client for tests: sends tagged commands and returns the untagged lines and the
//! tagged completion, with literals folded into their line.

use super::smtp::Client;
use std::io::Read;
use std::net::SocketAddr;

pub struct Imap {
    pub c: Client,
    n: u32,
}

pub struct Response {
    pub untagged: Vec<String>,
    pub tagged: String,
}

impl Response {
    pub fn ok(&self) -> bool {
        self.tagged.split(' ').nth(1) == Some("OK")
    }
    /// The tagged line without its tag.
    pub fn status(&self) -> &str {
        self.tagged.split_once(' ').map(|x| x.1).unwrap_or("")
    }
}

impl Imap {
    pub fn connect_tls(addr: SocketAddr) -> (Imap, String) {
        let (c, g) = Client::connect_tls_line(addr);
        (Imap { c, n: 0 }, g)
    }

    pub fn connect(addr: SocketAddr) -> (Imap, String) {
        let (c, g) = Client::connect_line(addr);
        (Imap { c, n: 0 }, g)
    }

    /// Logged in over implicit TLS.
    pub fn login(addr: SocketAddr, user: &str) -> Imap {
        let (mut i, _) = Imap::connect_tls(addr);
        let r = i.cmd(&format!("LOGIN {user} {}", super::PASSWORD));
        assert!(r.ok(), "{}", r.tagged);
        i
    }

    /// One line, with any literals it announces read and appended.
    pub fn line(&mut self) -> Option<String> {
        let mut line = self.c.read_line()?;
        while let Some(n) = literal_len(&line) {
            let mut buf = vec![0u8; n];
            let have = self.c.take_buffered(n);
            buf[..have.len()].copy_from_slice(&have);
            self.c.stream.read_exact(&mut buf[have.len()..]).ok()?;
            line.push_str("\r\n");
            line.push_str(&String::from_utf8_lossy(&buf));
            line.push_str(&self.c.read_line()?);
        }
        Some(line)
    }

    pub fn cmd(&mut self, cmd: &str) -> Response {
        self.n += 1;
        let tag = format!("T{}", self.n);
        self.c.send(format!("{tag} {cmd}\r\n").as_bytes());
        self.until(&tag)
    }

    /// Reads untagged lines until the tagged completion of `tag`.
    pub fn until(&mut self, tag: &str) -> Response {
        let mut untagged = Vec::new();
        loop {
            let l = self.line().expect("connection closed");
            if l.starts_with(&format!("{tag} ")) {
                return Response {
                    untagged,
                    tagged: l,
                };
            }
            untagged.push(l);
        }
    }

    pub fn next_tag(&mut self) -> String {
        self.n += 1;
        format!("T{}", self.n)
    }
}

fn literal_len(line: &str) -> Option<usize> {
    let open = line.rfind('{')?;
    let inner = line[open + 1..].strip_suffix('}')?;
    inner.parse().ok()
}
