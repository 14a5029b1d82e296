//! DMARC aggregate reports (RFC 7489 7.2): what arrived from each domain that asks for reports
//! (counted per day, source address, author domain, disposition and results) until the day's
//! report has gone out; and the summaries of the reports other servers send about our domains.

use crate::error::Result;
use crate::store::Tx;
use rusqlite::params;

/// One row of a day's report to one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub source_ip: String,
    pub header_from: String,
    pub disposition: String,
    pub dkim_pass: bool,
    pub spf_pass: bool,
    pub count: u64,
}

/// A day of one policy domain's mail, with where the report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayReport {
    pub day: i64,
    pub domain: String,
    pub policy: String,
    pub rua: Vec<String>,
    pub rows: Vec<Row>,
}

pub fn record(
    conn: &Tx,
    day: i64,
    domain: &str,
    policy: &str,
    rua: &[String],
    row: &Row,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO dmarc_domains (day, domain, policy, rua) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO UPDATE SET policy = excluded.policy, rua = excluded.rua",
    )?
    .execute(params![day, domain, policy, rua.join("\n")])?;
    conn.prepare_cached(
        "INSERT INTO dmarc_rows (day, domain, source_ip, header_from, disposition, dkim, spf, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)
         ON CONFLICT DO UPDATE SET count = count + 1",
    )?
    .execute(params![
        day,
        domain,
        row.source_ip,
        row.header_from,
        row.disposition,
        row.dkim_pass,
        row.spf_pass
    ])?;
    Ok(())
}

/// Days up to `last_day` not reported yet.
pub fn pending(conn: &Tx, last_day: i64) -> Result<Vec<DayReport>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, domain, policy, rua FROM dmarc_domains WHERE day <= ?1 AND sent = 0
         ORDER BY day, domain LIMIT 1000",
    )?;
    let days = stmt.query_map([last_day], |r| {
        Ok(DayReport {
            day: r.get(0)?,
            domain: r.get(1)?,
            policy: r.get(2)?,
            rua: r.get::<_, String>(3)?.lines().map(String::from).collect(),
            rows: Vec::new(),
        })
    })?;
    let mut out: Vec<DayReport> = days.collect::<std::result::Result<_, _>>()?;
    let mut rows = conn.prepare_cached(
        "SELECT source_ip, header_from, disposition, dkim, spf, count FROM dmarc_rows
         WHERE day = ?1 AND domain = ?2 ORDER BY count DESC LIMIT 1000",
    )?;
    for d in &mut out {
        let found = rows.query_map(params![d.day, d.domain], |r| {
            Ok(Row {
                source_ip: r.get(0)?,
                header_from: r.get(1)?,
                disposition: r.get(2)?,
                dkim_pass: r.get(3)?,
                spf_pass: r.get(4)?,
                count: r.get::<_, i64>(5)?.max(0) as u64,
            })
        })?;
        d.rows = found.collect::<std::result::Result<_, _>>()?;
    }
    Ok(out)
}

pub fn done(conn: &Tx, day: i64, domain: &str) -> Result<()> {
    // Only once: a second sender of the same report (the CLI beside the daemon) finds it
    // done, and its commit, with the report it queued, is undone.
    let marked = conn
        .prepare_cached(
            "UPDATE dmarc_domains SET sent = 1 WHERE day = ?1 AND domain = ?2 AND sent = 0",
        )?
        .execute(params![day, domain])?;
    if marked == 0 {
        return Err(crate::error::Error::Exists(format!(
            "the report of day {day} for {domain} is done already"
        )));
    }
    conn.prepare_cached("DELETE FROM dmarc_domains WHERE day < ?1")?
        .execute([day - 7])?;
    conn.prepare_cached("DELETE FROM dmarc_rows WHERE day < ?1")?
        .execute([day - 7])?;
    Ok(())
}

/// A report another server sent about one of our domains, summarised.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Received {
    pub org: String,
    pub report_id: String,
    pub domain: String,
    pub begin: i64,
    pub end: i64,
    pub messages: u64,
    /// Messages that passed DMARC (DKIM or SPF aligned).
    pub passed: u64,
    /// The sources of failing messages, most first: "192.0.2.1 (12)".
    pub failing_sources: Vec<String>,
    pub received: i64,
}

pub fn keep_received(conn: &Tx, r: &Received) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO dmarc_received (org, report_id, domain, begin, end_, messages,
                                                passed, failing, received)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        r.org,
        r.report_id,
        r.domain,
        r.begin,
        r.end,
        r.messages as i64,
        r.passed as i64,
        r.failing_sources.join("\n"),
        r.received
    ])?;
    // A year of reports, 20,000 at most.
    conn.prepare_cached("DELETE FROM dmarc_received WHERE received < ?1")?
        .execute([r.received - 366 * 86_400])?;
    conn.prepare_cached(
        "DELETE FROM dmarc_received WHERE rowid IN (SELECT rowid FROM dmarc_received
         ORDER BY received DESC LIMIT -1 OFFSET 20000)",
    )?
    .execute([])?;
    Ok(())
}

pub fn received(conn: &Tx, domain: Option<&str>) -> Result<Vec<Received>> {
    let mut stmt = conn.prepare_cached(
        "SELECT org, report_id, domain, begin, end_, messages, passed, failing, received
         FROM dmarc_received WHERE ?1 IS NULL OR domain = ?1
         ORDER BY end_ DESC, org LIMIT 1000",
    )?;
    let rows = stmt.query_map([domain], |r| {
        Ok(Received {
            org: r.get(0)?,
            report_id: r.get(1)?,
            domain: r.get(2)?,
            begin: r.get(3)?,
            end: r.get(4)?,
            messages: r.get::<_, i64>(5)?.max(0) as u64,
            passed: r.get::<_, i64>(6)?.max(0) as u64,
            failing_sources: r.get::<_, String>(7)?.lines().map(String::from).collect(),
            received: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}
