//! A file's parts while it converts. Each part is uploaded as it closes
//! (so `/tmp` holds only the open ones) under `_staging/`, where no catalog
//! event, crawler or Athena query looks; once the whole file is converted
//! they are copied under `tables/` (which starts register-partitions) and
//! the staged copies removed, and only then is the manifest written. A
//! conversion that fails removes what it staged; one that is killed leaves
//! it to the curated bucket's `_staging/` expiry.

use std::sync::{Arc, Mutex};

use futures_util::{StreamExt, TryStreamExt};
use landfall::layout;
use landfall::manifest::ManifestPart;
use landfall::record::SinkError;
use landfall::schema::FinishedPart;
use landfall::storage::{ObjectStore, StorageError};

/// Parts copied at once when a file is published.
const CONCURRENCY: usize = 16;

/// The parts of one file, staged.
pub(crate) struct Staged {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    table: String,
    file_id: String,
    /// Each part's staged key and its entry in the manifest (its key under `tables/`).
    parts: Arc<Mutex<Vec<(String, ManifestPart)>>>,
}

impl Staged {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, bucket: &str, table: &str, file_id: &str) -> Self {
        Staged {
            store,
            bucket: bucket.to_owned(),
            table: table.to_owned(),
            file_id: file_id.to_owned(),
            parts: Arc::default(),
        }
    }

    /// The writer's part callback: uploads each part to its staged key (on
    /// the blocking conversion thread, hence `block_on`).
    pub(crate) fn sink(&self) -> Box<dyn FnMut(FinishedPart) -> Result<(), SinkError> + Send> {
        let (store, bucket, table, file_id) =
            (Arc::clone(&self.store), self.bucket.clone(), self.table.clone(), self.file_id.clone());
        let parts = Arc::clone(&self.parts);
        let handle = tokio::runtime::Handle::current();
        Box::new(move |part: FinishedPart| -> Result<(), SinkError> {
            let staged = layout::staged_part_key(&table, part.dt, &file_id, part.seq);
            handle.block_on(store.put_file(&bucket, &staged, &part.path, "application/vnd.apache.parquet")).map_err(
                // Failing to store a part is never a property of the file,
                // so it must not be recorded as one: `retryable` stops the
                // conversion, and the disposition reads the cause.
                |e| SinkError { message: e.to_string(), retryable: true, source: Some(Box::new(e)) },
            )?;
            // The part is durable in S3; the local copy only takes /tmp space.
            let _ = std::fs::remove_file(&part.path);
            let key = layout::part_key(&table, part.dt, &file_id, part.seq);
            let entry = ManifestPart {
                url: layout::s3_url(&bucket, &key),
                key,
                dt: part.dt.format("%Y-%m-%d").to_string(),
                rows: part.rows,
                bytes: part.bytes,
            };
            if let Ok(mut p) = parts.lock() {
                p.push((staged, entry));
            }
            Ok(())
        })
    }

    fn take(&self) -> Vec<(String, ManifestPart)> {
        std::mem::take(&mut *self.parts.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Moves every staged part under `tables/`, returning the manifest's
    /// parts in key order. A failure leaves the staged parts for the retry,
    /// which stages and publishes the same keys again.
    pub(crate) async fn publish(&self) -> Result<Vec<ManifestPart>, StorageError> {
        let staged = self.take();
        let (store, bucket) = (&self.store, self.bucket.as_str());
        futures_util::stream::iter(staged.iter().map(Ok))
            .try_for_each_concurrent(CONCURRENCY, |(from, part)| async move {
                store.copy(bucket, from, &part.key).await?;
                store.delete(bucket, from).await
            })
            .await?;
        let mut parts: Vec<ManifestPart> = staged.into_iter().map(|(_, p)| p).collect();
        parts.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(parts)
    }

    /// Removes what a failed conversion staged (best effort: the bucket's
    /// `_staging/` expiry removes what this misses).
    pub(crate) async fn discard(&self) {
        let staged = self.take();
        let (store, bucket) = (&self.store, self.bucket.as_str());
        futures_util::stream::iter(staged)
            .for_each_concurrent(CONCURRENCY, |(key, _)| async move {
                if let Err(e) = store.delete(bucket, &key).await {
                    tracing::warn!(%key, error = %e, "a staged part of a failed conversion was not removed");
                }
            })
            .await;
    }
}
