//! The selected mailbox: the session's view of it (sequence numbers to UIDs, the flags the client
//! was told), keeping that view in step with the store, and the table of the commands that work
//! on messages. Each family has its file: FETCH (fetch_command), STORE (store_command), SEARCH,
//! SORT and THREAD (search_command), COPY and MOVE (copy_command), IDLE (idle); EXPUNGE, CLOSE
//! and UNSELECT are here.
//!
//! Sequence numbers only change when this session says so: an expunge made elsewhere is
//! announced (and applied to the view) only where RFC 3501 7.4.1 allows, never during FETCH,
//! STORE or SEARCH.

use super::command::{Cmd, Qresync, SeqSet};
use super::copy_command::copy_cmd;
use super::mailboxes::no;
use super::search_command::{Order, search_cmd, sort_cmd};
use super::session::Session;
use super::store_command::store_cmd;
use super::view::View;
use super::{fetch, search};
use crate::context::Shared;
use crate::error::{Error, Result};
use crate::net::Conn;
use crate::store::messages::{self, MailboxState, Meta};
use crate::store::{self, flags};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

pub struct Selected {
    pub id: i64,
    pub name: String,
    pub read_only: bool,
    /// Sequence number - 1 -> (UID, flags as the client last heard them).
    pub(super) msgs: View,
    pub(super) modseq: u64,
    pub(super) recent: HashSet<u32>,
    /// Expunged elsewhere, not yet announced.
    pub(super) pending_expunge: Vec<u32>,
    /// UIDs saved by SEARCH RETURN (SAVE), for `$` (RFC 5182).
    pub(super) saved: Vec<u32>,
    pub(super) show_recent: bool,
}

impl Selected {
    /// Whether this session reports the message as \Recent.
    pub(super) fn is_recent(&self, uid: u32) -> bool {
        self.show_recent && self.recent.contains(&uid)
    }

    /// Records the flags the client has now been told for the message at `seq`.
    pub(super) fn told(&mut self, seq: u32, flags: i64, keywords: &str) {
        self.msgs.update(seq, flags, keywords);
    }

