//! An archive: a table's old rows to Parquet under `archive/<table>/dt=.../`
//! in the curated bucket, registered in Glue as `archive_<table>`, then
//! deleted from the warehouse, exactly once.
//!
//! The run's range is recorded in the job ledger before anything moves. On
//! PostgreSQL one transaction holds the table (`SHARE ROW EXCLUSIVE`:
//! loaders wait, readers do not) while the rows are copied out through the
//! lake's own writer, the parts uploaded and registered, and the same rows
//! deleted (the count must match) with the ledger row settled: a crash
//! before the commit deletes nothing, and the next run finishes the
//! recorded run with the same range and keys, overwriting its own parts.
//! Redshift UNLOADs the rows as Parquet partitioned by `dt`, then deletes
//! them in one transaction with the ledger row.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use futures_util::{StreamExt, pin_mut};
use landfall::catalog::footer::read_columns;
use landfall::catalog::{Column, ErrorKind, PartitionDef, TableDef, merge_columns, partition_columns};
use landfall::config::{Feed, ParquetCodec, WarehouseDriver, WriteDisposition};
use landfall::convert::{ConvertRequest, NameRules, convert};
use landfall::formats::{CsvOptions, FormatChoice, ReadOptions};
use landfall::jobs::{Archive, ArchiveRows};
use landfall::layout::s3_url;
use landfall::lineage::{LOADED_AT_COLUMN, PARTITION_KEY, RESERVED_NAMES};
use landfall::schema::{DeclaredColumn, FinishedPart, LogicalType, SchemaContract};
use landfall::storage::StorageError;
use landfall::threads::Threads;
use landfall::warehouse::jobs::{
    archive_bounded, archive_condition, archive_count, archive_delete, archive_unload_prefix, column_exists,
    unload_archive,
};
use landfall::warehouse::postgres::{self as pg, PostgresTarget, sql_error};

use landfall::warehouse::sql::{Dialect, TableName, quote_ident};
use landfall::warehouse::{Driver, Warehouse};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

use crate::export::{CsvRecords, Unloaded, read_unload_manifest};
use crate::{JobError, Outcome, Run, RunJob};

/// The range a new run records: (column, cutoff date) for `older_than`,
/// (None, condition) for `where`.
pub(crate) fn range(a: &Archive, today: NaiveDate) -> (Option<String>, String) {
    match &a.rows {
        ArchiveRows::OlderThan { column, days } => {
            let cutoff = today - chrono::Days::new(u64::from(*days));
            (Some(column.clone()), cutoff.format("%Y-%m-%d").to_string())
        }
        ArchiveRows::Where(w) => (None, w.clone()),
    }
}

fn condition(d: Dialect, column: Option<&str>, cutoff: &str) -> String {
    match column {
        Some(c) => archive_condition(d, c, cutoff),
        None => format!("({cutoff})"),
    }
}

/// The Glue table an archive registers.
pub fn glue_table(table: &str) -> String {
    format!("archive_{table}")
}

/// A run's rows as its ledger row fixed them: the range's condition and
/// when the run was recorded.
pub(crate) struct Range<'a> {
    pub condition: &'a str,
    /// The run's `started` (RFC 3339, or the ledger's text of it).
    pub started: &'a str,
}

pub(crate) async fn run(
    ctx: &RunJob,
    run: &Run<'_>,
    a: &Archive,
    (column, cutoff): (Option<&str>, &str),
    started: &str,
) -> Result<Outcome, JobError> {
    let table = ctx.table(&a.table);
    let cond = condition(ctx.dialect(), column, cutoff);
    let outcome = match &ctx.warehouse {
        Driver::Postgres(w) => Box::pin(postgres(ctx, run, a, w.target(), &table, &cond)).await?,
        Driver::Redshift(w) => {
            let range = Range { condition: &cond, started };
            Box::pin(redshift(ctx, run, a, w.copy_role_arn(), &table, &range)).await?
        }
    };
    if a.vacuum {
        let statements = match ctx.dialect() {
            Dialect::Postgres => vec![format!("VACUUM ANALYZE {table}")],
            Dialect::Redshift => vec![format!("VACUUM DELETE ONLY {table}"), format!("ANALYZE {table}")],
        };
        for (i, s) in statements.into_iter().enumerate() {
            let name = format!("landfall-job-{}-vacuum-{i}", run.run_id);
            // VACUUM cannot run in a transaction block: one statement, on its own.
            match &ctx.warehouse {
                Driver::Postgres(w) => {
                    let client = w.target().connect().await.map_err(RunJob::wh(run.job))?;
                    client.batch_execute(&s).await.map_err(|e| RunJob::wh(run.job)(sql_error(&table, &s, &e)))?;
                }
                Driver::Redshift(_) => {
                    ctx.warehouse.transaction(&table, &name, vec![s]).await.map_err(RunJob::wh(run.job))?
                }
            }
        }
    }
    Ok(outcome)
}

