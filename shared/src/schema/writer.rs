//! `TableWriter`: the `RecordSink` that infers a schema, coerces values,
//! routes rows to date partitions and writes typed Parquet parts.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use chrono::NaiveDate;

use crate::record::{LineNo, RecordSink, SinkError, Value};

use super::coerce::{Cell, Checked, Oversize, TextRules, check_value, render_values};
use super::columns::{Column, ColumnSchema, Columns, MAX_COLUMNS, Slot, path_hash};
use super::contract::{Contract, DeclaredColumn, SchemaContract};
use super::dates::{DateOrder, DateRules};
use super::held::Held;
use super::infer::{InferBuffer, Inference};
use super::naming::NameRegistry;
use super::nulls::NullTokens;
use super::parquet::ParquetCompression;
use super::parts::{FinishedPart, PartSummary, Partitioning, Parts};
use super::types::LogicalType;
use crate::lineage::RESERVED_NAMES;

#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Value of `_landfall_file` on every row (s3://bucket/key).
    pub source_url: String,
    /// Empty = infer everything.
    pub declared: Vec<DeclaredColumn>,
    pub contract: SchemaContract,
    /// Normalised name of the column whose date gives the partition; None =
    /// `arrival_date` for all rows.
    pub partition_column: Option<String>,
    pub arrival_date: NaiveDate,
    pub compression: ParquetCompression,
    /// Records buffered before types are decided.
    pub infer_rows: usize,
    /// Rows per RecordBatch handed to the Parquet writer.
    pub batch_rows: usize,
    pub row_group_rows: usize,
    /// A row group is flushed once the writer's in-progress size exceeds this.
    pub row_group_bytes: usize,
    /// A part file is closed after this many rows.
    pub part_max_rows: u64,
    /// Bytes the open part files may take on local disk together (past it
    /// the biggest closes early), and as many the held rows spilled there
    /// (`u64::MAX`: no bound).
    pub scratch_bytes: u64,
    /// Distinct dt values open at once; a row for another day is held
    /// (`held.rs`) until its day's rows are written together.
    pub max_open_partitions: usize,
    /// Bytes of held rows past which the biggest day's are written.
    pub held_bytes: usize,
    /// Distinct days one file may write; a row of a day past them is rejected.
    pub max_partitions: usize,
    /// Where part files are written (a temp dir owned by the caller).
    pub out_dir: PathBuf,
    /// Encode and compress each part on a thread of its own, beside the
    /// thread that types the rows. The files are the same either way.
    pub encode_on_thread: bool,
    /// Values read as missing in columns that are not text
    /// ([`super::nulls::DEFAULT_NULL_TOKENS`] unless the feed says).
    pub null_tokens: NullTokens,
    /// How day-month dates are read (`dates:` of the feed).
    pub dates: DateRules,
    /// The warehouse's identifier limit in bytes: every name is fitted to it.
    pub identifier_limit: usize,
    /// The table's recorded source name -> column map from earlier files.
    pub column_map: BTreeMap<String, String>,
    /// The warehouse's longest string in bytes (`WarehouseDriver::text_limit`).
    pub text_limit: usize,
    /// What a longer string gets (the feed's `oversize:`).
    pub oversize: Oversize,
}

impl WriterOptions {
    /// Options with the defaults for everything that has one.
    pub fn new(source_url: impl Into<String>, arrival_date: NaiveDate, out_dir: impl Into<PathBuf>) -> Self {
        Self {
            source_url: source_url.into(),
            declared: Vec::new(),
            contract: SchemaContract::Evolve,
            partition_column: None,
            arrival_date,
            compression: ParquetCompression::default(),
            infer_rows: 1000,
            batch_rows: 8192,
            row_group_rows: 122_880,
            row_group_bytes: 64 << 20,
            part_max_rows: 10_000_000,
            scratch_bytes: u64::MAX,
            max_open_partitions: 8,
            held_bytes: 64 << 20,
            max_partitions: DEFAULT_MAX_PARTITIONS,
            out_dir: out_dir.into(),
            encode_on_thread: false,
            null_tokens: NullTokens::defaults(),
            dates: DateRules::default(),
            identifier_limit: super::naming::MAX_IDENTIFIER_BYTES,
            column_map: BTreeMap::new(),
            text_limit: usize::MAX,
            oversize: Oversize::Reject,
        }
    }
}

/// Distinct days (parts, PUTs, catalog partitions) one file may write
/// unless its feed sets `max_partitions`.
pub const DEFAULT_MAX_PARTITIONS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
    pub raw: String,
}

