//! Test harness: starts the real `roost` binary on free loopback ports with its own data folder,
//! runs its admin commands, and talks SMTP to it with a small blocking client (plain, STARTTLS
//! and implicit TLS). Every process and folder it makes is removed on drop.
#![allow(dead_code)]

pub mod dns;
pub mod imap;
pub mod mx;
pub mod signed_dns;
pub mod smtp;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "test-password-1";

pub fn roost_bin() -> &'static str {
    env!("CARGO_BIN_EXE_roost")
}

/// A folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p = std::env::temp_dir().join(format!(
            "roost-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    pub child: Option<Child>,
    pub dir: TempDir,
    pub config: PathBuf,
    pub data: PathBuf,
    pub smtp: SocketAddr,
    pub submission: SocketAddr,
    pub submissions: SocketAddr,
    pub pop3: SocketAddr,
    pub pop3s: SocketAddr,
    pub imap: SocketAddr,
    pub imaps: SocketAddr,
    pub stdout: Vec<String>,
}

/// Tests never ask a name server off the machine: unless a test brings its own [dns], the
/// server's resolver points at a loopback port where nothing answers (mail to other domains
/// then waits in the queue, deferred).
pub const NO_DNS_SERVER: &str = "[dns]\nnameservers = [\"127.0.0.1:9\"]\n";

/// NO_DNS_SERVER, and the arrival checks off: without a name server they could only wait
/// for their time-out on every message. Tests of the checks bring their own DNS.
pub const NO_DNS: &str =
    "[dns]\nnameservers = [\"127.0.0.1:9\"]\n[protection]\nauthentication = false\n";

/// The configuration every test server starts from; `extra` is appended (TOML tables).
pub fn base_config(extra: &str) -> String {
    let dns = if extra.contains("[dns]") {
        ""
    } else if extra.contains("[protection]") {
        NO_DNS_SERVER
    } else {
        NO_DNS
    };
    format!(
        "hostname = \"mx.test.example\"\n\
         [listeners]\n\
         smtp = [\"127.0.0.1:0\"]\n\
         submission = [\"127.0.0.1:0\"]\n\
         submissions = [\"127.0.0.1:0\"]\n\
         pop3 = [\"127.0.0.1:0\"]\n\
         pop3s = [\"127.0.0.1:0\"]\n\
         imap = [\"127.0.0.1:0\"]\n\
         imaps = [\"127.0.0.1:0\"]\n\
         {extra}\n{dns}"
    )
}

impl Server {
    pub fn start() -> Server {
        Server::start_with("")
    }

    /// `extra` is TOML appended after the [listeners] table: start it with a table header.
    pub fn start_with(extra: &str) -> Server {
        Server::start_config(&base_config(extra))
    }

    /// A server on exactly this configuration file, but for the first-sender delay: tests
    /// write from new senders all the time, so it is 0 unless the file sets it.
    pub fn start_config(text: &str) -> Server {
        let dir = TempDir::new("srv");
        let config = dir.0.join("roost.toml");
        let text = if text.contains("first_sender_delay_secs") {
            text.to_string()
        } else if text.contains("[protection]\n") {
            text.replacen(
                "[protection]\n",
                "[protection]\nfirst_sender_delay_secs = 0\n",
                1,
            )
        } else {
            format!("{text}\n[protection]\nfirst_sender_delay_secs = 0\n")
        };
        std::fs::write(&config, text).unwrap();
        let data = dir.0.join("data");
        let mut s = Server {
            child: None,
            config,
            data,
            dir,
            smtp: "0.0.0.0:0".parse().unwrap(),
            submission: "0.0.0.0:0".parse().unwrap(),
            submissions: "0.0.0.0:0".parse().unwrap(),
            pop3: "0.0.0.0:0".parse().unwrap(),
            pop3s: "0.0.0.0:0".parse().unwrap(),
            imap: "0.0.0.0:0".parse().unwrap(),
            imaps: "0.0.0.0:0".parse().unwrap(),
            stdout: vec![],
        };
        s.launch();
        s
    }

