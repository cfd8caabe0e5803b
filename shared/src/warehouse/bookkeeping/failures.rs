//! `landfall.failures`: the last error of each (table, file) whose load
//! failed, with how many times it failed. load-warehouse writes it in a
//! transaction of its own after the load's transaction rolled back, so the
//! error survives the rollback and the message's trip to the dead-letter
//! queue; `landfall file`/`files` show it and `landfall status` counts the
//! files still stuck per feed (failed, and not loaded since).

use crate::lineage::LEDGER_SCHEMA;
use crate::warehouse::sql::{Dialect, TableName};

/// The longest error kept: a server's message with its statement is
/// rarely longer, and a row must stay well inside Redshift's limits.
pub const ERROR_MAX_BYTES: usize = 8 * 1024;

impl TableName {
    pub fn failures() -> Self {
        TableName::new(LEDGER_SCHEMA, "failures")
    }
}

/// One failed attempt at loading one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<'a> {
    pub table: &'a str,
    pub file_id: &'a str,
    pub feed: &'a str,
    pub source_url: &'a str,
    /// `retry` or `dead_letter`: what happens to the message next.
    pub disposition: &'a str,
    pub error: &'a str,
}

impl Dialect {
    pub fn create_failures(self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n  table_name varchar(512) NOT NULL,\n  file_id varchar(64) NOT NULL,\n  \
             feed varchar(256) NOT NULL,\n  source_url varchar(2048) NOT NULL,\n  disposition varchar(32) NOT NULL,\n  \
             error varchar({ERROR_MAX_BYTES}) NOT NULL,\n  attempts bigint NOT NULL,\n  failed_at timestamptz NOT NULL\n)",
            TableName::failures()
        )
    }

    /// The table and its schema, under the DDL lock: sent only when a
    /// recording found the table missing (the first failure a warehouse
    /// sees), so a failing load does not also take catalog locks.
    pub fn create_failures_tables(self) -> Vec<String> {
        let mut out: Vec<String> = self.ddl_lock().into_iter().collect();
        out.push(self.create_schema(LEDGER_SCHEMA));
        out.push(self.create_failures());
        out
    }

    /// Records one failed attempt per file: the new row counts the attempts
    /// before it, and replaces them (plain statements both dialects run in
    /// one transaction: Redshift has no upsert).
    pub fn record_failures(self, failures: &[Failure<'_>], failed_at_rfc3339: &str) -> Vec<String> {
        let t = TableName::failures();
        let mut out = Vec::with_capacity(failures.len() * 2);
        let at = self.timestamptz_literal(failed_at_rfc3339);
        for f in failures {
            let key = format!("table_name = {} AND file_id = {}", self.literal(f.table), self.literal(f.file_id));
            out.push(format!(
                "INSERT INTO {t} (table_name, file_id, feed, source_url, disposition, error, attempts, failed_at) \
                 SELECT {}, {}, {}, {}, {}, {}, COALESCE((SELECT MAX(attempts) FROM {t} WHERE {key}), 0) + 1, {at}",
                self.literal(f.table),
                self.literal(f.file_id),
                self.literal(f.feed),
                self.literal(f.source_url),
                self.literal(f.disposition),
                self.literal(crate::record::truncate(f.error, ERROR_MAX_BYTES)),
            ));
            out.push(format!("DELETE FROM {t} WHERE {key} AND attempts < (SELECT MAX(attempts) FROM {t} WHERE {key})"));
        }
        out
    }
}

pub mod reads {
    use super::*;

    /// The columns [`files`] selects, in order.
    pub const FILE_COLUMNS: &str = "table_name, file_id, disposition, error, attempts, failed_at";

    /// The failures of these files (at most a few hundred ids per statement).
    pub fn files(d: Dialect, file_ids: &[&str]) -> String {
        let ids = file_ids.iter().map(|v| d.literal(v)).collect::<Vec<_>>().join(", ");
        format!("SELECT {FILE_COLUMNS} FROM {} WHERE file_id IN ({ids})", TableName::failures())
    }

    /// Per feed: files whose last failure no later load settled (no ledger
    /// row for the file and table written at or after the failure).
    pub fn stuck_per_feed() -> String {
        format!(
            "SELECT f.feed, COUNT(*) FROM {} f WHERE NOT EXISTS (SELECT 1 FROM {} l \
             WHERE l.table_name = f.table_name AND l.file_id = f.file_id AND l.loaded_at >= f.failed_at) GROUP BY f.feed",
            TableName::failures(),
            TableName::ledger()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure<'a>(error: &'a str) -> Failure<'a> {
        Failure {
            table: "public.t",
            file_id: "f1",
            feed: "f",
            source_url: "s3://l/k.csv",
            disposition: "dead_letter",
            error,
        }
    }

    #[test]
    fn a_failure_counts_the_attempts_before_it_and_replaces_them() {
        let sql = Dialect::Postgres.record_failures(&[failure("boom")], "2026-12-07T18:00:00Z");
        let insert = sql.iter().find(|s| s.starts_with("INSERT")).unwrap();
        assert!(insert.contains("COALESCE((SELECT MAX(attempts)") && insert.contains("'boom'"), "{insert}");
        assert!(sql.last().unwrap().starts_with("DELETE FROM \"landfall\".\"failures\""));
    }

    #[test]
    fn recording_failures_sends_no_ddl_and_the_table_is_created_under_the_ddl_lock() {
        let sql = Dialect::Postgres.record_failures(&[failure("a"), failure("b")], "2026-12-07T18:00:00Z");
        assert_eq!(sql.len(), 4, "an INSERT and a DELETE per file: {sql:?}");
        assert!(!sql.iter().any(|s| s.contains("CREATE") || s.contains("pg_advisory")), "{sql:?}");
        let ddl = Dialect::Postgres.create_failures_tables();
        assert!(
            ddl[0].contains("pg_advisory_xact_lock") && ddl[2].starts_with("CREATE TABLE IF NOT EXISTS"),
            "{ddl:?}"
        );
    }

    #[test]
    fn an_error_is_kept_to_its_limit_and_quoted() {
        let long = format!("it's {}", "x".repeat(20_000));
        let sql = Dialect::Redshift.record_failures(&[failure(&long)], "2026-12-07T18:00:00Z");
        let insert = sql.iter().find(|s| s.starts_with("INSERT")).unwrap();
        assert!(insert.contains("'it''s ") && insert.len() < ERROR_MAX_BYTES + 1024, "{}", insert.len());
    }
}
