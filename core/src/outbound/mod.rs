//! Outbound delivery: the queue runner. It picks the recipients whose time has come, groups
//! them by destination (a domain's MX hosts or a relay host) and by message, and hands each
//! destination to a few workers that share connections; every outcome is committed with the
//! bounce or delay warning it causes, so a crash loses nothing and tells no one twice.

mod attempt;
pub mod client;
pub mod dane;
mod dane_verify;
pub mod dmarc_report;
pub mod dsn;
mod https;
pub mod mta_sts;
mod report_mail;
pub mod route;
pub mod tls_report;

use crate::config::Config;
use crate::context::Shared;
use crate::store::{self, Outcome, QueueEntry};
use attempt::{Job, Session};
use route::Destination;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How often the queue is looked at when nothing wakes the runner (admin commands from another
/// process change it without telling).
const POLL: Duration = Duration::from_secs(2);
/// Recipients picked up per pass.
const BATCH: usize = 5000;

/// The runner's own state: connections in use, workers per destination, recipients in flight.
struct Runner {
    connections: Arc<Semaphore>,
    busy: Mutex<HashMap<Destination, usize>>,
    in_flight: Mutex<HashSet<(String, String)>>,
}

/// Runs until shutdown.
pub async fn run(shared: Arc<Shared>) {
    let ob = Arc::new(Runner {
        connections: Arc::new(Semaphore::new(shared.config().queue.max_connections)),
        busy: Mutex::new(HashMap::new()),
        in_flight: Mutex::new(HashSet::new()),
    });
    match shared
        .store
        .write_async(Vec::new(), store::queue_reset_active)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(recipients = n, "queue: resuming deliveries cut short"),
        Err(e) => tracing::error!(error = %e, "queue: cannot reset active recipients"),
    }
    let mut stop = shared.shutdown_receiver();
    let mut reports_checked = std::time::Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        // Once an hour: lapsed list entries and old quarantine go, and the reports of days
        // that are over leave.
        if reports_checked.elapsed() >= Duration::from_secs(3600) {
            reports_checked = std::time::Instant::now();
            let cfg = shared.config();
            housekeeping(&shared, &cfg).await;
            if cfg.queue.tls_reports {
                match tls_report::send_reports(&shared.store, &shared.dns(), &cfg, false).await {
                    Ok(0) => {}
                    Ok(_) => shared.queue.wake(),
                    Err(e) => tracing::warn!(error = %e, "TLS reports not sent"),
                }
            }
            if cfg.protection.dmarc_reports {
                let dns = shared.dns();
                match dmarc_report::send_reports(&shared.store, &dns, &cfg, false).await {
                    Ok(0) => {}
                    Ok(_) => shared.queue.wake(),
                    Err(e) => tracing::warn!(error = %e, "DMARC reports not sent"),
                }
            }
        }
        let blocked = match dispatch(&shared, &ob).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "queue: cannot read the queue");
                true
            }
        };
        let wait = if blocked {
            POLL
        } else {
            let next = shared
                .store
                .read_async(store::queue_next_due)
                .await
                .ok()
                .flatten();
            next.map(|t| Duration::from_secs((t - store::now()).clamp(0, 2) as u64))
                .unwrap_or(POLL)
                .max(Duration::from_millis(200))
        };
        tokio::select! {
            _ = shared.queue.woken() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Forgets list entries that lapsed and quarantined mail past `quarantine_days`.
async fn housekeeping(shared: &Shared, cfg: &Config) {
    let now = store::now();
    let before = now - (cfg.protection.quarantine_days.min(36_500) as i64) * 86_400;
    let done = shared
        .store
        .write_async(Vec::new(), move |tx| {
            Ok((
                store::reputation::expire(tx, now)?,
                store::quarantine::expire(tx, before)?,
            ))
        })
        .await;
    match done {
        Ok((0, 0)) => {}
        Ok((lapsed, held)) => {
            tracing::info!(
                lapsed,
                quarantine_deleted = held,
                "lists and quarantine tidied"
            )
        }
        Err(e) => tracing::warn!(error = %e, "lists and quarantine not tidied"),
    }
}

/// Starts workers for what is due; true when something due had to wait for a busy destination.
async fn dispatch(shared: &Arc<Shared>, ob: &Arc<Runner>) -> crate::error::Result<bool> {
    let cfg = shared.config();
    let now = store::now();
    let due = shared
        .store
        .read_async(move |c| store::queue_due(c, now, BATCH))
        .await?;
    if due.is_empty() {
        return Ok(false);
    }
    let mut by_entry: HashMap<String, Vec<String>> = HashMap::new();
    {
        let flying = ob.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for d in due {
            if !flying.contains(&(d.queue_id.clone(), d.recipient.clone())) {
                by_entry.entry(d.queue_id).or_default().push(d.recipient);
            }
        }
    }
    let mut by_dest: HashMap<Destination, VecDeque<Job>> = HashMap::new();
    for (id, rcpts) in by_entry {
        let key = id.clone();
        let entry = match shared
            .store
            .read_async(move |c| store::queue_get(c, &key))
            .await
        {
            Ok(e) => Arc::new(e),
            Err(_) => continue, // deleted meanwhile
        };
        let mut groups: HashMap<Destination, Vec<String>> = HashMap::new();
        for r in rcpts {
            groups
                .entry(Destination::for_recipient(&cfg, &entry.sender, &r))
                .or_default()
                .push(r);
        }
        for (dest, rcpts) in groups {
            by_dest.entry(dest).or_default().push_back(Job {
                entry: entry.clone(),
                rcpts,
            });
        }
    }
    let mut blocked = false;
    for (dest, jobs) in by_dest {
        let running = ob
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&dest)
            .copied()
            .unwrap_or(0);
        let free = cfg
            .queue
            .max_connections_per_destination
            .saturating_sub(running);
        if free == 0 {
            blocked = true;
            continue;
        }
        // One connection per ten messages, so that small batches share one.
        let workers = free.min(jobs.len().div_ceil(10)).max(1);
        let mut marked = Vec::new();
        for j in &jobs {
            for r in &j.rcpts {
                marked.push((j.entry.id.clone(), r.clone()));
            }
        }
        let to_mark = marked.clone();
        shared
            .store
            .write_async(Vec::new(), move |c| {
                let mut by_id: HashMap<&str, Vec<String>> = HashMap::new();
                for (id, r) in &to_mark {
                    by_id.entry(id.as_str()).or_default().push(r.clone());
                }
                for (id, rcpts) in by_id {
                    store::queue_set_state(c, id, &rcpts, store::QueueState::Active)?;
                }
                Ok(())
            })
            .await?;
        ob.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(marked);
        *ob.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(dest.clone())
            .or_insert(0) += workers;
        let queue = Arc::new(Mutex::new(jobs));
        for _ in 0..workers {
            shared.queue.started();
            tokio::spawn(worker(
                shared.clone(),
                ob.clone(),
                dest.clone(),
                queue.clone(),
            ));
        }
    }
    Ok(blocked)
}