    pub async fn open(
        shared: &Arc<Shared>,
        account: i64,
        name: &str,
        read_only: bool,
        rev2: bool,
    ) -> Result<(Selected, MailboxState, Option<u32>)> {
        let id = shared
            .store
            .read(|c| store::mailbox_id(c, account, name))?
            .ok_or_else(|| Error::NotFound(format!("mailbox {name} does not exist")))?;
        let recent: HashSet<u32> = if read_only {
            HashSet::new()
        } else {
            shared
                .store
                .write_async(Vec::new(), move |c| messages::claim_recent(c, id))
                .await?
                .into_iter()
                .collect()
        };
        let (state, metas) = shared
            .store
            .snapshot(|c| Ok((messages::mailbox_state(c, id)?, messages::messages(c, id)?)))?;
        let first_unseen = metas
            .iter()
            .position(|m| m.flags & flags::SEEN == 0)
            .map(|i| i as u32 + 1);
        let sel = Selected {
            id,
            name: name.to_string(),
            read_only,
            msgs: {
                let mut v = View::default();
                for m in &metas {
                    v.push(m.uid, m.flags & !flags::RECENT, &m.keywords);
                }
                v
            },
            modseq: state.highestmodseq,
            recent,
            pending_expunge: Vec::new(),
            saved: Vec::new(),
            show_recent: !rev2,
        };
        Ok((sel, state, first_unseen))
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn recent_count(&self) -> usize {
        self.recent.len()
    }

    pub(super) fn max_uid(&self) -> u32 {
        self.msgs.max_uid()
    }

    /// (sequence number, UID) of the messages a set names, in ascending order.
    pub(super) fn resolve(&self, set: &SeqSet, uid: bool) -> Vec<(u32, u32)> {
        if set.is_saved() {
            return self
                .msgs
                .all()
                .filter(|(_, u)| self.saved.binary_search(u).is_ok())
                .collect();
        }
        let max_seq = self.msgs.len() as u32;
        let max_uid = self.max_uid();
        self.msgs
            .all()
            .filter(|&(seq, u)| {
                if uid {
                    set.contains(u, max_uid)
                } else {
                    set.contains(seq, max_seq)
                }
            })
            .collect()
    }

    pub(super) fn seq_of(&self, uid: u32) -> Option<u32> {
        self.msgs.seq_of(uid)
    }
}

/// Brings the session's view up to date and tells the client: new messages (EXISTS, RECENT),
/// flag changes (FETCH), and, when allowed, expunges (EXPUNGE).
pub async fn sync<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Shared,
    allow_expunge: bool,
) {
    let (condstore, qresync) = (s.condstore, s.qresync);
    let Some(sel) = s.state.selected_mut() else {
        return;
    };
    let (id, since) = (sel.id, sel.modseq);
    // On this thread, after every command: see smtp::session's RCPT for why.
    let snapshot = shared.store.snapshot(|c| {
        let (changed, gone) = messages::changes_since(c, id, since)?;
        Ok((changed, gone, messages::mailbox_state(c, id)?.highestmodseq))
    });
    let Ok((changed, gone, highest)) = snapshot else {
        return;
    };
    // Everything up to `highest` is in this snapshot: the next sync starts there.
    sel.modseq = sel.modseq.max(highest);
    for g in gone {
        if sel.seq_of(g).is_some() && !sel.pending_expunge.contains(&g) {
            sel.pending_expunge.push(g);
        }
    }
    if allow_expunge {
        sel.pending_expunge.sort_unstable();
        let mut vanished = Vec::new();
        for uid in std::mem::take(&mut sel.pending_expunge).into_iter().rev() {
            if let Some(seq) = sel.seq_of(uid) {
                sel.msgs.remove(seq);
                sel.recent.remove(&uid);
                if qresync {
                    vanished.push(uid);
                } else {
                    conn.reply(&format!("* {seq} EXPUNGE"));
                }
            }
        }
        if !vanished.is_empty() {
            // RFC 7162 3.2.10: with QRESYNC enabled, expunges are told as UIDs.
            vanished.reverse();
            conn.reply(&format!("* VANISHED {}", compress(&vanished)));
        }
    }
    let before = sel.msgs.len();
    let mut new_recent = 0;
    for m in &changed {
        let shown_flags = m.flags & !flags::RECENT;
        if m.uid > sel.max_uid() {
            sel.msgs.push(m.uid, shown_flags, &m.keywords);
            if m.flags & flags::RECENT != 0 {
                new_recent += 1;
            }
            continue;
        }
        if let Some(seq) = sel.seq_of(m.uid)
            && sel.msgs.update(seq, shown_flags, &m.keywords)
        {
            let recent = sel.show_recent && sel.recent.contains(&m.uid);
            let mut line = format!("* {seq} FETCH (FLAGS {}", fetch::flag_list(m, recent));
            if condstore {
                line.push_str(&format!(" MODSEQ ({})", m.modseq));
            }
            line.push(')');
            conn.reply(&line);
        }
    }
    if sel.msgs.len() != before {
        conn.reply(&format!("* {} EXISTS", sel.msgs.len()));
        if sel.show_recent {
            // New messages are recent to this session; claiming them keeps them from others.
            let newest: Vec<u32> = sel.msgs.uids_from(before).to_vec();
            if !sel.read_only && new_recent > 0 {
                let id = sel.id;
                if let Ok(claimed) = shared
                    .store
                    .write_async(Vec::new(), move |c| messages::claim_recent(c, id))
                    .await
                {
                    sel.recent
                        .extend(claimed.into_iter().filter(|u| newest.contains(u)));
                }
            }
            conn.reply(&format!("* {} RECENT", sel.recent.len()));
        }
    }
}

