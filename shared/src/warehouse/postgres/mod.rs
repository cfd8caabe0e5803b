//! The PostgreSQL driver (tokio-postgres over rustls).
//!
//! One load, two transactions:
//! 1. *prepare*: under a transaction-scoped advisory lock, create the ledger,
//!    the schema and the target if missing (racing creators would otherwise
//!    collide on the catalog's unique indexes). Idempotent; an empty table
//!    left by a crash is harmless.
//! 2. *apply*: lock the target (SHARE ROW EXCLUSIVE: one loader at a time,
//!    readers unaffected), read which of the batch's files the ledger holds
//!    and leave them out, evolve the table, COPY the remaining files' rows
//!    (streamed from S3 through a local file per part) into the target
//!    (append) or a staging table (merge, replace partition), apply the
//!    disposition, record every file in the ledger, commit.
//!
//! The lock comes before the COPY (the design has COPY, then lock, then
//! delete what the ledger holds): PostgreSQL's COPY is quick next to the
//! data's trip from S3, and checking the ledger first lets an append go
//! straight into the target, one write of each row instead of two.
//!
//! A value the column cannot hold fails the COPY with its line; the driver
//! rolls back to a savepoint, sets that row aside (rejects, with the source
//! line and the server's reason) and copies again, up to
//! [`MAX_ROW_RETRIES`] times; after that a data error sets its whole file
//! aside. A part that is missing or unreadable sets its file aside too. The
//! rest of the batch loads either way.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures_util::SinkExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::sync::mpsc;
use tokio_postgres::Transaction;
use tracing::{info, warn};

pub mod connection;
pub mod copy;

pub use connection::PostgresTarget;
use connection::error_text;
use copy::{CopyColumns, LineMap, PartContext, PartEncoder, SkippedRow, position_of};

use super::ledger::{Counted, LEDGER_SCHEMA, LedgerRow};
use super::sql::{self, Dialect, ExistingColumn, MergeKey, SqlType, TableName};
use super::stats::StatsInsert;
use super::{FileResult, LoadReport, TableLoad, Warehouse, WarehouseError};
use crate::config::WriteDisposition;
use crate::rejects::{Reject, RejectKind};
use crate::storage::ObjectStore;

/// Rows set aside one by one before a data error sets aside the whole file.
pub const MAX_ROW_RETRIES: u32 = 10;
/// COPY data is sent in chunks of about this size.
const CHUNK_BYTES: usize = 256 * 1024;
/// Serialises table creation across loaders (any fixed key; this is "landfall" in ASCII).
pub(crate) const DDL_LOCK_KEY: i64 = 0x6c61_6e64_6661_6c6c;
use super::sql::STAGING;

/// Whether a SQLSTATE names a fault that can pass: connection loss,
/// serialization failure, deadlock, lock timeout, shutdown, resource
/// shortage, and catalog races between concurrent creators.
pub fn retryable_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || matches!(code, "40001" | "40P01" | "55P03" | "55006" | "23505" | "42P07" | "42P06")
}

/// Settings the driver needs besides the connection.
#[derive(Debug, Clone)]
pub struct LoaderSettings {
    /// Where the parts are read from and the load rejects written to.
    pub curated_bucket: String,
    /// Scratch space for parts on their way to COPY (`/tmp` in Lambda).
    pub work_dir: PathBuf,
}

#[derive(Clone)]
pub struct PostgresWarehouse {
    target: PostgresTarget,
    store: Arc<dyn ObjectStore>,
    settings: Arc<LoaderSettings>,
}

impl PostgresWarehouse {
    pub fn new(target: PostgresTarget, store: Arc<dyn ObjectStore>, settings: LoaderSettings) -> Self {
        PostgresWarehouse { target, store, settings: Arc::new(settings) }
    }

    pub fn target(&self) -> &PostgresTarget {
        &self.target
    }
}