async fn worker(
    shared: Arc<Shared>,
    ob: Arc<Runner>,
    dest: Destination,
    queue: Arc<Mutex<VecDeque<Job>>>,
) {
    let permit = ob.connections.clone().acquire_owned().await;
    let cfg = shared.config();
    let dns = shared.dns();
    let next = |q: &Mutex<VecDeque<Job>>| q.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
    let local = match &dest {
        Destination::Mx(d) => {
            let d = d.clone();
            shared
                .store
                .read_async(move |c| crate::directory::local_domain(c, &d))
                .await
                .ok()
                .flatten()
                .is_some()
        }
        Destination::Relay(_) => false,
    };
    if local {
        // The domain became one of ours after the mail was queued: it never leaves.
        while let Some(job) = next(&queue) {
            deliver_locally(&shared, &ob, &cfg, job).await;
        }
        return worker_done(&shared, &ob, &dest, permit);
    }
    let sts = match &dest {
        Destination::Mx(domain) => mta_sts::policy(&shared.store, &dns, &cfg, domain).await,
        Destination::Relay(_) => None,
    };
    match Session::open(&dns, &cfg, &dest, sts.as_ref()).await {
        Ok(mut session) => {
            while let Some(job) = next(&queue) {
                let results = match read_message(&shared, &job.entry).await {
                    Ok((message, _held)) => {
                        let r = session.deliver(&job, &message).await;
                        finish(&shared, &ob, &cfg, &job, r, Some(&message), Vec::new()).await;
                        continue;
                    }
                    Err(e) => unreadable(&job, &e),
                };
                finish(&shared, &ob, &cfg, &job, results, None, Vec::new()).await;
            }
            session.close().await;
            if let Destination::Mx(domain) = &dest {
                let outcomes = std::mem::take(&mut session.tls_outcomes);
                let policy = match session.dane.take() {
                    Some(records) => tls_report::Applied::Dane(records),
                    None => tls_report::Applied::Sts(sts.as_ref()),
                };
                tls_report::record(&shared.store, domain, policy, outcomes).await;
            }
        }
        Err(no_route) => {
            while let Some(job) = next(&queue) {
                let result = match &no_route {
                    route::NoRoute::Permanent { status, text } => attempt::Result::Failed {
                        status: status.to_string(),
                        diagnostic: text.clone(),
                        host: None,
                    },
                    route::NoRoute::Temporary(text) => attempt::Result::Deferred {
                        diagnostic: text.clone(),
                        host: None,
                    },
                };
                let results = job
                    .rcpts
                    .iter()
                    .map(|r| (r.clone(), result.clone()))
                    .collect();
                finish(&shared, &ob, &cfg, &job, results, None, Vec::new()).await;
            }
        }
    }
    worker_done(&shared, &ob, &dest, permit);
}

