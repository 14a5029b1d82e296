//! The mail ports as the NAS sees them: one list of services, from which both the DSM port file
//! (roost.sc) and the firewall rules are made, so the two cannot drift. The rules accept every
//! mail port and redirect the standard ports to the ports Roost listens on when those differ
//! (an unprivileged daemon listens on 10000 + the standard port). Redirects apply only to
//! connections addressed to this machine: a container, VM or VPN client that the NAS routes
//! to another mail server keeps its destination.
//!
//! Two backends: nftables (a table of Roost's own, `inet roost`) on generic Linux NAS
//! systems, iptables (chains of Roost's own) where nft is missing, as on Synology DSM.

mod iptables;
mod nft;

use crate::config::Config;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
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

/// (standard port, Roost's port) where the two differ.
pub fn redirects(cfg: &Config) -> Vec<(u16, u16)> {
    port_map(cfg).into_iter().filter(|(a, b)| a != b).collect()
}

/// Every port to accept: the standard ones and Roost's own.
fn accepted_ports(cfg: &Config) -> Vec<u16> {
    let mut ports: Vec<u16> = port_map(cfg).iter().flat_map(|(a, b)| [*a, *b]).collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Nft,
    Iptables,
}

/// nftables where there is nft, else iptables (DSM). ROOST_FIREWALL=nft|iptables chooses.
fn backend() -> Backend {
    match std::env::var("ROOST_FIREWALL").as_deref() {
        Ok("iptables") => return Backend::Iptables,
        Ok("nft") => return Backend::Nft,
        _ => {}
    }
    if program("nft").is_some() || program("iptables").is_none() {
        Backend::Nft
    } else {
        Backend::Iptables
    }
}

/// Where a program is, looking in PATH and the system folders (DSM's scripts run with a
/// short PATH).
fn program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn run(name: &str, args: &[&str], stdin: Option<&str>) -> Result<std::process::Output> {
    let bin = program(name).ok_or_else(|| {
        Error::Invalid(format!(
            "{name} is not installed: install nftables (or iptables), and run this as root"
        ))
    })?;
    let mut child = Command::new(bin)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Invalid(format!("cannot run {name} ({e}): run this as root")))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

/// Makes (or makes again) Roost's rules; says what it did.
pub fn register(cfg: &Config) -> Result<String> {
    let kind = match backend() {
        Backend::Nft => {
            nft::register(cfg)?;
            "table inet roost"
        }
        Backend::Iptables => {
            iptables::register(cfg)?;
            "iptables chains ROOST"
        }
    };
    let shown: Vec<String> = redirects(cfg)
        .into_iter()
        .map(|(a, b)| format!("{a}→{b}"))
        .collect();
    Ok(if shown.is_empty() {
        format!("firewall: mail ports open ({kind})")
    } else {
        format!(
            "firewall: mail ports open, redirects {} for this machine's addresses ({kind})",
            shown.join(" ")
        )
    })
}

/// Removes Roost's rules and nothing else; Ok(false) when there were none.
pub fn unregister() -> Result<bool> {
    match backend() {
        Backend::Nft => nft::unregister(),
        Backend::Iptables => iptables::unregister(),
    }
}

/// The rules as the firewall lists them, or None when not registered.
pub fn status() -> Result<Option<String>> {
    match backend() {
        Backend::Nft => nft::listing(),
        Backend::Iptables => iptables::listing(),
    }
}

/// Whether the standard mail ports reach Roost, for `roost status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// "ok", "missing", "not needed" or "unknown".
    pub state: String,
    pub detail: String,
}

impl Check {
    fn new(state: &str, detail: impl Into<String>) -> Check {
        Check {
            state: state.into(),
            detail: detail.into(),
        }
    }
}

const FIX: &str = "run `roost firewall register` as root (on DSM: a boot-up task in the Task \
                   Scheduler, see README)";

/// Reads the rules when it may (as root); otherwise asks the running daemon through the
/// standard ports themselves: a plain-text port that greets as Roost is redirected.
pub fn check(cfg: &Config, daemon_running: bool) -> Check {
    let wanted = redirects(cfg);
    if wanted.is_empty() {
        return Check::new("not needed", "Roost listens on the standard ports itself");
    }
    if nix::unistd::Uid::effective().is_root() {
        return match status() {
            Ok(Some(rules)) => {
                let missing: Vec<String> = wanted
                    .iter()
                    .filter(|(a, b)| !rules_redirect(&rules, *a, *b))
                    .map(|(a, b)| format!("{a}→{b}"))
                    .collect();
                if missing.is_empty() {
                    Check::new("ok", "the redirects are in place")
                } else {
                    Check::new(
                        "missing",
                        format!("no redirect {}: {FIX}", missing.join(" ")),
                    )
                }
            }
            Ok(None) => Check::new("missing", format!("Roost's rules are not there: {FIX}")),
            Err(e) => Check::new("unknown", e.to_string()),
        };
    }
    if !daemon_running {
        return Check::new("unknown", "start Roost to check that its ports are reached");
    }
    let mut missing = Vec::new();
    for (from, _) in &wanted {
        let Some(service) = MAIL_SERVICES.iter().find(|s| s.port == *from) else {
            continue;
        };
        // Implicit-TLS ports do not greet in clear; the plain ones stand for them.
        if !matches!(service.name, "smtp" | "submission" | "imap" | "pop3") {
            continue;
        }
        if !greets_as_roost(*from) {
            missing.push(from.to_string());
        }
    }
    if missing.is_empty() {
        Check::new("ok", "the standard ports reach Roost")
    } else {
        Check::new(
            "missing",
            format!("port {} does not reach Roost: {FIX}", missing.join(", ")),
        )
    }
}

fn rules_redirect(rules: &str, from: u16, to: u16) -> bool {
    let nft = format!("dport {from} redirect to :{to}");
    let ipt = format!("--dport {from} -j REDIRECT --to-ports {to}");
    rules.contains(&nft) || rules.contains(&ipt)
}

/// Whether 127.0.0.1:`port` answers with Roost's greeting.
fn greets_as_roost(port: u16) -> bool {
    use std::io::Read;
    let timeout = std::time::Duration::from_secs(2);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let mut buf = [0u8; 512];
    let mut got = Vec::new();
    while !got.contains(&b'\n') && got.len() < 512 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).contains("Roost")
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
        assert!(redirects(&cfg).contains(&(143, 10143)));
        assert!(!redirects(&cfg).iter().any(|(a, _)| *a == 25));
        assert_eq!(accepted_ports(&cfg)[..3], [25, 110, 143]);
        assert!(rules_redirect(
            "tcp dport 143 redirect to :10143",
            143,
            10143
        ));
        assert!(rules_redirect(
            "-A ROOST -p tcp -m tcp --dport 143 -j REDIRECT --to-ports 10143",
            143,
            10143
        ));
    }
}
