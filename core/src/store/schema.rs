//! Versioned schema migrations. The version lives in SQLite's `user_version`; before an existing
//! database is migrated it is copied (VACUUM INTO) beside itself, so an upgrade that goes wrong
//! can be undone by hand.

use crate::error::{Error, Result};
use rusqlite::Connection;
use std::path::Path;

/// Each entry takes the schema from version i to i + 1. Append only; never edit a shipped one.
const MIGRATIONS: &[&str] = &[
    // 1: directory, mailboxes, messages, blobs, outbound queue.
    r#"
    CREATE TABLE domains (
        id        INTEGER PRIMARY KEY,
        name      TEXT NOT NULL UNIQUE COLLATE NOCASE,
        catchall  TEXT,
        created   INTEGER NOT NULL
    );
    CREATE TABLE domain_aliases (
        name      TEXT PRIMARY KEY COLLATE NOCASE,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        created   INTEGER NOT NULL
    );
    CREATE TABLE accounts (
        id        INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id),
        localpart TEXT NOT NULL COLLATE NOCASE,
        password  TEXT NOT NULL,
        name      TEXT NOT NULL DEFAULT '',
        quota     INTEGER NOT NULL DEFAULT 0,
        used      INTEGER NOT NULL DEFAULT 0,
        disabled  INTEGER NOT NULL DEFAULT 0,
        admin     INTEGER NOT NULL DEFAULT 0,
        created   INTEGER NOT NULL,
        UNIQUE (domain_id, localpart)
    );
    CREATE TABLE aliases (
        id        INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        localpart TEXT NOT NULL COLLATE NOCASE,
        created   INTEGER NOT NULL,
        UNIQUE (domain_id, localpart)
    );
    CREATE TABLE alias_targets (
        alias_id  INTEGER NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
        target    TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (alias_id, target)
    );
    CREATE TABLE groups (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        domain_id   INTEGER REFERENCES domains(id) ON DELETE CASCADE,
        localpart   TEXT COLLATE NOCASE,
        description TEXT NOT NULL DEFAULT '',
        created     INTEGER NOT NULL,
        UNIQUE (domain_id, localpart)
    );
    CREATE TABLE group_members (
        group_id   INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        PRIMARY KEY (group_id, account_id)
    );
    CREATE TABLE mailboxes (
        id            INTEGER PRIMARY KEY,
        account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        special_use   TEXT,
        uidvalidity   INTEGER NOT NULL,
        uidnext       INTEGER NOT NULL DEFAULT 1,
        highestmodseq INTEGER NOT NULL DEFAULT 1,
        subscribed    INTEGER NOT NULL DEFAULT 1,
        UNIQUE (account_id, name)
    );
    CREATE TABLE blobs (
        id      TEXT PRIMARY KEY,
        size    INTEGER NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE TABLE messages (
        id            INTEGER PRIMARY KEY,
        mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid           INTEGER NOT NULL,
        modseq        INTEGER NOT NULL,
        blob_id       TEXT NOT NULL REFERENCES blobs(id),
        size          INTEGER NOT NULL,
        internal_date INTEGER NOT NULL,
        flags         INTEGER NOT NULL DEFAULT 0,
        keywords      TEXT NOT NULL DEFAULT '',
        UNIQUE (mailbox_id, uid)
    );
    CREATE INDEX messages_blob ON messages(blob_id);
    CREATE TABLE queue (
        id        TEXT PRIMARY KEY,
        blob_id   TEXT NOT NULL REFERENCES blobs(id),
        sender    TEXT NOT NULL,
        auth_user TEXT,
        client_ip TEXT NOT NULL DEFAULT '',
        size      INTEGER NOT NULL,
        created   INTEGER NOT NULL,
        held      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX queue_blob ON queue(blob_id);
    CREATE TABLE queue_recipients (
        queue_id     TEXT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        recipient    TEXT NOT NULL,
        state        TEXT NOT NULL DEFAULT 'queued',
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error   TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (queue_id, recipient)
    );
    "#,
    // 2: what IMAP and POP3 need to tell sessions about changes: expunged UIDs with the
    // modification sequence of their removal (QRESYNC's VANISHED), and changes by modseq.
    r#"
    CREATE TABLE expunged (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid        INTEGER NOT NULL,
        modseq     INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
    );
    CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
    CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
    "#,
    // 3: the header block of each message beside its blob, so that ENVELOPE, header fetches,
    // header searches, SORT and THREAD never open the message file.
    r#"
    ALTER TABLE blobs ADD COLUMN header BLOB;
    "#,
    // 4: outbound delivery: which recipients were warned of a delay, the runner's index of due
    // recipients, DKIM keys per domain, and each user's sent messages per day.
    r#"
    ALTER TABLE queue_recipients ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX queue_due ON queue_recipients(state, next_attempt);
    CREATE TABLE dkim_keys (
        domain      TEXT PRIMARY KEY COLLATE NOCASE,
        selector    TEXT NOT NULL,
        algorithm   TEXT NOT NULL,
        private_key BLOB NOT NULL,
        public_key  TEXT NOT NULL,
        created     INTEGER NOT NULL
    );
    CREATE TABLE send_counts (
        address  TEXT NOT NULL COLLATE NOCASE,
        day      INTEGER NOT NULL,
        messages INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (address, day)
    );
    "#,
    // 5: full-text search: which messages the index holds, where the indexer is in the
    // expunge log, and the accounts and groups that get CJK indexing.
    r#"
    ALTER TABLE messages ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_unindexed ON messages(id) WHERE indexed = 0;
    CREATE TABLE search_state (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    CREATE TABLE search_cjk (
        account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
        group_id   INTEGER REFERENCES groups(id) ON DELETE CASCADE,
        UNIQUE (account_id, group_id)
    );
    "#,
    // 6: SEARCH reads the messages the index does not (fully) hold without a mailbox scan.
    r#"
    CREATE INDEX messages_not_indexed ON messages(mailbox_id, uid) WHERE indexed != 1;
    "#,
    // 7: a message file goes as soon as no row names it: when its last message (EXPUNGE,
    // DELE, a deleted mailbox or account) or queue entry is deleted, its blob row goes and
    // its id waits in blob_trash until the store's writer has removed the file after the
    // commit. Mail already expunged by older versions is collected at the next start.
    r#"
    CREATE TABLE blob_trash (id TEXT PRIMARY KEY);
    CREATE TRIGGER messages_release_blob AFTER DELETE ON messages
    WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = OLD.blob_id)
     AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = OLD.blob_id)
    BEGIN
        DELETE FROM blobs WHERE id = OLD.blob_id;
        INSERT OR IGNORE INTO blob_trash (id) VALUES (OLD.blob_id);
    END;
    CREATE TRIGGER queue_release_blob AFTER DELETE ON queue
    WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = OLD.blob_id)
     AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = OLD.blob_id)
    BEGIN
        DELETE FROM blobs WHERE id = OLD.blob_id;
        INSERT OR IGNORE INTO blob_trash (id) VALUES (OLD.blob_id);
    END;
    "#,
    // 8: the allow and block lists (store::reputation): account_id NULL is the whole server;
    // lo/hi are the first and last address of an ip entry as 16 big-endian bytes.
    r#"
    CREATE TABLE reputation (
        id         INTEGER PRIMARY KEY,
        account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
        list       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        value      TEXT NOT NULL,
        lo         BLOB,
        hi         BLOB,
        network    INTEGER NOT NULL DEFAULT 0,
        reason     TEXT NOT NULL DEFAULT '',
        created    INTEGER NOT NULL,
        expires    INTEGER,
        automatic  INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX reputation_subject ON reputation(ifnull(account_id, 0), kind, value);
    CREATE INDEX reputation_address ON reputation(kind, ifnull(account_id, 0), lo);
    CREATE INDEX reputation_networks ON reputation(kind, ifnull(account_id, 0), lo, hi)
        WHERE network = 1;
    CREATE INDEX reputation_expires ON reputation(expires) WHERE expires IS NOT NULL;
    CREATE TABLE greylist (
        key    TEXT PRIMARY KEY,
        first  INTEGER NOT NULL,
        passed INTEGER NOT NULL DEFAULT 0,
        last   INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE bayes_tokens (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        token      INTEGER NOT NULL,
        spam       INTEGER NOT NULL DEFAULT 0,
        ham        INTEGER NOT NULL DEFAULT 0,
        seen       INTEGER NOT NULL,
        PRIMARY KEY (account_id, token)
    ) WITHOUT ROWID;
    CREATE TABLE bayes_totals (
        account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        spam       INTEGER NOT NULL DEFAULT 0,
        ham        INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE bayes_learned (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        blob_id    TEXT NOT NULL,
        spam       INTEGER NOT NULL,
        at         INTEGER NOT NULL,
        PRIMARY KEY (account_id, blob_id)
    ) WITHOUT ROWID;
    CREATE TABLE correspondents (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        address    TEXT NOT NULL,
        day        INTEGER NOT NULL,
        PRIMARY KEY (account_id, address)
    ) WITHOUT ROWID;
    CREATE INDEX correspondents_day ON correspondents(day);
    CREATE TABLE mta_sts (
        domain  TEXT PRIMARY KEY,
        id      TEXT NOT NULL,
        policy  TEXT NOT NULL,
        fetched INTEGER NOT NULL,
        expires INTEGER NOT NULL
    );
    CREATE TABLE quarantine (
        id         TEXT PRIMARY KEY,
        blob_id    TEXT NOT NULL,
        sender     TEXT NOT NULL,
        accounts   TEXT NOT NULL,
        remote     TEXT NOT NULL,
        recipients TEXT NOT NULL,
        reason     TEXT NOT NULL,
        size       INTEGER NOT NULL,
        created    INTEGER NOT NULL,
        client     TEXT NOT NULL,
        subject    TEXT NOT NULL
    );
    CREATE INDEX quarantine_blob ON quarantine(blob_id);
    CREATE TABLE tls_results (
        day         INTEGER NOT NULL,
        domain      TEXT NOT NULL,
        policy_type TEXT NOT NULL,
        policy      TEXT NOT NULL,
        successes   INTEGER NOT NULL DEFAULT 0,
        sent        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, domain)
    );
    CREATE TABLE dmarc_domains (
        day    INTEGER NOT NULL,
        domain TEXT NOT NULL,
        policy TEXT NOT NULL,
        rua    TEXT NOT NULL,
        sent   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, domain)
    );
    CREATE TABLE dmarc_rows (
        day         INTEGER NOT NULL,
        domain      TEXT NOT NULL,
        source_ip   TEXT NOT NULL,
        header_from TEXT NOT NULL,
        disposition TEXT NOT NULL,
        dkim        INTEGER NOT NULL,
        spf         INTEGER NOT NULL,
        count       INTEGER NOT NULL,
        PRIMARY KEY (day, domain, source_ip, header_from, disposition, dkim, spf)
    );
    CREATE TABLE dmarc_received (
        org       TEXT NOT NULL,
        report_id TEXT NOT NULL,
        domain    TEXT NOT NULL,
        begin     INTEGER NOT NULL,
        end_      INTEGER NOT NULL,
        messages  INTEGER NOT NULL,
        passed    INTEGER NOT NULL,
        failing   TEXT NOT NULL,
        received  INTEGER NOT NULL,
        PRIMARY KEY (org, report_id)
    );
    CREATE TABLE tls_failures (
        day      INTEGER NOT NULL,
        domain   TEXT NOT NULL,
        kind     TEXT NOT NULL,
        mx       TEXT NOT NULL,
        ip       TEXT NOT NULL,
        sessions INTEGER NOT NULL,
        PRIMARY KEY (day, domain, kind, mx, ip)
    );
    DROP TRIGGER messages_release_blob;
    DROP TRIGGER queue_release_blob;
    CREATE TRIGGER messages_release_blob AFTER DELETE ON messages
    WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = OLD.blob_id)
     AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = OLD.blob_id)
     AND NOT EXISTS (SELECT 1 FROM quarantine WHERE blob_id = OLD.blob_id)
    BEGIN
        DELETE FROM blobs WHERE id = OLD.blob_id;
        INSERT OR IGNORE INTO blob_trash (id) VALUES (OLD.blob_id);
    END;
    CREATE TRIGGER queue_release_blob AFTER DELETE ON queue
    WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = OLD.blob_id)
     AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = OLD.blob_id)
     AND NOT EXISTS (SELECT 1 FROM quarantine WHERE blob_id = OLD.blob_id)
    BEGIN
        DELETE FROM blobs WHERE id = OLD.blob_id;
        INSERT OR IGNORE INTO blob_trash (id) VALUES (OLD.blob_id);
    END;
    CREATE TRIGGER quarantine_release_blob AFTER DELETE ON quarantine
    WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = OLD.blob_id)
     AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = OLD.blob_id)
     AND NOT EXISTS (SELECT 1 FROM quarantine WHERE blob_id = OLD.blob_id)
    BEGIN
        DELETE FROM blobs WHERE id = OLD.blob_id;
        INSERT OR IGNORE INTO blob_trash (id) VALUES (OLD.blob_id);
    END;
    "#,
];