fn worker_done(
    shared: &Arc<Shared>,
    ob: &Runner,
    dest: &Destination,
    permit: Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError>,
) {
    drop(permit);
    if let Some(n) = ob
        .busy
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_mut(dest)
    {
        *n = n.saturating_sub(1);
    }
    shared.queue.finished();
    shared.queue.wake();
}

/// Each recipient into its mailbox through the directory, as if it had arrived by SMTP.
async fn deliver_locally(shared: &Arc<Shared>, ob: &Runner, cfg: &Arc<Config>, job: Job) {
    let (message, _held) = match read_message(shared, &job.entry).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(queue_id = %job.entry.id, error = %e, "cannot read a queued message");
            let results = unreadable(&job, &e);
            return finish(shared, ob, cfg, &job, results, None, Vec::new()).await;
        }
    };
    let (store2, cfg2, sender, rcpts, msg) = (
        shared.store.clone(),
        cfg.clone(),
        job.entry.sender.clone(),
        job.rcpts.clone(),
        message.clone(),
    );
    let prepared = tokio::task::spawn_blocking(move || {
        rcpts
            .into_iter()
            .map(|r| {
                let p = crate::accept::prepare_notification(&store2, &cfg2, &sender, &r, &msg);
                (r, p)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut results = Vec::new();
    let mut injections = Vec::new();
    for (rcpt, p) in prepared {
        let result = match p {
            Ok(Some(i)) => {
                injections.push(i);
                attempt::Result::Delivered {
                    host: "local".into(),
                    reply: "delivered to a local mailbox".into(),
                }
            }
            Ok(None) => attempt::Result::Failed {
                status: "5.1.1".into(),
                diagnostic: format!("<{rcpt}>: no such user here"),
                host: None,
            },
            Err(e) => attempt::Result::Deferred {
                diagnostic: format!("local delivery failed: {e}"),
                host: None,
            },
        };
        results.push((rcpt, result));
    }
    finish(shared, ob, cfg, &job, results, Some(&message), injections).await;
}

/// Every recipient of a job whose message could not be read (or not now): tried again later.
fn unreadable(job: &Job, e: &crate::error::Error) -> Vec<(String, attempt::Result)> {
    job.rcpts
        .iter()
        .map(|r| {
            let result = attempt::Result::Deferred {
                diagnostic: format!("cannot read the queued message: {e}"),
                host: None,
            };
            (r.clone(), result)
        })
        .collect()
}

/// A queued message, read within the message memory budget (twice its size: sending makes
/// a dot-stuffed copy); the budget is held until the returned guard goes.
async fn read_message(
    shared: &Arc<Shared>,
    entry: &QueueEntry,
) -> crate::error::Result<(Vec<u8>, crate::memory::Held)> {
    let blob = entry
        .blob
        .clone()
        .ok_or_else(|| crate::error::Error::NotFound("queue entry without message".into()))?;
    let held = shared
        .memory
        .hold_a_while(entry.size.saturating_mul(2))
        .await
        .ok_or_else(|| {
            crate::error::Error::Storage("the server is short of memory for messages".into())
        })?;
    let blobs = shared.store.blobs().clone();
    let message = tokio::task::spawn_blocking(move || blobs.read(&blob))
        .await
        .map_err(|e| crate::error::Error::Storage(e.to_string()))??;
    Ok((message, held))
}

/// The wait before attempt number `attempts + 1`: retry_min doubling up to retry_max.
pub fn backoff(cfg: &Config, attempts: u32) -> i64 {
    let min = cfg.queue.retry_min_secs;
    let delay = min.saturating_mul(1u64 << attempts.min(30));
    delay.min(cfg.queue.retry_max_secs) as i64
}

/// Logs each recipient's outcome, builds bounces and delay warnings, and commits it all at once.
async fn finish(
    shared: &Arc<Shared>,
    ob: &Runner,
    cfg: &Config,
    job: &Job,
    results: Vec<(String, attempt::Result)>,
    // The queued message when the caller has read it; read here only if a report needs it.
    message: Option<&[u8]>,
    mut injections: Vec<crate::accept::Prepared>,
) {
    let now = store::now();
    let entry = &job.entry;
    let age = now - entry.created;
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    let mut delayed = Vec::new();
    for (rcpt, result) in results {
        let info = entry.recipients.iter().find(|r| r.address == rcpt);
        let attempts = info.map(|r| r.attempts).unwrap_or(0);
        match result {
            attempt::Result::Delivered { host, reply } => {
                tracing::info!(queue_id = %entry.id, from = %entry.sender, to = %rcpt, relay = %host,
                    delay = age, status = "sent", reply = %reply, "delivered");
                outcomes.push((rcpt, Outcome::Done));
            }
            attempt::Result::Failed {
                status,
                diagnostic,
                host,
            } => {
                tracing::info!(queue_id = %entry.id, from = %entry.sender, to = %rcpt,
                    relay = host.as_deref().unwrap_or("none"), delay = age, status = "bounced",
                    reason = %diagnostic, "not delivered");
                failed.push(dsn::RecipientStatus {
                    recipient: rcpt.clone(),
                    status,
                    diagnostic,
                    remote_mta: host.map(|h| h.split('[').next().unwrap_or("").to_string()),
                });
                outcomes.push((rcpt, Outcome::Done));
            }
            attempt::Result::Deferred { diagnostic, host } => {
                let remote_mta = host.map(|h| h.split('[').next().unwrap_or("").to_string());
                if age >= cfg.queue.lifetime_secs as i64 {
                    tracing::info!(queue_id = %entry.id, from = %entry.sender, to = %rcpt,
                        delay = age, status = "expired", reason = %diagnostic, "giving up");
                    failed.push(dsn::RecipientStatus {
                        recipient: rcpt.clone(),
                        status: "5.4.7".into(),
                        diagnostic: format!(
                            "delivery time expired after {} days; the last attempt said: {diagnostic}",
                            age / 86_400
                        ),
                        remote_mta,
                    });
                    outcomes.push((rcpt, Outcome::Done));
                    continue;
                }
                let next = now + backoff(cfg, attempts);
                tracing::info!(queue_id = %entry.id, from = %entry.sender, to = %rcpt,
                    delay = age, status = "deferred", next_in = next - now, reason = %diagnostic,
                    "delivery deferred");
                let warn = cfg.queue.delay_warning_secs > 0
                    && age >= cfg.queue.delay_warning_secs as i64
                    && !info.is_some_and(|r| r.warned);
                if warn {
                    delayed.push(dsn::RecipientStatus {
                        recipient: rcpt.clone(),
                        status: "4.4.7".into(),
                        diagnostic: diagnostic.clone(),
                        remote_mta,
                    });
                }
                outcomes.push((
                    rcpt,
                    Outcome::Deferred {
                        next,
                        error: diagnostic,
                    },
                ));
            }
        }
    }
    let warned: Vec<String> = delayed.iter().map(|d| d.recipient.clone()).collect();
    // Never to the null sender: a bounce of a bounce would loop (RFC 5321 6.1).
    let mut notes = Vec::new();
    let reporting = !entry.sender.is_empty() && (!failed.is_empty() || !delayed.is_empty());
    let read;
    let original: &[u8] = match message {
        Some(m) => m,
        None if reporting => {
            read = read_message(shared, entry)
                .await
                .map(|(m, _)| m)
                .unwrap_or_default();
            &read
        }
        None => b"",
    };
    if reporting {
        for (kind, list) in [(dsn::Kind::Failed, &failed), (dsn::Kind::Delayed, &delayed)] {
            if list.is_empty() {
                continue;
            }
            let report = dsn::build(&dsn::Report {
                kind,
                hostname: &cfg.hostname,
                queue_id: &entry.id,
                sender: &entry.sender,
                arrival: entry.created,
                now,
                retry_until: Some(entry.created + cfg.queue.lifetime_secs as i64),
                recipients: list,
                original,
            });
            notes.push(report);
        }
    }
    let store2 = shared.store.clone();
    let cfg2 = Arc::new(cfg.clone());
    let sender = entry.sender.clone();
    let mut prepared = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for note in notes {
            match crate::accept::prepare_notification(&store2, &cfg2, "", &sender, &note) {
                Ok(Some(i)) => out.push(i),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot write a delivery notification"),
            }
        }
        out
    })
    .await
    .unwrap_or_default();
    prepared.append(&mut injections);
    let queued_more = !prepared.is_empty();
    let dirs: Vec<_> = prepared
        .iter()
        .flat_map(|p| p.sync_dirs().to_vec())
        .collect();
    let prepared = Arc::new(prepared);
    let to_apply = prepared.clone();
    let id = entry.id.clone();
    let done: Vec<String> = outcomes.iter().map(|(r, _)| r.clone()).collect();
    let committed = shared
        .store
        .write_async(dirs, move |c| {
            for p in to_apply.iter() {
                p.apply(c)?;
            }
            store::queue_record(c, &id, &outcomes, &warned)
        })
        .await;
    {
        let mut flying = ob.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for r in done {
            flying.remove(&(entry.id.clone(), r));
        }
    }
    match committed {
        Ok(()) => {
            for p in prepared.iter() {
                p.announce(shared);
            }
            if queued_more {
                shared.queue.wake();
            }
        }
        Err(e) => {
            tracing::error!(queue_id = %entry.id, error = %e, "cannot record delivery results")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_limit() {
        let cfg = Config::default();
        assert_eq!(backoff(&cfg, 0), 300);
        assert_eq!(backoff(&cfg, 1), 600);
        assert_eq!(backoff(&cfg, 3), 2400);
        assert_eq!(backoff(&cfg, 10), 4 * 3600);
        assert_eq!(backoff(&cfg, 200), 4 * 3600);
    }
}
