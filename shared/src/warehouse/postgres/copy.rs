//! Arrow record batches as a PostgreSQL `COPY ... FROM STDIN` stream.
//!
//! Binary when every column has a type landfall manages: each value is
//! encoded for its column's type (an int64 part into a `double precision`
//! column is converted here), which spares the server its text parsing,
//! about a third of COPY's time. Text when a column has a type an analyst
//! chose (`integer`, say): the server then converts each value itself. In
//! both, a value the column cannot hold is a data error with its COPY line
//! (a row in binary), which the driver maps back to the file and source line
//! to reject that row alone.

use std::collections::BTreeSet;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};

use crate::lineage::{FILE_COLUMN, ROW_COLUMN};
use crate::record::MAX_RAW_BYTES;
use crate::warehouse::sql::{SEQ_COLUMN, SqlType, TableName, lineage_names, quote_ident};

/// The columns of one COPY stream, in order.
#[derive(Debug, Clone)]
pub(crate) struct CopyColumns {
    /// Data columns, named as in the table.
    pub data: Vec<String>,
    /// The table's type of each data column.
    pub types: Vec<SqlType>,
    /// Staging tables also take the file's sequence in the batch.
    pub with_seq: bool,
}

const BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
const BINARY_TRAILER: &[u8] = &[0xff, 0xff];
/// 2000-01-01, PostgreSQL's epoch, in days and microseconds after 1970-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * 86_400_000_000;

impl CopyColumns {
    pub fn new(data: Vec<String>, types: Vec<SqlType>, with_seq: bool) -> Self {
        CopyColumns { data, types, with_seq }
    }

    /// Binary unless a column has a type landfall does not manage.
    pub fn binary(&self) -> bool {
        !self.types.iter().any(|t| matches!(t, SqlType::Other(_)))
    }

    /// `COPY <table> (<columns>) FROM STDIN`; the table is quoted by the caller.
    pub fn statement(&self, table: &str) -> String {
        let mut names: Vec<String> = self.data.iter().map(|c| quote_ident(c)).collect();
        names.extend(lineage_names().iter().map(|c| quote_ident(c)));
        if self.with_seq {
            names.push(quote_ident(SEQ_COLUMN));
        }
        let format = if self.binary() { " WITH (FORMAT binary)" } else { "" };
        format!("COPY {table} ({}) FROM STDIN{format}", names.join(", "))
    }

    /// Bytes that open the stream.
    pub fn header(&self) -> &'static [u8] {
        if self.binary() { BINARY_HEADER } else { b"" }
    }

    /// Bytes that close the stream.
    pub(crate) fn trailer(&self) -> &'static [u8] {
        if self.binary() { BINARY_TRAILER } else { b"" }
    }

    fn field_count(&self) -> i16 {
        let n = self.data.len() + lineage_names().len() + usize::from(self.with_seq);
        i16::try_from(n).unwrap_or(i16::MAX)
    }

    pub(crate) fn statement_for(&self, table: &TableName) -> String {
        self.statement(&table.to_string())
    }
}

/// What is constant for one part.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartContext<'a> {
    /// The part's `dt` partition.
    pub dt: &'a str,
    /// This load's timestamp, as `timestamptz` text.
    pub loaded_at: &'a str,
    /// The same, in microseconds since 1970-01-01 UTC.
    pub loaded_at_micros: i64,
    /// The file's place in the batch.
    pub seq: u32,
    /// Rows of this part (by position in the part) set aside after a data error.
    pub excluded: &'a BTreeSet<u32>,
    /// Indices into [`CopyColumns::data`] that must not be null (merge keys).
    pub required: &'a [usize],
}

