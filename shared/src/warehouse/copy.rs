//! Arrow record batches as PostgreSQL `COPY ... FROM STDIN` text.
//!
//! Text rather than binary: the server converts each value to the column's
//! type, so one encoding serves a column that was widened (an int64 part into
//! a `double precision` or `varchar` column) and a value the column cannot
//! hold becomes a data error with its COPY line, which the driver maps back
//! to the file and source line to reject that row alone.

use std::collections::BTreeSet;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};

use super::sql::{SEQ_COLUMN, TableName, lineage_names, quote_ident};
use crate::record::MAX_RAW_BYTES;
use crate::schema::writer::{FILE_COLUMN, ROW_COLUMN};

/// The columns of one COPY stream, in order.
#[derive(Debug, Clone)]
pub struct CopyColumns {
    /// Data columns, named as in the table.
    pub data: Vec<String>,
    /// Staging tables also take the file's sequence in the batch.
    pub with_seq: bool,
}

impl CopyColumns {
    /// `COPY <table> (<columns>) FROM STDIN`; the table is quoted by the caller.
    pub fn statement(&self, table: &str) -> String {
        let mut names: Vec<String> = self.data.iter().map(|c| quote_ident(c)).collect();
        names.extend(lineage_names().iter().map(|c| quote_ident(c)));
        if self.with_seq {
            names.push(quote_ident(SEQ_COLUMN));
        }
        format!("COPY {table} ({}) FROM STDIN", names.join(", "))
    }

    pub fn statement_for(&self, table: &TableName) -> String {
        self.statement(&table.to_string())
    }
}

/// What is constant for one part.
#[derive(Debug, Clone, Copy)]
pub struct PartContext<'a> {
    /// The part's `dt` partition.
    pub dt: &'a str,
    /// This load's timestamp, as `timestamptz` text.
    pub loaded_at: &'a str,
    /// The file's place in the batch.
    pub seq: u32,
    /// Rows of this part (by position in the part) set aside after a data error.
    pub excluded: &'a BTreeSet<u32>,
    /// Indices into [`CopyColumns::data`] that must not be null (merge keys).
    pub required: &'a [usize],
}

/// A row left out of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// Position in the part.
    pub position: u32,
    /// The source line (`_landfall_row`).
    pub line: Option<i64>,
    /// For a null key: the column and why; `None` when the row was in `excluded`.
    pub null_key: Option<String>,
    /// The COPY text of the row, for the rejects record.
    pub raw: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("column {column} has Arrow type {data_type}, which landfall does not load")]
    Unsupported { column: String, data_type: DataType },
    #[error("the part has no {0} column")]
    MissingLineage(&'static str),
}

