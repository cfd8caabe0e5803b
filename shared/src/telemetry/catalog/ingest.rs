//! The events of the ingest path: every function's invocation, the notice
//! pipeline, parse-file, load-warehouse and register-partitions.

use super::*;

// ---------------------------------------------------------------- every function

/// An invocation finished (`lambda::serve`).
pub(crate) struct InvocationFinished {
    pub ok: bool,
    pub elapsed: Duration,
}

impl InvocationFinished {
    pub fn emit(&self, metrics: &Metrics) {
        let outcome = if self.ok { "ok" } else { "error" };
        debug!(outcome, elapsed_ms = self.elapsed.as_millis() as u64, "invocation finished");
        metrics.time(&INVOCATION_DURATION, &[outcome], self.elapsed);
    }
}

// ---------------------------------------------------------------- the notice pipeline

/// What was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// A payload that is no SQS batch and no notice.
    Shape,
    /// An SQS message body that is no notification.
    Body,
    /// A repair request register-partitions refuses.
    RepairRequest,
}

/// A payload, body or request no function understands.
pub struct EventInvalid<'a> {
    pub what: Invalid,
    pub function: &'a str,
    pub error: &'a dyn Display,
}

impl EventInvalid<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let (error, function) = (self.error, self.function);
        let reason = match self.what {
            Invalid::Shape => {
                error!(error = %error, function, "invocation payload is not an event this function understands");
                "shape"
            }
            Invalid::Body => {
                error!(error = %error, "message body is not a notification; failing it so it reaches the DLQ");
                "body"
            }
            Invalid::RepairRequest => {
                error!(error = %error, "repair request refused");
                "repair_request"
            }
        };
        metrics.count(&EVENTS_INVALID, &[reason], 1);
    }
}

/// A record deliberately not processed: a test event, a removal, a key
/// that is not this function's, a message monitor-feeds published itself.
pub struct EventSkipped<'a> {
    pub reason: &'static str,
    pub detail: &'a str,
}

impl EventSkipped<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        info!(reason = self.reason, detail = self.detail, "event skipped");
        metrics.count(&EVENTS_SKIPPED, &[self.reason], 1);
    }
}

/// A key on load-warehouse's queue that is not a manifest: a wiring mistake
/// worth a warning.
pub struct NotAManifest<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
}

impl NotAManifest<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        warn!(bucket = self.bucket, key = self.key, "not a manifest; skipped");
        metrics.count(&EVENTS_SKIPPED, &["not_a_manifest"], 1);
    }
}

/// A message named in `batchItemFailures`.
pub(crate) struct MessageFailed<'a> {
    pub message_id: &'a str,
    pub disposition: Disposition,
}

impl MessageFailed<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let disposition = self.disposition.label();
        warn!(message_id = self.message_id, disposition, "message failed; SQS will deliver it again");
        metrics.count(&MESSAGES_FAILED, &[disposition], 1);
    }
}

// ---------------------------------------------------------------- parse-file

/// A message not started because the deadline is near.
pub struct MessageDeferred;

impl MessageDeferred {
    pub fn emit(&self, metrics: &Metrics) {
        warn!("too close to the deadline to start; the message will be delivered again");
        metrics.count(&MESSAGES_DEFERRED, &["deadline"], 1);
    }
}

/// An object parse-file finished with a recorded outcome.
pub struct ObjectProcessed<'a> {
    pub outcome: &'static str,
    pub detail: &'a dyn Debug,
    pub elapsed: Duration,
}

impl ObjectProcessed<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        info!(outcome = self.outcome, detail = ?self.detail, "object processed");
        metrics.time(&PARSE_DURATION, &[self.outcome], self.elapsed);
    }
}

/// An object parse-file could not finish: its message fails.
pub struct ObjectFailed<'a> {
    pub disposition: Disposition,
    pub error: &'a dyn Display,
    pub elapsed: Duration,
}

impl ObjectFailed<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let outcome = self.disposition.label();
        metrics.time(&PARSE_DURATION, &[outcome], self.elapsed);
        metrics.count(&FILES_PROCESSED, &[ANY_FEED, outcome], 1);
        match self.disposition {
            Disposition::Retry => warn!(error = %self.error, "object failed; the message will be retried"),
            _ => error!(error = %self.error, "object failed; the message fails until it reaches the DLQ"),
        }
    }
}

/// A landing object gone before parse-file read it.
pub struct FileMissing<'a> {
    pub feed: &'a str,
}

impl FileMissing<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        warn!(feed = self.feed, "object no longer exists; nothing to parse");
        metrics.count(&FILES_PROCESSED, &[self.feed, "missing"], 1);
    }
}

