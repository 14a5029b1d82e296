//! Learning from the user's own sorting, whatever the client (Apple Mail moves, Thunderbird
//! copies then expunges): the mailboxes' special uses decide. A message moved or copied into
//! Junk is spam; one taken out of Junk (not to Trash) is ham, for rspamd and for Roost's own
//! classifier; one the user files from INBOX into another folder of theirs is ham for the
//! classifier too (the user kept it).

use crate::config::Endpoint;
use crate::context::Shared;
use crate::protect::{bayes, rspamd};
use crate::store::{self, messages};
use std::sync::Arc;
use std::time::Duration;

/// Most messages learned for one command: a client moving a whole folder teaches enough with
/// the first ones, and the rest would only hold the learners busy.
const MAX_PER_COMMAND: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lesson {
    spam: bool,
    /// rspamd is told too (moves across Junk's border only).
    rspamd: bool,
}

/// What a copy from a mailbox of `src` special use to one of `dst` teaches ("" when none).
fn lesson(src: &str, dst: &str, src_is_inbox: bool) -> Option<Lesson> {
    match (src, dst) {
        (s, "\\Junk") if s != "\\Junk" => Some(Lesson {
            spam: true,
            rspamd: true,
        }),
        ("\\Junk", d) if d != "\\Junk" && d != "\\Trash" => Some(Lesson {
            spam: false,
            rspamd: true,
        }),
        (_, d) if src_is_inbox && d != "\\Junk" && d != "\\Trash" => Some(Lesson {
            spam: false,
            rspamd: false,
        }),
        _ => None,
    }
}

/// After a COPY or MOVE from `from` to `to` of the account: learns the copies (`uids` in `to`)
/// in the background when the move teaches something.
pub fn after_copy(shared: &Arc<Shared>, account: i64, from: i64, to: i64, uids: Vec<u32>) {
    let cfg = shared.config();
    let p = &cfg.protection;
    let controller = Endpoint::parse(&p.rspamd_controller).ok();
    if (controller.is_none() && !p.classifier) || uids.is_empty() || from == to {
        return;
    }
    let Ok(boxes) = shared.store.read(|c| store::mailboxes::list(c, account)) else {
        return;
    };
    let special = |id: i64| {
        boxes
            .iter()
            .find(|b| b.id == id)
            .and_then(|b| b.special_use.clone())
            .unwrap_or_default()
    };
    let src_is_inbox = boxes
        .iter()
        .any(|b| b.id == from && b.name.eq_ignore_ascii_case("INBOX"));
    let Some(lesson) = lesson(&special(from), &special(to), src_is_inbox) else {
        return;
    };
    let controller = controller.filter(|_| lesson.rspamd);
    let classifier = p.classifier;
    if controller.is_none() && !classifier {
        return;
    }
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
        let (mut told_rspamd, mut learned) = (0usize, 0usize);
        let mut rspamd_up = controller.is_some();
        for row in rows {
            let blobs = shared.store.blobs().clone();
            let blob = row.blob.clone();
            // Read and cut into tokens off the async threads (and off the store's writer).
            let read = tokio::task::spawn_blocking(move || {
                blobs
                    .read(&blob)
                    .map(|b| (classifier.then(|| bayes::tokens(&b)), b))
            });
            let (tokens, bytes) = match read.await {
                Ok(Ok(t)) => t,
                _ => continue,
            };
            if let (Some(c), true) = (&controller, rspamd_up) {
                match rspamd::learn(c, &password, lesson.spam, &bytes, timeout).await {
                    Ok(()) => told_rspamd += 1,
                    Err(e) => {
                        tracing::warn!(error = %e, "rspamd did not learn from a Junk move");
                        rspamd_up = false;
                    }
                }
            }
            if let Some(tokens) = tokens {
                let id = row.blob.0.clone();
                let counted = shared
                    .store
                    .write_async(Vec::new(), move |tx| {
                        store::bayes::learn(tx, account, &id, &tokens, lesson.spam)
                    })
                    .await;
                match counted {
                    Ok(true) => learned += 1,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "the classifier did not learn"),
                }
            }
        }
        tracing::info!(
            account,
            rspamd = told_rspamd,
            classifier = learned,
            as_spam = lesson.spam,
            "learned from the user's sorting"
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_move_teaches() {
        let spam = Some(Lesson {
            spam: true,
            rspamd: true,
        });
        assert_eq!(lesson("", "\\Junk", true), spam);
        assert_eq!(lesson("\\Archive", "\\Junk", false), spam);
        assert_eq!(
            lesson("\\Junk", "", false),
            Some(Lesson {
                spam: false,
                rspamd: true
            })
        );
        assert_eq!(lesson("\\Junk", "\\Trash", false), None);
        assert_eq!(
            lesson("", "\\Archive", true),
            Some(Lesson {
                spam: false,
                rspamd: false
            })
        );
        assert_eq!(lesson("", "\\Trash", true), None);
        // Between two folders of the user's: nothing learned.
        assert_eq!(lesson("", "", false), None);
    }
}