#[derive(Debug, Clone, Default)]
pub struct WriteSummary {
    /// Final (widest) schema, lineage columns excluded.
    pub columns: Vec<ColumnSchema>,
    pub rows_written: u64,
    pub rows_rejected: u64,
    /// In seq order.
    pub parts: Vec<PartSummary>,
    /// Human-readable schema changes after types were decided:
    /// "price: int64 -> decimal(38,2) at line 1503".
    pub widenings: Vec<String>,
    pub discarded_columns: Vec<String>,
    /// What was decided about columns: "order_date: dates read day-first (28/01/2018 ...)".
    pub notes: Vec<String>,
    /// The day-month order the file's dates were read in, if any.
    pub date_order: Option<DateOrder>,
    /// Source names this file adds to the table's recorded column map.
    pub added_names: BTreeMap<String, String>,
}

pub(crate) type PartCallback = Box<dyn FnMut(FinishedPart) -> Result<(), SinkError> + Send>;
pub(crate) type RejectCallback = Box<dyn FnMut(RejectedRow) -> Result<(), SinkError> + Send>;

enum Outcome {
    Write(i32),
    Reject {
        column: Option<String>,
        reason: String,
    },
    /// (column, type suggested by the offending value); None = a non-null
    /// value for a column that had no type yet.
    Widen(Vec<(usize, LogicalType)>),
}

pub struct TableWriter {
    on_reject: RejectCallback,
    columns: Columns,
    contract: Contract,
    partitioning: Partitioning,
    inference: Inference,
    parts: Parts,
    held: Held,
    held_bytes: usize,
    /// The day whose held rows are being written (so they are not held again).
    releasing: Option<i32>,
    /// The days this file has written or held, up to `max_partitions`.
    days: HashSet<i32>,
    max_partitions: usize,
    header_seen: bool,
    rules: TextRules,
    /// Scratch for coercing a value through its text.
    render: String,
    rows_written: u64,
    rows_rejected: u64,
    /// Why the file cannot be loaded at all (its header cannot be mapped).
    refusal: Option<String>,
    /// Strings cut to the warehouse's limit (`oversize: truncate`), and the first one's line and column.
    cut: u64,
    first_cut: Option<(LineNo, String)>,
}

impl TableWriter {
    pub fn new(opts: WriterOptions, on_part: PartCallback, on_reject: RejectCallback) -> Result<Self, SinkError> {
        let mut opts = opts;
        opts.infer_rows = opts.infer_rows.max(1);
        opts.batch_rows = opts.batch_rows.max(1);
        opts.row_group_rows = opts.row_group_rows.max(1);
        opts.row_group_bytes = opts.row_group_bytes.max(1);
        opts.part_max_rows = opts.part_max_rows.max(1);
        opts.max_open_partitions = opts.max_open_partitions.max(1);
        let parts = Parts::new(&opts, on_part)?;
        let contract = Contract::new(opts.contract, &opts.declared)?;
        let registry = NameRegistry::for_table(&RESERVED_NAMES, opts.identifier_limit, &opts.column_map);
        Ok(TableWriter {
            on_reject,
            columns: Columns::new(registry),
            contract,
            partitioning: Partitioning::new(opts.partition_column, opts.arrival_date),
            inference: Inference::new(opts.infer_rows),
            parts,
            held: Held::new(&opts.out_dir, opts.scratch_bytes),
            held_bytes: opts.held_bytes,
            releasing: None,
            days: HashSet::new(),
            max_partitions: opts.max_partitions.max(1),
            header_seen: false,
            rules: TextRules {
                nulls: opts.null_tokens,
                dates: opts.dates,
                text_limit: opts.text_limit,
                oversize: opts.oversize,
            },
            render: String::new(),
            rows_written: 0,
            rows_rejected: 0,
            refusal: None,
            cut: 0,
            first_cut: None,
        })
    }

    /// Why the file is refused whole, once the writer has said so with a
    /// fatal error: its header cannot be given columns without guessing, or
    /// it has more columns than a table can take.
    pub fn refusal(&self) -> Option<&str> {
        self.refusal.as_deref()
    }

    fn refuse(&mut self, reason: String) -> SinkError {
        self.refusal = Some(reason.clone());
        SinkError::fatal(reason)
    }

    /// The current schema (lineage columns excluded), e.g. for logging.
    pub fn columns(&self) -> Vec<ColumnSchema> {
        self.columns.schemas()
    }

