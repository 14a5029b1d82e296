//! Tables for people: aligned columns, sizes in K/M/G, dates in UTC.

use crate::admin::Response;
use crate::directory::UserInfo;
use crate::dns::check::{Check, Report, Verdict};
use crate::store::QueueEntry;
use crate::util::short_date;

const QUEUE_HEADER: &[&str] = &[
    "QUEUE ID",
    "CREATED (UTC)",
    "SIZE",
    "FROM",
    "TO",
    "STATE",
    "LAST ERROR",
];
const USER_HEADER: &[&str] = &[
    "ADDRESS", "NAME", "MESSAGES", "USED", "QUOTA", "GROUPS", "FLAGS",
];

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

pub fn human_size(n: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("T", 1 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ];
    for (u, size) in UNITS {
        if n >= size {
            let v = n as f64 / size as f64;
            return if v >= 10.0 || n.is_multiple_of(size) {
                format!("{:.0}{u}", v)
            } else {
                format!("{v:.1}{u}")
            };
        }
    }
    format!("{n}")
}

fn user_rows(users: &[UserInfo]) -> Vec<Vec<String>> {
    users
        .iter()
        .map(|u| {
            let mut flags = Vec::new();
            if u.admin {
                flags.push("admin");
            }
            if u.disabled {
                flags.push("disabled");
            }
            vec![
                u.address.clone(),
                u.name.clone(),
                u.messages.to_string(),
                human_size(u.used),
                if u.quota == 0 {
                    "unlimited".into()
                } else {
                    human_size(u.quota)
                },
                u.groups.join(","),
                flags.join(","),
            ]
        })
        .collect()
}

fn queue_rows(entries: &[QueueEntry]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for e in entries {
        for (i, r) in e.recipients.iter().enumerate() {
            let (id, from, size, created) = if i == 0 {
                (
                    e.id.clone(),
                    format!("<{}>", e.sender),
                    human_size(e.size),
                    short_date(e.created),
                )
            } else {
                Default::default()
            };
            rows.push(vec![
                id,
                created,
                size,
                from,
                r.address.clone(),
                r.state.as_str().into(),
                r.last_error.clone(),
            ]);
        }
    }
    rows
}