/// A row left out of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SkippedRow {
    /// Position in the part.
    pub position: u32,
    /// The source line (`_landfall_row`).
    pub line: Option<i64>,
    /// Why the encoder left it out (a null key, a row no page can hold);
    /// `None` when the row was in `excluded`.
    pub reason: Option<String>,
    /// The COPY text of the row, for the rejects record.
    pub raw: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum EncodeError {
    #[error("column {column} has Arrow type {data_type}, which landfall does not load")]
    Unsupported { column: String, data_type: DataType },
    #[error("the part has no {0} column")]
    MissingLineage(&'static str),
    #[error("column {column} has Arrow type {data_type}, which a {target} column cannot take")]
    Mismatch { column: String, data_type: DataType, target: String },
    #[error("the part's dt {0:?} is not a date")]
    BadPartition(String),
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
pub(crate) struct PartEncoder<'a> {
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
    pub(crate) fn emitted(&self) -> u64 {
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
        let binary = self.columns.binary();
        let plans: Vec<Bin> = if binary {
            data.iter()
                .zip(&self.columns.types)
                .zip(&self.columns.data)
                .map(|((c, t), name)| bin_plan(name, c, t))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let rows = Rows { data: &data, file: &file, line: &line_cell, plans: &plans };
        let wide = rows.can_outgrow_a_page();
        let tails = self.tails()?;

        let mut raw = Vec::new();
        for row in 0..batch.num_rows() {
            let position = self.position;
            self.position += 1;
            let start = out.len();
            if binary {
                rows.binary(row, self.columns.field_count(), &tails, out);
            } else {
                rows.text(row, &tails, out);
            }
            let null_key = self
                .ctx
                .required
                .iter()
                .find(|&&i| data.get(i).is_some_and(|c| c.is_null(row)))
                .and_then(|&i| self.columns.data.get(i))
                .map(|c| format!("primary key column {c} is null"));
            let reason = null_key.or_else(|| wide.then(|| too_big_for_a_page(rows.min_heap_bytes(row))).flatten());
            if reason.is_some() || self.ctx.excluded.contains(&position) {
                out.truncate(start);
                raw.clear();
                rows.text(row, &tails, &mut raw);
                let text = raw.strip_suffix(b"\n").unwrap_or(&raw);
                let cut = text.len().min(MAX_RAW_BYTES);
                skipped.push(SkippedRow {
                    position,
                    line: lines.and_then(|l| l.is_valid(row).then(|| l.value(row))),
                    reason,
                    raw: String::from_utf8_lossy(&text[..cut]).into_owned(),
                });
            } else {
                self.emitted += 1;
            }
        }
        Ok(())
    }

    /// The constant columns of this part, in both encodings.
    fn tails(&self) -> Result<Tails, EncodeError> {
        let ctx = &self.ctx;
        let days = parse_day(ctx.dt).ok_or_else(|| EncodeError::BadPartition(ctx.dt.to_owned()))?;
        let mut text_dt = ctx.dt.as_bytes().to_vec();
        text_dt.push(b'\t');
        let mut text_end = vec![b'\t'];
        write_text(ctx.loaded_at.as_bytes(), &mut text_end);
        let mut bin_end = Vec::with_capacity(24);
        push_field(&mut bin_end, &(ctx.loaded_at_micros - PG_EPOCH_MICROS).to_be_bytes());
        if self.columns.with_seq {
            text_end.push(b'\t');
            text_end.extend_from_slice(itoa::Buffer::new().format(ctx.seq).as_bytes());
            push_field(&mut bin_end, &i64::from(ctx.seq).to_be_bytes());
        }
        text_end.push(b'\n');
        let mut bin_dt = Vec::with_capacity(8);
        push_field(&mut bin_dt, &i32::try_from(days - PG_EPOCH_DAYS).unwrap_or(i32::MAX).to_be_bytes());
        Ok(Tails { text_dt, text_end, bin_dt, bin_end })
    }
}

/// Per part: `dt` before the file and line columns, then loaded-at (and seq).
struct Tails {
    text_dt: Vec<u8>,
    text_end: Vec<u8>,
    bin_dt: Vec<u8>,
    bin_end: Vec<u8>,
}

/// One batch's columns, ready to write row by row.
struct Rows<'b, 'a> {
    data: &'b [Cell<'a>],
    file: &'b Cell<'a>,
    line: &'b Cell<'a>,
    plans: &'b [Bin],
}

impl Rows<'_, '_> {
    /// Whether any row of these columns could pass a page: each value takes
    /// at most [`TOAST_FLOOR_BYTES`] by [`Rows::min_heap_bytes`]' count, so
    /// a table of up to about 330 columns never can, and its rows need no
    /// count at all.
    fn can_outgrow_a_page(&self) -> bool {
        let count = self.cells();
        TUPLE_HEADER_BYTES + count * TOAST_FLOOR_BYTES + count.div_ceil(8) > MAX_HEAP_TUPLE_BYTES
    }

    /// The values a row holds: the data, the lineage columns and the tails.
    fn cells(&self) -> usize {
        self.data.len() + 6
    }

    /// The least a heap tuple of this row can take after TOAST: the header
    /// and null bitmap, then each value at its smallest (a short string in
    /// place with its 1-byte header, a longer one as a TOAST pointer, any
    /// other value 1 byte, alignment ignored), so a row over the limit by
    /// this count is one PostgreSQL refuses, never one it would take.
    fn min_heap_bytes(&self, row: usize) -> usize {
        let (mut bytes, mut any_null) = (TUPLE_HEADER_BYTES, false);
        for c in self.data.iter().chain([self.file, self.line]) {
            bytes += match c {
                _ if c.is_null(row) => {
                    any_null = true;
                    0
                }
                Cell::Text(a) => text_min_bytes(a.value(row).len()),
                _ => 1,
            };
        }
        if any_null { bytes + self.cells().div_ceil(8) } else { bytes }
    }

    fn text(&self, row: usize, tails: &Tails, out: &mut Vec<u8>) {
        for c in self.data {
            c.write(row, out);
            out.push(b'\t');
        }
        out.extend_from_slice(&tails.text_dt);
        self.file.write(row, out);
        out.push(b'\t');
        self.line.write(row, out);
        out.extend_from_slice(&tails.text_end);
    }

    fn binary(&self, row: usize, fields: i16, tails: &Tails, out: &mut Vec<u8>) {
        out.extend_from_slice(&fields.to_be_bytes());
        for (c, plan) in self.data.iter().zip(self.plans) {
            c.write_binary(row, *plan, out);
        }
        out.extend_from_slice(&tails.bin_dt);
        self.file.write_binary(row, Bin::Bytes, out);
        self.line.write_binary(row, Bin::Int, out);
        out.extend_from_slice(&tails.bin_end);
    }
}

/// PostgreSQL's largest heap tuple (`MaxHeapTupleSize`: an 8 KiB page less
/// its header and one line pointer). A longer one fails the whole COPY
/// with "row is too big" (SQLSTATE 54000) at a line that, with COPY's
/// batched inserts, need not be the row's, so the encoder sets such a row
/// aside itself, with its own line.
const MAX_HEAP_TUPLE_BYTES: usize = 8160;
/// A tuple's fixed header (`heap_tuple_header`, 23 bytes, aligned).
const TUPLE_HEADER_BYTES: usize = 24;
/// What TOAST leaves in the row of a value it moves out (`varatt_external`
/// with its header), and the size above which it moves one at all
/// (`MAXALIGN(TOAST_POINTER_SIZE)`).
const TOAST_POINTER_BYTES: usize = 18;
const TOAST_FLOOR_BYTES: usize = 24;

/// The least a text value of `len` bytes takes in its row.
fn text_min_bytes(len: usize) -> usize {
    let stored = if len < 127 { len + 1 } else { len + 4 };
    if stored > TOAST_FLOOR_BYTES { TOAST_POINTER_BYTES } else { stored }
}

/// The reason a row of `bytes` (at least) cannot be stored, if it cannot.
fn too_big_for_a_page(bytes: usize) -> Option<String> {
    (bytes > MAX_HEAP_TUPLE_BYTES).then(|| {
        format!(
            "row is too big for PostgreSQL: at least {bytes} bytes in a page that holds {MAX_HEAP_TUPLE_BYTES} \
             (too many non-null columns: keep a wide, sparse part of the data as one json column)"
        )
    })
}

/// How one column's values are encoded for its table type, decided per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bin {
    Null,
    Bool,
    /// int8 from Int64.
    Int,
    /// float8 from Float64, Int64 or Decimal128.
    Float,
    /// numeric from Decimal128 or Int64.
    Numeric,
    /// date from Date32.
    Date,
    /// timestamp(tz) from Timestamp or Date32.
    Timestamp,
    /// varchar/text from Utf8, as is.
    Bytes,
    /// jsonb from Utf8: a version byte, then the text.
    Jsonb,
    /// varchar/text from a non-text type: its text form.
    AsText,
}

