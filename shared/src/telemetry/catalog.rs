//! Every metric landfall emits, defined once, and the events that emit them.
//!
//! A [`Metric`] is a name, a unit and its label names; [`ALL`] lists them,
//! and the tests hold Terraform's alarms and dashboard
//! (`terraform/modules/alarms/main.tf`) to it: every metric name and label set
//! they reference is defined here. CloudWatch adds the `function` dimension
//! to every label set ([`super::Metrics::flush_emf`]).
//!
//! An event is one struct per thing that happens; its `emit(&metrics)` writes
//! the log line and records its metrics with the right labels, so no call
//! site names a metric or keeps a label set by hand. Several events may feed
//! one metric (`files_processed` is counted by each way a file can end).
//! Events of run-job and monitor-feeds, whose call sites also log on their
//! own, write their line at debug level.

use std::fmt::{Debug, Display};
use std::time::Duration;

use tracing::{debug, error, info, warn};

use super::Metrics;
use crate::disposition::Disposition;
use crate::layout::UNMATCHED_FEED;
use crate::warehouse::LoadReport;

/// What a metric's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A counter, summed per flush.
    Count,
    /// A distribution of durations; CloudWatch keeps its percentiles.
    Milliseconds,
}

impl Unit {
    /// The EMF unit name.
    pub(crate) fn emf(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One metric: the name CloudWatch shows, its unit and the names of its
/// labels (dimensions besides `function`), in the order events give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub labels: &'static [&'static str],
    /// What it counts, for readers of this file and of the dashboard.
    pub help: &'static str,
}

macro_rules! metrics {
    ($($(#[$doc:meta])* $id:ident = $name:literal, $unit:ident, [$($label:literal),*], $help:literal;)*) => {
        $($(#[$doc])* #[doc = $help] pub const $id: Metric = Metric { name: $name, unit: Unit::$unit, labels: &[$($label),*], help: $help };)*
        /// Every metric, once.
        pub const ALL: &[Metric] = &[$($id),*];
    };
}

metrics! {
    // Every function.
    INVOCATION_DURATION = "invocation_duration", Milliseconds, ["outcome"], "An invocation's duration, by ok or error.";
    // The SQS notice pipeline (parse-file, load-warehouse, register-partitions).
    MESSAGES_FAILED = "messages_failed", Count, ["disposition"], "SQS messages answered as failures, by retry or dead_letter.";
    EVENTS_INVALID = "events_invalid", Count, ["reason"], "Payloads, bodies or requests no function understands: shape, body, repair_request.";
    EVENTS_SKIPPED = "events_skipped", Count, ["reason"], "Records deliberately not processed (test events, removals, foreign keys, own messages).";
    // parse-file.
    MESSAGES_DEFERRED = "messages_deferred", Count, ["reason"], "Messages not started for lack of time; SQS delivers them again.";
    PARSE_DURATION = "parse_duration", Milliseconds, ["outcome"], "One landing object's parse, by outcome or disposition.";
    FILES_PROCESSED = "files_processed", Count, ["feed", "outcome"], "Landing objects by feed and how they ended (parsed, partial, failed, missing, superseded, unmatched, retry, dead_letter).";
    ROWS_WRITTEN = "rows_written", Count, ["feed"], "Rows parse-file wrote to Parquet parts.";
    ROWS_REJECTED = "rows_rejected", Count, ["feed"], "Rows parse-file rejected into the rejects file.";
    PARTS_WRITTEN = "parts_written", Count, ["feed"], "Parquet parts written.";
    BYTES_READ = "bytes_read", Count, ["feed"], "Landing bytes read.";
    COLUMNS_WIDENED = "columns_widened", Count, ["feed"], "Columns parse-file widened while writing a file.";
    // load-warehouse.
    MANIFESTS_MISSING = "manifests_missing", Count, [], "Manifests gone before they were loaded.";
    MANIFESTS_UNREADABLE = "manifests_unreadable", Count, ["retryable"], "Manifests that could not be fetched or read.";
    LOADS_DEFERRED = "loads_deferred", Count, ["table"], "Table loads not started for lack of time.";
    LOAD_DURATION = "load_duration", Milliseconds, ["table", "outcome"], "One table's load transaction.";
    FILES_LOADED = "files_loaded", Count, ["table", "status"], "Files a load recorded in the ledger, by status.";
    FILES_SKIPPED = "files_skipped", Count, ["table", "reason"], "Files a load skipped (already_loaded).";
    ROWS_LOADED = "rows_loaded", Count, ["table"], "Rows committed to the warehouse.";
    ROWS_REJECTED_AT_LOAD = "rows_rejected_at_load", Count, ["table"], "Rows the warehouse refused at load time.";
    COLUMNS_CHANGED = "columns_changed", Count, ["table"], "Columns a load added or widened in the warehouse.";
    LOADS_COMPLETED = "loads_completed", Count, ["table", "outcome"], "Table loads by committed, retry or failed.";
    // register-partitions (and run-job's archive).
    TABLES_DEFERRED = "tables_deferred", Count, ["reason"], "Tables not registered for lack of time.";
    REGISTER_DURATION = "register_duration", Milliseconds, ["outcome"], "One table's registration.";
    FOOTERS_READ = "footers_read", Count, [], "Parquet footers read by ranged GET.";
    PARTS_UNREADABLE = "parts_unreadable", Count, ["reason"], "Parts that can never be registered.";
    CATALOG_ERRORS = "catalog_errors", Count, ["kind"], "Glue calls or entries that failed, by kind.";
    PARTITION_BATCHES_SENT = "partition_batches_sent", Count, [], "BatchCreatePartition calls.";
    PARTITIONS_REGISTERED = "partitions_registered", Count, ["table"], "Partitions added to the catalog.";
    PARTITIONS_EXISTING = "partitions_existing", Count, ["table"], "Partitions the catalog had already.";
    PARTITIONS_MISSING = "partitions_missing", Count, ["table"], "Partitions a repair found missing.";
    TABLES_CREATED = "tables_created", Count, [], "Glue tables created.";
    TABLES_UPDATED = "tables_updated", Count, [], "Glue tables evolved.";
    COLUMNS_ADDED = "columns_added", Count, ["table"], "Columns added to a Glue table.";
    CATALOG_COLUMNS_WIDENED = "catalog_columns_widened", Count, ["table"], "Columns widened in a Glue table.";
    // fetch-api.
    PAGES_FETCHED = "pages_fetched", Count, ["source"], "Pages landed from a source.";
    RECORDS_FETCHED = "records_fetched", Count, ["source"], "Records landed from a source.";
    SOURCE_RETRIES = "source_retries", Count, ["source"], "Database source pages retried after a reconnect.";
    REQUESTS_RETRIED = "requests_retried", Count, ["source", "reason"], "HTTP requests retried, by reason.";
    TOKENS_FETCHED = "tokens_fetched", Count, ["source"], "OAuth tokens fetched.";
    RUNS_COMPLETED = "runs_completed", Count, ["source", "outcome"], "Fetch runs by complete, partial, conflict or failed.";
    // monitor-feeds.
    FEEDS_DEFERRED = "feeds_deferred", Count, [], "Feeds not evaluated for lack of time.";
    FEEDS_EVALUATED = "feeds_evaluated", Count, ["outcome"], "Feeds evaluated, by ok or failed.";
    EVALUATION_DURATION = "evaluation_duration", Milliseconds, ["outcome"], "One feed's evaluation.";
    SERIES_EVALUATED = "series_evaluated", Count, ["feed"], "Series of a feed evaluated.";
    ALERTS_OPENED = "alerts_opened", Count, ["feed", "kind"], "Feed alerts opened.";
    ALERTS_RESOLVED = "alerts_resolved", Count, ["feed", "kind"], "Feed alerts resolved.";
    FILES_DIGESTED = "files_digested", Count, ["feed", "status"], "Refused and failed files told in a digest.";
    ALARMS_FORWARDED = "alarms_forwarded", Count, ["state"], "CloudWatch alarms forwarded to Slack.";
    NOTIFICATIONS_SENT = "notifications_sent", Count, ["channel", "what"], "Notices delivered, by channel and what they tell.";
    NOTIFICATIONS_FAILED = "notifications_failed", Count, ["channel", "what"], "Notices not delivered after their retries.";
    NOTIFICATIONS_UNROUTED = "notifications_unrouted", Count, ["what"], "Notices no channel was configured for.";
    // run-job.
    JOBS_COMPLETED = "jobs_completed", Count, ["job", "kind", "outcome"], "Job runs by succeeded, failed or skipped.";
    JOB_ROWS_WRITTEN = "job_rows_written", Count, ["job"], "Rows a job wrote.";
    BYTES_WRITTEN = "bytes_written", Count, ["job"], "Bytes a job wrote.";
}

/// The metric named `name`, if the catalog has it.
pub fn find(name: &str) -> Option<&'static Metric> {
    ALL.iter().find(|m| m.name == name)
}

/// The `feed` label of a file whose feed is not known (it failed before).
pub(crate) const ANY_FEED: &str = "_any";

fn yes_no(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

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

// ---------------------------------------------------------------- fetch-api

/// A page of a source landed.
pub struct PageFetched<'a> {
    pub source: &'a str,
    pub records: u64,
}

impl PageFetched<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(source = self.source, records = self.records, "page landed");
        metrics.count(&PAGES_FETCHED, &[self.source], 1);
        metrics.count(&RECORDS_FETCHED, &[self.source], self.records);
    }
}

/// A database source's page failed and is tried again on a new connection.
pub struct SourcePageRetried<'a> {
    pub source: &'a str,
    pub attempt: u32,
    pub error: &'a dyn Display,
}

impl SourcePageRetried<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        warn!(attempt = self.attempt, error = %self.error, "source page failed; reconnecting");
        metrics.count(&SOURCE_RETRIES, &[self.source], 1);
    }
}

