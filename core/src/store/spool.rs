//! A message while it arrives: in memory while it is small and the shared budget has room,
//! else in a temporary file beside the blobs. The file is unlinked as soon as it is made, so
//! nothing of it outlives the process, whatever happens.

use crate::memory::{Held, MessageMemory};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Pieces read back from a spool file.
const FILE_BUFFER: usize = 64 * 1024;

pub struct Spool {
    mem: Vec<u8>,
    held: Held,
    /// Written unbuffered: what arrives comes in network-sized pieces already, and a buffer
    /// per slow sender is memory held for nothing.
    file: Option<File>,
    len: u64,
    keep_in_memory: usize,
    memory: MessageMemory,
    dir: PathBuf,
}

/// The whole message, once it has arrived.
pub enum Body {
    Memory(Vec<u8>, Held),
    File(File, u64),
}

impl Spool {
    pub fn new(dir: &Path, memory: MessageMemory, keep_in_memory: usize) -> Spool {
        Spool {
            mem: Vec::new(),
            held: Held::default(),
            file: None,
            len: 0,
            keep_in_memory,
            memory,
            dir: dir.to_path_buf(),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the message went to a file.
    pub fn on_disk(&self) -> bool {
        self.file.is_some()
    }

    pub fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.len += bytes.len() as u64;
        if let Some(f) = self.file.as_mut() {
            return f.write_all(bytes);
        }
        let want = self.mem.len() + bytes.len();
        if want <= self.keep_in_memory {
            // The buffer grows by doubling, each step held against the budget first, so the
            // budget sees what is really taken.
            if want <= self.mem.capacity() {
                self.mem.extend_from_slice(bytes);
                return Ok(());
            }
            let cap = (self.mem.capacity() * 2)
                .max(want)
                .max(4096)
                .min(self.keep_in_memory);
            let more = (cap as u64).saturating_sub(self.held.bytes());
            if self.memory.try_grow(&mut self.held, more) {
                self.mem.reserve_exact(cap - self.mem.len());
                self.mem.extend_from_slice(bytes);
                return Ok(());
            }
        }
        let mut f = anonymous_file(&self.dir)?;
        f.write_all(&self.mem)?;
        f.write_all(bytes)?;
        self.mem = Vec::new();
        self.held = Held::default();
        self.file = Some(f);
        Ok(())
    }

    pub fn into_body(self) -> io::Result<Body> {
        match self.file {
            Some(file) => Ok(Body::File(file, self.len)),
            None => Ok(Body::Memory(self.mem, self.held)),
        }
    }
}

/// A file in `dir` that has no name: written and read through its handle only.
fn anonymous_file(dir: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!(
        "spool-{}-{:016x}.tmp",
        std::process::id(),
        getrandom::u64().unwrap_or(0)
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Memory(b, _) => b.len() as u64,
            Body::File(_, len) => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `max` bytes (all of a smaller message): where the header block is.
    pub fn head(&self, max: usize) -> io::Result<std::borrow::Cow<'_, [u8]>> {
        match self {
            Body::Memory(b, _) => Ok(std::borrow::Cow::Borrowed(&b[..b.len().min(max)])),
            Body::File(f, len) => {
                let mut buf = vec![0u8; (*len).min(max as u64) as usize];
                f.read_exact_at(&mut buf, 0)?;
                Ok(std::borrow::Cow::Owned(buf))
            }
        }
    }

    /// The whole message in memory (a file-backed one is read; the caller budgets for it).
    pub fn bytes(&self) -> io::Result<std::borrow::Cow<'_, [u8]>> {
        self.head(usize::MAX)
    }

    /// Copies the message into `w` in pieces of bounded size.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        match self {
            Body::Memory(b, _) => w.write_all(b),
            Body::File(f, len) => {
                let mut buf = vec![0u8; FILE_BUFFER];
                let mut at = 0u64;
                while at < *len {
                    let n = ((*len - at) as usize).min(buf.len());
                    f.read_exact_at(&mut buf[..n], at)?;
                    w.write_all(&buf[..n])?;
                    at += n as u64;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_messages_stay_in_memory_large_ones_go_to_a_nameless_file() {
        let dir = std::env::temp_dir().join(format!("roost-spool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let memory = MessageMemory::new(1 << 20);
        let mut s = Spool::new(&dir, memory.clone(), 100);
        s.push(b"Subject: a\r\n\r\n").unwrap();
        assert!(!s.on_disk());
        assert!(memory.in_use() > 0);
        s.push(&[b'x'; 200]).unwrap();
        assert!(s.on_disk());
        assert_eq!(memory.in_use(), 0, "the file holds it now");
        let body = s.into_body().unwrap();
        assert_eq!(body.len(), 214);
        assert_eq!(&body.head(10).unwrap()[..], b"Subject: a");
        let mut out = Vec::new();
        body.write_to(&mut out).unwrap();
        assert_eq!(out.len(), 214);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "nothing named on disk"
        );
        // No room in the budget: to a file from the first byte.
        let tight = MessageMemory::new(1024);
        let _taken = tight.try_hold(1024).unwrap();
        let mut s = Spool::new(&dir, tight, 1 << 20);
        s.push(b"hello").unwrap();
        assert!(s.on_disk());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
