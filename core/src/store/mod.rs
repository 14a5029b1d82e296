//! The mail store: metadata in SQLite (WAL), message bodies as immutable blob files.
//!
//! Everything above this module reaches the database through `read` and `write`; a networked
//! engine can later take the place of SQLite behind the same two calls.
//!
//! Writes go through one writer thread that commits whatever has queued up while the previous
//! commit was on its way to disk (group commit): ten concurrent deliveries cost one WAL fsync,
//! not ten. Each job runs inside its own savepoint, so one failing job never undoes another.

pub mod bayes;
mod blob;
pub mod correspondents;
pub mod directory;
pub mod dkim;
pub mod dmarc_report;
mod garbage;
pub mod greylist;
pub mod limits;
mod mail;
pub mod mailboxes;
pub mod messages;
pub mod mta_sts;
pub mod quarantine;
mod queue;
pub mod reputation;
mod schema;
pub mod search;
pub mod spool;
pub mod tls_report;
mod tx;

pub use blob::{BlobId, BlobStore, private_dir, sync_dir};
pub use garbage::collect_garbage;
pub use mail::{
    DEFAULT_MAILBOXES, Delivery, DeliveryTarget, MessageRow, StoredMessage, blob_known, blob_usage,
    cached_header, create_default_mailboxes, create_mailbox, deliver, flags, header_of,
    list_messages, mailbox_id, unreferenced_blobs,
};
pub use queue::{
    Due, Outcome, QueueAction, QueueEntry, QueueFilter, QueueRecipient, QueueState,
    apply as queue_apply, counts as queue_counts, due as queue_due, enqueue, get as queue_get,
    list as queue_list, next_due as queue_next_due, record as queue_record,
    reset_active as queue_reset_active, set_state as queue_set_state,
};
pub use spool::{Body, Spool};
pub use tx::Tx;

use crate::error::{Error, Result};
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

const DB_FILE: &str = "roost.db";
const MAX_BATCH: usize = 512;
const MAX_IDLE_READERS: usize = 16;

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    blobs: BlobStore,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// A unit of work for the writer thread: directories whose entries must be durable before the
/// commit, and the work itself, which hands back what to do once the commit is known.
struct Job {
    sync_dirs: Vec<PathBuf>,
    /// Given no connection when the batch already failed: it then only reports.
    run: JobFn,
}

type JobFn = Box<dyn FnOnce(Option<&Connection>) -> (bool, Completion) + Send>;

type Completion = Box<dyn FnOnce(Option<&Error>) + Send>;