/// An HTTP request retried.
pub struct RequestRetried<'a> {
    pub source: &'a str,
    pub reason: &'static str,
    pub page: u32,
    pub attempt: u32,
    pub wait: Duration,
    pub error: &'a dyn Display,
}

impl RequestRetried<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let wait_ms = self.wait.as_millis() as u64;
        warn!(page = self.page, attempt = self.attempt, reason = self.reason, wait_ms, error = %self.error, "retrying");
        metrics.count(&REQUESTS_RETRIED, &[self.source, self.reason], 1);
    }
}

/// An OAuth token fetched for a source.
pub struct TokenFetched<'a> {
    pub source: &'a str,
    pub lifetime_s: u64,
}

impl TokenFetched<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(source = self.source, lifetime_s = self.lifetime_s, "token fetched");
        metrics.count(&TOKENS_FETCHED, &[self.source], 1);
    }
}

/// A fetch run finished: complete, or partial (stopped by its budget or limits).
pub struct RunFinished<'a> {
    pub source: &'a str,
    pub pages: u32,
    pub records: u64,
    pub complete: bool,
    pub stopped: Option<&'a str>,
}

impl RunFinished<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let outcome = if self.complete { "complete" } else { "partial" };
        info!(pages = self.pages, records = self.records, complete = self.complete, stopped = ?self.stopped, "run finished");
        metrics.count(&RUNS_COMPLETED, &[self.source, outcome], 1);
    }
}