fn bin_plan(name: &str, c: &Cell<'_>, target: &SqlType) -> Result<Bin, EncodeError> {
    let plan = match (c, target) {
        (Cell::Null, _) => Some(Bin::Null),
        (Cell::Text(_), SqlType::Varchar(_) | SqlType::Text) => Some(Bin::Bytes),
        (Cell::Text(_), SqlType::Json) => Some(Bin::Jsonb),
        (_, SqlType::Varchar(_) | SqlType::Text) => Some(Bin::AsText),
        (Cell::Bool(_), SqlType::Boolean) => Some(Bin::Bool),
        (Cell::Int(_), SqlType::BigInt) => Some(Bin::Int),
        (Cell::Int(_) | Cell::Float(_) | Cell::Decimal(..), SqlType::Double) => Some(Bin::Float),
        (Cell::Int(_) | Cell::Decimal(..), SqlType::Numeric { .. }) => Some(Bin::Numeric),
        (Cell::Date(_), SqlType::Date) => Some(Bin::Date),
        (Cell::Date(_) | Cell::Timestamp(..), SqlType::Timestamp | SqlType::TimestampTz) => Some(Bin::Timestamp),
        _ => None,
    };
    plan.ok_or_else(|| EncodeError::Mismatch {
        column: name.to_owned(),
        data_type: c.data_type(),
        target: format!("{target:?}"),
    })
}