fn sql_error(table: &TableName, statement: &str, e: &tokio_postgres::Error) -> WarehouseError {
    let code = e.as_db_error().map(|db| db.code().code().to_owned());
    let retryable = match &code {
        Some(c) => retryable_code(c),
        // No server error: the connection broke or timed out.
        None => true,
    };
    let mut statement: String = statement.chars().take(160).collect();
    if statement.len() >= 160 {
        statement.push('…');
    }
    WarehouseError::Sql { table: table.plain(), statement, code, message: error_text(e), retryable }
}

async fn exec(txn: &Transaction<'_>, table: &TableName, statement: &str) -> Result<(), WarehouseError> {
    txn.batch_execute(statement).await.map_err(|e| sql_error(table, statement, &e))
}

#[async_trait]
impl Warehouse for PostgresWarehouse {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn describe(&self) -> String {
        self.target.display.clone()
    }

    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, WarehouseError> {
        let client = self.target.connect().await?;
        text_rows(&client, sql).await.map_err(|e| sql_error(&TableName::ledger(), sql, &e))
    }

    async fn execute(&self, statements: Vec<String>) -> Result<(), WarehouseError> {
        let ledger = TableName::ledger();
        let mut client = self.target.connect().await?;
        let txn = client.transaction().await.map_err(|e| sql_error(&ledger, "BEGIN", &e))?;
        for s in &statements {
            txn.batch_execute(s).await.map_err(|e| sql_error(&ledger, s, &e))?;
        }
        txn.commit().await.map_err(|e| sql_error(&ledger, "COMMIT", &e))
    }

    async fn load(&self, load: &TableLoad) -> Result<LoadReport, WarehouseError> {
        let mut client = self.target.connect().await?;
        prepare(&mut client, load).await?;
        let txn = client.transaction().await.map_err(|e| sql_error(&load.target, "BEGIN", &e))?;
        let report = self.apply(&txn, load).await?;
        txn.commit().await.map_err(|e| sql_error(&load.target, "COMMIT", &e))?;
        Ok(report)
    }
}

/// A query's rows, each value as text (NULL as `None`), by the simple query protocol.
pub async fn text_rows(
    client: &impl tokio_postgres::GenericClient,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
    Ok(client
        .simple_query(sql)
        .await?
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect())
}

/// Creates what a load needs, in its own short transaction.
async fn prepare(client: &mut tokio_postgres::Client, load: &TableLoad) -> Result<(), WarehouseError> {
    let t = &load.target;
    let d = Dialect::Postgres;
    let txn = client.transaction().await.map_err(|e| sql_error(t, "BEGIN", &e))?;
    let lock = format!("SELECT pg_advisory_xact_lock({DDL_LOCK_KEY})");
    exec(&txn, t, &lock).await?;
    // Only what is missing, so a loader without CREATE rights on existing
    // schemas still works once an administrator has created them.
    for schema in [LEDGER_SCHEMA, t.schema.as_str()] {
        let q = "SELECT 1 FROM pg_namespace WHERE nspname = $1";
        let found = txn.query_opt(q, &[&schema]).await.map_err(|e| sql_error(t, q, &e))?;
        if found.is_none() {
            exec(&txn, t, &d.create_schema(schema)).await?;
        }
    }
    for (table, ddl) in [
        (TableName::ledger(), vec![d.create_ledger()]),
        (TableName::feed_stats(), d.create_feed_stats()),
        (t.clone(), vec![d.create_table(t, &column_types(load))]),
    ] {
        let q = "SELECT to_regclass($1) IS NOT NULL";
        let row = txn.query_one(q, &[&table.to_string()]).await.map_err(|e| sql_error(t, q, &e))?;
        if !row.get::<_, bool>(0) {
            for statement in &ddl {
                exec(&txn, t, statement).await?;
            }
            info!(table = %table.plain(), "created");
        }
    }
    txn.commit().await.map_err(|e| sql_error(t, "COMMIT", &e))
}

