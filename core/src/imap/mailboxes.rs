//! Commands on mailboxes as a whole: SELECT/EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
//! UNSUBSCRIBE, LIST/LSUB (with LIST-EXTENDED and LIST-STATUS), STATUS, APPEND.

use super::command::Cmd;
use super::list;
use super::pattern::Pattern;
use super::selected::{self, Selected};
use super::session::Session;
use crate::accept::{self, Content, Filing, Incoming, Local};
use crate::context::Shared;
use crate::error::Error;
use crate::net::Conn;
use crate::store::mailboxes as boxes;
use crate::store::{self, messages};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// The tagged NO for a store error, with the response code a client can act on.
pub fn no(tag: &str, e: &Error) -> String {
    let code = match e {
        Error::NotFound(_) => "[NONEXISTENT] ",
        Error::Exists(_) => "[ALREADYEXISTS] ",
        Error::Conflict(_) => "[INUSE] ",
        Error::Invalid(_) => "[CANNOT] ",
        Error::Storage(_) => "[SERVERBUG] ",
    };
    format!("{tag} NO {code}{e}")
}

pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    cmd: Cmd,
) {
    let Some(account) = s.state.user().map(|u| u.account_id) else {
        return;
    };
    let name_of = |s: &Session, raw: &str| {
        s.decode_name(raw)
            .and_then(|n| boxes::validate_name(&n).map_err(|e| e.to_string()))
    };
    match cmd {
        Cmd::Select {
            mailbox,
            read_only,
            condstore,
            qresync,
        } => {
            if qresync.is_some() && !s.qresync {
                return conn.reply(&format!("{tag} BAD ENABLE QRESYNC first"));
            }
            // Selecting (even a mailbox that fails) leaves the previous one (RFC 3501 6.3.1).
            if s.state.unselect().is_some() {
                conn.reply("* OK [CLOSED] previous mailbox closed");
            }
            let name = match name_of(s, &mailbox) {
                Ok(n) => n,
                Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
            };
            if condstore {
                s.condstore = true;
            }
            match Selected::open(shared, account, &name, read_only, s.rev2).await {
                Ok((sel, state, first_unseen)) => {
                    conn.reply("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
                    let perm = if read_only {
                        "()"
                    } else {
                        "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)"
                    };
                    conn.reply(&format!("* OK [PERMANENTFLAGS {perm}] flags permitted"));
                    conn.reply(&format!("* {} EXISTS", sel.len()));
                    if !s.rev2 {
                        conn.reply(&format!("* {} RECENT", sel.recent_count()));
                        if let Some(seq) = first_unseen {
                            conn.reply(&format!("* OK [UNSEEN {seq}] first unseen message"));
                        }
                    }
                    conn.reply(&format!(
                        "* OK [UIDVALIDITY {}] UIDs valid",
                        state.uidvalidity
                    ));
                    conn.reply(&format!(
                        "* OK [UIDNEXT {}] predicted next UID",
                        state.uidnext
                    ));
                    if s.condstore {
                        conn.reply(&format!(
                            "* OK [HIGHESTMODSEQ {}] highest",
                            state.highestmodseq
                        ));
                    }
                    if s.rev2 {
                        conn.reply(&format!(
                            "* LIST () \"/\" {}",
                            quote_name(&s.encode_name(&name))
                        ));
                    }
                    if let Some(q) = qresync.filter(|q| q.uidvalidity == state.uidvalidity) {
                        selected::resync(conn, &sel, shared, &q);
                    }
                    let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
                    let what = if read_only { "EXAMINE" } else { "SELECT" };
                    conn.reply(&format!("{tag} OK [{mode}] {what} completed"));
                    s.state.select(sel);
                }
                Err(e) => conn.reply(&no(tag, &e)),
            }
        }
        Cmd::Create(raw) => {
            let name = match name_of(s, &raw) {
                Ok(n) => n,
                Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
            };
            match shared
                .store
                .write_async(Vec::new(), move |c| boxes::create(c, account, &name))
                .await
            {
                Ok(_) => conn.reply(&format!("{tag} OK CREATE completed")),
                Err(e) => conn.reply(&no(tag, &e)),
            }
        }
        Cmd::Delete(raw) => {
            let name = match name_of(s, &raw) {
                Ok(n) => n,
                Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
            };
            if s.state.selected().is_some_and(|x| x.name == name) {
                s.state.unselect();
            }
            match shared
                .store
                .write_async(Vec::new(), move |c| boxes::delete(c, account, &name))
                .await
            {
                Ok(()) => {
                    shared.hub.notify(account);
                    conn.reply(&format!("{tag} OK DELETE completed"))
                }
                Err(e) => conn.reply(&no(tag, &e)),
            }
        }
        Cmd::Rename(from, to) => {
            let (from, to) = match (name_of(s, &from), name_of(s, &to)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(why), _) | (_, Err(why)) => return conn.reply(&format!("{tag} BAD {why}")),
            };
            match shared
                .store
                .write_async(Vec::new(), move |c| boxes::rename(c, account, &from, &to))
                .await
            {
                Ok(()) => {
                    shared.hub.notify(account);
                    conn.reply(&format!("{tag} OK RENAME completed"))
                }
                Err(e) => conn.reply(&no(tag, &e)),
            }
        }
        Cmd::Subscribe(ref raw) | Cmd::Unsubscribe(ref raw) => {
            let on = matches!(cmd, Cmd::Subscribe(_));
            let raw = raw.clone();
            let name = match name_of(s, &raw) {
                Ok(n) => n,
                Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
            };
            match shared
                .store
                .write_async(Vec::new(), move |c| {
                    boxes::set_subscribed(c, account, &name, on)
                })
                .await
            {
                Ok(()) => conn.reply(&format!("{tag} OK done")),
                Err(e) => conn.reply(&no(tag, &e)),
            }
        }
        Cmd::List {
            reference,
            patterns,
            subscribed,
            return_status,
            lsub,
            special_use_only,
            recursive,
            return_subscribed,
        } => {
            let mut compiled = Vec::with_capacity(patterns.len());
            for pattern in patterns {
                let pattern = match s.decode_name(&format!("{reference}{pattern}")) {
                    Ok(p) => p,
                    Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
                };
                if pattern.is_empty() {
                    compiled.push(None);
                    continue;
                }
                match Pattern::new(&pattern) {
                    Ok(p) => compiled.push(Some(p)),
                    Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
                }
            }
            let query = list::Query {
                lsub,
                patterns: compiled,
                subscribed,
                special_use_only,
                recursive,
                return_subscribed,
                return_status,
                utf8: s.utf8,
            };
            match list::run(shared, account, query).await {
                Ok(lines) => {
                    for l in lines {
                        conn.reply(&l);
                    }
                    let verb = if lsub { "LSUB" } else { "LIST" };
                    conn.reply(&format!("{tag} OK {verb} completed"));
                }
                Err(e) => conn.reply(&no(tag, &e)),
            }
        }
        Cmd::Status(raw, items) => {
            let name = match name_of(s, &raw) {
                Ok(n) => n,
                Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
            };
            let id = match shared.store.read(|c| store::mailbox_id(c, account, &name)) {
                Ok(Some(id)) => id,
                Ok(None) => {
                    return conn.reply(&format!(
                        "{tag} NO [NONEXISTENT] mailbox {name} does not exist"
                    ));
                }
                Err(e) => return conn.reply(&no(tag, &e)),
            };
            match status_line(shared, id, &items) {
                Ok(st) => {
                    conn.reply(&format!(
                        "* STATUS {} ({st})",
                        quote_name(&s.encode_name(&name))
                    ));
                    conn.reply(&format!("{tag} OK STATUS completed"));
                }
                Err(e) => conn.reply(&format!("{tag} BAD {e}")),
            }
        }
        Cmd::Append {
            mailbox,
            flags,
            date,
            message,
        } => {
            let name = match name_of(s, &mailbox) {
                Ok(n) => n,
                Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
            };
            append(conn, s, shared, tag, account, &name, flags, date, message).await;
        }
        _ => conn.reply(&format!("{tag} BAD unexpected command")),
    }
}