enum Cell<'a> {
    Null,
    Bool(&'a BooleanArray),
    Int(&'a PrimitiveArray<Int64Type>),
    Float(&'a PrimitiveArray<Float64Type>),
    Decimal(&'a PrimitiveArray<Decimal128Type>, i8),
    Date(&'a PrimitiveArray<Date32Type>),
    Timestamp(&'a PrimitiveArray<TimestampMicrosecondType>, bool),
    Text(&'a StringArray),
}

fn cell<'a>(name: &str, array: &'a dyn Array) -> Result<Cell<'a>, EncodeError> {
    Ok(match array.data_type() {
        DataType::Null => Cell::Null,
        DataType::Boolean => Cell::Bool(array.as_boolean()),
        DataType::Int64 => Cell::Int(array.as_primitive()),
        DataType::Float64 => Cell::Float(array.as_primitive()),
        DataType::Decimal128(_, scale) => Cell::Decimal(array.as_primitive(), *scale),
        DataType::Date32 => Cell::Date(array.as_primitive()),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => Cell::Timestamp(array.as_primitive(), tz.is_some()),
        DataType::Utf8 => Cell::Text(array.as_string()),
        other => return Err(EncodeError::Unsupported { column: name.to_owned(), data_type: other.clone() }),
    })
}

impl Cell<'_> {
    fn is_null(&self, row: usize) -> bool {
        match self {
            Cell::Null => true,
            Cell::Bool(a) => a.is_null(row),
            Cell::Int(a) => a.is_null(row),
            Cell::Float(a) => a.is_null(row),
            Cell::Decimal(a, _) => a.is_null(row),
            Cell::Date(a) => a.is_null(row),
            Cell::Timestamp(a, _) => a.is_null(row),
            Cell::Text(a) => a.is_null(row),
        }
    }

    fn write(&self, row: usize, out: &mut Vec<u8>) {
        if self.is_null(row) {
            out.extend_from_slice(b"\\N");
            return;
        }
        match self {
            Cell::Null => {}
            Cell::Bool(a) => out.extend_from_slice(if a.value(row) { b"true" } else { b"false" }),
            Cell::Int(a) => out.extend_from_slice(itoa::Buffer::new().format(a.value(row)).as_bytes()),
            Cell::Float(a) => write_float(a.value(row), out),
            Cell::Decimal(a, scale) => write_decimal(a.value(row), *scale, out),
            Cell::Date(a) => write_date(i64::from(a.value(row)), out),
            Cell::Timestamp(a, tz) => write_timestamp(a.value(row), *tz, out),
            Cell::Text(a) => write_text(a.value(row).as_bytes(), out),
        }
    }
}

/// Encodes the parts of one COPY stream, tracking positions so a COPY line
/// number can be traced back to its part and row.
pub struct PartEncoder<'a> {
    columns: &'a CopyColumns,
    ctx: PartContext<'a>,
    position: u32,
    emitted: u64,
}

impl<'a> PartEncoder<'a> {
    pub fn new(columns: &'a CopyColumns, ctx: PartContext<'a>) -> Self {
        PartEncoder { columns, ctx, position: 0, emitted: 0 }
    }

    /// Rows written to the stream so far.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Appends the batch's rows to `out`; rows left out are added to `skipped`.
    pub fn encode(
        &mut self,
        batch: &RecordBatch,
        out: &mut Vec<u8>,
        skipped: &mut Vec<SkippedRow>,
    ) -> Result<(), EncodeError> {
        let schema = batch.schema();
        let lookup = |name: &str| schema.index_of(name).ok().map(|i| batch.column(i).as_ref());
        let data: Vec<Cell<'_>> = self
            .columns
            .data
            .iter()
            .map(|name| lookup(name).map_or(Ok(Cell::Null), |a| cell(name, a)))
            .collect::<Result<_, _>>()?;
        let file = lookup(FILE_COLUMN).ok_or(EncodeError::MissingLineage(FILE_COLUMN))?;
        let file = cell(FILE_COLUMN, file)?;
        let line_array = lookup(ROW_COLUMN).ok_or(EncodeError::MissingLineage(ROW_COLUMN))?;
        let line_cell = cell(ROW_COLUMN, line_array)?;
        let lines = line_array.as_primitive_opt::<Int64Type>();

        let mut tail = Vec::with_capacity(64);
        tail.push(b'\t');
        tail.extend_from_slice(self.ctx.dt.as_bytes());
        let mut seq_tail = Vec::with_capacity(48);
        seq_tail.push(b'\t');
        write_text(self.ctx.loaded_at.as_bytes(), &mut seq_tail);
        if self.columns.with_seq {
            seq_tail.push(b'\t');
            seq_tail.extend_from_slice(itoa::Buffer::new().format(self.ctx.seq).as_bytes());
        }
        seq_tail.push(b'\n');

        for row in 0..batch.num_rows() {
            let position = self.position;
            self.position += 1;
            let start = out.len();
            for (i, c) in data.iter().enumerate() {
                if i > 0 {
                    out.push(b'\t');
                }
                c.write(row, out);
            }
            if !data.is_empty() {
                out.push(b'\t');
            }
            out.extend_from_slice(&tail[1..]);
            out.push(b'\t');
            file.write(row, out);
            out.push(b'\t');
            line_cell.write(row, out);
            out.extend_from_slice(&seq_tail);

            let null_key = self
                .ctx
                .required
                .iter()
                .find(|&&i| data.get(i).is_some_and(|c| c.is_null(row)))
                .and_then(|&i| self.columns.data.get(i))
                .map(|c| format!("primary key column {c} is null"));
            if null_key.is_some() || self.ctx.excluded.contains(&position) {
                let raw_bytes = &out[start..out.len() - 1];
                let cut = raw_bytes.len().min(MAX_RAW_BYTES);
                skipped.push(SkippedRow {
                    position,
                    line: lines.and_then(|l| l.is_valid(row).then(|| l.value(row))),
                    null_key,
                    raw: String::from_utf8_lossy(&raw_bytes[..cut]).into_owned(),
                });
                out.truncate(start);
            } else {
                self.emitted += 1;
            }
        }
        Ok(())
    }
}

/// Where COPY line numbers fall: each part's first line, in stream order.
#[derive(Debug, Default, Clone)]
pub struct LineMap {
    starts: Vec<(u64, usize)>,
    next_line: u64,
}

impl LineMap {
    /// Records that the next `rows` lines come from part `part`.
    pub fn push(&mut self, part: usize, rows: u64) {
        if rows > 0 {
            self.starts.push((self.next_line + 1, part));
            self.next_line += rows;
        }
    }

    /// The part and the emitted offset within it of 1-based COPY line `line`.
    pub fn locate(&self, line: u64) -> Option<(usize, u64)> {
        if line == 0 || line > self.next_line {
            return None;
        }
        let idx = self.starts.partition_point(|(start, _)| *start <= line).checked_sub(1)?;
        let (start, part) = self.starts.get(idx)?;
        Some((*part, line - start))
    }
}

/// The position in the part of the `offset`-th emitted row, given the rows
/// that were left out before it.
pub fn position_of(offset: u64, excluded: &BTreeSet<u32>) -> u32 {
    let mut position = u32::try_from(offset).unwrap_or(u32::MAX);
    for &e in excluded {
        if e <= position {
            position = position.saturating_add(1);
        } else {
            break;
        }
    }
    position
}

fn write_text(bytes: &[u8], out: &mut Vec<u8>) {
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            // COPY cannot carry a NUL byte; PostgreSQL text cannot hold one either.
            0 => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..i]);
        out.extend_from_slice(esc);
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
}

