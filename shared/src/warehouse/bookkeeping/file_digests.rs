//! The digest of refused and failed files: the ledger rows parse-file and
//! load-warehouse recorded as `refused` or `failed` that no digest has told
//! yet. A run marks them in `landfall.file_digests` (one statement, in
//! SQL, however many there are), reads back counts per feed and the first
//! few files of each, and sends one message; a message no channel took is
//! unmarked so the next run tells it again. 1,000 bad files make one
//! message, not 1,000.

use chrono::{DateTime, Utc};

use super::load_ledger::LedgerStatus;
use crate::lineage::LEDGER_SCHEMA;
use crate::warehouse::sql::{Dialect, TableName};

pub(crate) const FILE_DIGESTS_TABLE: &str = "file_digests";
/// How far back the ledger is read: a monitor first deployed, or down for
/// a while, digests at most this much history.
pub(crate) const DIGEST_LOOKBACK_DAYS: u64 = 7;
/// Files named one by one per feed (the rest are counted).
pub(crate) const DIGEST_SAMPLES: usize = 5;

impl TableName {
    pub fn file_digests() -> Self {
        TableName::new(LEDGER_SCHEMA, FILE_DIGESTS_TABLE)
    }
}

fn at(d: Dialect, t: DateTime<Utc>) -> String {
    d.timestamptz_literal(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

impl Dialect {
    /// Which ledger rows (table, file, the load's time) a digest has told, and in which run.
    pub(crate) fn create_file_digests(self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n  table_name varchar(512) NOT NULL,\n  file_id varchar(64) NOT NULL,\n  \
             loaded_at timestamptz NOT NULL,\n  feed varchar(256) NOT NULL,\n  run_id varchar(64) NOT NULL,\n  \
             digested_at timestamptz NOT NULL\n)",
            TableName::file_digests()
        )
    }

    /// Marks, for run `run_id`, every refused or failed ledger row of the
    /// lookback that no run has marked. A file refused again after a replay
    /// is a new ledger row (a new `loaded_at`), so it is told again.
    pub fn mark_digest(self, run_id: &str, now: DateTime<Utc>) -> String {
        let ledger = TableName::ledger();
        let digests = TableName::file_digests();
        let now = at(self, now);
        format!(
            "INSERT INTO {digests} (table_name, file_id, loaded_at, feed, run_id, digested_at) \
             SELECT l.table_name, l.file_id, l.loaded_at, l.feed, {run}, {now} FROM {ledger} l \
             WHERE l.status IN ({refused}, {failed}) AND l.loaded_at > {now} - INTERVAL '{lookback} seconds' \
             AND NOT EXISTS (SELECT 1 FROM {digests} d WHERE d.table_name = l.table_name AND d.file_id = l.file_id \
             AND d.loaded_at = l.loaded_at)",
            run = self.literal(run_id),
            refused = self.literal(LedgerStatus::Refused.as_str()),
            failed = self.literal(LedgerStatus::Failed.as_str()),
            lookback = DIGEST_LOOKBACK_DAYS * 86_400,
        )
    }

    fn digest_join(self, run_id: &str) -> String {
        format!(
            "{} d JOIN {} l ON l.table_name = d.table_name AND l.file_id = d.file_id AND l.loaded_at = d.loaded_at \
             WHERE d.run_id = {}",
            TableName::file_digests(),
            TableName::ledger(),
            self.literal(run_id)
        )
    }

    /// The run's marked files per feed and status: feed, status, count.
    pub fn digest_counts(self, run_id: &str) -> String {
        format!(
            "SELECT l.feed, l.status, COUNT(*) FROM {} GROUP BY l.feed, l.status ORDER BY l.feed, l.status",
            self.digest_join(run_id)
        )
    }

    /// The first [`DIGEST_SAMPLES`] marked files of each feed, oldest first:
    /// feed, status, source URL, the ledger's detail.
    pub fn digest_samples(self, run_id: &str) -> String {
        format!(
            "SELECT feed, status, source_url, detail FROM (SELECT l.feed, l.status, l.source_url, l.detail, l.loaded_at, \
             l.file_id, ROW_NUMBER() OVER (PARTITION BY l.feed ORDER BY l.loaded_at, l.file_id) AS n FROM {}) s \
             WHERE n <= {DIGEST_SAMPLES} ORDER BY feed, loaded_at, file_id",
            self.digest_join(run_id)
        )
    }

    /// Unmarks the run's files of these feeds (their digest reached no channel).
    pub fn unmark_digest(self, run_id: &str, feeds: &[&str]) -> String {
        let feeds = self.literal_list(feeds);
        format!(
            "DELETE FROM {} WHERE run_id = {} AND feed IN ({feeds})",
            TableName::file_digests(),
            self.literal(run_id)
        )
    }
}

/// One feed's part of a digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedDigest {
    pub feed: String,
    pub refused: u64,
    pub failed: u64,
    /// The feed's files stuck now: a message of theirs failed and nothing
    /// settled them (`warehouse::stuck`). Told with a digest, never its
    /// trigger: a state, not news, and a dead letter has its own alarm.
    pub stuck: u64,
    /// The first files, oldest first.
    pub samples: Vec<DigestFile>,
}

impl FeedDigest {
    /// The files this digest tells for the first time.
    pub fn files(&self) -> u64 {
        self.refused + self.failed
    }

