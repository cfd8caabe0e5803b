//! The monitor's one query per feed: every series of the feed with the
//! figures [`evaluate`](super::evaluate) needs, from `landfall.feed_stats`,
//! in SQL both dialects run.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Expectations;
use crate::monitor::evaluate::{BASELINE_DAYS, Series};
use crate::warehouse::sql::{Dialect, TableName};

/// How far back a series' last load is looked for: a series quiet for
/// longer drops out of the query, and its open alert stays open.
pub(crate) const LOOKBACK_DAYS: u64 = 30;
/// The window of a feed that sets only `max_reject_ratio`.
pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_secs(86_400);

/// A result row the monitor cannot read (the query and its parser disagree).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("feed_stats row {row}: column {column}: {message}")]
pub struct BadRow {
    pub row: usize,
    pub column: usize,
    pub message: String,
}

/// The window the expectations count over.
pub fn window(expect: &Expectations) -> Duration {
    expect.every.unwrap_or(DEFAULT_WINDOW)
}

impl Dialect {
    /// Per series of `feed`: dims, last load (epoch seconds), rows and
    /// rejects in the window ending at `now`, then the rows of the same
    /// window 1..=7 days earlier.
    pub fn feed_series_query(self, feed: &str, window: Duration, now: DateTime<Utc>) -> String {
        let now = self.timestamptz_literal(&now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let w = window.as_secs();
        let ago = |seconds: u64| format!("{now} - INTERVAL '{seconds} seconds'");
        let in_window = |from: u64, to: u64| {
            if to == 0 {
                format!("loaded_at > {}", ago(from))
            } else {
                format!("loaded_at > {} AND loaded_at <= {}", ago(from), ago(to))
            }
        };
        let mut columns = vec![
            "dims".to_owned(),
            "EXTRACT(EPOCH FROM MAX(loaded_at))".to_owned(),
            format!("SUM(CASE WHEN {} THEN rows_loaded ELSE 0 END)", in_window(w, 0)),
            format!("SUM(CASE WHEN {} THEN rows_rejected ELSE 0 END)", in_window(w, 0)),
        ];
        for day in 1..=BASELINE_DAYS as u64 {
            let back = day * 86_400;
            columns.push(format!("SUM(CASE WHEN {} THEN rows_loaded ELSE 0 END)", in_window(back + w, back)));
        }
        format!(
            "SELECT {} FROM {} WHERE feed = {} AND loaded_at > {} GROUP BY dims ORDER BY dims",
            columns.join(", "),
            TableName::feed_stats(),
            self.literal(feed),
            ago(LOOKBACK_DAYS * 86_400),
        )
    }
}

/// The query's rows as series.
pub fn parse_series(rows: &[Vec<Option<String>>]) -> Result<Vec<Series>, BadRow> {
    rows.iter()
        .enumerate()
        .map(|(r, row)| {
            let bad = |column: usize, message: String| BadRow { row: r, column, message };
            let text = |c: usize| row.get(c).cloned().flatten().ok_or_else(|| bad(c, "missing or NULL".into()));
            let count = |c: usize| -> Result<u64, BadRow> {
                let t = text(c)?;
                // SUM of bigint is numeric in PostgreSQL: "12" or "12.0".
                let whole = t.split('.').next().unwrap_or(&t);
                whole.parse().map_err(|e| bad(c, format!("{t:?} is not a count: {e}")))
            };
            let epoch = text(1)?;
            let seconds: f64 = epoch.parse().map_err(|e| bad(1, format!("{epoch:?} is not epoch seconds: {e}")))?;
            let last = DateTime::from_timestamp_micros((seconds * 1e6).round() as i64)
                .ok_or_else(|| bad(1, format!("{epoch} is out of range")))?;
            Ok(Series {
                dims: text(0)?,
                last_loaded_at: last,
                rows: count(2)?,
                rejected: count(3)?,
                baseline: (0..BASELINE_DAYS).map(|d| count(4 + d)).collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn one_query_reads_the_window_and_the_seven_baseline_windows_of_one_feed() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let sql = Dialect::Postgres.feed_series_query("clicks", Duration::from_secs(3600), now);
        assert!(sql.contains("WHERE feed = 'clicks'"), "{sql}");
        assert!(sql.contains("loaded_at > CAST('2026-12-01T12:00:00Z' AS timestamptz) - INTERVAL '3600 seconds' THEN"));
        assert!(sql.contains("INTERVAL '90000 seconds' AND loaded_at <= CAST('2026-12-01T12:00:00Z' AS timestamptz) - INTERVAL '86400 seconds'"));
        assert!(sql.contains("INTERVAL '608400 seconds' AND loaded_at <= CAST('2026-12-01T12:00:00Z' AS timestamptz) - INTERVAL '604800 seconds'"));
        assert_eq!(sql.matches("SUM(").count(), 2 + BASELINE_DAYS);
    }

    #[test]
    fn rows_parse_into_series_and_a_bad_value_names_its_column() {
        let mut row: Vec<Option<String>> =
            vec![Some("partner_id=p1".into()), Some("1764590400.000000".into()), Some("90".into()), Some("10".into())];
        row.extend((0..BASELINE_DAYS).map(|_| Some("100".into())));
        let s = parse_series(&[row.clone()]).unwrap();
        assert_eq!(s[0].last_loaded_at, Utc.with_ymd_and_hms(2025, 12, 1, 12, 0, 0).unwrap());
        assert_eq!((s[0].rows, s[0].rejected, s[0].baseline.len()), (90, 10, BASELINE_DAYS));
        row[2] = Some("many".into());
        assert_eq!(parse_series(&[row]).unwrap_err().column, 2);
    }
}
