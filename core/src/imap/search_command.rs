//! SEARCH, ESEARCH with SAVE (RFC 4731, RFC 5182), SORT and THREAD (RFC 5256) in the
//! selected mailbox.

use super::command::{SearchKey, SeqSet};
use super::mailboxes::no;
use super::search;
use super::selected::{compress, metas_for};
use super::session::Session;
use crate::context::Shared;
use crate::net::Conn;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

pub(super) async fn search_cmd<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    uid: bool,
    key: &SearchKey,
    esearch: Option<Vec<String>>,
) {
    let rev2 = s.rev2;
    let account = s.state.user().map(|u| u.account_id);
    let Some(sel) = s.state.selected_mut() else {
        return;
    };
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

pub(super) enum Order {
    Sort(Vec<(bool, super::sort::SortKey)>),
    Thread { references: bool },
}

/// SORT and THREAD: the messages the search program matches, ordered or threaded.
pub(super) async fn sort_cmd<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    uid: bool,
    key: &SearchKey,
    order: Order,
) {
    let account = s.state.user().map(|u| u.account_id);
    let Some(sel) = s.state.selected() else {
        return;
    };
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
