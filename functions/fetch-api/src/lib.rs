//! fetch-api: one scheduled run of a configured source. Pages are fetched
//! one after another (rate-limited, retried with backoff), each landed as
//! gzipped NDJSON in the landing bucket under the source's feed, and the
//! incremental cursor is committed to `_state/<source>.json` with a
//! conditional write only after every page is durable.

mod database;
mod http;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use landfall::config::Config;
use landfall::disposition::Disposition;
use landfall::fetch::paginate::{PageView, select_records};
use landfall::fetch::source::{TemplateError, render};
use landfall::fetch::state::{advance, start_from};
use landfall::fetch::{PageRequest, Source, SourceState, redact_query, state_key};
use landfall::lambda::Deadline;
use landfall::secrets::{SecretError, Secrets};
use landfall::storage::{ObjectStore, Precondition, PutOptions, StorageError};
use landfall::telemetry::Metrics;
use landfall::telemetry::catalog::{PageFetched, RunFailed, RunFinished};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{Instrument, info_span};

pub use http::{Credentials, HttpClient, MAX_REDIRECTS, http_client};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid payload: {message} (expected {{\"source\": NAME, \"start\"?: T, \"end\"?: T}})")]
    Payload { message: String },
    #[error("source {name:?} is not configured")]
    UnknownSource { name: String },
    #[error("source {name}: {message}")]
    Config { name: String, message: String },
    #[error("source {name}: {error}")]
    Secret { name: String, error: SecretError },
    #[error("source {name}: page {page}: {url}: HTTP {status}: {message}")]
    Http { name: String, page: u32, url: String, status: u16, message: String, retryable: bool },
    #[error("source {name}: page {page}: {url}: {message}")]
    Transport { name: String, page: u32, url: String, message: String },
    #[error("source {name}: page {page}: {url}: malformed response: {message}")]
    Malformed { name: String, page: u32, url: String, message: String },
    #[error("source {name}: {error}")]
    Storage { name: String, error: StorageError },
    #[error("source {name}: {message}")]
    Database { name: String, message: String, retryable: bool },
    #[error(
        "source {name}: run {run_id}: another run advanced the cursor first; this run's pages are landed, its cursor is not committed"
    )]
    Conflict { name: String, run_id: String },
}

impl FetchError {
    /// Worth running again: throttling, server faults and network trouble
    /// that outlasted the retries, and transient storage errors. A run lost
    /// to a faster one has nothing left to do; the rest needs an operator.
    pub fn disposition(&self) -> Disposition {
        match self {
            FetchError::Http { retryable, .. } | FetchError::Database { retryable, .. } => {
                Disposition::of_fault(*retryable)
            }
            FetchError::Transport { .. } => Disposition::Retry,
            FetchError::Secret { error, .. } => Disposition::of_fault(error.retryable()),
            FetchError::Storage { error, .. } => Disposition::of_fault(error.retryable()),
            FetchError::Conflict { .. } => Disposition::Done,
            FetchError::Payload { .. }
            | FetchError::UnknownSource { .. }
            | FetchError::Config { .. }
            | FetchError::Malformed { .. } => Disposition::DeadLetter,
        }
    }
}

/// A run stops at a page boundary this long before the invocation's
/// deadline, leaving time to write its last page and commit the cursor.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

/// The schedule's payload: a source and, for backfills, a time window.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub source: String,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub landing_bucket: String,
    pub curated_bucket: String,
    /// How long a run may fetch before it stops at a page boundary and
    /// commits (below the Lambda timeout, leaving time to commit).
    pub time_budget: Duration,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub source: String,
    pub run_id: String,
    pub pages: u32,
    pub records: u64,
    pub keys: Vec<String>,
    pub cursor: Option<Value>,
    pub complete: bool,
    /// Why an incomplete run stopped.
    pub stopped: Option<&'static str>,
}

impl RunReport {
    /// A run that has fetched nothing yet.
    fn new(source: &str, run_id: &str) -> Self {
        RunReport {
            source: source.to_owned(),
            run_id: run_id.to_owned(),
            pages: 0,
            records: 0,
            keys: vec![],
            cursor: None,
            complete: true,
            stopped: None,
        }
    }
}

#[derive(Clone)]
pub struct FetchApi {
    config: Arc<Config>,
    store: Arc<dyn ObjectStore>,
    secrets: Arc<dyn Secrets>,
    http: HttpClient,
    metrics: Metrics,
    settings: Settings,
}