fn column_types(load: &TableLoad) -> Vec<(String, SqlType)> {
    load.needs
        .iter()
        .map(|n| (n.name.clone(), SqlType::for_column(Dialect::Postgres, n.logical, n.max_bytes)))
        .collect()
}

async fn existing_columns(txn: &Transaction<'_>, table: &TableName) -> Result<Vec<ExistingColumn>, WarehouseError> {
    let q = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
    let rows = txn.query(q, &[&table.to_string()]).await.map_err(|e| sql_error(table, q, &e))?;
    Ok(rows
        .iter()
        .map(|r| ExistingColumn { name: r.get(0), sql_type: SqlType::parse(&r.get::<_, String>(1)) })
        .collect())
}

/// One part to copy, and the rows of it set aside so far.
#[derive(Debug, Clone)]
struct PartJob {
    file: usize,
    key: String,
    dt: String,
    seq: u32,
    excluded: BTreeSet<u32>,
}

/// Per file, what the load decided.
#[derive(Debug, Default, Clone)]
struct FileState {
    refused: Option<String>,
    rows: u64,
    rejected_at_load: u64,
}

/// Why a COPY attempt failed, and what to set aside before the next.
enum CopyFailure {
    Row { part: usize, position: u32, column: Option<String>, reason: String },
    File { file: usize, reason: String },
    Fatal(WarehouseError),
}

/// What a successful COPY attempt streamed.
struct Copied {
    rows_per_file: BTreeMap<usize, u64>,
    /// (file, part key, row).
    skipped: Vec<(usize, String, SkippedRow)>,
}