    /// Adds each feed's stuck files to its entry, or an entry of its own.
    pub fn add_stuck(feeds: &mut Vec<FeedDigest>, stuck: &std::collections::BTreeMap<String, u64>) {
        for (feed, n) in stuck.iter().filter(|(_, n)| **n > 0) {
            match feeds.iter_mut().find(|f| &f.feed == feed) {
                Some(f) => f.stuck = *n,
                None => feeds.push(FeedDigest { feed: feed.clone(), stuck: *n, ..FeedDigest::default() }),
            }
        }
    }
}

/// One refused or failed file, as the digest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestFile {
    pub status: LedgerStatus,
    /// The landing object's `s3://` URL (what `landfall file` takes).
    pub source_url: String,
    /// The refusal, or why parse-file could not read it.
    pub reason: Option<String>,
    /// parse-file's rejects of the file, else the load's.
    pub rejects_key: Option<String>,
}

/// A digest row the monitor cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("digest row {row}: {message}")]
pub struct BadDigestRow {
    pub row: usize,
    pub message: String,
}

/// The counts and samples queries' rows, per feed (in feed order).
pub fn parse_digest(
    counts: &[Vec<Option<String>>],
    samples: &[Vec<Option<String>>],
) -> Result<Vec<FeedDigest>, BadDigestRow> {
    let mut feeds: Vec<FeedDigest> = Vec::new();
    fn entry<'a>(feeds: &'a mut Vec<FeedDigest>, feed: &str) -> &'a mut FeedDigest {
        if let Some(i) = feeds.iter().position(|f| f.feed == feed) {
            return &mut feeds[i];
        }
        feeds.push(FeedDigest { feed: feed.to_owned(), ..FeedDigest::default() });
        let last = feeds.len() - 1;
        &mut feeds[last]
    }
    let cell = |rows: &[Vec<Option<String>>], r: usize, c: usize| -> Result<String, BadDigestRow> {
        rows[r].get(c).cloned().flatten().ok_or_else(|| BadDigestRow { row: r, message: format!("column {c} is NULL") })
    };
    let status = |text: String, row: usize| -> Result<LedgerStatus, BadDigestRow> {
        text.parse().map_err(|e: super::load_ledger::UnknownLedgerStatus| BadDigestRow { row, message: e.to_string() })
    };
    for r in 0..counts.len() {
        let (feed, st, n) = (cell(counts, r, 0)?, cell(counts, r, 1)?, cell(counts, r, 2)?);
        let n: u64 = n.parse().map_err(|e| BadDigestRow { row: r, message: format!("count {n:?}: {e}") })?;
        let f = entry(&mut feeds, &feed);
        match status(st, r)? {
            LedgerStatus::Refused => f.refused += n,
            LedgerStatus::Failed => f.failed += n,
            other => return Err(BadDigestRow { row: r, message: format!("a {} file in a digest", other.as_str()) }),
        }
    }
    for r in 0..samples.len() {
        let feed = cell(samples, r, 0)?;
        let detail: serde_json::Value =
            samples[r].get(3).cloned().flatten().and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_default();
        let text = |k: &str| detail.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let file = DigestFile {
            status: status(cell(samples, r, 1)?, r)?,
            source_url: cell(samples, r, 2)?,
            reason: text("reason"),
            rejects_key: text("rejects").or_else(|| text("load_rejects")),
        };
        entry(&mut feeds, &feed).samples.push(file);
    }
    Ok(feeds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(cells: &[&str]) -> Vec<Option<String>> {
        cells.iter().map(|c| Some((*c).to_owned())).collect()
    }

    #[test]
    fn a_run_marks_only_refused_and_failed_rows_no_run_has_told() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let sql = Dialect::Postgres.mark_digest("run-1", now);
        assert!(sql.contains("l.status IN ('refused', 'failed')"), "{sql}");
        assert!(sql.contains("AND NOT EXISTS (SELECT 1 FROM \"landfall\".\"file_digests\" d"), "{sql}");
        assert!(sql.contains("d.loaded_at = l.loaded_at"), "a file refused again is a new row: {sql}");
        assert!(sql.contains("INTERVAL '604800 seconds'"), "{sql}");
        let samples = Dialect::Redshift.digest_samples("run-1");
        assert!(samples.contains("PARTITION BY l.feed") && samples.contains("n <= 5"), "{samples}");
        assert_eq!(
            Dialect::Postgres.unmark_digest("run-1", &["a", "o'b"]),
            "DELETE FROM \"landfall\".\"file_digests\" WHERE run_id = 'run-1' AND feed IN ('a', 'o''b')"
        );
    }

    #[test]
    fn counts_and_samples_become_one_digest_per_feed_with_reasons_and_rejects() {
        let counts =
            vec![row(&["clicks", "failed", "2"]), row(&["clicks", "refused", "998"]), row(&["orders", "refused", "1"])];
        let samples = vec![
            row(&[
                "clicks",
                "refused",
                "s3://l/c/1.csv",
                r#"{"reason":"column a would change type","rejects":null,"load_rejects":"_rejects/clicks/load-x.jsonl.gz"}"#,
            ]),
            vec![Some("orders".into()), Some("refused".into()), Some("s3://l/o/1.csv".into()), None],
        ];
        let d = parse_digest(&counts, &samples).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].feed.as_str(), d[0].refused, d[0].failed, d[0].files()), ("clicks", 998, 2, 1000));
        assert_eq!(d[0].samples[0].reason.as_deref(), Some("column a would change type"));
        assert_eq!(d[0].samples[0].rejects_key.as_deref(), Some("_rejects/clicks/load-x.jsonl.gz"));
        assert_eq!(d[1].samples[0].reason, None);
        let bad = parse_digest(&[row(&["clicks", "loaded", "1"])], &[]).unwrap_err();
        assert!(bad.message.contains("loaded"), "{bad}");
    }
}