fn write_float(v: f64, out: &mut Vec<u8>) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

fn write_decimal(v: i128, scale: i8, out: &mut Vec<u8>) {
    let digits = itoa::Buffer::new().format(v.unsigned_abs()).to_owned();
    if v < 0 {
        out.push(b'-');
    }
    if scale <= 0 {
        out.extend_from_slice(digits.as_bytes());
        out.extend(std::iter::repeat_n(b'0', usize::from(scale.unsigned_abs())));
        return;
    }
    let scale = usize::from(scale.unsigned_abs());
    if digits.len() <= scale {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits.as_bytes());
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(int.as_bytes());
        out.push(b'.');
        out.extend_from_slice(frac.as_bytes());
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn push_padded(v: u64, width: usize, out: &mut Vec<u8>) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(v);
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(s.len())));
    out.extend_from_slice(s.as_bytes());
}

fn write_date(days: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil(days);
    // Year 0 and before are BC in PostgreSQL; such a value is a data error
    // there and is rejected row by row, which is what an analyst would want.
    if y < 0 {
        out.push(b'-');
    }
    push_padded(y.unsigned_abs(), 4, out);
    out.push(b'-');
    push_padded(u64::from(m), 2, out);
    out.push(b'-');
    push_padded(u64::from(d), 2, out);
}

