//! `landfall jobs`: every configured job (kind, schedule, what it waits
//! for) with its last run from `landfall.job_runs`; `--job NAME` lists that
//! job's recent runs. Runs are started by their schedules (or by invoking
//! run-job with `{"job": NAME}`); this only reads.

use landfall::jobs::{Job, JobSpec};
use landfall::warehouse::bookkeeping::job_runs::{self as ledger, RunRow};
use landfall::warehouse::{TableName, Warehouse};
use serde::Serialize;

use super::output::{Table, cell, emit};
use super::{CliError, Deployment, TargetKind};

#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// Only this job, with its recent runs.
    #[arg(long)]
    pub job: Option<String>,
    /// How many of its runs `--job` lists, newest first.
    #[arg(long, default_value_t = 10)]
    pub runs: u32,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The job (a name under jobs: in the config).
    pub job: String,
    /// Backfill window start (incremental transforms: watermark >= FROM).
    #[arg(long)]
    pub from: Option<String>,
    /// Backfill window end (watermark < TO).
    #[arg(long)]
    pub to: Option<String>,
}

/// Runs a job as its schedule would: in-process on the local stack, by
/// invoking run-job on a deployment.
pub async fn run_job(dep: &Deployment, args: &RunArgs, json: bool) -> Result<(), CliError> {
    let payload = run_job::Payload { job: args.job.clone(), from: args.from.clone(), to: args.to.clone() };
    let config = dep.config().await?;
    if config.job(&args.job).is_none() {
        return Err(CliError::NotFound(format!("job {:?} is not configured", args.job)));
    }
    let answer = match (dep.kind, &dep.local) {
        (TargetKind::Local, Some(stack)) => {
            let runner = local_runner(stack, &dep.sdk, config).await?;
            let reports = runner.run(&payload).await.map_err(CliError::failed)?;
            serde_json::json!({ "runs": reports })
        }
        _ => {
            let body = serde_json::json!({ "job": payload.job, "from": payload.from, "to": payload.to });
            super::invoke::invoke(dep, "run-job", &body).await?
        }
    };
    emit(json, &answer, |a| serde_json::to_string_pretty(a).unwrap_or_default())
}

/// run-job's handler against the local stack (its PostgreSQL, moto's S3 and Glue).
async fn local_runner(
    stack: &landfall_infra::LocalStack,
    sdk: &aws_config::SdkConfig,
    config: landfall::config::Config,
) -> Result<run_job::RunJob, CliError> {
    use std::sync::Arc;
    let work_dir = stack.dir.join("work");
    std::fs::create_dir_all(&work_dir).map_err(CliError::failed)?;
    let store = Arc::new(landfall::storage::S3Store::new(landfall::storage::s3_client(sdk)));
    let warehouse = landfall_infra::local::driver(stack, sdk, &config, work_dir.clone()).await?;
    let catalog = Arc::new(landfall::catalog::GlueCatalog::new(aws_sdk_glue::Client::new(sdk), &stack.glue_database));
    let settings = run_job::Settings {
        curated_bucket: stack.curated_bucket.clone(),
        glue_database: stack.glue_database.clone(),
        work_dir,
    };
    let s3 = landfall::storage::s3_client(sdk);
    let metrics = landfall::telemetry::Metrics::new("landfall");
    Ok(run_job::RunJob::new(Arc::new(config), warehouse, store, s3, catalog, None, metrics, settings))
}