fn logical(data_type: &str, precision: Option<&str>, scale: Option<&str>) -> LogicalType {
    match data_type {
        "bigint" | "integer" | "smallint" => LogicalType::Int64,
        "double precision" | "real" => LogicalType::Float64,
        "numeric" => match (precision.and_then(|p| p.parse().ok()), scale.and_then(|s| s.parse().ok())) {
            (Some(precision), Some(scale)) if precision <= 38 => LogicalType::Decimal { precision, scale },
            _ => LogicalType::Float64,
        },
        "boolean" => LogicalType::Boolean,
        "date" => LogicalType::Date,
        "timestamp without time zone" => LogicalType::Timestamp,
        "timestamp with time zone" => LogicalType::TimestampTz,
        "json" | "jsonb" => LogicalType::Json,
        _ => LogicalType::String,
    }
}

/// A warehouse column's name in the archive: the lineage columns and `dt`
/// are names a source column cannot take, so they keep their values as
/// `archived_<name>` (the writer stamps its own lineage).
fn archived_name(column: &str) -> String {
    if RESERVED_NAMES.contains(&column) {
        format!("archived_{}", column.trim_start_matches('_'))
    } else {
        column.to_owned()
    }
}

/// The select list that renders each column as text the lake's reader
/// types back exactly, and the declared schema for the writer.
fn select_list(columns: &[(String, LogicalType)]) -> (String, Vec<DeclaredColumn>) {
    let mut exprs = Vec::with_capacity(columns.len());
    let mut declared = Vec::with_capacity(columns.len());
    for (name, t) in columns {
        let q = quote_ident(name);
        let out = archived_name(name);
        let expr = match t {
            LogicalType::TimestampTz => format!("to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"),
            LogicalType::Timestamp => format!("to_char({q}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"),
            LogicalType::Boolean => format!("CASE WHEN {q} THEN 'true' WHEN NOT {q} THEN 'false' END"),
            _ => q,
        };
        exprs.push(format!("{expr} AS {}", quote_ident(&out)));
        declared.push(DeclaredColumn { name: out, data_type: *t, nullable: true });
    }
    (exprs.join(", "), declared)
}

fn archive_feed(table: &TableName, declared: Vec<DeclaredColumn>, partition_column: String) -> Feed {
    Feed {
        name: glue_table(&table.table),
        prefix: String::new(),
        table: glue_table(&table.table),
        read: ReadOptions {
            format: FormatChoice::Csv,
            // PostgreSQL's own CSV: nothing to detect, and a text column's
            // `NA` or `-` is a value, never a missing one.
            csv: CsvOptions {
                delimiter: Some(b','),
                quote: Some(b'"'),
                skip_rows: Some(0),
                skip_initial_space: Some(false),
                null_tokens: landfall::schema::NullTokens::new(Vec::<String>::new()),
                ..CsvOptions::default()
            },
            ..ReadOptions::default()
        },
        declared,
        contract: SchemaContract::Freeze,
        // The rows come out of the warehouse, so every string fits it.
        oversize: landfall::schema::Oversize::Reject,
        primary_key: Vec::new(),
        partition_column: Some(partition_column),
        order_by: None,
        write_disposition: WriteDisposition::Append,
        distkey: None,
        sortkey: Vec::new(),
        parquet_codec: ParquetCodec::Zstd,
        zstd_level: 3,
        row_group_rows: 122_880,
        // An archive writes every day of its range; the rows it deletes must all be written.
        max_partitions: usize::MAX,
        monitor_by: Vec::new(),
        expect: None,
        notify: Default::default(),
        line: 0,
    }
}

