//! parse-file: a landing-bucket object becomes typed Parquet parts, a rejects
//! file and, written last, a manifest in the curated bucket.
//!
//! Outcomes per object: data problems (bad rows, an unreadable file, a key no
//! feed claims, an object deleted before we got to it) are recorded in the
//! curated bucket and the message succeeds; transport faults and permission
//! problems fail the message so SQS retries it and, in the end, parks it in
//! the dead-letter queue.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use landfall::config::Config;
use landfall::convert::{ConvertError, ConvertRequest, convert};
use landfall::disposition::Disposition;
use landfall::events::{Notice, ObjectCreated};
use landfall::lambda::FunctionBudget;
use landfall::layout;
use landfall::manifest::{FileStatus, MANIFEST_VERSION, Manifest, SourceObject};
use landfall::parse_failures::{self, ParseFailure};
use landfall::pipeline::{Budget, Decoded, Dispositions, NoticeHandler, Processed};
use landfall::record::SinkError;
use landfall::rejects::{self, Reject};
use landfall::storage::{ObjectStore, StorageError, Version};
use landfall::telemetry::Metrics;
use landfall::telemetry::catalog::{
    FileMissing, FileSuperseded, FileUnmatched, FileWritten, MessageDeferred, ObjectFailed, ObjectProcessed,
};
use landfall::threads::Threads;
use serde_json::{Value, json};
use tracing::{Instrument, info_span};

/// parse-file's [`NoticeHandler::DEADLINE_MARGIN`]: a large file takes about
/// this long to parse, so a message is not started with less than this left.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

/// Settings read once from the environment at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub curated_bucket: String,
    /// Scratch space for Parquet parts before upload (`/tmp` in Lambda).
    pub work_dir: PathBuf,
    /// `LANDFALL_PARSE_THREADS`: 1, 2 or auto (two where there are two cores).
    pub threads: Threads,
}

mod names;
mod staging;

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Names(#[from] names::NamesError),
    #[error("converting {url}: {source}")]
    Convert { url: String, source: ConvertError },
    #[error("creating scratch space in {dir}: {source}")]
    Scratch { dir: String, source: std::io::Error },
    #[error("encoding a rejects record: {0}")]
    EncodeRejects(std::io::Error),
    #[error("the parse task for {url} stopped: {message}")]
    Task { url: String, message: String },
}

impl ParseError {
    /// An error here means the file's fate is recorded nowhere: a fate that
    /// can be recorded (a missing or superseded object, bad data, an
    /// unmatched key) is an [`Outcome`], not an error. So no error lets the
    /// message go: transient faults are retried, and the rest (access
    /// denied, an answer S3 should never give) go to the DLQ for an operator.
    pub fn disposition(&self) -> Disposition {
        match self {
            ParseError::Storage(e) => Disposition::of_fault(e.retryable()),
            ParseError::Convert { source, .. } => match storage_cause(source) {
                Some(e) => Disposition::of_fault(e.retryable()),
                None => Disposition::of_fault(source.retryable()),
            },
            ParseError::Names(names::NamesError::Storage(e)) => Disposition::of_fault(e.retryable()),
            ParseError::Names(names::NamesError::Conflict { .. }) => Disposition::Retry,
            ParseError::Names(names::NamesError::Corrupt { .. }) => Disposition::DeadLetter,
            ParseError::Scratch { .. } | ParseError::Task { .. } => Disposition::Retry,
            ParseError::EncodeRejects(_) => Disposition::DeadLetter,
        }
    }
}

/// The S3 failure behind a conversion that stopped while uploading a part.
fn storage_cause(e: &ConvertError) -> Option<&StorageError> {
    match e {
        ConvertError::Sink(SinkError { source: Some(cause), .. }) => cause.downcast_ref::<StorageError>(),
        _ => None,
    }
}

