//! One source file to typed Parquet parts: the readers (`formats`) feeding the
//! typed writer (`schema`), with every reject collected in one place. Pure and
//! synchronous (it runs on a blocking thread in Lambda and directly in the
//! benchmark); where the parts go is the caller's callback.
//!
//! With [`Threads::Two`] each part's Parquet encoding and compression runs
//! on a thread of its own while the calling thread reads, types and fills
//! the next batch. The parts, rejects and outcome are the same as on one
//! thread. (Handing records from a reading thread to a typing one as well
//! was measured too: copying each record across cost more than it gained.)

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use crate::config::{Feed, ParquetCodec, WarehouseDriver};
use crate::formats::{self, DetectedFormat, FormatError, ReadSummary};
use crate::manifest::{DetectedInput, FileStatus};
use crate::record::{MAX_RAW_BYTES, SinkError, truncate_in_place};
use crate::rejects::{Reject, RejectKind, RejectWriter};
use crate::schema::writer::PartCallback;
use crate::schema::{ParquetCompression, TableWriter, WriteSummary, WriterOptions};
use crate::threads::Threads;

/// A failure that leaves the file unprocessed; the caller retries it.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    Source(std::io::Error),
    #[error("{0}")]
    Sink(SinkError),
    #[error("writing rejects: {0}")]
    Rejects(std::io::Error),
}

impl ConvertError {
    pub fn retryable(&self) -> bool {
        match self {
            ConvertError::Source(_) | ConvertError::Rejects(_) => true,
            ConvertError::Sink(e) => e.retryable,
        }
    }
}

pub struct ConvertRequest<'a> {
    pub feed: &'a Feed,
    /// `s3://bucket/key` of the source: `_landfall_file` and the rejects' `file`.
    pub source_url: &'a str,
    /// The object key, for extension hints.
    pub name: &'a str,
    pub arrival_date: NaiveDate,
    /// A private scratch directory for part and rejects files.
    pub work_dir: &'a Path,
    pub threads: Threads,
    /// How the table names its columns: the warehouse's identifier limit and
    /// the map recorded from the table's earlier files.
    pub names: NameRules,
}

/// What a file's column names must agree with.
#[derive(Debug, Clone)]
pub struct NameRules {
    /// The warehouse's identifier limit in bytes
    /// (`WarehouseDriver::identifier_limit`).
    pub identifier_limit: usize,
    /// Source name -> column, recorded from the table's earlier files.
    pub column_map: BTreeMap<String, String>,
}

impl NameRules {
    /// The configured warehouse's limit and no recorded names (a table's
    /// first file, or a file read on its own as `landfall infer` does).
    pub fn fresh(driver: WarehouseDriver) -> Self {
        NameRules { identifier_limit: driver.identifier_limit(), column_map: BTreeMap::new() }
    }
}

#[derive(Debug)]
pub struct ConvertOutcome {
    pub status: FileStatus,
    pub error: Option<String>,
    pub input: Option<DetectedInput>,
    pub write: WriteSummary,
    /// Local gzip JSONL file of rejects, if there were any.
    pub rejects_file: Option<PathBuf>,
    pub rejected: u64,
}

fn writer_options(req: &ConvertRequest<'_>) -> WriterOptions {
    let feed = req.feed;
    let mut opts = WriterOptions::new(req.source_url.to_owned(), req.arrival_date, req.work_dir.to_path_buf());
    opts.declared = feed.declared.clone();
    opts.contract = feed.contract;
    opts.partition_column = feed.partition_column.clone();
    opts.compression = match feed.parquet_codec {
        ParquetCodec::Zstd => ParquetCompression::Zstd(feed.zstd_level),
        ParquetCodec::Snappy => ParquetCompression::Snappy,
    };
    opts.row_group_rows = feed.row_group_rows;
    opts.max_partitions = feed.max_partitions;
    opts.encode_on_thread = req.threads == Threads::Two;
    opts.null_tokens = feed.read.csv.null_tokens.clone();
    opts.dates = feed.read.dates;
    opts.identifier_limit = req.names.identifier_limit;
    opts.column_map = req.names.column_map.clone();
    opts
}

fn describe(summary: &ReadSummary) -> DetectedInput {
    let dialect = summary.dialect;
    let (format, delimiter) = match summary.format {
        DetectedFormat::Csv { delimiter } => ("csv", Some(char::from(delimiter).to_string())),
        DetectedFormat::JsonArray => ("json_array", None),
        DetectedFormat::Ndjson => ("ndjson", None),
        DetectedFormat::JsonStream => ("json_stream", None),
        DetectedFormat::NdjsonArrays => ("ndjson_arrays", None),
    };
    DetectedInput {
        format: format.to_owned(),
        delimiter,
        compression: summary.compression.as_str().to_owned(),
        encoding: summary.encoding.to_owned(),
        decoded_bytes: summary.decoded_bytes,
        quote: dialect.filter(|d| d.quote != b'"').map(|d| char::from(d.quote).to_string()),
        skip_rows: dialect.map(|d| d.preamble).filter(|&n| n > 0),
        skip_initial_space: dialect.filter(|d| d.space_after).map(|_| true),
        header_rows: dialect.map(|d| d.header_rows).filter(|&n| n > 1),
        notes: summary.notes.clone(),
        date_order: None,
    }
}

