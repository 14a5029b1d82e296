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
    dir: TempDir,
}

impl Rspamd {
    fn start() -> Rspamd {
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
        let Ok(mut s) = UnixStream::connect(&self.socket) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /ping HTTP/1.1\r\nHost: rspamd\r\nConnection: close\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.contains("pong")
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

    // rspamd stops: mail is delivered unscored, and the log says why.
    rspamd.stop();
    let r = c.send_mail(
        "x@remote.test",
        &["alice@example.test"],
        &message("later", "Still there?"),
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    assert_eq!(s.inbox("alice@example.test").len(), 2);
    s.wait_log("spam check not done: rspamd unavailable");
}
