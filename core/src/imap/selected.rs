//! The selected mailbox: the session's view of it (sequence numbers to UIDs, the flags the client
//! was told), keeping that view in step with the store, and the commands that work on messages:
//! FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE, CLOSE, UNSELECT, IDLE.
//!
//! Sequence numbers only change when this session says so: an expunge made elsewhere is
//! announced (and applied to the view) only where RFC 3501 7.4.1 allows, never during FETCH,
//! STORE or SEARCH.

use super::command::{Cmd, Qresync, SearchKey, SeqSet, StoreOp};
use super::mailboxes::no;
use super::session::{Flow, Session};
use super::view::View;
use super::{fetch, search};
use crate::error::{Error, Result};
use crate::net::{Conn, Line};
use crate::server::Shared;
use crate::store::messages::{self, FlagOp, MailboxState, Meta};
use crate::store::{self, flags};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

pub struct Selected {
    pub id: i64,
    pub name: String,
    pub read_only: bool,
    /// Sequence number - 1 -> (UID, flags as the client last heard them).
    msgs: View,
    modseq: u64,
    recent: HashSet<u32>,
    /// Expunged elsewhere, not yet announced.
    pending_expunge: Vec<u32>,
    /// UIDs saved by SEARCH RETURN (SAVE), for `$` (RFC 5182).
    saved: Vec<u32>,
    show_recent: bool,
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