pub fn migrate(conn: &mut Connection, db_path: &Path) -> Result<()> {
    migrate_with(conn, db_path, MIGRATIONS)
}

fn migrate_with(conn: &mut Connection, db_path: &Path, migrations: &[&str]) -> Result<()> {
    let version: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if version > migrations.len() {
        return Err(Error::Storage(format!(
            "the database {} is at schema version {version}, newer than this roost knows ({}); \
             run the newer roost, or restore a backup",
            db_path.display(),
            migrations.len()
        )));
    }
    if version == migrations.len() {
        return Ok(());
    }
    if version > 0 {
        let backup = db_path.with_file_name(format!(
            "roost.db.before-v{}-{}",
            migrations.len(),
            super::now()
        ));
        conn.execute("VACUUM INTO ?1", [backup.to_string_lossy()])
            .map_err(|e| {
                Error::Storage(format!("cannot back up the database before migrating: {e}"))
            })?;
        tracing::info!(backup = %backup.display(), "database backed up before migration");
    }
    for (i, sql) in migrations.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|e| Error::Storage(format!("schema migration {} failed: {e}", i + 1)))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
pub fn latest() -> usize {
    MIGRATIONS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_new_database_to_the_latest_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, Path::new("/nonexistent/roost.db")).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, latest());
        // Running again is a no-op.
        migrate(&mut conn, Path::new("/nonexistent/roost.db")).unwrap();
    }

    #[test]
    fn backs_up_an_existing_database_before_migrating() {
        let dir = std::env::temp_dir().join(format!("roost-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("roost.db");
        let mut conn = Connection::open(&db).unwrap();
        let v1 = ["CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42);"];
        migrate_with(&mut conn, &db, &v1).unwrap();
        let backups = |d: &Path| {
            std::fs::read_dir(d)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with("roost.db.before-")
                })
                .count()
        };
        assert_eq!(backups(&dir), 0, "a new database needs no backup");
        let v2 = [v1[0], "ALTER TABLE t ADD COLUMN y TEXT;"];
        migrate_with(&mut conn, &db, &v2).unwrap();
        assert_eq!(backups(&dir), 1);
        let backup = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains("before-v2"))
            .unwrap();
        let old = Connection::open(&backup).unwrap();
        let v: i64 = old
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1, "the backup is the database as it was");
        let x: i64 = old.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 42);
        // A failing migration leaves the database at its last good version.
        let bad = [v1[0], v2[1], "THIS IS NOT SQL;"];
        assert!(migrate_with(&mut conn, &db, &bad).is_err());
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_a_newer_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        let e = migrate(&mut conn, Path::new("roost.db")).unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");
    }
}
