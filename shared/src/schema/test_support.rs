//! What the writer's unit tests share: a `TableWriter` whose parts and
//! rejects are collected, and readers for the Parquet it wrote.

use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, SchemaRef};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::record::{RecordSink, Value};

use super::{FinishedPart, RejectedRow, TableWriter, WriteSummary, WriterOptions};

type Parts = Arc<Mutex<Vec<FinishedPart>>>;
type Rejects = Arc<Mutex<Vec<RejectedRow>>>;

pub(super) const URL: &str = "s3://landing/sales/2026/file.csv";

pub(super) struct Harness {
    pub(super) writer: TableWriter,
    pub(super) parts: Parts,
    pub(super) rejects: Rejects,
    pub(super) _dir: tempfile::TempDir,
    pub(super) records_in: u64,
}

pub(super) fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub(super) fn harness(configure: impl FnOnce(&mut WriterOptions)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = WriterOptions::new(URL, day("2026-03-01"), dir.path().join("out"));
    configure(&mut opts);
    let parts: Parts = Arc::default();
    let rejects: Rejects = Arc::default();
    let (p, r) = (parts.clone(), rejects.clone());
    let writer = TableWriter::new(
        opts,
        Box::new(move |part| {
            p.lock().unwrap().push(part);
            Ok(())
        }),
        Box::new(move |row| {
            r.lock().unwrap().push(row);
            Ok(())
        }),
    )
    .unwrap();
    Harness { writer, parts, rejects, _dir: dir, records_in: 0 }
}

impl Harness {
    /// CSV-like rows: "" is null, everything else text; line = index + 2.
    pub(super) fn csv(&mut self, header: &[&str], rows: &[&[&str]]) {
        self.writer.header(header).unwrap();
        for (i, row) in rows.iter().enumerate() {
            self.row(i as u64 + 2, row);
        }
    }

    pub(super) fn row(&mut self, line: u64, row: &[&str]) {
        let values: Vec<(usize, Value<'_>)> =
            row.iter().enumerate().map(|(i, s)| (i, if s.is_empty() { Value::Null } else { Value::Text(s) })).collect();
        let raw = row.join(",");
        self.records_in += 1;
        self.writer.record(line, &values, &|| raw.clone()).unwrap();
    }

    pub(super) fn json(&mut self, line: u64, fields: &[(&[&str], Value<'_>)]) {
        let values: Vec<(usize, Value<'_>)> =
            fields.iter().map(|(path, v)| (self.writer.column_for_path(path), *v)).collect();
        self.records_in += 1;
        self.writer.record(line, &values, &|| format!("json line {line}")).unwrap();
    }

    pub(super) fn finish(self) -> (WriteSummary, Vec<FinishedPart>, Vec<RejectedRow>, tempfile::TempDir, u64) {
        let summary = self.writer.finish().unwrap();
        let parts = self.parts.lock().unwrap().clone();
        let rejects = self.rejects.lock().unwrap().clone();
        (summary, parts, rejects, self._dir, self.records_in)
    }
}

pub(super) fn read(path: &std::path::Path) -> (SchemaRef, RecordBatch) {
    let file = std::fs::File::open(path).unwrap();
    // One batch for the whole (small) file.
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().with_batch_size(1 << 20).build().unwrap();
    let schema = reader.schema();
    let mut batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert!(batches.len() <= 1);
    let batch = batches.pop().unwrap_or_else(|| RecordBatch::new_empty(schema.clone()));
    (schema, batch)
}

pub(super) fn col<'a>(batch: &'a RecordBatch, name: &str) -> &'a arrow_array::ArrayRef {
    batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"))
}

pub(super) fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    col(batch, name).as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}

pub(super) fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    col(batch, name).as_primitive::<Int64Type>().iter().collect()
}

pub(super) fn dtype(schema: &SchemaRef, name: &str) -> DataType {
    schema.field_with_name(name).unwrap().data_type().clone()
}
