//! `TableWriter`: the `RecordSink` that infers a schema, coerces values,
//! routes rows to date partitions and writes typed Parquet parts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use arrow_array::ArrayRef;
use chrono::NaiveDate;
use parquet::file::properties::WriterProperties;

use crate::record::{LineNo, RecordSink, SinkError, StoredValue, Value};

use super::naming::{NameRegistry, normalize_identifier};
use super::parquet::{ColBuilder, ParquetCompression, PartFile, constant_string_array, writer_properties};
use super::types::{LogicalType, join};
use super::values::{
    MICROS_PER_DAY, f64_to_i64_exact, i64_to_decimal, infer_value, parse_bool, parse_bool_lenient, parse_date,
    parse_decimal, parse_f64_lenient, parse_f64_strict, parse_i64_lenient, parse_i64_strict, parse_partition_day,
    parse_timestamp,
};

pub use crate::lineage::{FILE_COLUMN, LOADED_AT_COLUMN, PARTITION_KEY, RESERVED_NAMES, ROW_COLUMN};

/// Redshift's 1600-column table limit, leaving room for the lineage and
/// partition columns.
pub const MAX_COLUMNS: usize = 1590;
/// A batch is handed over early once its text reaches this size, so long
/// values (JSON blobs) cannot make `batch_rows` rows use unbounded memory
/// (or overflow Arrow's i32 string offsets).
const MAX_BATCH_TEXT_BYTES: usize = 16 << 20;
/// Past this much buffered text, types are decided before `infer_rows`
/// records arrive, so a file of huge records cannot blow the memory bound.
const MAX_INFER_BUFFER_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaContract {
    /// Columns outside the declared schema are inferred and added.
    #[default]
    Evolve,
    /// A row with a value in a column outside the declared schema is rejected.
    Freeze,
    /// Columns outside the declared schema are dropped.
    DiscardColumns,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeclaredColumn {
    /// As in the source: the CSV header, or the JSON path joined with ".".
    pub name: String,
    pub data_type: LogicalType,
    /// false = a row with a null (or absent) value here is rejected.
    #[serde(default = "default_true")]
    pub nullable: bool,
}

fn default_true() -> bool {
    true
}

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
    /// Distinct dt values open at once; opening one more closes the least
    /// recently used part.
    pub max_open_partitions: usize,
    /// Where part files are written (a temp dir owned by the caller).
    pub out_dir: PathBuf,
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
            max_open_partitions: 8,
            out_dir: out_dir.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    pub source_name: String,
    pub data_type: LogicalType,
    pub nullable: bool,
    /// Longest UTF-8 value seen (string/json only): the warehouse sizes VARCHAR from it.
    pub max_bytes: Option<u32>,
    pub declared: bool,
}

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
pub struct RejectedRow {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSummary {
    pub seq: u32,
    pub dt: NaiveDate,
    pub rows: u64,
    pub bytes: u64,
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
}

pub type PartCallback = Box<dyn FnMut(FinishedPart) -> Result<(), SinkError> + Send>;
pub type RejectCallback = Box<dyn FnMut(RejectedRow) -> Result<(), SinkError> + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    /// Freeze: not in the declared schema; a value here rejects the row.
    Outside,
    /// DiscardColumns: not in the declared schema; values are dropped.
    Discarded,
    /// Stands for every JSON path past MAX_COLUMNS; a value here rejects the row.
    Overflow,
}

struct Column {
    name: String,
    source_name: String,
    /// JSON path segments, to find the column again without allocating.
    path: Option<Vec<String>>,
    declared: bool,
    nullable: bool,
    /// None while only nulls were seen (or before types are decided for a
    /// column with no value yet).
    ty: Option<LogicalType>,
    status: Status,
    max_bytes: Option<u32>,
}

impl Column {
    fn schema(&self, ty: LogicalType) -> ColumnSchema {
        ColumnSchema {
            name: self.name.clone(),
            source_name: self.source_name.clone(),
            data_type: ty,
            nullable: self.nullable,
            max_bytes: self.max_bytes.filter(|_| ty.is_text()),
            declared: self.declared,
        }
    }
}

struct DeclaredSlot {
    decl: DeclaredColumn,
    normalized: String,
    column: Option<usize>,
}

/// What `check` learnt about one column of the current record. Valid only
/// when `stamp` is the current generation, so nothing is cleared between
/// records.
#[derive(Debug, Clone, Copy)]
struct Slot {
    stamp: u32,
    /// Index of the value in the record's slice.
    pos: u32,
    cell: Cell,
}

/// A coerced value waiting to be appended; text stays in the caller's
/// record and is referenced by its position there.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Bool(bool),
    I64(i64),
    F64(f64),
    Dec(i128),
    Src(u32),
}

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

#[derive(Default)]
struct InferBuffer {
    records: Vec<(LineNo, usize, usize)>,
    values: Vec<(usize, StoredValue)>,
    text: String,
}

pub struct TableWriter {
    opts: WriterOptions,
    props: WriterProperties,
    on_part: PartCallback,
    on_reject: RejectCallback,

    registry: NameRegistry,
    columns: Vec<Column>,
    declared: Vec<DeclaredSlot>,
    /// Columns whose null (or absence) rejects the row.
    required: Vec<usize>,
    paths: HashMap<u64, Vec<usize>>,
    header_seen: bool,
    overflow: Option<usize>,
    partition_idx: Option<usize>,
    arrival_day: i32,

    /// None while buffering for inference.
    schema_cols: Option<Vec<usize>>,
    buffer: InferBuffer,

    /// Per-record scratch, indexed by column.
    slots: Vec<Slot>,
    generation: u32,
    render: String,

    parts: Vec<PartFile>,
    last_part: Option<usize>,
    next_seq: u32,
    tick: u64,
    file_column: ArrayRef,

    rows_written: u64,
    rows_rejected: u64,
    finished_parts: Vec<PartSummary>,
    widenings: Vec<String>,
    discarded: Vec<String>,
}

fn day_of(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (date - epoch).num_days() as i32
}

fn date_of(day: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(day.checked_add(719_163)?)
}