/// A fetch run failed, or found another run holding the source.
pub struct RunFailed<'a> {
    pub source: &'a str,
    pub conflict: bool,
    pub disposition: Disposition,
    pub error: &'a dyn Display,
}

impl RunFailed<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let outcome = if self.conflict { "conflict" } else { "failed" };
        warn!(error = %self.error, disposition = self.disposition.label(), "run failed");
        metrics.count(&RUNS_COMPLETED, &[self.source, outcome], 1);
    }
}

// ---------------------------------------------------------------- monitor-feeds

/// A feed not evaluated because the deadline is near.
pub struct FeedDeferred;

impl FeedDeferred {
    pub fn emit(&self, metrics: &Metrics) {
        debug!("feed deferred to the next run");
        metrics.count(&FEEDS_DEFERRED, &[], 1);
    }
}

/// A feed evaluated, or failed to be.
pub struct FeedEvaluated {
    pub ok: bool,
    pub elapsed: Duration,
}

impl FeedEvaluated {
    pub fn emit(&self, metrics: &Metrics) {
        let outcome = if self.ok { "ok" } else { "failed" };
        debug!(outcome, elapsed_ms = self.elapsed.as_millis() as u64, "feed evaluated");
        metrics.count(&FEEDS_EVALUATED, &[outcome], 1);
        metrics.time(&EVALUATION_DURATION, &[outcome], self.elapsed);
    }
}

