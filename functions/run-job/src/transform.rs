//! A transform: the job's SQL into a table (swapped in), incrementally into
//! a table (past the watermark, merged on the key), or into a view; the
//! ledger row settles in the same transaction.

use landfall::jobs::Materialize;
use landfall::jobs::Transform;
use landfall::warehouse::bookkeeping::job_runs as ledger;
use landfall::warehouse::jobs::{Finish, Window, incremental, table_swap, view};
use serde_json::json;

use landfall::warehouse::Warehouse;

use crate::{JobError, Outcome, Run, RunJob, now};

pub(crate) async fn run(ctx: &RunJob, run: &Run<'_>, t: &Transform) -> Result<Outcome, JobError> {
    let d = ctx.dialect();
    let job = run.job;
    let target = ctx.table(&t.target);
    let finished = now();
    let finish = Finish {
        run_id: &run.run_id,
        finished: &finished,
        rows_sql: "NULL".into(),
        watermark_sql: "NULL".into(),
        after_mark: run.after_mark.as_deref(),
    };
    let step = |s: &str| format!("landfall-job-{}-{s}", run.run_id);
    let statements = match t.materialize {
        Materialize::View => view(d, &target, &t.sql, &finish),
        Materialize::Table => {
            let exists = ctx.warehouse.exists(&target, &step("exists")).await.map_err(RunJob::wh(job))?;
            table_swap(d, &target, &t.sql, exists, &finish)
        }
        Materialize::Incremental => {
            let exists = ctx.warehouse.exists(&target, &step("exists")).await.map_err(RunJob::wh(job))?;
            let watermark = t.watermark.as_deref().ok_or_else(|| JobError::Config {
                job: job.name.clone(),
                message: "materialize: incremental without a watermark".into(),
            })?;
            let window = Window { from: run.from.as_deref(), to: run.to.as_deref() };
            incremental(d, &target, &t.sql, watermark, &t.primary_key, window, exists, &finish)
        }
    };
    ctx.warehouse.transaction(&target, &step("apply"), statements).await.map_err(RunJob::wh(job))?;
    let recorded = ctx.ledger_rows(job, "report", &ledger::by_run_id(d, &run.run_id)).await?;
    let row = recorded.into_iter().next().unwrap_or_default();
    Ok(Outcome {
        rows: row.rows,
        bytes: None,
        detail: json!({ "target": target.plain(), "materialize": format!("{:?}", t.materialize).to_lowercase(), "watermark": row.watermark }),
    })
}