impl FetchApi {
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn ObjectStore>,
        secrets: Arc<dyn Secrets>,
        http: HttpClient,
        metrics: Metrics,
        settings: Settings,
    ) -> Self {
        FetchApi { config, store, secrets, http, metrics, settings }
    }

    /// The Lambda entry point: a failed run fails the invocation (so
    /// EventBridge's async retries and the alarms see it).
    pub async fn handle(&self, payload: Value, deadline: Deadline) -> Result<Value, lambda_runtime::Error> {
        let payload: Payload =
            serde_json::from_value(payload).map_err(|e| FetchError::Payload { message: e.to_string() })?;
        let budget = match deadline.remaining() {
            Some(left) => self.settings.time_budget.min(left.saturating_sub(DEADLINE_MARGIN)),
            None => self.settings.time_budget,
        };
        let report = self.run_for(&payload, budget).await?;
        Ok(json!({
            "source": report.source,
            "run_id": report.run_id,
            "pages": report.pages,
            "records": report.records,
            "keys": report.keys,
            "cursor": report.cursor,
            "complete": report.complete,
            "stopped": report.stopped,
        }))
    }

    /// One run within the configured time budget.
    pub async fn run(&self, payload: &Payload) -> Result<RunReport, FetchError> {
        self.run_for(payload, self.settings.time_budget).await
    }

    /// One run that stops at a page boundary once `budget` is spent.
    pub async fn run_for(&self, payload: &Payload, budget: Duration) -> Result<RunReport, FetchError> {
        let run_id = new_run_id();
        let span = info_span!("fetch", source = %payload.source, run_id = %run_id);
        let outcome = match (self.config.source(&payload.source), self.config.database(&payload.source)) {
            (Some(source), _) => self.run_source(source, payload, &run_id, budget).instrument(span.clone()).await,
            (None, Some(database)) => {
                if payload.start.is_some() || payload.end.is_some() {
                    return Err(FetchError::Payload {
                        message:
                            "a database source resumes from its committed position; start and end are for HTTP sources"
                                .into(),
                    });
                }
                self.run_database(database, &run_id, budget).instrument(span.clone()).await
            }
            (None, None) => return Err(FetchError::UnknownSource { name: payload.source.clone() }),
        };
        let source = payload.source.as_str();
        span.in_scope(|| match &outcome {
            Ok(r) => {
                RunFinished { source, pages: r.pages, records: r.records, complete: r.complete, stopped: r.stopped }
                    .emit(&self.metrics)
            }
            Err(e) => {
                let conflict = matches!(e, FetchError::Conflict { .. });
                RunFailed { source, conflict, disposition: e.disposition(), error: e }.emit(&self.metrics)
            }
        });
        outcome
    }

    async fn run_source(
        &self,
        source: &Source,
        payload: &Payload,
        run_id: &str,
        budget: Duration,
    ) -> Result<RunReport, FetchError> {
        let started = Instant::now();
        let name = &source.name;
        let storage = |error| FetchError::Storage { name: name.clone(), error };
        let feed = self.config.feed(&source.feed).ok_or_else(|| FetchError::Config {
            name: name.clone(),
            message: format!("feed {:?} is not configured", source.feed),
        })?;
        // Every secret is read before the first request: a missing one stops the run here.
        let credentials = Credentials::resolve(source, self.secrets.as_ref()).await?;
        let (state, etag) = self.read_state(name).await.map_err(storage)?;

        let now = chrono::Utc::now();
        let start =
            payload.start.clone().or_else(|| source.cursor.as_ref().and_then(|c| start_from(state.as_ref(), c)));
        let end = payload.end.clone().unwrap_or_else(|| now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let vars = |var: &str| match var {
            "start" => start.clone(),
            "end" => Some(end.clone()),
            "run_id" => Some(run_id.to_owned()),
            _ => None,
        };
        let base = BaseRequest::render(source, &vars)?;
        let prefix = if feed.prefix.ends_with('/') { feed.prefix.clone() } else { format!("{}/", feed.prefix) };
        let dt = now.format("%Y-%m-%d");

        let mut session = self.http.session(source, credentials);
        let (mut request, mut page_state) = source.paginator.first();
        let mut cursor = state.as_ref().and_then(|s| s.cursor.clone());
        let mut report = RunReport::new(name, run_id);
        let mut slowest = Duration::ZERO;
        loop {
            let page = report.pages + 1;
            let page_started = Instant::now();
            let (url, body) =
                base.apply(&request).map_err(|message| FetchError::Config { name: name.clone(), message })?;
            let response = session.send(page, url, &base.headers, body.as_ref()).await?;
            let shown =
                redact_query(response.url.as_str(), &source.auth.secret_query_param().into_iter().collect::<Vec<_>>());
            let malformed =
                |message: String| FetchError::Malformed { name: name.clone(), page, url: shown.clone(), message };
            let parsed: Value =
                serde_json::from_slice(&response.body).map_err(|e| malformed(format!("not JSON: {e}")))?;
            let records = select_records(&parsed, &source.records).map_err(malformed)?;

            if !records.is_empty() {
                let key = format!("{prefix}dt={dt}/{run_id}-{page:05}.jsonl.gz");
                let options = PutOptions {
                    content_type: "application/x-ndjson",
                    metadata: vec![
                        ("source", name.clone()),
                        ("run-id", run_id.to_owned()),
                        ("page", page.to_string()),
                        ("request-url", shown.clone()),
                    ],
                    precondition: None,
                };
                let gz = ndjson_gz(records).map_err(|e| malformed(e.to_string()))?;
                self.store.put_with(&self.settings.landing_bucket, &key, gz, options).await.map_err(storage)?;
                report.keys.push(key);
            }
            if let Some(c) = &source.cursor {
                cursor = advance(cursor, records, &c.field);
            }
            report.pages = page;
            report.records += records.len() as u64;
            PageFetched { source: name, records: records.len() as u64 }.emit(&self.metrics);

            let view = PageView { body: &parsed, link: response.link.as_deref(), records: records.len() };
            let Some((next, next_state)) = source.paginator.next(&page_state, &view) else { break };
            slowest = slowest.max(page_started.elapsed());
            if page >= source.limits.max_pages {
                (report.complete, report.stopped) = (false, Some("max_pages"));
                break;
            }
            // Stop while one more page (as slow as the slowest so far) still fits.
            if started.elapsed() + slowest > budget {
                (report.complete, report.stopped) = (false, Some("time budget"));
                break;
            }
            (request, page_state) = (next, next_state);
        }

        let new_state = SourceState {
            source: name.clone(),
            cursor: cursor.clone(),
            last_run_id: run_id.to_owned(),
            updated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            complete: report.complete,
        };
        self.commit_state(name, &new_state, etag, run_id).await?;
        report.cursor = cursor;
        Ok(report)
    }

    async fn read_state(&self, source: &str) -> Result<(Option<SourceState>, Option<String>), StorageError> {
        let bucket = &self.settings.curated_bucket;
        let key = state_key(source);
        let mut body = match self.store.get(bucket, &key, Default::default()).await {
            Ok(body) => body,
            Err(StorageError::NotFound { .. }) => return Ok((None, None)),
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut body.reader, &mut bytes).await.map_err(|e| {
            StorageError::Request {
                operation: "GetObject",
                bucket: bucket.clone(),
                key: key.clone(),
                message: e.to_string(),
                retryable: true,
            }
        })?;
        // A state file nobody can read would silently restart from the initial cursor: refuse instead.
        let state = serde_json::from_slice(&bytes).map_err(|e| StorageError::Request {
            operation: "GetObject",
            bucket: bucket.clone(),
            key: key.clone(),
            message: format!("not a source state: {e}"),
            retryable: false,
        })?;
        Ok((Some(state), body.meta.etag))
    }

    /// The write that ends a run: only if the state is still the one this
    /// run read (or still absent), so of two overlapping runs one commits.
    /// Returns the state's new ETag, for the next commit of the same run.
    async fn commit_state(
        &self,
        source: &str,
        state: &SourceState,
        read_etag: Option<String>,
        run_id: &str,
    ) -> Result<Option<String>, FetchError> {
        let precondition = match read_etag {
            Some(etag) => Precondition::IfMatch(etag),
            None => Precondition::IfNoneMatch,
        };
        let body = serde_json::to_vec_pretty(state).unwrap_or_default();
        let options =
            PutOptions { content_type: "application/json", metadata: vec![], precondition: Some(precondition) };
        match self.store.put_with(&self.settings.curated_bucket, &state_key(source), body, options).await {
            Ok(etag) => Ok(etag),
            Err(StorageError::PreconditionFailed { .. }) => {
                Err(FetchError::Conflict { name: source.to_owned(), run_id: run_id.to_owned() })
            }
            Err(error) => Err(FetchError::Storage { name: source.to_owned(), error }),
        }
    }
}