/// A landing object overwritten since its event: the newer one has its own.
pub struct FileSuperseded<'a> {
    pub feed: &'a str,
}

impl FileSuperseded<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        info!(feed = self.feed, "object overwritten since its event; the newer one has its own");
        metrics.count(&FILES_PROCESSED, &[self.feed, "superseded"], 1);
    }
}

/// A landing key no feed claims, recorded as one error record.
pub struct FileUnmatched<'a> {
    pub reason: &'a str,
    pub rejects_key: &'a str,
}

impl FileUnmatched<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        warn!(reason = %self.reason, rejects_key = self.rejects_key, "landing key matches no feed");
        metrics.count(&FILES_PROCESSED, &[UNMATCHED_FEED, "unmatched"], 1);
    }
}

/// A file parsed and its manifest written.
pub struct FileWritten<'a> {
    pub feed: &'a str,
    /// The manifest's status (parsed, partial, failed).
    pub status: &'static str,
    pub rows: u64,
    pub rejected: u64,
    pub parts: u64,
    pub bytes: u64,
    pub widened: u64,
    /// Why the file could not be read completely, if so.
    pub error: Option<&'a dyn Display>,
}

impl FileWritten<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let f = self.feed;
        metrics.count(&FILES_PROCESSED, &[f, self.status], 1);
        metrics.count(&ROWS_WRITTEN, &[f], self.rows);
        metrics.count(&ROWS_REJECTED, &[f], self.rejected);
        metrics.count(&PARTS_WRITTEN, &[f], self.parts);
        metrics.count(&BYTES_READ, &[f], self.bytes);
        metrics.count(&COLUMNS_WIDENED, &[f], self.widened);
        if let Some(e) = self.error {
            warn!(error = %e, status = self.status, "file could not be read completely; see the rejects");
        }
    }
}

// ---------------------------------------------------------------- load-warehouse

/// A manifest gone before it was loaded.
pub struct ManifestMissing<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
}

impl ManifestMissing<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        warn!(bucket = self.bucket, key = self.key, "manifest no longer exists; nothing to load");
        metrics.count(&MANIFESTS_MISSING, &[], 1);
    }
}

/// A manifest that could not be fetched or read.
pub struct ManifestUnreadable<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub retryable: bool,
    pub error: &'a dyn Display,
}

impl ManifestUnreadable<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        error!(bucket = self.bucket, key = self.key, error = %self.error, "manifest could not be read");
        metrics.count(&MANIFESTS_UNREADABLE, &[yes_no(self.retryable)], 1);
    }
}

/// A table's load not started because the deadline is near.
pub struct LoadDeferred<'a> {
    pub table: &'a str,
    pub left: Duration,
}

impl LoadDeferred<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        warn!(left_ms = self.left.as_millis() as u64, "too close to the deadline to start the load");
        metrics.count(&LOADS_DEFERRED, &[self.table], 1);
    }
}

/// A table's load committed.
pub struct LoadCommitted<'a> {
    pub table: &'a str,
    pub report: &'a LoadReport,
    pub elapsed: Duration,
}

impl LoadCommitted<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let (table, report) = (self.table, self.report);
        metrics.time(&LOAD_DURATION, &[table, "committed"], self.elapsed);
        for f in &report.files {
            metrics.count(&FILES_LOADED, &[table, f.status.as_str()], 1);
        }
        metrics.count(&FILES_SKIPPED, &[table, "already_loaded"], report.already_loaded.len() as u64);
        metrics.count(&ROWS_LOADED, &[table], report.rows_loaded);
        metrics.count(&ROWS_REJECTED_AT_LOAD, &[table], report.rows_rejected_at_load);
        metrics.count(&COLUMNS_CHANGED, &[table], report.changes.len() as u64);
        metrics.count(&LOADS_COMPLETED, &[table, "committed"], 1);
        info!(
            files = report.files.len(),
            already_loaded = report.already_loaded.len(),
            rows = report.rows_loaded,
            rejected_at_load = report.rows_rejected_at_load,
            changes = ?report.changes,
            attempts = report.attempts,
            elapsed_ms = self.elapsed.as_millis() as u64,
            "load committed"
        );
    }
}

/// A table's load failed: its messages fail.
pub struct LoadFailed<'a> {
    pub table: &'a str,
    pub disposition: Disposition,
    pub error: &'a dyn Display,
    pub elapsed: Duration,
}

