//! The allow and block lists, as the admin sees them: entries for the whole server or one user,
//! typed by people (an address, a network, a sender, an @domain); and what each user's spam
//! classifier has learned.

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

/// What one user's classifier has learned, and whether it counts yet.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClassifierInfo {
    pub user: String,
    pub spam: u64,
    pub ham: u64,
    pub tokens: i64,
    /// Enough of each kind learned (`classifier_min_learned`) for it to decide.
    pub active: bool,
}

pub fn classifier_show(
    s: &Store,
    cfg: &crate::config::Config,
    user: Option<String>,
) -> Result<Response> {
    let account = account(s, &user)?;
    let min = cfg.protection.classifier_min_learned.max(1);
    let rows = s.read(|c| store::bayes::summary(c, account))?;
    Ok(Response::Classifier(
        rows.into_iter()
            .map(|(user, t, tokens)| ClassifierInfo {
                user,
                spam: t.spam,
                ham: t.ham,
                tokens,
                active: cfg.protection.classifier && t.spam >= min && t.ham >= min,
            })
            .collect(),
    ))
}

pub fn classifier_reset(s: &Store, user: String) -> Result<Response> {
    let id = account(s, &Some(user.clone()))?.unwrap_or_default();
    s.write(move |c| store::bayes::reset(c, id))?;
    Ok(Response::Done(format!(
        "the spam classifier of {user} forgot what it learned"
    )))
}
