//! From a received message to stored mail: loop check, trace headers, one blob shared by every
//! local recipient, a queue entry for the ones outside, one commit, then the 250.

use super::session::{State, finish_tx};
use crate::config::Config;
use crate::server::Shared;
use crate::store::{self, Body, Delivery, DeliveryTarget, QueueEntry, QueueRecipient};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Stores the message of the current transaction; returns the reply for DATA or BDAT LAST and
/// writes the transaction's log line.
pub async fn accept(st: &mut State, shared: &Arc<Shared>, cfg: &Config, body: Body) -> String {
    let size = body.len() as usize;
    let reply = match store_message(st, shared, cfg, body).await {
        Ok(queue_id) => {
            let r = format!("250 2.0.0 OK queued as {queue_id}");
            finish_tx(st, &r, Some(&queue_id), Some(size));
            return r;
        }
        Err(reply) => reply,
    };
    finish_tx(st, &reply, None, Some(size));
    reply
}

/// The part of a message read for its header: the header block of any real message fits.
const HEAD: usize = 1024 * 1024;

async fn store_message(
    st: &State,
    shared: &Arc<Shared>,
    cfg: &Config,
    body: Body,
) -> Result<String, String> {
    let Some(tx) = st.tx.as_ref() else {
        return Err("503 5.5.1 Send MAIL first".into());
    };
    // The message's own header block, and whether all of it is there (a header larger than
    // HEAD is only ever a stranger's trick).
    let (own_header, complete) = match body.head(HEAD) {
        Ok(head) => {
            let h = store::header_of(&head);
            (
                h.to_vec(),
                h.len() < head.len() || head.len() as u64 == body.len(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read an arriving message back");
            return Err("451 4.3.0 Local error in processing, try again later".into());
        }
    };
    // What a signed-in user sends must come from one of their own addresses: checked on the
    // whole header block, so a header too large to read at once is refused.
    if let Some(user) = &st.auth {
        if !complete {
            return Err("552 5.3.4 Message header too large".into());
        }
        let (shared2, cfg2, user2, header2) = (
            shared.clone(),
            shared.config(),
            user.clone(),
            own_header.clone(),
        );
        let checked = tokio::task::spawn_blocking(move || {
            super::sender::header_allowed(&shared2, &cfg2, &user2, &header2)
        })
        .await
        .unwrap_or(Err(super::sender::Refusal::Unavailable));
        if let Err(refusal) = checked {
            return Err(refusal.reply());
        }
    }
    let hops = count_received(&own_header);
    if hops >= cfg.smtp.max_received_headers {
        return Err(format!(
            "554 5.4.6 Mail loop: the message has passed {hops} servers"
        ));
    }
    let queue_id = new_queue_id();
    let single_rcpt = (tx.rcpts.len() == 1).then(|| tx.rcpts[0].address.as_str());
    let received = received_header(st, cfg, &queue_id, tx.params.smtputf8, single_rcpt);

    let mut accounts: Vec<&crate::directory::Account> = Vec::new();
    let mut external: Vec<String> = Vec::new();
    for r in &tx.rcpts {
        for a in &r.dest.accounts {
            if !accounts.iter().any(|x| x.id == a.id) {
                accounts.push(a);
            }
        }
        for e in &r.dest.external {
            if !external.iter().any(|x| x.eq_ignore_ascii_case(e)) {
                external.push(e.clone());
            }
        }
    }
    let size = received.len() as u64 + body.len();
    if external.is_empty()
        && !accounts.is_empty()
        && accounts
            .iter()
            .all(|a| a.quota > 0 && a.used + size > a.quota)
    {
        return Err(if accounts.iter().all(|a| size > a.quota) {
            "552 5.2.2 Message is larger than the recipient's mailbox quota".into()
        } else {
            "452 4.2.2 Mailbox full, try again later".into()
        });
    }

    let return_path = format!("Return-Path: <{}>\r\n", tx.from.0);
    // The header block is cached beside the blob only when all of it was read.
    let header = complete.then(|| {
        let mut h = Vec::with_capacity(return_path.len() + received.len() + own_header.len());
        h.extend_from_slice(return_path.as_bytes());
        h.extend_from_slice(received.as_bytes());
        h.extend_from_slice(&own_header);
        h
    });
    let targets: Vec<DeliveryTarget> = accounts
        .iter()
        .map(|a| DeliveryTarget {
            account_id: a.id,
            mailbox: "INBOX".into(),
        })
        .collect();
    let blobs = shared.store.blobs().clone();
    let want_local = !targets.is_empty();
    let want_queue = !external.is_empty();
    // Mail that leaves is signed for the domain of its From: when that domain has a key and
    // a signed-in user sent it (never for mail merely passing through an alias).
    let signature = match (&st.auth, want_queue) {
        (Some(_), true) => sign(shared, &own_header, &body).await?,
        _ => None,
    };
    // Local copies carry Return-Path (RFC 5321 4.4: added at final delivery); the copy that
    // leaves does not.
    let written = tokio::task::spawn_blocking(move || -> crate::error::Result<_> {
        let local = if want_local {
            Some(blobs.write_body(&[return_path.as_bytes(), received.as_bytes()], &body)?)
        } else {
            None
        };
        let queued = if want_queue {
            let dkim = signature.unwrap_or_default();
            Some(blobs.write_body(&[dkim.as_bytes(), received.as_bytes()], &body)?)
        } else {
            None
        };
        Ok((local, queued))
    })
    .await;
    let (local, queued) = match written {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot write message");
            return Err("451 4.3.0 Local error in processing, try again later".into());
        }
        Err(_) => return Err("451 4.3.0 Local error in processing, try again later".into()),
    };

    let now = store::now();
    let mut sync_dirs = Vec::new();
    let delivery = local.map(|(blob, size, dir)| {
        sync_dirs.push(dir);
        Delivery {
            blob,
            size,
            header,
            internal_date: now,
            targets,
        }
    });
    let entry = queued.map(|(blob, size, dir)| {
        sync_dirs.push(dir);
        QueueEntry {
            id: queue_id.clone(),
            blob: Some(blob),
            sender: tx.from.0.clone(),
            auth_user: st.auth.as_ref().map(|a| a.address.clone()),
            client_ip: st.peer.ip().to_canonical().to_string(),
            size,
            created: now,
            recipients: external
                .iter()
                .map(|e| QueueRecipient::new(e.clone(), now))
                .collect(),
        }
    });
    let sender_account = st.auth.as_ref().map(|a| a.address.clone());
    let committed = shared
        .store
        .write_async(sync_dirs, move |conn| {
            if let Some(d) = &delivery {
                store::deliver(conn, d)?;
            }
            if let Some(e) = &entry {
                store::enqueue(conn, e)?;
            }
            if let Some(a) = &sender_account {
                store::limits::count_sent(conn, a, store::limits::today())?;
            }
            Ok(())
        })
        .await;
    match committed {
        Ok(()) => {
            for a in &accounts {
                shared.hub.notify(a.id);
            }
            if want_queue {
                shared.outbound.wake();
            }
            if want_local {
                shared.search.wake();
            }
            Ok(queue_id)
        }
        Err(e) => {
            tracing::error!(error = %e, queue_id, "cannot commit message");
            Err("451 4.3.0 Local error in processing, try again later".into())
        }
    }
}

/// The DKIM-Signature for mail a signed-in user sends, for the domain of its From: when that
/// domain has a key. A message that arrived in a file is read into memory for it, within the
/// message memory budget (waiting for room).
async fn sign(shared: &Arc<Shared>, header: &[u8], body: &Body) -> Result<Option<String>, String> {
    let Some(domain) = crate::outbound::dkim::from_domain(header) else {
        return Ok(None);
    };
    let busy = || "451 4.3.1 Insufficient system resources, try again later".to_string();
    let held = shared
        .memory
        .hold_a_while(body.len())
        .await
        .ok_or_else(busy)?;
    let bytes = match body.bytes() {
        Ok(b) => b.into_owned(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the message to sign it");
            return Err(busy());
        }
    };
    let (store2, signers) = (shared.store.clone(), shared.outbound.signers.clone());
    let signed = tokio::task::spawn_blocking(move || signers.sign(&store2, &domain, &bytes))
        .await
        .ok()
        .flatten();
    drop(held);
    Ok(signed)
}

/// Received headers in the header section: each server adds one, so too many means a loop.
fn count_received(msg: &[u8]) -> usize {
    let header_end = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
        .unwrap_or(msg.len());
    msg[..header_end]
        .split(|&b| b == b'\n')
        .filter(|line| line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"received:"))
        .count()
}

