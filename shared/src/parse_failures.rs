//! parse-file's failures, where operators look. A message parse-file fails
//! (retry or dead letter) leaves the file's last error and how many times it
//! failed in the curated bucket, `_failures/<feed>/<file_id>.json`;
//! `landfall file`/`files` show it (state `stuck`), and `landfall status`
//! and monitor-feeds' digest count the stuck files per feed.
//!
//! Why an object and not the other two places an error could live:
//! parse-file has no warehouse driver (so no `landfall.failures` row, which
//! load-warehouse writes), and SQS moves a message to the dead-letter queue
//! as it was sent, so a function cannot add its error to it (and a message
//! being retried is in no dead-letter queue at all). An object works the
//! same on AWS, on moto and on either warehouse.
//!
//! A record is settled, not stuck, once the file has a manifest: parse-file
//! writes one only when it has recorded the file's fate, and a file id names
//! the same bytes, so nothing needs to delete the record on success (a
//! delete per file would cost a request on every file and, in the versioned
//! curated bucket, leave a delete marker each time).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::layout;
use crate::storage::{ObjectStore, StorageError};
use crate::warehouse::bookkeeping::failures::ERROR_MAX_BYTES;

/// Where a file failed: the function whose message came back.
pub const PARSE_FILE: &str = "parse-file";

/// The last failure of one file in parse-file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseFailure {
    pub file_id: String,
    pub feed: String,
    /// The feed's table (empty for a key no feed claims).
    pub table: String,
    pub source_url: String,
    /// `retry` or `dead_letter`: what happened to the message.
    pub disposition: String,
    pub error: String,
    /// How many deliveries failed so far.
    pub attempts: u64,
    /// RFC 3339.
    pub failed_at: String,
}

/// Records one more failed attempt at `failure`'s file (its `attempts` is
/// ignored: the record counts them) and returns the attempts so far. A
/// record that does not read as one is replaced and counted from zero.
pub async fn record(store: &dyn ObjectStore, bucket: &str, failure: &ParseFailure) -> Result<u64, StorageError> {
    let before = read(store, bucket, &failure.feed, &failure.file_id).await?.map_or(0, |f| f.attempts);
    let mut next = failure.clone();
    next.attempts = before + 1;
    next.error = crate::record::truncate(&failure.error, ERROR_MAX_BYTES).to_owned();
    let body = serde_json::to_vec(&next).unwrap_or_default();
    let key = layout::parse_failure_key(&failure.feed, &failure.file_id);
    store.put_bytes(bucket, &key, body, "application/json").await?;
    Ok(next.attempts)
}

/// The file's failure record, if parse-file failed on it (settled or not:
/// the caller knows whether the file has a manifest).
pub async fn read(
    store: &dyn ObjectStore,
    bucket: &str,
    feed: &str,
    file_id: &str,
) -> Result<Option<ParseFailure>, StorageError> {
    let key = layout::parse_failure_key(feed, file_id);
    Ok(store.get_bytes_if_present(bucket, &key).await?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Per feed, the files parse-file failed on and has not parsed since (no
/// manifest). One list of `_failures/`, then one list per record's manifest
/// key: stuck files are few, and each is a problem an operator mends.
pub async fn stuck_per_feed(store: &dyn ObjectStore, bucket: &str) -> Result<BTreeMap<String, u64>, StorageError> {
    let mut out = BTreeMap::new();
    for (key, _) in store.list(bucket, layout::FAILURES_PREFIX).await? {
        // Removed since the listing (an operator cleaning up): nothing stuck.
        let Some(bytes) = store.get_bytes_if_present(bucket, &key).await? else { continue };
        // Not a record parse-file wrote: no file of any feed.
        let Ok(failure) = serde_json::from_slice::<ParseFailure>(&bytes) else { continue };
        if !failure.table.is_empty() {
            let manifest = layout::manifest_key(&failure.table, &failure.file_id);
            if store.list(bucket, &manifest).await?.iter().any(|(k, _)| *k == manifest) {
                continue;
            }
        }
        *out.entry(failure.feed).or_insert(0) += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryStore;

    fn failure(feed: &str, file_id: &str) -> ParseFailure {
        ParseFailure {
            file_id: file_id.into(),
            feed: feed.into(),
            table: "t".into(),
            source_url: format!("s3://landing/{file_id}.csv"),
            disposition: "dead_letter".into(),
            error: "the column map is not valid".into(),
            attempts: 0,
            failed_at: "2026-12-07T21:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn each_failed_delivery_of_a_file_counts_one_more_attempt() {
        let store = MemoryStore::default();
        let f = failure("crm", "f1");
        assert_eq!(record(&store, "c", &f).await.unwrap(), 1);
        assert_eq!(record(&store, "c", &f).await.unwrap(), 2);
        let read_back = read(&store, "c", "crm", "f1").await.unwrap().unwrap();
        assert_eq!((read_back.attempts, read_back.error.as_str()), (2, "the column map is not valid"));
        assert_eq!(read(&store, "c", "crm", "f2").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_file_parsed_since_its_failure_is_not_stuck() {
        let store = MemoryStore::default();
        for (feed, id) in [("crm", "f1"), ("crm", "f2"), ("orders", "f3")] {
            record(&store, "c", &failure(feed, id)).await.unwrap();
        }
        store.put_bytes("c", &layout::manifest_key("t", "f2"), b"{}".to_vec(), "application/json").await.unwrap();
        let stuck = stuck_per_feed(&store, "c").await.unwrap();
        assert_eq!(stuck, BTreeMap::from([("crm".to_owned(), 1), ("orders".to_owned(), 1)]));
    }

    #[tokio::test]
    async fn an_error_is_kept_to_its_limit() {
        let store = MemoryStore::default();
        let mut f = failure("crm", "f1");
        f.error = "é".repeat(ERROR_MAX_BYTES);
        record(&store, "c", &f).await.unwrap();
        let kept = read(&store, "c", "crm", "f1").await.unwrap().unwrap().error;
        assert!(kept.len() <= ERROR_MAX_BYTES && kept.len() > ERROR_MAX_BYTES - 2, "{}", kept.len());
    }
}