/// A length-prefixed binary field.
fn push_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&i32::try_from(bytes.len()).unwrap_or(i32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Writes a field whose length is known only afterwards.
fn push_field_with(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    write(out);
    let len = i32::try_from(out.len() - at - 4).unwrap_or(i32::MAX);
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

impl Cell<'_> {
    fn data_type(&self) -> DataType {
        match self {
            Cell::Null => DataType::Null,
            Cell::Bool(a) => a.data_type().clone(),
            Cell::Int(a) => a.data_type().clone(),
            Cell::Float(a) => a.data_type().clone(),
            Cell::Decimal(a, _) => a.data_type().clone(),
            Cell::Date(a) => a.data_type().clone(),
            Cell::Timestamp(a, _) => a.data_type().clone(),
            Cell::Text(a) => a.data_type().clone(),
        }
    }

    fn write_binary(&self, row: usize, plan: Bin, out: &mut Vec<u8>) {
        if self.is_null(row) {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            return;
        }
        match (self, plan) {
            (Cell::Bool(a), Bin::Bool) => push_field(out, &[u8::from(a.value(row))]),
            (Cell::Int(a), Bin::Int) => push_field(out, &a.value(row).to_be_bytes()),
            (Cell::Float(a), Bin::Float) => push_field(out, &a.value(row).to_be_bytes()),
            (Cell::Int(a), Bin::Float) => push_field(out, &(a.value(row) as f64).to_be_bytes()),
            (Cell::Decimal(a, scale), Bin::Float) => {
                let v = a.value(row) as f64 / 10f64.powi(i32::from(*scale));
                push_field(out, &v.to_be_bytes());
            }
            (Cell::Decimal(a, scale), Bin::Numeric) => push_field_with(out, |o| write_numeric(a.value(row), *scale, o)),
            (Cell::Int(a), Bin::Numeric) => push_field_with(out, |o| write_numeric(i128::from(a.value(row)), 0, o)),
            (Cell::Date(a), Bin::Date) => {
                let days = i64::from(a.value(row)) - PG_EPOCH_DAYS;
                push_field(out, &i32::try_from(days).unwrap_or(i32::MAX).to_be_bytes());
            }
            (Cell::Date(a), Bin::Timestamp) => {
                let micros = i64::from(a.value(row)) * 86_400_000_000 - PG_EPOCH_MICROS;
                push_field(out, &micros.to_be_bytes());
            }
            (Cell::Timestamp(a, _), Bin::Timestamp) => {
                push_field(out, &a.value(row).saturating_sub(PG_EPOCH_MICROS).to_be_bytes());
            }
            (Cell::Text(a), Bin::Bytes) => push_field(out, a.value(row).as_bytes()),
            (Cell::Text(a), Bin::Jsonb) => push_field_with(out, |o| {
                o.push(1);
                o.extend_from_slice(a.value(row).as_bytes());
            }),
            (Cell::Bool(a), Bin::AsText) => push_field(out, if a.value(row) { b"true" } else { b"false" }),
            (Cell::Text(a), Bin::AsText) => push_field(out, a.value(row).as_bytes()),
            // Numbers, dates and timestamps have no characters to escape.
            (_, Bin::AsText) => push_field_with(out, |o| self.write(row, o)),
            // bin_plan admits no other pairing; a null keeps the stream well-formed.
            _ => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
}

/// PostgreSQL's binary numeric: base-10000 digits with a weight, sign and
/// display scale, built from the decimal digits (no overflow at 38 digits).
fn write_numeric(v: i128, scale: i8, out: &mut Vec<u8>) {
    let scale = u16::from(scale.max(0).unsigned_abs());
    let digits = v.unsigned_abs().to_string();
    let s = usize::from(scale);
    let padded = if digits.len() <= s { format!("{}{digits}", "0".repeat(s + 1 - digits.len())) } else { digits };
    let (int, frac) = padded.split_at(padded.len() - s);
    let int = int.trim_start_matches('0');
    let mut groups: Vec<i16> = Vec::new();
    let lead = int.len() % 4;
    let mut int_groups = 0i16;
    let mut at = 0;
    if lead > 0 {
        groups.push(int[..lead].parse().unwrap_or(0));
        int_groups += 1;
        at = lead;
    }
    while at < int.len() {
        groups.push(int[at..at + 4].parse().unwrap_or(0));
        int_groups += 1;
        at += 4;
    }
    let mut at = 0;
    while at < frac.len() {
        let chunk = &frac[at..(at + 4).min(frac.len())];
        let value: i16 = chunk.parse().unwrap_or(0);
        groups.push(value * 10i16.pow(4 - chunk.len() as u32));
        at += 4;
    }
    let mut weight = int_groups - 1;
    // Leading zero groups (a value below 1) move the weight down.
    let leading = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..leading);
    weight -= i16::try_from(leading).unwrap_or(0);
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign: u16 = if v < 0 && !groups.is_empty() { 0x4000 } else { 0 };
    out.extend_from_slice(&i16::try_from(groups.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&scale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

/// `YYYY-MM-DD` to days since 1970-01-01.
fn parse_day(text: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(i64::from(date.signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32))
}

/// Where COPY line numbers fall: each part's first line, in stream order.
#[derive(Debug, Default, Clone)]
pub(crate) struct LineMap {
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
pub(crate) fn position_of(offset: u64, excluded: &BTreeSet<u32>) -> u32 {
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
mod tests;
