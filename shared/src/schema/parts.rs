//! The Parquet parts being written, one open per date partition: which
//! partition a row goes to, rows appended to its part, parts rolled, the
//! least recently used closed when a held day's rows are written
//! (`held.rs`), and finished parts handed to the caller.

use std::path::PathBuf;

use arrow_array::ArrayRef;
use chrono::NaiveDate;

use crate::record::{LineNo, SinkError, Value};

use super::coerce::{Cell, append_cell, describe};
use super::columns::{ColumnSchema, Columns};
use super::parquet::{PartFile, PartFormat, constant_string_array, writer_properties};
use super::types::LogicalType;
use super::values::{MICROS_PER_DAY, parse_partition_day};
use super::writer::{PartCallback, WriterOptions};

/// A batch is handed over early once its text reaches this size, so long
/// values (JSON blobs) cannot make `batch_rows` rows use unbounded memory
/// (or overflow Arrow's i32 string offsets).
const MAX_BATCH_TEXT_BYTES: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct FinishedPart {
    pub seq: u32,
    pub dt: NaiveDate,
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    /// That part's schema, lineage columns excluded.
    pub columns: Vec<ColumnSchema>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSummary {
    pub seq: u32,
    pub dt: NaiveDate,
    pub rows: u64,
    pub bytes: u64,
}

pub(super) fn day_of(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (date - epoch).num_days() as i32
}

pub(super) fn date_of(day: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(day.checked_add(719_163)?)
}

/// Which day, as days since the epoch, a row belongs to.
pub(super) struct Partitioning {
    /// Normalised name of the column whose date gives the partition; None =
    /// `arrival_day` for all rows.
    column: Option<String>,
    idx: Option<usize>,
    arrival_day: i32,
}

impl Partitioning {
    pub(super) fn new(column: Option<String>, arrival_date: NaiveDate) -> Self {
        Partitioning { column, idx: None, arrival_day: day_of(arrival_date) }
    }

    /// Takes note of a new column, in case it is the partition column.
    pub(super) fn offer(&mut self, idx: usize, name: &str) {
        if self.idx.is_none() && self.column.as_deref() == Some(name) {
            self.idx = Some(idx);
        }
    }

    /// The partition column's name, if the feed names one.
    pub(super) fn column_name(&self) -> Option<String> {
        self.column.clone()
    }

    /// The partition column, if one is configured but no column has its name.
    pub(super) fn missing(&self) -> Option<&str> {
        self.column.as_deref().filter(|_| self.idx.is_none())
    }

    /// The day of the record just checked into `columns`' slots, or the
    /// reject (column, reason) when it has none.
    pub(super) fn day(
        &self,
        columns: &Columns,
        values: &[(usize, Value<'_>)],
    ) -> Result<i32, (Option<String>, String)> {
        let Some(pi) = self.idx else {
            return match &self.column {
                None => Ok(self.arrival_day),
                Some(name) => Err((Some(name.clone()), format!("partition column {name} is null"))),
            };
        };
        let col = &columns[pi];
        let name = &col.name;
        let null = || (Some(name.clone()), format!("partition column {name} is null"));
        let Some(slot) = columns.current_slot(pi) else {
            return Err(null());
        };
        let value = values.get(slot.pos as usize).map(|(_, v)| *v).unwrap_or(Value::Null);
        let day = match (value, col.ty, slot.cell) {
            (Value::Null, ..) => return Err(null()),
            // The coerced cell already holds the date or the instant.
            (_, Some(LogicalType::Date), Cell::I64(d)) => i32::try_from(d).ok(),
            (_, Some(LogicalType::Timestamp | LogicalType::TimestampTz), Cell::I64(m)) => {
                i32::try_from(m.div_euclid(MICROS_PER_DAY)).ok()
            }
            (Value::Text(s), ..) => parse_partition_day(s.trim()),
            _ => None,
        };
        match day {
            Some(d) if date_of(d).is_some() => Ok(d),
            _ => Err((Some(name.clone()), format!("partition column {name} is not a date: {}", describe(&value)))),
        }
    }
}

pub(super) struct Parts {
    open: Vec<PartFile>,
    last_part: Option<usize>,
    next_seq: u32,
    tick: u64,
    finished: Vec<PartSummary>,
    on_part: PartCallback,

    format: PartFormat,
    file_column: ArrayRef,
    out_dir: PathBuf,
    part_max_rows: u64,
    max_open_partitions: usize,
    scratch_bytes: u64,
}

impl Parts {
    /// Parts written under `opts.out_dir`, which is created here.
    pub(super) fn new(opts: &WriterOptions, on_part: PartCallback) -> Result<Self, SinkError> {
        let props = writer_properties(opts.compression, opts.row_group_rows, opts.row_group_bytes)?;
        std::fs::create_dir_all(&opts.out_dir)
            .map_err(|e| SinkError::retryable(format!("creating {}", opts.out_dir.display()), e))?;
        Ok(Parts {
            open: Vec::new(),
            last_part: None,
            next_seq: 0,
            tick: 0,
            finished: Vec::new(),
            on_part,
            format: PartFormat {
                props,
                batch_rows: opts.batch_rows,
                row_group_bytes: opts.row_group_bytes,
                threaded: opts.encode_on_thread,
            },
            file_column: constant_string_array(&opts.source_url, opts.batch_rows),
            out_dir: opts.out_dir.clone(),
            part_max_rows: opts.part_max_rows,
            max_open_partitions: opts.max_open_partitions,
            scratch_bytes: opts.scratch_bytes,
        })
    }

    /// Whether a part for `day` could only open by closing another.
    pub(super) fn full_without(&self, day: i32) -> bool {
        self.open.len() >= self.max_open_partitions && !self.open.iter().any(|p| p.day == day)
    }

    /// The open part for `day`, opened (with the current schema) if need be.
    pub(super) fn part_for(&mut self, day: i32, columns: &mut Columns) -> Result<usize, SinkError> {
        self.tick += 1;
        if let Some(i) = self.last_part
            && let Some(p) = self.open.get_mut(i)
            && p.day == day
        {
            p.last_used = self.tick;
            return Ok(i);
        }
        if let Some(i) = self.open.iter().position(|p| p.day == day) {
            self.open[i].last_used = self.tick;
            self.last_part = Some(i);
            return Ok(i);
        }
        if self.open.len() >= self.max_open_partitions
            && let Some((lru, _)) = self.open.iter().enumerate().min_by_key(|(_, p)| p.last_used)
        {
            self.close(lru, columns)?;
        }
        let dt = date_of(day).ok_or_else(|| SinkError::fatal(format!("day {day} is out of range")))?;
        let seq = self.next_seq;
        self.next_seq += 1;
        let schema = columns.part_schema();
        let path = self.out_dir.join(format!("part-{seq}.parquet"));
        tracing::debug!(seq, %dt, path = %path.display(), "opening part");
        let mut part = PartFile::create(path, seq, day, dt, schema, &self.format)?;
        part.last_used = self.tick;
        self.open.push(part);
        let i = self.open.len() - 1;
        self.last_part = Some(i);
        Ok(i)
    }

    /// Appends the record just checked into `columns`' slots to part `pi`.
    pub(super) fn append(
        &mut self,
        pi: usize,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        columns: &Columns,
    ) -> Result<(), SinkError> {
        let (Some(part), Some(schema_cols)) = (self.open.get_mut(pi), columns.schema()) else {
            return Err(SinkError::fatal("no open part for a row"));
        };
        if part.builders.len() != schema_cols.len() || part.max_bytes.len() != schema_cols.len() {
            return Err(SinkError::fatal("part schema out of step with the column list"));
        }
        for ((&idx, builder), max_bytes) in
            schema_cols.iter().zip(part.builders.iter_mut()).zip(part.max_bytes.iter_mut())
        {
            part.batch_bytes += append_cell(builder, columns.cell(idx), values, max_bytes)?;
        }
        part.lines.append_value(i64::try_from(line).unwrap_or(i64::MAX));
        part.batch_len += 1;
        part.rows += 1;
        Ok(())
    }

    /// After a row went to part `pi`: hands over a full batch, and closes
    /// the part once it holds `part_max_rows`.
    pub(super) fn roll(&mut self, pi: usize, columns: &mut Columns) -> Result<(), SinkError> {
        let Some(part) = self.open.get_mut(pi) else {
            return Ok(());
        };
        if part.batch_len >= self.format.batch_rows || part.batch_bytes >= MAX_BATCH_TEXT_BYTES {
            part.flush_batch(&self.file_column)?;
            if part.rows >= self.part_max_rows {
                return self.close(pi, columns);
            }
            self.bound_memory()?;
            self.bound_scratch(columns)?;
        } else if part.rows >= self.part_max_rows {
            return self.close(pi, columns);
        }
        Ok(())
    }

    /// Many open partitions each holding a row group could together exceed
    /// the memory budget; flush the biggest one early when they do.
    fn bound_memory(&mut self) -> Result<(), SinkError> {
        if self.open.len() < 2 {
            return Ok(());
        }
        let total: usize = self.open.iter().map(PartFile::buffered_bytes).sum();
        if total > self.format.row_group_bytes
            && let Some(big) = self.open.iter_mut().max_by_key(|p| p.buffered_bytes())
        {
            big.flush_row_group()?;
        }
        Ok(())
    }

    /// Open parts are files in the scratch dir until they close (and are
    /// uploaded); when together they pass the function's scratch budget
    /// (`/tmp`, from its ephemeral storage), the biggest closes early. What
    /// is on disk lags what was encoded by a row group at most.
    fn bound_scratch(&mut self, columns: &mut Columns) -> Result<(), SinkError> {
        if self.scratch_bytes == u64::MAX {
            return Ok(());
        }
        let sizes: Vec<u64> =
            self.open.iter().map(|p| std::fs::metadata(&p.path).map(|m| m.len()).unwrap_or(0)).collect();
        if sizes.iter().sum::<u64>() > self.scratch_bytes
            && let Some((biggest, _)) = sizes.iter().enumerate().max_by_key(|(_, s)| **s)
        {
            self.close(biggest, columns)?;
        }
        Ok(())
    }

    fn close(&mut self, i: usize, columns: &mut Columns) -> Result<(), SinkError> {
        if i >= self.open.len() {
            return Ok(());
        }
        let part = self.open.swap_remove(i);
        self.last_part = None;
        let closed = part.close(&self.file_column)?;
        for meta in &closed.columns {
            columns.note_max_bytes(&meta.name, meta.max_bytes);
        }
        tracing::debug!(seq = closed.seq, rows = closed.rows, bytes = closed.bytes, "closed part");
        self.finished.push(PartSummary { seq: closed.seq, dt: closed.dt, rows: closed.rows, bytes: closed.bytes });
        (self.on_part)(FinishedPart {
            seq: closed.seq,
            dt: closed.dt,
            path: closed.path,
            rows: closed.rows,
            bytes: closed.bytes,
            columns: closed.columns,
        })
    }

    pub(super) fn close_all(&mut self, columns: &mut Columns) -> Result<(), SinkError> {
        // In seq order, so callbacks see parts in the order they were opened.
        while let Some((i, _)) = self.open.iter().enumerate().min_by_key(|(_, p)| p.seq) {
            self.close(i, columns)?;
        }
        Ok(())
    }

    /// The parts closed so far, in seq order.
    pub(super) fn take_finished(&mut self) -> Vec<PartSummary> {
        let mut parts = std::mem::take(&mut self.finished);
        parts.sort_by_key(|p| p.seq);
        parts
    }
}

#[cfg(test)]
mod tests {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::lineage::{FILE_COLUMN, ROW_COLUMN};
    use crate::record::RecordSink;
    use crate::schema::test_support::{URL, day, harness, ints, read, strings};
    use crate::schema::{RejectedRow, WriteSummary};

    fn events() -> Vec<[&'static str; 2]> {
        vec![
            ["1", "2026-01-01T10:00:00Z"],
            ["2", "2026-01-02T10:00:00Z"],
            ["3", "2026-01-03T10:00:00Z"],
            ["4", "2026-01-01T23:59:59Z"],
            ["5", "2026-01-02"],
            ["6", "2026-01-03T00:00:00Z"],
            ["7", "2026-01-01T22:00:00-03:00"],
            ["8", ""],
            ["9", "soon"],
        ]
    }

    fn partitioned(max_open: usize) -> (WriteSummary, Vec<FinishedPart>, Vec<RejectedRow>, tempfile::TempDir) {
        let mut h = harness(|o| {
            o.partition_column = Some("event_time".into());
            o.max_open_partitions = max_open;
            o.infer_rows = 4;
        });
        let rows = events();
        let rows: Vec<&[&str]> = rows.iter().map(|r| &r[..]).collect();
        h.csv(&["id", "eventTime"], &rows);
        let (s, p, r, d, records) = h.finish();
        assert_eq!(s.rows_written + s.rows_rejected, records);
        (s, p, r, d)
    }

    fn ids_by_day(parts: &[FinishedPart]) -> std::collections::BTreeMap<NaiveDate, Vec<i64>> {
        let mut out = std::collections::BTreeMap::<NaiveDate, Vec<i64>>::new();
        for p in parts {
            let (_, b) = read(&p.path);
            assert_eq!(b.num_rows() as u64, p.rows);
            out.entry(p.dt).or_default().extend(ints(&b, "id").into_iter().flatten());
        }
        out
    }

    #[test]
    fn partitions_by_day() {
        let (summary, parts, rejects, _dir) = partitioned(8);
        assert_eq!(parts.len(), 3);
        let by_day = ids_by_day(&parts);
        assert_eq!(by_day[&day("2026-01-01")], vec![1, 4]);
        assert_eq!(by_day[&day("2026-01-02")], vec![2, 5, 7]);
        assert_eq!(by_day[&day("2026-01-03")], vec![3, 6]);
        let reasons: Vec<&str> = rejects.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec!["partition column event_time is null", "partition column event_time is not a date: \"soon\""]
        );
        // Mixed date/timestamptz: widened when rows "5" arrives after inference.
        assert_eq!(summary.parts.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![0, 1, 2]);
        let dts: Vec<NaiveDate> = summary.parts.iter().map(|p| p.dt).collect();
        assert_eq!(dts, vec![day("2026-01-01"), day("2026-01-02"), day("2026-01-03")]);
    }

    #[test]
    fn with_two_open_a_third_days_rows_are_held_and_every_row_lands_in_its_day() {
        let (summary, parts, _, _dir) = partitioned(2);
        assert_eq!(parts.len(), 3, "one part a day: {parts:?}");
        let by_day = ids_by_day(&parts);
        assert_eq!(by_day[&day("2026-01-01")], vec![1, 4]);
        assert_eq!(by_day[&day("2026-01-02")], vec![2, 5, 7]);
        assert_eq!(by_day[&day("2026-01-03")], vec![3, 6]);
        let seqs: Vec<u32> = summary.parts.iter().map(|p| p.seq).collect();
        assert_eq!(seqs, (0..parts.len() as u32).collect::<Vec<_>>());
        assert_eq!(summary.rows_written, 7);
        // Deterministic: the same input gives the same parts.
        let (again, _, _, _dir2) = partitioned(2);
        assert_eq!(
            again.parts,
            summary
                .parts
                .iter()
                .map(|p| PartSummary { bytes: again.parts[p.seq as usize].bytes, ..p.clone() })
                .collect::<Vec<_>>()
        );
    }

    /// The 9-day cycle: one part per row before rows were held.
    #[test]
    fn dates_cycling_through_nine_days_make_one_part_per_day() {
        let mut h = harness(|o| o.partition_column = Some("day".into()));
        h.writer.header(&["id", "day"]).unwrap();
        for i in 0..20_000u64 {
            let day = format!("2026-01-0{}", i % 9 + 1);
            h.row(i + 2, &[&i.to_string(), &day]);
        }
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert!(rejects.is_empty());
        assert_eq!(summary.rows_written, 20_000);
        assert_eq!(parts.len(), 9, "one part per day, not one per row");
        let by_day = ids_by_day(&parts);
        assert_eq!(by_day.len(), 9);
        assert!(by_day.values().all(|ids| ids.len() == 20_000 / 9 || ids.len() == 20_000 / 9 + 1));
    }

    /// 20,000 rows cycling through 9 days, 2 parts open, 64 KiB for held rows.
    fn cycling_past_the_held_budget(scratch_bytes: u64) -> (u64, Vec<FinishedPart>, tempfile::TempDir) {
        let mut h = harness(|o| {
            o.partition_column = Some("day".into());
            o.max_open_partitions = 2;
            o.held_bytes = 64 << 10;
            o.scratch_bytes = scratch_bytes;
        });
        h.writer.header(&["id", "day"]).unwrap();
        for i in 0..20_000u64 {
            let day = format!("2026-01-0{}", i % 9 + 1);
            h.row(i + 2, &[&i.to_string(), &day]);
        }
        let (summary, parts, _, dir, _) = h.finish();
        (summary.rows_written, parts, dir)
    }

    #[test]
    fn past_the_held_budget_rows_spill_to_disk_in_sorted_runs_and_each_day_is_one_part() {
        let (rows, parts, dir) = cycling_past_the_held_budget(u64::MAX);
        assert_eq!(rows, 20_000);
        let by_day = ids_by_day(&parts);
        assert_eq!((parts.len(), by_day.len()), (9, 9), "one part per day however many spills");
        assert_eq!(by_day.values().map(Vec::len).sum::<usize>(), 20_000);
        let runs = walk(dir.path()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "run")).count();
        assert_eq!(runs, 0, "the runs are removed with the writer");
    }

    #[test]
    fn past_the_disk_budget_too_the_biggest_day_is_written_early_and_parts_stay_few() {
        let (rows, parts, _dir) = cycling_past_the_held_budget(1);
        assert_eq!(rows, 20_000);
        assert!(parts.len() > 9 && parts.len() < 20_000 / 50, "a part per release, not per row: {}", parts.len());
        assert_eq!(ids_by_day(&parts).values().map(Vec::len).sum::<usize>(), 20_000);
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn open_parts_past_the_scratch_budget_close_early_and_keep_every_row() {
        let write = |scratch_bytes: u64| {
            let mut h = harness(|o| {
                o.batch_rows = 1000;
                o.row_group_rows = 1000;
                o.scratch_bytes = scratch_bytes;
            });
            h.writer.header(&["id", "note"]).unwrap();
            for i in 0..20_000u64 {
                h.row(i + 2, &[&i.to_string(), &format!("note {i} {}", i * 7919)]);
            }
            let (summary, parts, _, _dir, _) = h.finish();
            let ids: usize = parts.iter().map(|p| ints(&read(&p.path).1, "id").len()).sum();
            (summary.rows_written, ids, parts.len())
        };
        assert_eq!(write(u64::MAX), (20_000, 20_000, 1), "unbounded: one part");
        let (rows, ids, parts) = write(16 << 10);
        assert_eq!((rows, ids), (20_000, 20_000));
        assert!(parts > 1, "parts past 16 KiB on disk close early: {parts}");
    }

    #[test]
    fn rows_of_a_day_past_max_partitions_are_rejected_with_the_cap_named() {
        let mut h = harness(|o| {
            o.partition_column = Some("day".into());
            o.max_partitions = 3;
        });
        h.writer.header(&["id", "day"]).unwrap();
        for i in 0..10u64 {
            h.row(i + 2, &[&i.to_string(), &format!("2026-01-0{}", i % 5 + 1)]);
        }
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert_eq!((summary.rows_written, parts.len()), (6, 3));
        assert_eq!(rejects.len(), 4);
        assert_eq!(rejects[0].line, 5);
        assert_eq!(rejects[0].column.as_deref(), Some("day"));
        assert_eq!(
            rejects[0].reason,
            "its day 2026-01-04 would be partition 4 of this file; a file may write at most 3 (the feed's max_partitions)"
        );
    }

    #[test]
    fn missing_partition_column_in_header_is_fatal() {
        let mut h = harness(|o| o.partition_column = Some("nope".into()));
        let err = h.writer.header(&["a"]).unwrap_err();
        assert!(!err.retryable);
    }

    #[test]
    fn long_text_and_small_row_groups() {
        let mut h = harness(|o| {
            o.infer_rows = 2;
            o.row_group_bytes = 1;
            o.batch_rows = 1000;
        });
        let blob = format!("[\"{}\"]", "x".repeat(3 << 20));
        for i in 0..12u64 {
            let id = h.writer.column_for_path(&["id"]);
            let b = h.writer.column_for_path(&["blob"]);
            h.records_in += 1;
            h.writer.record(i + 1, &[(id, Value::Int(i as i64)), (b, Value::Json(&blob))], &String::new).unwrap();
        }
        let (summary, parts, _, _dir, _) = h.finish();
        assert_eq!(parts.len(), 1);
        let file = std::fs::File::open(&parts[0].path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        // 16 MiB of text per batch -> a batch every 6 rows, and each batch
        // is over the 1-byte row group limit.
        assert!(builder.metadata().num_row_groups() >= 2);
        let (_, batch) = read(&parts[0].path);
        assert_eq!(ints(&batch, "id"), (0..12).map(Some).collect::<Vec<_>>());
        assert_eq!(strings(&batch, "blob")[11].as_deref(), Some(blob.as_str()));
        assert_eq!(ints(&batch, ROW_COLUMN), (1..=12).map(Some).collect::<Vec<_>>());
        assert_eq!(strings(&batch, FILE_COLUMN)[11].as_deref(), Some(URL));
        assert_eq!(summary.columns[1].max_bytes, Some(blob.len() as u32));
    }

    #[test]
    fn part_max_rows_rolls_parts() {
        let mut h = harness(|o| {
            o.part_max_rows = 3;
            o.batch_rows = 2;
            o.infer_rows = 1;
        });
        let rows: Vec<[String; 1]> = (0..7).map(|i| [i.to_string()]).collect();
        h.writer.header(&["n"]).unwrap();
        for (i, r) in rows.iter().enumerate() {
            h.row(i as u64 + 2, &[r[0].as_str()]);
        }
        let (summary, parts, _, _dir, _) = h.finish();
        assert_eq!(parts.iter().map(|p| p.rows).collect::<Vec<_>>(), vec![3, 3, 1]);
        assert_eq!(summary.rows_written, 7);
    }
}