async fn postgres(
    ctx: &RunJob,
    run: &Run<'_>,
    a: &Archive,
    target: &PostgresTarget,
    table: &TableName,
    cond: &str,
) -> Result<Outcome, JobError> {
    let job = run.job;
    let d = Dialect::Postgres;
    let wh = RunJob::wh(job);
    let plain = table.plain();
    let sqlerr = |sql: &str, e: tokio_postgres::Error| JobError::Warehouse {
        job: job.name.clone(),
        source: sql_error(table, sql, &e),
    };
    let scratch = |source| JobError::Scratch { job: job.name.clone(), source };
    let mut client = target.connect().await.map_err(&wh)?;
    let tx = client.transaction().await.map_err(|e| sqlerr("BEGIN", e))?;
    let lock = d.lock(table);
    tx.batch_execute(&lock).await.map_err(|e| sqlerr(&lock, e))?;
    let described = format!(
        "SELECT column_name, data_type, CAST(numeric_precision AS text), CAST(numeric_scale AS text) \
         FROM information_schema.columns WHERE table_schema = {} AND table_name = {} ORDER BY ordinal_position",
        d.literal(&table.schema),
        d.literal(&table.table)
    );
    let rows = pg::rows(&tx, table, &described).await.map_err(&wh)?;
    let columns: Vec<(String, LogicalType)> = rows
        .iter()
        .filter_map(|r| {
            let name = r.first()?.clone()?;
            let t = logical(
                r.get(1)?.as_deref()?,
                r.get(2).and_then(|v| v.as_deref()),
                r.get(3).and_then(|v| v.as_deref()),
            );
            Some((name, t))
        })
        .collect();
    if columns.is_empty() {
        return Err(JobError::Config { job: job.name.clone(), message: format!("table {plain} does not exist") });
    }
    let by = match &a.rows {
        _ if columns.iter().any(|(n, _)| n == PARTITION_KEY) => PARTITION_KEY.to_owned(),
        ArchiveRows::OlderThan { column, .. } if columns.iter().any(|(n, _)| n == column) => column.clone(),
        _ => {
            return Err(JobError::Config {
                job: job.name.clone(),
                message: format!("{plain} has no dt column to partition the archive by"),
            });
        }
    };
    let (list, declared) = select_list(&columns);
    let dir = tempfile::tempdir_in(&ctx.settings.work_dir).map_err(scratch)?;
    let csv_path = dir.path().join("rows.csv");
    let copy = format!("COPY (SELECT {list} FROM {table} WHERE {cond}) TO STDOUT WITH (FORMAT csv, HEADER)");
    let mut records = CsvRecords::default();
    {
        let stream = tx.copy_out(copy.as_str()).await.map_err(|e| sqlerr(&copy, e))?;
        pin_mut!(stream);
        let mut file = tokio::fs::File::create(&csv_path).await.map_err(scratch)?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| sqlerr(&copy, e))?;
            records.feed(&chunk);
            file.write_all(&chunk).await.map_err(scratch)?;
        }
        file.flush().await.map_err(scratch)?;
    }
    let selected = records.records().saturating_sub(1);
    let mut uploaded: Vec<(String, String, u64)> = Vec::new();
    if selected > 0 {
        let feed = archive_feed(table, declared, archived_name(&by));
        let parts = write_parts(job, feed, &csv_path, dir.path(), selected, &plain).await?;
        uploaded = upload(ctx, job, &a.table, &run.run_id, parts).await?;
        register(ctx, job, &a.table, &uploaded).await?;
    }
    let delete = format!("DELETE FROM {table} WHERE {cond}");
    let deleted = tx.execute(delete.as_str(), &[]).await.map_err(|e| sqlerr(&delete, e))?;
    if deleted != selected {
        return Err(JobError::Invariant {
            job: job.name.clone(),
            message: format!("{deleted} rows matched the delete but {selected} were archived; nothing deleted"),
        });
    }
    let bytes: u64 = uploaded.iter().map(|(_, _, b)| b).sum();
    let keys: Vec<&str> = uploaded.iter().map(|(_, k, _)| k.as_str()).collect();
    let detail = json!({ "table": plain, "condition": cond, "keys": keys, "glue_table": glue_table(&a.table) });
    for s in crate::settle(d, run, deleted, bytes, &detail) {
        tx.batch_execute(&s).await.map_err(|e| sqlerr(&s, e))?;
    }
    tx.commit().await.map_err(|e| sqlerr("COMMIT", e))?;
    info!(table = %plain, rows = deleted, parts = uploaded.len(), bytes, "archived");
    Ok(Outcome { rows: Some(deleted), bytes: Some(bytes), detail })
}

