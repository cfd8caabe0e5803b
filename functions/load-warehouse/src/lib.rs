//! load-warehouse: manifests written by parse-file become warehouse rows,
//! exactly once.
//!
//! A batch's manifests are grouped by table; each table is loaded in one
//! transaction by the configured [`Warehouse`] driver. A table whose load
//! fails (a lost connection, a serialization failure) fails only the
//! messages that carried its manifests; the other tables commit. Data
//! problems do not fail messages: rows and files the warehouse cannot take
//! are recorded in the ledger and the rejects.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use landfall::config::Config;
use landfall::disposition::Disposition;
use landfall::events::ObjectCreated;
use landfall::lambda::Deadline;
use landfall::layout;
use landfall::manifest::Manifest;
use landfall::pipeline::{Budget, Decoded, Dispositions, NoticeHandler, Processed};
use landfall::storage::{ObjectStore, StorageError};
use landfall::telemetry::Metrics;
use landfall::telemetry::catalog::{
    LoadCommitted, LoadDeferred, LoadFailed, ManifestMissing, ManifestUnreadable, NotAManifest,
};
use landfall::warehouse::bookkeeping::failures::Failure;
use landfall::warehouse::{FeedRules, LoadReport, TableLoad, TableName, Warehouse, WarehouseError, plan_loads};
use serde_json::{Value, json};
use tracing::{Instrument, info_span, warn};

/// Manifests fetched at once (small objects; S3 latency dominates).
const FETCH_CONCURRENCY: usize = 16;
/// load-warehouse's [`NoticeHandler::DEADLINE_MARGIN`]: a table's load is not
/// started with less than this left; its messages come back instead.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("manifest s3://{bucket}/{key} is not a manifest: {message}")]
    Manifest { bucket: String, key: String, message: String },
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("{table}: not started, {left:?} before the invocation's deadline; its messages will be delivered again")]
    Deferred { table: String, left: Duration },
}

impl LoadError {
    /// Every failure fails its messages: transient ones succeed on a retry;
    /// the others (a corrupt manifest, SQL the warehouse refuses) must reach
    /// the DLQ for an operator rather than be dropped.
    pub fn disposition(&self) -> Disposition {
        match self {
            LoadError::Storage(e) => Disposition::of_fault(e.retryable()),
            LoadError::Manifest { .. } => Disposition::DeadLetter,
            LoadError::Warehouse(e) => e.disposition(),
            LoadError::Deferred { .. } => Disposition::Retry,
        }
    }
}

#[derive(Clone)]
pub struct LoadWarehouse {
    store: Arc<dyn ObjectStore>,
    config: Arc<Config>,
    warehouse: Arc<dyn Warehouse>,
    metrics: Metrics,
}

/// One table's load within a batch.
#[derive(Debug)]
pub struct TableOutcome {
    pub table: String,
    pub manifest_keys: Vec<String>,
    pub result: Result<LoadReport, LoadError>,
}

/// What one batch (or one direct call) did, table by table.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub loads: Vec<TableOutcome>,
    /// Manifests that could not be fetched or read, with why.
    pub unreadable: Vec<(String, LoadError)>,
    /// Manifests that no longer exist (nothing to load).
    pub missing: Vec<String>,
}

impl BatchOutcome {
    /// The first failure, for a direct invocation's error.
    pub fn first_error(&self) -> Option<String> {
        self.unreadable
            .first()
            .map(|(key, e)| format!("{key}: {e}"))
            .or_else(|| self.loads.iter().find_map(|l| l.result.as_ref().err().map(|e| format!("{}: {e}", l.table))))
    }

    pub fn reports(&self) -> impl Iterator<Item = &LoadReport> {
        self.loads.iter().filter_map(|l| l.result.as_ref().ok())
    }
}

