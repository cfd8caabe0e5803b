//! A transform: the job's SQL into a table (swapped in), incrementally into
//! a table (past the watermark, merged on the key), or into a view; the
//! ledger row settles in the same transaction.

use landfall::jobs::Materialize;
use landfall::jobs::Transform;
use landfall::warehouse::bookkeeping::job_runs as ledger;
use landfall::warehouse::jobs::{
    Finish, TableGrant, Window, dependent_views_query, incremental, table_grants_query, table_swap, view,
};
use serde_json::json;

use landfall::warehouse::Warehouse;
use landfall::warehouse::sql::TableName;

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
            let grants = if exists { swap_grants(ctx, run, &target).await? } else { Vec::new() };
            table_swap(d, &target, &t.sql, exists, &grants, &finish)
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

/// What a swap over an existing table must carry to the new one: its grants.
/// A view bound to it refuses the swap, which could not drop the old table.
async fn swap_grants(ctx: &RunJob, run: &Run<'_>, target: &TableName) -> Result<Vec<TableGrant>, JobError> {
    let d = ctx.dialect();
    let job = run.job;
    let name = |s: &str| format!("landfall-job-{}-{s}", run.run_id);
    let views = ctx
        .warehouse
        .fetch(target, &name("views"), &dependent_views_query(d, target))
        .await
        .map_err(RunJob::wh(job))?;
    let views: Vec<String> = views.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect();
    if !views.is_empty() {
        return Err(JobError::ViewsBlockSwap { job: job.name.clone(), table: target.plain(), views: views.join(", ") });
    }
    let rows =
        ctx.warehouse.fetch(target, &name("grants"), &table_grants_query(d, target)).await.map_err(RunJob::wh(job))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let cell = |i: usize| r.get(i).cloned().flatten();
            Some(TableGrant { privilege: cell(0)?, grantee: cell(1)?, kind: cell(2).unwrap_or_else(|| "user".into()) })
        })
        .collect())
}