/// The CSV through the lake's writer, on a blocking thread; every row must come out.
async fn write_parts(
    job: &landfall::jobs::Job,
    feed: Feed,
    csv_path: &std::path::Path,
    dir: &std::path::Path,
    selected: u64,
    plain: &str,
) -> Result<Vec<FinishedPart>, JobError> {
    let parts = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&parts);
    let (csv_path, dir) = (csv_path.to_owned(), dir.to_owned());
    let source_url = format!("warehouse://{plain}");
    let today = chrono::Utc::now().date_naive();
    let outcome = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&csv_path)?;
        let req = ConvertRequest {
            feed: &feed,
            source_url: &source_url,
            name: "rows.csv",
            arrival_date: today,
            work_dir: &dir,
            threads: Threads::available(),
            // The names come from the PostgreSQL table being archived, so they fit already.
            names: NameRules::fresh(WarehouseDriver::Postgres),
            scratch_bytes: None,
        };
        let on_part = Box::new(move |p: FinishedPart| {
            sink.lock().map_err(|_| landfall::record::SinkError::fatal("parts poisoned"))?.push(p);
            Ok(())
        });
        convert(BufReader::new(file), &req, on_part).map_err(|e| std::io::Error::other(e.to_string()))
    })
    .await
    .map_err(|e| JobError::Invariant { job: job.name.clone(), message: format!("the writer's thread: {e}") })?
    .map_err(|source| JobError::Scratch { job: job.name.clone(), source })?;
    if outcome.rejected > 0 || outcome.write.rows_written != selected {
        return Err(JobError::Invariant {
            job: job.name.clone(),
            message: format!(
                "the writer took {} of {selected} rows ({} rejected: {}); nothing deleted",
                outcome.write.rows_written,
                outcome.rejected,
                outcome.error.unwrap_or_default()
            ),
        });
    }
    let taken = std::mem::take(
        &mut *parts
            .lock()
            .map_err(|_| JobError::Invariant { job: job.name.clone(), message: "parts poisoned".into() })?,
    );
    Ok(taken)
}

/// Uploads the parts as `archive/<table>/dt=<dt>/<run-id>-<seq>.parquet` and
/// removes any other part of this run id (an earlier attempt's) so that a
/// re-run leaves exactly its own. Returns (dt, key, bytes).
async fn upload(
    ctx: &RunJob,
    job: &landfall::jobs::Job,
    table: &str,
    run_id: &str,
    parts: Vec<FinishedPart>,
) -> Result<Vec<(String, String, u64)>, JobError> {
    let bucket = &ctx.settings.curated_bucket;
    let storage = |source| JobError::Storage { job: job.name.clone(), source };
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let dt = p.dt.format("%Y-%m-%d").to_string();
        let key = format!("archive/{table}/dt={dt}/{run_id}-{}.parquet", p.seq);
        ctx.store.put_file(bucket, &key, &p.path, "application/vnd.apache.parquet").await.map_err(storage)?;
        out.push((dt, key, p.bytes));
    }
    let mine: BTreeSet<&str> = out.iter().map(|(_, k, _)| k.as_str()).collect();
    let listed = ctx.store.list(bucket, &format!("archive/{table}/")).await.map_err(storage)?;
    for (key, _) in listed {
        let ours = key.rsplit('/').next().is_some_and(|f| f.starts_with(&format!("{run_id}-")));
        if ours && !mine.contains(key.as_str()) {
            ctx.store.delete(bucket, &key).await.map_err(storage)?;
        }
    }
    Ok(out)
}

