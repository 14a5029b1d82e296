//! Mailboxes of an account as IMAP sees them: a tree of names separated by "/", INBOX always
//! there, special-use attributes, subscriptions.

use super::mail::{create_mailbox, mailbox_id};
use crate::error::{Error, Result};
use crate::store::Tx;
use rusqlite::params;

pub const DELIMITER: char = '/';

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    pub id: i64,
    pub name: String,
    pub special_use: Option<String>,
    pub subscribed: bool,
}

pub fn list(conn: &Tx, account_id: i64) -> Result<Vec<MailboxInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, special_use, subscribed FROM mailboxes WHERE account_id = ?1
         ORDER BY CASE WHEN name = 'INBOX' THEN 0 ELSE 1 END, name",
    )?;
    let rows = stmt.query_map([account_id], |r| {
        Ok(MailboxInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            special_use: r.get(2)?,
            subscribed: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Checks a mailbox name as the client gave it (already decoded to UTF-8): no empty levels, no
/// control characters, bounded length. Names are only ever looked up in the database, never
/// used as paths, so nothing can reach outside the account.
pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim_end_matches(DELIMITER);
    if name.is_empty() {
        return Err(Error::Invalid("empty mailbox name".into()));
    }
    if name.len() > 512 {
        return Err(Error::Invalid("mailbox name too long".into()));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(Error::Invalid(
            "mailbox name holds a control character".into(),
        ));
    }
    if name.split(DELIMITER).any(|level| level.is_empty()) {
        return Err(Error::Invalid("mailbox name has an empty level".into()));
    }
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    // INBOX/child keeps the canonical spelling of its parent.
    match name.split_once(DELIMITER) {
        Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => {
            Ok(format!("INBOX{DELIMITER}{rest}"))
        }
        _ => Ok(name.to_string()),
    }
}

/// Creates the mailbox and any missing parents (RFC 3501 6.3.3).
pub fn create(conn: &Tx, account_id: i64, name: &str) -> Result<i64> {
    let name = validate_name(name)?;
    if mailbox_id(conn, account_id, &name)?.is_some() {
        return Err(Error::Exists(format!("mailbox {name} exists already")));
    }
    let levels: Vec<&str> = name.split(DELIMITER).collect();
    for i in 1..levels.len() {
        let parent = levels[..i].join(&DELIMITER.to_string());
        if mailbox_id(conn, account_id, &parent)?.is_none() {
            create_mailbox(conn, account_id, &parent, None)?;
        }
    }
    create_mailbox(conn, account_id, &name, None)
}

pub fn delete(conn: &Tx, account_id: i64, name: &str) -> Result<()> {
    let name = validate_name(name)?;
    if name == "INBOX" {
        return Err(Error::Invalid("INBOX cannot be deleted".into()));
    }
    let id = mailbox_id(conn, account_id, &name)?
        .ok_or_else(|| Error::NotFound(format!("mailbox {name} does not exist")))?;
    let (low, high) = children_range(&name);
    let children: i64 = conn.query_row(
        "SELECT COUNT(*) FROM mailboxes WHERE account_id = ?1 AND name >= ?2 AND name < ?3",
        params![account_id, low, high],
        |r| r.get(0),
    )?;
    if children > 0 {
        return Err(Error::Conflict(format!(
            "mailbox {name} has sub-mailboxes; delete them first"
        )));
    }
    let freed: i64 = conn.query_row(
        "SELECT COALESCE(SUM(size), 0) FROM messages WHERE mailbox_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    conn.execute("DELETE FROM mailboxes WHERE id = ?1", [id])?;
    conn.execute(
        "UPDATE accounts SET used = MAX(0, used - ?1) WHERE id = ?2",
        params![freed, account_id],
    )?;
    Ok(())
}

/// Renames a mailbox and its children. Renaming INBOX moves its messages into a new mailbox
/// and leaves INBOX empty (RFC 3501 6.3.5).
pub fn rename(conn: &Tx, account_id: i64, from: &str, to: &str) -> Result<()> {
    let from = validate_name(from)?;
    let to = validate_name(to)?;
    let id = mailbox_id(conn, account_id, &from)?
        .ok_or_else(|| Error::NotFound(format!("mailbox {from} does not exist")))?;
    if mailbox_id(conn, account_id, &to)?.is_some() {
        return Err(Error::Exists(format!("mailbox {to} exists already")));
    }
    if to.starts_with(&format!("{from}{DELIMITER}")) {
        return Err(Error::Invalid(
            "a mailbox cannot be moved inside itself".into(),
        ));
    }
    if from == "INBOX" {
        let new_id = create(conn, account_id, &to)?;
        let uids: Vec<u32> = super::messages::messages(conn, id)?
            .iter()
            .map(|m| m.uid)
            .collect();
        super::messages::copy(conn, id, new_id, &uids)?;
        super::messages::remove_uids(conn, id, &uids)?;
        return Ok(());
    }
    // Parents of the new name must exist.
    if let Some((parent, _)) = to.rsplit_once(DELIMITER)
        && mailbox_id(conn, account_id, parent)?.is_none()
    {
        create(conn, account_id, parent)?;
    }
    let (low, high) = children_range(&from);
    let children: Vec<(i64, String)> = conn
        .prepare(
            "SELECT id, name FROM mailboxes WHERE account_id = ?1 AND name >= ?2 AND name < ?3",
        )?
        .query_map(params![account_id, low, high], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // The messages are the same ones under a new name: UIDs and UIDVALIDITY stay.
    conn.execute(
        "UPDATE mailboxes SET name = ?1 WHERE id = ?2",
        params![to, id],
    )?;
    for (cid, cname) in children {
        let new_name = format!("{to}{}", &cname[from.len()..]);
        conn.execute(
            "UPDATE mailboxes SET name = ?1 WHERE id = ?2",
            params![new_name, cid],
        )?;
    }
    Ok(())
}

/// The names of `name`'s descendants are exactly those from "name/" up to (not including)
/// "name0" in SQLite's byte order ('0' follows '/'): a range the (account_id, name) index
/// answers, right for names in any script. (substr() counts characters, not bytes, so a
/// prefix test by byte length missed the children of non-ASCII names.)
fn children_range(name: &str) -> (String, String) {
    (format!("{name}{DELIMITER}"), format!("{name}0"))
}

pub fn set_subscribed(conn: &Tx, account_id: i64, name: &str, on: bool) -> Result<()> {
    let name = validate_name(name)?;
    let n = conn.execute(
        "UPDATE mailboxes SET subscribed = ?1 WHERE account_id = ?2 AND name = ?3",
        params![on, account_id, name],
    )?;
    if n == 0 {
        return Err(Error::NotFound(format!("mailbox {name} does not exist")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> (rusqlite::Connection, i64) {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut c, std::path::Path::new("/nonexistent/roost.db"))
            .unwrap();
        c.execute_batch(
            "INSERT INTO domains (id, name, created) VALUES (1, 'example.test', 0);
             INSERT INTO accounts (id, domain_id, localpart, password, created)
             VALUES (1, 1, 'alice', 'x', 0);",
        )
        .unwrap();
        (c, 1)
    }

    fn names(c: &Tx, account: i64) -> Vec<String> {
        let mut n: Vec<String> = list(c, account)
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        n.sort();
        n
    }

    #[test]
    fn non_ascii_parents_take_their_children_along() {
        let (conn, a) = account();
        let c = Tx::new(&conn);
        create(&c, a, "Büro/Rechnungen").unwrap();
        create(&c, a, "Büro/Rechnungen/2026").unwrap();
        create(&c, a, "Bürokratie").unwrap();
        create(&c, a, "邮件/工作").unwrap();
        rename(&c, a, "Büro", "Archiv").unwrap();
        assert_eq!(
            names(&c, a),
            [
                "Archiv",
                "Archiv/Rechnungen",
                "Archiv/Rechnungen/2026",
                "Bürokratie",
                "邮件",
                "邮件/工作"
            ]
        );
        assert!(matches!(delete(&c, a, "邮件"), Err(Error::Conflict(_))));
        delete(&c, a, "邮件/工作").unwrap();
        delete(&c, a, "邮件").unwrap();
        assert!(!names(&c, a).iter().any(|n| n.starts_with('邮')));
    }
}
