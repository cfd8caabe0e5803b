//! The job ledger, `landfall.job_runs`: one row per run, written when the
//! run starts (`running`, with an archive's range) and settled by the run's
//! own transaction (`succeeded`, with its rows and watermark) or afterwards
//! (`failed`, with the error). Skipped runs are recorded too.

use crate::lineage::LEDGER_SCHEMA;
use crate::warehouse::sql::{Dialect, TableName};

/// The ledger's qualified name (normalised identifiers: no quoting needed).
pub(crate) const RUNS: &str = "landfall.job_runs";

impl TableName {
    pub fn job_runs() -> Self {
        TableName::new(LEDGER_SCHEMA, "job_runs")
    }
}

/// Every column, in the order [`RunRow`] reads them.
pub(crate) const COLUMNS: &str = "job, kind, run_id, CAST(started AS varchar(64)), CAST(finished AS varchar(64)), status, \
                           rows_written, bytes_written, error, watermark, range_from, range_to, after_mark, detail";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Skipped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "skipped" => RunStatus::Skipped,
            _ => return None,
        })
    }
}

pub fn create(d: Dialect) -> String {
    let key = if d == Dialect::Postgres { ",\n  PRIMARY KEY (run_id)" } else { "" };
    format!(
        "CREATE TABLE IF NOT EXISTS {RUNS} (\n  job varchar(256) NOT NULL,\n  kind varchar(16) NOT NULL,\n  \
         run_id varchar(64) NOT NULL,\n  started timestamptz NOT NULL,\n  finished timestamptz,\n  \
         status varchar(16) NOT NULL,\n  rows_written bigint,\n  bytes_written bigint,\n  error varchar(4096),\n  \
         watermark varchar(256),\n  range_from varchar(256),\n  range_to varchar(4096),\n  after_mark varchar(64),\n  \
         detail varchar(4096){key}\n)"
    )
}

/// A run as the ledger holds it (values as text).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RunRow {
    pub job: String,
    pub kind: String,
    pub run_id: String,
    pub started: String,
    pub finished: Option<String>,
    pub status: String,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub error: Option<String>,
    pub watermark: Option<String>,
    pub range_from: Option<String>,
    pub range_to: Option<String>,
    pub after_mark: Option<String>,
    pub detail: Option<String>,
}

impl RunRow {
    /// From a row of `SELECT {COLUMNS}`.
    pub fn from_text(row: &[Option<String>]) -> Option<RunRow> {
        let at = |i: usize| row.get(i).cloned().flatten();
        let num = |i: usize| at(i).and_then(|v| v.parse().ok());
        Some(RunRow {
            job: at(0)?,
            kind: at(1)?,
            run_id: at(2)?,
            started: at(3)?,
            finished: at(4),
            status: at(5)?,
            rows: num(6),
            bytes: num(7),
            error: at(8),
            watermark: at(9),
            range_from: at(10),
            range_to: at(11),
            after_mark: at(12),
            detail: at(13),
        })
    }

    pub fn status(&self) -> Option<RunStatus> {
        RunStatus::parse(&self.status)
    }
}

/// What a run records when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start<'a> {
    pub job: &'a str,
    pub kind: &'a str,
    pub run_id: &'a str,
    pub started: &'a str,
    pub status: RunStatus,
    pub range_from: Option<&'a str>,
    pub range_to: Option<&'a str>,
    pub detail: Option<&'a str>,
}

pub fn insert(d: Dialect, s: &Start<'_>) -> String {
    let opt = |v: Option<&str>| v.map_or_else(|| "NULL".to_owned(), |v| d.literal(v));
    let finished = if s.status == RunStatus::Running { "NULL".to_owned() } else { d.timestamptz_literal(s.started) };
    format!(
        "INSERT INTO {RUNS} (job, kind, run_id, started, finished, status, range_from, range_to, detail) \
         VALUES ({}, {}, {}, {}, {finished}, {}, {}, {}, {})",
        d.literal(s.job),
        d.literal(s.kind),
        d.literal(s.run_id),
        d.timestamptz_literal(s.started),
        d.literal(s.status.as_str()),
        opt(s.range_from),
        opt(s.range_to),
        opt(s.detail)
    )
}

