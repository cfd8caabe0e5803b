//! `landfall.feed_stats`: what each load brought, per table x `dt` x the
//! feed's `monitor_by` values, written in the load's transaction right after
//! the ledger rows. The monitor reads it; it is the source of truth for
//! per-partner volume (no CloudWatch metric per partner: cardinality costs).
//!
//! One row per (load, dt, dims). `dims` is one text key of normalised
//! `column=value` pairs in `monitor_by` order, comma-separated, with `%`,
//! `,` and `=` in values percent-encoded and a NULL value written as the
//! bare column name (`partner_id=p7,domain=a.com`, `partner_id`); `''`
//! when the feed has no `monitor_by`. One key column rather than one
//! column per dimension: every feed names different columns, so the stats
//! table needs no DDL per feed; it groups and compares the same way in
//! PostgreSQL and Redshift (Redshift has no jsonb, and SUPER does not group);
//! and it reads as it is in a Slack message.
//!
//! Exactly once: the insert reads the rows the load just staged, and joins
//! them to the ledger rows *this load* wrote (`load_id`), under the table
//! lock. A file the ledger already held is neither staged nor recorded
//! again, so a replay, a duplicate or a racing loader adds nothing.
//!
//! A file's rejected rows (at parse and at load) carry no dimension values:
//! they are counted on the (dt, dims) group holding most of that file's
//! rows, which is exact for the usual one-partner-per-file feed. A file
//! that loaded no rows at all is counted in the ledger only.

use crate::lineage::LEDGER_SCHEMA;
use crate::lineage::{FILE_COLUMN, PARTITION_KEY};
use crate::warehouse::sql::{Dialect, MAX_VARCHAR, SqlType, TableName, quote_ident};

pub(crate) const FEED_STATS_TABLE: &str = "feed_stats";

/// The stats table's columns, in insert order.
pub const FEED_STATS_COLUMNS: &str =
    "table_name, feed, dt, dims, rows_loaded, files, rows_rejected, first_event, last_event, load_id, loaded_at";

impl TableName {
    pub fn feed_stats() -> Self {
        TableName::new(LEDGER_SCHEMA, FEED_STATS_TABLE)
    }
}

/// What a monitored feed's loads record (from the feed's config).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsRules {
    /// `monitor_by` columns (normalised).
    pub dims: Vec<String>,
    /// The feed's partition column: first and last event time come from it
    /// when the table types it as a date or timestamp.
    pub event_column: Option<String>,
}

/// One stats insert: the rows of this load, as staged.
#[derive(Debug, Clone, Copy)]
pub struct StatsInsert<'a> {
    pub target: &'a TableName,
    pub feed: &'a str,
    pub load_id: &'a str,
    /// RFC 3339, the load's `loaded_at`.
    pub loaded_at: &'a str,
    /// The relation holding exactly this load's rows (a staging table).
    pub rows_from: &'a str,
    /// The staged data columns with their types.
    pub columns: &'a [(String, SqlType)],
    pub rules: &'a StatsRules,
}

impl Dialect {
    /// The stats table (PostgreSQL: and the index the monitor reads by).
    pub fn create_feed_stats(self) -> Vec<String> {
        let t = TableName::feed_stats();
        let body = format!(
            "CREATE TABLE IF NOT EXISTS {t} (\n  table_name varchar(512) NOT NULL,\n  feed varchar(256) NOT NULL,\n  \
             dt date NOT NULL,\n  dims varchar({MAX_VARCHAR}) NOT NULL,\n  rows_loaded bigint NOT NULL,\n  \
             files bigint NOT NULL,\n  rows_rejected bigint NOT NULL,\n  first_event timestamptz,\n  \
             last_event timestamptz,\n  load_id varchar(64) NOT NULL,\n  loaded_at timestamptz NOT NULL\n)"
        );
        match self {
            Dialect::Postgres => {
                vec![body, format!("CREATE INDEX IF NOT EXISTS feed_stats_by_feed ON {t} (feed, loaded_at)")]
            }
            Dialect::Redshift => vec![format!("{body}\nCOMPOUND SORTKEY(feed, loaded_at)")],
        }
    }

    /// The text key of the `monitor_by` values of row `s` (see the module docs).
    fn dims_key(self, columns: &[(String, SqlType)], dims: &[String]) -> String {
        if dims.is_empty() {
            return "''".into();
        }
        dims.iter()
            .map(|d| {
                let Some((_, ty)) = columns.iter().find(|(n, _)| n == d) else {
                    // Not in this load's files: every row's value is NULL.
                    return self.literal(d);
                };
                let col = format!("s.{}", quote_ident(d));
                let text = match (self, ty) {
                    (Dialect::Redshift, SqlType::Json) => format!("JSON_SERIALIZE({col})"),
                    _ => format!("CAST({col} AS varchar({MAX_VARCHAR}))"),
                };
                let encoded = format!("REPLACE(REPLACE(REPLACE({text}, '%', '%25'), ',', '%2C'), '=', '%3D')");
                format!("COALESCE({} || {encoded}, {})", self.literal(&format!("{d}=")), self.literal(d))
            })
            .collect::<Vec<_>>()
            .join(" || ',' || ")
    }

