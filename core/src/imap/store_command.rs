//! STORE and UID STORE (RFC 3501 6.4.6, RFC 7162 3.1.3 UNCHANGEDSINCE): flags and keywords.

use super::command::{SeqSet, StoreOp};
use super::fetch;
use super::mailboxes::no;
use super::selected::split_flags;
use super::session::Session;
use crate::context::Shared;
use crate::net::Conn;
use crate::store::flags;
use crate::store::messages::{self, FlagOp};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

#[allow(clippy::too_many_arguments)]
pub(super) async fn store_cmd<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    uid: bool,
    set: &SeqSet,
    op: StoreOp,
    silent: bool,
    names: &[String],
    unchanged_since: Option<u64>,
) {
    let account = s.state.user().map(|u| u.account_id).unwrap_or(0);
    if unchanged_since.is_some() {
        s.condstore = true;
    }
    let condstore = s.condstore;
    let Some(sel) = s.state.selected_mut() else {
        return;
    };
    if sel.read_only {
        return conn.reply(&format!("{tag} NO [READ-ONLY] mailbox is read-only"));
    }
    let (bits, kws) = match split_flags(names) {
        Ok(f) => f,
        Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
    };
    let wanted = sel.resolve(set, uid);
    let uids: Vec<u32> = wanted.iter().map(|w| w.1).collect();
    let op = match op {
        StoreOp::Add => FlagOp::Add,
        StoreOp::Remove => FlagOp::Remove,
        StoreOp::Replace => FlagOp::Replace,
    };
    let id = sel.id;
    let result = shared
        .store
        .write_async(Vec::new(), move |c| {
            messages::store_flags(c, id, &uids, op, bits, &kws, unchanged_since)
        })
        .await;
    let (changed, failed) = match result {
        Ok(r) => r,
        Err(e) => return conn.reply(&no(tag, &e)),
    };
    if !changed.is_empty() {
        shared.hub.notify(account);
    }
    for m in &changed {
        let Some(seq) = sel.seq_of(m.uid) else {
            continue;
        };
        let shown = m.flags & !flags::RECENT;
        sel.msgs.update(seq, shown, &m.keywords);
        if silent && !condstore {
            continue;
        }
        let recent = sel.show_recent && sel.recent.contains(&m.uid);
        let mut parts = Vec::new();
        if uid {
            parts.push(format!("UID {}", m.uid));
        }
        if !silent {
            parts.push(format!("FLAGS {}", fetch::flag_list(m, recent)));
        }
        if condstore {
            parts.push(format!("MODSEQ ({})", m.modseq));
        }
        conn.reply(&format!("* {seq} FETCH ({})", parts.join(" ")));
    }
    if failed.is_empty() {
        conn.reply(&format!("{tag} OK STORE completed"));
    } else {
        let list: Vec<String> = failed
            .iter()
            .filter_map(|u| {
                if uid {
                    Some(u.to_string())
                } else {
                    sel.seq_of(*u).map(|s| s.to_string())
                }
            })
            .collect();
        conn.reply(&format!(
            "{tag} OK [MODIFIED {}] conditional STORE failed for some",
            list.join(",")
        ));
    }
}