pub fn render(resp: &Response) -> String {
    match resp {
        Response::Done(msg) => format!("{msg}\n"),
        Response::Domain(d) => format!("domain {} added\n", d.name),
        Response::Domains(ds) if ds.is_empty() => {
            "no domains yet: roost domain add example.com\n".into()
        }
        Response::Domains(ds) => table(
            &["DOMAIN", "ACCOUNTS", "ALIASES", "CATCH-ALL"],
            ds.iter()
                .map(|d| {
                    vec![
                        d.name.clone(),
                        d.accounts.to_string(),
                        d.aliases.join(","),
                        d.catchall.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        ),
        Response::User(u) => table(USER_HEADER, user_rows(std::slice::from_ref(u))),
        Response::Users(us) if us.is_empty() => "no users\n".into(),
        Response::Users(us) => table(USER_HEADER, user_rows(us)),
        Response::Alias(a) => format!("{} -> {}\n", a.address, a.targets.join(", ")),
        Response::Aliases(as_) if as_.is_empty() => "no aliases\n".into(),
        Response::Aliases(as_) => table(
            &["ALIAS", "TARGETS"],
            as_.iter()
                .map(|a| vec![a.address.clone(), a.targets.join(", ")])
                .collect(),
        ),
        Response::Group(g) => table(
            &["GROUP", "ADDRESS", "MEMBERS", "DESCRIPTION"],
            vec![vec![
                g.name.clone(),
                g.address.clone().unwrap_or_default(),
                g.members.join(", "),
                g.description.clone(),
            ]],
        ),
        Response::Groups(gs) if gs.is_empty() => "no groups\n".into(),
        Response::Groups(gs) => table(
            &["GROUP", "ADDRESS", "MEMBERS", "DESCRIPTION"],
            gs.iter()
                .map(|g| {
                    vec![
                        g.name.clone(),
                        g.address.clone().unwrap_or_default(),
                        g.members.join(", "),
                        g.description.clone(),
                    ]
                })
                .collect(),
        ),
        Response::Queue(q) if q.is_empty() => "the queue is empty\n".into(),
        Response::Queue(q) => table(QUEUE_HEADER, queue_rows(q)),
        Response::QueueEntry(e) => table(QUEUE_HEADER, queue_rows(std::slice::from_ref(e))),
        Response::Dkim(k) => format!(
            "DKIM key for {} ({}, selector {}).\nPublish this record in the zone of {}:\n\n  {}\n\n\
             Mail from {} is signed from now on; `roost dns check {}` tells when the record is \
             visible.\n",
            k.domain, k.algorithm, k.selector, k.domain, k.zone_line, k.domain, k.domain
        ),
        Response::Dkims(ks) if ks.is_empty() => {
            "no DKIM keys: roost dkim generate example.com\n".into()
        }
        Response::Dkims(ks) => table(
            &["DOMAIN", "SELECTOR", "ALGORITHM", "CREATED (UTC)", "RECORD"],
            ks.iter()
                .map(|k| {
                    vec![
                        k.domain.clone(),
                        k.selector.clone(),
                        k.algorithm.clone(),
                        short_date(k.created),
                        k.record_name.clone(),
                    ]
                })
                .collect(),
        ),
        Response::DnsCheck(r) => dns_report(r),
        Response::Status(st) => {
            let mut out = if st.running {
                format!(
                    "Roost {} is running (pid {}).\n",
                    st.version,
                    st.pid.unwrap_or(0)
                )
            } else {
                "Roost is not running.\n".to_string()
            };
            for l in &st.listeners {
                out.push_str(&format!("  listening: {l}\n"));
            }
            out.push_str(&format!(
                "Queue: {} waiting, {} being delivered, {} deferred, {} held.\n",
                st.queue.queued, st.queue.active, st.queue.deferred, st.queue.held
            ));
            out.push_str(&format!(
                "Mail: {} in {} message files{}.\n",
                human_size(st.mail.bytes),
                st.mail.files,
                if st.mail.removing > 0 {
                    format!(", {} being removed", st.mail.removing)
                } else {
                    String::new()
                }
            ));
            out.push_str(&format!(
                "Firewall: {}: {}.\n",
                st.firewall.state, st.firewall.detail
            ));
            out.push_str("Protection:\n");
            for e in &st.protection {
                out.push_str(&format!("  {}: {} ({})\n", e.name, e.state, e.detail));
            }
            out
        }
        Response::SearchStatus(st) => format!(
            "Search index: {}\n  {} documents, {} on disk, {} of {} messages waiting to be indexed\n  CJK indexing: {}\n",
            if st.enabled {
                "on"
            } else {
                "off (search.enabled = false)"
            },
            st.documents,
            human_size(st.size_bytes),
            st.waiting,
            st.messages,
            if st.cjk_accounts.is_empty() {
                "nobody".to_string()
            } else {
                st.cjk_accounts.join(", ")
            }
        ),
        Response::SearchProgress(p) => format!(
            "{} indexed, {} waiting to be indexed\n",
            p.indexed, p.waiting
        ),
        Response::ListEntries(es) if es.is_empty() => "no entries\n".into(),
        Response::ListEntries(es) => table(
            &["LIST", "ENTRY", "FOR", "UNTIL", "REASON"],
            es.iter()
                .map(|e| {
                    vec![
                        e.list.as_str().to_string(),
                        e.entry.clone(),
                        e.user.clone().unwrap_or_else(|| "server".into()),
                        e.expires
                            .map(crate::util::short_date)
                            .unwrap_or_else(|| "removed".into()),
                        if e.automatic {
                            format!("{} (automatic)", e.reason)
                        } else {
                            e.reason.clone()
                        },
                    ]
                })
                .collect(),
        ),
        Response::Classifier(cs) if cs.is_empty() => {
            "no user has sorted mail into or out of Junk yet\n".into()
        }
        Response::Classifier(cs) => table(
            &["USER", "SPAM", "NOT SPAM", "WORDS", "DECIDES"],
            cs.iter()
                .map(|c| {
                    vec![
                        c.user.clone(),
                        c.spam.to_string(),
                        c.ham.to_string(),
                        c.tokens.to_string(),
                        if c.active { "yes" } else { "not yet" }.to_string(),
                    ]
                })
                .collect(),
        ),
        Response::DmarcReports(rs) if rs.is_empty() => {
            "no DMARC report received yet (publish rua=mailto:... in your DMARC record)\n".into()
        }
        Response::DmarcReports(rs) => table(
            &[
                "FROM",
                "DOMAIN",
                "PERIOD END",
                "MESSAGES",
                "PASSED",
                "FAILING SOURCES",
            ],
            rs.iter()
                .map(|r| {
                    vec![
                        r.org.clone(),
                        r.domain.clone(),
                        short_date(r.end),
                        r.messages.to_string(),
                        r.passed.to_string(),
                        r.failing_sources.join(", "),
                    ]
                })
                .collect(),
        ),
        Response::Quarantine(hs) if hs.is_empty() => "the quarantine is empty\n".into(),
        Response::Quarantine(hs) => table(
            &["ID", "HELD", "SIZE", "FROM", "TO", "REASON", "SUBJECT"],
            hs.iter()
                .map(|h| {
                    vec![
                        h.id.clone(),
                        short_date(h.created),
                        human_size(h.size),
                        format!("<{}>", h.sender),
                        h.recipients.join(", "),
                        h.reason.clone(),
                        h.subject.chars().take(40).collect(),
                    ]
                })
                .collect(),
        ),
        Response::Held(h) => format!(
            "{} held {} from <{}> ({}) for {}: {}\n\n{}",
            h.id,
            short_date(h.created),
            h.sender,
            h.client,
            h.recipients.join(", "),
            h.reason,
            h.header.as_deref().unwrap_or("")
        ),
        Response::Settings(v) => {
            let as_toml = serde_json::from_value::<toml::Value>(v.clone())
                .ok()
                .and_then(|t| toml::to_string_pretty(&t).ok());
            as_toml.unwrap_or_else(|| format!("{v:#}\n"))
        }
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Warn => "WARN",
        Verdict::Fail => "FAIL",
        Verdict::Info => "INFO",
    }
}

fn check_lines(out: &mut String, c: &Check) {
    out.push_str(&format!(
        "  {:<4} {:<8} {}\n",
        verdict_word(c.verdict),
        c.name,
        c.reason
    ));
    for f in &c.found {
        out.push_str(&format!("                found: {f}\n"));
    }
    for f in &c.fix {
        out.push_str(&format!("                publish: {f}\n"));
    }
}

fn dns_report(r: &Report) -> String {
    let mut out = format!(
        "Server {} — public address {} ({})\n",
        r.hostname,
        r.public_ip.as_deref().unwrap_or("unknown"),
        r.public_ip_source
    );
    for c in &r.host {
        check_lines(&mut out, c);
    }
    if r.domains.is_empty() {
        out.push_str("\nno domains yet: roost domain add example.com\n");
    }
    for d in &r.domains {
        out.push_str(&format!("\nDomain {}\n", d.domain));
        for c in &d.checks {
            check_lines(&mut out, c);
        }
    }
    out.push_str("\nPorts (what the router must forward to this server):\n");
    out.push_str(&table(
        &[
            "SERVICE",
            "STANDARD PORT",
            "ROOST LISTENS ON",
            "LISTENING",
            "NOTE",
        ],
        r.ports
            .iter()
            .map(|p| {
                vec![
                    p.service.clone(),
                    p.standard_port.to_string(),
                    p.addresses.join(" "),
                    if p.listening { "yes" } else { "no" }.into(),
                    p.note.clone(),
                ]
            })
            .collect(),
    ));
    let summary = match r.worst() {
        Verdict::Fail => "Some records are missing or wrong: publish the lines marked 'publish'.",
        Verdict::Warn => "Mail works; the warnings above make it more trusted.",
        _ => "Everything checked is in order.",
    };
    out.push_str(&format!("\n{summary}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(512), "512");
        assert_eq!(human_size(1536), "1.5K");
        assert_eq!(human_size(2 << 30), "2G");
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "B"], vec![vec!["long value".into(), "x".into()]]);
        assert_eq!(t, "A           B\nlong value  x\n");
    }
}
