//! The mail ports as the NAS sees them: one list of services, from which both the DSM port file
//! (roost.sc) and the nftables rules of generic Linux NAS systems are made, so the two cannot
//! drift. The rules live in a table of Roost's own (`inet roost`): accept rules for every mail
//! port, and redirects from the standard ports to the ports Roost listens on when those differ
//! (an unprivileged daemon listens on 10000 + the standard port).

use crate::config::Config;
use crate::error::{Error, Result};
use std::io::Write;
use std::process::{Command, Stdio};

pub struct MailService {
    /// The IANA name, as in [listeners].
    pub name: &'static str,
    /// What the NAS's firewall and port-forwarding screens show.
    pub title: &'static str,
    pub port: u16,
}

pub const MAIL_SERVICES: &[MailService] = &[
    MailService {
        name: "smtp",
        title: "SMTP",
        port: 25,
    },
    MailService {
        name: "submissions",
        title: "SMTPS",
        port: 465,
    },
    MailService {
        name: "submission",
        title: "SMTP submission",
        port: 587,
    },
    MailService {
        name: "pop3",
        title: "POP3",
        port: 110,
    },
    MailService {
        name: "imap",
        title: "IMAP",
        port: 143,
    },
    MailService {
        name: "imaps",
        title: "IMAPS",
        port: 993,
    },
    MailService {
        name: "pop3s",
        title: "POP3S",
        port: 995,
    },
];

pub const TABLE: &str = "roost";

/// DSM's port file: each mail service its own section, offered to the router wizard.
pub fn sc_file() -> String {
    let mut out = String::new();
    for s in MAIL_SERVICES {
        out.push_str(&format!(
            "[roost_{}]\ntitle=\"{}\"\ndesc=\"Roost mail server\"\nport_forward=\"yes\"\ndst.ports=\"{}/tcp\"\n\n",
            s.name, s.title, s.port
        ));
    }
    out
}

/// (standard port, port Roost listens on) for each service it listens for.
pub fn port_map(cfg: &Config) -> Vec<(u16, u16)> {
    let addrs = cfg.listen_addrs();
    let mut out = Vec::new();
    for s in MAIL_SERVICES {
        if let Some((_, a)) = addrs.iter().find(|(n, a)| n == s.name && a.port() != 0) {
            out.push((s.port, a.port()));
        }
    }
    out
}

/// The whole table, replaced in one nft transaction.
pub fn ruleset(cfg: &Config) -> String {
    let map = port_map(cfg);
    let mut ports: Vec<u16> = map.iter().flat_map(|(a, b)| [*a, *b]).collect();
    ports.sort_unstable();
    ports.dedup();
    let list = ports
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let redirects: Vec<(u16, u16)> = map.into_iter().filter(|(a, b)| a != b).collect();
    let mut s = format!(
        "table inet {TABLE}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n\
         \tchain input {{\n\t\ttype filter hook input priority filter - 1; policy accept;\n"
    );
    if !list.is_empty() {
        s.push_str(&format!("\t\ttcp dport {{ {list} }} accept\n"));
    }
    s.push_str("\t}\n");
    if !redirects.is_empty() {
        // From other machines: before routing.
        s.push_str(
            "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n",
        );
        for (from, to) in &redirects {
            s.push_str(&format!("\t\ttcp dport {from} redirect to :{to}\n"));
        }
        // From this machine to one of its own addresses only: Roost's own deliveries to other
        // servers' port 25 must leave untouched.
        s.push_str(
            "\t}\n\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n",
        );
        for (from, to) in &redirects {
            s.push_str(&format!(
                "\t\tfib daddr type local tcp dport {from} redirect to :{to}\n"
            ));
        }
        s.push_str("\t}\n");
    }
    s.push_str("}\n");
    s
}

fn nft(args: &[&str], stdin: Option<&str>) -> Result<std::process::Output> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::Invalid(format!(
                "cannot run nft ({e}): install nftables, and run this as root"
            ))
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

pub fn register(cfg: &Config) -> Result<String> {
    let rules = ruleset(cfg);
    let out = nft(&["-f", "-"], Some(&rules))?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "nft refused the rules: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let redirects: Vec<String> = port_map(cfg)
        .into_iter()
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("{a}→{b}"))
        .collect();
    Ok(if redirects.is_empty() {
        format!("firewall: mail ports open (table inet {TABLE})")
    } else {
        format!(
            "firewall: mail ports open, redirects {} (table inet {TABLE})",
            redirects.join(" ")
        )
    })
}

/// Removes Roost's table and nothing else; Ok(false) when it was not there.
pub fn unregister() -> Result<bool> {
    if status()?.is_none() {
        return Ok(false);
    }
    let out = nft(&["delete", "table", "inet", TABLE], None)?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "nft: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(true)
}

/// The table as nft lists it, or None when not registered.
pub fn status() -> Result<Option<String>> {
    let out = nft(&["list", "table", "inet", TABLE], None)?;
    if out.status.success() {
        Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sc_file_lists_every_mail_port() {
        let sc = sc_file();
        for s in MAIL_SERVICES {
            assert!(sc.contains(&format!("dst.ports=\"{}/tcp\"", s.port)));
        }
        assert_eq!(
            sc.matches("port_forward=\"yes\"").count(),
            MAIL_SERVICES.len()
        );
    }

    #[test]
    fn redirects_only_where_ports_differ() {
        let mut cfg = Config::parse("[listeners]\nsmtp = [\"0.0.0.0:25\"]\n").unwrap();
        cfg.hostname = "h.example".into();
        let r = ruleset(&cfg);
        assert!(r.contains("tcp dport 143 redirect to :10143"), "{r}");
        assert!(!r.contains("dport 25 redirect"), "{r}");
        assert!(r.contains("fib daddr type local tcp dport 143 redirect to :10143"));
        assert!(r.starts_with("table inet roost\ndelete table inet roost\n"));
        assert!(r.contains("tcp dport { 25, 110, 143, 465, 587, 993, 995, 10110, 10143"));
    }
}