#[allow(clippy::too_many_arguments)]
async fn append<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    account: i64,
    name: &str,
    flag_names: Vec<String>,
    date: Option<i64>,
    message: Vec<u8>,
) {
    if message.is_empty() {
        return conn.reply(&format!("{tag} NO empty message"));
    }
    let (system, keywords) = match selected::split_flags(&flag_names) {
        Ok(f) => f,
        Err(why) => return conn.reply(&format!("{tag} BAD {why}")),
    };
    let target = shared.store.read(|c| {
        let id = store::mailbox_id(c, account, name)?;
        let (quota, used) = crate::directory::usage(c, account)?;
        Ok((id, quota, used))
    });
    let mailbox_id = match target {
        Ok((Some(id), quota, used)) => {
            if quota > 0 && used + message.len() as u64 > quota {
                return conn.reply(&format!("{tag} NO [OVERQUOTA] the mailbox is full"));
            }
            id
        }
        Ok((None, ..)) => {
            return conn.reply(&format!(
                "{tag} NO [TRYCREATE] mailbox {name} does not exist"
            ));
        }
        Err(e) => return conn.reply(&no(tag, &e)),
    };
    let incoming = Incoming {
        queue_id: accept::new_queue_id(),
        return_path: None,
        trace: String::new(),
        header: Some(store::header_of(&message).to_vec()),
        local: vec![Local {
            account_id: account,
            into: Filing::Mailbox {
                id: mailbox_id,
                flags: system,
                keywords,
                internal_date: date,
            },
        }],
        remote: None,
        sent_by: None,
        arrival: None,
    };
    let stored = accept::accept(shared, incoming, Content::Bytes(message.into())).await;
    match stored.as_deref() {
        Ok(
            [
                accept::Stored {
                    uid,
                    uidvalidity: Some(uidvalidity),
                    ..
                },
            ],
        ) => {
            if s.state.selected().is_some_and(|x| x.id == mailbox_id) {
                selected::sync(conn, s, shared, true).await;
            }
            conn.reply(&format!(
                "{tag} OK [APPENDUID {uidvalidity} {uid}] APPEND completed"
            ));
        }
        Ok(_) | Err(accept::Failure::Refused(_) | accept::Failure::Deferred(_)) => {
            conn.reply(&format!("{tag} NO [SERVERBUG] cannot store the message"))
        }
        Err(accept::Failure::Failed(e)) => conn.reply(&no(tag, e)),
    }
}

pub(super) fn status_line(
    shared: &Shared,
    mailbox_id: i64,
    items: &[String],
) -> crate::error::Result<String> {
    let st = shared
        .store
        .read(|c| messages::mailbox_state(c, mailbox_id))?;
    let deleted = shared
        .store
        .read(|c| messages::deleted_count(c, mailbox_id))?;
    let mut out = Vec::new();
    for item in items {
        let v = match item.as_str() {
            "MESSAGES" => st.exists as u64,
            "RECENT" => st.recent as u64,
            "UIDNEXT" => st.uidnext as u64,
            "UIDVALIDITY" => st.uidvalidity as u64,
            "UNSEEN" => st.unseen as u64,
            "HIGHESTMODSEQ" => st.highestmodseq,
            "SIZE" => st.size,
            "DELETED" => deleted,
            other => return Err(Error::Invalid(format!("unknown STATUS item {other}"))),
        };
        out.push(format!("{item} {v}"));
    }
    Ok(out.join(" "))
}

/// A mailbox name as an IMAP astring: quoted (literal when it must be).
pub fn quote_name(name: &str) -> String {
    let mut out = Vec::new();
    super::structure::string(&mut out, name.as_bytes(), true);
    String::from_utf8_lossy(&out).into_owned()
}
