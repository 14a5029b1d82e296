//! Mail leaving, seen from both ends: Roosts that play a domain's MX hosts, a message submitted
//! to the sender, and what its queue says about a recipient.

use super::smtp::Client;
use super::{NO_DNS, PASSWORD, Server, TestCa};

/// A Roost playing `domain`'s MX on port 25 of each of `ips`, with this certificate or its own.
pub fn mx(ips: &[&str], hostname: &str, domain: &str, tls: Option<&TestCa>) -> Server {
    let tls = tls
        .map(|t| {
            format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                t.cert.display(),
                t.key.display()
            )
        })
        .unwrap_or_default();
    let smtp: Vec<String> = ips.iter().map(|ip| format!("\"{ip}:25\"")).collect();
    let s = Server::start_config(&format!(
        "hostname = \"{hostname}\"\ndomain = \"{domain}\"\n[listeners]\nsmtp = [{}]\n\
         submission = [\"127.0.0.1:0\"]\nsubmissions = [\"127.0.0.1:0\"]\n\
         pop3 = [\"127.0.0.1:0\"]\npop3s = [\"127.0.0.1:0\"]\n\
         imap = [\"127.0.0.1:0\"]\nimaps = [\"127.0.0.1:0\"]\n{tls}{NO_DNS}",
        smtp.join(", ")
    ));
    s.add_user(&format!("bob@{domain}"));
    s
}

/// alice@example.test sends `to` a short message through the submissions port.
pub fn submit(s: &Server, to: &str, subject: &str) {
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code, 235);
    let body = format!(
        "From: <alice@example.test>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@example.test>\r\n\r\nhi\r\n"
    );
    assert_eq!(c.send_mail("alice@example.test", &[to], &body).code, 250);
}

/// The last error the queue shows for the recipient, "" while it has none.
pub fn queue_error(s: &Server, to: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&s.ok(&["--json", "queue", "list"])).unwrap();
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["recipients"].as_array().cloned().unwrap_or_default())
        .find(|r| r["address"] == to)
        .map(|r| r["last_error"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}
