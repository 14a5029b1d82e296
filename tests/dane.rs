//! DANE for mail leaving (RFC 7672), end to end: nsd serves a DNSSEC-signed zone and an
//! unsigned one, unbound validates (the signed zone's key is its trust anchor), and one Roost
//! plays every MX host, on one address per host, with a certificate from a CA only this test
//! knows. The TLSA records decide what the sender does with it.

mod common;

use common::mx::{mx, queue_error, submit};
use common::signed_dns::{SignedDns, ZoneFile};
use common::{Server, TempDir, test_ca, wait_until};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

const NSD_IP: &str = "127.0.30.53";
const RESOLVER_IP: &str = "127.0.30.2";

fn sha256_hex(b: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// MX, address and (when given) TLSA records of one destination domain.
fn destination(domain: &str, host: &str, ip: &str, tlsa: Option<&str>) -> Vec<String> {
    let mut r = vec![
        format!("{domain}. IN MX 10 {host}."),
        format!("{host}. IN A {ip}"),
    ];
    if let Some(t) = tlsa {
        r.push(format!("_25._tcp.{host}. IN TLSA {t}"));
    }
    r
}

#[test]
fn tlsa_records_decide_how_mail_leaves() {
    let dir = TempDir::new("daneca");
    let ca = test_ca(&dir.0, &["mx-ta.dane.test"]);
    let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(&ca.key).unwrap()).unwrap();
    let spki = sha256_hex(&rcgen::PublicKeyData::subject_public_key_info(&key));
    let ca_der = CertificateDer::from_pem_file(&ca.ca).unwrap();
    let ca_hash = sha256_hex(&ca_der);
    let wrong = sha256_hex(b"some other key");

    let mut signed = Vec::new();
    // DANE-EE: the MX's own key.
    signed.extend(destination(
        "good.dane.test",
        "mx-good.dane.test",
        "127.0.31.1",
        Some(&format!("3 1 1 {spki}")),
    ));
    // DANE-TA: the CA that signed the MX's certificate, which names mx-ta.dane.test.
    signed.extend(destination(
        "ta.dane.test",
        "mx-ta.dane.test",
        "127.0.31.2",
        Some(&format!("2 0 1 {ca_hash}")),
    ));
    // A TLSA record that names another key.
    signed.extend(destination(
        "bad.dane.test",
        "mx-bad.dane.test",
        "127.0.31.3",
        Some(&format!("3 1 1 {wrong}")),
    ));
    // No TLSA record (proven absent): opportunistic TLS as ever.
    signed.extend(destination(
        "none.dane.test",
        "mx-none.dane.test",
        "127.0.31.4",
        None,
    ));
    // A TLSA record whose signature does not verify: unbound answers SERVFAIL.
    signed.extend(destination(
        "bogus.dane.test",
        "mx-bogus.dane.test",
        "127.0.31.5",
        Some(&format!("3 1 1 {spki}")),
    ));
    // Only PKIX usages, which SMTP does not use: TLS is required, not authenticated.
    signed.extend(destination(
        "pkix.dane.test",
        "mx-pkix.dane.test",
        "127.0.31.6",
        Some(&format!("1 1 1 {wrong}")),
    ));
    // An MX name that is a CNAME: the TLSA records are looked for at the chain's end.
    signed.push("cname.dane.test. IN MX 10 smtp-alias.dane.test.".into());
    signed.push("smtp-alias.dane.test. IN CNAME mx-good.dane.test.".into());
    signed.push(
        "_smtp._tls.bad.dane.test. IN TXT \"v=TLSRPTv1; rua=mailto:tls@good.dane.test\"".into(),
    );
    // An unsigned zone's TLSA record is not believed: anyone could have forged it.
    let plain = destination(
        "plain.test",
        "mx.plain.test",
        "127.0.31.7",
        Some(&format!("3 1 1 {wrong}")),
    );
    let dns = SignedDns::start(
        NSD_IP,
        RESOLVER_IP,
        ZoneFile {
            name: "dane.test",
            records: &signed,
        },
        &[ZoneFile {
            name: "plain.test",
            records: &plain,
        }],
        &["_25._tcp.mx-bogus.dane.test"],
    );

    let ips: Vec<String> = (1..=7).map(|i| format!("127.0.31.{i}")).collect();
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    let receiver = mx(&ips, "mx-ta.dane.test", "good.dane.test", Some(&ca));
    for d in [
        "ta.dane.test",
        "bad.dane.test",
        "none.dane.test",
        "bogus.dane.test",
        "pkix.dane.test",
        "plain.test",
        "cname.dane.test",
    ] {
        receiver.ok(&["domain", "add", d]);
        receiver.add_user(&format!("bob@{d}"));
    }
    receiver.add_user("tls@good.dane.test");
    let s = Server::start_with(&format!(
        "{}\n[queue]\nretry_min_secs = 1\nretry_max_secs = 2\n",
        dns.config()
    ));
    s.ok(&["domain", "add", "example.test"]);
    s.add_user("alice@example.test");

    for d in [
        "good.dane.test",
        "ta.dane.test",
        "none.dane.test",
        "pkix.dane.test",
        "plain.test",
        "cname.dane.test",
    ] {
        submit(&s, &format!("bob@{d}"), d);
    }
    for d in [
        "good.dane.test",
        "ta.dane.test",
        "none.dane.test",
        "pkix.dane.test",
        "plain.test",
        "cname.dane.test",
    ] {
        let to = format!("bob@{d}");
        wait_until(30, &format!("delivery to {d}"), || {
            receiver.message_count(&to) == 1
        });
        let m = String::from_utf8_lossy(&receiver.inbox(&to)[0]).to_string();
        assert!(m.contains("with ESMTPS"), "{d}: {m}");
    }
    let log = s.log();
    let dane_lines = log
        .lines()
        .filter(|l| l.contains("connected") && l.contains("matches its TLSA record (DANE)"));
    let hosts: Vec<&str> = dane_lines
        .filter_map(|l| {
            [
                "mx-good.dane.test",
                "mx-ta.dane.test",
                "smtp-alias.dane.test",
            ]
            .into_iter()
            .find(|h| l.contains(h))
        })
        .collect();
    for h in [
        "mx-good.dane.test",
        "mx-ta.dane.test",
        "smtp-alias.dane.test",
    ] {
        assert!(hosts.contains(&h), "{h} was held to DANE: {log}");
    }
    for h in ["mx-none.dane.test", "mx-pkix.dane.test", "mx.plain.test"] {
        assert!(
            !log.lines().any(|l| l.contains(h) && l.contains("DANE")),
            "{h} was not to be held to DANE: {log}"
        );
    }

    // A certificate the TLSA records do not name: the mail waits, and the queue says why.
    submit(&s, "bob@bad.dane.test", "bad");
    wait_until(30, "the refusal to show in the queue", || {
        queue_error(&s, "bob@bad.dane.test").contains("TLSA")
    });
    let why = queue_error(&s, "bob@bad.dane.test");
    eprintln!("queue: {why}");
    assert!(why.contains("matches none of the 1 TLSA records"), "{why}");
    assert!(why.contains("_25._tcp.mx-bad.dane.test"), "{why}");
    assert_eq!(receiver.message_count("bob@bad.dane.test"), 0);
    let shown = s.ok(&["queue", "list"]);
    assert!(shown.contains("DANE"), "{shown}");

    // TLSA records that cannot be validated keep mail from the host.
    submit(&s, "bob@bogus.dane.test", "bogus");
    wait_until(30, "the bogus answer to show in the queue", || {
        queue_error(&s, "bob@bogus.dane.test").contains("cannot be looked up")
    });
    assert_eq!(receiver.message_count("bob@bogus.dane.test"), 0);

    // TLS-RPT: the domain that asked hears of the failure, under its TLSA policy.
    let out = s.ok(&["reports", "send", "--today"]);
    assert!(out.contains("TLS report"), "{out}");
    wait_until(30, "the TLS report", || {
        receiver.message_count("tls@good.dane.test") == 1
    });
    let m = String::from_utf8_lossy(&receiver.inbox("tls@good.dane.test")[0]).to_string();
    let json = m
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("the JSON part");
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    let p = &report["policies"][0];
    assert_eq!(p["policy"]["policy-type"], "tlsa", "{report}");
    assert_eq!(p["policy"]["policy-domain"], "bad.dane.test");
    assert!(
        p["policy"]["policy-string"][0]
            .as_str()
            .unwrap()
            .contains("TLSA 3 1 1"),
        "{report}"
    );
    assert_eq!(
        p["failure-details"][0]["result-type"], "tlsa-invalid",
        "{report}"
    );

    // With DANE turned off the same mail goes (opportunistic TLS takes any certificate).
    drop(s);
    let s = Server::start_with(&format!("{}\n[queue]\ndane = false\n", dns.config()));
    s.ok(&["domain", "add", "example.test"]);
    s.add_user("alice@example.test");
    submit(&s, "bob@bad.dane.test", "no-dane");
    wait_until(30, "delivery without DANE", || {
        receiver.message_count("bob@bad.dane.test") == 1
    });
}