/// Settles a run that failed outside its transaction.
pub fn fail(d: Dialect, run_id: &str, finished: &str, error: &str) -> String {
    let error: String = error.chars().take(4000).collect();
    format!(
        "UPDATE {RUNS} SET status = 'failed', finished = {}, error = {} WHERE run_id = {} AND status = 'running'",
        d.timestamptz_literal(finished),
        d.literal(&error),
        d.literal(run_id)
    )
}

/// Records bytes and a detail (an export's keys and link) after the run's transaction.
pub fn annotate(d: Dialect, run_id: &str, rows: Option<u64>, bytes: u64, detail: &str) -> String {
    let rows = rows.map_or_else(|| "rows_written".to_owned(), |r| r.to_string());
    format!(
        "UPDATE {RUNS} SET rows_written = {rows}, bytes_written = {bytes}, detail = {} WHERE run_id = {}",
        d.literal(detail),
        d.literal(run_id)
    )
}

/// Marks an unfinished run running again, its last error cleared: the run that finishes it.
pub fn resume(d: Dialect, run_id: &str) -> String {
    format!("UPDATE {RUNS} SET status = 'running', error = NULL WHERE run_id = {}", d.literal(run_id))
}

/// One run's row.
pub fn by_run_id(d: Dialect, run_id: &str) -> String {
    format!("SELECT {COLUMNS} FROM {RUNS} WHERE run_id = {}", d.literal(run_id))
}

/// The job's runs, newest first.
pub fn recent(d: Dialect, job: &str, limit: u32) -> String {
    format!(
        "SELECT {COLUMNS} FROM {RUNS} WHERE job = {} ORDER BY started DESC, run_id DESC LIMIT {limit}",
        d.literal(job)
    )
}

/// The job's last successful run.
pub fn last_success(d: Dialect, job: &str) -> String {
    format!(
        "SELECT {COLUMNS} FROM {RUNS} WHERE job = {} AND status = 'succeeded' ORDER BY started DESC, run_id DESC LIMIT 1",
        d.literal(job)
    )
}

/// An archive run that recorded its range and never finished (crashed or failed): the next run finishes it.
pub fn unfinished_archive(d: Dialect, job: &str) -> String {
    format!(
        "SELECT {COLUMNS} FROM {RUNS} WHERE job = {} AND kind = 'archive' AND status IN ('running', 'failed') \
         AND NOT EXISTS (SELECT 1 FROM {RUNS} s WHERE s.job = {0} AND s.status = 'succeeded' AND s.started > {RUNS}.started) \
         ORDER BY started ASC LIMIT 1",
        d.literal(job)
    )
}

/// The newest load of any of `tables` (qualified plain names) the load ledger holds.
pub fn newest_load(d: Dialect, tables: &[String]) -> String {
    let names: Vec<String> = tables.iter().map(|t| d.literal(t)).collect();
    format!(
        "SELECT CAST(max(loaded_at) AS varchar(64)) FROM landfall.load_ledger WHERE table_name IN ({}) \
         AND status IN ('loaded', 'partial')",
        names.join(", ")
    )
}

/// The latest run of every job, for `landfall jobs`.
pub fn latest_per_job() -> String {
    format!(
        "SELECT {COLUMNS} FROM {RUNS} r WHERE NOT EXISTS (SELECT 1 FROM {RUNS} n WHERE n.job = r.job \
         AND (n.started > r.started OR (n.started = r.started AND n.run_id > r.run_id))) ORDER BY job"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_back_from_text() {
        let text: Vec<Option<String>> = [
            Some("j"),
            Some("transform"),
            Some("r1"),
            Some("2026-12-01 00:00:00+00"),
            None,
            Some("running"),
            Some("12"),
            None,
            None,
            Some("2026-11-30"),
            None,
            None,
            None,
            None,
        ]
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect();
        let row = RunRow::from_text(&text).unwrap();
        assert_eq!(
            (row.rows, row.status(), row.watermark.as_deref()),
            (Some(12), Some(RunStatus::Running), Some("2026-11-30"))
        );
        assert!(RunRow::from_text(&text[..3]).is_none());
    }

    #[test]
    fn the_ledger_is_created_in_both_dialects() {
        assert!(create(Dialect::Postgres).contains("PRIMARY KEY (run_id)"));
        assert!(!create(Dialect::Redshift).contains("PRIMARY KEY"));
    }
}
