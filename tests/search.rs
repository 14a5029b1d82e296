//! Full-text search: the same generated corpus (many charsets and transfer encodings, HTML,
//! attachments, encoded-word headers, CJK) in a server with the index and in one without; every
//! query must give identical UID SEARCH results, also after expunges and after the index is
//! deleted and rebuilt.

mod common;

use common::imap::Imap;
use common::smtp::Client;
use common::{Server, TempDir, wait_until};
use std::process::Command;

const USER: &str = "alice@example.test";

fn server(search: bool) -> Server {
    let s = Server::start_with(&format!(
        "[search]\nenabled = {search}\n[log]\nlevel = \"info,roost_core::search=debug\"\n"
    ));
    s.ok(&["domain", "add", "example.test"]);
    s.add_user(USER);
    s
}

/// Delivers raw message bytes over SMTP (8-bit bodies stay in their own charset).
fn deliver(s: &Server, message: &[u8]) {
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(
        c.cmd("MAIL FROM:<corpus@remote.test> BODY=8BITMIME").code,
        250
    );
    assert_eq!(c.cmd(&format!("RCPT TO:<{USER}>")).code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    let mut data = Vec::with_capacity(message.len() + 8);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    if !data.ends_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    c.send(&data);
    assert_eq!(c.read_reply().code, 250);
}

fn waiting(s: &Server) -> u64 {
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "search", "status"])).unwrap();
    v["waiting"].as_u64().unwrap()
}

fn uid_search(i: &mut Imap, criteria: &str) -> Vec<u32> {
    let r = i.cmd(&format!("UID SEARCH {criteria}"));
    assert!(r.ok(), "{criteria}: {}", r.tagged);
    let mut uids: Vec<u32> = r
        .untagged
        .iter()
        .filter_map(|l| l.strip_prefix("* SEARCH"))
        .flat_map(|l| l.split_whitespace().map(|n| n.parse::<u32>().unwrap()))
        .collect();
    uids.sort_unstable();
    uids
}

fn session(s: &Server) -> Imap {
    let mut i = Imap::login(s.imaps, USER);
    assert!(i.cmd("ENABLE UTF8=ACCEPT").ok());
    assert!(i.cmd("SELECT INBOX").ok());
    i
}

/// Queries: whole words, parts of words, phrases, CJK words inside sentences, header fields.
fn queries() -> Vec<String> {
    let mut q = Vec::new();
    for w in [
        "invoice",
        "voic",
        "meeting report",
        "ng repo",
        "Überweisung",
        "grüße",
        "STRASSE",
        "Straße",
        "budget",
        "xyz-not-there",
        "会议",
        "会议记录",
        "发票",
        "季度",
        "見積書",
        "こんにちは",
        "회의",
        "감사",
        "report.pdf",
        "budget-1",
        "zhang",
        "张三",
        "Carol",
        "finance",
        // One short word, a phrase with short edges, separators inside and at the edges.
        "i",
        "ce m",
        "@example",
        "example.test>",
        "会议记录 发票",
        "meeting  report",
        // From the hand-made message below: a word inside a Chinese sentence that jieba
        // would cut elsewhere, phrases across line breaks, punctuation.
        "市长",
        "市长江大",
        "wrapped across lines",
        "with: punc",
        "tuation!",
    ] {
        for key in ["BODY", "TEXT"] {
            q.push(format!("{key} \"{w}\""));
        }
    }
    for (key, w) in [
        ("SUBJECT", "holiday"),
        ("SUBJECT", "发票"),
        ("SUBJECT", "day rep"),
        ("FROM", "alice"),
        ("FROM", "张三"),
        ("TO", "carol@example"),
        ("CC", "finance"),
        ("BCC", "nobody"),
    ] {
        q.push(format!("{key} \"{w}\""));
    }
    q.push("BODY \"invoice\" SUBJECT \"holiday\"".into());
    q.push("OR BODY \"picnic\" BODY \"museum\"".into());
    q.push("NOT BODY \"weather\"".into());
    q.push("BODY \"contract\" NOT FROM \"bob\"".into());
    q
}

fn compare(indexed: &mut Imap, scanned: &mut Imap) -> usize {
    let mut found = 0;
    for q in queries() {
        let a = uid_search(indexed, &q);
        let b = uid_search(scanned, &q);
        assert_eq!(a, b, "results differ for {q}");
        found += usize::from(!a.is_empty());
    }
    found
}

