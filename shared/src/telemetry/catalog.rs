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

mod ingest;
mod operations;

pub use ingest::*;
pub use operations::*;

#[cfg(test)]
mod tests;