/// What happened to one object (logged, counted, returned for direct invokes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Written { feed: String, status: FileStatus, manifest_key: String, rows: u64, rejected: u64, parts: usize },
    Unmatched { rejects_key: String },
    Missing,
    Superseded,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Written { status, .. } => status.as_str(),
            Outcome::Unmatched { .. } => "unmatched",
            Outcome::Missing => "missing",
            Outcome::Superseded => "superseded",
        }
    }
}

#[derive(Clone)]
pub struct ParseFile {
    store: Arc<dyn ObjectStore>,
    config: Arc<Config>,
    settings: Arc<Settings>,
    metrics: Metrics,
    /// What a file may cost this function (no bound until [`Self::with_budget`]).
    budget: FunctionBudget,
}

impl ParseFile {
    pub fn new(store: Arc<dyn ObjectStore>, config: Arc<Config>, settings: Settings, metrics: Metrics) -> Self {
        Self { store, config, settings: Arc::new(settings), metrics, budget: FunctionBudget::default() }
    }

    /// Bounds each file by what this function affords (Lambda: `FunctionBudget::from_env`).
    pub fn with_budget(mut self, budget: FunctionBudget) -> Self {
        self.budget = budget;
        self
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    async fn handle_notice(&self, notice: &Notice, budget: &Budget) -> Vec<Result<Outcome, ParseError>> {
        let mut results = Vec::with_capacity(notice.objects.len());
        for object in &notice.objects {
            let span =
                info_span!("object", bucket = %object.bucket, key = %object.key, file_id = tracing::field::Empty);
            let started = Instant::now();
            let result = self.process_within(object, budget.remaining()).instrument(span.clone()).await;
            let _enter = span.enter();
            let elapsed = started.elapsed();
            match &result {
                Ok(outcome) => {
                    ObjectProcessed { outcome: outcome.label(), detail: outcome, elapsed }.emit(&self.metrics)
                }
                Err(e) => ObjectFailed { disposition: e.disposition(), error: e, elapsed }.emit(&self.metrics),
            }
            drop(_enter);
            if let Err(e) = &result {
                self.record_failure(object, e).instrument(span).await;
            }
            results.push(result);
        }
        results
    }

    /// Processes one created object end to end, with no deadline.
    pub async fn process(&self, object: &ObjectCreated) -> Result<Outcome, ParseError> {
        self.process_within(object, None).await
    }

    /// Processes one created object end to end; reading stops in time to
    /// record the file as unreadable when `remaining` runs out first.
    pub async fn process_within(
        &self,
        object: &ObjectCreated,
        remaining: Option<Duration>,
    ) -> Result<Outcome, ParseError> {
        let url = object.url();
        let arrival_date = arrival_date(object);
        let Some(feed) = self.config.feed_for_key(&object.key) else {
            return self.record_unmatched(object, &url).await;
        };
        let version = Version {
            version_id: object.version_id.as_deref(),
            if_match: if object.version_id.is_none() { object.etag.as_deref() } else { None },
        };
        let body = match self.store.get(&object.bucket, &object.key, version).await {
            Ok(body) => body,
            Err(StorageError::NotFound { .. }) => {
                FileMissing { feed: &feed.name }.emit(&self.metrics);
                return Ok(Outcome::Missing);
            }
            Err(StorageError::PreconditionFailed { .. }) => {
                // Overwritten since the event: the newer object has its own event.
                FileSuperseded { feed: &feed.name }.emit(&self.metrics);
                return Ok(Outcome::Superseded);
            }
            Err(e) => return Err(e.into()),
        };
        let meta = body.meta.clone();
        let etag = meta.etag.clone().or_else(|| object.etag.clone());
        let version_id = meta.version_id.clone().or_else(|| object.version_id.clone());
        let file_id = layout::file_id(&object.bucket, &object.key, etag.as_deref(), version_id.as_deref());
        tracing::Span::current().record("file_id", file_id.as_str());

        let scratch = tempfile::Builder::new()
            .prefix("parse-")
            .tempdir_in(&self.settings.work_dir)
            .map_err(|source| ParseError::Scratch { dir: self.settings.work_dir.display().to_string(), source })?;

        let staged =
            staging::Staged::new(Arc::clone(&self.store), &self.settings.curated_bucket, &feed.table, &file_id);
        let on_part = staged.sink();

        let recorded = names::read(self.store.as_ref(), &self.settings.curated_bucket, &feed.table).await?;
        let outcome = {
            let mut feed = feed.clone();
            self.budget.apply(&mut feed.read, remaining);
            let names = recorded.rules(self.config.warehouse.driver);
            let task_url = url.clone();
            let key = object.key.clone();
            let dir = scratch.path().to_path_buf();
            let threads = self.settings.threads;
            let scratch_bytes = self.budget.scratch_bytes();
            let reader = tokio_util::io::SyncIoBridge::new(body.reader);
            let converted = tokio::task::spawn_blocking(move || {
                let req = ConvertRequest {
                    feed: &feed,
                    source_url: &task_url,
                    name: &key,
                    arrival_date,
                    work_dir: &dir,
                    threads,
                    names,
                    scratch_bytes,
                };
                convert(reader, &req, on_part)
            })
            .await
            .map_err(|e| ParseError::Task { url: url.clone(), message: e.to_string() })
            .and_then(|r| r.map_err(|source| ParseError::Convert { url: url.clone(), source }));
            match converted {
                Ok(outcome) => outcome,
                Err(e) => {
                    staged.discard().await;
                    return Err(e);
                }
            }
        };

        // Before the manifest: a loaded file's names are always recorded.
        if matches!(outcome.status, FileStatus::Parsed | FileStatus::Partial) {
            let added = &outcome.write.added_names;
            names::record(self.store.as_ref(), &self.settings.curated_bucket, &feed.table, &recorded, added).await?;
        }

        let rejects_key = match &outcome.rejects_file {
            Some(path) => {
                let key = layout::rejects_key(&feed.name, &file_id);
                self.store.put_file(&self.settings.curated_bucket, &key, path, "application/gzip").await?;
                Some(key)
            }
            None => None,
        };

        // The parts move where readers look only now that the file is whole, just before its manifest.
        let parts = staged.publish().await?;
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            file_id: file_id.clone(),
            source: SourceObject {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
                url: url.clone(),
                version_id,
                etag,
                size: meta.size,
                sequencer: object.sequencer.clone(),
            },
            feed: feed.name.clone(),
            table: feed.table.clone(),
            status: outcome.status,
            error: outcome.error.clone(),
            input: outcome.input.clone(),
            schema: outcome.write.columns.clone(),
            parts,
            rows: outcome.write.rows_written,
            rejected_rows: outcome.rejected,
            rejects_key: rejects_key.clone(),
            widenings: outcome.write.widenings.clone(),
            discarded_columns: outcome.write.discarded_columns.clone(),
            arrival_date: arrival_date.format("%Y-%m-%d").to_string(),
            parsed_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            producer: concat!("landfall parse-file ", env!("CARGO_PKG_VERSION")).to_owned(),
        };
        let manifest_key = layout::manifest_key(&feed.table, &file_id);
        // Last: its existence promises that every part above is durable.
        self.store
            .put_bytes(&self.settings.curated_bucket, &manifest_key, manifest.to_json(), "application/json")
            .await?;

        FileWritten {
            feed: &feed.name,
            status: manifest.status.as_str(),
            rows: manifest.rows,
            rejected: manifest.rejected_rows,
            parts: manifest.parts.len() as u64,
            bytes: meta.size,
            widened: manifest.widenings.len() as u64,
            error: outcome.error.as_ref().map(|e| e as &dyn std::fmt::Display),
        }
        .emit(&self.metrics);
        Ok(Outcome::Written {
            feed: feed.name.clone(),
            status: manifest.status,
            manifest_key,
            rows: manifest.rows,
            rejected: manifest.rejected_rows,
            parts: manifest.parts.len(),
        })
    }