    fn max_uid(&self) -> u32 {
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

    fn seq_of(&self, uid: u32) -> Option<u32> {
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
    let Some(sel) = s.sel.as_mut() else { return };
    let (id, since) = (sel.id, sel.modseq);
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
    let account = s.user.as_ref().map(|u| u.account_id).unwrap_or(0);
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
                && let (Some(since), Some(sel)) = (changed_since, s.sel.as_ref())
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
            let Some(sel) = s.sel.as_ref() else { return };
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
            let Some(sel) = s.sel.take() else { return };
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

#[allow(clippy::too_many_arguments)]
async fn store_cmd<S: AsyncRead + AsyncWrite + Unpin>(
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
    let account = s.user.as_ref().map(|u| u.account_id).unwrap_or(0);
    if unchanged_since.is_some() {
        s.condstore = true;
    }
    let condstore = s.condstore;
    let Some(sel) = s.sel.as_mut() else { return };
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

async fn search_cmd<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    uid: bool,
    key: &SearchKey,
    esearch: Option<Vec<String>>,
) {
    let rev2 = s.rev2;
    let account = s.user.as_ref().map(|u| u.account_id);
    let Some(sel) = s.sel.as_mut() else { return };
    let key = &with_saved(key, &sel.saved);
    let save = esearch
        .as_ref()
        .is_some_and(|o| o.iter().any(|x| x == "SAVE"));
    let uses_modseq = format!("{key:?}").contains("ModSeq");
    let max_seq = sel.msgs.len() as u32;
    let max_uid = sel.max_uid();
    let plan = search::Plan::new(shared, sel.id, account, key);
    let checked = plan.and_then(|plan| {
        // Messages the index answered are hits as they stand; only the others are read.
        let mut found = Vec::new();
        let mut check = Vec::new();
        for (seq, uid) in sel.msgs.all() {
            match plan.key_for(uid, key) {
                None => {}
                Some(SearchKey::All) if !uses_modseq => found.push((seq, uid, 0)),
                Some(_) => check.push((seq, uid)),
            }
        }
        Ok((plan, found, metas_for(shared, sel.id, &check)?))
    });
    let (plan, mut found, metas) = match checked {
        Ok(c) => c,
        Err(e) => {
            if save {
                sel.saved.clear();
            }
            return conn.reply(&no(tag, &e));
        }
    };
    // Without keep_header an unreadable message is simply not a match; an error here is a
    // check that failed (a panic on its thread), never an answer with messages missing.
    let matched = match search::check(
        shared,
        plan,
        key,
        metas,
        &sel.recent,
        (max_seq, max_uid),
        false,
    )
    .await
    {
        Ok(m) => m,
        Err(e) => {
            if save {
                sel.saved.clear();
            }
            return conn.reply(&e.reply(tag));
        }
    };
    found.extend(matched.iter().map(|m| (m.seq, m.meta.uid, m.meta.modseq)));
    found.sort_unstable();
    let hits: Vec<u32> = found
        .iter()
        .map(|&(seq, u, _)| if uid { u } else { seq })
        .collect();
    let saved_uids: Vec<u32> = found.iter().map(|&(_, u, _)| u).collect();
    let max_modseq = found.iter().map(|&(_, _, m)| m).max().unwrap_or(0);
    if save {
        sel.saved = saved_uids;
    }
    match esearch.or_else(|| rev2.then(|| vec!["ALL".to_string()])) {
        // SAVE alone answers nothing but the tagged OK (RFC 5182 2.4).
        Some(opts) if opts.len() == 1 && save => {}
        Some(opts) => {
            let mut line = format!("* ESEARCH (TAG \"{tag}\")");
            if uid {
                line.push_str(" UID");
            }
            for o in &opts {
                match o.as_str() {
                    "MIN" if !hits.is_empty() => line.push_str(&format!(" MIN {}", hits[0])),
                    "MAX" if !hits.is_empty() => {
                        line.push_str(&format!(" MAX {}", hits[hits.len() - 1]))
                    }
                    "COUNT" => line.push_str(&format!(" COUNT {}", hits.len())),
                    "ALL" if !hits.is_empty() => {
                        line.push_str(&format!(" ALL {}", compress(&hits)))
                    }
                    _ => {}
                }
            }
            if uses_modseq && !hits.is_empty() {
                line.push_str(&format!(" MODSEQ {max_modseq}"));
            }
            conn.reply(&line);
        }
        None => {
            let mut line = String::from("* SEARCH");
            for h in &hits {
                line.push_str(&format!(" {h}"));
            }
            if uses_modseq && !hits.is_empty() {
                line.push_str(&format!(" (MODSEQ {max_modseq})"));
            }
            conn.reply(&line);
        }
    }
    conn.reply(&format!("{tag} OK SEARCH completed"));
}

/// `$` in a search program stands for the saved result's UIDs.
fn with_saved(key: &SearchKey, saved: &[u32]) -> SearchKey {
    use super::command::SeqNum;
    let set = || {
        SearchKey::Uid(SeqSet(
            saved
                .iter()
                .map(|&u| (SeqNum::Num(u), SeqNum::Num(u)))
                .collect(),
        ))
    };
    match key {
        SearchKey::Seq(s) | SearchKey::Uid(s) if s.is_saved() => {
            if saved.is_empty() {
                SearchKey::Not(Box::new(SearchKey::All))
            } else {
                set()
            }
        }
        SearchKey::And(ks) => SearchKey::And(ks.iter().map(|k| with_saved(k, saved)).collect()),
        SearchKey::Or(a, b) => SearchKey::Or(
            Box::new(with_saved(a, saved)),
            Box::new(with_saved(b, saved)),
        ),
        SearchKey::Not(a) => SearchKey::Not(Box::new(with_saved(a, saved))),
        other => other.clone(),
    }
}

enum Order {
    Sort(Vec<(bool, super::sort::SortKey)>),
    Thread { references: bool },
}

/// SORT and THREAD: the messages the search program matches, ordered or threaded.
async fn sort_cmd<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    uid: bool,
    key: &SearchKey,
    order: Order,
) {
    let account = s.user.as_ref().map(|u| u.account_id);
    let Some(sel) = s.sel.as_ref() else { return };
    let key = &with_saved(key, &sel.saved);
    let (max_seq, max_uid) = (sel.msgs.len() as u32, sel.max_uid());
    let planned = search::Plan::new(shared, sel.id, account, key).and_then(|plan| {
        let check: Vec<(u32, u32)> = sel
            .msgs
            .all()
            .filter(|&(_, uid)| plan.key_for(uid, key).is_some())
            .collect();
        Ok((plan, metas_for(shared, sel.id, &check)?))
    });
    let (plan, metas) = match planned {
        Ok(p) => p,
        Err(e) => return conn.reply(&no(tag, &e)),
    };
    // Sorting needs the header even when the index answered the program.
    let matched = match search::check(
        shared,
        plan,
        key,
        metas,
        &sel.recent,
        (max_seq, max_uid),
        true,
    )
    .await
    {
        Ok(m) => m,
        Err(e) => return conn.reply(&e.reply(tag)),
    };
    // Facts from every header, then the sort or the threads: CPU work over what senders
    // wrote, done on a blocking thread.
    let answer = tokio::task::spawn_blocking(move || {
        let facts: Vec<_> = matched
            .iter()
            .map(|m| {
                let id = if uid { m.meta.uid } else { m.seq };
                let message = m.message.as_deref().unwrap_or_default();
                super::sort::facts(id, m.seq, m.meta.internal_date, m.meta.size, message)
            })
            .collect();
        match order {
            Order::Sort(criteria) => {
                let mut line = String::from("* SORT");
                for id in super::sort::sort(facts, &criteria) {
                    line.push_str(&format!(" {id}"));
                }
                (line, "SORT")
            }
            Order::Thread { references } => {
                let threads = if references {
                    super::thread::references(facts)
                } else {
                    super::thread::ordered_subject(facts)
                };
                (format!("* THREAD {}", threads.render()), "THREAD")
            }
        }
    })
    .await;
    match answer {
        Ok((line, verb)) => {
            conn.reply(&line);
            conn.reply(&format!("{tag} OK {verb} completed"));
        }
        Err(_) => conn.reply(&format!("{tag} NO [SERVERBUG] sorting failed")),
    }
}

/// 1,2,3,5 -> "1:3,5".
fn compress(nums: &[u32]) -> String {
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

#[allow(clippy::too_many_arguments)]
async fn copy_cmd<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    uid: bool,
    set: &SeqSet,
    mailbox: &str,
    is_move: bool,
    account: i64,
) {
    let dest_name = match s
        .decode_name(mailbox)
        .and_then(|n| store::mailboxes::validate_name(&n).map_err(|e| e.to_string()))
    {
        Ok(n) => n,
        Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
    };
    let Some(sel) = s.sel.as_ref() else { return };
    if is_move && sel.read_only {
        return conn.reply(&format!("{tag} NO [READ-ONLY] mailbox is read-only"));
    }
    let uids: Vec<u32> = sel.resolve(set, uid).into_iter().map(|(_, u)| u).collect();
    let from = sel.id;
    let dest = match shared
        .store
        .read(|c| store::mailbox_id(c, account, &dest_name))
    {
        Ok(Some(d)) => d,
        Ok(None) => {
            return conn.reply(&format!(
                "{tag} NO [TRYCREATE] mailbox {dest_name} does not exist"
            ));
        }
        Err(e) => return conn.reply(&no(tag, &e)),
    };
    let result = shared
        .store
        .write_async(Vec::new(), move |c| {
            let (quota, used) = crate::directory::usage(c, account)?;
            let pairs = messages::copy(c, from, dest, &uids)?;
            if is_move {
                let moved: Vec<u32> = pairs.iter().map(|p| p.0).collect();
                messages::remove_uids(c, from, &moved)?;
            } else {
                let (_, now_used) = crate::directory::usage(c, account)?;
                if quota > 0 && now_used > quota && now_used > used {
                    return Err(Error::Conflict("over quota".into()));
                }
            }
            Ok((pairs, messages::mailbox_state(c, dest)?.uidvalidity))
        })
        .await;
    match result {
        Ok((pairs, validity)) => {
            shared.hub.notify(account);
            let code = if pairs.is_empty() {
                String::new()
            } else {
                let src: Vec<u32> = pairs.iter().map(|p| p.0).collect();
                let dst: Vec<u32> = pairs.iter().map(|p| p.1).collect();
                format!(
                    "[COPYUID {validity} {} {}] ",
                    compress(&src),
                    compress(&dst)
                )
            };
            if is_move {
                conn.reply(&format!("* OK {code}moved"));
                sync(conn, s, shared, true).await;
                conn.reply(&format!("{tag} OK MOVE completed"));
            } else {
                conn.reply(&format!("{tag} OK {code}COPY completed"));
            }
        }
        Err(Error::Conflict(_)) => conn.reply(&format!("{tag} NO [OVERQUOTA] the mailbox is full")),
        Err(e) => conn.reply(&no(tag, &e)),
    }
}

/// IDLE (RFC 2177): changes are pushed as they happen (within a second) until DONE.
pub async fn idle<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
) -> Flow {
    let Some(account) = s.user.as_ref().map(|u| u.account_id) else {
        return Flow::Close;
    };
    let mut changes = shared.hub.subscribe(account);
    let mut shutdown = shared.shutdown_receiver();
    conn.reply("+ idling");
    if conn.flush().await.is_err() {
        return Flow::Close;
    }
    // Changes made by other processes (the admin CLI) have no notification: look now and then.
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30 * 60);
    loop {
        if s.sel.is_some() {
            sync(conn, s, shared, true).await;
        }
        if conn.flush().await.is_err() {
            return Flow::Close;
        }
        if conn.has_line() {
            break;
        }
        tokio::select! {
            r = conn.fill(Duration::from_secs(30 * 60), None) => {
                if r.is_err() {
                    return Flow::Close;
                }
                if conn.has_line() {
                    break;
                }
            }
            _ = changes.changed() => {}
            _ = poll.tick() => {}
            _ = shutdown.changed() => {
                conn.reply("* BYE server shutting down");
                return Flow::Close;
            }
            _ = tokio::time::sleep_until(deadline) => {
                conn.reply("* BYE idle for too long");
                return Flow::Close;
            }
        }
    }
    match conn.read_line(1024, Duration::from_secs(1), None).await {
        Ok(Line::Complete(l)) if l.eq_ignore_ascii_case(b"DONE") => {
            conn.reply(&format!("{tag} OK IDLE terminated"));
            Flow::Continue
        }
        Ok(_) => {
            conn.reply(&format!("{tag} BAD expected DONE"));
            Flow::Continue
        }
        Err(_) => Flow::Close,
    }
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