impl PostgresWarehouse {
    async fn apply(&self, txn: &Transaction<'_>, load: &TableLoad) -> Result<LoadReport, WarehouseError> {
        let t = &load.target;
        let d = Dialect::Postgres;
        let now = Utc::now();
        let loaded_at_rfc = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let loaded_at_copy = now.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string();
        let loaded_at = (loaded_at_copy.as_str(), now.timestamp_micros());
        exec(txn, t, &d.lock(t)).await?;

        let ids = load.file_ids();
        let q = d.select_loaded(t, &ids);
        let already: HashSet<String> =
            txn.query(&q, &[]).await.map_err(|e| sql_error(t, &q, &e))?.iter().map(|r| r.get(0)).collect();
        let existing = existing_columns(txn, t).await?;
        let decision = super::decide(d, load, &existing, &already);
        let mut report = LoadReport {
            load_id: load.load_id.clone(),
            table: t.plain(),
            already_loaded: decision.already_loaded.clone(),
            ..LoadReport::default()
        };
        let fresh = decision.fresh.clone();
        let mut states: Vec<FileState> =
            decision.refused.iter().map(|r| FileState { refused: r.clone(), ..FileState::default() }).collect();
        for change in &decision.changes {
            for statement in d.apply_change(t, change) {
                exec(txn, t, &statement).await?;
            }
            info!(table = %t.plain(), change = %change.describe(d), "table evolved");
            report.changes.push(change.describe(d));
        }
        let data = decision.column_names();

        // A monitored append stages too: the stats then read this load's
        // rows from a temp table the size of the batch, not the target.
        let staged = load.rules.disposition != WriteDisposition::Append || load.rules.stats.is_some();
        let types: Vec<SqlType> = decision.columns.iter().map(|(_, t)| t.clone()).collect();
        let copy_columns = CopyColumns::new(data.clone(), types.clone(), staged);
        let statement = if staged {
            let typed: Vec<(String, SqlType)> = data.iter().cloned().zip(types).collect();
            exec(txn, t, &d.create_staging(STAGING, &typed)).await?;
            copy_columns.statement(&sql::quote_ident(STAGING))
        } else {
            copy_columns.statement_for(t)
        };
        let required: Vec<usize> = match load.rules.disposition {
            WriteDisposition::Merge => {
                load.rules.primary_key.iter().filter_map(|k| data.iter().position(|c| c == k)).collect()
            }
            _ => Vec::new(),
        };

        let mut parts: Vec<PartJob> = Vec::new();
        for &i in &fresh {
            let file = &load.files[i];
            if states[i].refused.is_some() || !file.manifest.status.has_rows() {
                continue;
            }
            for p in &file.manifest.parts {
                parts.push(PartJob {
                    file: i,
                    key: p.key.clone(),
                    dt: p.dt.clone(),
                    seq: file.seq,
                    excluded: BTreeSet::new(),
                });
            }
        }

        let mut row_reasons: BTreeMap<(String, u32), (Option<String>, String)> = BTreeMap::new();
        let mut attempts = 0u32;
        // Nothing new (every file already loaded, failed or refused): no COPY, no disposition.
        let nothing_to_copy = parts.is_empty();
        let copied = loop {
            if nothing_to_copy {
                break Copied { rows_per_file: BTreeMap::new(), skipped: Vec::new() };
            }
            attempts += 1;
            exec(txn, t, "SAVEPOINT landfall_copy").await?;
            let active: Vec<PartJob> = parts.iter().filter(|p| states[p.file].refused.is_none()).cloned().collect();
            let failure = match self.copy(txn, t, &statement, &copy_columns, &active, &required, loaded_at).await {
                Ok(copied) => break copied,
                Err(f) => f,
            };
            exec(txn, t, "ROLLBACK TO SAVEPOINT landfall_copy").await?;
            match failure {
                CopyFailure::Fatal(e) => return Err(e),
                CopyFailure::File { file, reason } => {
                    warn!(table = %t.plain(), file = %load.files[file].manifest.source.url, %reason, "file set aside");
                    states[file].refused = Some(reason);
                }
                CopyFailure::Row { part, position, column, reason } => {
                    let Some(job) = active.get(part) else {
                        return Err(WarehouseError::Invariant {
                            table: t.plain(),
                            message: format!("COPY reported a row of part {part}, which was not sent"),
                        });
                    };
                    let file = job.file;
                    if attempts > MAX_ROW_RETRIES {
                        warn!(table = %t.plain(), file = %load.files[file].manifest.source.url, %reason, "too many data errors; file set aside");
                        states[file].refused =
                            Some(format!("more than {MAX_ROW_RETRIES} rows the table cannot hold; the last: {reason}"));
                    } else {
                        warn!(table = %t.plain(), file = %load.files[file].manifest.source.url, position, %reason, "row set aside");
                        if let Some(p) = parts.iter_mut().find(|p| p.key == job.key) {
                            p.excluded.insert(position);
                        }
                        row_reasons.insert((job.key.clone(), position), (column, reason));
                    }
                }
            }
        };
        if !nothing_to_copy {
            exec(txn, t, "RELEASE SAVEPOINT landfall_copy").await?;
        }
        report.attempts = attempts;

        match load.rules.disposition {
            _ if nothing_to_copy => {}
            WriteDisposition::Append if staged => exec(txn, t, &d.insert_from_staging(t, STAGING, &data)).await?,
            WriteDisposition::Append => {}
            WriteDisposition::ReplacePartition => {
                for s in d.replace_partitions(t, STAGING, &data) {
                    exec(txn, t, &s).await?;
                }
            }
            WriteDisposition::Merge => {
                let merge = MergeKey { key: &load.rules.primary_key, order_by: load.rules.order_by.as_deref() };
                for s in d.merge(t, STAGING, &data, merge) {
                    exec(txn, t, &s).await?;
                }
            }
        }

        // Rejects: rows set aside (by data error or null key) and refused files.
        let mut rejects: Vec<Reject> = Vec::new();
        for (file, key, row) in &copied.skipped {
            let manifest = &load.files[*file].manifest;
            let (column, reason) = match &row.null_key {
                Some(reason) => (None, reason.clone()),
                None => row_reasons
                    .get(&(key.clone(), row.position))
                    .map(|(c, r)| (c.clone(), format!("the warehouse refused the row: {r}")))
                    .unwrap_or((None, "the warehouse refused the row".into())),
            };
            states[*file].rejected_at_load += 1;
            rejects.push(Reject {
                kind: RejectKind::Row,
                file: manifest.source.url.clone(),
                feed: manifest.feed.clone(),
                line: row.line.and_then(|l| u64::try_from(l).ok()),
                column,
                reason,
                raw: Some(row.raw.clone()),
            });
        }
        for (file, rows) in &copied.rows_per_file {
            states[*file].rows = *rows;
        }
        let refused: Vec<(usize, String)> =
            states.iter().enumerate().filter_map(|(i, st)| st.refused.clone().map(|r| (i, r))).collect();
        report.rejects_key = super::write_load_rejects(
            self.store.as_ref(),
            &self.settings.curated_bucket,
            &self.settings.work_dir,
            load,
            rejects,
            &refused,
        )
        .await?;

        let mut rows = Vec::new();
        for &i in &fresh {
            let file = &load.files[i];
            let state = &states[i];
            let refused = state.refused.as_deref();
            let row = LedgerRow::new(file, refused, &report.changes, report.rejects_key.as_deref());
            let counted = Counted {
                rows_loaded: if refused.is_some() { 0 } else { state.rows },
                rows_rejected_at_load: state.rejected_at_load,
            };
            report.rows_loaded += counted.rows_loaded;
            report.rows_rejected_at_load += counted.rows_rejected_at_load;
            report.files.push(FileResult {
                file_id: row.file_id.clone(),
                manifest_key: row.manifest_key.clone(),
                status: row.status,
                rows_loaded: counted.rows_loaded,
                rows_rejected: row.rows_rejected_at_parse + counted.rows_rejected_at_load,
                reason: LedgerRow::reason(file, refused),
            });
            rows.push((row, counted));
        }
        let recorded: Vec<&str> = rows.iter().map(|(r, _)| r.file_id.as_str()).collect();
        if let Some(s) = d.delete_superseded(t, &recorded) {
            exec(txn, t, &s).await?;
        }
        if let Some(s) = d.insert_ledger(t, &load.load_id, &loaded_at_rfc, &rows) {
            exec(txn, t, &s).await?;
        }
        if let (Some(rules), false) = (&load.rules.stats, nothing_to_copy) {
            let stats = d.insert_feed_stats(StatsInsert {
                target: t,
                feed: &load.feed,
                load_id: &load.load_id,
                loaded_at: &loaded_at_rfc,
                rows_from: STAGING,
                columns: &decision.columns,
                rules,
            });
            exec(txn, t, &stats).await?;
        }
        Ok(report)
    }

