//! LIST and LSUB, with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and SPECIAL-USE
//! (RFC 6154). The answer is worked out on a blocking thread: an account may hold thousands of
//! mailboxes, and no LIST may hold up another session.

use super::pattern::Pattern;
use crate::context::Shared;
use crate::error::Result;
use crate::store::mailboxes::{self as boxes, DELIMITER, MailboxInfo};
use std::collections::HashSet;
use std::sync::Arc;

/// What one LIST asks, decoded and checked.
pub struct Query {
    pub lsub: bool,
    /// One per pattern; None for the empty pattern, which asks for the hierarchy delimiter.
    pub patterns: Vec<Option<Pattern>>,
    pub subscribed: bool,
    pub special_use_only: bool,
    pub recursive: bool,
    pub return_subscribed: bool,
    pub return_status: Vec<String>,
    /// Names go out in UTF-8 (else modified UTF-7).
    pub utf8: bool,
}

/// The untagged lines of the answer.
pub async fn run(shared: &Arc<Shared>, account: i64, q: Query) -> Result<Vec<String>> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let all = shared.store.read(|c| boxes::list(c, account))?;
        answer(&all, &q, |id, items| {
            super::mailboxes::status_line(&shared, id, items)
        })
    })
    .await
    .unwrap_or_else(|e| Err(crate::error::Error::Storage(format!("LIST failed: {e}"))))
}

fn answer(
    all: &[MailboxInfo],
    q: &Query,
    status: impl Fn(i64, &[String]) -> Result<String>,
) -> Result<Vec<String>> {
    // Every name that has children, and those with a subscribed descendant: one pass over
    // the names instead of a scan of all mailboxes per mailbox listed.
    let mut parents: HashSet<&str> = HashSet::new();
    let mut subscribed_below: HashSet<&str> = HashSet::new();
    for m in all {
        for (i, c) in m.name.char_indices() {
            if c == DELIMITER {
                parents.insert(&m.name[..i]);
                if m.subscribed {
                    subscribed_below.insert(&m.name[..i]);
                }
            }
        }
    }
    let verb = if q.lsub { "LSUB" } else { "LIST" };
    let show_subscribed = !q.lsub && (q.subscribed || q.return_subscribed);
    let encode = |name: &str| {
        let shown = if q.utf8 {
            name.to_string()
        } else {
            super::mutf7::encode(name)
        };
        super::mailboxes::quote_name(&shown)
    };
    let mut out = Vec::new();
    for pattern in &q.patterns {
        let Some(pattern) = pattern else {
            // The hierarchy delimiter query (RFC 3501 6.3.8).
            out.push(format!("* {verb} (\\Noselect) \"/\" \"\""));
            continue;
        };
        for mb in all {
            if !pattern.matches(&mb.name) || (q.special_use_only && mb.special_use.is_none()) {
                continue;
            }
            // RECURSIVEMATCH: a parent that is not subscribed itself is listed when a child
            // is, with CHILDINFO saying why (RFC 5258 3.5).
            let child_match = q.recursive && subscribed_below.contains(mb.name.as_str());
            if q.subscribed && !mb.subscribed && !child_match {
                continue;
            }
            let mut attrs = vec![if parents.contains(mb.name.as_str()) {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }];
            if let Some(su) = &mb.special_use {
                attrs.push(su);
            }
            if show_subscribed && mb.subscribed {
                attrs.push("\\Subscribed");
            }
            let extra = if child_match && !mb.subscribed {
                " (\"CHILDINFO\" (\"SUBSCRIBED\"))"
            } else {
                ""
            };
            let name = encode(&mb.name);
            out.push(format!(
                "* {verb} ({}) \"/\" {name}{extra}",
                attrs.join(" ")
            ));
            if !q.return_status.is_empty() {
                out.push(format!(
                    "* STATUS {name} ({})",
                    status(mb.id, &q.return_status)?
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(id: i64, name: &str, subscribed: bool) -> MailboxInfo {
        MailboxInfo {
            id,
            name: name.into(),
            special_use: None,
            subscribed,
        }
    }

    fn query(patterns: &[&str]) -> Query {
        Query {
            lsub: false,
            patterns: patterns
                .iter()
                .map(|p| (!p.is_empty()).then(|| Pattern::new(p).unwrap()))
                .collect(),
            subscribed: false,
            special_use_only: false,
            recursive: false,
            return_subscribed: false,
            return_status: vec![],
            utf8: true,
        }
    }

    #[test]
    fn children_and_recursive_match() {
        let all = [
            mb(1, "INBOX", true),
            mb(2, "a", false),
            mb(3, "a/b", false),
            mb(4, "a/b/c", true),
        ];
        let lines = answer(&all, &query(&["*"]), |_, _| Ok(String::new())).unwrap();
        assert_eq!(
            lines,
            [
                "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
                "* LIST (\\HasChildren) \"/\" \"a\"",
                "* LIST (\\HasChildren) \"/\" \"a/b\"",
                "* LIST (\\HasNoChildren) \"/\" \"a/b/c\"",
            ]
        );
        let mut q = query(&["%"]);
        q.subscribed = true;
        q.recursive = true;
        let lines = answer(&all, &q, |_, _| Ok(String::new())).unwrap();
        assert_eq!(
            lines,
            [
                "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"",
                "* LIST (\\HasChildren) \"/\" \"a\" (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            ]
        );
        let lines = answer(&all, &query(&[""]), |_, _| Ok(String::new())).unwrap();
        assert_eq!(lines, ["* LIST (\\Noselect) \"/\" \"\""]);
    }
}
