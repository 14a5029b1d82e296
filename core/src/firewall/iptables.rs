//! The rules as iptables chains of Roost's own, for systems without nft (Synology DSM): one
//! filter chain (ROOST_INPUT) and one nat chain (ROOST), each reached by a single jump that
//! only connections to this machine's own addresses take. Registering again flushes and
//! refills the chains, so it can run at every boot.

use super::{accepted_ports, redirects, run};
use crate::config::Config;
use crate::error::{Error, Result};

const NAT: &str = "ROOST";
const FILTER: &str = "ROOST_INPUT";
/// Jumps into Roost's chains: (table, built-in chain, match, target).
const JUMPS: &[(&str, &str, &[&str], &str)] = &[
    ("filter", "INPUT", &[], FILTER),
    (
        "nat",
        "PREROUTING",
        &["-m", "addrtype", "--dst-type", "LOCAL"],
        NAT,
    ),
    (
        "nat",
        "OUTPUT",
        &["-m", "addrtype", "--dst-type", "LOCAL"],
        NAT,
    ),
];

fn ipt(args: &[&str]) -> Result<std::process::Output> {
    run("iptables", &[&["-w"][..], args].concat(), None)
}

fn must(args: &[&str]) -> Result<()> {
    let out = ipt(args)?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "iptables {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

pub fn register(cfg: &Config) -> Result<()> {
    for (table, chain) in [("filter", FILTER), ("nat", NAT)] {
        // New, or emptied to be filled again.
        if !ipt(&["-t", table, "-N", chain])?.status.success() {
            must(&["-t", table, "-F", chain])?;
        }
    }
    let ports = accepted_ports(cfg)
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>();
    // multiport takes at most 15 ports per rule.
    for group in ports.chunks(15) {
        let list = group.join(",");
        must(&[
            "-t",
            "filter",
            "-A",
            FILTER,
            "-p",
            "tcp",
            "-m",
            "multiport",
            "--dports",
            &list,
            "-j",
            "ACCEPT",
        ])?;
    }
    must(&["-t", "filter", "-A", FILTER, "-j", "RETURN"])?;
    for (from, to) in redirects(cfg) {
        let (from, to) = (from.to_string(), to.to_string());
        must(&[
            "-t",
            "nat",
            "-A",
            NAT,
            "-p",
            "tcp",
            "--dport",
            &from,
            "-j",
            "REDIRECT",
            "--to-ports",
            &to,
        ])?;
    }
    for (table, chain, matcher, target) in JUMPS {
        let rule = [&["-t", table][..], &["-C", chain], matcher, &["-j", target]].concat();
        if !ipt(&rule)?.status.success() {
            let add = [
                &["-t", table][..],
                &["-I", chain, "1"],
                matcher,
                &["-j", target],
            ]
            .concat();
            must(&add)?;
        }
    }
    Ok(())
}

pub fn unregister() -> Result<bool> {
    if listing()?.is_none() {
        return Ok(false);
    }
    for (table, chain, matcher, target) in JUMPS {
        let rule = [&["-t", table][..], &["-D", chain], matcher, &["-j", target]].concat();
        while ipt(&rule)?.status.success() {}
    }
    for (table, chain) in [("filter", FILTER), ("nat", NAT)] {
        let _ = ipt(&["-t", table, "-F", chain])?;
        let _ = ipt(&["-t", table, "-X", chain])?;
    }
    Ok(true)
}

pub fn listing() -> Result<Option<String>> {
    let nat = ipt(&["-t", "nat", "-S", NAT])?;
    if !nat.status.success() {
        return Ok(None);
    }
    let filter = ipt(&["-t", "filter", "-S", FILTER])?;
    Ok(Some(format!(
        "{}{}",
        String::from_utf8_lossy(&filter.stdout),
        String::from_utf8_lossy(&nat.stdout)
    )))
}
