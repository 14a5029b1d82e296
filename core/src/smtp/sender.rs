//! Who a signed-in user may send as: the envelope sender (MAIL FROM) and every address of the
//! message's From: must be one of theirs, before anything is stored, queued or DKIM-signed.
//! Otherwise alice@a.example could send `From: ceo@b.example` and have it signed for
//! b.example, passing DMARC.

use super::command::Path;
use crate::config::Config;
use crate::context::{AuthUser, Shared};
use crate::directory::{self, Address};
use crate::rfc5322::{FromProblem, from_mailboxes};

/// An authenticated user may send as their own address (with or without a sub-address), through
/// their domain's aliases, and as any alias or group that delivers to them; never via a catch-all.
pub fn envelope_allowed(
    shared: &Shared,
    cfg: &Config,
    user: &AuthUser,
    path: &Path,
) -> crate::error::Result<bool> {
    if path.is_null() {
        return Ok(false);
    }
    address_allowed(shared, cfg, user, &path.0)
}

fn address_allowed(
    shared: &Shared,
    cfg: &Config,
    user: &AuthUser,
    address: &str,
) -> crate::error::Result<bool> {
    let Ok(addr) = Address::parse(address) else {
        return Ok(false);
    };
    let delimiter = cfg.smtp.recipient_delimiter.clone();
    shared
        .store
        .read(|c| match directory::resolve(c, &addr, &delimiter, false)? {
            Ok(r) => Ok(r.accounts.iter().any(|a| a.id == user.account_id)),
            Err(_) => Ok(false),
        })
}

/// What the From: check found wrong, as an SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Permanent: the message as written may not be sent by this user.
    Forbidden(String),
    /// Temporary: the directory could not be read.
    Unavailable,
}

impl Refusal {
    pub fn reply(&self) -> String {
        match self {
            Refusal::Forbidden(why) => format!("550 5.7.1 {why}"),
            Refusal::Unavailable => "451 4.3.0 Temporary lookup failure, try again later".into(),
        }
    }
}

/// Checks the From: of a message a signed-in user sends. `header` is its header block; a
/// message without From: is let through (it is not signed; receivers judge it).
pub fn header_allowed(
    shared: &Shared,
    cfg: &Config,
    user: &AuthUser,
    header: &[u8],
) -> Result<(), Refusal> {
    let list = match from_mailboxes(header) {
        Ok(l) => l,
        Err(FromProblem::Missing) => return Ok(()),
        Err(FromProblem::Several) => {
            return Err(Refusal::Forbidden(
                "the message has more than one From: header".into(),
            ));
        }
        Err(FromProblem::NoAddress) => {
            return Err(Refusal::Forbidden(
                "the message's From: header holds no address".into(),
            ));
        }
    };
    for m in list {
        let address = m.addr_spec();
        match address_allowed(shared, cfg, user, &address) {
            Ok(true) => {}
            Ok(false) => {
                let shown: String = address
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                return Err(Refusal::Forbidden(format!(
                    "From: <{shown}> is not an address of the logged-in user {}",
                    user.address
                )));
            }
            Err(_) => return Err(Refusal::Unavailable),
        }
    }
    Ok(())
}
