//! The boundary between the format readers (`formats`) and the typed Parquet
//! writer (`schema`). Readers turn bytes into records of loosely typed values;
//! the writer infers, coerces, partitions and writes them. Neither side knows
//! about AWS.

use std::fmt;

/// One scalar as a reader found it. Text borrows from the reader's buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    /// A CSV field or a JSON string, not yet interpreted: the writer infers
    /// and coerces (`"42"` may become an int64, `"2026-11-01"` a date).
    Text(&'a str),
    Bool(bool),
    /// A JSON integer that fits i64.
    Int(i64),
    /// Any other JSON number (fraction, exponent, or outside i64).
    Float(f64),
    /// A JSON array (or an object past the flattening depth) as compact JSON text.
    Json(&'a str),
}

/// A [`Value`] kept for later, its text stored by offset in an arena
/// (`String`) shared by many values: how readers and the writer hold records
/// without an allocation per value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum StoredValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(usize, usize),
    Json(usize, usize),
}

impl StoredValue {
    /// Copies `value` (its text into `arena`).
    pub fn store(value: Value<'_>, arena: &mut String) -> StoredValue {
        let mut span = |s: &str| {
            arena.push_str(s);
            (arena.len() - s.len(), arena.len())
        };
        match value {
            Value::Null => StoredValue::Null,
            Value::Bool(b) => StoredValue::Bool(b),
            Value::Int(i) => StoredValue::Int(i),
            Value::Float(f) => StoredValue::Float(f),
            Value::Text(s) => {
                let (a, z) = span(s);
                StoredValue::Text(a, z)
            }
            Value::Json(s) => {
                let (a, z) = span(s);
                StoredValue::Json(a, z)
            }
        }
    }

    /// The value again, borrowing from the arena it was stored in.
    pub fn get(self, arena: &str) -> Value<'_> {
        match self {
            StoredValue::Null => Value::Null,
            StoredValue::Bool(b) => Value::Bool(b),
            StoredValue::Int(i) => Value::Int(i),
            StoredValue::Float(f) => Value::Float(f),
            StoredValue::Text(a, z) => Value::Text(arena.get(a..z).unwrap_or_default()),
            StoredValue::Json(a, z) => Value::Json(arena.get(a..z).unwrap_or_default()),
        }
    }
}

/// Raw record text kept with a reject is cut to this many bytes (the landing
/// object keeps the original).
pub(crate) const MAX_RAW_BYTES: usize = 64 * 1024;

/// Longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// [`truncate`] in place.
pub(crate) fn truncate_in_place(s: &mut String, max: usize) {
    let keep = truncate(s, max).len();
    s.truncate(keep);
}

/// Where a record came from, for `_landfall_row` and for rejects.
pub type LineNo = u64;

/// A problem the sink cannot recover from (local disk full, a part upload
/// failing). It aborts the file; `retryable` says whether trying the same
/// file again later can succeed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    pub message: String,
    pub retryable: bool,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SinkError {
    pub fn retryable(message: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { message: message.into(), retryable: true, source: Some(source.into()) }
    }
    pub fn fatal(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false, source: None }
    }
}

/// Marks an `io::Error` raised by the byte stream under a reader (an S3 body
/// cut off mid-way, a timeout). Readers pass such errors through so the
/// caller can retry the file, whereas a corrupt gzip member or invalid bytes
/// are a property of the data and are not retried.
#[derive(Debug)]
pub(crate) struct SourceReadError(pub Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for SourceReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reading the source object failed: {}", self.0)
    }
}

impl std::error::Error for SourceReadError {}

impl SourceReadError {
    /// Wraps a transport error as an `io::Error` that [`is_source_error`] recognises.
    pub fn io(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> std::io::Error {
        std::io::Error::other(SourceReadError(err.into()))
    }
}

/// True when `err` (or the error it wraps) came from the transport, not the data.
pub(crate) fn is_source_error(err: &std::io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<SourceReadError>())
}

/// What readers push records into. Implemented by `schema::TableWriter`
/// (and by simple collectors in tests).
pub trait RecordSink {
    /// A header row (CSV): column `i` of every later record is `names[i]`.
    /// Called at most once, before any record.
    fn header(&mut self, names: &[&str]) -> Result<(), SinkError>;

    /// Resolves a field path of a JSON record (`["device", "os"]` for a nested
    /// object) to a column index, registering a new column on first sight.
    /// Indices are dense and stable for the whole file.
    fn column_for_path(&mut self, path: &[&str]) -> usize;

    /// One record as `(column index, value)` pairs; a column absent from the
    /// record is null. `line` is 1-based: the first line of a CSV record, the
    /// line of an NDJSON record, or the record number in a JSON array/stream.
    /// `raw` renders the record's original text, called only for a reject.
    fn record(
        &mut self,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        raw: &dyn Fn() -> String,
    ) -> Result<(), SinkError>;

    /// A record the reader itself could not read (wrong field count, a
    /// malformed JSON line, invalid UTF-8, nesting too deep).
    fn reject(&mut self, line: LineNo, column: Option<&str>, reason: &str, raw: &str) -> Result<(), SinkError>;
}