impl Store {
    /// Opens (creating when new) the store in `dir`: folders, database, migrations, writer.
    pub fn open(dir: &Path) -> Result<Store> {
        private_dir(dir).map_err(|e| {
            Error::Storage(format!("cannot create data folder {}: {e}", dir.display()))
        })?;
        let blobs = BlobStore::open(dir)?;
        let db_path = dir.join(DB_FILE);
        let mut conn = open_connection(&db_path)?;
        make_private(dir, &db_path);
        schema::migrate(&mut conn, &db_path)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let writer_blobs = blobs.clone();
        let thread = std::thread::Builder::new()
            .name("roost-store-writer".into())
            .spawn(move || writer_loop(conn, writer_blobs, rx))
            .map_err(|e| Error::Storage(format!("cannot start the store writer: {e}")))?;
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                blobs,
                readers: Mutex::new(Vec::new()),
                writer: Mutex::new(Some(tx)),
                writer_thread: Mutex::new(Some(thread)),
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// Runs `f` on a read connection (a snapshot of committed data).
    pub fn read<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let conn = {
            let mut pool = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => open_connection(&self.inner.dir.join(DB_FILE))?,
        };
        let out = f(&Tx::new(&conn));
        let mut pool = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` on one consistent snapshot (several queries that must agree with each other).
    pub fn snapshot<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        self.read(|c| {
            c.execute_batch("BEGIN DEFERRED")?;
            let out = f(c);
            let _ = c.execute_batch("COMMIT");
            out
        })
    }

    /// As `read`, for async callers: the query runs on the blocking pool, never on the threads
    /// that serve connections.
    pub async fn read_async<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read(f))
            .await
            .map_err(|_| Error::Storage("a store reader stopped".into()))?
    }

    /// As `snapshot`, for async callers (see `read_async`).
    pub async fn snapshot_async<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.snapshot(f))
            .await
            .map_err(|_| Error::Storage("a store reader stopped".into()))?
    }

    /// Runs `f` in a write transaction and waits until it is committed to disk.
    pub fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.write_syncing(Vec::new(), f)
    }

    /// As `write`, with `sync_dirs` fsynced before the commit (blob renames).
    pub fn write_syncing<T: Send + 'static>(
        &self,
        sync_dirs: Vec<PathBuf>,
        f: impl FnOnce(&Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(sync_dirs, f, move |r| {
            let _ = tx.send(r);
        })?;
        rx.recv()
            .map_err(|_| Error::Storage("the store writer stopped".into()))?
    }

    /// As `write`, for async callers; `sync_dirs` are fsynced before the commit (blob renames).
    pub async fn write_async<T: Send + 'static>(
        &self,
        sync_dirs: Vec<PathBuf>,
        f: impl FnOnce(&Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(sync_dirs, f, move |r| {
            let _ = tx.send(r);
        })?;
        rx.await
            .map_err(|_| Error::Storage("the store writer stopped".into()))?
    }

    fn submit<T: Send + 'static>(
        &self,
        sync_dirs: Vec<PathBuf>,
        f: impl FnOnce(&Tx) -> Result<T> + Send + 'static,
        reply: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        let run = Box::new(move |conn: Option<&Connection>| {
            let result = match conn {
                Some(c) => f(&Tx::new(c)),
                None => Err(Error::Storage("not run: the batch failed".into())),
            };
            let ok = result.is_ok();
            let done: Completion = Box::new(move |commit_err: Option<&Error>| match commit_err {
                Some(e) => reply(Err(e.clone())),
                None => reply(result),
            });
            (ok, done)
        });
        let writer = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let sender = writer
            .as_ref()
            .ok_or_else(|| Error::Storage("the store is closed".into()))?;
        sender
            .send(Job { sync_dirs, run })
            .map_err(|_| Error::Storage("the store writer stopped".into()))
    }

    /// Stops the writer after the jobs already queued are committed.
    pub fn close(&self) {
        self.inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(t) = self
            .inner
            .writer_thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = t.join();
        }
    }
}

/// The data folder and the database (password hashes, DKIM keys, everyone's mail) are the
/// server's user's alone, whatever the umask of whoever made them: existing installations are
/// mended at every start. SQLite gives its -wal and -shm files the database's own mode.
fn make_private(dir: &Path, db: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let own = |p: &Path, mode: u32| {
        if let Ok(meta) = std::fs::symlink_metadata(p)
            && !meta.file_type().is_symlink()
            && meta.permissions().mode() & 0o777 != mode
            && let Err(e) = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        {
            tracing::warn!(path = %p.display(), error = %e, "cannot make it private");
        }
    };
    own(dir, 0o700);
    for name in ["blobs", "tmp", "tls", "search"] {
        own(&dir.join(name), 0o700);
    }
    own(db, 0o600);
    for suffix in ["-wal", "-shm"] {
        own(&dir.join(format!("{DB_FILE}{suffix}")), 0o600);
    }
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| Error::Storage(format!("cannot open database {}: {e}", path.display())))?;
    // WAL lets readers (IMAP, the admin CLI) run beside the writer; synchronous=FULL makes each
    // commit durable when it returns, which "nothing accepted is lost" needs.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
    )?;
    // Room for every statement a delivery runs (rusqlite keeps 16 by default: the arrival
    // checks, filing and the classifier together need more, and a miss means parsing again).
    conn.set_prepared_statement_cache_capacity(256);
    // One plan per statement, whatever the values bound: without the query planner stability
    // guarantee SQLite compiled some cached statements again at every new binding (the
    // domain look-up of every RCPT among them).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(conn)
}

fn writer_loop(conn: Connection, blobs: BlobStore, rx: mpsc::Receiver<Job>) {
    empty_trash(&conn, &blobs);
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&conn, batch);
        empty_trash(&conn, &blobs);
    }
}

/// Removes the files of blobs that the last commit left without a row (schema 7's triggers
/// list them), then their trash entries. After the commit, never before: a crash in between
/// leaves a file to remove again, never a row without its file.
fn empty_trash(conn: &Connection, blobs: &BlobStore) {
    let ids: Vec<String> = match conn
        .prepare_cached("SELECT id FROM blob_trash LIMIT 1000")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
    {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the list of message files to remove");
            return;
        }
    };
    if ids.is_empty() {
        return;
    }
    let mut done = Vec::with_capacity(ids.len());
    for id in ids {
        match blobs.remove(&BlobId(id.clone())) {
            Ok(()) => done.push(id),
            Err(e) => tracing::warn!(blob = %id, error = %e, "cannot remove a message file"),
        }
    }
    let result = (|| -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut del = conn.prepare_cached("DELETE FROM blob_trash WHERE id = ?1")?;
        for id in &done {
            del.execute([id])?;
        }
        conn.execute_batch("COMMIT")
    })();
    if let Err(e) = result {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::warn!(error = %e, "cannot clear the list of removed message files");
    }
}

fn run_batch(conn: &Connection, batch: Vec<Job>) {
    let dirs: BTreeSet<PathBuf> = batch
        .iter()
        .flat_map(|j| j.sync_dirs.iter().cloned())
        .collect();
    let mut failure = dirs
        .iter()
        .find_map(|d| blob::sync_dir(d).err().map(Error::from));
    let mut completions = Vec::with_capacity(batch.len());
    if failure.is_none()
        && let Err(e) = conn.execute_batch("BEGIN IMMEDIATE")
    {
        failure = Some(e.into());
    }
    for job in batch {
        if failure.is_some() {
            // Nothing of this batch can commit: run nothing, report the cause to everyone.
            completions.push((job.run)(None).1);
            continue;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            failure = Some(e.into());
            completions.push((job.run)(None).1);
            continue;
        }
        let (ok, done) = (job.run)(Some(conn));
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            failure = Some(e.into());
        }
        completions.push(done);
    }
    if failure.is_none()
        && let Err(e) = conn.execute_batch("COMMIT")
    {
        failure = Some(e.into());
    }
    if failure.is_some() {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::error!(error = %failure.as_ref().map(|e| e.to_string()).unwrap_or_default(), "store commit failed");
    }
    for done in completions {
        done(failure.as_ref());
    }
}

/// Seconds since the epoch, for created/internal dates.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(format!("database: {e}"))
    }
}
