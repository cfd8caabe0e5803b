//! Files stuck per feed: a message of theirs failed (retrying or
//! dead-lettered) and nothing has settled them since. Two functions fail
//! messages and each records where it can: parse-file in the curated
//! bucket ([`crate::parse_failures`]), load-warehouse in
//! `landfall.failures`. This is the one reader of both counts, for
//! `landfall status` and monitor-feeds' digest.

use std::collections::BTreeMap;

use super::bookkeeping::failures;
use super::{Warehouse, WarehouseError};
use crate::parse_failures;
use crate::storage::{ObjectStore, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum StuckError {
    #[error("reading landfall.failures: {0}")]
    Warehouse(#[from] WarehouseError),
    #[error("reading parse-file's failures in s3://{bucket}: {source}")]
    Storage { bucket: String, source: StorageError },
}

/// Per feed, the stuck files of both functions.
pub async fn stuck_per_feed(
    w: &dyn Warehouse,
    store: &dyn ObjectStore,
    curated_bucket: &str,
) -> Result<BTreeMap<String, u64>, StuckError> {
    let mut out = parse_failures::stuck_per_feed(store, curated_bucket)
        .await
        .map_err(|source| StuckError::Storage { bucket: curated_bucket.to_owned(), source })?;
    let Some(rows) = w.query_if_present(&failures::reads::stuck_per_feed()).await? else {
        // No load has failed on this warehouse yet.
        return Ok(out);
    };
    for r in rows {
        let Some(feed) = r.first().cloned().flatten() else { continue };
        let n: u64 = r.get(1).cloned().flatten().and_then(|n| n.parse().ok()).unwrap_or(0);
        *out.entry(feed).or_insert(0) += n;
    }
    Ok(out)
}
