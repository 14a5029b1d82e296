//! The rules as one nftables table of Roost's own (`inet roost`), replaced in one transaction.

use super::{accepted_ports, redirects, run};
use crate::config::Config;
use crate::error::{Error, Result};

pub const TABLE: &str = "roost";

/// The whole table.
pub fn ruleset(cfg: &Config) -> String {
    let list = accepted_ports(cfg)
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let redirects = redirects(cfg);
    let mut s = format!(
        "table inet {TABLE}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n\
         \tchain input {{\n\t\ttype filter hook input priority filter - 1; policy accept;\n"
    );
    if !list.is_empty() {
        s.push_str(&format!("\t\ttcp dport {{ {list} }} accept\n"));
    }
    s.push_str("\t}\n");
    if !redirects.is_empty() {
        // From other machines, to one of this machine's own addresses only: what the NAS
        // routes elsewhere (containers, VMs, VPN clients) keeps its destination.
        s.push_str(
            "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n",
        );
        for (from, to) in &redirects {
            s.push_str(&format!(
                "\t\tfib daddr type local tcp dport {from} redirect to :{to}\n"
            ));
        }
        // From this machine to its own addresses: Roost's deliveries to other servers'
        // port 25 leave untouched.
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

pub fn register(cfg: &Config) -> Result<()> {
    let out = run("nft", &["-f", "-"], Some(&ruleset(cfg)))?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "nft refused the rules: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

pub fn unregister() -> Result<bool> {
    if listing()?.is_none() {
        return Ok(false);
    }
    let out = run("nft", &["delete", "table", "inet", TABLE], None)?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "nft: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(true)
}

pub fn listing() -> Result<Option<String>> {
    let out = run("nft", &["list", "table", "inet", TABLE], None)?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_for_this_machine_only() {
        let mut cfg = Config::parse("[listeners]\nsmtp = [\"0.0.0.0:25\"]\n").unwrap();
        cfg.hostname = "h.example".into();
        let r = ruleset(&cfg);
        assert!(r.starts_with("table inet roost\ndelete table inet roost\n"));
        assert!(r.contains("tcp dport { 25, 110, 143, 465, 587, 993, 995, 10110, 10143"));
        assert!(!r.contains("dport 25 redirect"), "{r}");
        // Both hooks, each only for local destinations.
        assert_eq!(
            r.matches("fib daddr type local tcp dport 143 redirect to :10143")
                .count(),
            2,
            "{r}"
        );
        assert!(
            !r.lines()
                .any(|l| l.contains("redirect") && !l.contains("fib daddr type local"))
        );
    }
}