/// Creates or evolves `archive_<table>` and adds the parts' partitions; a
/// partition that exists already counts as done.
async fn register(
    ctx: &RunJob,
    job: &landfall::jobs::Job,
    table: &str,
    parts: &[(String, String, u64)],
) -> Result<(), JobError> {
    let bucket = &ctx.settings.curated_bucket;
    let catalog_err = |source| JobError::Catalog { job: job.name.clone(), source };
    let mut by_dt: BTreeMap<&str, Vec<Vec<Column>>> = BTreeMap::new();
    let mut locations: BTreeMap<&str, String> = BTreeMap::new();
    let mut all: Vec<Column> = Vec::new();
    for (dt, key, _) in parts {
        let cols = read_columns(ctx.store.as_ref(), bucket, key).await.map_err(|e| JobError::Invariant {
            job: job.name.clone(),
            message: format!("reading the footer of {key}: {e}"),
        })?;
        all = merge_columns(&all, &cols).columns;
        by_dt.entry(dt).or_default().push(cols);
        let dir = key.rsplit_once('/').map_or(key.as_str(), |(d, _)| d);
        locations.insert(dt, s3_url(bucket, &format!("{dir}/")));
    }
    let name = glue_table(table);
    let location = s3_url(bucket, &format!("archive/{table}/"));
    let def = match ctx.catalog.get_table(&name).await.map_err(catalog_err)? {
        None => {
            let def = TableDef::new(&name, location, all);
            match ctx.catalog.create_table(&def).await {
                Ok(()) => def,
                Err(e) if e.kind == ErrorKind::AlreadyExists => {
                    ctx.catalog.get_table(&name).await.map_err(catalog_err)?.unwrap_or(def)
                }
                Err(e) => return Err(catalog_err(e)),
            }
        }
        Some(mut def) => {
            let merge = merge_columns(&def.columns, &all);
            if merge.changed() {
                def.columns = merge.columns;
                ctx.catalog.update_table(&def).await.map_err(catalog_err)?;
            }
            def
        }
    };
    let partitions: Vec<PartitionDef> = by_dt
        .iter()
        .map(|(dt, cols)| PartitionDef {
            dt: (*dt).to_owned(),
            location: locations.get(dt).cloned().unwrap_or_default(),
            columns: partition_columns(&def.columns, cols.iter().map(Vec::as_slice)),
        })
        .collect();
    for chunk in partitions.chunks(landfall::catalog::MAX_PARTITIONS_PER_CREATE) {
        let failed = ctx.catalog.batch_create_partitions(&def, chunk).await.map_err(catalog_err)?;
        if let Some(e) = failed.into_iter().find(|e| e.kind != ErrorKind::AlreadyExists) {
            return Err(catalog_err(e));
        }
    }
    landfall::telemetry::catalog::ArchivePartitionsRegistered { table: &name, partitions: partitions.len() }
        .emit(&ctx.metrics);
    Ok(())
}

/// The `dt` of an UNLOAD's file from its folder: `.../dt=D/...`, or
/// `.../<prefix>dt=D/...` when the TO path ends in a name prefix.
fn partition_of(key: &str) -> Option<&str> {
    let (dirs, _file) = key.rsplit_once('/')?;
    dirs.split('/').find_map(|seg| seg.strip_prefix("dt=").or_else(|| seg.rsplit_once("_dt=").map(|(_, v)| v)))
}

/// Unloads, registers and deletes exactly the rows the files hold. The
/// UNLOAD and the DELETE cannot share a transaction, so they share a
/// condition fixed in the job ledger (the range, and rows loaded before the
/// run was recorded) and the delete's transaction checks, under the lock,
/// that as many rows meet it as the files hold. When they differ (rows of
/// the range were changed in between), nothing is deleted: the run's folder
/// is unloaded again once, and then the run is left for the next one.
async fn redshift(
    ctx: &RunJob,
    run: &Run<'_>,
    a: &Archive,
    role: &str,
    table: &TableName,
    range: &Range<'_>,
) -> Result<Outcome, JobError> {
    let job = run.job;
    let d = Dialect::Redshift;
    let has_loaded_at = !ctx
        .warehouse
        .fetch(table, &format!("landfall-job-{}-columns", run.run_id), &column_exists(d, table, LOADED_AT_COLUMN))
        .await
        .map_err(RunJob::wh(job))?
        .is_empty();
    let cond = archive_bounded(d, range.condition, has_loaded_at.then_some(range.started));
    let prefix = archive_unload_prefix(&a.table, &run.run_id);
    let mut last = None;
    for attempt in 0..2 {
        let files = unloaded(ctx, run, role, table, &cond, &prefix).await?;
        let rows: u64 = files.iter().map(|f| f.rows).sum();
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let parts: Vec<(String, String, u64)> =
            files.iter().filter_map(|f| Some((partition_of(&f.key)?.to_owned(), f.key.clone(), f.bytes))).collect();
        if !parts.is_empty() {
            register(ctx, job, &a.table, &parts).await?;
        }
        let manifest_key = format!("{prefix}manifest");
        let detail = json!({ "table": table.plain(), "condition": cond, "manifest": manifest_key, "glue_table": glue_table(&a.table) });
        let mut statements = archive_delete(d, table, &cond, rows);
        statements.extend(crate::settle(d, run, rows, bytes, &detail));
        let name = format!("landfall-job-{}-delete-{attempt}", run.run_id);
        let Err(refused) = ctx.warehouse.transaction(table, &name, statements).await else {
            return Ok(Outcome { rows: Some(rows), bytes: Some(bytes), detail });
        };
        let count = format!("landfall-job-{}-count-{attempt}", run.run_id);
        let now = ctx.warehouse.fetch(table, &count, &archive_count(table, &cond)).await.map_err(RunJob::wh(job))?;
        let matching: u64 =
            now.first().and_then(|r| r.first()).cloned().flatten().and_then(|n| n.parse().ok()).unwrap_or(0);
        if matching == rows {
            return Err(RunJob::wh(job)(refused));
        }
        // The files no longer hold the range's rows: the next UNLOAD is a fresh one.
        warn!(table = %table.plain(), archived = rows, matching, "rows of the range changed after the UNLOAD; unloading again");
        ctx.store
            .delete(&ctx.settings.curated_bucket, &manifest_key)
            .await
            .map_err(|source| JobError::Storage { job: job.name.clone(), source })?;
        last = Some((rows, matching));
    }
    let (archived, matching) = last.unwrap_or_default();
    Err(JobError::RangeMoved { job: job.name.clone(), table: table.plain(), archived, matching })
}

