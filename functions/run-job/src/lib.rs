//! run-job: one scheduled run of a configured job (`jobs:` in the config).
//! Every run is a row of `landfall.job_runs`, written when it starts and
//! settled in the run's own transaction. A job whose `after` tables have not
//! loaded since its last run, or whose `depends_on` last failed, is skipped
//! (and recorded so); after a job succeeds, the jobs that depend on it and
//! have no schedule of their own run in the same invocation.

mod archive;
mod export;
mod transform;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use landfall::catalog::{Catalog, CatalogError};
use landfall::config::Config;
use landfall::disposition::Disposition;
use landfall::escape::Mrkdwn;
use landfall::jobs::{Job, JobSpec, downstream};
use landfall::lambda::Deadline;
use landfall::notify::{NotifyError, Slack};
use landfall::storage::{ObjectStore, StorageError};
use landfall::telemetry::Metrics;
use landfall::warehouse::bookkeeping::job_runs::{self as ledger, RunRow, RunStatus, Start};
use landfall::warehouse::sql::{Dialect, TableName};
use landfall::warehouse::{Driver, Warehouse, WarehouseError};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{Instrument, info, info_span, warn};

pub use export::count_csv_records;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("invalid payload: {message} (expected {{\"job\": NAME, \"from\"?: V, \"to\"?: V}})")]
    Payload { message: String },
    #[error("job {name:?} is not configured")]
    UnknownJob { name: String },
    #[error("job {job}: {message}")]
    Config { job: String, message: String },
    #[error("job {job}: {source}")]
    Warehouse { job: String, source: WarehouseError },
    #[error("job {job}: {source}")]
    Storage { job: String, source: StorageError },
    #[error("job {job}: Glue: {source}")]
    Catalog { job: String, source: CatalogError },
    #[error("job {job}: {message}")]
    Invariant { job: String, message: String },
    #[error("job {job}: scratch space: {source}")]
    Scratch { job: String, source: std::io::Error },
    /// An archive's files hold other rows than its range now has (rows were
    /// loaded or merged into it after the UNLOAD): nothing was deleted.
    #[error(
        "job {job}: {table}: the archive's files hold {archived} rows but {matching} now meet its range; nothing deleted, the next run unloads again"
    )]
    RangeMoved { job: String, table: String, archived: u64, matching: u64 },
    /// Views bound to a transform's table: its swap would have to drop them.
    #[error(
        "job {job}: {table}: views depend on it ({views}), so swapping in the new table would have to drop them; \
         nothing changed. Recreate them WITH NO SCHEMA BINDING (Redshift) or over another table, or make the job \
         materialize: incremental"
    )]
    ViewsBlockSwap { job: String, table: String, views: String },
}

impl JobError {
    /// Worth running again: warehouse and AWS faults that pass. A run
    /// that is retried finishes what the failed one recorded.
    pub fn disposition(&self) -> Disposition {
        match self {
            JobError::Warehouse { source, .. } => source.disposition(),
            JobError::Storage { source, .. } => Disposition::of_fault(source.retryable()),
            JobError::Catalog { source, .. } => Disposition::of_fault(source.retryable()),
            JobError::Scratch { .. } | JobError::RangeMoved { .. } => Disposition::Retry,
            JobError::Payload { .. }
            | JobError::UnknownJob { .. }
            | JobError::Config { .. }
            | JobError::ViewsBlockSwap { .. }
            | JobError::Invariant { .. } => Disposition::DeadLetter,
        }
    }
}

/// The schedule's payload: a job and, for a backfill, a window (incremental
/// transforms: `from <= watermark < to`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub job: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub curated_bucket: String,
    /// The Glue database archives are registered in.
    pub glue_database: String,
    pub work_dir: PathBuf,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct RunReport {
    pub job: String,
    pub kind: String,
    pub run_id: String,
    pub status: String,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    /// Why it was skipped.
    pub reason: Option<String>,
    /// What it wrote: keys, the link, the watermark.
    pub detail: Value,
}

/// What a kind's run hands back to be recorded.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub detail: Value,
}

/// A run in progress: its ledger identity.
#[derive(Debug, Clone)]
pub(crate) struct Run<'a> {
    pub job: &'a Job,
    pub run_id: String,
    pub after_mark: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Clone)]
