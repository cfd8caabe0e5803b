//! register-partitions: keeps the Glue Data Catalog in step with the curated
//! bucket, so a Parquet part is queryable from Athena and Redshift Spectrum
//! as soon as it lands.
//!
//! An SQS batch of part-created notifications is grouped by table: each
//! table is ensured once (created from the parts' footers, or evolved:
//! new columns appended, types widened), then its new `dt` partitions are
//! added with one BatchCreatePartition per 100. A partition that already
//! exists is success; any other per-entry error fails only the messages
//! that needed that partition. A repair request (a daily schedule) lists the
//! curated prefixes and registers every partition the catalog lacks.

pub use landfall::catalog::footer;
pub mod repair;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use landfall::catalog::{
    Catalog, CatalogError, Column, ErrorKind, MAX_PARTITIONS_PER_CREATE, MAX_PARTITIONS_PER_GET, Merge, TableDef,
    merge_columns, partition_columns, table_location, valid_table_name,
};
use landfall::disposition::Disposition;
use landfall::events::EventError;
use landfall::layout::{self, TABLES_PREFIX};
use landfall::pipeline::{Budget, Decoded, Dispositions, NoticeHandler, Processed};
use landfall::storage::{ObjectStore, StorageError};
use landfall::telemetry::Metrics;
use landfall::telemetry::catalog::{
    CatalogFailed, EventInvalid, EventSkipped, FooterRead, Invalid, PartUnreadable, PartitionBatchSent,
    PartitionsCompared, PartitionsRegistered, TableCreated, TableDeferred, TableEvolved, TableRegistered,
};
use serde_json::{Value, json};
use tracing::{Instrument, error, info, info_span, warn};

use crate::footer::ReadError;
use crate::repair::{RepairRequest, RequestError, Tables};

/// Footers read at once: enough to hide S3 latency, few enough for a small Lambda.
const CONCURRENT_FOOTER_READS: usize = 16;
/// Attempts at creating or evolving a table when another writer got there first.
const TABLE_ATTEMPTS: usize = 3;
/// register-partitions' [`NoticeHandler::DEADLINE_MARGIN`]: a table's
/// partitions take a few Glue calls, so a table is not started with less
/// than this left.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(15);

/// Settings read once from the environment at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub curated_bucket: String,
    pub database: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("{failed} partition(s) could not be registered; first: {first}")]
    Partitions { failed: usize, first: CatalogError },
    #[error("{0} message(s) of a direct invocation failed; see the log")]
    Direct(usize),
}

/// register-partitions' step: the batch's parts grouped by table, each
/// table ensured and its partitions added once; a message fails only for the
/// parts it carried. Repair requests are answered before any notice decoding.
#[async_trait]
impl NoticeHandler for RegisterPartitions {
    const NAME: &'static str = "register-partitions";
    const DEADLINE_MARGIN: std::time::Duration = DEADLINE_MARGIN;
    type Report = ();

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    async fn process(&self, notices: Vec<Decoded<'_>>, budget: Budget) -> Processed<()> {
        Processed { failed: self.register_notices(&notices, budget).await, report: () }
    }

    fn answer(&self, processed: Processed<()>) -> Result<Value, lambda_runtime::Error> {
        if processed.failed.is_empty() {
            Ok(json!({"failed": 0}))
        } else {
            Err(Box::new(RegisterError::Direct(processed.failed.len())))
        }
    }

    async fn intercept(&self, payload: &Value) -> Option<Result<Value, lambda_runtime::Error>> {
        let request = repair::from_payload(payload, chrono::Utc::now())?;
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                EventInvalid { what: Invalid::RepairRequest, function: Self::NAME, error: &e }.emit(&self.metrics);
                return Some(Err(Box::new(RegisterError::from(e))));
            }
        };
        Some(self.repair(&request).await.map_err(|e| Box::new(e) as lambda_runtime::Error))
    }
}

/// One Parquet part and the columns its footer declares.
#[derive(Debug, Clone)]
pub struct Part {
    pub dt: String,
    pub key: String,
    pub columns: Vec<Column>,
}

/// What registering one table's parts did.
#[derive(Debug, Default)]
pub struct TableReport {
    pub created: Vec<String>,
    pub existing: Vec<String>,
    /// dt -> why its partition was not created.
    pub failed: BTreeMap<String, CatalogError>,
}

/// A part a message asked for, before its footer is read.
struct Wanted {
    message: usize,
    message_id: String,
    table: String,
    dt: String,
    key: String,
}

#[derive(Clone)]
pub struct RegisterPartitions {
    store: Arc<dyn ObjectStore>,
    catalog: Arc<dyn Catalog>,
    settings: Arc<Settings>,
    metrics: Metrics,
}