/// RFC 5321 4.4 trace header, with the protocol names of RFC 3848 and RFC 6531.
fn received_header(
    st: &State,
    cfg: &Config,
    queue_id: &str,
    utf8: bool,
    single_rcpt: Option<&str>,
) -> String {
    let mut proto = String::from(if utf8 {
        "UTF8SMTP"
    } else if st.esmtp {
        "ESMTP"
    } else {
        "SMTP"
    });
    if utf8 && !st.esmtp {
        proto = "UTF8SMTP".into();
    }
    if st.tls.is_some() {
        proto.push('S');
    }
    if st.auth.is_some() {
        proto.push('A');
    }
    let helo: String = st
        .helo
        .as_deref()
        .unwrap_or("unknown")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let mut h = format!(
        "Received: from {helo} ([{}])\r\n\tby {} (Roost) with {proto} id {queue_id}",
        st.peer.ip().to_canonical(),
        cfg.hostname
    );
    if let Some(tls) = &st.tls {
        h.push_str(&format!("\r\n\t({tls})"));
    }
    if let Some(r) = single_rcpt {
        h.push_str(&format!("\r\n\tfor <{r}>"));
    }
    h.push_str(&format!(
        ";\r\n\t{}\r\n",
        crate::util::rfc5322_date(store::now())
    ));
    h
}

/// Short, sortable, unique within this machine: seconds and a counter, in upper-case hex.
pub fn new_queue_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xfff;
    format!("{micros:013X}{n:03X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_received_headers_only_in_the_header() {
        let m = b"Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: in body\r\n";
        assert_eq!(count_received(m), 2);
        assert_eq!(count_received(b"Subject: none\r\n\r\n"), 0);
    }

    #[test]
    fn queue_ids_are_unique() {
        let a = new_queue_id();
        let b = new_queue_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
    }
}