fn write_timestamp(micros: i64, tz: bool, out: &mut Vec<u8>) {
    const PER_DAY: i64 = 86_400_000_000;
    let days = micros.div_euclid(PER_DAY);
    let rest = micros.rem_euclid(PER_DAY);
    write_date(days, out);
    let secs = rest / 1_000_000;
    let frac = rest % 1_000_000;
    out.push(b' ');
    push_padded((secs / 3600) as u64, 2, out);
    out.push(b':');
    push_padded((secs / 60 % 60) as u64, 2, out);
    out.push(b':');
    push_padded((secs % 60) as u64, 2, out);
    if frac != 0 {
        out.push(b'.');
        push_padded(frac as u64, 6, out);
    }
    if tz {
        out.extend_from_slice(b"+00");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Date32Array, Decimal128Array, Float64Array, Int64Array, TimestampMicrosecondArray};
    use arrow_schema::{Field, Schema};

    use super::*;

    fn batch(columns: Vec<(&str, Arc<dyn Array>)>) -> RecordBatch {
        let fields: Vec<Field> = columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, a)| a).collect()).unwrap()
    }

    fn lineage(n: usize) -> Vec<(&'static str, Arc<dyn Array>)> {
        vec![
            (FILE_COLUMN, Arc::new(StringArray::from(vec!["s3://l/f.csv"; n])) as Arc<dyn Array>),
            (ROW_COLUMN, Arc::new(Int64Array::from((2..2 + n as i64).collect::<Vec<_>>()))),
        ]
    }

    fn encode(
        cols: &CopyColumns,
        b: &RecordBatch,
        excluded: &BTreeSet<u32>,
        required: &[usize],
    ) -> (String, Vec<SkippedRow>) {
        let ctx = PartContext { dt: "2026-11-01", loaded_at: "2026-11-22 10:00:00+00", seq: 3, excluded, required };
        let mut enc = PartEncoder::new(cols, ctx);
        let (mut out, mut skipped) = (Vec::new(), Vec::new());
        enc.encode(b, &mut out, &mut skipped).unwrap();
        (String::from_utf8(out).unwrap(), skipped)
    }

    #[test]
    fn values_are_written_as_postgres_text_with_lineage() {
        let mut cols = vec![
            ("id", Arc::new(Int64Array::from(vec![Some(1), None])) as Arc<dyn Array>),
            ("score", Arc::new(Float64Array::from(vec![0.5, f64::NAN]))),
            ("amount", Arc::new(Decimal128Array::from(vec![-5, 123_456]).with_precision_and_scale(12, 2).unwrap())),
            ("day", Arc::new(Date32Array::from(vec![20_393, 0]))),
            ("at", Arc::new(TimestampMicrosecondArray::from(vec![1_762_000_000_123_456, -1]).with_timezone("UTC"))),
            ("note", Arc::new(StringArray::from(vec![Some("tab\there\nnew \\ line"), None]))),
        ];
        cols.extend(lineage(2));
        let b = batch(cols);
        let columns = CopyColumns {
            data: ["id", "score", "amount", "day", "at", "note", "absent"].map(String::from).to_vec(),
            with_seq: true,
        };
        let (text, skipped) = encode(&columns, &b, &BTreeSet::new(), &[]);
        assert!(skipped.is_empty());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "1\t0.5\t-0.05\t2025-11-01\t2025-11-01 12:26:40.123456+00\ttab\\there\\nnew \\\\ line\t\\N\t2026-11-01\ts3://l/f.csv\t2\t2026-11-22 10:00:00+00\t3"
        );
        assert_eq!(
            lines[1],
            "\\N\tNaN\t1234.56\t1970-01-01\t1969-12-31 23:59:59.999999+00\t\\N\t\\N\t2026-11-01\ts3://l/f.csv\t3\t2026-11-22 10:00:00+00\t3"
        );
    }

    #[test]
    fn excluded_rows_and_null_keys_are_left_out_with_their_source_line() {
        let mut cols = vec![("id", Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as Arc<dyn Array>)];
        cols.extend(lineage(3));
        let b = batch(cols);
        let columns = CopyColumns { data: vec!["id".into()], with_seq: false };
        let excluded = BTreeSet::from([2]);
        let (text, skipped) = encode(&columns, &b, &excluded, &[0]);
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("1\t2026-11-01\ts3://l/f.csv\t2\t"));
        assert_eq!(skipped.len(), 2);
        assert_eq!((skipped[0].position, skipped[0].line), (1, Some(3)));
        assert_eq!(skipped[0].null_key.as_deref(), Some("primary key column id is null"));
        assert_eq!((skipped[1].position, skipped[1].line, skipped[1].null_key.clone()), (2, Some(4), None));
        assert!(skipped[1].raw.starts_with("3\t2026-11-01"));
    }

    #[test]
    fn copy_lines_trace_back_to_their_part_and_row() {
        let mut map = LineMap::default();
        map.push(0, 3);
        map.push(1, 0);
        map.push(2, 5);
        assert_eq!(map.locate(1), Some((0, 0)));
        assert_eq!(map.locate(3), Some((0, 2)));
        assert_eq!(map.locate(4), Some((2, 0)));
        assert_eq!(map.locate(8), Some((2, 4)));
        assert_eq!(map.locate(9), None);
        assert_eq!(map.locate(0), None);
        // Rows 1 and 2 of the part were left out: the third emitted row is position 4.
        assert_eq!(position_of(2, &BTreeSet::from([1, 2])), 4);
        assert_eq!(position_of(0, &BTreeSet::from([1, 2])), 0);
    }

    #[test]
    fn dates_cover_leap_years_and_the_far_past() {
        let mut out = Vec::new();
        write_date(-719_528, &mut out); // 0000-01-01
        out.push(b' ');
        write_date(11_016, &mut out); // 2000-02-29
        assert_eq!(String::from_utf8(out).unwrap(), "0000-01-01 2000-02-29");
    }

    #[test]
    fn decimals_keep_their_scale() {
        let s = |v, scale| {
            let mut out = Vec::new();
            write_decimal(v, scale, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(s(5, 3), "0.005");
        assert_eq!(s(-12_345, 2), "-123.45");
        assert_eq!(s(7, 0), "7");
        assert_eq!(s(7, -2), "700");
    }
}
