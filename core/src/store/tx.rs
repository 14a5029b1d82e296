//! The handle a caller of `Store::read`, `snapshot` and `write` gets: one transaction, passed on
//! to the store's typed operations. Only code inside `store/` reaches the database through it,
//! so every SQL statement lives here; a second engine (PostgreSQL, for the cluster) puts its
//! own connection behind the same handle.

use rusqlite::{CachedStatement, Connection, Params, Row, Statement};

pub struct Tx<'c> {
    conn: &'c Connection,
}

impl<'c> Tx<'c> {
    pub(in crate::store) fn new(conn: &'c Connection) -> Tx<'c> {
        Tx { conn }
    }

    pub(in crate::store) fn prepare_cached(
        &self,
        sql: &str,
    ) -> rusqlite::Result<CachedStatement<'c>> {
        self.conn.prepare_cached(sql)
    }

    /// A statement whose text is built at run time (not kept in the cache).
    pub(in crate::store) fn prepare(&self, sql: &str) -> rusqlite::Result<Statement<'c>> {
        self.conn.prepare(sql)
    }

    // Statements are kept prepared (the connection's cache): parsing and planning SQL again
    // on every call was a visible share of a screened delivery's CPU.
    pub(in crate::store) fn execute<P: Params>(&self, sql: &str, p: P) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(p)
    }

    pub(in crate::store) fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.execute_batch(sql)
    }

    pub(in crate::store) fn query_row<T, P, F>(&self, sql: &str, p: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.conn.prepare_cached(sql)?.query_row(p, f)
    }

    pub(in crate::store) fn last_insert_rowid(&self) -> i64 {
        self.conn.last_insert_rowid()
    }
}