    /// One COPY attempt: parts are downloaded one ahead of the encoder, the
    /// encoder runs on a blocking thread, chunks are sent as they fill.
    #[allow(clippy::too_many_arguments)]
    async fn copy(
        &self,
        txn: &Transaction<'_>,
        table: &TableName,
        statement: &str,
        columns: &CopyColumns,
        parts: &[PartJob],
        required: &[usize],
        (loaded_at, loaded_at_micros): (&str, i64),
    ) -> Result<Copied, CopyFailure> {
        let scratch = tempfile::Builder::new()
            .prefix("load-")
            .tempdir_in(&self.settings.work_dir)
            .map_err(|source| CopyFailure::Fatal(WarehouseError::Scratch { table: table.plain(), source }))?;
        let sink = txn
            .copy_in::<_, Bytes>(statement)
            .await
            .map_err(|e| classify_copy_error(table, statement, &e, &LineMap::default()))?;
        let mut sink = std::pin::pin!(sink);

        // Downloads: at most one part waits on disk ahead of the encoder.
        let (file_tx, mut file_rx) = mpsc::channel::<Result<(usize, PathBuf), CopyFailure>>(1);
        let downloader = {
            let store = Arc::clone(&self.store);
            let bucket = self.settings.curated_bucket.clone();
            let dir = scratch.path().to_path_buf();
            let jobs: Vec<(usize, usize, String)> =
                parts.iter().enumerate().map(|(i, p)| (i, p.file, p.key.clone())).collect();
            let table = table.clone();
            tokio::spawn(async move {
                for (i, file, key) in jobs {
                    let path = dir.join(format!("part-{i}.parquet"));
                    let result = match store.get_to_file(&bucket, &key, &path).await {
                        Ok(_) => Ok((i, path)),
                        Err(e) if e.retryable() => Err(CopyFailure::Fatal(WarehouseError::Part {
                            table: table.plain(),
                            key,
                            source: Box::new(e),
                        })),
                        Err(e) => Err(CopyFailure::File { file, reason: format!("part {key} cannot be read: {e}") }),
                    };
                    let stop = result.is_err();
                    if file_tx.send(result).await.is_err() || stop {
                        break;
                    }
                }
            })
        };

        // Encoding: Parquet -> COPY text, on a blocking thread.
        enum Msg {
            Chunk(Bytes),
            PartDone { part: usize, emitted: u64, skipped: Vec<SkippedRow> },
            Failed(CopyFailure),
        }
        let (tx, mut rx) = mpsc::channel::<Msg>(8);
        let encoder = {
            let columns = columns.clone();
            let parts = parts.to_vec();
            let required = required.to_vec();
            let loaded_at = loaded_at.to_owned();
            tokio::task::spawn_blocking(move || {
                while let Some(next) = file_rx.blocking_recv() {
                    let (i, path) = match next {
                        Ok(x) => x,
                        Err(f) => {
                            let _ = tx.blocking_send(Msg::Failed(f));
                            return;
                        }
                    };
                    let Some(job) = parts.get(i) else { return };
                    let ctx = PartContext {
                        dt: &job.dt,
                        loaded_at: &loaded_at,
                        loaded_at_micros,
                        seq: job.seq,
                        excluded: &job.excluded,
                        required: &required,
                    };
                    let mut enc = PartEncoder::new(&columns, ctx);
                    let mut skipped = Vec::new();
                    let unusable = |reason: String| Msg::Failed(CopyFailure::File { file: job.file, reason });
                    let reader = std::fs::File::open(&path)
                        .map_err(|e| e.to_string())
                        .and_then(|f| ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| e.to_string()))
                        .and_then(|b| b.with_batch_size(8192).build().map_err(|e| e.to_string()));
                    let reader = match reader {
                        Ok(r) => r,
                        Err(e) => {
                            let _ =
                                tx.blocking_send(unusable(format!("part {} is not readable Parquet: {e}", job.key)));
                            return;
                        }
                    };
                    let mut buf = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
                    for batch in reader {
                        let batch = match batch {
                            Ok(b) => b,
                            Err(e) => {
                                let _ = tx.blocking_send(unusable(format!("part {} is corrupt: {e}", job.key)));
                                return;
                            }
                        };
                        if let Err(e) = enc.encode(&batch, &mut buf, &mut skipped) {
                            let _ = tx.blocking_send(unusable(format!("part {}: {e}", job.key)));
                            return;
                        }
                        if buf.len() >= CHUNK_BYTES {
                            let chunk =
                                Bytes::from(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES + 64 * 1024)));
                            if tx.blocking_send(Msg::Chunk(chunk)).is_err() {
                                return;
                            }
                        }
                    }
                    let _ = std::fs::remove_file(&path);
                    if !buf.is_empty() && tx.blocking_send(Msg::Chunk(Bytes::from(buf))).is_err() {
                        return;
                    }
                    if tx.blocking_send(Msg::PartDone { part: i, emitted: enc.emitted(), skipped }).is_err() {
                        return;
                    }
                }
            })
        };

        if let Err(e) = sink.send(Bytes::from_static(columns.header())).await {
            return Err(classify_copy_error(table, statement, &e, &LineMap::default()));
        }
        let mut lines = LineMap::default();
        let mut copied = Copied { rows_per_file: BTreeMap::new(), skipped: Vec::new() };
        let mut failure = None;
        let mut send_error = None;
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Chunk(bytes) => {
                    // After a failed send, keep draining so the line map
                    // covers the part the server complained about.
                    if send_error.is_none()
                        && let Err(e) = sink.send(bytes).await
                    {
                        send_error = Some(e);
                    }
                }
                Msg::PartDone { part, emitted, skipped } => {
                    lines.push(part, emitted);
                    if let Some(job) = parts.get(part) {
                        *copied.rows_per_file.entry(job.file).or_default() += emitted;
                        copied.skipped.extend(skipped.into_iter().map(|s| (job.file, job.key.clone(), s)));
                    }
                }
                Msg::Failed(f) => {
                    failure = Some(f);
                    break;
                }
            }
        }
        drop(rx);
        downloader.abort();
        let _ = encoder.await;
        if let Some(f) = failure {
            return Err(locate(f, parts));
        }
        if send_error.is_none()
            && let Err(e) = sink.send(Bytes::from_static(columns.trailer())).await
        {
            send_error = Some(e);
        }
        if let Some(e) = send_error {
            return Err(locate(classify_copy_error(table, statement, &e, &lines), parts));
        }
        match sink.as_mut().finish().await {
            Ok(rows) => {
                info!(table = %table.plain(), rows, parts = parts.len(), "copied");
                Ok(copied)
            }
            Err(e) => Err(locate(classify_copy_error(table, statement, &e, &lines), parts)),
        }
    }
}

