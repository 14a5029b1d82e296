//! Message bodies as immutable files: written under a temporary name, fsynced, renamed into
//! place. The directory holding the new name is fsynced by the store's writer before the rows
//! that point at the blob commit, once per batch rather than once per message.
//!
//! Ids start with the time in microseconds, so the blobs written in the same hour share one
//! folder (`blobs/<first 5 hex digits>/`) and a batch of deliveries syncs one directory.

use super::spool::{Body, Spool};
use crate::error::{Error, Result};
use crate::memory::MessageMemory;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobId(pub String);

#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl BlobId {
    fn new() -> BlobId {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let r = getrandom::u32().unwrap_or(n.wrapping_mul(2_654_435_761));
        BlobId(format!(
            "{micros:013x}{:04x}{:06x}",
            n & 0xffff,
            r & 0xff_ffff
        ))
    }

    /// Ids are made here and read back from our own database; anything else is refused so a
    /// damaged row can never name a path outside the blob folder.
    fn is_valid(&self) -> bool {
        self.0.len() == 23 && self.0.bytes().all(|b| b.is_ascii_hexdigit())
    }

    fn shard(&self) -> &str {
        &self.0[..5]
    }
}

impl BlobStore {
    pub fn open(data_dir: &Path) -> Result<BlobStore> {
        let root = data_dir.join("blobs");
        let tmp = data_dir.join("tmp");
        for d in [&root, &tmp] {
            private_dir(d)
                .map_err(|e| Error::Storage(format!("cannot create {}: {e}", d.display())))?;
        }
        Ok(BlobStore { root, tmp })
    }

    pub fn path(&self, id: &BlobId) -> Result<PathBuf> {
        if !id.is_valid() {
            return Err(Error::Storage(format!("invalid blob id {:?}", id.0)));
        }
        Ok(self.root.join(id.shard()).join(&id.0))
    }

    /// Writes the concatenation of `parts` durably and returns its id, its size and the folder
    /// whose entry must be synced before the blob is referenced.
    pub fn write(&self, parts: &[&[u8]]) -> Result<(BlobId, u64, PathBuf)> {
        self.write_with(|f| {
            for p in parts {
                f.write_all(p)?;
            }
            Ok(())
        })
    }

    /// As `write`, for `prefix` (trace headers) followed by a message that arrived in a spool.
    pub fn write_body(&self, prefix: &[&[u8]], body: &Body) -> Result<(BlobId, u64, PathBuf)> {
        self.write_with(|f| {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, f);
            for p in prefix {
                out.write_all(p)?;
            }
            body.write_to(&mut out)?;
            out.flush()
        })
    }

    /// A spool for a message about to arrive, in this store's temporary folder.
    pub fn spool(&self, memory: MessageMemory, keep_in_memory: usize) -> Spool {
        Spool::new(&self.tmp, memory, keep_in_memory)
    }

    fn write_with(
        &self,
        fill: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> Result<(BlobId, u64, PathBuf)> {
        let id = BlobId::new();
        let tmp_path = self.tmp.join(format!("{}.tmp", id.0));
        let result = (|| -> std::io::Result<(u64, PathBuf)> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp_path)?;
            fill(&mut f)?;
            let size = f.metadata()?.len();
            f.sync_data()?;
            drop(f);
            let dir = self.root.join(id.shard());
            if !dir.exists() {
                private_dir(&dir)?;
                // The new folder's own entry must survive a crash too.
                sync_dir(&self.root)?;
            }
            std::fs::rename(&tmp_path, dir.join(&id.0))?;
            Ok((size, dir))
        })();
        match result {
            Ok((size, dir)) => Ok((id, size, dir)),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp_path);
                Err(Error::Storage(format!("cannot write message file: {e}")))
            }
        }
    }

    pub fn read(&self, id: &BlobId) -> Result<Vec<u8>> {
        let path = self.path(id)?;
        std::fs::read(&path).map_err(|e| {
            Error::Storage(format!("cannot read message file {}: {e}", path.display()))
        })
    }

    pub fn remove(&self, id: &BlobId) -> Result<()> {
        match std::fs::remove_file(self.path(id)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Temporary files left by a crash mid-write; removed at start.
    pub fn clear_tmp(&self) -> Result<usize> {
        let mut n = 0;
        for entry in std::fs::read_dir(&self.tmp)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                std::fs::remove_file(entry.path())?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Every blob file on disk, for the collector that removes files no row names.
    pub fn list(&self) -> Result<Vec<(BlobId, std::time::SystemTime)>> {
        let mut out = Vec::new();
        for shard in std::fs::read_dir(&self.root)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(shard.path())? {
                let entry = entry?;
                let id = BlobId(entry.file_name().to_string_lossy().into_owned());
                if id.is_valid() {
                    let modified = entry.metadata()?.modified()?;
                    out.push((id, modified));
                }
            }
        }
        Ok(out)
    }
}

/// A folder only the server's user may enter (and its missing parents, likewise).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_and_refuses_foreign_ids() {
        let dir = std::env::temp_dir().join(format!("roost-blob-test-{}", std::process::id()));
        let store = BlobStore::open(&dir).unwrap();
        let (id, size, shard_dir) = store.write(&[b"Subject: hi\r\n", b"\r\nbody\r\n"]).unwrap();
        assert_eq!(size, 21);
        assert!(shard_dir.starts_with(dir.join("blobs")));
        assert_eq!(store.read(&id).unwrap(), b"Subject: hi\r\n\r\nbody\r\n");
        assert!(store.path(&BlobId("../../etc/passwd".into())).is_err());
        assert_eq!(store.list().unwrap().len(), 1);
        store.remove(&id).unwrap();
        assert!(store.read(&id).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ids_are_unique_and_ordered_by_time() {
        let a = BlobId::new();
        let b = BlobId::new();
        assert_ne!(a, b);
        assert!(a.is_valid() && b.is_valid());
        assert!(a.0[..13] <= b.0[..13]);
    }
}