pub struct RunJob {
    pub(crate) config: Arc<Config>,
    pub(crate) warehouse: Driver,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) catalog: Arc<dyn Catalog>,
    pub(crate) slack: Option<Slack>,
    pub(crate) metrics: Metrics,
    pub(crate) settings: Settings,
}

pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn new_run_id() -> String {
    let now = Utc::now();
    let mut jitter = landfall::retry::Jitter::from_clock();
    let suffix = (jitter.next_unit() * f64::from(u32::MAX)) as u32;
    format!("{}-{suffix:08x}", now.format("%Y%m%dT%H%M%S%3fZ"))
}

impl RunJob {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Arc<Config>,
        warehouse: Driver,
        store: Arc<dyn ObjectStore>,
        s3: aws_sdk_s3::Client,
        catalog: Arc<dyn Catalog>,
        slack: Option<Slack>,
        metrics: Metrics,
        settings: Settings,
    ) -> Self {
        RunJob { config, warehouse, store, s3, catalog, slack, metrics, settings }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.warehouse.dialect()
    }

    pub(crate) fn table(&self, name: &str) -> TableName {
        TableName::new(self.config.warehouse.schema.clone(), name)
    }

    pub(crate) fn wh(job: &Job) -> impl Fn(WarehouseError) -> JobError + '_ {
        move |source| JobError::Warehouse { job: job.name.clone(), source }
    }

    /// The Lambda entry point: a failed run fails the invocation, so the
    /// schedule's retry policy runs it again and the alarms see it.
    pub async fn handle(&self, payload: Value, _deadline: Deadline) -> Result<Value, lambda_runtime::Error> {
        let payload: Payload =
            serde_json::from_value(payload).map_err(|e| JobError::Payload { message: e.to_string() })?;
        let reports = self.run(&payload).await?;
        Ok(json!({ "runs": reports }))
    }

    /// Runs the job, then its unscheduled dependents; the first failure stops the chain.
    pub async fn run(&self, payload: &Payload) -> Result<Vec<RunReport>, JobError> {
        let job = self.config.job(&payload.job).ok_or_else(|| JobError::UnknownJob { name: payload.job.clone() })?;
        self.ensure_ledger(job).await?;
        let first = self.run_one(job, payload.from.clone(), payload.to.clone()).await?;
        let succeeded = first.status == RunStatus::Succeeded.as_str();
        let skipped = first.status == RunStatus::Skipped.as_str();
        let mut reports = vec![first];
        for next in downstream(&self.config.jobs, &job.name) {
            // A dependent runs after its upstream succeeded; when the upstream had
            // nothing to do, a dependent whose last run failed is retried.
            if succeeded || (skipped && self.last_failed(next).await?) {
                reports.push(self.run_one(next, None, None).await?);
            }
        }
        Ok(reports)
    }

    async fn last_failed(&self, job: &Job) -> Result<bool, JobError> {
        let last = self.ledger_rows(job, "last-run", &ledger::recent(self.dialect(), &job.name, 1)).await?;
        Ok(last.first().is_some_and(|r| matches!(r.status(), Some(RunStatus::Failed | RunStatus::Running))))
    }

    async fn ensure_ledger(&self, job: &Job) -> Result<(), JobError> {
        let statements = self.dialect().create_job_tables();
        self.warehouse
            .transaction(&TableName::job_runs(), &format!("landfall-job-{}-ledger", job.name), statements)
            .await
            .map_err(Self::wh(job))
    }

    pub(crate) async fn ledger_rows(&self, job: &Job, step: &str, sql: &str) -> Result<Vec<RunRow>, JobError> {
        let about = TableName::job_runs();
        let name = format!("landfall-job-{}-{step}", job.name);
        let rows = self.warehouse.fetch(&about, &name, sql).await.map_err(Self::wh(job))?;
        Ok(rows.iter().filter_map(|r| RunRow::from_text(r)).collect())
    }

    pub(crate) async fn ledger_exec(&self, job: &Job, step: &str, statements: Vec<String>) -> Result<(), JobError> {
        let about = TableName::job_runs();
        let name = format!("landfall-job-{}-{step}", job.name);
        self.warehouse.transaction(&about, &name, statements).await.map_err(Self::wh(job))
    }

    /// Why the job should not run now, if it should not.
    async fn gate(&self, job: &Job, backfill: bool) -> Result<(Option<String>, Option<String>), JobError> {
        let d = self.dialect();
        for dep in &job.depends_on {
            let last = self.ledger_rows(job, "upstream", &ledger::recent(d, dep, 1)).await?;
            match last.first() {
                Some(r) if r.status() == Some(RunStatus::Failed) || r.status() == Some(RunStatus::Running) => {
                    return Ok((Some(format!("upstream job {dep} is {}", r.status)), None));
                }
                None => return Ok((Some(format!("upstream job {dep} has never run")), None)),
                Some(_) => {}
            }
        }
        if job.after.is_empty() {
            return Ok((None, None));
        }
        let tables: Vec<String> = job.after.iter().map(|t| self.table(t).plain()).collect();
        let about = TableName::ledger();
        // The load ledger does not exist before the first load.
        let exists =
            self.warehouse.exists(&about, &format!("landfall-job-{}-after", job.name)).await.map_err(Self::wh(job))?;
        let newest = if exists {
            let rows = self
                .warehouse
                .fetch(&about, &format!("landfall-job-{}-after", job.name), &ledger::newest_load(d, &tables))
                .await
                .map_err(Self::wh(job))?;
            rows.into_iter().next().and_then(|r| r.into_iter().next().flatten())
        } else {
            None
        };
        let Some(newest) = newest else {
            return Ok((Some(format!("nothing has loaded into {} yet", job.after.join(", "))), None));
        };
        if !backfill {
            let last = self.ledger_rows(job, "last", &ledger::last_success(d, &job.name)).await?;
            if last.first().and_then(|r| r.after_mark.as_deref()) == Some(newest.as_str()) {
                return Ok((
                    Some(format!("nothing loaded into {} since the last run", job.after.join(", "))),
                    Some(newest),
                ));
            }
        }
        Ok((None, Some(newest)))
    }

    async fn run_one(&self, job: &Job, from: Option<String>, to: Option<String>) -> Result<RunReport, JobError> {
        let d = self.dialect();
        let kind = job.kind().as_str();
        let backfill = from.is_some() || to.is_some();
        // An archive that recorded its range and never finished is finished first, with that range.
        let resumed = match job.spec {
            JobSpec::Archive(_) => {
                self.ledger_rows(job, "unfinished", &ledger::unfinished_archive(d, &job.name)).await?.into_iter().next()
            }
            _ => None,
        };
        // ... whatever its gate says: its range is recorded, its rows may be in two places.
        let (skip, after_mark) = match resumed {
            Some(_) => (None, None),
            None => self.gate(job, backfill).await?,
        };
        if let Some(reason) = skip {
            let run_id = new_run_id();
            let started = now();
            let detail = json!({ "reason": reason }).to_string();
            let start = Start {
                job: &job.name,
                kind,
                run_id: &run_id,
                started: &started,
                status: RunStatus::Skipped,
                range_from: None,
                range_to: None,
                detail: Some(&detail),
            };
            self.ledger_exec(job, "skip", vec![ledger::insert(d, &start)]).await?;
            landfall::telemetry::catalog::JobCompleted { job: &job.name, kind, outcome: "skipped" }.emit(&self.metrics);
            info!(job = %job.name, run_id = %run_id, reason = %reason, "job skipped");
            return Ok(RunReport {
                job: job.name.clone(),
                kind: kind.into(),
                run_id,
                status: RunStatus::Skipped.as_str().into(),
                reason: Some(reason),
                ..RunReport::default()
            });
        }

        let run =
            Run { job, run_id: resumed.as_ref().map_or_else(new_run_id, |r| r.run_id.clone()), after_mark, from, to };
        let span = info_span!("job", job = %job.name, kind, run_id = %run.run_id);
        let outcome = Box::pin(self.execute(&run, resumed)).instrument(span.clone()).await;
        let label = if outcome.is_ok() { "succeeded" } else { "failed" };
        landfall::telemetry::catalog::JobCompleted { job: &job.name, kind, outcome: label }.emit(&self.metrics);
        match outcome {
            Ok(o) => {
                landfall::telemetry::catalog::JobWrote {
                    job: &job.name,
                    rows: o.rows.unwrap_or(0),
                    bytes: o.bytes.unwrap_or(0),
                }
                .emit(&self.metrics);
                span.in_scope(|| info!(rows = ?o.rows, bytes = ?o.bytes, "job finished"));
                Ok(RunReport {
                    job: job.name.clone(),
                    kind: kind.into(),
                    run_id: run.run_id,
                    status: label.into(),
                    rows: o.rows,
                    bytes: o.bytes,
                    reason: None,
                    detail: o.detail,
                })
            }
            Err(e) => {
                span.in_scope(|| warn!(error = %e, disposition = e.disposition().label(), "job failed"));
                if let Err(le) =
                    self.ledger_exec(job, "fail", vec![ledger::fail(d, &run.run_id, &now(), &e.to_string())]).await
                {
                    warn!(job = %job.name, run_id = %run.run_id, error = %le, "recording the failure failed");
                }
                self.notify(&failure_message(job, &run.run_id, &e)).await;
                Err(e)
            }
        }
    }

    async fn execute(&self, run: &Run<'_>, resumed: Option<RunRow>) -> Result<Outcome, JobError> {
        let d = self.dialect();
        let job = run.job;
        let started = now();
        // The run's start as its ledger row has it: an archive's rows are bounded by it.
        let recorded = resumed.as_ref().map_or_else(|| started.clone(), |r| r.started.clone());
        let range = match (&job.spec, &resumed) {
            (JobSpec::Archive(a), None) => Some(archive::range(a, Utc::now().date_naive())),
            (JobSpec::Archive(_), Some(r)) => Some((r.range_from.clone(), r.range_to.clone().unwrap_or_default())),
            _ => None,
        };
        if resumed.is_none() {
            let (range_from, range_to) = match &range {
                Some((f, t)) => (f.clone(), Some(t.clone())),
                None => (run.from.clone(), run.to.clone()),
            };
            let start = Start {
                job: &job.name,
                kind: job.kind().as_str(),
                run_id: &run.run_id,
                started: &started,
                status: RunStatus::Running,
                range_from: range_from.as_deref(),
                range_to: range_to.as_deref(),
                detail: None,
            };
            self.ledger_exec(job, "start", vec![ledger::insert(d, &start)]).await?;
        } else {
            info!(job = %job.name, run_id = %run.run_id, "finishing an archive run that did not finish");
            self.ledger_exec(job, "resume", vec![ledger::resume(d, &run.run_id)]).await?;
        }
        match &job.spec {
            JobSpec::Transform(t) => Box::pin(transform::run(self, run, t)).await,
            JobSpec::Export(e) => Box::pin(export::run(self, run, e)).await,
            JobSpec::Archive(a) => {
                let (column, cutoff) = range.unwrap_or_default();
                Box::pin(archive::run(self, run, a, (column.as_deref(), &cutoff), &recorded)).await
            }
        }
    }

    /// Posts to Slack when a webhook is configured; a failure to notify is logged, never fatal.
    pub(crate) async fn notify(&self, message: &Value) -> Option<String> {
        let slack = self.slack.as_ref()?;
        match slack.post(message).await {
            Ok(()) => None,
            Err(e) => {
                landfall::telemetry::catalog::NotificationDelivered { channel: "slack", what: "job_report", ok: false }
                    .emit(&self.metrics);
                warn!(error = %e, "notification failed");
                Some(match e {
                    NotifyError::Secret(_) => "the webhook secret could not be read".to_owned(),
                    other => other.to_string(),
                })
            }
        }
    }
}