/// A data error's COPY line, turned into the part and its position.
fn locate(f: CopyFailure, parts: &[PartJob]) -> CopyFailure {
    match f {
        CopyFailure::Row { part, position, column, reason } => {
            let position = parts.get(part).map_or(position, |p| position_of(u64::from(position), &p.excluded));
            CopyFailure::Row { part, position, column, reason }
        }
        other => other,
    }
}

/// Data exceptions (class 22) and constraint violations on a row (not
/// null, check) carry the COPY line; anything else is the load's failure.
fn classify_copy_error(table: &TableName, statement: &str, e: &tokio_postgres::Error, lines: &LineMap) -> CopyFailure {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let row_level = code.starts_with("22") || matches!(code, "23502" | "23514");
        if row_level && let Some(at) = db.where_().and_then(copy_position) {
            let (line, column) = at;
            if let Some((part, offset)) = lines.locate(line) {
                return CopyFailure::Row {
                    part,
                    // The emitted offset; `locate` turns it into a position.
                    position: u32::try_from(offset).unwrap_or(u32::MAX),
                    column,
                    reason: format!("{} (SQLSTATE {code})", db.message()),
                };
            }
        }
    }
    CopyFailure::Fatal(sql_error(table, statement, e))
}

/// `COPY t, line 17, column amount: "..."` -> (17, Some("amount")).
fn copy_position(context: &str) -> Option<(u64, Option<String>)> {
    let rest = &context[context.find(", line ")? + 7..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let line = digits.parse().ok()?;
    let column =
        rest[digits.len()..].strip_prefix(", column ").and_then(|c| c.split(':').next()).map(|c| c.trim().to_owned());
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_error_context_gives_line_and_column() {
        assert_eq!(
            copy_position("COPY landfall_staging, line 17, column amount: \"1e400\""),
            Some((17, Some("amount".into())))
        );
        assert_eq!(copy_position("COPY orders, line 3"), Some((3, None)));
        assert_eq!(copy_position("SQL statement"), None);
    }

    #[test]
    fn transient_sqlstates_are_retryable_and_data_errors_are_not() {
        for code in ["40001", "40P01", "08006", "57P01", "53300", "55P03"] {
            assert!(retryable_code(code), "{code}");
        }
        for code in ["22003", "42601", "42703", "23502"] {
            assert!(!retryable_code(code), "{code}");
        }
    }
}
