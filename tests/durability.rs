//! The daemon's life: a SIGKILL in the middle of concurrent deliveries loses nothing that got a
//! 250 and shows no partial message; SIGTERM lets transactions in flight finish and tells idle
//! clients 421; SIGHUP reloads the configuration and opens new listeners.

mod common;

use common::smtp::Client;
use common::{SIGHUP, SIGKILL, SIGTERM, server_with_users};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn marker(msg: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(msg);
    let start = text.find("X-Test-Id: ")? + 11;
    let end = text[start..].find("\r\n")? + start;
    Some(text[start..end].to_string())
}

#[test]
fn sigkill_during_concurrent_deliveries_loses_no_acknowledged_message() {
    let mut s = server_with_users("");
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let padding = "0123456789 abcdefghijklmnopqrstuvwxyz\n".repeat(120);
    let mut threads = Vec::new();
    for t in 0..8 {
        let (addr, acked, stop, padding) = (s.smtp, acked.clone(), stop.clone(), padding.clone());
        threads.push(std::thread::spawn(move || {
            let mut i = 0;
            'outer: while !stop.load(Ordering::Relaxed) {
                let Some((mut c, _)) = Client::try_connect(addr) else {
                    break;
                };
                if c.try_cmd("EHLO load.test").is_none() {
                    break;
                }
                for _ in 0..5 {
                    let id = format!("{t}-{i}");
                    i += 1;
                    let body = format!(
                        "X-Test-Id: {id}\nSubject: durability {id}\n\n{padding}end of {id}\n"
                    );
                    // After the kill the reply never comes: that message may or may not exist.
                    match c.try_send_mail("load@remote.test", &["alice@example.test"], &body) {
                        Some(r) if r.code == 250 => {
                            acked.lock().unwrap().insert(id);
                        }
                        _ => break 'outer,
                    }
                }
            }
        }));
    }
    // Let deliveries run, then pull the plug while they are in full flow.
    while acked.lock().unwrap().len() < 150 {
        std::thread::sleep(Duration::from_millis(10));
    }
    s.signal(SIGKILL);
    s.wait_exit(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 150);

    let inbox = s.inbox("alice@example.test");
    let mut stored = BTreeSet::new();
    for m in &inbox {
        let id = marker(m).expect("every stored message is whole: it has its header");
        let text = String::from_utf8_lossy(m);
        assert!(
            text.ends_with(&format!("{padding}end of {id}\n").replace('\n', "\r\n")),
            "message {id} is whole"
        );
        stored.insert(id);
    }
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert_eq!(stored.len(), inbox.len(), "no duplicates");

    // The server starts again on the same data and keeps working.
    s.launch();
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(
        c.send_mail(
            "x@remote.test",
            &["alice@example.test"],
            "Subject: after\n\nok\n"
        )
        .code,
        250
    );
    assert_eq!(
        s.message_count("alice@example.test") as usize,
        inbox.len() + 1
    );
}

#[test]
fn sigterm_finishes_transactions_in_flight_and_tells_idle_clients() {
    let mut s = server_with_users("");
    let (mut idle, _) = Client::connect(s.smtp);
    idle.ehlo();
    let (mut busy, _) = Client::connect(s.smtp);
    busy.ehlo();
    busy.cmd("MAIL FROM:<x@remote.test>");
    busy.cmd("RCPT TO:<alice@example.test>");
    assert_eq!(busy.cmd("DATA").code, 354);
    busy.send(b"Subject: in flight\r\n\r\nfirst half\r\n");
    std::thread::sleep(Duration::from_millis(100));
    s.signal(SIGTERM);
    assert_eq!(
        idle.read_reply().status(),
        "421 4.3.2",
        "idle session told at once"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        std::net::TcpStream::connect(s.smtp).is_err(),
        "no new connections while stopping"
    );
    busy.send(b"second half\r\n.\r\n");
    assert_eq!(
        busy.read_reply().code,
        250,
        "the message in flight is accepted"
    );
    assert_eq!(
        busy.read_reply().status(),
        "421 4.3.2",
        "then the session ends"
    );
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let m = String::from_utf8(s.inbox("alice@example.test")[0].clone()).unwrap();
    assert!(m.ends_with("first half\r\nsecond half\r\n"));
}

#[test]
fn sighup_reloads_limits_and_listeners() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    assert!(c.ehlo().lines.contains(&"SIZE 52428800".into()));
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let new_config = common::base_config("[smtp]\nmax_message_size = \"1M\"\n").replace(
        "smtp = [\"127.0.0.1:0\"]",
        &format!("smtp = [\"127.0.0.1:0\", \"{free}\"]"),
    );
    std::fs::write(&s.config, new_config).unwrap();
    s.signal(SIGHUP);
    s.wait_log("configuration reloaded");
    assert!(
        c.ehlo().lines.contains(&"SIZE 1048576".into()),
        "the open session sees the new limit"
    );
    let (mut c2, g) = Client::connect(free);
    assert_eq!(g.code, 220, "new listener is open");
    assert!(c2.ehlo().lines.contains(&"SIZE 1048576".into()));
    // A broken file is refused and changes nothing.
    std::fs::write(&s.config, "[smtp]\nmax_message_size = \"lots\"\n").unwrap();
    s.signal(SIGHUP);
    s.wait_log("reload refused");
    assert!(c2.ehlo().lines.contains(&"SIZE 1048576".into()));
}

#[test]
fn sigterm_says_bye_to_imap_and_pop3_sessions() {
    let mut s = server_with_users("");
    let mut idle = common::imap::Imap::login(s.imaps, "alice@example.test");
    idle.cmd("SELECT INBOX");
    let tag = idle.next_tag();
    idle.c.send(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(idle.line().unwrap(), "+ idling");
    let mut waiting = common::imap::Imap::login(s.imaps, "alice@example.test");
    let (mut pop, _) = Client::connect_tls_line(s.pop3s);
    s.signal(SIGTERM);
    assert_eq!(idle.line().unwrap(), "* BYE server shutting down");
    assert_eq!(
        waiting.line().unwrap(),
        "* BYE server shutting down, try again later"
    );
    assert_eq!(
        pop.read_line().unwrap(),
        "-ERR [SYS/TEMP] server shutting down, try again later"
    );
    assert!(s.wait_exit(Duration::from_secs(10)).success());
}