/// load-warehouse's step: the batch's manifests are loaded together, one
/// transaction per table ([`LoadWarehouse::load_manifests`]); a manifest that
/// cannot be read, or a table that fails, fails the messages that carried it.
#[async_trait]
impl NoticeHandler for LoadWarehouse {
    const NAME: &'static str = "load-warehouse";
    const DEADLINE_MARGIN: Duration = DEADLINE_MARGIN;
    type Report = BatchOutcome;

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    async fn process(&self, notices: Vec<Decoded<'_>>, budget: Budget) -> Processed<BatchOutcome> {
        // Manifest (bucket, key) -> the messages that carried it.
        let mut wanted: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
        for Decoded { index, message_id, notice } in &notices {
            let _span = info_span!("message", message_id).entered();
            for object in notice.objects.iter().filter(|o| self.is_manifest(o)) {
                wanted.entry((object.bucket.clone(), object.key.clone())).or_default().insert(*index);
            }
        }
        let keys: Vec<(String, String)> = wanted.keys().cloned().collect();
        let outcome = self.load(&keys, budget).await;
        let messages_of = |key: &str| -> Vec<usize> {
            wanted.iter().filter(|((_, k), _)| k == key).flat_map(|(_, ids)| ids.iter().copied()).collect()
        };
        let mut failed = Dispositions::default();
        for (key, e) in &outcome.unreadable {
            failed.fail_all(messages_of(key), e.disposition());
        }
        for load in &outcome.loads {
            let Err(e) = &load.result else { continue };
            for key in &load.manifest_keys {
                failed.fail_all(messages_of(key), e.disposition());
            }
        }
        Processed { failed, report: outcome }
    }

    fn answer(&self, processed: Processed<BatchOutcome>) -> Result<Value, lambda_runtime::Error> {
        match processed.report.first_error() {
            Some(e) => Err(e.into()),
            None => Ok(json!({ "loads": processed.report.reports().map(summary).collect::<Vec<_>>() })),
        }
    }
}

fn summary(report: &LoadReport) -> Value {
    json!({
        "table": report.table,
        "load_id": report.load_id,
        "files": report.files.len(),
        "already_loaded": report.already_loaded.len(),
        "rows_loaded": report.rows_loaded,
        "rows_rejected_at_load": report.rows_rejected_at_load,
        "changes": report.changes,
    })
}