/// A run id that sorts by time: `20261122T072500Z-1a2b3c4d`.
fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let mut jitter = landfall::retry::Jitter::from_clock();
    let suffix = (jitter.next_unit() * f64::from(u32::MAX)) as u32;
    format!("{}-{suffix:08x}", now.format("%Y%m%dT%H%M%SZ"))
}

fn ndjson_gz(records: &[Value]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    for record in records {
        serde_json::to_writer(&mut gz, record)?;
        gz.write_all(b"\n")?;
    }
    gz.finish()
}

/// The source's request with the run's variables filled in; pages add their parameters.
struct BaseRequest {
    url: reqwest::Url,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

impl BaseRequest {
    fn render(source: &Source, vars: &dyn Fn(&str) -> Option<String>) -> Result<BaseRequest, FetchError> {
        let bad = |message: String| FetchError::Config { name: source.name.clone(), message };
        let url = render(&source.url, vars).map_err(|e| bad(format!("url: {e}")))?;
        let url = reqwest::Url::parse(&url).map_err(|e| bad(format!("url {url:?}: {e}")))?;
        let mut query = Vec::new();
        for (k, template) in &source.query {
            match render(template, vars) {
                Ok(v) => query.push((k.clone(), v)),
                // A parameter whose variable has no value this run is left out
                // (e.g. `since={start}` on a first run without an initial cursor).
                Err(TemplateError::Unset(_)) => {}
                Err(e) => return Err(bad(format!("query {k}: {e}"))),
            }
        }
        let headers = source
            .headers
            .iter()
            .map(|(k, t)| render(t, vars).map(|v| (k.clone(), v)).map_err(|e| bad(format!("header {k}: {e}"))))
            .collect::<Result<_, _>>()?;
        let body =
            source.body.as_ref().map(|b| render_json(b, vars)).transpose().map_err(|e| bad(format!("body: {e}")))?;
        Ok(BaseRequest { url, query, headers, body })
    }

