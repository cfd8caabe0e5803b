//! The events of the scheduled functions: fetch-api, monitor-feeds and
//! run-job.

use super::*;

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
