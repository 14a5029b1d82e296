//! Whether the daemon runs, as the control panel asks: the daemon leaves a small status file in
//! its data folder while it runs (pid, listeners, version); a file whose process is gone means
//! it stopped without cleaning up.

use crate::error::{Error, Result};
use crate::store::{self, QueueState, Store};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const FILE: &str = "roost.status.json";

/// What the daemon writes when it is ready.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub pid: u32,
    pub version: String,
    pub started: i64,
    /// "service address" pairs, e.g. ["smtp 0.0.0.0:10025", …].
    pub listeners: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub running: bool,
    /// The daemon's process id when running (or the stale one when it died).
    pub pid: Option<u32>,
    /// The daemon's version when running; else this library's.
    pub version: String,
    pub started: Option<i64>,
    pub listeners: Vec<String>,
    pub queue: QueueCounts,
    pub mail: MailUsage,
    /// Whether the standard mail ports reach Roost.
    pub firewall: crate::firewall::Check,
    /// The protection checks and engines, and whether the optional engines answer.
    #[serde(default)]
    pub protection: Vec<crate::protect::probe::Engine>,
}

/// The message files of the store: freed space shows here as soon as mail is expunged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MailUsage {
    pub files: u64,
    pub bytes: u64,
    /// Files whose last message went, about to be removed.
    pub removing: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueCounts {
    pub queued: u64,
    pub active: u64,
    pub deferred: u64,
    pub held: u64,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Written by the daemon once its listeners are up.
pub fn write(data_dir: &Path, info: &RunInfo) -> Result<()> {
    let text = serde_json::to_string(info).map_err(|e| Error::Storage(e.to_string()))?;
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path(data_dir))?;
    Ok(())
}

pub fn remove(data_dir: &Path) {
    let _ = std::fs::remove_file(path(data_dir));
}

/// What the daemon wrote, if its status file is there and readable.
fn run_info(data_dir: &Path) -> Option<RunInfo> {
    std::fs::read_to_string(path(data_dir))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

pub fn read(cfg: &crate::config::Config, store: &Store) -> Result<Status> {
    let data_dir = cfg.data_dir.as_path();
    let info = run_info(data_dir);
    let running = info.as_ref().is_some_and(|i| alive(i.pid));
    let mut queue = QueueCounts::default();
    for (state, n) in store.read(store::queue_counts)? {
        match state {
            QueueState::Queued => queue.queued = n,
            QueueState::Active => queue.active = n,
            QueueState::Deferred => queue.deferred = n,
            QueueState::Held => queue.held = n,
        }
    }
    let (files, bytes, removing) = store.read(store::blob_usage)?;
    Ok(Status {
        protection: crate::protect::probe::engines(&cfg.protection),
        firewall: crate::firewall::check(cfg, running),
        mail: MailUsage {
            files,
            bytes,
            removing,
        },
        running,
        pid: info.as_ref().map(|i| i.pid),
        version: match (&info, running) {
            (Some(i), true) => i.version.clone(),
            _ => env!("CARGO_PKG_VERSION").to_string(),
        },
        started: info.as_ref().filter(|_| running).map(|i| i.started),
        listeners: info
            .filter(|_| running)
            .map(|i| i.listeners)
            .unwrap_or_default(),
        queue,
    })
}

/// Whether the daemon of this data folder runs.
pub fn running(data_dir: &Path) -> bool {
    run_info(data_dir).is_some_and(|i| alive(i.pid))
}

/// Whether a process with this id exists (EPERM: it does, as another user).
pub fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    let exists = match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    };
    // A zombie (killed, not yet reaped) is not running.
    exists
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
            .unwrap_or(false)
}

/// Sends `signal` to the running daemon of this data folder; false when none runs.
pub fn signal_daemon(data_dir: &Path, signal: nix::sys::signal::Signal) -> bool {
    let Some(pid) = run_info(data_dir).and_then(|i| i32::try_from(i.pid).ok()) else {
        return false;
    };
    alive(pid as u32) && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).is_ok()
}