#[test]
fn the_dns_check_compares_our_certificate_with_our_tlsa_records() {
    let dir = TempDir::new("daneown");
    let ca = test_ca(&dir.0, &["mx-ta.dane.test"]);
    let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(&ca.key).unwrap()).unwrap();
    let ours = format!(
        "3 1 1 {}",
        sha256_hex(&rcgen::PublicKeyData::subject_public_key_info(&key))
    );
    let ca_der = CertificateDer::from_pem_file(&ca.ca).unwrap();
    let records = vec![
        format!("_25._tcp.mx-ee.dane.test. IN TLSA {ours}"),
        format!(
            "_25._tcp.mx-ta.dane.test. IN TLSA 2 0 1 {}",
            sha256_hex(&ca_der)
        ),
        format!(
            "_25._tcp.mx-old.dane.test. IN TLSA 3 1 1 {}",
            sha256_hex(b"the key before renewal")
        ),
    ];
    let dns = SignedDns::start(
        "127.0.30.54",
        "127.0.30.3",
        ZoneFile {
            name: "dane.test",
            records: &records,
        },
        &[],
        &[],
    );
    let verdict = |host: &str| -> serde_json::Value {
        let s = Server::start_config(&format!(
            "hostname = \"{host}\"\n[listeners]\nsmtp = [\"127.0.0.1:0\"]\n{}\n\
             [tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            dns.config(),
            ca.cert.display(),
            ca.key.display()
        ));
        let report: serde_json::Value =
            serde_json::from_str(&s.ok(&["--json", "dns", "check"])).unwrap();
        report["host"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "DANE")
            .cloned()
            .unwrap_or_else(|| panic!("no DANE line: {report:#}"))
    };
    assert_eq!(verdict("mx-ee.dane.test")["verdict"], "pass");
    assert_eq!(verdict("mx-ta.dane.test")["verdict"], "pass");
    // A record left from the certificate before: senders with DANE would keep mail back.
    let old = verdict("mx-old.dane.test");
    assert_eq!(old["verdict"], "fail", "{old:#}");
    assert!(
        old["reason"]
            .as_str()
            .unwrap()
            .contains("names no certificate"),
        "{old:#}"
    );
    assert!(old["fix"][0].as_str().unwrap().contains(&ours), "{old:#}");
    // None published: what DANE is, and the record to publish.
    let none = verdict("mx-none.dane.test");
    assert_eq!(none["verdict"], "info", "{none:#}");
    assert_eq!(
        none["fix"][0],
        format!("_25._tcp.mx-none.dane.test. 3600 IN TLSA {ours}")
    );
}
