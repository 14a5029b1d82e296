//! FETCH (RFC 3501 6.4.5, RFC 9051 6.4.5): the messages asked for, read and rendered on
//! blocking threads in bounded chunks, within the message memory budget.

use super::command::{FetchItem, SeqSet};
use super::fetch;
use super::mailboxes::no;
use super::selected::metas_for;
use super::session::Session;
use crate::context::Shared;
use crate::net::Conn;
use crate::store::messages::{self, FlagOp, Meta};
use crate::store::{self, flags};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// What a command needs of each message beyond its index row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Nothing,
    Header,
    Message,
}

/// The header block or the whole message, read on the calling (blocking) thread; the header
/// comes from the cache beside the blob when it is there.
fn load_blocking(shared: &Shared, blob: &store::BlobId, need: Need) -> Option<Vec<u8>> {
    match need {
        Need::Nothing => None,
        Need::Header => match shared.store.read(|c| store::cached_header(c, blob)) {
            Ok(Some(h)) => Some(h),
            _ => shared
                .store
                .blobs()
                .read(blob)
                .ok()
                .map(|m| store::header_of(&m).to_vec()),
        },
        Need::Message => shared.store.blobs().read(blob).ok(),
    }
}

/// Messages rendered per blocking task, and the bytes of message read for one task: bounded
/// so that a FETCH of a whole large mailbox streams instead of filling memory.
const FETCH_CHUNK: usize = 64;
const FETCH_CHUNK_BYTES: u64 = 8 * 1024 * 1024;

/// One message's FETCH response, or why there is none.
enum Rendered {
    Response(u32, Meta, Vec<u8>),
    /// Expunged by another session since this one was told of it: its file may be gone.
    Expunged,
    Unreadable(u32),
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: &mut Session,
    shared: &Arc<Shared>,
    tag: &str,
    uid: bool,
    set: &SeqSet,
    items: &[FetchItem],
    changed_since: Option<u64>,
) {
    let utf8 = s.utf8;
    let account = s.state.user().map(|u| u.account_id).unwrap_or(0);
    let Some(sel) = s.state.selected_mut() else {
        return;
    };
    let wanted = sel.resolve(set, uid);
    if wanted.is_empty() && !uid {
        return conn.reply(&format!("{tag} BAD no such message"));
    }
    let mut items = items.to_vec();
    if changed_since.is_some() {
        s.condstore = true;
    }
    // Reading a body marks it \Seen (unless read-only); the new flags go with the answer.
    if fetch::sets_seen(&items) && !sel.read_only {
        let id = sel.id;
        let uids: Vec<u32> = wanted.iter().map(|w| w.1).collect();
        if let Ok((changed, _)) = shared
            .store
            .write_async(Vec::new(), move |c| {
                messages::store_flags(c, id, &uids, FlagOp::Add, flags::SEEN, &[], None)
            })
            .await
            && !changed.is_empty()
        {
            shared.hub.notify(account);
            if !items.contains(&FetchItem::Flags) {
                items.push(FetchItem::Flags);
            }
        }
    }
    let metas = match metas_for(shared, sel.id, &wanted) {
        Ok(m) => m,
        Err(e) => return conn.reply(&no(tag, &e)),
    };
    let need = if !fetch::needs_message(&items) {
        Need::Nothing
    } else if fetch::header_only(&items) {
        Need::Header
    } else {
        Need::Message
    };
    let work: Vec<(u32, Meta, bool)> = metas
        .into_iter()
        .filter(|(_, m)| changed_since.is_none_or(|c| m.modseq > c))
        .map(|(seq, m)| {
            let recent = sel.is_recent(m.uid);
            (seq, m, recent)
        })
        .collect();
    let items = Arc::new(items);
    let mailbox = sel.id;
    let mut expunged = false;
    let mut rest = work.into_iter().peekable();
    while rest.peek().is_some() {
        let mut chunk = Vec::new();
        let mut bytes = 0u64;
        while let Some(next) = rest.peek() {
            let size = if need == Need::Message {
                next.1.size
            } else {
                0
            };
            if !chunk.is_empty() && (chunk.len() >= FETCH_CHUNK || bytes + size > FETCH_CHUNK_BYTES)
            {
                break;
            }
            bytes += size;
            chunk.extend(rest.next());
        }
        // Whole messages are read within the message memory budget, waiting for room.
        let Some(held) = shared.memory.hold_a_while(bytes).await else {
            return conn.reply(&format!(
                "{tag} NO [UNAVAILABLE] the server is short of memory for messages; try again later"
            ));
        };
        // Reading and rendering (MIME structure, ENVELOPE) are disk and CPU work: off the
        // async threads every session shares.
        let (shared2, items2) = (shared.clone(), items.clone());
        let rendered = tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .map(|(seq, meta, recent)| {
                    let message = load_blocking(&shared2, &meta.blob, need);
                    if need != Need::Nothing && message.is_none() {
                        let gone = shared2
                            .store
                            .read(|c| messages::messages_by_uid(c, mailbox, &[meta.uid]))
                            .is_ok_and(|m| m.is_empty());
                        return if gone {
                            Rendered::Expunged
                        } else {
                            Rendered::Unreadable(seq)
                        };
                    }
                    let opts = fetch::Options { utf8, recent };
                    let out = fetch::response(seq, &meta, &items2, message.as_deref(), &opts);
                    Rendered::Response(seq, meta, out)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for r in rendered {
            match r {
                Rendered::Response(seq, meta, out) => {
                    let shown = meta.flags & !flags::RECENT;
                    sel.told(seq, shown, &meta.keywords);
                    conn.write_raw(&out);
                }
                Rendered::Expunged => expunged = true,
                Rendered::Unreadable(seq) => {
                    return conn.reply(&format!("{tag} NO [SERVERBUG] cannot read message {seq}"));
                }
            }
        }
        if conn.buffered_out() > 256 * 1024 && conn.flush().await.is_err() {
            return;
        }
        drop(held);
    }
    if expunged {
        // RFC 5530: the rest was answered; the client learns of the expunge at its next NOOP.
        conn.reply(&format!(
            "{tag} NO [EXPUNGEISSUED] some of the requested messages no longer exist"
        ));
    } else {
        conn.reply(&format!("{tag} OK FETCH completed"));
    }
}