/// The demo's last step: the roll-up after the partner clicks loaded, and
/// its CSV report (run right after it, as it depends on it); returns the
/// report's key and first lines for the demo to print.
pub async fn demo(stack: &landfall_infra::LocalStack, config: &landfall::config::Config) -> Result<String, CliError> {
    use std::io::Read;
    const ROLLUP: &str = "clicks_per_partner_daily";
    if config.job(ROLLUP).is_none() {
        return Ok(String::new());
    }
    let sdk = stack.sdk_config().await;
    let runner = local_runner(stack, &sdk, config.clone()).await?;
    let payload = run_job::Payload { job: ROLLUP.into(), from: None, to: None };
    let reports = runner.run(&payload).await.map_err(CliError::failed)?;
    let mut out = String::from("== jobs (run-job)\n");
    for r in &reports {
        out.push_str(&format!("  {} ({}): {}, {} row(s)\n", r.job, r.kind, r.status, cell(&r.rows)));
    }
    let Some(key) = reports.iter().find_map(|r| r.detail["keys"][0].as_str().map(str::to_owned)) else {
        return Ok(out);
    };
    let store = landfall::storage::S3Store::new(landfall::storage::s3_client(&sdk));
    let body = landfall::storage::ObjectStore::get_bytes(&store, &stack.curated_bucket, &key).await?;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&body[..]).read_to_string(&mut text).map_err(CliError::failed)?;
    out.push_str(&format!("== report s3://{}/{key} (first lines)\n", stack.curated_bucket));
    for line in text.lines().take(5) {
        out.push_str(&format!("  {line}\n"));
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
struct JobLine {
    job: String,
    kind: &'static str,
    what: String,
    schedule: Option<String>,
    depends_on: Vec<String>,
    after: Vec<String>,
    last_run: Option<RunRow>,
}

fn what(job: &Job) -> String {
    match &job.spec {
        JobSpec::Transform(t) => format!("{} {}", format!("{:?}", t.materialize).to_lowercase(), t.target),
        JobSpec::Export(_) => format!("exports/{}/", job.name),
        JobSpec::Archive(a) => format!("archive/{}/", a.table),
    }
}

/// The ledger's rows for `sql`, none while the ledger does not exist yet.
async fn runs(warehouse: &dyn Warehouse, sql: &str) -> Result<Vec<RunRow>, CliError> {
    if !warehouse.exists(&TableName::job_runs(), "landfall-cli-job-runs").await? {
        return Ok(Vec::new());
    }
    Ok(warehouse.query(sql).await?.iter().filter_map(|r| RunRow::from_text(r)).collect())
}

pub async fn run(dep: &Deployment, args: &JobsArgs, json: bool) -> Result<(), CliError> {
    let config = dep.config().await?;
    let warehouse = dep.warehouse(&config).await?;
    let d = warehouse.dialect();
    if let Some(name) = &args.job {
        if config.job(name).is_none() {
            return Err(CliError::NotFound(format!("job {name:?} is not configured")));
        }
        let rows = runs(warehouse.as_ref(), &ledger::recent(d, name, args.runs)).await?;
        return emit(json, &rows, |rows| {
            let mut t = Table::new(&["run", "status", "started", "finished", "rows", "bytes", "error"]);
            for r in rows {
                let error = r.error.clone().or_else(|| r.detail.clone().filter(|_| r.status == "skipped"));
                t.push(vec![
                    r.run_id.clone(),
                    r.status.clone(),
                    r.started.clone(),
                    cell(&r.finished),
                    cell(&r.rows),
                    cell(&r.bytes),
                    cell(&error),
                ]);
            }
            if t.is_empty() { format!("job {name} has not run yet") } else { t.render() }
        });
    }
    let latest = runs(warehouse.as_ref(), &ledger::latest_per_job()).await?;
    let lines: Vec<JobLine> = config
        .jobs
        .iter()
        .map(|j| JobLine {
            job: j.name.clone(),
            kind: j.kind().as_str(),
            what: what(j),
            schedule: j.schedule.clone(),
            depends_on: j.depends_on.clone(),
            after: j.after.clone(),
            last_run: latest.iter().find(|r| r.job == j.name).cloned(),
        })
        .collect();
    emit(json, &lines, |lines| {
        let mut t =
            Table::new(&["job", "kind", "what", "schedule", "waits for", "last run", "status", "rows", "bytes"]);
        for l in lines {
            let waits: Vec<String> = l
                .depends_on
                .iter()
                .map(|j| format!("job {j}"))
                .chain(l.after.iter().map(|t| format!("loads of {t}")))
                .collect();
            let last = l.last_run.as_ref();
            t.push(vec![
                l.job.clone(),
                l.kind.to_owned(),
                l.what.clone(),
                l.schedule.clone().unwrap_or_else(|| "after its upstream".into()),
                if waits.is_empty() { "-".into() } else { waits.join(", ") },
                last.map_or_else(|| "never".into(), |r| r.started.clone()),
                cell(&last.map(|r| r.status.clone())),
                cell(&last.and_then(|r| r.rows)),
                cell(&last.and_then(|r| r.bytes)),
            ]);
        }
        if t.is_empty() { "no jobs: the config has no jobs: section".into() } else { t.render() }
    })
}
