//! From a received message to stored mail: loop check, trace headers, one blob shared by every
//! local recipient, a queue entry for the ones outside, one commit, then the 250.

use super::session::{State, finish_tx};
use crate::accept::{self, Content, Failure, Incoming, Local, Remote};
use crate::config::Config;
use crate::context::Shared;
use crate::store::{self, Body};
use std::sync::Arc;

/// Stores the message of the current transaction; returns the reply for DATA or BDAT LAST and
/// writes the transaction's log line.
pub async fn accept(st: &mut State, shared: &Arc<Shared>, cfg: &Config, body: Body) -> String {
    let size = body.len() as usize;
    let reply = match store_message(st, shared, cfg, body).await {
        Ok((queue_id, delay)) => {
            if let Some(d) = delay {
                // Stored already: only the answer waits.
                tracing::info!(
                    queue_id,
                    secs = d.as_secs(),
                    "first-time sender: answer delayed"
                );
                tokio::time::sleep(d).await;
            }
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

/// The queue id, and how long the answer waits (a first-time sender).
async fn store_message(
    st: &State,
    shared: &Arc<Shared>,
    cfg: &Config,
    body: Body,
) -> Result<(String, Option<std::time::Duration>), String> {
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
    if let Some((domain, limit)) = tx
        .rcpts
        .iter()
        .filter_map(|r| cfg.domain_size_limit(&r.address))
        .find(|(_, limit)| body.len() > *limit)
    {
        return Err(format!(
            "552 5.3.4 Message too big: mail to {domain} is limited to {limit} bytes"
        ));
    }
    let hops = count_received(&own_header);
    if hops >= cfg.smtp.max_received_headers {
        return Err(format!(
            "554 5.4.6 Mail loop: the message has passed {hops} servers"
        ));
    }
    let queue_id = accept::new_queue_id();
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

    // Mail that leaves is signed for the domain of its From: when that domain has a key and
    // a signed-in user sent it (never for mail merely passing through an alias).
    let signature = match (&st.auth, external.is_empty()) {
        (Some(_), false) => sign(shared, &own_header, &body).await?,
        _ => None,
    };
    let incoming = Incoming {
        queue_id: queue_id.clone(),
        return_path: Some(tx.from.0.clone()),
        trace: received,
        // The header block is cached beside the blob only when all of it was read.
        header: complete.then_some(own_header),
        local: accounts.iter().map(|a| Local::inbox(a.id)).collect(),
        remote: (!external.is_empty()).then(|| Remote {
            sender: tx.from.0.clone(),
            recipients: external,
            signature,
            auth_user: st.auth.as_ref().map(|a| a.address.clone()),
            client_ip: st.peer.ip().to_canonical().to_string(),
        }),
        sent_by: st.auth.as_ref().map(|a| a.address.clone()),
        // Signed-in users are who they say; mail from outside is checked.
        arrival: st.auth.is_none().then(|| crate::protect::Arrival {
            ip: st.peer.ip().to_canonical(),
            helo: st.helo.clone().unwrap_or_default(),
            mail_from: tx.from.0.clone(),
            recipients: tx.rcpts.iter().map(|r| r.address.clone()).collect(),
            allowed: st.allowed,
        }),
    };
    let delay = match &incoming.arrival {
        Some(a) => super::screen::first_sender_delay(shared, cfg, a, &incoming.local),
        None => None,
    };
    match accept::accept(shared, incoming, Content::Arrived(body)).await {
        Ok(_) => Ok((queue_id, delay)),
        Err(Failure::Refused(reply)) => Err(reply),
        Err(Failure::Deferred(why)) => Err(format!("451 {why}")),
        Err(Failure::Failed(e)) => {
            tracing::error!(error = %e, queue_id, "cannot store message");
            Err("451 4.3.0 Local error in processing, try again later".into())
        }
    }
}

/// The DKIM-Signature for mail a signed-in user sends, for the domain of its From: when that
/// domain has a key. A message that arrived in a file is read into memory for it, within the
/// message memory budget (waiting for room).
async fn sign(shared: &Arc<Shared>, header: &[u8], body: &Body) -> Result<Option<String>, String> {
    let Some(domain) = crate::dkim::from_domain(header) else {
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
    let (store2, signers) = (shared.store.clone(), shared.signers.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_received_headers_only_in_the_header() {
        let m = b"Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: in body\r\n";
        assert_eq!(count_received(m), 2);
        assert_eq!(count_received(b"Subject: none\r\n\r\n"), 0);
    }
}
