//! The quarantine as the admin sees it: what is held and why, a message's header, release to
//! its recipients, delete.

use super::{Response, status};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::quarantine::{self as q, Held};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldInfo {
    pub id: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub reason: String,
    pub size: u64,
    pub created: i64,
    pub client: String,
    pub subject: String,
    /// The header block, for `show`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub header: Option<String>,
}

impl From<&Held> for HeldInfo {
    fn from(h: &Held) -> Self {
        HeldInfo {
            id: h.id.clone(),
            sender: h.sender.clone(),
            recipients: h.recipients.clone(),
            reason: h.reason.clone(),
            size: h.size,
            created: h.created,
            client: h.client.clone(),
            subject: h.subject.clone(),
            header: None,
        }
    }
}

pub fn list(s: &Store) -> Result<Response> {
    let held = s.read(q::list)?;
    Ok(Response::Quarantine(
        held.iter().map(HeldInfo::from).collect(),
    ))
}

pub fn show(s: &Store, id: &str) -> Result<Response> {
    let h = held(s, id)?;
    let bytes = s.blobs().read(&h.blob)?;
    let mut info = HeldInfo::from(&h);
    info.header = Some(String::from_utf8_lossy(crate::store::header_of(&bytes)).into_owned());
    Ok(Response::Held(info))
}

pub fn release(s: &Store, data_dir: &std::path::Path, id: &str) -> Result<Response> {
    let h = crate::accept::quarantine::release(s, id)?;
    // Recipients outside wait in the queue: the running server looks at once.
    status::signal_daemon(data_dir, nix::sys::signal::Signal::SIGUSR1);
    Ok(Response::Done(format!(
        "{} released to {}",
        h.id,
        h.recipients.join(", ")
    )))
}

pub fn delete(s: &Store, id: &str) -> Result<Response> {
    let wanted = id.to_string();
    if !s.write(move |tx| q::remove(tx, &wanted))? {
        return Err(not_found(id));
    }
    Ok(Response::Done(format!("{id} deleted from the quarantine")))
}

fn held(s: &Store, id: &str) -> Result<Held> {
    let wanted = id.to_string();
    s.read(|tx| q::get(tx, &wanted))?
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!(
        "no message {id} in the quarantine (roost quarantine list shows what is held)"
    ))
}
