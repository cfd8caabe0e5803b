//! One COPY attempt, streamed: parts are downloaded one ahead of the
//! encoder, the encoder turns Parquet into COPY data on a blocking thread,
//! and chunks are sent as they fill. A failure says what to set aside
//! before the next attempt: a row (with its line and column), a file, or
//! nothing (the load's own failure).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::SinkExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::Transaction;
use tracing::info;

use super::copy::{CopyColumns, LineMap, PartContext, PartEncoder, SkippedRow, position_of};
use super::{PostgresWarehouse, sql_error};
use crate::storage::ObjectStore;
use crate::warehouse::WarehouseError;
use crate::warehouse::sql::TableName;

/// COPY data is sent in chunks of about this size.
const CHUNK_BYTES: usize = 256 * 1024;

/// One part to copy, and the rows of it set aside so far.
#[derive(Debug, Clone)]
pub(super) struct PartJob {
    pub(super) file: usize,
    pub(super) key: String,
    pub(super) dt: String,
    pub(super) seq: u32,
    pub(super) excluded: BTreeSet<u32>,
}

/// Why a COPY attempt failed, and what to set aside before the next.
pub(super) enum CopyFailure {
    Row { part: usize, position: u32, column: Option<String>, reason: String },
    File { file: usize, reason: String },
    Fatal(WarehouseError),
}

/// What a successful COPY attempt streamed.
#[derive(Default)]
pub(super) struct Copied {
    pub(super) rows_per_file: BTreeMap<usize, u64>,
    /// (file, part key, row).
    pub(super) skipped: Vec<(usize, String, SkippedRow)>,
}

/// What one attempt sends: the statement, its columns, the parts and the
/// load's timestamp (COPY's text form and microseconds).
pub(super) struct Attempt<'a> {
    pub(super) statement: &'a str,
    pub(super) columns: &'a CopyColumns,
    pub(super) parts: &'a [PartJob],
    pub(super) required: &'a [usize],
    pub(super) loaded_at: (&'a str, i64),
}

/// What the encoder hands the sender.
enum Msg {
    Chunk(Bytes),
    PartDone { part: usize, emitted: u64, skipped: Vec<SkippedRow> },
    Failed(CopyFailure),
}