impl LoadWarehouse {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        config: Arc<Config>,
        warehouse: Arc<dyn Warehouse>,
        metrics: Metrics,
    ) -> Self {
        LoadWarehouse { store, config, warehouse, metrics }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn is_manifest(&self, object: &ObjectCreated) -> bool {
        let ok = object.key.starts_with(layout::MANIFESTS_PREFIX) && object.key.ends_with(".json");
        if !ok {
            NotAManifest { bucket: &object.bucket, key: &object.key }.emit(&self.metrics);
        }
        ok
    }

    /// Fetches the manifests, plans one load per table and runs them. Used
    /// by the SQS path, direct invocations and the operator CLI (replays).
    /// A table whose load would start within [`DEADLINE_MARGIN`] of the
    /// deadline is not started.
    pub async fn load_manifests(&self, keys: &[(String, String)], deadline: Deadline) -> BatchOutcome {
        self.load(keys, Budget::of::<Self>(deadline)).await
    }

    async fn load(&self, keys: &[(String, String)], budget: Budget) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        let fetched: Vec<((String, String), Result<Manifest, LoadError>)> =
            futures_util::stream::iter(keys.iter().cloned())
                .map(|(bucket, key)| async move {
                    let result = self.fetch_manifest(&bucket, &key).await;
                    ((bucket, key), result)
                })
                .buffered(FETCH_CONCURRENCY)
                .collect()
                .await;
        let mut manifests = Vec::new();
        for ((bucket, key), result) in fetched {
            match result {
                Ok(m) => manifests.push((key, m)),
                Err(LoadError::Storage(StorageError::NotFound { .. })) => {
                    ManifestMissing { bucket: &bucket, key: &key }.emit(&self.metrics);
                    outcome.missing.push(key);
                }
                Err(e) => {
                    let retryable = e.disposition() == Disposition::Retry;
                    ManifestUnreadable { bucket: &bucket, key: &key, retryable, error: &e }.emit(&self.metrics);
                    outcome.unreadable.push((key, e));
                }
            }
        }
        let loads = plan_loads(&self.config.warehouse.schema, manifests, |feed| {
            self.config.feed(feed).map(FeedRules::from).unwrap_or_else(|| {
                warn!(feed, "feed is no longer in the config; loading with append and evolve");
                FeedRules::default()
            })
        });
        for load in loads {
            let span =
                info_span!("load", table = %load.target.plain(), load_id = %load.load_id, files = load.files.len());
            let result = if !budget.may_start() {
                let left = budget.left();
                span.in_scope(|| LoadDeferred { table: &load.target.table, left }.emit(&self.metrics));
                Err(LoadError::Deferred { table: load.target.plain(), left })
            } else {
                self.run(&load).instrument(span).await
            };
            outcome.loads.push(TableOutcome {
                table: load.target.plain(),
                manifest_keys: load.files.iter().map(|f| f.manifest_key.clone()).collect(),
                result,
            });
        }
        outcome
    }

    async fn fetch_manifest(&self, bucket: &str, key: &str) -> Result<Manifest, LoadError> {
        let bytes = self.store.get_bytes(bucket, key).await?;
        Manifest::from_json(&bytes).map_err(|e| LoadError::Manifest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: e.to_string(),
        })
    }

    async fn run(&self, load: &TableLoad) -> Result<LoadReport, LoadError> {
        let table = load.target.table.as_str();
        let started = Instant::now();
        let result = self.warehouse.load(load).await;
        let elapsed = started.elapsed();
        match result {
            Ok(report) => {
                LoadCommitted { table, report: &report, elapsed }.emit(&self.metrics);
                Ok(report)
            }
            Err(e) => {
                LoadFailed { table, disposition: e.disposition(), error: &e, elapsed }.emit(&self.metrics);
                self.record_failure(load, &e).await;
                Err(e.into())
            }
        }
    }

    /// Leaves a failed load's error in `landfall.failures`, one row per file,
    /// in transactions of its own (the load's rolled back), so `landfall
    /// file` tells why a file is not loaded even after its message went to
    /// the dead-letter queue. Best effort: if the warehouse is what failed,
    /// this fails too, and the error is in the log and the metric above.
    async fn record_failure(&self, load: &TableLoad, e: &WarehouseError) {
        let (table, error) = (load.target.plain(), e.to_string());
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let failures: Vec<Failure<'_>> = load
            .files
            .iter()
            .map(|f| Failure {
                table: &table,
                file_id: &f.manifest.file_id,
                feed: &load.feed,
                source_url: &f.manifest.source.url,
                disposition: e.disposition().label(),
                error: &error,
            })
            .collect();
        for (i, chunk) in failures.chunks(FAILURES_PER_TRANSACTION).enumerate() {
            let name = format!("landfall-{}-failures-{i}-{}", load.load_id, chrono::Utc::now().timestamp_micros());
            if let Err(record) = self.record_failures(chunk, &at, &name).await {
                warn!(table = %table, error = %record, "could not record the failed load in landfall.failures");
                return;
            }
        }
    }

    /// One transaction of failures; the first failure a warehouse sees
    /// creates the table, and is then recorded.
    async fn record_failures(&self, chunk: &[Failure<'_>], at: &str, name: &str) -> Result<(), WarehouseError> {
        let (dialect, table) = (self.warehouse.dialect(), TableName::failures());
        match self.warehouse.transaction(&table, name, dialect.record_failures(chunk, at)).await {
            Err(e) if e.is_undefined_table() => {
                let create = dialect.create_failures_tables();
                self.warehouse.transaction(&table, &format!("{name}-create"), create).await?;
                self.warehouse.transaction(&table, &format!("{name}-again"), dialect.record_failures(chunk, at)).await
            }
            done => done,
        }
    }
}

/// Files per transaction of `record_failure`: two statements each must stay
/// within the Data API's 40 per batch.
const FAILURES_PER_TRANSACTION: usize = 15;
