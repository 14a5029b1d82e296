//! The allow and block lists, as the admin sees them: entries for the whole server or one user,
//! typed by people (an address, a network, a sender, an @domain).

use super::Response;
use crate::directory;
use crate::error::{Error, Result};
use crate::store::reputation::{self, ListKind, NewEntry, Subject};
use crate::store::{self, Store};

fn account(s: &Store, user: &Option<String>) -> Result<Option<i64>> {
    match user {
        Some(u) => {
            let u = u.clone();
            Ok(Some(s.read(move |c| directory::account_id(c, &u))?))
        }
        None => Ok(None),
    }
}

pub fn show(s: &Store, list: Option<ListKind>, user: Option<String>) -> Result<Response> {
    let account = account(s, &user)?;
    let now = store::now();
    s.read(|c| reputation::list(c, list, account, now))
        .map(Response::ListEntries)
}

pub fn add(
    s: &Store,
    list: ListKind,
    entry: &str,
    user: Option<String>,
    for_secs: Option<u64>,
    reason: &str,
) -> Result<Response> {
    let subject = Subject::parse(entry)?;
    let account = account(s, &user)?;
    if let Some(0) = for_secs {
        return Err(Error::Invalid(
            "the duration must be more than 0 seconds".into(),
        ));
    }
    let expires =
        for_secs.map(|secs| store::now().saturating_add(secs.min(i64::MAX as u64 / 2) as i64));
    let text = subject.text();
    let reason = if reason.trim().is_empty() {
        "added by the admin".to_string()
    } else {
        reason
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect()
    };
    s.write(move |c| {
        reputation::add(
            c,
            &NewEntry {
                list,
                subject: &subject,
                account_id: account,
                reason: &reason,
                expires,
                automatic: false,
            },
        )
    })?;
    let whose = user
        .map(|u| format!(" for {u}"))
        .unwrap_or_else(|| " for the whole server".to_string());
    let until = for_secs
        .map(|secs| format!(" for {}", crate::util::duration_words(secs)))
        .unwrap_or_default();
    Ok(Response::Done(match list {
        ListKind::Block => format!("{text} is blocked{whose}{until}"),
        ListKind::Allow => format!("{text} is allowed{whose}{until}"),
    }))
}

pub fn remove(s: &Store, entry: &str, user: Option<String>) -> Result<Response> {
    let subject = Subject::parse(entry)?;
    let account = account(s, &user)?;
    let text = subject.text();
    let removed = s.write(move |c| reputation::remove(c, &subject, account))?;
    if !removed {
        return Err(Error::NotFound(format!(
            "{text} is on neither list{}",
            user.map(|u| format!(" of {u}")).unwrap_or_default()
        )));
    }
    Ok(Response::Done(format!("{text} removed from its list")))
}