/// SELECT … (QRESYNC (uidvalidity modseq [known-uids])): what changed since the client last
/// looked, as VANISHED (EARLIER) and FETCH responses (RFC 7162 3.2.5).
pub fn resync<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    sel: &Selected,
    shared: &Shared,
    q: &Qresync,
) {
    let Ok((changed, gone)) = shared
        .store
        .read(|c| messages::changes_since(c, sel.id, q.modseq))
    else {
        return;
    };
    vanished_earlier(conn, sel, gone, q.known_uids.as_ref());
    for m in &changed {
        if let Some(seq) = sel.seq_of(m.uid) {
            let recent = sel.show_recent && sel.recent.contains(&m.uid);
            conn.reply(&format!(
                "* {seq} FETCH (UID {} FLAGS {} MODSEQ ({}))",
                m.uid,
                fetch::flag_list(m, recent),
                m.modseq
            ));
        }
    }
}

/// `* VANISHED (EARLIER) uids` for the expunged UIDs within `within` (all when None).
fn vanished_earlier<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    sel: &Selected,
    gone: Vec<u32>,
    within: Option<&SeqSet>,
) {
    let max = sel.max_uid().max(gone.iter().copied().max().unwrap_or(0));
    let gone: Vec<u32> = gone
        .into_iter()
        .filter(|u| within.is_none_or(|k| k.contains(*u, max)))
        .collect();
    if !gone.is_empty() {
        conn.reply(&format!("* VANISHED (EARLIER) {}", compress(&gone)));
    }
}

/// System flags as bits and keywords as names; \Recent cannot be set (RFC 3501 2.3.2).
pub fn split_flags(names: &[String]) -> std::result::Result<(i64, Vec<String>), String> {
    let mut bits = 0;
    let mut kws = Vec::new();
    for n in names {
        if let Some(b) = search::flag_bit(n) {
            bits |= b;
        } else if n.starts_with('\\') {
            if !n.eq_ignore_ascii_case("\\Recent") {
                return Err(format!("unknown system flag {n}"));
            }
        } else if n
            .bytes()
            .all(|b| b > b' ' && b < 0x7f && !b"(){%*\"\\]".contains(&b))
        {
            kws.push(n.clone());
        } else {
            return Err(format!("invalid keyword {n}"));
        }
    }
    Ok((bits, kws))
}

pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    cmd: Cmd,
) {
    let account = s.state.user().map(|u| u.account_id).unwrap_or(0);
    match cmd {
        Cmd::Fetch {
            uid,
            set,
            items,
            changed_since,
            vanished,
        } => {
            sync(conn, s, shared, uid).await;
            if vanished
                && let (Some(since), Some(sel)) = (changed_since, s.state.selected())
                && let Ok((_, gone)) = shared
                    .store
                    .read(|c| messages::changes_since(c, sel.id, since))
            {
                vanished_earlier(conn, sel, gone, Some(&set));
            }
            super::fetch_command::run(conn, s, shared, tag, uid, &set, &items, changed_since).await;
        }
        Cmd::Store {
            uid,
            set,
            op,
            silent,
            flags: names,
            unchanged_since,
        } => {
            sync(conn, s, shared, uid).await;
            store_cmd(
                conn,
                s,
                shared,
                tag,
                uid,
                &set,
                op,
                silent,
                &names,
                unchanged_since,
            )
            .await;
        }
        Cmd::Search { uid, key, esearch } => {
            sync(conn, s, shared, uid).await;
            search_cmd(conn, s, shared, tag, uid, &key, esearch).await;
        }
        Cmd::Sort {
            uid,
            ref criteria,
            ref key,
        } => {
            sync(conn, s, shared, uid).await;
            let (criteria, key) = (criteria.clone(), key.clone());
            sort_cmd(conn, s, shared, tag, uid, &key, Order::Sort(criteria)).await;
        }
        Cmd::Thread {
            uid,
            references,
            ref key,
        } => {
            sync(conn, s, shared, uid).await;
            let key = key.clone();
            sort_cmd(
                conn,
                s,
                shared,
                tag,
                uid,
                &key,
                Order::Thread { references },
            )
            .await;
        }
        Cmd::Copy {
            uid,
            ref set,
            ref mailbox,
        }
        | Cmd::Move {
            uid,
            ref set,
            ref mailbox,
        } => {
            let is_move = matches!(cmd, Cmd::Move { .. });
            let (set, mailbox) = (set.clone(), mailbox.clone());
            sync(conn, s, shared, true).await;
            copy_cmd(conn, s, shared, tag, uid, &set, &mailbox, is_move, account).await;
        }
        Cmd::Expunge(only) => {
            let Some(sel) = s.state.selected() else {
                return;
            };
            if sel.read_only {
                return conn.reply(&format!("{tag} NO [READ-ONLY] mailbox is read-only"));
            }
            let id = sel.id;
            let uids: Option<Vec<u32>> = only.map(|set| {
                sel.resolve(&set, true)
                    .into_iter()
                    .map(|(_, u)| u)
                    .collect()
            });
            match shared
                .store
                .write_async(Vec::new(), move |c| {
                    messages::expunge(c, id, uids.as_deref())
                })
                .await
            {
                Ok(gone) => {
                    if !gone.is_empty() {
                        shared.hub.notify(account);
                    }
                    sync(conn, s, shared, true).await;
                    conn.reply(&format!("{tag} OK EXPUNGE completed"));
                }
                Err(e) => conn.reply(&no(tag, &e)),
            }
        }
        Cmd::Close | Cmd::Unselect => {
            let Some(sel) = s.state.unselect() else {
                return;
            };
            if matches!(cmd, Cmd::Close) && !sel.read_only {
                let id = sel.id;
                if let Ok(gone) = shared
                    .store
                    .write_async(Vec::new(), move |c| messages::expunge(c, id, None))
                    .await
                    && !gone.is_empty()
                {
                    shared.hub.notify(account);
                }
            }
            conn.reply(&format!("{tag} OK done"));
        }
        _ => conn.reply(&format!("{tag} BAD unexpected command")),
    }
}