impl PostgresWarehouse {
    /// One COPY attempt of `attempt.parts` inside `txn`.
    pub(super) async fn copy(
        &self,
        txn: &Transaction<'_>,
        table: &TableName,
        attempt: Attempt<'_>,
    ) -> Result<Copied, CopyFailure> {
        let Attempt { statement, columns, parts, .. } = attempt;
        let scratch = tempfile::Builder::new()
            .prefix("load-")
            .tempdir_in(&self.settings.work_dir)
            .map_err(|source| CopyFailure::Fatal(WarehouseError::Scratch { table: table.plain(), source }))?;
        let sink = txn
            .copy_in::<_, Bytes>(statement)
            .await
            .map_err(|e| classify_copy_error(table, statement, &e, &LineMap::default()))?;
        let mut sink = std::pin::pin!(sink);

        let (file_tx, file_rx) = mpsc::channel::<Result<(usize, PathBuf), CopyFailure>>(1);
        let downloader = self.download(table, parts, scratch.path(), file_tx);
        let (tx, mut rx) = mpsc::channel::<Msg>(8);
        let encoder = encode(&attempt, file_rx, tx);

        if let Err(e) = sink.send(Bytes::from_static(columns.header())).await {
            return Err(classify_copy_error(table, statement, &e, &LineMap::default()));
        }
        let mut lines = LineMap::default();
        let mut copied = Copied::default();
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

    /// Downloads the parts in order, at most one waiting on disk ahead of
    /// the encoder. A part that cannot be read sets its file aside; a fault
    /// that may pass fails the attempt.
    fn download(
        &self,
        table: &TableName,
        parts: &[PartJob],
        dir: &Path,
        files: mpsc::Sender<Result<(usize, PathBuf), CopyFailure>>,
    ) -> JoinHandle<()> {
        let store: Arc<dyn ObjectStore> = Arc::clone(&self.store);
        let bucket = self.settings.curated_bucket.clone();
        let dir = dir.to_path_buf();
        let jobs: Vec<(usize, usize, String)> =
            parts.iter().enumerate().map(|(i, p)| (i, p.file, p.key.clone())).collect();
        let table = table.clone();
        tokio::spawn(async move {
            for (i, file, key) in jobs {
                let path = dir.join(format!("part-{i}.parquet"));
                let result = match store.get_to_file(&bucket, &key, &path).await {
                    Ok(_) => Ok((i, path)),
                    Err(e) if e.retryable() => {
                        Err(CopyFailure::Fatal(WarehouseError::Part { table: table.plain(), key, source: Box::new(e) }))
                    }
                    Err(e) => Err(CopyFailure::File { file, reason: format!("part {key} cannot be read: {e}") }),
                };
                let stop = result.is_err();
                if files.send(result).await.is_err() || stop {
                    break;
                }
            }
        })
    }
}

/// Parquet to COPY data, part by part, on a blocking thread.
fn encode(
    attempt: &Attempt<'_>,
    mut files: mpsc::Receiver<Result<(usize, PathBuf), CopyFailure>>,
    tx: mpsc::Sender<Msg>,
) -> JoinHandle<()> {
    let columns = attempt.columns.clone();
    let parts = attempt.parts.to_vec();
    let required = attempt.required.to_vec();
    let (loaded_at, loaded_at_micros) = (attempt.loaded_at.0.to_owned(), attempt.loaded_at.1);
    tokio::task::spawn_blocking(move || {
        while let Some(next) = files.blocking_recv() {
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
            let part = encode_part(&columns, ctx, job, &path, &tx);
            let _ = std::fs::remove_file(&path);
            let Some((emitted, skipped)) = part else { return };
            if tx.blocking_send(Msg::PartDone { part: i, emitted, skipped }).is_err() {
                return;
            }
        }
    })
}

/// One part's rows as COPY chunks; `None` when it failed (the failure was
/// sent) or the sender stopped listening.
fn encode_part(
    columns: &CopyColumns,
    ctx: PartContext<'_>,
    job: &PartJob,
    path: &Path,
    tx: &mpsc::Sender<Msg>,
) -> Option<(u64, Vec<SkippedRow>)> {
    let mut enc = PartEncoder::new(columns, ctx);
    let mut skipped = Vec::new();
    let unusable = |reason: String| {
        let _ = tx.blocking_send(Msg::Failed(CopyFailure::File { file: job.file, reason }));
    };
    let reader = std::fs::File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| e.to_string()))
        .and_then(|b| b.with_batch_size(8192).build().map_err(|e| e.to_string()));
    let reader = match reader {
        Ok(r) => r,
        Err(e) => {
            unusable(format!("part {} is not readable Parquet: {e}", job.key));
            return None;
        }
    };
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                unusable(format!("part {} is corrupt: {e}", job.key));
                return None;
            }
        };
        if let Err(e) = enc.encode(&batch, &mut buf, &mut skipped) {
            unusable(format!("part {}: {e}", job.key));
            return None;
        }
        if buf.len() >= CHUNK_BYTES {
            let chunk = Bytes::from(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES + 64 * 1024)));
            tx.blocking_send(Msg::Chunk(chunk)).ok()?;
        }
    }
    if !buf.is_empty() {
        tx.blocking_send(Msg::Chunk(Bytes::from(buf))).ok()?;
    }
    Some((enc.emitted(), skipped))
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

/// Data exceptions (class 22), constraint violations on a row (not null,
/// check) and a row past a program limit (54000: an index entry over a
/// third of a page, or a row over a page the encoder's bound missed) carry
/// the COPY line; anything else is the load's failure. Set aside like a bad
/// value, past `MAX_ROW_RETRIES` such rows the file is refused: a recorded
/// outcome either way, never a dead letter.
fn classify_copy_error(table: &TableName, statement: &str, e: &tokio_postgres::Error, lines: &LineMap) -> CopyFailure {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let row_level = code.starts_with("22") || matches!(code, "23502" | "23514" | "54000");
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
}