/// The statements that settle a run whose work is done outside the ledger's
/// transaction (exports) or in it (archives): status, rows, bytes, detail.
pub(crate) fn settle(d: Dialect, run: &Run<'_>, rows: u64, bytes: u64, detail: &Value) -> Vec<String> {
    let finished = now();
    let finish = landfall::warehouse::jobs::Finish {
        run_id: &run.run_id,
        finished: &finished,
        rows_sql: rows.to_string(),
        watermark_sql: "NULL".into(),
        after_mark: run.after_mark.as_deref(),
    };
    vec![finish.statement(d), ledger::annotate(d, &run.run_id, Some(rows), bytes, &detail.to_string())]
}

fn failure_message(job: &Job, run_id: &str, e: &JobError) -> Value {
    let retry = if e.disposition() == Disposition::Retry { "it will be retried" } else { "it needs a fix" };
    let name = Mrkdwn(&job.name);
    let headline = format!(":x: job {name} ({}) failed: {retry}", job.kind().as_str());
    // The error can quote values from the data (a row the warehouse refused).
    let error = e.to_string();
    let facts = format!("*Run* {}\n*Error* {}", Mrkdwn(run_id), Mrkdwn(&error));
    let payload = json!({ "job": job.name }).to_string();
    json!({
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("`landfall jobs` · run-job `{}`", Mrkdwn(&payload))}]},
        ]
    })
}