    /// Registers a column under an already assigned name.
    fn add_column(
        &mut self,
        name: String,
        source_name: String,
        path: Option<Vec<String>>,
        slot: Option<usize>,
    ) -> usize {
        let idx = self.columns.len();
        let mut column = Column::new(name, source_name, path);
        self.contract.admit(idx, slot, &mut column);
        self.partitioning.offer(idx, &column.name);
        self.columns.push(column)
    }

    /// Declared columns the source never mentioned become (all-null) columns,
    /// so every part carries the whole declared schema.
    fn add_unseen_declared(&mut self) {
        for s in 0..self.contract.len() {
            if let Some(source) = self.contract.unbound_name(s) {
                let source = source.to_string();
                let name = self.columns.assign_fresh(&source);
                self.add_column(name, source, None, Some(s));
            }
        }
    }

    /// One shared column for all paths past MAX_COLUMNS, so a file whose
    /// keys are data (ids as object keys) cannot grow the schema without bound.
    fn overflow_column(&mut self) -> usize {
        if let Some(i) = self.columns.overflow() {
            return i;
        }
        let idx = self.add_column(String::new(), String::new(), None, None);
        self.columns.mark_overflow(idx);
        idx
    }

    /// Checks every value of a record without touching any builder.
    fn check(&mut self, values: &[(usize, Value<'_>)]) -> Result<Outcome, SinkError> {
        let generation = self.columns.next_generation();
        let writing = self.columns.decided();
        let mut widen: Vec<(usize, LogicalType)> = Vec::new();
        for (pos, (idx, v)) in values.iter().enumerate() {
            let idx = *idx;
            let Some(col) = self.columns.get(idx) else {
                return Err(SinkError::fatal(format!(
                    "record refers to column {idx}, but only {} columns were registered",
                    self.columns.len()
                )));
            };
            let pos = pos as u32;
            let cell = match check_value(col, v, pos, writing, &self.rules, &mut self.render) {
                Checked::Cell(cell) => cell,
                Checked::Reject { column, reason } => return Ok(Outcome::Reject { column, reason }),
                Checked::Widen(t) => {
                    widen.push((idx, t));
                    Cell::Null
                }
            };
            self.columns.set_slot(idx, Slot { stamp: generation, pos, cell });
        }
        if let Some(name) = self.contract.missing_required(&self.columns) {
            return Ok(Outcome::Reject { column: Some(name.to_string()), reason: format!("column {name} is null") });
        }
        let day = match self.partitioning.day(&self.columns, values) {
            Ok(d) => d,
            Err((column, reason)) => return Ok(Outcome::Reject { column, reason }),
        };
        if widen.is_empty() { Ok(Outcome::Write(day)) } else { Ok(Outcome::Widen(widen)) }
    }

    fn emit_reject(
        &mut self,
        line: LineNo,
        column: Option<String>,
        reason: String,
        raw: String,
    ) -> Result<(), SinkError> {
        self.rows_rejected += 1;
        (self.on_reject)(RejectedRow { line, column, reason, raw })
    }

    fn buffer_record(
        &mut self,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        raw: &dyn Fn() -> String,
    ) -> Result<(), SinkError> {
        match self.check(values)? {
            Outcome::Reject { column, reason } => {
                return self.emit_reject(line, column, reason, raw());
            }
            Outcome::Write(_) | Outcome::Widen(_) => {}
        }
        if self.inference.buffer(line, values, &mut self.columns, &self.rules) {
            self.decide()?;
        }
        Ok(())
    }

    /// Fixes the types of all columns seen so far and writes the buffered records.
    fn decide(&mut self) -> Result<(), SinkError> {
        if self.columns.decided() {
            return Ok(());
        }
        self.add_unseen_declared();
        self.inference.settle_types(&mut self.columns, &self.rules);
        self.columns.rebuild_schema();
        let buf = self.inference.take_buffer();
        let names = self.columns.source_names();
        buf.replay(|line, values| self.write_record(line, values, &|| render_values(values, &names)))
    }

    fn write_record(
        &mut self,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        raw: &dyn Fn() -> String,
    ) -> Result<(), SinkError> {
        loop {
            match self.check(values)? {
                Outcome::Write(day) => {
                    if let Some(reason) = self.past_partition_cap(day) {
                        return self.emit_reject(line, self.partitioning.column_name(), reason, raw());
                    }
                    return self.append(line, values, day);
                }
                Outcome::Reject { column, reason } => {
                    return self.emit_reject(line, column, reason, raw());
                }
                Outcome::Widen(changes) => self.widen(changes, line)?,
            }
        }
    }

    /// Why a row of `day` is refused: the file already wrote `max_partitions` other days.
    fn past_partition_cap(&mut self, day: i32) -> Option<String> {
        if self.days.contains(&day) {
            return None;
        }
        if self.days.len() < self.max_partitions {
            self.days.insert(day);
            return None;
        }
        let shown = super::parts::date_of(day).map_or_else(|| day.to_string(), |d| d.to_string());
        Some(format!(
            "its day {shown} would be partition {} of this file; a file may write at most {} (the feed's max_partitions)",
            self.max_partitions + 1,
            self.max_partitions
        ))
    }

    fn widen(&mut self, changes: Vec<(usize, LogicalType)>, line: LineNo) -> Result<(), SinkError> {
        // Every open part keeps the schema it was opened with.
        self.parts.close_all(&mut self.columns)?;
        self.inference.widen(&mut self.columns, changes, line);
        Ok(())
    }

    fn append(&mut self, line: LineNo, values: &[(usize, Value<'_>)], day: i32) -> Result<(), SinkError> {
        if self.releasing != Some(day) && (self.held.holds(day) || self.parts.full_without(day)) {
            // Past the memory budget the held rows spill to disk; past the
            // disk budget too, the biggest day is written now.
            if self.held.hold(day, line, values, self.held_bytes)
                && !self.held.spill()?
                && let Some((day, rows)) = self.held.take_biggest()
            {
                self.release(day, &rows)?;
            }
            return Ok(());
        }
        self.count_cuts(line, values);
        let pi = self.parts.part_for(day, &mut self.columns)?;
        self.parts.append(pi, line, values, &self.columns)?;
        self.rows_written += 1;
        self.parts.roll(pi, &mut self.columns)
    }

    /// Counts the strings of a row being written that were cut, for the file's notes.
    fn count_cuts(&mut self, line: LineNo, values: &[(usize, Value<'_>)]) {
        for (idx, _) in values {
            if matches!(self.columns.cell(*idx), Cell::Cut(..)) {
                self.cut += 1;
                if self.first_cut.is_none() {
                    let name = self.columns.get(*idx).map(|c| c.name.clone()).unwrap_or_default();
                    self.first_cut = Some((line, name));
                }
            }
        }
    }

    /// Writes one day's held rows together (opening its part, closing the
    /// least recently used one); they were checked, and are checked again
    /// against the columns as they are now.
    fn release(&mut self, day: i32, rows: &InferBuffer) -> Result<(), SinkError> {
        self.releasing = Some(day);
        let names = self.columns.source_names();
        let written = rows.replay(|line, values| self.write_record(line, values, &|| render_values(values, &names)));
        self.releasing = None;
        written
    }

    /// Writes a day's held rows, those spilled first, then those in memory.
    fn release_day(&mut self, day: i32) -> Result<(), SinkError> {
        if let Some(mut runs) = self.held.runs.take() {
            self.releasing = Some(day);
            let names = self.columns.source_names();
            let written =
                runs.replay_day(day, |line, values| self.write_record(line, values, &|| render_values(values, &names)));
            self.releasing = None;
            self.held.runs = Some(runs);
            written?;
        }
        match self.held.take(day) {
            Some((day, rows)) => self.release(day, &rows),
            None => Ok(()),
        }
    }

    /// Flushes and closes every open part (calling `on_part`) and returns the summary.
    pub fn finish(mut self) -> Result<WriteSummary, SinkError> {
        self.decide()?;
        while let Some(day) = self.held.first_day() {
            self.release_day(day)?;
        }
        self.parts.close_all(&mut self.columns)?;
        let columns = self.columns();
        let (mut notes, date_order) = self.inference.take_notes();
        if let Some((line, column)) = &self.first_cut {
            notes.push(format!(
                "{} string(s) longer than the warehouse stores were cut to {} bytes (oversize: truncate), the first in column {column} at line {line}",
                self.cut, self.rules.text_limit
            ));
        }
        Ok(WriteSummary {
            added_names: self.columns.added_names(),
            columns,
            rows_written: self.rows_written,
            rows_rejected: self.rows_rejected,
            parts: self.parts.take_finished(),
            widenings: self.inference.take_widenings(),
            notes,
            date_order,
            discarded_columns: self.contract.take_discarded(),
        })
    }
}

impl RecordSink for TableWriter {
    fn header(&mut self, names: &[&str]) -> Result<(), SinkError> {
        if self.header_seen || !self.columns.is_empty() {
            return Err(SinkError::fatal("header called twice or after records"));
        }
        self.header_seen = true;
        if names.len() + self.contract.len() > MAX_COLUMNS {
            return Err(self.refuse(format!(
                "the header has {} columns; a table takes at most {MAX_COLUMNS}: declare the columns the feed needs (schema_contract: discard_columns drops the rest)",
                names.len()
            )));
        }
        let assigned = match self.columns.assign_header(names) {
            Ok(assigned) => assigned,
            Err(e) => return Err(self.refuse(e.to_string())),
        };
        for (raw, name) in names.iter().zip(assigned) {
            let slot = self.contract.find(raw, false);
            self.add_column(name, (*raw).to_string(), None, slot);
        }
        self.add_unseen_declared();
        if let Some(p) = self.partitioning.missing() {
            return Err(SinkError::fatal(format!("partition column {p} is not among the columns of the file")));
        }
        Ok(())
    }

    fn column_for_path(&mut self, path: &[&str]) -> usize {
        let h = path_hash(path);
        if let Some(i) = self.columns.find_path(h, path) {
            return i;
        }
        if self.columns.len() >= MAX_COLUMNS {
            return self.overflow_column();
        }
        let source = path.join(".");
        let owned: Vec<String> = path.iter().map(|s| (*s).to_string()).collect();
        // A declared column the file had not mentioned when types were
        // decided was added then, all-null and without a path: adopt it.
        let adopted = self
            .contract
            .find(&source, true)
            .and_then(|s| self.contract.column_of(s))
            .filter(|&c| self.columns.get(c).is_some_and(|c| c.path.is_none()));
        let idx = match adopted {
            Some(c) => {
                if let Some(col) = self.columns.get_mut(c) {
                    col.path = Some(owned);
                }
                c
            }
            None => {
                let slot = self.contract.find(&source, false);
                let name = self.columns.assign_path(path);
                self.add_column(name, source, Some(owned), slot)
            }
        };
        self.columns.remember_path(h, idx);
        idx
    }

    fn record(
        &mut self,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        raw: &dyn Fn() -> String,
    ) -> Result<(), SinkError> {
        if !self.columns.decided() {
            self.buffer_record(line, values, raw)
        } else {
            self.write_record(line, values, raw)
        }
    }

    fn reject(&mut self, line: LineNo, column: Option<&str>, reason: &str, raw: &str) -> Result<(), SinkError> {
        self.emit_reject(line, column.map(str::to_string), reason.to_string(), raw.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::test_support::{URL, day, harness};

    #[test]
    fn reader_rejects_and_counts() {
        let mut h = harness(|_| {});
        h.writer.header(&["a"]).unwrap();
        h.row(2, &["1"]);
        h.writer.reject(3, None, "wrong field count", "1,2").unwrap();
        h.records_in += 1;
        let (summary, _, rejects, _dir, records) = h.finish();
        assert_eq!(summary.rows_written + summary.rows_rejected, records);
        assert_eq!(
            rejects[0],
            RejectedRow { line: 3, column: None, reason: "wrong field count".into(), raw: "1,2".into() }
        );
    }

    #[test]
    fn unknown_column_index_is_an_error_not_a_panic() {
        let mut h = harness(|_| {});
        h.writer.header(&["a"]).unwrap();
        let err = h.writer.record(2, &[(5, Value::Int(1))], &String::new).unwrap_err();
        assert!(!err.retryable);
    }

    #[test]
    fn header_only_and_empty_input() {
        let mut h = harness(|_| {});
        h.csv(&["a", "b"], &[]);
        let (summary, parts, _, _dir, _) = h.finish();
        assert!(parts.is_empty());
        assert_eq!(summary.columns.len(), 2);
        let h = harness(|_| {});
        let (summary, parts, _, _dir, _) = h.finish();
        assert!(parts.is_empty() && summary.columns.is_empty());
    }

    #[test]
    fn callback_errors_propagate() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriterOptions::new(URL, day("2026-03-01"), dir.path());
        let mut w = TableWriter::new(
            opts,
            Box::new(|_| Err(SinkError::fatal("upload failed"))),
            Box::new(|_| Err(SinkError::fatal("reject sink failed"))),
        )
        .unwrap();
        w.header(&["a"]).unwrap();
        w.record(2, &[(0, Value::Int(1))], &String::new).unwrap();
        assert!(w.reject(3, None, "bad", "").is_err());
        assert_eq!(w.finish().unwrap_err().message, "upload failed");
    }
}