#[test]
fn index_answers_exactly_as_a_scan_across_charsets_expunge_and_rebuild() {
    let corpus = TempDir::new("corpus");
    let out = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/python/search_corpus.py"
        ))
        .arg(&corpus.0)
        .args(["160", "42"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<_> = std::fs::read_dir(&corpus.0)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();

    let mut with = server(true);
    let without = server(false);
    with.ok(&["search", "cjk", "enable", USER]);
    for f in &files {
        let m = std::fs::read(f).unwrap();
        deliver(&with, &m);
        deliver(&without, &m);
    }
    // A word too long for the index, with a needle inside it: found all the same.
    let long = format!(
        "Subject: token\r\n\r\n{}zanzibar{}\r\n",
        "q".repeat(40),
        "q".repeat(40)
    );
    deliver(&with, long.as_bytes());
    deliver(&without, long.as_bytes());
    let bridge = "Subject: bridge\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
        南京市长江大桥 is a bridge, and this line is\r\nwrapped across\r\nlines, \
        with: punctuation!\r\n";
    deliver(&with, bridge.as_bytes());
    deliver(&without, bridge.as_bytes());
    wait_until(60, "the index to catch up", || waiting(&with) == 0);
    let st: serde_json::Value =
        serde_json::from_str(&with.ok(&["--json", "search", "status"])).unwrap();
    assert_eq!(st["documents"], 162, "{st}");
    assert!(st["size_bytes"].as_u64().unwrap() > 0);

    let (mut a, mut b) = (session(&with), session(&without));
    let found = compare(&mut a, &mut b);
    assert!(found >= 30, "most queries find something ({found})");
    let narrowed = with.log().matches("search narrowed by the index").count();
    assert!(
        narrowed >= 40,
        "the index narrowed most searches ({narrowed})"
    );
    // Most it answered outright: no message was read for them.
    let answered = with.log().matches("checked=false").count();
    assert!(
        answered >= 40,
        "the index answered most searches ({answered})"
    );
    // Decoded text is searched: a GB2312/Big5/Shift_JIS/EUC-KR word and an encoded-word sender.
    for q in [
        "BODY \"zanzibar\"",
        "BODY \"发票\"",
        "BODY \"會議記錄\"",
        "BODY \"見積書\"",
        "BODY \"안녕하세요\"",
        "FROM \"张三\"",
        "BODY \"市长\"",
        "BODY \"wrapped across lines, with\"",
    ] {
        assert!(!uid_search(&mut a, q).is_empty(), "{q} finds decoded text");
    }

    // Expunged messages are not returned, by either.
    for s in [&mut a, &mut b] {
        assert!(s.cmd("UID STORE 1:40 +FLAGS.SILENT (\\Deleted)").ok());
        assert!(s.cmd("EXPUNGE").ok());
    }
    assert!(
        uid_search(&mut a, "BODY \"invoice\"")
            .iter()
            .all(|&u| u > 40)
    );
    compare(&mut a, &mut b);
    drop(a);

    // The index deleted while stopped is rebuilt at the next start.
    with.signal(common::SIGTERM);
    with.wait_exit(std::time::Duration::from_secs(10));
    std::fs::remove_dir_all(with.data.join("search")).unwrap();
    with.launch();
    let mut a = session(&with);
    // Correct at once (the rest is scanned while the index catches up) …
    compare(&mut a, &mut b);
    wait_until(60, "the rebuild", || waiting(&with) == 0);
    // … and after.
    compare(&mut a, &mut b);
    drop(a);

    // A damaged index (a segment file overwritten while stopped) is rebuilt, not fatal.
    with.signal(common::SIGTERM);
    with.wait_exit(std::time::Duration::from_secs(10));
    let segment = std::fs::read_dir(with.data.join("search"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "idx"))
        .expect("a segment's postings file");
    let len = std::fs::metadata(&segment).unwrap().len() as usize;
    std::fs::write(&segment, vec![0x5a; len]).unwrap();
    with.launch();
    assert!(
        with.log()
            .contains("search index unreadable or outdated; rebuilding it"),
        "the damage is noticed"
    );
    let mut a = session(&with);
    compare(&mut a, &mut b);
    wait_until(60, "the rebuild", || waiting(&with) == 0);
    compare(&mut a, &mut b);
    let st: serde_json::Value =
        serde_json::from_str(&with.ok(&["--json", "search", "status"])).unwrap();
    assert_eq!(st["documents"], 122, "{st}");
}
