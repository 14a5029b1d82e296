//! The virus scan on arrival, with Debian's real clamd (clamav-daemon) started by the test on
//! a unix socket, with a signature database the test makes with sigtool (no signature can be
//! downloaded here): the EICAR test string is refused with 554, clean mail passes, and when
//! clamd is gone mail is delivered unscanned or deferred, as configured: never lost.

mod common;

use common::smtp::Client;
use common::{TempDir, server_with_users};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

struct Clamd {
    child: Option<Child>,
    socket: PathBuf,
    _dir: TempDir,
}

impl Clamd {
    fn start() -> Clamd {
        let dir = TempDir::new("clamd");
        let db = dir.0.join("db");
        std::fs::create_dir_all(&db).unwrap();
        // A body signature for the EICAR string, its hex made by sigtool.
        let mut hex = Command::new("sigtool")
            .arg("--hex-dump")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sigtool (Debian package clamav)");
        use std::io::Write;
        hex.stdin
            .take()
            .unwrap()
            .write_all(EICAR.as_bytes())
            .unwrap();
        let out = hex.wait_with_output().unwrap();
        assert!(out.status.success());
        let hex = String::from_utf8(out.stdout).unwrap();
        std::fs::write(
            db.join("roost-test.ndb"),
            format!("Roost.Test.EICAR:0:*:{}\n", hex.trim()),
        )
        .unwrap();
        let socket = dir.0.join("clamd.sock");
        let conf = dir.0.join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "Foreground yes\nLocalSocket {}\nDatabaseDirectory {}\nLogFile {}\nScanMail yes\n",
                socket.display(),
                db.display(),
                dir.0.join("clamd.log").display()
            ),
        )
        .unwrap();
        let child = Command::new("clamd")
            .arg(format!("--config-file={}", conf.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clamd (Debian package clamav-daemon)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "clamd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Clamd {
            child: Some(child),
            socket,
            _dir: dir,
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn with_attachment(subject: &str, content: &str) -> String {
    format!(
        "From: x@remote.test\nTo: alice@example.test\nSubject: {subject}\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n\
         --b\nContent-Type: text/plain\n\nSee the file.\n\
         --b\nContent-Type: application/octet-stream; name=\"file.bin\"\n\
         Content-Disposition: attachment; filename=\"file.bin\"\n\n{content}\n--b--\n"
    )
}

/// Sends a message with this attachment from x@remote.test to alice.
fn send(c: &mut Client, subject: &str, content: &str) -> common::smtp::Reply {
    c.send_mail(
        "x@remote.test",
        &["alice@example.test"],
        &with_attachment(subject, content),
    )
}

fn config(clamd: &Clamd, extra: &str) -> String {
    format!(
        "[protection]\nauthentication = false\nclamav = \"unix:{}\"\n{extra}",
        clamd.socket.display()
    )
}

#[test]
fn a_virus_is_refused_and_clean_mail_passes() {
    let clamd = Clamd::start();
    let s = server_with_users(&config(&clamd, ""));
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let r = send(&mut c, "virus", EICAR);
    assert_eq!(r.code, 554, "{r:?}");
    assert!(r.text().contains("Virus found: Roost.Test.EICAR"), "{r:?}");
    let r = send(&mut c, "clean", "just text");
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    let inbox = s.inbox("alice@example.test");
    assert_eq!(inbox.len(), 1);
    assert!(String::from_utf8_lossy(&inbox[0]).contains("X-Virus-Scanned: ClamAV, clean"));
    s.wait_log("virus found");
}

#[test]
fn an_infected_message_can_go_to_junk_or_the_quarantine_instead() {
    let clamd = Clamd::start();
    let s = server_with_users(&config(&clamd, "clamav_infected = \"junk\"\n"));
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let r = send(&mut c, "virus", EICAR);
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    assert_eq!(s.inbox("alice@example.test").len(), 0);
    let junk = s.mailbox("alice@example.test", "Junk");
    assert_eq!(junk.len(), 1);
    assert!(String::from_utf8_lossy(&junk[0]).contains("infected: Roost.Test.EICAR"));

    // Or held for the admin, delivered to nobody.
    let q = server_with_users(&config(&clamd, "clamav_infected = \"quarantine\"\n"));
    let (mut c, _) = Client::connect(q.smtp);
    c.ehlo();
    let r = send(&mut c, "virus", EICAR);
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    assert_eq!(q.inbox("alice@example.test").len(), 0);
    assert_eq!(q.mailbox("alice@example.test", "Junk").len(), 0);
    let held: serde_json::Value =
        serde_json::from_str(&q.ok(&["--json", "quarantine", "list"])).unwrap();
    assert!(
        held[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("virus Roost.Test.EICAR"),
        "{held:#}"
    );
}

#[test]
fn without_clamd_mail_is_delivered_or_deferred_never_lost() {
    let mut clamd = Clamd::start();
    let delivering = server_with_users(&config(&clamd, ""));
    let deferring = server_with_users(&config(&clamd, "clamav_unavailable = \"tempfail\"\n"));
    let status = delivering.ok(&["status"]);
    assert!(status.contains("ClamAV: answering"), "{status}");
    clamd.stop();
    // roost status says so, and what happens to mail meanwhile.
    let status = delivering.ok(&["status"]);
    assert!(status.contains("ClamAV: not answering"), "{status}");
    assert!(status.contains("delivered without it"), "{status}");
    let status = deferring.ok(&["status"]);
    assert!(
        status.contains("deferred (451) until it answers"),
        "{status}"
    );

    let (mut c, _) = Client::connect(delivering.smtp);
    c.ehlo();
    let r = send(&mut c, "unscanned", "text");
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    let inbox = delivering.inbox("alice@example.test");
    assert_eq!(inbox.len(), 1);
    assert!(
        !String::from_utf8_lossy(&inbox[0]).contains("X-Virus-Scanned"),
        "unscanned mail is not labelled"
    );
    delivering.wait_log("virus scan not done: clamd unavailable");

    let (mut c, _) = Client::connect(deferring.smtp);
    c.ehlo();
    let r = send(&mut c, "later", "text");
    assert_eq!(r.code, 451, "{r:?}");
    assert!(r.text().starts_with("4.7.0"), "{r:?}");
    assert_eq!(deferring.inbox("alice@example.test").len(), 0);
}

#[test]
fn program_attachments_are_refused_without_any_virus_engine() {
    // The default install: no clamd.
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let program = "From: x@remote.test\nTo: alice@example.test\nSubject: invoice\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n\
         --b\nContent-Type: text/plain\n\nPlease pay.\n\
         --b\nContent-Type: application/octet-stream; name=\"invoice.pdf.exe\"\n\
         Content-Disposition: attachment; filename=\"invoice.pdf.exe\"\n\
         Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA//8AALgAAAAA\n--b--\n";
    let r = c.send_mail("x@remote.test", &["alice@example.test"], program);
    assert_eq!(r.code, 554, "{r:?}");
    assert!(r.text().contains("invoice.pdf.exe (.exe)"), "{r:?}");
    // The same bytes under an innocent name: still a Windows program.
    let disguised = program.replace("invoice.pdf.exe", "photo.jpg");
    let r = c.send_mail("x@remote.test", &["alice@example.test"], &disguised);
    assert_eq!(r.code, 554, "{r:?}");
    assert!(r.text().contains("a Windows program"), "{r:?}");
    assert_eq!(s.inbox("alice@example.test").len(), 0);
    s.wait_log("dangerous attachment");
}