/// Reads `input` and writes its parts through `on_part`. Data problems never
/// make this fail: bad rows and unreadable files end up in the rejects and
/// the outcome's status; only transport and local I/O failures are errors.
pub fn convert(
    input: impl Read,
    req: &ConvertRequest<'_>,
    on_part: PartCallback,
) -> Result<ConvertOutcome, ConvertError> {
    let rejects = Arc::new(Mutex::new(RejectWriter::new(req.work_dir)));

    // The first row's reason, to say why a file whose every row was rejected loads nothing.
    let first_reason: Arc<Mutex<Option<String>>> = Arc::default();
    let on_reject = {
        let rejects = Arc::clone(&rejects);
        let first_reason = Arc::clone(&first_reason);
        let file = req.source_url.to_owned();
        let feed = req.feed.name.clone();
        Box::new(move |row: crate::schema::RejectedRow| -> Result<(), SinkError> {
            // Readers cut their raw text already; rows the writer renders itself may be longer.
            let mut raw = row.raw;
            truncate_in_place(&mut raw, MAX_RAW_BYTES);
            if let Ok(mut first) = first_reason.lock() {
                first.get_or_insert_with(|| row.reason.clone());
            }
            let reject = Reject {
                kind: RejectKind::Row,
                file: file.clone(),
                feed: feed.clone(),
                line: Some(row.line),
                column: row.column,
                reason: row.reason,
                raw: Some(raw),
            };
            let mut w = rejects.lock().map_err(|_| SinkError::fatal("rejects writer poisoned"))?;
            w.push(&reject).map_err(|e| SinkError::retryable("writing a reject to local disk", e))
        })
    };

    // A fatal (non-retryable) writer error is a property of the file, e.g. a
    // partition column it does not have: recorded like an unreadable file.
    let file_error = |reason: &str, line: Option<u64>| -> Result<(), ConvertError> {
        let reject = Reject::file_error(req.source_url, &req.feed.name, line, reason);
        rejects.lock().unwrap_or_else(|p| p.into_inner()).push(&reject).map_err(ConvertError::Rejects)
    };
    let mut writer = match TableWriter::new(writer_options(req), on_part, on_reject) {
        Ok(w) => w,
        Err(e) if e.retryable => return Err(ConvertError::Sink(e)),
        Err(e) => {
            file_error(&e.message, None)?;
            return finish(rejects, FileStatus::Failed, Some(e.message), None, WriteSummary::default());
        }
    };
    let read = formats::read(input, req.name, &req.feed.read, &mut writer);
    let (status, mut error, mut input) = match read {
        Ok(summary) => (FileStatus::Parsed, None, Some(describe(&summary))),
        Err(FormatError::Source(e)) => return Err(ConvertError::Source(e)),
        Err(FormatError::Sink(e)) if e.retryable => return Err(ConvertError::Sink(e)),
        // The writer refused the file whole (a header it cannot map): refused, not failed.
        Err(FormatError::Sink(e)) if writer.refusal().is_some() => {
            file_error(&e.message, None)?;
            (FileStatus::Refused, Some(e.message), None)
        }
        Err(FormatError::Sink(e)) => {
            file_error(&e.message, None)?;
            (FileStatus::Failed, Some(e.message), None)
        }
        Err(FormatError::Unreadable { reason, line }) => {
            file_error(&reason, line)?;
            (FileStatus::Failed, Some(reason), None)
        }
        Err(FormatError::Refused { reason }) => {
            file_error(&reason, None)?;
            (FileStatus::Refused, Some(reason), None)
        }
        // Nothing to load and nothing wrong: no reject, no error.
        Err(FormatError::Empty) => (FileStatus::Empty, None, None),
    };
    let (status, write) = match writer.finish() {
        Ok(write) if status == FileStatus::Failed && write.rows_written + write.rows_rejected > 0 => {
            (FileStatus::Partial, write)
        }
        // Rows were there and none could be kept: nothing of the file loads,
        // which must never read as a success.
        Ok(write) if status == FileStatus::Parsed && write.rows_written == 0 && write.rows_rejected > 0 => {
            let rejected = write.rows_rejected;
            error.get_or_insert_with(|| {
                let first = first_reason.lock().ok().and_then(|r| r.clone()).unwrap_or_default();
                format!("all {rejected} rows were rejected (the first: {first})")
            });
            (FileStatus::Refused, write)
        }
        Ok(write) => (status, write),
        Err(e) if e.retryable => return Err(ConvertError::Sink(e)),
        Err(e) => {
            file_error(&e.message, None)?;
            error.get_or_insert(e.message);
            (FileStatus::Failed, WriteSummary::default())
        }
    };
    if let Some(input) = &mut input {
        input.notes.extend(write.notes.iter().cloned());
        input.date_order = write.date_order;
    }
    finish(rejects, status, error, input, write)
}

