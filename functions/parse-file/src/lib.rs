//! parse-file: a landing-bucket object becomes typed Parquet parts, a rejects
//! file and, written last, a manifest in the curated bucket.
//!
//! Outcomes per object: data problems (bad rows, an unreadable file, a key no
//! feed claims, an object deleted before we got to it) are recorded in the
//! curated bucket and the message succeeds; transport faults and permission
//! problems fail the message so SQS retries it and, in the end, parks it in
//! the dead-letter queue.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{NaiveDate, Utc};
use landfall::batch::{self, Failures};
use landfall::config::{Config, Feed};
use landfall::convert::{ConvertError, ConvertRequest, convert};
use landfall::disposition::Disposition;
use landfall::events::{self, Invocation, Notice, ObjectCreated};
use landfall::lambda::Deadline;
use landfall::layout;
use landfall::manifest::{FileStatus, MANIFEST_VERSION, Manifest, ManifestPart, SourceObject};
use landfall::record::SinkError;
use landfall::rejects::{self, Reject};
use landfall::storage::{ObjectStore, StorageError, Version};
use landfall::telemetry::Metrics;
use landfall::threads::Threads;
use serde_json::{Value, json};
use tracing::{Instrument, error, info, info_span, warn};

/// A message is not started with less than this left of the invocation:
/// a large file takes about this long to parse, and a message left
/// untouched is simply delivered again.
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

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(transparent)]
    Storage(#[from] StorageError),
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
}