    /// The URL and body of one page's request.
    fn apply(&self, page: &PageRequest) -> Result<(reqwest::Url, Option<Value>), String> {
        let url = match &page.url {
            // A next link replaces the URL and its query; relative links resolve against the source's URL.
            Some(next) => {
                let next = self.url.join(next).map_err(|e| format!("next page URL: {e}"))?;
                // Every page's request carries the credentials: a next link is held to
                // the source's origin for the reason redirects are (http::same_origin_redirects).
                if next.origin() != self.url.origin() {
                    return Err(format!(
                        "next page URL is on {}: not followed, so the source's credentials stay with {}",
                        next.origin().ascii_serialization(),
                        self.url.origin().ascii_serialization()
                    ));
                }
                next
            }
            None => {
                let mut url = self.url.clone();
                {
                    let mut pairs = url.query_pairs_mut();
                    for (k, v) in self.query.iter().filter(|(k, _)| !page.query.iter().any(|(pk, _)| pk == k)) {
                        pairs.append_pair(k, v);
                    }
                    for (k, v) in &page.query {
                        pairs.append_pair(k, v);
                    }
                }
                if url.query() == Some("") {
                    url.set_query(None);
                }
                url
            }
        };
        let body = match (&self.body, page.body.is_empty()) {
            (body, true) => body.clone(),
            (Some(Value::Object(map)), false) => {
                let mut map = map.clone();
                map.extend(page.body.iter().cloned());
                Some(Value::Object(map))
            }
            (None, false) => Some(Value::Object(page.body.iter().cloned().collect())),
            (Some(_), false) => return Err("the paginator sets body fields, so body must be an object".into()),
        };
        Ok((url, body))
    }
}

fn render_json(value: &Value, vars: &dyn Fn(&str) -> Option<String>) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(s) => Value::String(render(s, vars)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| render_json(v, vars)).collect::<Result<_, TemplateError>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), render_json(v, vars)?))).collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}
