//! The bytes of an arriving message, wherever they are.

use crate::error::{Error, Result};
use crate::store::{BlobId, BlobStore, Body};
use std::borrow::Cow;
use std::path::PathBuf;

pub enum Content<'a> {
    /// As SMTP received it: in memory or in a nameless spool file.
    Arrived(Body),
    /// Already in memory (APPEND literals, notifications, queued mail delivered locally).
    Bytes(Cow<'a, [u8]>),
}

impl Content<'_> {
    pub fn len(&self) -> u64 {
        match self {
            Content::Arrived(b) => b.len(),
            Content::Bytes(b) => b.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// At most the first `max` bytes.
    pub fn head(&self, max: usize) -> Result<Cow<'_, [u8]>> {
        match self {
            Content::Arrived(b) => b
                .head(max)
                .map_err(|e| Error::Storage(format!("cannot read the message back: {e}"))),
            Content::Bytes(b) => Ok(Cow::Borrowed(&b[..b.len().min(max)])),
        }
    }

    /// Writes `prefix` and the message as one blob (synced; its folder still needs a sync).
    pub(super) fn write_blob(
        &self,
        blobs: &BlobStore,
        prefix: &[&[u8]],
    ) -> Result<(BlobId, u64, PathBuf)> {
        match self {
            Content::Arrived(body) => blobs.write_body(prefix, body),
            Content::Bytes(bytes) => {
                let mut parts: Vec<&[u8]> = prefix.to_vec();
                parts.push(bytes);
                blobs.write(&parts)
            }
        }
    }
}