impl RegisterPartitions {
    pub fn new(store: Arc<dyn ObjectStore>, catalog: Arc<dyn Catalog>, settings: Settings, metrics: Metrics) -> Self {
        Self { store, catalog, settings: Arc::new(settings), metrics }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Registers the parts the notices name; returns the messages that must
    /// come back, with why.
    async fn register_notices(&self, notices: &[Decoded<'_>], budget: Budget) -> Dispositions {
        let mut failed = Dispositions::default();
        let mut wanted = Vec::new();
        for Decoded { index, message_id, notice } in notices {
            let _message = info_span!("message", message_id).entered();
            for object in &notice.objects {
                let _span = info_span!("object", bucket = %object.bucket, key = %object.key).entered();
                if object.bucket != self.settings.curated_bucket {
                    self.skip("other_bucket", &object.url());
                    continue;
                }
                let Some(part) = layout::parse_part_key(&object.key) else {
                    self.skip("not_a_part", &object.key);
                    continue;
                };
                if !valid_table_name(part.table) {
                    self.skip("bad_table_name", part.table);
                    continue;
                }
                wanted.push(Wanted {
                    message: *index,
                    message_id: (*message_id).to_owned(),
                    table: part.table.to_owned(),
                    dt: part.dt.to_owned(),
                    key: object.key.clone(),
                });
            }
        }

        let (parts, unread) = self.read_footers(wanted).await;
        failed.extend(unread);

        let mut by_table: BTreeMap<String, Vec<(usize, Part)>> = BTreeMap::new();
        for (message, table, part) in parts {
            by_table.entry(table).or_default().push((message, part));
        }
        for (table, parts) in by_table {
            let only_parts: Vec<Part> = parts.iter().map(|(_, p)| p.clone()).collect();
            let span = info_span!("table", table = %table, parts = only_parts.len());
            if !budget.may_start() {
                span.in_scope(|| TableDeferred.emit(&self.metrics));
                failed.fail_all(parts.iter().map(|(m, _)| *m), Disposition::Retry);
                continue;
            }
            let started = std::time::Instant::now();
            let result = self.register_table(&table, &only_parts).instrument(span).await;
            let ok = result.as_ref().is_ok_and(|r| r.failed.is_empty());
            TableRegistered { table: &table, ok, elapsed: started.elapsed() }.emit(&self.metrics);
            match result {
                Ok(report) => {
                    for (message, part) in &parts {
                        if let Some(e) = report.failed.get(&part.dt) {
                            failed.fail(*message, Disposition::of_fault(e.retryable()));
                        }
                    }
                }
                Err(e) => {
                    // The table itself could not be ensured: every message that
                    // needed it waits for a retry (or, if it keeps failing, the DLQ).
                    warn!(table = %table, error = %e, "table not ensured; failing its messages");
                    failed.fail_all(parts.iter().map(|(m, _)| *m), Disposition::of_fault(e.retryable()));
                }
            }
        }
        failed
    }

    fn skip(&self, reason: &'static str, detail: &str) {
        EventSkipped { reason, detail }.emit(&self.metrics);
    }

    /// Reads the footers, a few at a time. Returns the parts read (with the
    /// message and table that asked for them) and the messages to retry.
    async fn read_footers(&self, wanted: Vec<Wanted>) -> (Vec<(usize, String, Part)>, Dispositions) {
        let mut parts = Vec::with_capacity(wanted.len());
        let mut failed = Dispositions::default();
        let everyone: BTreeSet<usize> = wanted.iter().map(|w| w.message).collect();
        let mut pending = wanted.into_iter();
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            while tasks.len() < CONCURRENT_FOOTER_READS {
                let Some(w) = pending.next() else { break };
                let store = Arc::clone(&self.store);
                let bucket = self.settings.curated_bucket.clone();
                let span = info_span!("object", message_id = %w.message_id, bucket = %bucket, key = %w.key);
                tasks.spawn(
                    async move {
                        let result = footer::read_columns(store.as_ref(), &bucket, &w.key).await;
                        (w, result)
                    }
                    .instrument(span),
                );
            }
            let Some(joined) = tasks.join_next().await else { break };
            let (w, result) = match joined {
                Ok(done) => done,
                Err(e) => {
                    // A panicked read cannot be tied to its message: retry them all.
                    error!(error = %e, "a footer read task failed");
                    failed.fail_all(everyone.iter().copied(), Disposition::Retry);
                    continue;
                }
            };
            match result {
                Ok(columns) => {
                    FooterRead { key: &w.key, columns: columns.len() }.emit(&self.metrics);
                    parts.push((w.message, w.table, Part { dt: w.dt, key: w.key, columns }));
                }
                Err(e) => self.unreadable(&w, &e, &mut failed),
            }
        }
        (parts, failed)
    }

    fn unreadable(&self, w: &Wanted, e: &ReadError, failed: &mut Dispositions) {
        let disposition = e.disposition();
        if disposition.fails_message() {
            warn!(key = %w.key, error = %e, "footer not read; the message will be retried");
            failed.fail(w.message, disposition);
        } else {
            // Retrying cannot make this part readable; it is counted and
            // logged, and the message succeeds rather than poisoning the queue.
            PartUnreadable { key: &w.key, reason: e.label(), error: e }.emit(&self.metrics);
        }
    }

    /// Ensures the table holds every part's columns, then adds the parts'
    /// partitions the catalog lacks.
    pub async fn register_table(&self, table: &str, parts: &[Part]) -> Result<TableReport, CatalogError> {
        let def = self
            .ensure_table(table, parts)
            .await
            .inspect_err(|e| CatalogFailed { table, dt: None, kind: e.kind.label(), error: e }.emit(&self.metrics))?;
        let mut by_dt: BTreeMap<&str, Vec<&[Column]>> = BTreeMap::new();
        for p in parts {
            by_dt.entry(p.dt.as_str()).or_default().push(p.columns.as_slice());
        }
        let partitions: Vec<_> =
            by_dt.into_iter().map(|(dt, cols)| def.partition(dt, partition_columns(&def.columns, cols))).collect();

        let mut report = TableReport::default();
        for chunk in partitions.chunks(MAX_PARTITIONS_PER_CREATE) {
            PartitionBatchSent { table, partitions: chunk.len() }.emit(&self.metrics);
            let mut entry_errors: BTreeMap<String, CatalogError> = BTreeMap::new();
            match self.catalog.batch_create_partitions(&def, chunk).await {
                Ok(errors) => {
                    for e in errors {
                        if let Some(dt) = e.partition.clone() {
                            entry_errors.insert(dt, e);
                        }
                    }
                }
                Err(e) => {
                    entry_errors = chunk.iter().map(|p| (p.dt.clone(), e.clone())).collect();
                }
            }
            for p in chunk {
                match entry_errors.remove(&p.dt) {
                    None => report.created.push(p.dt.clone()),
                    Some(e) if e.kind == ErrorKind::AlreadyExists => report.existing.push(p.dt.clone()),
                    Some(e) => {
                        CatalogFailed { table, dt: Some(&p.dt), kind: e.kind.label(), error: &e }.emit(&self.metrics);
                        report.failed.insert(p.dt.clone(), e);
                    }
                }
            }
        }
        PartitionsRegistered {
            table,
            created: report.created.len(),
            existing: report.existing.len(),
            failed: report.failed.len(),
        }
        .emit(&self.metrics);
        Ok(report)
    }

    /// The table as it must be to hold these parts: created if missing,
    /// evolved if a part brings new or wider columns. Another writer racing
    /// us (AlreadyExists, ConcurrentModification) makes us read and merge again.
    async fn ensure_table(&self, table: &str, parts: &[Part]) -> Result<TableDef, CatalogError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match self.catalog.get_table(table).await? {
                None => {
                    let mut columns = Vec::new();
                    for p in parts {
                        columns = merge_columns(&columns, &p.columns).columns;
                    }
                    let location = table_location(&self.settings.curated_bucket, table);
                    let def = TableDef::new(table, location, columns);
                    self.catalog.create_table(&def).await.map(|()| {
                        TableCreated { table, columns: def.columns.len() }.emit(&self.metrics);
                        def
                    })
                }
                Some(mut def) => {
                    if !def.partitioned_by_dt() {
                        return Err(self.conflict(table, &def));
                    }
                    let mut merge = Merge { columns: def.columns.clone(), ..Merge::default() };
                    for p in parts {
                        let next = merge_columns(&merge.columns, &p.columns);
                        merge.added.extend(next.added);
                        merge.widened.extend(next.widened);
                        merge.columns = next.columns;
                    }
                    if !merge.changed() {
                        return Ok(def);
                    }
                    def.columns = merge.columns;
                    self.catalog.update_table(&def).await.map(|()| {
                        let widened: Vec<String> =
                            merge.widened.iter().map(|(c, from, to)| format!("{c}: {from} -> {to}")).collect();
                        TableEvolved { table, added: &merge.added, widened: &widened }.emit(&self.metrics);
                        def
                    })
                }
            };
            match result {
                Ok(def) => return Ok(def),
                Err(e)
                    if attempt < TABLE_ATTEMPTS
                        && matches!(e.kind, ErrorKind::AlreadyExists | ErrorKind::ConcurrentModification) =>
                {
                    warn!(table, error = %e, "another writer changed the table; reading it again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn conflict(&self, table: &str, def: &TableDef) -> CatalogError {
        CatalogError {
            operation: "GetTable",
            database: self.settings.database.clone(),
            table: table.to_owned(),
            partition: None,
            kind: ErrorKind::Conflict,
            message: format!(
                "the table is partitioned by {:?}; landfall registers partitions by dt only",
                def.partition_keys
            ),
        }
    }

    /// Registers every partition in the request's range that the curated
    /// bucket has and the catalog lacks, a page of 100 at a time. Running
    /// it again finds nothing to do.
    pub async fn repair(&self, request: &RepairRequest) -> Result<Value, RegisterError> {
        let bucket = &self.settings.curated_bucket;
        let tables = match &request.tables {
            Tables::Named(names) => names.clone(),
            Tables::All => self
                .store
                .list_dirs(bucket, TABLES_PREFIX)
                .await?
                .iter()
                .filter_map(|d| d.strip_prefix(TABLES_PREFIX)?.strip_suffix('/').map(str::to_owned))
                .filter(|t| valid_table_name(t))
                .collect(),
        };
        info!(tables = tables.len(), from = %request.from, to = %request.to, "repair started");
        let mut summary = serde_json::Map::new();
        let mut failures: Vec<CatalogError> = Vec::new();
        for table in &tables {
            let span = info_span!("repair", table = %table);
            let (value, failed) = self.repair_table(table, request).instrument(span).await?;
            summary.insert(table.clone(), value);
            failures.extend(failed);
        }
        let report =
            json!({ "repair": { "from": request.from.to_string(), "to": request.to.to_string(), "tables": summary } });
        info!(report = %report, "repair finished");
        match failures.into_iter().next() {
            None => Ok(report),
            Some(first) => {
                let failed = report["repair"]["tables"]
                    .as_object()
                    .map(|t| t.values().filter_map(|v| v["failed"].as_u64()).sum::<u64>())
                    .unwrap_or(0);
                Err(RegisterError::Partitions { failed: usize::try_from(failed).unwrap_or(usize::MAX), first })
            }
        }
    }

    async fn repair_table(
        &self,
        table: &str,
        request: &RepairRequest,
    ) -> Result<(Value, Vec<CatalogError>), RegisterError> {
        let bucket = &self.settings.curated_bucket;
        let prefix = format!("{TABLES_PREFIX}{table}/");
        let listed: Vec<String> = self
            .store
            .list_dirs(bucket, &prefix)
            .await?
            .iter()
            .filter_map(|d| d.strip_prefix(&prefix)?.strip_prefix("dt=")?.strip_suffix('/').map(str::to_owned))
            .filter(|dt| request.covers(dt))
            .collect();
        let mut existing = BTreeSet::new();
        if !listed.is_empty() && self.catalog.get_table(table).await?.is_some() {
            for chunk in listed.chunks(MAX_PARTITIONS_PER_GET) {
                existing.extend(self.catalog.batch_get_partitions(table, chunk).await?);
            }
        }
        let missing: Vec<&String> = listed.iter().filter(|dt| !existing.contains(*dt)).collect();
        PartitionsCompared { table, listed: listed.len(), missing: missing.len() }.emit(&self.metrics);

        let (mut registered, mut failed) = (0usize, Vec::new());
        for page in missing.chunks(MAX_PARTITIONS_PER_CREATE) {
            let mut wanted = Vec::new();
            for dt in page {
                for (key, _) in self.store.list(bucket, &format!("{prefix}dt={dt}/")).await? {
                    if layout::parse_part_key(&key).is_some() {
                        let (table, dt) = (table.to_owned(), (*dt).clone());
                        wanted.push(Wanted { message: 0, message_id: "repair".into(), table, dt, key });
                    }
                }
            }
            let (parts, retry) = self.read_footers(wanted).await;
            if !retry.is_empty() {
                // A transient fault on a footer: the whole run is retried.
                return Err(RegisterError::Storage(StorageError::Request {
                    operation: "GetObject",
                    bucket: bucket.clone(),
                    key: prefix.clone(),
                    message: "a footer could not be read; see the log".into(),
                    retryable: true,
                }));
            }
            let parts: Vec<Part> = parts.into_iter().map(|(_, _, p)| p).collect();
            if parts.is_empty() {
                continue;
            }
            let report = self.register_table(table, &parts).await?;
            registered += report.created.len();
            failed.extend(report.failed.into_values());
        }
        let value = json!({
            "listed": listed.len(),
            "missing": missing.len(),
            "registered": registered,
            "failed": failed.len(),
        });
        Ok((value, failed))
    }
}