/// The series of a feed evaluated.
pub struct SeriesEvaluated<'a> {
    pub feed: &'a str,
    pub series: usize,
}

impl SeriesEvaluated<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(feed = self.feed, series = self.series, "series evaluated");
        metrics.count(&SERIES_EVALUATED, &[self.feed], self.series as u64);
    }
}

/// Whether an alert opened or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertChange {
    Opened,
    Resolved,
}

/// A feed alert opened or resolved (and about to be told).
pub struct AlertChanged<'a> {
    pub change: AlertChange,
    pub feed: &'a str,
    pub kind: &'a str,
}

impl AlertChanged<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let metric = match self.change {
            AlertChange::Opened => &ALERTS_OPENED,
            AlertChange::Resolved => &ALERTS_RESOLVED,
        };
        debug!(feed = self.feed, kind = self.kind, change = ?self.change, "alert counted");
        metrics.count(metric, &[self.feed, self.kind], 1);
    }
}

/// Refused or failed files of a feed told in the digest.
pub struct FilesDigested<'a> {
    pub feed: &'a str,
    pub status: &'a str,
    pub files: u64,
}

impl FilesDigested<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(feed = self.feed, status = self.status, files = self.files, "files digested");
        metrics.count(&FILES_DIGESTED, &[self.feed, self.status], self.files);
    }
}

/// A CloudWatch alarm forwarded to Slack.
pub struct AlarmForwarded<'a> {
    pub state: &'a str,
}

impl AlarmForwarded<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(state = self.state, "alarm counted");
        metrics.count(&ALARMS_FORWARDED, &[self.state], 1);
    }
}

/// An SNS record monitor-feeds does not forward: its own message, or not an alarm.
pub struct SnsRecordSkipped<'a> {
    pub reason: &'a str,
}

impl SnsRecordSkipped<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(reason = self.reason, "SNS record skipped");
        metrics.count(&EVENTS_SKIPPED, &[self.reason], 1);
    }
}

/// A notice delivered to a channel, or not after its retries (monitor-feeds'
/// alerts, digests and alarms; run-job's reports).
pub struct NotificationDelivered<'a> {
    pub channel: &'a str,
    pub what: &'a str,
    pub ok: bool,
}

impl NotificationDelivered<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let metric = if self.ok { &NOTIFICATIONS_SENT } else { &NOTIFICATIONS_FAILED };
        debug!(channel = self.channel, what = self.what, ok = self.ok, "notification counted");
        metrics.count(metric, &[self.channel, self.what], 1);
    }
}

/// A notice no channel was configured for.
pub struct NotificationUnrouted<'a> {
    pub what: &'a str,
}

impl NotificationUnrouted<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(what = self.what, "notification unrouted");
        metrics.count(&NOTIFICATIONS_UNROUTED, &[self.what], 1);
    }
}

// ---------------------------------------------------------------- run-job

/// A job run ended: succeeded, failed or skipped.
pub struct JobCompleted<'a> {
    pub job: &'a str,
    pub kind: &'a str,
    pub outcome: &'a str,
}

impl JobCompleted<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(job = self.job, kind = self.kind, outcome = self.outcome, "job counted");
        metrics.count(&JOBS_COMPLETED, &[self.job, self.kind, self.outcome], 1);
    }
}

/// What a job run wrote.
pub struct JobWrote<'a> {
    pub job: &'a str,
    pub rows: u64,
    pub bytes: u64,
}

impl JobWrote<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(job = self.job, rows = self.rows, bytes = self.bytes, "job output counted");
        metrics.count(&JOB_ROWS_WRITTEN, &[self.job], self.rows);
        metrics.count(&BYTES_WRITTEN, &[self.job], self.bytes);
    }
}

/// Partitions an archive job added to the catalog.
pub struct ArchivePartitionsRegistered<'a> {
    pub table: &'a str,
    pub partitions: usize,
}

impl ArchivePartitionsRegistered<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        debug!(table = self.table, partitions = self.partitions, "archive partitions registered");
        metrics.count(&PARTITIONS_REGISTERED, &[self.table], self.partitions as u64);
    }
}

#[cfg(test)]
mod tests;