impl LoadFailed<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let table = self.table;
        metrics.time(&LOAD_DURATION, &[table, self.disposition.label()], self.elapsed);
        if self.disposition == Disposition::Retry {
            metrics.count(&LOADS_COMPLETED, &[table, "retry"], 1);
            warn!(error = %self.error, "load failed; its messages will be retried");
        } else {
            metrics.count(&LOADS_COMPLETED, &[table, "failed"], 1);
            error!(error = %self.error, "load failed permanently; its messages go to the DLQ after their retries");
        }
    }
}

// ---------------------------------------------------------------- register-partitions

/// A table not registered because the deadline is near.
pub struct TableDeferred;

impl TableDeferred {
    pub fn emit(&self, metrics: &Metrics) {
        warn!("too close to the deadline to start; its messages will be delivered again");
        metrics.count(&TABLES_DEFERRED, &["deadline"], 1);
    }
}

/// A table's registration finished, every partition created or not.
pub struct TableRegistered<'a> {
    pub table: &'a str,
    pub ok: bool,
    pub elapsed: Duration,
}

impl TableRegistered<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let outcome = if self.ok { "ok" } else { "failed" };
        debug!(table = self.table, outcome, elapsed_ms = self.elapsed.as_millis() as u64, "table registered");
        metrics.time(&REGISTER_DURATION, &[outcome], self.elapsed);
    }
}

/// A part's footer read.
pub struct FooterRead<'a> {
    pub key: &'a str,
    pub columns: usize,
}

impl FooterRead<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(key = self.key, columns = self.columns, "footer read");
        metrics.count(&FOOTERS_READ, &[], 1);
    }
}

/// A part no retry makes readable: counted, logged, and its message succeeds.
pub struct PartUnreadable<'a> {
    pub key: &'a str,
    pub reason: &'static str,
    pub error: &'a dyn Display,
}

impl PartUnreadable<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        error!(key = self.key, error = %self.error, "part cannot be registered");
        metrics.count(&PARTS_UNREADABLE, &[self.reason], 1);
    }
}

/// A Glue call, or one entry of a batch call, failed.
pub struct CatalogFailed<'a> {
    pub table: &'a str,
    /// The partition, for a failed entry of BatchCreatePartition.
    pub dt: Option<&'a str>,
    pub kind: &'static str,
    pub error: &'a dyn Display,
}

impl CatalogFailed<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        match self.dt {
            Some(dt) => error!(table = self.table, dt, kind = self.kind, error = %self.error, "partition not created"),
            None => error!(table = self.table, kind = self.kind, error = %self.error, "table not ensured"),
        }
        metrics.count(&CATALOG_ERRORS, &[self.kind], 1);
    }
}

/// A BatchCreatePartition call about to be sent.
pub struct PartitionBatchSent<'a> {
    pub table: &'a str,
    pub partitions: usize,
}

impl PartitionBatchSent<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(table = self.table, partitions = self.partitions, "BatchCreatePartition sent");
        metrics.count(&PARTITION_BATCHES_SENT, &[], 1);
    }
}

/// A table's partitions added (or found there already).
pub struct PartitionsRegistered<'a> {
    pub table: &'a str,
    pub created: usize,
    pub existing: usize,
    pub failed: usize,
}

impl PartitionsRegistered<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let table = self.table;
        metrics.count(&PARTITIONS_REGISTERED, &[table], self.created as u64);
        metrics.count(&PARTITIONS_EXISTING, &[table], self.existing as u64);
        info!(table, created = self.created, existing = self.existing, failed = self.failed, "partitions registered");
    }
}

/// A repair compared a table's prefixes with its catalog partitions.
pub struct PartitionsCompared<'a> {
    pub table: &'a str,
    pub listed: usize,
    pub missing: usize,
}

impl PartitionsCompared<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        info!(table = self.table, listed = self.listed, missing = self.missing, "partitions compared");
        metrics.count(&PARTITIONS_MISSING, &[self.table], self.missing as u64);
    }
}

/// A Glue table created from its parts' footers.
pub struct TableCreated<'a> {
    pub table: &'a str,
    pub columns: usize,
}

impl TableCreated<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        info!(table = self.table, columns = self.columns, "table created");
        metrics.count(&TABLES_CREATED, &[], 1);
    }
}

/// A Glue table evolved: columns added or widened.
pub struct TableEvolved<'a> {
    pub table: &'a str,
    pub added: &'a [String],
    /// `column: from -> to`
    pub widened: &'a [String],
}

impl TableEvolved<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let table = self.table;
        metrics.count(&TABLES_UPDATED, &[], 1);
        metrics.count(&COLUMNS_ADDED, &[table], self.added.len() as u64);
        metrics.count(&CATALOG_COLUMNS_WIDENED, &[table], self.widened.len() as u64);
        info!(table, added = ?self.added, widened = ?self.widened, "table evolved");
    }
}
