//! Learning from the user's own sorting: a message a client moves or copies into the Junk
//! mailbox is spam to rspamd, one taken out of Junk (not to Trash) is ham. Whatever the client
//! (Apple Mail moves, Thunderbird copies then expunges), the mailbox's special use decides.

use crate::config::Endpoint;
use crate::context::Shared;
use crate::protect::rspamd;
use crate::store::{self, messages};
use std::sync::Arc;
use std::time::Duration;

/// Most messages learned for one command: a client moving a whole folder teaches enough with
/// the first ones, and the rest would only hold rspamd busy.
const MAX_PER_COMMAND: usize = 200;

/// After a COPY or MOVE from `from` to `to` of the account: learns the copies (`uids` in `to`)
/// in the background when the move crosses the Junk mailbox's border.
pub fn after_copy(shared: &Arc<Shared>, account: i64, from: i64, to: i64, uids: Vec<u32>) {
    let cfg = shared.config();
    let p = &cfg.protection;
    if p.rspamd_controller.is_empty() || uids.is_empty() {
        return;
    }
    let Ok(controller) = Endpoint::parse(&p.rspamd_controller) else {
        return;
    };
    let special = |id: i64, boxes: &[store::mailboxes::MailboxInfo]| {
        boxes
            .iter()
            .find(|b| b.id == id)
            .and_then(|b| b.special_use.clone())
            .unwrap_or_default()
    };
    let Ok(boxes) = shared.store.read(|c| store::mailboxes::list(c, account)) else {
        return;
    };
    let (src, dst) = (special(from, &boxes), special(to, &boxes));
    let spam = match (src.as_str(), dst.as_str()) {
        (s, "\\Junk") if s != "\\Junk" => true,
        ("\\Junk", d) if d != "\\Junk" && d != "\\Trash" => false,
        _ => return,
    };
    let password = p.rspamd_password.clone();
    let timeout = Duration::from_secs(p.rspamd_timeout_secs.max(1));
    let shared = shared.clone();
    tokio::spawn(async move {
        let mut uids = uids;
        uids.truncate(MAX_PER_COMMAND);
        let Ok(rows) = shared
            .store
            .read_async(move |c| messages::messages_by_uid(c, to, &uids))
            .await
        else {
            return;
        };
        let mut learned = 0usize;
        for row in rows {
            let blobs = shared.store.blobs().clone();
            let bytes = match tokio::task::spawn_blocking(move || blobs.read(&row.blob)).await {
                Ok(Ok(b)) => b,
                _ => continue,
            };
            match rspamd::learn(&controller, &password, spam, &bytes, timeout).await {
                Ok(()) => learned += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "rspamd did not learn from a Junk move");
                    break;
                }
            }
        }
        tracing::info!(
            account,
            learned,
            as_spam = spam,
            "rspamd learned from the user's sorting"
        );
    });
}