pub(super) fn metas_for(
    shared: &Shared,
    mailbox: i64,
    wanted: &[(u32, u32)],
) -> Result<Vec<(u32, Meta)>> {
    let (Some(first), Some(last)) = (wanted.first(), wanted.last()) else {
        return Ok(Vec::new());
    };
    // A few messages spread over a large mailbox: a lookup each beats reading the range.
    if wanted.len() * 8 < (last.1 - first.1) as usize {
        let uids: Vec<u32> = wanted.iter().map(|w| w.1).collect();
        let metas = shared
            .store
            .read(|c| messages::messages_by_uid(c, mailbox, &uids))?;
        let seqs: std::collections::HashMap<u32, u32> =
            wanted.iter().map(|&(s, u)| (u, s)).collect();
        return Ok(metas
            .into_iter()
            .filter_map(|m| seqs.get(&m.uid).map(|&s| (s, m)))
            .collect());
    }
    // UIDs grow with sequence numbers: one range query covers every wanted message.
    let all = shared
        .store
        .read(|c| messages::messages_in_range(c, mailbox, first.1, last.1))?;
    let mut out = Vec::with_capacity(wanted.len());
    let mut i = 0;
    for &(seq, uid) in wanted {
        while i < all.len() && all[i].uid < uid {
            i += 1;
        }
        if i < all.len() && all[i].uid == uid {
            out.push((seq, all[i].clone()));
        }
    }
    Ok(out)
}

/// 1,2,3,5 -> "1:3,5".
pub(super) fn compress(nums: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < nums.len() {
        let mut j = i;
        while j + 1 < nums.len() && nums[j + 1] == nums[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            nums[i].to_string()
        } else {
            format!("{}:{}", nums[i], nums[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_ranges() {
        assert_eq!(compress(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(compress(&[]), "");
    }

    #[test]
    fn flags_split() {
        let (bits, kws) =
            split_flags(&["\\Seen".into(), "$Junk".into(), "\\Recent".into()]).unwrap();
        assert_eq!(bits, flags::SEEN);
        assert_eq!(kws, ["$Junk"]);
        assert!(split_flags(&["\\Bogus".into()]).is_err());
    }
}
