//! Spam scoring with Debian's real rspamd, started by the test in a network namespace of its
//! own with no interface up (its DNS and update look-ups cannot leave it, nor the machine)
//! and spoken to on unix sockets: GTUBE refused, rspamd's "add header" to Junk, clean mail
//! delivered with its score, and mail still delivered when rspamd is gone.

mod common;

use common::smtp::Client;
use common::{TempDir, server_with_users};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GTUBE_REJECT: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const GTUBE_ADD_HEADER: &str =
    "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

struct Rspamd {
    child: Option<Child>,
    socket: PathBuf,
    controller: PathBuf,
    dir: TempDir,
}

/// Debian's redis-server on a unix socket only, for rspamd's statistics.
struct Redis {
    child: Child,
    socket: PathBuf,
    _dir: TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = TempDir::new("redis");
        let socket = dir.0.join("redis.sock");
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&socket)
            .args(["--unixsocketperm", "777"])
            .arg("--dir")
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Redis {
            child,
            socket,
            _dir: dir,
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rspamd {
    fn start() -> Rspamd {
        Rspamd::start_with(None)
    }

    fn start_with(redis: Option<&Redis>) -> Rspamd {
        let dir = TempDir::new("rspamd");
        let d = &dir.0;
        let local = d.join("local.d");
        for sub in ["local.d", "db", "run", "log"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let socket = d.join("normal.sock");
        let files = [
            (
                "worker-normal.inc",
                format!(
                    "bind_socket = \"{} mode=0666\";\ncount = 1;\n",
                    socket.display()
                ),
            ),
            (
                "worker-controller.inc",
                format!(
                    "bind_socket = \"{} mode=0666\";\ncount = 1;\n",
                    d.join("controller.sock").display()
                ),
            ),
            ("worker-proxy.inc", "enabled = false;\n".into()),
            ("worker-fuzzy.inc", "enabled = false;\n".into()),
            ("fuzzy_check.conf", "enabled = false;\n".into()),
            // The GTUBE-like test patterns, one per action.
            (
                "options.inc",
                "enable_test_patterns = true;\ndns { timeout = 0.5s; retransmits = 1; }\n".into(),
            ),
            (
                "logging.inc",
                format!(
                    "type = \"file\";\nfilename = \"{}\";\nlevel = \"info\";\n",
                    d.join("log/rspamd.log").display()
                ),
            ),
        ];
        for (name, text) in files {
            std::fs::write(local.join(name), text).unwrap();
        }
        if let Some(r) = redis {
            std::fs::write(
                local.join("redis.conf"),
                format!("servers = \"{}\";\n", r.socket.display()),
            )
            .unwrap();
        }
        let var = |k: &str, v: &std::path::Path| format!("--var={k}={}", v.display());
        let child = Command::new("unshare")
            .arg("-n")
            .args(["rspamd", "-f", "-u", "root", "-g", "root", "--insecure"])
            .args(["-c", "/etc/rspamd/rspamd.conf"])
            .arg(var("LOCAL_CONFDIR", d))
            .arg(var("DBDIR", &d.join("db")))
            .arg(var("RUNDIR", &d.join("run")))
            .arg(var("LOGDIR", &d.join("log")))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(d.join("stderr")).unwrap(),
            ))
            .spawn()
            .expect("rspamd (Debian package rspamd) and unshare (util-linux)");
        let r = Rspamd {
            child: Some(child),
            socket,
            controller: d.join("controller.sock"),
            dir,
        };
        // Ready when the normal worker answers /ping (after its regular expressions compile).
        let deadline = Instant::now() + Duration::from_secs(120);
        while !r.pong() {
            assert!(
                Instant::now() < deadline,
                "rspamd did not start: {}",
                std::fs::read_to_string(r.dir.0.join("stderr")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        r
    }

    fn pong(&self) -> bool {
        get(&self.socket, "/ping").contains("pong")
    }

    /// How many messages rspamd's classifier has learned, from the controller's /stat.
    fn learned(&self) -> u64 {
        let out = get(&self.controller, "/stat");
        let json = out.split("\r\n\r\n").nth(1).unwrap_or("{}");
        let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        v["learned"].as_u64().unwrap_or(0)
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix_kill(c.id(), 15);
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The body of an HTTP GET on a unix socket, "" when nothing answers.
fn get(socket: &std::path::Path, path: &str) -> String {
    let Ok(mut s) = UnixStream::connect(socket) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: rspamd\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn nix_kill(pid: u32, sig: i32) -> std::io::Result<()> {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()?;
    if ok.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("kill failed"))
    }
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn message(subject: &str, body: &str) -> String {
    format!(
        "From: x@remote.test\nTo: alice@example.test\nSubject: {subject}\n\
         Date: Wed, 02 Dec 2026 10:00:00 +0000\nMessage-ID: <{subject}@remote.test>\n\n{body}\n"
    )
}

#[test]
fn rspamd_scores_refuses_and_files_to_junk_and_its_absence_loses_nothing() {
    let mut rspamd = Rspamd::start();
    let s = server_with_users(&format!(
        "[protection]\nauthentication = false\nrspamd = \"unix:{}\"\n",
        rspamd.socket.display()
    ));
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();

    let r = c.send_mail(
        "x@remote.test",
        &["alice@example.test"],
        &message("gtube", GTUBE_REJECT),
    );
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text().contains("5.7.1 Spam message rejected"), "{r:?}");
    s.wait_log("spam check");

    let r = c.send_mail(
        "x@remote.test",
        &["alice@example.test"],
        &message("offer", GTUBE_ADD_HEADER),
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    let junk = s.mailbox("alice@example.test", "Junk");
    assert_eq!(junk.len(), 1, "rspamd's add-header action files to Junk");
    assert!(String::from_utf8_lossy(&junk[0]).contains("X-Spam-Status: Yes"));

    let r = c.send_mail(
        "x@remote.test",
        &["alice@example.test"],
        &message("hello", "Dear Alice, see you on Sunday."),
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    let inbox = s.inbox("alice@example.test");
    assert_eq!(inbox.len(), 1);
    assert!(String::from_utf8_lossy(&inbox[0]).contains("X-Spam-Status: No, score="));

    assert!(s.ok(&["status"]).contains("rspamd: answering"));
    // rspamd stops: mail is delivered unscored; the log and roost status say why.
    rspamd.stop();
    let status = s.ok(&["status"]);
    assert!(status.contains("rspamd: not answering"), "{status}");
    let r = c.send_mail(
        "x@remote.test",
        &["alice@example.test"],
        &message("later", "Still there?"),
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    assert_eq!(s.inbox("alice@example.test").len(), 2);
    s.wait_log("spam check not done: rspamd unavailable");
}

#[test]
fn a_message_moved_into_junk_is_learned_as_spam() {
    let redis = Redis::start();
    let rspamd = Rspamd::start_with(Some(&redis));
    let s = server_with_users(&format!(
        "[protection]\nauthentication = false\nrspamd = \"unix:{}\"\nrspamd_controller = \"unix:{}\"\n",
        rspamd.socket.display(),
        rspamd.controller.display()
    ));
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    // Enough words for the classifier to take it.
    let words = "cheap watches replica luxury discount offer limited time buy now click here \
                 exclusive deal save money free shipping worldwide best price guaranteed \
                 order today special promotion amazing quality genuine brand";
    let r = c.send_mail(
        "x@remote.test",
        &["alice@example.test"],
        &message("watches", words),
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    assert_eq!(rspamd.learned(), 0);

    let mut imap = common::imap::Imap::login(s.imaps, "alice@example.test");
    assert!(imap.cmd("SELECT INBOX").ok());
    assert!(imap.cmd("MOVE 1 Junk").ok());
    common::wait_until(20, "rspamd to learn the moved message", || {
        rspamd.learned() == 1
    });
    s.wait_log("learned from the user's sorting");
}
