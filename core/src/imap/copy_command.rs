//! COPY and MOVE (RFC 3501 6.4.7, RFC 6851), with UIDPLUS's COPYUID (RFC 4315).

use super::command::SeqSet;
use super::mailboxes::no;
use super::selected::{compress, sync};
use super::session::Session;
use crate::context::Shared;
use crate::error::Error;
use crate::net::Conn;
use crate::store::messages::{self};
use crate::store::{self};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

#[allow(clippy::too_many_arguments)]
pub(super) async fn copy_cmd<S: AsyncRead + AsyncWrite + Unpin>(
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
    let Some(sel) = s.state.selected() else {
        return;
    };
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
            let copies: Vec<u32> = pairs.iter().map(|p| p.1).collect();
            super::learn::after_copy(shared, account, from, dest, copies);
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