fn path_hash(path: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.len().hash(&mut h);
    for seg in path {
        seg.hash(&mut h);
    }
    h.finish()
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

fn describe(v: &Value<'_>) -> String {
    const MAX: usize = 64;
    let text = match *v {
        Value::Null => return "null".to_string(),
        Value::Bool(b) => return b.to_string(),
        Value::Int(i) => return i.to_string(),
        Value::Float(f) => return f.to_string(),
        Value::Text(s) | Value::Json(s) => s,
    };
    if text.len() <= MAX {
        return format!("{text:?}");
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}...", &text[..end])
}

/// Coerces `v` (non-null) to `ty`. Inferred columns use the strict parsers,
/// which accept exactly what inference would have typed as `ty` or narrower;
/// declared columns (`lenient`) also take blanks, leading zeros and similar.
#[inline]
fn coerce(v: &Value<'_>, ty: LogicalType, lenient: bool, pos: u32, scratch: &mut String) -> Option<Cell> {
    match ty {
        LogicalType::String => Some(Cell::Src(pos)),
        LogicalType::Int64 => match *v {
            Value::Int(i) => Some(Cell::I64(i)),
            Value::Text(s) => { if lenient { parse_i64_lenient(s) } else { parse_i64_strict(s) } }.map(Cell::I64),
            Value::Float(f) if lenient => f64_to_i64_exact(f).map(Cell::I64),
            _ => None,
        },
        LogicalType::Float64 => match *v {
            Value::Float(f) => Some(Cell::F64(f)),
            Value::Int(i) => Some(Cell::F64(i as f64)),
            Value::Text(s) => { if lenient { parse_f64_lenient(s) } else { parse_f64_strict(s) } }.map(Cell::F64),
            _ => None,
        },
        LogicalType::Decimal { precision, scale } => match *v {
            Value::Text(s) => parse_decimal(s, precision, scale, !lenient).map(Cell::Dec),
            Value::Int(i) => i64_to_decimal(i, precision, scale).map(Cell::Dec),
            Value::Float(f) if lenient && f.is_finite() => {
                scratch.clear();
                let _ = write!(scratch, "{f}");
                parse_decimal(scratch, precision, scale, false).map(Cell::Dec)
            }
            _ => None,
        },
        LogicalType::Boolean => match *v {
            Value::Bool(b) => Some(Cell::Bool(b)),
            Value::Text(s) => if lenient { parse_bool_lenient(s) } else { parse_bool(s) }.map(Cell::Bool),
            _ => None,
        },
        LogicalType::Date => match *v {
            Value::Text(s) => if lenient { parse_date(s.trim()) } else { parse_date(s) }.map(|d| Cell::I64(d as i64)),
            _ => None,
        },
        LogicalType::Timestamp | LogicalType::TimestampTz => {
            let Value::Text(s) = *v else { return None };
            let s = if lenient { s.trim() } else { s };
            if let Some(d) = parse_date(s) {
                return Some(Cell::I64(d as i64 * MICROS_PER_DAY));
            }
            let ts = parse_timestamp(s)?;
            // Strict: a zone where none was before (or the reverse) is a
            // different type; declared columns take both, as UTC.
            let zoned = ty == LogicalType::TimestampTz;
            (lenient || ts.offset_seconds.is_some() == zoned).then_some(Cell::I64(ts.micros))
        }
        LogicalType::Json => match *v {
            Value::Json(_) => Some(Cell::Src(pos)),
            Value::Text(s) if lenient => {
                serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok().then_some(Cell::Src(pos))
            }
            Value::Int(_) | Value::Bool(_) if lenient => Some(Cell::Src(pos)),
            Value::Float(f) if lenient && f.is_finite() => Some(Cell::Src(pos)),
            _ => None,
        },
    }
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
        // Freeze and DiscardColumns are about columns outside a declared
        // schema; with nothing declared they would freeze or drop everything.
        if opts.declared.is_empty() {
            opts.contract = SchemaContract::Evolve;
        }
        let props = writer_properties(opts.compression, opts.row_group_rows, opts.row_group_bytes)?;
        std::fs::create_dir_all(&opts.out_dir)
            .map_err(|e| SinkError::retryable(format!("creating {}", opts.out_dir.display()), e))?;

        let mut declared = Vec::with_capacity(opts.declared.len());
        for d in &opts.declared {
            if declared.iter().any(|s: &DeclaredSlot| s.decl.name == d.name) {
                return Err(SinkError::fatal(format!("declared column {:?} appears twice", d.name)));
            }
            declared.push(DeclaredSlot { decl: d.clone(), normalized: normalize_identifier(&d.name), column: None });
        }
        let file_column = constant_string_array(&opts.source_url, opts.batch_rows);
        Ok(TableWriter {
            arrival_day: day_of(opts.arrival_date),
            props,
            on_part,
            on_reject,
            registry: NameRegistry::new(&RESERVED_NAMES),
            columns: Vec::new(),
            declared,
            required: Vec::new(),
            paths: HashMap::new(),
            header_seen: false,
            overflow: None,
            partition_idx: None,
            schema_cols: None,
            buffer: InferBuffer::default(),
            slots: Vec::new(),
            generation: 0,
            render: String::new(),
            parts: Vec::new(),
            last_part: None,
            next_seq: 0,
            tick: 0,
            file_column,
            rows_written: 0,
            rows_rejected: 0,
            finished_parts: Vec::new(),
            widenings: Vec::new(),
            discarded: Vec::new(),
            opts,
        })
    }

    /// The current schema (lineage columns excluded), e.g. for logging.
    pub fn columns(&self) -> Vec<ColumnSchema> {
        self.columns.iter().filter(|c| c.status == Status::Active).filter_map(|c| c.ty.map(|t| c.schema(t))).collect()
    }

    /// The declared slot a source column matches: by exact source name,
    /// then by normalised name. `taken` selects slots already bound to a
    /// column (true) or still free (false).
    fn find_declared(&self, source: &str, taken: bool) -> Option<usize> {
        let eligible = |s: &DeclaredSlot| s.column.is_some() == taken;
        self.declared.iter().position(|s| eligible(s) && s.decl.name == source).or_else(|| {
            let norm = normalize_identifier(source);
            self.declared.iter().position(|s| eligible(s) && s.normalized == norm)
        })
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
        let (declared, nullable, ty, status) = match slot.and_then(|s| self.declared.get_mut(s)) {
            Some(s) => {
                s.column = Some(idx);
                (true, s.decl.nullable, Some(s.decl.data_type), Status::Active)
            }
            None => match self.opts.contract {
                SchemaContract::Evolve => (false, true, None, Status::Active),
                SchemaContract::Freeze => (false, true, None, Status::Outside),
                SchemaContract::DiscardColumns => (false, true, None, Status::Discarded),
            },
        };
        if status == Status::Discarded {
            self.discarded.push(name.clone());
        }
        if !nullable {
            self.required.push(idx);
        }
        if self.partition_idx.is_none() && self.opts.partition_column.as_deref() == Some(name.as_str()) {
            self.partition_idx = Some(idx);
        }
        self.columns.push(Column { name, source_name, path, declared, nullable, ty, status, max_bytes: None });
        self.slots.push(Slot { stamp: 0, pos: 0, cell: Cell::Null });
        idx
    }

    /// Declared columns the source never mentioned become (all-null) columns,
    /// so every part carries the whole declared schema.
    fn add_unseen_declared(&mut self) {
        for s in 0..self.declared.len() {
            if self.declared[s].column.is_none() {
                let source = self.declared[s].decl.name.clone();
                let name = self.registry.assign_fresh(&source);
                self.add_column(name, source, None, Some(s));
            }
        }
    }

    /// One shared column for all paths past MAX_COLUMNS, so a file whose
    /// keys are data (ids as object keys) cannot grow the schema without bound.
    fn overflow_column(&mut self) -> usize {
        if let Some(i) = self.overflow {
            return i;
        }
        let idx = self.add_column(String::new(), String::new(), None, None);
        if let Some(c) = self.columns.get_mut(idx) {
            c.status = Status::Overflow;
        }
        self.overflow = Some(idx);
        idx
    }

    fn next_generation(&mut self) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.iter_mut().for_each(|s| s.stamp = 0);
            self.generation = 1;
        }
        self.generation
    }

    fn partition_day(&self, values: &[(usize, Value<'_>)], generation: u32) -> Result<i32, (Option<String>, String)> {
        let Some(pi) = self.partition_idx else {
            return match &self.opts.partition_column {
                None => Ok(self.arrival_day),
                Some(name) => Err((Some(name.clone()), format!("partition column {name} is null"))),
            };
        };
        let col = &self.columns[pi];
        let name = &col.name;
        let null = || (Some(name.clone()), format!("partition column {name} is null"));
        let slot = self.slots[pi];
        if slot.stamp != generation {
            return Err(null());
        }
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

    /// Checks every value of a record without touching any builder.
    fn check(&mut self, values: &[(usize, Value<'_>)]) -> Result<Outcome, SinkError> {
        let generation = self.next_generation();
        let writing = self.schema_cols.is_some();
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
            let slot = &mut self.slots[idx];
            *slot = Slot { stamp: generation, pos, cell: Cell::Null };
            if let Value::Null = v {
                continue;
            }
            match col.status {
                Status::Active => {}
                Status::Discarded => continue,
                Status::Outside => {
                    return Ok(Outcome::Reject {
                        column: Some(col.name.clone()),
                        reason: format!("column {} is not in the declared schema", col.name),
                    });
                }
                Status::Overflow => {
                    return Ok(Outcome::Reject {
                        column: None,
                        reason: format!("the file has more than {MAX_COLUMNS} distinct fields"),
                    });
                }
            }
            // While buffering, inferred columns take anything: their type is
            // the join of what they hold.
            let Some(ty) = col.ty.filter(|_| col.declared || writing) else {
                if writing && let Some(t) = infer_value(v) {
                    widen.push((idx, t));
                }
                continue;
            };
            match coerce(v, ty, col.declared, pos, &mut self.render) {
                Some(c) => self.slots[idx].cell = c,
                None if col.declared => {
                    let ty = col.ty.map(|t| t.to_string()).unwrap_or_default();
                    return Ok(Outcome::Reject {
                        column: Some(col.name.clone()),
                        reason: format!("value {} is not a valid {ty}", describe(v)),
                    });
                }
                None => {
                    if let Some(t) = infer_value(v) {
                        widen.push((idx, t));
                    }
                }
            }
        }
        for &idx in &self.required {
            let slot = self.slots[idx];
            if slot.stamp != generation || matches!(slot.cell, Cell::Null) {
                let name = &self.columns[idx].name;
                return Ok(Outcome::Reject { column: Some(name.clone()), reason: format!("column {name} is null") });
            }
        }
        let day = match self.partition_day(values, generation) {
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
        let buf = &mut self.buffer;
        let start = buf.values.len();
        for &(idx, v) in values {
            let Some(col) = self.columns.get_mut(idx) else {
                continue;
            };
            if col.status != Status::Active {
                continue;
            }
            if !col.declared
                && let Some(t) = infer_value(&v)
            {
                col.ty = Some(col.ty.map_or(t, |c| join(c, t)));
            }
            buf.values.push((idx, StoredValue::store(v, &mut buf.text)));
        }
        buf.records.push((line, start, buf.values.len()));
        if buf.records.len() >= self.opts.infer_rows || buf.text.len() > MAX_INFER_BUFFER_BYTES {
            self.decide()?;
        }
        Ok(())
    }

    /// Fixes the types of all columns seen so far and writes the buffered records.
    fn decide(&mut self) -> Result<(), SinkError> {
        if self.schema_cols.is_some() {
            return Ok(());
        }
        self.add_unseen_declared();
        for col in &mut self.columns {
            if col.status == Status::Active && !col.declared {
                col.ty = Some(roomy(col.ty.unwrap_or(LogicalType::String)));
            }
        }
        self.rebuild_schema();
        let buf = std::mem::take(&mut self.buffer);
        let names = source_names(&self.columns);
        let mut values: Vec<(usize, Value<'_>)> = Vec::new();
        for &(line, start, end) in &buf.records {
            values.clear();
            for &(idx, stored) in buf.values.get(start..end).unwrap_or_default() {
                values.push((idx, stored.get(&buf.text)));
            }
            self.write_record(line, &values, &|| render_values(&values, &names))?;
        }
        Ok(())
    }

    fn rebuild_schema(&mut self) {
        let cols: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.columns[i].status == Status::Active && self.columns[i].ty.is_some())
            .collect();
        self.schema_cols = Some(cols);
    }

    fn write_record(
        &mut self,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        raw: &dyn Fn() -> String,
    ) -> Result<(), SinkError> {
        loop {
            match self.check(values)? {
                Outcome::Write(day) => return self.append(line, values, day),
                Outcome::Reject { column, reason } => {
                    return self.emit_reject(line, column, reason, raw());
                }
                Outcome::Widen(changes) => self.widen(changes, line)?,
            }
        }
    }

    fn widen(&mut self, changes: Vec<(usize, LogicalType)>, line: LineNo) -> Result<(), SinkError> {
        // Every open part keeps the schema it was opened with.
        self.close_all_parts()?;
        for (idx, t) in changes {
            let Some(col) = self.columns.get_mut(idx) else {
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
        self.rebuild_schema();
        Ok(())
    }

    fn part_for(&mut self, day: i32) -> Result<usize, SinkError> {
        self.tick += 1;
        if let Some(i) = self.last_part
            && let Some(p) = self.parts.get_mut(i)
            && p.day == day
        {
            p.last_used = self.tick;
            return Ok(i);
        }
        if let Some(i) = self.parts.iter().position(|p| p.day == day) {
            self.parts[i].last_used = self.tick;
            self.last_part = Some(i);
            return Ok(i);
        }
        if self.parts.len() >= self.opts.max_open_partitions
            && let Some((lru, _)) = self.parts.iter().enumerate().min_by_key(|(_, p)| p.last_used)
        {
            self.close_part(lru)?;
        }
        let dt = date_of(day).ok_or_else(|| SinkError::fatal(format!("day {day} is out of range")))?;
        let seq = self.next_seq;
        self.next_seq += 1;
        let cols = self.schema_cols.as_deref().unwrap_or_default();
        let columns: Vec<ColumnSchema> = cols
            .iter()
            .filter_map(|&i| {
                let c = &self.columns[i];
                c.ty.map(|t| ColumnSchema { max_bytes: None, ..c.schema(t) })
            })
            .collect();
        let path = self.opts.out_dir.join(format!("part-{seq}.parquet"));
        tracing::debug!(seq, %dt, path = %path.display(), "opening part");
        let mut part = PartFile::create(path, seq, day, dt, columns, self.props.clone(), self.opts.batch_rows)?;
        part.last_used = self.tick;
        self.parts.push(part);
        let i = self.parts.len() - 1;
        self.last_part = Some(i);
        Ok(i)
    }

    fn append(&mut self, line: LineNo, values: &[(usize, Value<'_>)], day: i32) -> Result<(), SinkError> {
        let pi = self.part_for(day)?;
        let generation = self.generation;
        let Self { parts, schema_cols, slots, .. } = self;
        let (Some(part), Some(schema_cols)) = (parts.get_mut(pi), schema_cols.as_ref()) else {
            return Err(SinkError::fatal("no open part for a row"));
        };
        if part.builders.len() != schema_cols.len() || part.max_bytes.len() != schema_cols.len() {
            return Err(SinkError::fatal("part schema out of step with the column list"));
        }
        for ((&idx, builder), max_bytes) in
            schema_cols.iter().zip(part.builders.iter_mut()).zip(part.max_bytes.iter_mut())
        {
            let cell = match slots.get(idx) {
                Some(slot) if slot.stamp == generation => slot.cell,
                _ => Cell::Null,
            };
            part.batch_bytes += append_cell(builder, cell, values, max_bytes)?;
        }
        part.lines.append_value(i64::try_from(line).unwrap_or(i64::MAX));
        part.batch_len += 1;
        part.rows += 1;
        self.rows_written += 1;
        if part.batch_len >= self.opts.batch_rows || part.batch_bytes >= MAX_BATCH_TEXT_BYTES {
            part.flush_batch(&self.file_column, self.opts.row_group_bytes)?;
            if part.rows >= self.opts.part_max_rows {
                return self.close_part(pi);
            }
            self.bound_memory()?;
        } else if part.rows >= self.opts.part_max_rows {
            return self.close_part(pi);
        }
        Ok(())
    }

    /// Many open partitions each holding a row group could together exceed
    /// the memory budget; flush the biggest one early when they do.
    fn bound_memory(&mut self) -> Result<(), SinkError> {
        if self.parts.len() < 2 {
            return Ok(());
        }
        let total: usize = self.parts.iter().map(PartFile::buffered_bytes).sum();
        if total > self.opts.row_group_bytes
            && let Some(big) = self.parts.iter_mut().max_by_key(|p| p.buffered_bytes())
        {
            big.flush_row_group()?;
        }
        Ok(())
    }

    fn close_part(&mut self, i: usize) -> Result<(), SinkError> {
        if i >= self.parts.len() {
            return Ok(());
        }
        let part = self.parts.swap_remove(i);
        self.last_part = None;
        let closed = part.close(&self.file_column)?;
        for meta in &closed.columns {
            if let Some(col) = self.columns.iter_mut().find(|c| c.name == meta.name) {
                col.max_bytes = col.max_bytes.max(meta.max_bytes);
            }
        }
        tracing::debug!(seq = closed.seq, rows = closed.rows, bytes = closed.bytes, "closed part");
        self.finished_parts.push(PartSummary {
            seq: closed.seq,
            dt: closed.dt,
            rows: closed.rows,
            bytes: closed.bytes,
        });
        (self.on_part)(FinishedPart {
            seq: closed.seq,
            dt: closed.dt,
            path: closed.path,
            rows: closed.rows,
            bytes: closed.bytes,
            columns: closed.columns,
        })
    }

    fn close_all_parts(&mut self) -> Result<(), SinkError> {
        // In seq order, so callbacks see parts in the order they were opened.
        while let Some((i, _)) = self.parts.iter().enumerate().min_by_key(|(_, p)| p.seq) {
            self.close_part(i)?;
        }
        Ok(())
    }

    /// Flushes and closes every open part (calling `on_part`) and returns the summary.
    pub fn finish(mut self) -> Result<WriteSummary, SinkError> {
        self.decide()?;
        self.close_all_parts()?;
        let columns = self.columns();
        let mut parts = std::mem::take(&mut self.finished_parts);
        parts.sort_by_key(|p| p.seq);
        Ok(WriteSummary {
            columns,
            rows_written: self.rows_written,
            rows_rejected: self.rows_rejected,
            parts,
            widenings: std::mem::take(&mut self.widenings),
            discarded_columns: std::mem::take(&mut self.discarded),
        })
    }
}

fn source_names(columns: &[Column]) -> Vec<String> {
    columns.iter().map(|c| c.source_name.clone()).collect()
}

/// A buffered record rendered as a JSON object, for rejects after the fact.
fn render_values(values: &[(usize, Value<'_>)], names: &[String]) -> String {
    let mut map = serde_json::Map::new();
    for &(idx, v) in values {
        let key = names.get(idx).cloned().unwrap_or_else(|| idx.to_string());
        let jv = match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Int(i) => serde_json::Value::from(i),
            Value::Float(f) => serde_json::Value::from(f),
            Value::Text(s) => serde_json::Value::String(s.to_string()),
            Value::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.to_string())),
        };
        map.insert(key, jv);
    }
    serde_json::Value::Object(map).to_string()
}

#[inline]
fn append_cell(
    builder: &mut ColBuilder,
    cell: Cell,
    values: &[(usize, Value<'_>)],
    max_bytes: &mut Option<u32>,
) -> Result<usize, SinkError> {
    match (builder, cell) {
        (b, Cell::Null) => b.append_null(),
        (ColBuilder::Str(b), Cell::Src(pos)) => {
            let len = match values.get(pos as usize).map(|(_, v)| *v) {
                Some(Value::Text(s) | Value::Json(s)) => {
                    b.append_value(s);
                    s.len()
                }
                Some(Value::Int(i)) => {
                    let before = b.values_slice().len();
                    let _ = write!(b, "{i}");
                    let len = b.values_slice().len() - before;
                    b.append_value("");
                    len
                }
                Some(Value::Float(f)) => {
                    let before = b.values_slice().len();
                    let _ = write!(b, "{f}");
                    let len = b.values_slice().len() - before;
                    b.append_value("");
                    len
                }
                Some(Value::Bool(v)) => {
                    let s = if v { "true" } else { "false" };
                    b.append_value(s);
                    s.len()
                }
                Some(Value::Null) | None => {
                    b.append_null();
                    return Ok(0);
                }
            };
            let len32 = u32::try_from(len).unwrap_or(u32::MAX);
            if max_bytes.is_none_or(|m| len32 > m) {
                *max_bytes = Some(len32);
            }
            return Ok(len);
        }
        (ColBuilder::I64(b), Cell::I64(v)) => b.append_value(v),
        (ColBuilder::Ts(b), Cell::I64(v)) => b.append_value(v),
        (ColBuilder::Date(b), Cell::I64(v)) => b.append_value(i32::try_from(v).unwrap_or_default()),
        (ColBuilder::F64(b), Cell::F64(v)) => b.append_value(v),
        (ColBuilder::Dec(b), Cell::Dec(v)) => b.append_value(v),
        (ColBuilder::Bool(b), Cell::Bool(v)) => b.append_value(v),
        (_, cell) => {
            return Err(SinkError::fatal(format!("internal: value {cell:?} does not match its column builder")));
        }
    }
    Ok(0)
}

impl RecordSink for TableWriter {
    fn header(&mut self, names: &[&str]) -> Result<(), SinkError> {
        if self.header_seen || !self.columns.is_empty() {
            return Err(SinkError::fatal("header called twice or after records"));
        }
        self.header_seen = true;
        if names.len() + self.declared.len() > MAX_COLUMNS {
            return Err(SinkError::fatal(format!(
                "the header has {} columns; at most {MAX_COLUMNS} are supported",
                names.len()
            )));
        }
        for raw in names {
            let slot = self.find_declared(raw, false);
            let name = self.registry.assign_fresh(raw);
            self.add_column(name, (*raw).to_string(), None, slot);
        }
        self.add_unseen_declared();
        if let Some(p) = &self.opts.partition_column
            && self.partition_idx.is_none()
        {
            return Err(SinkError::fatal(format!("partition column {p} is not among the columns of the file")));
        }
        Ok(())
    }

    fn column_for_path(&mut self, path: &[&str]) -> usize {
        let h = path_hash(path);
        if let Some(candidates) = self.paths.get(&h) {
            for &i in candidates {
                if let Some(p) = self.columns.get(i).and_then(|c| c.path.as_ref())
                    && p.len() == path.len()
                    && p.iter().zip(path).all(|(a, b)| a == b)
                {
                    return i;
                }
            }
        }
        if self.columns.len() >= MAX_COLUMNS {
            return self.overflow_column();
        }
        let source = path.join(".");
        let owned: Vec<String> = path.iter().map(|s| (*s).to_string()).collect();
        // A declared column the file had not mentioned when types were
        // decided was added then, all-null and without a path: adopt it.
        let adopted = self
            .find_declared(&source, true)
            .and_then(|s| self.declared[s].column)
            .filter(|&c| self.columns.get(c).is_some_and(|c| c.path.is_none()));
        let idx = match adopted {
            Some(c) => {
                self.columns[c].path = Some(owned);
                c
            }
            None => {
                let slot = self.find_declared(&source, false);
                let name = self.registry.assign_path(path);
                self.add_column(name, source, Some(owned), slot)
            }
        };
        self.paths.entry(h).or_default().push(idx);
        idx
    }

    fn record(
        &mut self,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        raw: &dyn Fn() -> String,
    ) -> Result<(), SinkError> {
        if self.schema_cols.is_none() {
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
    use std::sync::{Arc, Mutex};

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType};
    use arrow_array::{Array, RecordBatch, RecordBatchReader};
    use arrow_schema::{DataType, SchemaRef, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    type Parts = Arc<Mutex<Vec<FinishedPart>>>;
    type Rejects = Arc<Mutex<Vec<RejectedRow>>>;

    const URL: &str = "s3://landing/sales/2026/file.csv";

    struct Harness {
        writer: TableWriter,
        parts: Parts,
        rejects: Rejects,
        _dir: tempfile::TempDir,
        records_in: u64,
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn harness(configure: impl FnOnce(&mut WriterOptions)) -> Harness {
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
        fn csv(&mut self, header: &[&str], rows: &[&[&str]]) {
            self.writer.header(header).unwrap();
            for (i, row) in rows.iter().enumerate() {
                self.row(i as u64 + 2, row);
            }
        }

        fn row(&mut self, line: u64, row: &[&str]) {
            let values: Vec<(usize, Value<'_>)> = row
                .iter()
                .enumerate()
                .map(|(i, s)| (i, if s.is_empty() { Value::Null } else { Value::Text(s) }))
                .collect();
            let raw = row.join(",");
            self.records_in += 1;
            self.writer.record(line, &values, &|| raw.clone()).unwrap();
        }

        fn json(&mut self, line: u64, fields: &[(&[&str], Value<'_>)]) {
            let values: Vec<(usize, Value<'_>)> =
                fields.iter().map(|(path, v)| (self.writer.column_for_path(path), *v)).collect();
            self.records_in += 1;
            self.writer.record(line, &values, &|| format!("json line {line}")).unwrap();
        }

        fn finish(self) -> (WriteSummary, Vec<FinishedPart>, Vec<RejectedRow>, tempfile::TempDir, u64) {
            let summary = self.writer.finish().unwrap();
            let parts = self.parts.lock().unwrap().clone();
            let rejects = self.rejects.lock().unwrap().clone();
            (summary, parts, rejects, self._dir, self.records_in)
        }
    }

    fn read(path: &std::path::Path) -> (SchemaRef, RecordBatch) {
        let file = std::fs::File::open(path).unwrap();
        // One batch for the whole (small) file.
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().with_batch_size(1 << 20).build().unwrap();
        let schema = reader.schema();
        let mut batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert!(batches.len() <= 1);
        let batch = batches.pop().unwrap_or_else(|| RecordBatch::new_empty(schema.clone()));
        (schema, batch)
    }

    fn col<'a>(batch: &'a RecordBatch, name: &str) -> &'a arrow_array::ArrayRef {
        batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"))
    }

    fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
        col(batch, name).as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
    }

    fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
        col(batch, name).as_primitive::<Int64Type>().iter().collect()
    }

    fn dtype(schema: &SchemaRef, name: &str) -> DataType {
        schema.field_with_name(name).unwrap().data_type().clone()
    }

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
        assert!(ratio.value(1).is_nan());
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
    fn declared_schema_rejects_bad_values() {
        let mut h = harness(|o| {
            o.declared = vec![
                DeclaredColumn { name: "id".into(), data_type: LogicalType::Int64, nullable: false },
                DeclaredColumn { name: "Amount".into(), data_type: "decimal(10,2)".parse().unwrap(), nullable: true },
                DeclaredColumn { name: "when".into(), data_type: LogicalType::TimestampTz, nullable: true },
                DeclaredColumn { name: "never there".into(), data_type: LogicalType::Boolean, nullable: true },
            ];
            o.infer_rows = 2;
        });
        h.csv(
            &["id", "amount", "when", "note"],
            &[
                &["1", "10.5", "2026-01-01T00:00:00Z", "x"],
                &["abc", "1", "", "y"],
                &["", "1", "", "z"],
                &["007", "1.234", "", "w"],
                &["4", " 12.30 ", "2026-01-01 10:00", "v"],
                &["5", "1.2e3", "", ""],
            ],
        );
        let (summary, parts, rejects, _dir, records) = h.finish();
        let got: Vec<(u64, Option<&str>, &str)> =
            rejects.iter().map(|r| (r.line, r.column.as_deref(), r.reason.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (3, Some("id"), "value \"abc\" is not a valid int64"),
                (4, Some("id"), "column id is null"),
                (5, Some("amount"), "value \"1.234\" is not a valid decimal(10,2)"),
                (7, Some("amount"), "value \"1.2e3\" is not a valid decimal(10,2)"),
            ]
        );
        assert_eq!(rejects[0].raw, "abc,1,,y");
        assert_eq!(summary.rows_written + summary.rows_rejected, records);
        assert_eq!(summary.rows_written, 2);
        let (schema, batch) = read(&parts[0].path);
        assert_eq!(ints(&batch, "id"), vec![Some(1), Some(4)]);
        assert!(!schema.field_with_name("id").unwrap().is_nullable());
        assert_eq!(dtype(&schema, "amount"), DataType::Decimal128(10, 2));
        let amount: Vec<_> = col(&batch, "amount").as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(amount, vec![Some(1050), Some(1230)]);
        // Declared timestamptz takes a zone-less value as UTC.
        let when = col(&batch, "when").as_primitive::<TimestampMicrosecondType>();
        assert_eq!(when.value(1), 1_767_261_600_000_000);
        assert_eq!(dtype(&schema, "never_there"), DataType::Boolean);
        assert_eq!(col(&batch, "never_there").null_count(), 2);
        let decl: Vec<(&str, bool)> = summary.columns.iter().map(|c| (c.name.as_str(), c.declared)).collect();
        assert_eq!(decl, vec![("id", true), ("amount", true), ("when", true), ("note", false), ("never_there", true)]);
        assert_eq!(summary.columns[1].source_name, "amount");
    }

    #[test]
    fn freeze_rejects_unknown_columns() {
        let mut h = harness(|o| {
            o.declared = vec![DeclaredColumn { name: "id".into(), data_type: LogicalType::Int64, nullable: true }];
            o.contract = SchemaContract::Freeze;
        });
        h.csv(&["id", "extra"], &[&["1", "x"], &["2", ""], &["3", "y"]]);
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].reason, "column extra is not in the declared schema");
        assert_eq!(rejects[0].column.as_deref(), Some("extra"));
        assert_eq!(rejects[1].line, 4);
        let (schema, batch) = read(&parts[0].path);
        assert!(schema.field_with_name("extra").is_err());
        assert_eq!(ints(&batch, "id"), vec![Some(2)]);
        assert_eq!((summary.rows_written, summary.rows_rejected), (1, 2));
    }

    #[test]
    fn discard_columns_drops_values() {
        let mut h = harness(|o| {
            o.declared = vec![DeclaredColumn { name: "id".into(), data_type: LogicalType::Int64, nullable: true }];
            o.contract = SchemaContract::DiscardColumns;
        });
        h.csv(&["id", "Extra Col", "more"], &[&["1", "x", "1"], &["2", "", "2"]]);
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert!(rejects.is_empty());
        assert_eq!(summary.discarded_columns, vec!["extra_col", "more"]);
        let (schema, batch) = read(&parts[0].path);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["id", FILE_COLUMN, ROW_COLUMN]);
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(summary.columns.len(), 1);
    }

    #[test]
    fn empty_declared_schema_makes_freeze_evolve() {
        let mut h = harness(|o| o.contract = SchemaContract::Freeze);
        h.csv(&["a"], &[&["1"]]);
        let (summary, _, rejects, _dir, _) = h.finish();
        assert!(rejects.is_empty());
        assert_eq!(summary.rows_written, 1);
    }

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
    fn lru_closes_partitions_when_too_many_are_open() {
        let (summary, parts, _, _dir) = partitioned(2);
        assert!(parts.len() > 3, "{} parts", parts.len());
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

    #[test]
    fn missing_partition_column_in_header_is_fatal() {
        let mut h = harness(|o| o.partition_column = Some("nope".into()));
        let err = h.writer.header(&["a"]).unwrap_err();
        assert!(!err.retryable);
    }

    #[test]
    fn max_bytes_counts_utf8_bytes() {
        let mut h = harness(|_| {});
        h.csv(&["city"], &[&["Zürich"], &["日本語"], &["Rome"]]);
        let (summary, parts, _, _dir, _) = h.finish();
        assert_eq!(summary.columns[0].max_bytes, Some(9));
        assert_eq!(parts[0].columns[0].max_bytes, Some(9));
    }

    #[test]
    fn json_columns_keep_metadata_and_paths() {
        let mut h = harness(|o| o.infer_rows = 2);
        h.json(
            1,
            &[(&["id"], Value::Int(1)), (&["tags"], Value::Json("[1,2]")), (&["device", "os"], Value::Text("ios"))],
        );
        h.json(2, &[(&["id"], Value::Int(2)), (&["tags"], Value::Json("[]")), (&["score"], Value::Float(1.5))]);
        h.json(3, &[(&["id"], Value::Int(3)), (&["dt"], Value::Text("2026-01-01"))]);
        h.json(4, &[(&["id"], Value::Int(4)), (&["device", "os"], Value::Int(17))]);
        let (summary, parts, _, _dir, _) = h.finish();
        // The new "dt" column after rows were written starts a new part.
        assert_eq!(parts.len(), 2);
        assert_eq!(summary.widenings, vec!["dt_2: new column (date) at line 3"]);
        let (schema, batch) = read(&parts[0].path);
        let tags = schema.field_with_name("tags").unwrap();
        assert_eq!(tags.data_type(), &DataType::Utf8);
        assert_eq!(tags.metadata().get("landfall.type").map(String::as_str), Some("json"));
        assert_eq!(tags.metadata().get("landfall.source_name").map(String::as_str), Some("tags"));
        let os = schema.field_with_name("device__os").unwrap();
        assert_eq!(os.metadata().get("landfall.source_name").map(String::as_str), Some("device.os"));
        assert_eq!(strings(&batch, "tags"), vec![Some("[1,2]".into()), Some("[]".into())]);
        let (schema1, batch1) = read(&parts[1].path);
        assert_eq!(dtype(&schema1, "dt_2"), DataType::Date32);
        // A string column renders a JSON number as text.
        assert_eq!(strings(&batch1, "device__os"), vec![None, Some("17".into())]);
        let tags = summary.columns.iter().find(|c| c.name == "tags").unwrap();
        assert_eq!((tags.data_type, tags.max_bytes), (LogicalType::Json, Some(5)));
        assert_eq!(
            summary.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            vec!["id", "tags", "device__os", "score", "dt_2"]
        );
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

    #[test]
    fn declared_json_path_found_late_is_adopted() {
        let mut h = harness(|o| {
            o.infer_rows = 1;
            o.declared =
                vec![DeclaredColumn { name: "device.os".into(), data_type: LogicalType::String, nullable: true }];
        });
        h.json(1, &[(&["id"], Value::Int(1))]);
        h.json(2, &[(&["id"], Value::Int(2)), (&["device", "os"], Value::Text("android"))]);
        let (summary, parts, _, _dir, _) = h.finish();
        assert_eq!(parts.len(), 1);
        let names: Vec<&str> = summary.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["id", "device_os"]);
        let (_, batch) = read(&parts[0].path);
        assert_eq!(strings(&batch, "device_os"), vec![None, Some("android".into())]);
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
    fn too_many_json_fields_reject_rows() {
        let mut h = harness(|o| o.infer_rows = 1);
        let keys: Vec<String> = (0..MAX_COLUMNS + 5).map(|i| format!("k{i}")).collect();
        h.json(1, &[(&["k0"], Value::Int(1))]);
        let fields: Vec<(usize, Value<'_>)> =
            keys.iter().map(|k| (h.writer.column_for_path(&[k.as_str()]), Value::Int(1))).collect();
        h.records_in += 1;
        h.writer.record(2, &fields, &String::new).unwrap();
        h.json(3, &[(&["k1"], Value::Int(3))]);
        let (summary, _, rejects, _dir, records) = h.finish();
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, 2);
        assert_eq!(summary.rows_written + summary.rows_rejected, records);
        assert!(summary.columns.len() <= MAX_COLUMNS);
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

    #[test]
    fn reserved_names_and_duplicates() {
        let mut h = harness(|_| {});
        h.csv(&["dt", "a", "a", "_landfall_file"], &[&["x", "1", "2", "3"]]);
        let (summary, _, _, _dir, _) = h.finish();
        let names: Vec<&str> = summary.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["dt_2", "a", "a_2", "landfall_file"]);
    }

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

    #[test]
    fn hostile_values_never_panic() {
        let mut h = harness(|o| {
            o.infer_rows = 3;
            o.batch_rows = 4;
            o.partition_column = Some("when".into());
            o.declared = vec![
                DeclaredColumn { name: "n".into(), data_type: LogicalType::Int64, nullable: true },
                DeclaredColumn { name: "d".into(), data_type: "decimal(5,2)".parse().unwrap(), nullable: true },
                DeclaredColumn { name: "j".into(), data_type: LogicalType::Json, nullable: true },
            ];
        });
        let samples = [
            "",
            "-",
            "+",
            ".",
            "0",
            "-0",
            "9999999999999999999999999999999999999999999",
            "1e400",
            "-inf",
            "NaN",
            "2026-02-30",
            "2026-01-01T",
            "2026-01-01T10:00:00.",
            "2026-01-01T10:00:00+99",
            "9999-12-31T23:59:59.999999999-23:59",
            "0000-01-01T00:00:00+23:59",
            "\u{0}",
            "日本",
            "{\"a\":1}",
            "[",
            "true",
            "1.2.3",
            "١٢٣",
        ];
        h.writer.header(&["n", "d", "j", "when", "free"]).unwrap();
        let mut line = 1;
        for a in samples {
            for b in samples {
                line += 1;
                let row = [a, b, a, b, a];
                h.row(line, &row);
            }
        }
        let (summary, parts, _, _dir, records) = h.finish();
        assert_eq!(summary.rows_written + summary.rows_rejected, records);
        let total: u64 = parts.iter().map(|p| p.rows).sum();
        assert_eq!(total, summary.rows_written);
        for p in &parts {
            let (_, b) = read(&p.path);
            assert_eq!(b.num_rows() as u64, p.rows);
        }
    }

    /// Throughput of the writer alone on clickstream-like text:
    /// `cargo test --release -- --ignored --nocapture bench_writer`
    /// (BENCH_ROWS, BENCH_REPEAT, BENCH_COMPRESSION=zstd|snappy|none tune it;
    /// BENCH_LOOPS=n pushes the same rows n times through one writer, to
    /// measure peak memory on a large input without holding it all).
    #[test]
    #[ignore]
    fn bench_writer() {
        let env = |k: &str| std::env::var(k).ok();
        let rows: usize = env("BENCH_ROWS").and_then(|v| v.parse().ok()).unwrap_or(500_000);
        let repeat: usize = env("BENCH_REPEAT").and_then(|v| v.parse().ok()).unwrap_or(1);
        let loops: usize = env("BENCH_LOOPS").and_then(|v| v.parse().ok()).unwrap_or(1);
        let compression = match env("BENCH_COMPRESSION").as_deref() {
            Some("none") => ParquetCompression::None,
            Some("snappy") => ParquetCompression::Snappy,
            _ => ParquetCompression::Zstd(1),
        };
        // All fields in one text buffer, as a reader would hold them.
        let (text, bounds) = clickstream(rows);
        let bytes = text.len() * loops;
        let header = [
            "event_id",
            "session_id",
            "user_id",
            "event_time",
            "page",
            "referrer",
            "user_agent",
            "country",
            "scroll_pct",
            "dwell_ms",
            "price",
            "is_mobile",
            "is_bot",
            "screen_w",
            "screen_h",
            "campaign",
            "lat",
        ];
        for _ in 0..repeat {
            let dir = tempfile::tempdir().unwrap();
            let mut opts = WriterOptions::new(URL, day("2026-03-01"), dir.path());
            opts.compression = compression;
            let start = std::time::Instant::now();
            let mut w = TableWriter::new(opts, Box::new(|_| Ok(())), Box::new(|_| Ok(()))).unwrap();
            w.header(&header).unwrap();
            let mut values: Vec<(usize, Value<'_>)> = Vec::with_capacity(17);
            let mut line = 1;
            for _ in 0..loops {
                for row in bounds.chunks_exact(17) {
                    values.clear();
                    values.extend(row.iter().enumerate().map(|(c, &(a, z))| (c, Value::Text(&text[a..z]))));
                    line += 1;
                    w.record(line, &values, &String::new).unwrap();
                }
            }
            let rows = rows * loops;
            let summary = w.finish().unwrap();
            let secs = start.elapsed().as_secs_f64();
            let out: u64 = summary.parts.iter().map(|p| p.bytes).sum();
            println!(
                "writer ({compression:?}): {rows} rows, {:.1} MB text in {secs:.2}s = {:.0} rows/s, {:.1} MB/s; parquet {:.1} MB",
                bytes as f64 / 1e6,
                rows as f64 / secs,
                bytes as f64 / 1e6 / secs,
                out as f64 / 1e6,
            );
            println!(
                "types: {}",
                summary.columns.iter().map(|c| format!("{}:{}", c.name, c.data_type)).collect::<Vec<_>>().join(" ")
            );
            assert_eq!(summary.rows_written, rows as u64);
        }
    }

    /// 17 clickstream-like fields per row: ids, ISO timestamps with Z, small
    /// ints, decimals, bools and strings. Returns the text (with a separator
    /// after every field, so its length is the CSV size) and field bounds.
    fn clickstream(rows: usize) -> (String, Vec<(usize, usize)>) {
        let mut text = String::with_capacity(rows * 180);
        let mut bounds = Vec::with_capacity(rows * 17);
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let pages = ["/", "/home", "/products/shoes", "/cart", "/checkout", "/search?q=red+shoes", "/account/orders"];
        let agents = [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
            "curl/8.4.0",
        ];
        let countries = ["US", "DE", "FR", "JP", "BR", "IN"];
        for i in 0..rows {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let r = seed;
            let secs = (i as u64 * 7) % (86_400 * 3);
            let (d, h, m, s) = (1 + secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
            let mut field = |f: std::fmt::Arguments<'_>| {
                let a = text.len();
                text.write_fmt(f).unwrap();
                bounds.push((a, text.len()));
                text.push(',');
            };
            field(format_args!("{}", 10_000_000 + i));
            field(format_args!("{r:016x}"));
            field(format_args!("u{}", r % 50_000));
            field(format_args!("2026-01-{d:02}T{h:02}:{m:02}:{s:02}.{:03}Z", r % 1000));
            field(format_args!("{}", pages[(r % 7) as usize]));
            field(format_args!("{}", pages[((r >> 8) % 7) as usize]));
            field(format_args!("{}", agents[((r >> 16) % 3) as usize]));
            field(format_args!("{}", countries[((r >> 20) % 6) as usize]));
            field(format_args!("{}", (r >> 24) % 100));
            field(format_args!("{}", (r >> 32) % 5000));
            field(format_args!("{}.{:02}", (r >> 40) % 500, (r >> 48) % 100));
            field(format_args!("{}", r & 1 == 0));
            field(format_args!("{}", r & 2 == 0));
            field(format_args!("{}", (r >> 12) % 1920));
            field(format_args!("{}", (r >> 18) % 1080));
            field(format_args!("campaign-{}", (r >> 28) % 40));
            field(format_args!("{}.{:04}", (r >> 36) % 90, (r >> 44) % 10_000));
            text.pop();
            text.push('\n');
        }
        (text, bounds)
    }
}
