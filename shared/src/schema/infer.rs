//! Type inference: the first records are buffered while each inferred
//! column's type is the join of what it holds; then types are decided, and
//! a later value that does not fit widens its column.

use crate::record::{LineNo, SinkError, StoredValue, Value};

use super::coerce::TextRules;
use super::columns::{Columns, Status};
use super::dates::{DateOrder, Votes};
use super::types::{LogicalType, join};
use super::values::infer_value;

/// Past this much buffered text, types are decided before `infer_rows`
/// records arrive, so a file of huge records cannot blow the memory bound.
const MAX_INFER_BUFFER_BYTES: usize = 32 << 20;

/// The records seen before types are decided, their text in one arena.
#[derive(Default)]
pub(super) struct InferBuffer {
    records: Vec<(LineNo, usize, usize)>,
    values: Vec<(usize, StoredValue)>,
    text: String,
}

impl InferBuffer {
    /// Keeps a record as it is (the held rows of a partition, `held.rs`).
    pub(super) fn push(&mut self, line: LineNo, values: &[(usize, Value<'_>)]) {
        let start = self.values.len();
        for &(idx, v) in values {
            self.values.push((idx, StoredValue::store(v, &mut self.text)));
        }
        self.records.push((line, start, self.values.len()));
    }

    /// What the buffer holds, in bytes.
    pub(super) fn bytes(&self) -> usize {
        self.text.len()
            + self.values.len() * std::mem::size_of::<(usize, StoredValue)>()
            + self.records.len() * std::mem::size_of::<(LineNo, usize, usize)>()
    }

    /// Hands every buffered record to `write`, in the order they came.
    pub(super) fn replay(
        &self,
        mut write: impl FnMut(LineNo, &[(usize, Value<'_>)]) -> Result<(), SinkError>,
    ) -> Result<(), SinkError> {
        let mut values: Vec<(usize, Value<'_>)> = Vec::new();
        for &(line, start, end) in &self.records {
            values.clear();
            for &(idx, stored) in self.values.get(start..end).unwrap_or_default() {
                values.push((idx, stored.get(&self.text)));
            }
            write(line, &values)?;
        }
        Ok(())
    }
}

pub(super) struct Inference {
    buffer: InferBuffer,
    /// Records buffered before types are decided.
    infer_rows: usize,
    widenings: Vec<String>,
    /// Per column: what its values say about day-month dates.
    votes: Vec<Votes>,
    /// What was decided about columns that a person would want to know.
    notes: Vec<String>,
    /// The day-month order decided for the first column that settled one.
    date_order: Option<DateOrder>,
}

impl Inference {
    pub(super) fn new(infer_rows: usize) -> Self {
        Inference {
            buffer: InferBuffer::default(),
            infer_rows,
            widenings: Vec::new(),
            votes: Vec::new(),
            notes: Vec::new(),
            date_order: None,
        }
    }

    /// Keeps a record that passed the checks and joins its values into the
    /// types of the inferred columns (a null token tells nothing about a
    /// type). True once it is time to decide.
    pub(super) fn buffer(
        &mut self,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        columns: &mut Columns,
        rules: &TextRules,
    ) -> bool {
        let buf = &mut self.buffer;
        let start = buf.values.len();
        for &(idx, v) in values {
            let Some(col) = columns.get_mut(idx) else {
                continue;
            };
            if col.status != Status::Active {
                continue;
            }
            if !col.declared
                && !rules.nulls.matches(&v)
                && let Some(t) = infer_value(&v)
            {
                col.ty = Some(col.ty.map_or(t, |c| join(c, t)));
                if self.votes.len() <= idx {
                    self.votes.resize_with(idx + 1, Votes::default);
                }
                match (t, v) {
                    (LogicalType::String, Value::Text(s)) => self.votes[idx].text(s, rules.dates),
                    (LogicalType::Date | LogicalType::Timestamp | LogicalType::TimestampTz, _) => {}
                    _ => self.votes[idx].other(),
                }
            }
            buf.values.push((idx, StoredValue::store(v, &mut buf.text)));
        }
        buf.records.push((line, start, buf.values.len()));
        buf.records.len() >= self.infer_rows || buf.text.len() > MAX_INFER_BUFFER_BYTES
    }

    /// The buffered records, to be written once types are decided.
    pub(super) fn take_buffer(&mut self) -> InferBuffer {
        std::mem::take(&mut self.buffer)
    }

    /// Widens columns for values that did not fit them (`changes`: column
    /// and the type its value suggested), noting each change. The caller
    /// closes the open parts first.
    pub(super) fn widen(&mut self, columns: &mut Columns, changes: Vec<(usize, LogicalType)>, line: LineNo) {
        for (idx, t) in changes {
            let Some(col) = columns.get_mut(idx) else {
                continue;
            };
            let (new, note) = match col.ty {
                None => (roomy(t), None),
                Some(old) => {
                    let mut new = roomy(join(old, t));
                    if new == old {
                        new = LogicalType::String;
                    }
                    (new, Some(old))
                }
            };
            if Some(new) == col.ty {
                continue;
            }
            if new.is_text()
                && let Some(old) = note.filter(|o| !o.is_text())
            {
                col.max_bytes = col.max_bytes.max(Some(rendered_width(old)));
            }
            col.ty = Some(new);
            let msg = match note {
                Some(old) => format!("{}: {old} -> {new} at line {line}", col.name),
                None => format!("{}: new column ({new}) at line {line}", col.name),
            };
            tracing::info!(column = %col.name, line, "schema change: {msg}");
            self.widenings.push(msg);
        }
        columns.rebuild_schema();
    }

    /// The schema changes noted so far, for the summary.
    pub(super) fn take_widenings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.widenings)
    }

    /// What was decided about columns (a date order), for the summary.
    pub(super) fn take_notes(&mut self) -> (Vec<String>, Option<DateOrder>) {
        (std::mem::take(&mut self.notes), self.date_order)
    }

    /// Decides the type of every inferred column from what it held (string
    /// where it held only nulls; a date where it held only day-month dates
    /// whose order the values or the feed settle).
    pub(super) fn settle_types(&mut self, columns: &mut Columns, rules: &TextRules) {
        for (idx, col) in columns.iter_mut().enumerate() {
            if col.status != Status::Active || col.declared {
                continue;
            }
            col.ty = Some(roomy(col.ty.unwrap_or(LogicalType::String)));
            if col.ty != Some(LogicalType::String) {
                continue;
            }
            match self.votes.get(idx).and_then(|v| v.decide(rules.dates)) {
                Some(Ok(settled)) => {
                    col.ty = Some(if settled.time { LogicalType::Timestamp } else { LogicalType::Date });
                    col.date_order = settled.order;
                    let what = if settled.time { "timestamps" } else { "dates" };
                    let how = match settled.order {
                        Some(order) => {
                            self.date_order.get_or_insert(order);
                            order.as_str().replace('_', "-")
                        }
                        None => "by month name".to_owned(),
                    };
                    self.notes.push(format!("{}: {what} read {how} ({})", col.name, settled.why));
                }
                Some(Err(why)) => self.notes.push(format!("{}: day-month dates kept as text: {why}", col.name)),
                None => {}
            }
        }
    }
}

/// Inferred decimals get room to grow: a precision of 18 (one int64 in
/// Parquet) or 38, so a larger magnitude later in the file does not split
/// it into another part with a slightly wider type.
fn roomy(t: LogicalType) -> LogicalType {
    match t {
        LogicalType::Decimal { precision, scale } => {
            LogicalType::Decimal { precision: if precision <= 18 { 18 } else { 38 }, scale }
        }
        t => t,
    }
}

/// Longest text a value of `t` renders to, for max_bytes when a column
/// turns into a string after parts with the narrower type were written.
fn rendered_width(t: LogicalType) -> u32 {
    match t {
        LogicalType::Boolean => 5,
        LogicalType::Int64 => 20,
        LogicalType::Float64 => 24,
        LogicalType::Decimal { precision, .. } => precision as u32 + 2,
        LogicalType::Date => 10,
        LogicalType::Timestamp => 26,
        LogicalType::TimestampTz => 32,
        LogicalType::String | LogicalType::Json => 0,
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Decimal128Type, Float64Type, TimestampMicrosecondType};
    use arrow_schema::{DataType, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::lineage::{FILE_COLUMN, ROW_COLUMN};
    use crate::schema::parts::day_of;
    use crate::schema::test_support::{URL, col, day, dtype, harness, ints, read, strings};
    use crate::schema::values::MICROS_PER_DAY;

    #[test]
    fn infers_types_and_writes_lineage() {
        let mut h = harness(|_| {});
        h.csv(
            &["id", "Price", "order date", "flag", "name", "seen at", "zip", "empty", "local time", "big", "ratio"],
            &[
                &[
                    "1",
                    "12.50",
                    "2026-01-02",
                    "true",
                    "alice",
                    "2026-01-02T10:00:00Z",
                    "007",
                    "",
                    "2026-01-02 10:00",
                    "99999999999999999999",
                    "1e3",
                ],
                &[
                    "2",
                    "3.1",
                    "2026-01-03",
                    "FALSE",
                    "bob",
                    "2026-01-03T10:00:00.5+02:00",
                    "10001",
                    "",
                    "2026-01-03",
                    "1",
                    "NaN",
                ],
                &["-3", "", "", "", "", "", "", "", "", "", "2.5"],
            ],
        );
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert!(rejects.is_empty());
        assert_eq!(parts.len(), 1);
        let (schema, batch) = read(&parts[0].path);
        let want = [
            ("id", DataType::Int64),
            ("price", DataType::Decimal128(18, 2)),
            ("order_date", DataType::Date32),
            ("flag", DataType::Boolean),
            ("name", DataType::Utf8),
            ("seen_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
            ("zip", DataType::Utf8),
            ("empty", DataType::Utf8),
            ("local_time", DataType::Timestamp(TimeUnit::Microsecond, None)),
            ("big", DataType::Decimal128(38, 0)),
            ("ratio", DataType::Float64),
            (FILE_COLUMN, DataType::Utf8),
            (ROW_COLUMN, DataType::Int64),
        ];
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, want.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        for (name, t) in &want {
            assert_eq!(&dtype(&schema, name), t, "{name}");
        }
        assert_eq!(ints(&batch, "id"), vec![Some(1), Some(2), Some(-3)]);
        let price = col(&batch, "price").as_primitive::<Decimal128Type>();
        assert_eq!(price.iter().collect::<Vec<_>>(), vec![Some(1250), Some(310), None]);
        let d = col(&batch, "order_date").as_primitive::<Date32Type>();
        assert_eq!(d.value(0), day_of(day("2026-01-02")));
        let ts = col(&batch, "seen_at").as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(1), (1_767_434_400 - 7200) * 1_000_000 + 500_000);
        let local = col(&batch, "local_time").as_primitive::<TimestampMicrosecondType>();
        assert_eq!(local.value(1), day_of(day("2026-01-03")) as i64 * MICROS_PER_DAY);
        assert_eq!(strings(&batch, "zip"), vec![Some("007".into()), Some("10001".into()), None]);
        assert_eq!(col(&batch, "empty").null_count(), 3);
        let ratio = col(&batch, "ratio").as_primitive::<Float64Type>();
        // `NaN` is one of the null tokens: missing in a number column, as pandas reads it.
        assert!(ratio.is_null(1));
        assert_eq!(strings(&batch, FILE_COLUMN), vec![Some(URL.to_string()); 3]);
        assert_eq!(ints(&batch, ROW_COLUMN), vec![Some(2), Some(3), Some(4)]);
        assert!(!schema.field_with_name(FILE_COLUMN).unwrap().is_nullable());
        let f = schema.field_with_name("order_date").unwrap();
        assert_eq!(f.metadata().get(super::super::parquet::META_SOURCE_NAME).map(String::as_str), Some("order date"));
        assert_eq!(summary.rows_written, 3);
        assert_eq!(summary.parts.len(), 1);
        assert_eq!(summary.parts[0].dt, day("2026-03-01"));
        assert_eq!(parts[0].dt, day("2026-03-01"));
        assert!(summary.widenings.is_empty());
        let empty = summary.columns.iter().find(|c| c.name == "empty").unwrap();
        assert_eq!((empty.data_type, empty.nullable, empty.max_bytes), (LogicalType::String, true, None));
        let name = summary.columns.iter().find(|c| c.name == "name").unwrap();
        assert_eq!(name.max_bytes, Some(5));
        assert_eq!(summary.columns.len(), 11);
        // Written with the promised properties.
        let file = std::fs::File::open(&parts[0].path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let meta = builder.metadata().file_metadata();
        assert_eq!(meta.version(), 1);
        assert_eq!(meta.created_by(), Some("landfall"));
        assert_eq!(parts[0].bytes, std::fs::metadata(&parts[0].path).unwrap().len());
    }

    #[test]
    fn widening_mid_file_starts_a_new_part() {
        let mut h = harness(|o| {
            o.infer_rows = 3;
            o.batch_rows = 2;
        });
        h.csv(
            &["n", "label"],
            &[&["1", "a"], &["2", "b"], &["3", "c"], &["4", "d"], &["4.5e0", "e"], &["6", "f"], &["7", ""]],
        );
        let (summary, parts, _, _dir, _) = h.finish();
        assert_eq!(parts.len(), 2);
        let (s0, b0) = read(&parts[0].path);
        let (s1, b1) = read(&parts[1].path);
        assert_eq!(dtype(&s0, "n"), DataType::Int64);
        assert_eq!(dtype(&s1, "n"), DataType::Float64);
        assert_eq!(ints(&b0, "n"), vec![Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(ints(&b0, ROW_COLUMN), vec![Some(2), Some(3), Some(4), Some(5)]);
        let n1: Vec<_> = col(&b1, "n").as_primitive::<Float64Type>().iter().collect();
        assert_eq!(n1, vec![Some(4.5), Some(6.0), Some(7.0)]);
        assert_eq!(ints(&b1, ROW_COLUMN), vec![Some(6), Some(7), Some(8)]);
        assert_eq!(summary.widenings, vec!["n: int64 -> float64 at line 6".to_string()]);
        assert_eq!(parts[0].columns[0].data_type, LogicalType::Int64);
        assert_eq!(parts[1].columns[0].data_type, LogicalType::Float64);
        assert_eq!((parts[0].seq, parts[1].seq), (0, 1));
        assert_eq!(summary.columns[0].data_type, LogicalType::Float64);
        assert_eq!(summary.rows_written, 7);
    }

    #[test]
    fn widening_chain_and_max_bytes_of_earlier_types() {
        let mut h = harness(|o| o.infer_rows = 1);
        h.csv(
            &["v", "t"],
            &[
                &["1", "2026-01-01"],
                &["99999999999999999999", "2026-01-01T10:00"],
                &["1.5", "2026-01-01T10:00Z"],
                &["zip 007", "x"],
            ],
        );
        let (summary, parts, _, _dir, _) = h.finish();
        assert_eq!(
            summary.widenings,
            vec![
                "v: int64 -> decimal(38,0) at line 3",
                "t: date -> timestamp at line 3",
                "v: decimal(38,0) -> float64 at line 4",
                "t: timestamp -> string at line 4",
                "v: float64 -> string at line 5",
            ]
        );
        assert_eq!(parts.len(), 4);
        let v = &summary.columns[0];
        assert_eq!(v.data_type, LogicalType::String);
        // Earlier parts held float64 values, which render up to 24 bytes.
        assert_eq!(v.max_bytes, Some(24));
        let t = &summary.columns[1];
        assert_eq!(t.max_bytes, Some(26));
        let total: u64 = parts.iter().map(|p| p.rows).sum();
        assert_eq!(total, 4);
    }

    #[test]
    fn json_column_that_only_has_nulls_after_decision_stays_out() {
        let mut h = harness(|o| o.infer_rows = 1);
        h.json(1, &[(&["a"], Value::Int(1))]);
        h.json(2, &[(&["a"], Value::Int(2)), (&["b"], Value::Null)]);
        let (summary, parts, _, _dir, _) = h.finish();
        assert_eq!(parts.len(), 1);
        assert_eq!(summary.columns.len(), 1);
    }
}