    /// Starts (or restarts) the process on this server's config and data.
    pub fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut child = Command::new(roost_bin())
            .args(["serve", "--config"])
            .arg(&self.config)
            .arg("--data")
            .arg(&self.data)
            .env("ROOST_INSECURE_FAST_HASH", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start roost");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        self.stdout.clear();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "roost did not become ready; stdout: {:?}; log: {}",
                    self.stdout,
                    self.log()
                )
            });
            if let Some(rest) = line.strip_prefix("roost: ") {
                let mut words = rest.split_whitespace();
                if let (Some(service), Some("listening"), Some("on"), Some(addr)) =
                    (words.next(), words.next(), words.next(), words.next())
                {
                    let addr: SocketAddr = addr.parse().unwrap();
                    match service {
                        "smtp" => self.smtp = addr,
                        "submission" => self.submission = addr,
                        "submissions" => self.submissions = addr,
                        "pop3" => self.pop3 = addr,
                        "pop3s" => self.pop3s = addr,
                        "imap" => self.imap = addr,
                        "imaps" => self.imaps = addr,
                        _ => {}
                    }
                }
            }
            let ready = line == "roost: ready";
            self.stdout.push(line);
            if ready {
                break;
            }
        }
        self.child = Some(child);
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.0.join("roost.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Waits until the log holds `needle` (log lines are written after the reply is sent).
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "log never showed {needle:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc_kill(self.pid(), sig) };
    }

    /// Waits for the process to exit; returns its status.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                self.child = None;
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "roost did not exit in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn admin(&self, args: &[&str]) -> Output {
        admin_cmd(&self.config, &self.data, args, None)
    }

    pub fn admin_stdin(&self, args: &[&str], stdin: &str) -> Output {
        admin_cmd(&self.config, &self.data, args, Some(stdin))
    }

    /// Runs an admin command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.admin(args);
        assert!(
            out.status.success(),
            "roost {args:?} failed: {} {}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn add_user(&self, address: &str) {
        let out = self.admin_stdin(
            &["user", "add", address, "--password-stdin"],
            &format!("{PASSWORD}\n"),
        );
        assert!(
            out.status.success(),
            "user add {address}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The JSON of `roost user show ADDRESS`.
    pub fn user(&self, address: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["user", "show", address, "--json"])).unwrap()
    }

    pub fn message_count(&self, address: &str) -> u64 {
        self.user(address)["messages"].as_u64().unwrap()
    }

    /// The stored INBOX messages of an account, read through the store as IMAP will.
    pub fn inbox(&self, address: &str) -> Vec<Vec<u8>> {
        read_inbox(&self.data, address)
    }

    pub fn mailbox(&self, address: &str, mailbox: &str) -> Vec<Vec<u8>> {
        read_mailbox(&self.data, address, mailbox)
    }
}

/// (name, special-use, uidvalidity, uidnext, highestmodseq) of each mailbox of an account.
pub fn mailboxes(data: &Path, address: &str) -> Vec<(String, Option<String>, i64, i64, i64)> {
    let store = roost_core::store::Store::open(data).unwrap();
    let id = store
        .read(|c| roost_core::directory::account_id(c, address))
        .unwrap();
    store.close();
    // The rows themselves, read straight from the database file (the store's interface has
    // no call that returns UIDNEXT and HIGHESTMODSEQ of every mailbox at once).
    let db = rusqlite::Connection::open(data.join("roost.db")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT name, special_use, uidvalidity, uidnext, highestmodseq FROM mailboxes WHERE account_id = ?1 ORDER BY id",
        )
        .unwrap();
    stmt.query_map([id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .collect::<Result<Vec<_>, _>>()
    .unwrap()
}

pub fn read_inbox(data: &Path, address: &str) -> Vec<Vec<u8>> {
    read_mailbox(data, address, "INBOX")
}

/// The messages of one mailbox of an account, oldest first.
pub fn read_mailbox(data: &Path, address: &str, mailbox: &str) -> Vec<Vec<u8>> {
    let store = roost_core::store::Store::open(data).unwrap();
    let id = store
        .read(|c| roost_core::directory::account_id(c, address))
        .unwrap();
    let rows = store
        .read(|c| roost_core::store::list_messages(c, id, mailbox))
        .unwrap();
    let out = rows
        .iter()
        .map(|r| store.blobs().read(&r.blob).unwrap())
        .collect();
    store.close();
    out
}

fn admin_cmd(config: &Path, data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(roost_bin())
        .arg("--config")
        .arg(config)
        .arg("--data")
        .arg(data)
        .args(args)
        .env("ROOST_INSECURE_FAST_HASH", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;
pub const SIGHUP: i32 = 1;

/// A server with domain example.test and users alice and bob.
pub fn server_with_users(extra: &str) -> Server {
    let s = Server::start_with(extra);
    s.ok(&["domain", "add", "example.test"]);
    s.add_user("alice@example.test");
    s.add_user("bob@example.test");
    s
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Delivers one message per subject to `to` over SMTP, each with a Message-ID and a sender.
pub fn deliver(s: &Server, to: &str, subjects: &[&str]) {
    let (mut c, _) = smtp::Client::connect(s.smtp);
    c.ehlo();
    for subj in subjects {
        let body = format!(
            "From: Sender <x@remote.test>\nTo: {to}\nSubject: {subj}\nMessage-ID: <{subj}@remote.test>\n\nbody of {subj}\n"
        );
        assert_eq!(c.send_mail("x@remote.test", &[to], &body).code, 250);
    }
}

/// Polls `f` every 100 ms until it is true; panics with `what` after `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A certificate authority only a test knows, and a certificate it signed for `names`.
pub struct TestCa {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

pub fn test_ca(dir: &std::path::Path, names: &[&str]) -> TestCa {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Roost test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
    let out = TestCa {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&out.ca, ca.pem()).unwrap();
    std::fs::write(&out.cert, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
    std::fs::write(&out.key, key.serialize_pem()).unwrap();
    out
}