    /// Records a load's stats; run after its ledger insert, in its transaction.
    pub fn insert_feed_stats(self, s: StatsInsert<'_>) -> String {
        let table = self.literal(&s.target.plain());
        let load_id = self.literal(s.load_id);
        let event = match &s.rules.event_column {
            Some(c)
                if s.columns
                    .iter()
                    .any(|(n, t)| n == c && matches!(t, SqlType::Date | SqlType::Timestamp | SqlType::TimestampTz)) =>
            {
                format!("CAST(s.{} AS timestamptz)", quote_ident(c))
            }
            _ => "CAST(NULL AS timestamptz)".into(),
        };
        format!(
            "INSERT INTO {stats} ({FEED_STATS_COLUMNS})\n\
             SELECT {table}, {feed}, g.dt, g.dims, SUM(g.n), COUNT(*), \
             SUM(CASE WHEN g.rk = 1 THEN l.rows_rejected ELSE 0 END), MIN(g.first_event), MAX(g.last_event), \
             {load_id}, {at}\n\
             FROM (\n  SELECT k.dt, k.dims, k.url, k.n, k.first_event, k.last_event, \
             ROW_NUMBER() OVER (PARTITION BY k.url ORDER BY k.n DESC, k.dt, k.dims) AS rk\n  \
             FROM (\n    SELECT s.{dt} AS dt, {dims} AS dims, s.{file} AS url, COUNT(*) AS n, \
             MIN({event}) AS first_event, MAX({event}) AS last_event\n    FROM {rows} s\n    GROUP BY 1, 2, 3\n  ) k\n) g\n\
             JOIN {ledger} l ON l.table_name = {table} AND l.load_id = {load_id} AND l.source_url = g.url\n\
             GROUP BY g.dt, g.dims",
            stats = TableName::feed_stats(),
            feed = self.literal(s.feed),
            at = self.timestamptz_literal(s.loaded_at),
            dt = quote_ident(PARTITION_KEY),
            dims = self.dims_key(s.columns, &s.rules.dims),
            file = quote_ident(FILE_COLUMN),
            rows = quote_ident(s.rows_from),
            ledger = TableName::ledger(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(d: Dialect, rules: &StatsRules, columns: &[(String, SqlType)]) -> String {
        d.insert_feed_stats(StatsInsert {
            target: &TableName::new("public", "clicks"),
            feed: "clicks",
            load_id: "L1",
            loaded_at: "2026-12-01T10:00:00Z",
            rows_from: "landfall_staging",
            columns,
            rules,
        })
    }

    #[test]
    fn the_dims_key_names_each_monitor_by_column_and_encodes_its_value() {
        let cols = vec![("partner_id".to_owned(), SqlType::BigInt), ("domain".to_owned(), SqlType::Text)];
        let rules = StatsRules { dims: vec!["partner_id".into(), "domain".into()], event_column: None };
        let sql = insert(Dialect::Postgres, &rules, &cols);
        assert!(sql.contains("COALESCE('partner_id=' || REPLACE(REPLACE(REPLACE(CAST(s.\"partner_id\""), "{sql}");
        assert!(sql.contains(" || ',' || COALESCE('domain=' ||"), "{sql}");
        assert!(sql.contains("'%', '%25'"), "values are percent-encoded: {sql}");
    }

    #[test]
    fn a_monitor_by_column_missing_from_the_load_counts_as_null() {
        let rules = StatsRules { dims: vec!["partner_id".into()], event_column: None };
        let sql = insert(Dialect::Postgres, &rules, &[]);
        assert!(sql.contains("'partner_id' AS dims"), "{sql}");
    }

    #[test]
    fn a_feed_without_monitor_by_has_one_key_for_the_whole_feed() {
        let sql = insert(Dialect::Redshift, &StatsRules::default(), &[]);
        assert!(sql.contains("'' AS dims"), "{sql}");
    }

    #[test]
    fn event_times_come_only_from_a_date_or_timestamp_partition_column() {
        let rules = StatsRules { dims: vec![], event_column: Some("event_time".into()) };
        let typed = insert(Dialect::Postgres, &rules, &[("event_time".into(), SqlType::TimestampTz)]);
        assert!(typed.contains("MIN(CAST(s.\"event_time\" AS timestamptz))"), "{typed}");
        let text = insert(Dialect::Postgres, &rules, &[("event_time".into(), SqlType::Text)]);
        assert!(text.contains("MIN(CAST(NULL AS timestamptz))"), "{text}");
    }

    #[test]
    fn stats_are_joined_to_the_ledger_rows_of_this_load_only() {
        let sql = insert(Dialect::Postgres, &StatsRules::default(), &[]);
        assert!(
            sql.contains("JOIN \"landfall\".\"load_ledger\" l ON l.table_name = 'public.clicks' AND l.load_id = 'L1'"),
            "{sql}"
        );
    }
}
