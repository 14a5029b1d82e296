//! Protection of arriving mail: SPF, DKIM, DMARC and the refusal of forged own-domain
//! senders, against a real DNS server (dnsmasq) serving the senders' records, with messages
//! signed by dkimpy (Debian's python3-dkim), an implementation independent of Roost's.

mod common;

use common::dns::{DnsServer, Zone};
use common::smtp::Client;
use common::{Server, TempDir, server_with_users};
use std::process::Command;

/// The client's address in every test: 127.0.0.1.
const CLIENT_SPF: &str = "v=spf1 ip4:127.0.0.1 -all";
/// An SPF record that the client fails.
const OTHER_SPF: &str = "v=spf1 ip4:192.0.2.1 -all";

struct Key {
    dir: TempDir,
    /// The p= value of the DKIM record.
    public: String,
}

/// A 2048-bit RSA key made by openssl, for dkimpy to sign with.
fn dkim_key() -> Key {
    let dir = TempDir::new("dkim");
    let pem = dir.0.join("key.pem");
    let ok = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&pem)
        .arg("2048")
        .output()
        .expect("openssl");
    assert!(ok.status.success(), "{ok:?}");
    let der = Command::new("openssl")
        .args(["rsa", "-pubout", "-outform", "DER", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(der.status.success(), "{der:?}");
    use base64::Engine;
    let public = base64::engine::general_purpose::STANDARD.encode(&der.stdout);
    Key { dir, public }
}

/// The message with a DKIM-Signature of `domain` (selector s1) put first, by dkimpy.
fn dkim_sign(key: &Key, domain: &str, message: &str) -> String {
    let script = "import dkim, sys\n\
                  m = sys.stdin.buffer.read()\n\
                  k = open(sys.argv[1], 'rb').read()\n\
                  sig = dkim.sign(m, b's1', sys.argv[2].encode(), k,\n\
                      include_headers=[b'from', b'to', b'subject', b'date', b'message-id'])\n\
                  sys.stdout.buffer.write(sig + m)\n";
    let crlf = message.replace("\r\n", "\n").replace('\n', "\r\n");
    let key_file = key.dir.0.join("key.pem");
    python(script, &[key_file.to_str().unwrap(), domain], &crlf)
}

/// Runs a script of Debian's python3 (with dkimpy) on `input`; its output.
fn python(script: &str, args: &[&str], input: &str) -> String {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with dkimpy and authres (python3-dkim, python3-authres)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dkimpy failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The message as a mailing list at lists.test sends it on: subject tagged (which breaks the
/// author's signature), the list's own verdict in Authentication-Results, then ARC-sealed by
/// dkimpy for lists.test.
fn forward_through_list(key: &Key, message: &str) -> String {
    let script = "import dkim, sys\n\
                  m = sys.stdin.buffer.read()\n\
                  k = open(sys.argv[1], 'rb').read()\n\
                  h = dkim.arc_sign(m, b's1', b'lists.test', k, b'lists.test')\n\
                  sys.stdout.buffer.write(b''.join(h) + m)\n";
    let tagged = message.replacen("Subject: ", "Subject: [family] ", 1);
    let with_results = format!(
        "Authentication-Results: lists.test; dkim=pass header.d=signed.test; \
         dmarc=pass header.from=signed.test\r\n{tagged}"
    );
    let key_file = key.dir.0.join("key.pem");
    python(script, &[key_file.to_str().unwrap()], &with_results)
}

fn message(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\nTo: alice@example.test\nSubject: {subject}\n\
         Date: Wed, 02 Dec 2026 10:00:00 +0000\nMessage-ID: <{subject}@test>\n\n\
         Hello Alice,\nthis is {subject}.\n"
    )
}

fn zone(key: &Key) -> Zone {
    Zone::new()
        // A domain whose mail comes from the client, with a strict policy.
        .txt("pass.test", CLIENT_SPF)
        .txt("_dmarc.pass.test", "v=DMARC1; p=reject")
        // A domain the client is not allowed to send for: rejected, quarantined, or only SPF.
        .txt("forger.test", OTHER_SPF)
        .txt("_dmarc.forger.test", "v=DMARC1; p=reject")
        .txt("q.test", OTHER_SPF)
        .txt("_dmarc.q.test", "v=DMARC1; p=quarantine")
        .txt("spfonly.test", OTHER_SPF)
        // Signed mail, from servers SPF does not name.
        .txt("signed.test", OTHER_SPF)
        .txt("_dmarc.signed.test", "v=DMARC1; p=reject")
        .txt(
            "s1._domainkey.signed.test",
            &format!("v=DKIM1; k=rsa; p={}", key.public),
        )
        // A mailing list that forwards and seals with ARC.
        .txt("lists.test", CLIENT_SPF)
        .txt(
            "s1._domainkey.lists.test",
            &format!("v=DKIM1; k=rsa; p={}", key.public),
        )
}

fn server(dns: &DnsServer) -> Server {
    server_with_users(&dns.config())
}

/// A DKIM key, the DNS server with the test zone, Roost on it, and a client past EHLO.
fn start() -> (Key, DnsServer, Server, Client) {
    let key = dkim_key();
    let dns = DnsServer::start(&zone(&key));
    let s = server(&dns);
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    (key, dns, s, c)
}

fn header_of(m: &[u8]) -> String {
    let s = String::from_utf8_lossy(m);
    s.split("\r\n\r\n").next().unwrap_or("").to_string()
}

#[test]
fn spf_pass_is_delivered_with_authentication_results() {
    let (_key, _dns, s, mut c) = start();
    let r = c.send_mail(
        "news@pass.test",
        &["alice@example.test"],
        &message("news@pass.test", "welcome"),
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    let inbox = s.inbox("alice@example.test");
    assert_eq!(inbox.len(), 1);
    let h = header_of(&inbox[0]);
    assert!(
        h.contains("Authentication-Results: mx.test.example;"),
        "{h}"
    );
    assert!(h.contains("spf=pass"), "{h}");
    assert!(h.contains("smtp.mailfrom=news@pass.test"), "{h}");
    assert!(h.contains("dmarc=pass"), "{h}");
    assert_eq!(
        h.matches("Authentication-Results:").count(),
        1,
        "one header with every verdict: {h}"
    );
    let log = s.wait_log("sender authentication");
    assert!(log.contains("spf=pass"), "{log}");

    // A sender's own verdict in this server's name is renamed, so that no client believes it.
    let forged = format!(
        "Authentication-Results: mx.test.example; dkim=pass header.d=bank.test\n{}",
        message("news@pass.test", "forged-verdict")
    );
    let r = c.send_mail("news@pass.test", &["alice@example.test"], &forged);
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    let h = header_of(&s.inbox("alice@example.test")[1]);
    assert!(
        h.contains(
            "X-Roost-Forged-Authentication-Results: mx.test.example; dkim=pass header.d=bank.test"
        ),
        "{h}"
    );
    assert_eq!(h.matches("\nAuthentication-Results:").count(), 1, "{h}");
}

#[test]
fn spf_fail_with_dmarc_reject_is_refused_at_the_end_of_data() {
    let (_key, _dns, s, mut c) = start();
    let r = c.send_mail(
        "ceo@forger.test",
        &["alice@example.test"],
        &message("ceo@forger.test", "wire-transfer"),
    );
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text().starts_with("5.7.1"), "{r:?}");
    assert!(r.text().contains("DMARC policy of forger.test"), "{r:?}");
    assert_eq!(s.inbox("alice@example.test").len(), 0);
    // The session goes on: the next message is judged on its own.
    let r = c.send_mail(
        "news@pass.test",
        &["alice@example.test"],
        &message("news@pass.test", "next"),
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
}

#[test]
fn dmarc_quarantine_and_a_plain_spf_fail_go_to_junk() {
    let (_key, _dns, s, mut c) = start();
    for from in ["promo@q.test", "info@spfonly.test"] {
        let r = c.send_mail(from, &["alice@example.test"], &message(from, "offer"));
        assert_eq!(r.status(), "250 2.0.0", "{from}: {r:?}");
    }
    assert_eq!(s.inbox("alice@example.test").len(), 0);
    let junk = s.mailbox("alice@example.test", "Junk");
    assert_eq!(junk.len(), 2);
    let h = header_of(&junk[0]);
    assert!(h.contains("spf=fail"), "{h}");
    assert!(h.contains("dmarc=fail"), "{h}");
    assert!(h.contains("policy.dmarc=quarantine"), "{h}");

    // An allow entry is believed only for a sender who proved to be one: these failed SPF and
    // DMARC, so allowing their domains changes nothing.
    s.ok(&["allow", "add", "@q.test", "--user", "alice@example.test"]);
    s.ok(&["allow", "add", "@spfonly.test"]);
    for from in ["promo@q.test", "info@spfonly.test"] {
        let r = c.send_mail(from, &["alice@example.test"], &message(from, "again"));
        assert_eq!(r.status(), "250 2.0.0", "{from}: {r:?}");
    }
    assert_eq!(s.mailbox("alice@example.test", "Junk").len(), 4);
    assert_eq!(s.inbox("alice@example.test").len(), 0);
}

#[test]
fn a_dkim_signature_passes_and_a_modified_message_fails() {
    let (key, _dns, s, mut c) = start();
    let signed = dkim_sign(
        &key,
        "signed.test",
        &message("billing@signed.test", "invoice"),
    );
    // SPF fails (the client is not the domain's server) but the aligned signature satisfies
    // DMARC: delivered.
    let r = c.send_mail("billing@signed.test", &["alice@example.test"], &signed);
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    let inbox = s.inbox("alice@example.test");
    assert_eq!(inbox.len(), 1);
    let h = header_of(&inbox[0]);
    assert!(h.contains("dkim=pass"), "{h}");
    assert!(h.contains("header.i=@signed.test"), "{h}");
    assert!(h.contains("dmarc=pass"), "{h}");

    // The same message with its body changed after signing: the signature fails, and with
    // it DMARC, whose policy is reject.
    let tampered = signed.replace("this is invoice.", "this is invoice. Pay to IBAN XX00.");
    assert_ne!(tampered, signed);
    let r = c.send_mail("billing@signed.test", &["alice@example.test"], &tampered);
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text().contains("DMARC policy of signed.test"), "{r:?}");
    assert_eq!(s.inbox("alice@example.test").len(), 1);
}

#[test]
fn a_forged_own_domain_sender_is_refused() {
    let (_key, _dns, s, mut c) = start();
    // The envelope names our own domain.
    let r = c.send_mail(
        "bob@example.test",
        &["alice@example.test"],
        &message("bob@example.test", "hi"),
    );
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text().contains("a domain of this server"), "{r:?}");
    // Only the From: line names it, behind an innocent envelope.
    let r = c.send_mail(
        "news@pass.test",
        &["alice@example.test"],
        &message("Bob <bob@example.test>", "hi-again"),
    );
    assert_eq!(r.code, 550, "{r:?}");
    assert_eq!(s.inbox("alice@example.test").len(), 0);
    // Bob himself, signed in on submission, is who he says.
    let (mut sub, _) = Client::connect_tls(s.submissions);
    sub.ehlo();
    assert_eq!(
        sub.auth_plain("bob@example.test", common::PASSWORD).code,
        235
    );
    let r = sub.send_mail(
        "bob@example.test",
        &["alice@example.test"],
        &message("bob@example.test", "real"),
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    common::wait_until(10, "bob's message", || {
        s.inbox("alice@example.test").len() == 1
    });
}

#[test]
fn checks_can_be_turned_off() {
    let key = dkim_key();
    let dns = DnsServer::start(&zone(&key));
    let s = server_with_users(&format!(
        "{}[protection]\nauthentication = false\n",
        dns.config()
    ));
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let r = c.send_mail(
        "ceo@forger.test",
        &["alice@example.test"],
        &message("ceo@forger.test", "unchecked"),
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    let inbox = s.inbox("alice@example.test");
    assert!(!header_of(&inbox[0]).contains("Authentication-Results"));
}

#[test]
fn forwarded_mail_is_accepted_when_a_trusted_forwarder_sealed_it_with_arc() {
    let key = dkim_key();
    let dns = DnsServer::start(&zone(&key));
    let signed = dkim_sign(
        &key,
        "signed.test",
        &message("billing@signed.test", "invoice"),
    );
    let forwarded = forward_through_list(&key, &signed);

    // Not trusted: the author's signature is broken and SPF is the list's, so DMARC fails.
    let plain = server(&dns);
    let (mut c, _) = Client::connect(plain.smtp);
    c.ehlo();
    let r = c.send_mail("bounce@lists.test", &["alice@example.test"], &forwarded);
    assert_eq!(r.code, 550, "{r:?}");

    // Trusted: the list's valid seal vouches for the message.
    let trusting = server_with_users(&format!(
        "{}[protection]\ntrusted_arc_sealers = [\"lists.test\"]\n",
        dns.config()
    ));
    let (mut c, _) = Client::connect(trusting.smtp);
    c.ehlo();
    let r = c.send_mail("bounce@lists.test", &["alice@example.test"], &forwarded);
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    let h = header_of(&trusting.inbox("alice@example.test")[0]);
    assert!(h.contains("arc=pass"), "{h}");
    assert!(h.contains("dkim=fail"), "{h}");
}

fn lists_zone() -> Zone {
    Zone::new()
        // The test client, 127.0.0.1, on a block list, on a list that refuses to answer (as
        // Spamhaus does to public resolvers), and on an allow list.
        .a("1.0.0.127.bl.test", "127.0.0.2")
        .a("1.0.0.127.refusing.test", "127.255.255.254")
        .a("1.0.0.127.wl.test", "127.0.0.10")
}

fn rcpt_with_lists(dns: &DnsServer, lists: &str, exempt: &str) -> (Server, String, String) {
    let s = server_with_users(&format!(
        "{}[protection]\ndnsbl = [{lists}]\n{exempt}",
        dns.config()
    ));
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    let alice = c.cmd("RCPT TO:<alice@example.test>").text();
    let postmaster = c.cmd("RCPT TO:<postmaster@example.test>").text();
    (s, alice, postmaster)
}

#[test]
fn a_client_on_a_dns_block_list_is_refused_at_rcpt() {
    let dns = DnsServer::start(&lists_zone());
    let none = "dnsbl_exempt_networks = []\n";
    let (s, alice, postmaster) = rcpt_with_lists(&dns, r#"{ zone = "bl.test" }"#, none);
    assert!(
        alice.starts_with("5.7.1 Service unavailable; client [127.0.0.1] blocked using bl.test"),
        "{alice}"
    );
    assert!(
        !postmaster.contains("blocked"),
        "postmaster stays reachable: {postmaster}"
    );
    let log = s.wait_log("client refused by DNS lists");
    assert!(log.contains("bl.test=127.0.0.2"), "{log}");

    // A list that refuses the query does not block anyone, and says so.
    let (s, alice, _) = rcpt_with_lists(&dns, r#"{ zone = "refusing.test" }"#, none);
    assert!(alice.starts_with("2.1.5"), "{alice}");
    s.wait_log("the DNS list refused the query");

    // An allow list outweighs the block list.
    let (_s, alice, _) = rcpt_with_lists(
        &dns,
        r#"{ zone = "bl.test" }, { zone = "wl.test", weight = -1.0 }"#,
        none,
    );
    assert!(alice.starts_with("2.1.5"), "{alice}");

    // By default the lists are not asked about the machine's own networks.
    let (_s, alice, _) = rcpt_with_lists(&dns, r#"{ zone = "bl.test" }"#, "");
    assert!(alice.starts_with("2.1.5"), "{alice}");
}