impl ParseFile {
    pub fn new(store: Arc<dyn ObjectStore>, config: Arc<Config>, settings: Settings, metrics: Metrics) -> Self {
        Self { store, config, settings: Arc::new(settings), metrics }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The Lambda entry point: an SQS batch gets an `SqsBatchResponse`; a
    /// direct S3 or EventBridge invocation fails as a whole if any object
    /// needs a retry (Lambda's async retries then apply).
    pub async fn handle(&self, payload: Value, deadline: Deadline) -> Result<Value, lambda_runtime::Error> {
        match events::classify(payload) {
            Ok(Invocation::Sqs(event)) => Ok(serde_json::to_value(self.handle_sqs(event, deadline).await)?),
            Ok(Invocation::Direct(notice)) => {
                let results = self.handle_notice(&notice).await;
                let mut summary = Vec::new();
                for r in results {
                    match r {
                        Ok(o) => summary.push(json!(o.label())),
                        Err(e) if e.disposition().fails_message() => return Err(Box::new(e)),
                        Err(e) => summary.push(json!(e.to_string())),
                    }
                }
                Ok(json!({ "outcomes": summary }))
            }
            Err(e) => {
                self.metrics.incr("events_invalid", &[("reason", "shape")]);
                error!(error = %e, "invocation payload is not an event parse-file understands");
                Err(Box::new(e))
            }
        }
    }

    /// One SQS batch: each message succeeds or fails on its own; near the
    /// deadline, the messages not yet started are failed for a retry.
    pub async fn handle_sqs(&self, event: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
        let messages = match batch::identified(&event) {
            Ok(m) => m,
            Err(all_failed) => return all_failed,
        };
        let mut failures = Failures::default();
        for (message_id, message) in messages {
            let span = info_span!("message", message_id);
            if deadline.within(DEADLINE_MARGIN) {
                self.metrics.incr("messages_deferred", &[("reason", "deadline")]);
                span.in_scope(|| warn!("too close to the deadline to start; the message will be delivered again"));
                failures.fail(message_id, Disposition::Retry);
                continue;
            }
            let disposition = async {
                let notice = match events::parse_body(message.body.as_deref().unwrap_or("")) {
                    Ok(n) => n,
                    Err(e) => {
                        self.metrics.incr("events_invalid", &[("reason", "body")]);
                        error!(error = %e, "message body is not a notification; failing it so it reaches the DLQ");
                        return Disposition::DeadLetter;
                    }
                };
                self.handle_notice(&notice)
                    .await
                    .iter()
                    .filter_map(|r| r.as_ref().err().map(ParseError::disposition))
                    .min()
                    .unwrap_or(Disposition::Done)
            }
            .instrument(span)
            .await;
            failures.fail(message_id, disposition);
        }
        failures.into_response(&self.metrics)
    }

    async fn handle_notice(&self, notice: &Notice) -> Vec<Result<Outcome, ParseError>> {
        for skip in &notice.skipped {
            self.metrics.incr("events_skipped", &[("reason", skip.label())]);
            info!(reason = skip.label(), detail = ?skip, "event skipped");
        }
        let mut results = Vec::with_capacity(notice.objects.len());
        for object in &notice.objects {
            let span =
                info_span!("object", bucket = %object.bucket, key = %object.key, file_id = tracing::field::Empty);
            let started = Instant::now();
            let result = self.process(object).instrument(span.clone()).await;
            let _enter = span.enter();
            let outcome = match &result {
                Ok(o) => o.label(),
                Err(e) => e.disposition().label(),
            };
            self.metrics.observe("parse_duration", &[("outcome", outcome)], started.elapsed());
            match &result {
                Ok(outcome) => info!(outcome = outcome.label(), detail = ?outcome, "object processed"),
                Err(e) => {
                    let disposition = e.disposition();
                    self.metrics.incr("files_processed", &[("feed", "_any"), ("outcome", disposition.label())]);
                    match disposition {
                        Disposition::Retry => warn!(error = %e, "object failed; the message will be retried"),
                        _ => error!(error = %e, "object failed; the message fails until it reaches the DLQ"),
                    }
                }
            }
            results.push(result);
        }
        results
    }

    /// Processes one created object end to end.
    pub async fn process(&self, object: &ObjectCreated) -> Result<Outcome, ParseError> {
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
                self.metrics.incr("files_processed", &[("feed", &feed.name), ("outcome", "missing")]);
                warn!("object no longer exists; nothing to parse");
                return Ok(Outcome::Missing);
            }
            Err(StorageError::PreconditionFailed { .. }) => {
                // Overwritten since the event: the newer object has its own event.
                self.metrics.incr("files_processed", &[("feed", &feed.name), ("outcome", "superseded")]);
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

        let parts: Arc<Mutex<Vec<ManifestPart>>> = Arc::default();
        let on_part = {
            let store = Arc::clone(&self.store);
            let bucket = self.settings.curated_bucket.clone();
            let table = feed.table.clone();
            let file_id = file_id.clone();
            let parts = Arc::clone(&parts);
            let handle = tokio::runtime::Handle::current();
            Box::new(move |part: landfall::schema::FinishedPart| -> Result<(), SinkError> {
                let key = layout::part_key(&table, part.dt, &file_id, part.seq);
                handle.block_on(store.put_file(&bucket, &key, &part.path, "application/vnd.apache.parquet")).map_err(
                    // Failing to store a part is never a property of the file,
                    // so it must not be recorded as one: `retryable` stops the
                    // conversion, and the disposition reads the cause.
                    |e| SinkError { message: e.to_string(), retryable: true, source: Some(Box::new(e)) },
                )?;
                // The part is durable in S3; the local copy only takes /tmp space.
                let _ = std::fs::remove_file(&part.path);
                if let Ok(mut p) = parts.lock() {
                    p.push(ManifestPart {
                        url: layout::s3_url(&bucket, &key),
                        key,
                        dt: part.dt.format("%Y-%m-%d").to_string(),
                        rows: part.rows,
                        bytes: part.bytes,
                    });
                }
                Ok(())
            })
        };

        let outcome = {
            let feed = feed.clone();
            let task_url = url.clone();
            let key = object.key.clone();
            let dir = scratch.path().to_path_buf();
            let threads = self.settings.threads;
            let reader = tokio_util::io::SyncIoBridge::new(body.reader);
            tokio::task::spawn_blocking(move || {
                let req = ConvertRequest {
                    feed: &feed,
                    source_url: &task_url,
                    name: &key,
                    arrival_date,
                    work_dir: &dir,
                    threads,
                };
                convert(reader, &req, on_part)
            })
            .await
            .map_err(|e| ParseError::Task { url: url.clone(), message: e.to_string() })?
            .map_err(|source| ParseError::Convert { url: url.clone(), source })?
        };

        let rejects_key = match &outcome.rejects_file {
            Some(path) => {
                let key = layout::rejects_key(&feed.name, &file_id);
                self.store.put_file(&self.settings.curated_bucket, &key, path, "application/gzip").await?;
                Some(key)
            }
            None => None,
        };

        let mut parts = std::mem::take(&mut *parts.lock().unwrap_or_else(|p| p.into_inner()));
        parts.sort_by(|a, b| a.key.cmp(&b.key));
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

        self.count(feed, &manifest, meta.size);
        if let Some(err) = &outcome.error {
            warn!(error = %err, status = ?outcome.status, "file could not be read completely; see the rejects");
        }
        Ok(Outcome::Written {
            feed: feed.name.clone(),
            status: manifest.status,
            manifest_key,
            rows: manifest.rows,
            rejected: manifest.rejected_rows,
            parts: manifest.parts.len(),
        })
    }

    fn count(&self, feed: &Feed, manifest: &Manifest, bytes: u64) {
        let f = feed.name.as_str();
        self.metrics.incr("files_processed", &[("feed", f), ("outcome", manifest.status.as_str())]);
        self.metrics.add("rows_written", &[("feed", f)], manifest.rows);
        self.metrics.add("rows_rejected", &[("feed", f)], manifest.rejected_rows);
        self.metrics.add("parts_written", &[("feed", f)], manifest.parts.len() as u64);
        self.metrics.add("bytes_read", &[("feed", f)], bytes);
        self.metrics.add("columns_widened", &[("feed", f)], manifest.widenings.len() as u64);
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
        self.metrics.incr("files_processed", &[("feed", layout::UNMATCHED_FEED), ("outcome", "unmatched")]);
        warn!(%reason, rejects_key, "landing key matches no feed");
        Ok(Outcome::Unmatched { rejects_key })
    }
}

/// The date of an object's arrival, for feeds without a partition column.
fn arrival_date(object: &ObjectCreated) -> NaiveDate {
    object.event_time.unwrap_or_else(Utc::now).date_naive()
}