/// The run's unloaded files from its manifest: the one an earlier attempt
/// finished (the manifest is written last), or a fresh UNLOAD into the
/// run's emptied folder.
async fn unloaded(
    ctx: &RunJob,
    run: &Run<'_>,
    role: &str,
    table: &TableName,
    cond: &str,
    prefix: &str,
) -> Result<Vec<Unloaded>, JobError> {
    let job = run.job;
    let bucket = &ctx.settings.curated_bucket;
    let storage = |source| JobError::Storage { job: job.name.clone(), source };
    let manifest_key = format!("{prefix}manifest");
    let manifest = match ctx.store.get_bytes(bucket, &manifest_key).await {
        Ok(bytes) => bytes,
        Err(StorageError::NotFound { .. }) => {
            // What an unfinished attempt left: only this run's files, whose rows are all still in the warehouse.
            for (key, _) in ctx.store.list(bucket, prefix).await.map_err(storage)? {
                ctx.store.delete(bucket, &key).await.map_err(storage)?;
            }
            let unload = unload_archive(table, cond, &s3_url(bucket, prefix), role);
            let name = format!("landfall-job-{}-unload", run.run_id);
            ctx.warehouse.transaction(table, &name, vec![unload]).await.map_err(RunJob::wh(job))?;
            ctx.store.get_bytes(bucket, &manifest_key).await.map_err(storage)?
        }
        Err(e) => return Err(storage(e)),
    };
    read_unload_manifest(&manifest)
        .map_err(|m| JobError::Invariant { job: job.name.clone(), message: format!("{manifest_key}: {m}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_a_cutoff_date_or_the_condition() {
        let a = Archive {
            table: "t".into(),
            rows: ArchiveRows::OlderThan { column: "dt".into(), days: 400 },
            vacuum: false,
        };
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(range(&a, today), (Some("dt".into()), "2025-10-27".into()));
        let w = Archive { rows: ArchiveRows::Where("status = 'closed'".into()), ..a };
        assert_eq!(range(&w, today), (None, "status = 'closed'".into()));
        assert_eq!(condition(Dialect::Postgres, None, "status = 'closed'"), "(status = 'closed')");
    }

    #[test]
    fn an_unloaded_files_partition_is_read_from_its_folder() {
        assert_eq!(partition_of("archive/t/r1_/dt=2025-01-01/0000_part_00.parquet"), Some("2025-01-01"));
        assert_eq!(partition_of("archive/t/r1_dt=2025-01-01/0000_part_00.parquet"), Some("2025-01-01"));
        assert_eq!(partition_of("archive/t/r1_0000_part_00.parquet"), None);
    }

    #[test]
    fn reserved_columns_keep_their_values_under_another_name() {
        assert_eq!(archived_name("_landfall_file"), "archived_landfall_file");
        assert_eq!(archived_name("dt"), "archived_dt");
        assert_eq!(archived_name("amount"), "amount");
        let (list, declared) =
            select_list(&[("at".into(), LogicalType::TimestampTz), ("ok".into(), LogicalType::Boolean)]);
        assert!(list.starts_with("to_char(\"at\" AT TIME ZONE 'UTC'"), "{list}");
        assert_eq!(declared[1].data_type, LogicalType::Boolean);
    }
}