fn finish(
    rejects: Arc<Mutex<RejectWriter>>,
    status: FileStatus,
    error: Option<String>,
    input: Option<DetectedInput>,
    write: WriteSummary,
) -> Result<ConvertOutcome, ConvertError> {
    let rejects = Arc::try_unwrap(rejects)
        .map_err(|_| ConvertError::Sink(SinkError::fatal("rejects writer still shared after the writer finished")))?
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let rejected = rejects.count();
    let rejects_file = rejects.finish().map_err(ConvertError::Rejects)?;
    Ok(ConvertOutcome { status, error, input, write, rejects_file, rejected })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::rejects::read_rejects;

    /// A conversion of a landing object `name` (under `s3://landing/`) that arrived on 2026-11-22.
    pub(super) fn request<'a>(
        feed: &'a Feed,
        name: &'a str,
        work_dir: &'a Path,
        threads: Threads,
        names: NameRules,
    ) -> ConvertRequest<'a> {
        ConvertRequest {
            feed,
            source_url: "s3://landing/f/x",
            name,
            arrival_date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            work_dir,
            threads,
            names,
        }
    }

    fn run(feeds: &str, input: &[u8]) -> Result<ConvertOutcome, ConvertError> {
        let config = Config::from_yaml(feeds, "test").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let req =
            request(&config.feeds[0], "f/x.csv", dir.path(), Threads::One, NameRules::fresh(WarehouseDriver::Postgres));
        let outcome = convert(input, &req, Box::new(|_| Ok(())))?;
        // Read the rejects before the scratch directory goes away.
        if let Some(path) = &outcome.rejects_file {
            assert!(!read_rejects(&std::fs::read(path).unwrap()).unwrap().is_empty());
        }
        Ok(outcome)
    }

    #[test]
    fn a_file_without_the_partition_column_is_recorded_not_retried() {
        let out = run("feeds:\n  f:\n    prefix: f/\n    partition_column: day\n", b"a,b\n1,2\n").unwrap();
        assert_eq!(out.status, FileStatus::Failed);
        assert!(out.error.as_deref().unwrap_or_default().contains("partition column"), "{:?}", out.error);
        assert_eq!(out.rejected, 1);
    }

    #[test]
    fn an_unreadable_file_is_an_outcome_not_an_error() {
        let out = run("feeds:\n  f:\n    prefix: f/\n", b"\x89PNG\r\n\x1a\n...").unwrap();
        assert_eq!((out.status, out.rejected), (FileStatus::Failed, 1));
    }

    #[test]
    fn rows_then_garbage_is_partial() {
        let out = run("feeds:\n  f:\n    prefix: f/\n", b"[{\"a\":1},{\"a\":2},{\"a\":").unwrap();
        assert_eq!(out.status, FileStatus::Partial);
        assert_eq!(out.write.rows_written, 2);
    }

    #[test]
    fn nul_bytes_in_three_of_twenty_values_cost_three_rows_not_the_file() {
        let mut csv = String::from("id,name\n");
        for i in 0..20 {
            let name = if i % 7 == 3 { format!("bad\0name{i}") } else { format!("name{i}") };
            csv.push_str(&format!("{i},{name}\n"));
        }
        let out = run("feeds:\n  f:\n    prefix: f/\n", csv.as_bytes()).unwrap();
        assert_eq!((out.status, out.write.rows_written, out.rejected), (FileStatus::Parsed, 17, 3));
    }

    #[test]
    fn a_header_that_maps_two_names_to_one_recorded_column_refuses_the_file() {
        let config = Config::from_yaml("feeds:\n  f:\n    prefix: f/\n", "test").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let column_map = [("Phone".to_owned(), "phone".to_owned())].into_iter().collect();
        let req = request(
            &config.feeds[0],
            "f/x.csv",
            dir.path(),
            Threads::One,
            NameRules { identifier_limit: 63, column_map },
        );
        let out = convert(&b"PHONE,phone #\n1,2\n"[..], &req, Box::new(|_| Ok(()))).unwrap();
        assert_eq!(out.status, FileStatus::Refused);
        assert!(out.error.as_deref().unwrap_or_default().contains("both map to column phone"), "{:?}", out.error);
    }

    #[test]
    fn a_clean_file_is_parsed_with_no_rejects_file() {
        let out = run("feeds:\n  f:\n    prefix: f/\n", b"a,b\n1,x\n2,y\n").unwrap();
        assert_eq!((out.status, out.write.rows_written, out.rejected), (FileStatus::Parsed, 2, 0));
        assert!(out.rejects_file.is_none());
    }
}

#[cfg(test)]
mod two_threads_tests;