    /// Leaves the file's error where `landfall file` reads it
    /// ([`parse_failures`]): the message is about to come back or go to the
    /// dead-letter queue, and neither keeps the error. A record that cannot
    /// be written is logged; the message fails either way.
    async fn record_failure(&self, object: &ObjectCreated, error: &ParseError) {
        let feed = self.config.feed_for_key(&object.key);
        let failure = ParseFailure {
            file_id: layout::file_id(&object.bucket, &object.key, object.etag.as_deref(), object.version_id.as_deref()),
            feed: feed.map_or(layout::UNMATCHED_FEED, |f| f.name.as_str()).to_owned(),
            table: feed.map(|f| f.table.clone()).unwrap_or_default(),
            source_url: object.url(),
            disposition: error.disposition().label().to_owned(),
            error: error.to_string(),
            attempts: 0,
            failed_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        if let Err(e) = parse_failures::record(self.store.as_ref(), &self.settings.curated_bucket, &failure).await {
            tracing::warn!(error = %e, "could not record the failure in {}", layout::FAILURES_PREFIX);
        }
    }

    /// A key no feed claims: one error record, a warning and a metric, so a
    /// typo in a partner's folder name is visible rather than silently ignored.
    async fn record_unmatched(&self, object: &ObjectCreated, url: &str) -> Result<Outcome, ParseError> {
        let file_id =
            layout::file_id(&object.bucket, &object.key, object.etag.as_deref(), object.version_id.as_deref());
        let prefixes: Vec<&str> = self.config.feeds.iter().map(|f| f.prefix.as_str()).collect();
        let reason = format!("no feed matches this key; configured prefixes: {}", prefixes.join(", "));
        let reject = Reject::file_error(url, layout::UNMATCHED_FEED, None, reason.clone());
        let body = rejects::encode(&[reject]).map_err(ParseError::EncodeRejects)?;
        let rejects_key = layout::rejects_key(layout::UNMATCHED_FEED, &file_id);
        self.store.put_bytes(&self.settings.curated_bucket, &rejects_key, body, "application/gzip").await?;
        FileUnmatched { reason: &reason, rejects_key: &rejects_key }.emit(&self.metrics);
        Ok(Outcome::Unmatched { rejects_key })
    }
}

/// parse-file's step: message by message, each object of a notice parsed
/// in turn; a message fails with the most urgent of its objects' failures.
#[async_trait]
impl NoticeHandler for ParseFile {
    const NAME: &'static str = "parse-file";
    const DEADLINE_MARGIN: Duration = DEADLINE_MARGIN;
    /// Every object's result, message by message.
    type Report = Vec<Result<Outcome, ParseError>>;

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    async fn process(&self, notices: Vec<Decoded<'_>>, budget: Budget) -> Processed<Self::Report> {
        let mut failed = Dispositions::default();
        let mut report = Vec::new();
        for Decoded { index, message_id, notice } in notices {
            let span = info_span!("message", message_id);
            if !budget.may_start() {
                span.in_scope(|| MessageDeferred.emit(&self.metrics));
                failed.fail(index, Disposition::Retry);
                continue;
            }
            let results = self.handle_notice(&notice, &budget).instrument(span).await;
            let disposition = results.iter().filter_map(|r| r.as_ref().err().map(ParseError::disposition)).min();
            failed.fail(index, disposition.unwrap_or(Disposition::Done));
            report.extend(results);
        }
        Processed { failed, report }
    }

    fn answer(&self, processed: Processed<Self::Report>) -> Result<Value, lambda_runtime::Error> {
        let mut summary = Vec::new();
        for r in processed.report {
            match r {
                Ok(o) => summary.push(json!(o.label())),
                Err(e) if e.disposition().fails_message() => return Err(Box::new(e)),
                Err(e) => summary.push(json!(e.to_string())),
            }
        }
        if let Some((_, disposition)) = processed.failed.iter().next() {
            return Err(format!("not processed ({}); invoke again", disposition.label()).into());
        }
        Ok(json!({ "outcomes": summary }))
    }
}

/// The date of an object's arrival, for feeds without a partition column.
fn arrival_date(object: &ObjectCreated) -> NaiveDate {
    object.event_time.unwrap_or_else(Utc::now).date_naive()
}
