//! What TLS-RPT (RFC 8460) reports are made of: per day and receiving domain, the TLS
//! sessions that worked and those that failed and why, until the day's report has gone out.

use crate::error::Result;
use crate::store::Tx;
use rusqlite::params;

/// A day of one domain's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayResults {
    pub day: i64,
    pub domain: String,
    /// "sts", "tlsa" or "no-policy-found".
    pub policy_type: String,
    /// The MTA-STS policy file's lines, when there was one.
    pub policy: Vec<String>,
    pub successes: u64,
    /// (result type, receiving MX host, receiving IP, sessions)
    pub failures: Vec<(String, String, String, u64)>,
}

/// Adds one connection's outcome (`failure` None for a working TLS session).
pub fn record(
    conn: &Tx,
    day: i64,
    domain: &str,
    policy_type: &str,
    policy: &[String],
    failure: Option<(&str, &str, &str)>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO tls_results (day, domain, policy_type, policy) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO UPDATE SET policy_type = excluded.policy_type, policy = excluded.policy",
    )?
    .execute(params![day, domain, policy_type, policy.join("\n")])?;
    match failure {
        None => {
            conn.prepare_cached(
                "UPDATE tls_results SET successes = successes + 1 WHERE day = ?1 AND domain = ?2",
            )?
            .execute(params![day, domain])?;
        }
        Some((kind, mx, ip)) => {
            conn.prepare_cached(
                "INSERT INTO tls_failures (day, domain, kind, mx, ip, sessions)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1)
                 ON CONFLICT DO UPDATE SET sessions = sessions + 1",
            )?
            .execute(params![day, domain, kind, mx, ip])?;
        }
    }
    Ok(())
}

/// Days up to `last_day` whose report has not gone out yet.
pub fn pending(conn: &Tx, last_day: i64) -> Result<Vec<DayResults>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, domain, policy_type, policy, successes FROM tls_results
         WHERE day <= ?1 AND sent = 0 ORDER BY day, domain LIMIT 1000",
    )?;
    let rows = stmt.query_map([last_day], |r| {
        Ok(DayResults {
            day: r.get(0)?,
            domain: r.get(1)?,
            policy_type: r.get(2)?,
            policy: r.get::<_, String>(3)?.lines().map(String::from).collect(),
            successes: r.get::<_, i64>(4)?.max(0) as u64,
            failures: Vec::new(),
        })
    })?;
    let mut out: Vec<DayResults> = rows.collect::<std::result::Result<_, _>>()?;
    let mut fails = conn.prepare_cached(
        "SELECT kind, mx, ip, sessions FROM tls_failures WHERE day = ?1 AND domain = ?2
         ORDER BY sessions DESC LIMIT 100",
    )?;
    for d in &mut out {
        let rows = fails.query_map(params![d.day, d.domain], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, i64>(3)?.max(0) as u64,
            ))
        })?;
        d.failures = rows.collect::<std::result::Result<_, _>>()?;
    }
    Ok(out)
}

/// The day's report for the domain is done with (sent, or nobody asked for it); days older
/// than a week go.
pub fn done(conn: &Tx, day: i64, domain: &str) -> Result<()> {
    // Only once: a second sender of the same report (the CLI beside the daemon) finds it
    // done, and its commit, with the report it queued, is undone.
    let marked = conn
        .prepare_cached(
            "UPDATE tls_results SET sent = 1 WHERE day = ?1 AND domain = ?2 AND sent = 0",
        )?
        .execute(params![day, domain])?;
    if marked == 0 {
        return Err(crate::error::Error::Exists(format!(
            "the report of day {day} for {domain} is done already"
        )));
    }
    conn.prepare_cached("DELETE FROM tls_results WHERE day < ?1")?
        .execute([day - 7])?;
    conn.prepare_cached("DELETE FROM tls_failures WHERE day < ?1")?
        .execute([day - 7])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_done_once() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut c, std::path::Path::new("/nonexistent/roost.db"))
            .unwrap();
        let tx = Tx::new(&c);
        record(&tx, 100, "example.test", "sts", &[], None).unwrap();
        assert_eq!(pending(&tx, 100).unwrap().len(), 1);
        done(&tx, 100, "example.test").unwrap();
        assert!(pending(&tx, 100).unwrap().is_empty());
        let again = done(&tx, 100, "example.test").unwrap_err();
        assert!(matches!(again, crate::error::Error::Exists(_)), "{again}");
    }
}
