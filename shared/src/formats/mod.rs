//! Format readers: turn the raw bytes of an object (CSV or JSON, possibly
//! gzip/zstd-compressed, possibly not UTF-8) into records pushed into a
//! [`RecordSink`]. Everything streams: memory stays bounded by a few fixed
//! buffers plus the largest single record, whatever the file size.

mod compression;
mod csv;
mod detect;
mod dialect;
mod encoding;
mod json;
mod stream;

use std::io::{BufReader, Cursor, Read};

use serde::{Deserialize, Serialize};

use crate::record::{LineNo, RecordSink, SinkError, Value};
pub(crate) use crate::record::{MAX_RAW_BYTES, truncate, truncate_in_place};
use crate::schema::NullTokens;

pub use dialect::Dialect;
pub use encoding::encoding_for_label;
pub use json::records::JsonLayout;
pub(crate) use json::records::{normalize_path, path_segments};

use stream::{Counted, Ctx, Decompressed, Tap};

/// Size of the big read buffers: large enough that per-read overhead of the
/// S3 body and the decoders disappears, small enough to stay a few MB in total.
const BUF_SIZE: usize = 256 * 1024;
/// How much decoded text detection looks at.
const SAMPLE_SIZE: usize = 64 * 1024;
/// A file may start with this much whitespace before detection gives up.
const MAX_LEADING_WHITESPACE: usize = 1024 * 1024;
/// Largest single record (CSV record, NDJSON line, JSON array element). Past
/// this it is almost always a broken file (an unbalanced quote swallowing the
/// rest of a CSV), and buffering it would break the memory bound.
const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;
/// Raw text handed to `sink.reject` is cut to this.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FormatChoice {
    #[default]
    Auto,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum CompressionChoice {
    #[default]
    Auto,
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// `None`: detected among `,` `;` TAB `|` and space.
    pub delimiter: Option<u8>,
    pub header: bool,
    /// `None`: detected among `"` and `'`.
    pub quote: Option<u8>,
    /// Records before the header (`csv.skip_rows`); `None`: detected.
    pub skip_rows: Option<usize>,
    /// A space after each delimiter is no part of a field
    /// (`csv.skip_initial_space`); `None`: detected.
    pub skip_initial_space: Option<bool>,
    /// Records the header spans, joined into names (`csv.header_rows`);
    /// `None`: detected.
    pub header_rows: Option<usize>,
    /// Fields equal to one of these become `Value::Null`, in every column
    /// (`csv.null_values`; by default only the empty field).
    pub null_values: Vec<String>,
    /// Fields read as missing only in columns that are not text (by default
    /// `NA`, `NULL`, `#N/A`, ...; none once a feed sets `csv.null_values`,
    /// which then says exactly what is missing).
    pub null_tokens: NullTokens,
    /// Numbers are written with a decimal comma and optional dot thousands
    /// separators (`1.234,50`), as in German or French exports: such fields
    /// are rewritten to `1234.50` before typing.
    pub decimal_comma: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: None,
            header: true,
            quote: None,
            skip_rows: None,
            skip_initial_space: None,
            header_rows: None,
            null_values: vec![String::new()],
            null_tokens: NullTokens::defaults(),
            decimal_comma: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonOptions {
    /// Distinct keys past which a nested object is read as a map: one JSON
    /// column (`json.map_keys`; see `json::keys`).
    pub map_keys: usize,
    /// Dotted path to the records in each top-level value (`json.records`,
    /// read as an HTTP source's `records:`); "" for the value itself.
    pub records: String,
    /// The records are an object's values and its keys this column
    /// (`json.keyed_by`).
    pub keyed_by: Option<String>,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions { map_keys: json::keys::DEFAULT_MAP_KEYS, records: String::new(), keyed_by: None }
    }
}

impl JsonOptions {
    /// The records are somewhere else than the top level.
    fn wrapped(&self) -> bool {
        !self.records.is_empty() || self.keyed_by.is_some()
    }
}

/// What one file may decompress to unless its feed says otherwise: past it,
/// the file is refused as a likely compression bomb.
pub(crate) const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 16 << 30;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadOptions {
    pub format: FormatChoice,
    pub compression: CompressionChoice,
    /// `None`: [`DEFAULT_MAX_DECOMPRESSED_BYTES`].
    pub max_decompressed_bytes: Option<u64>,
    /// `None`: the file must be UTF-8 (a UTF-8 or UTF-16 BOM is honoured).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub csv: CsvOptions,
    pub json: JsonOptions,
    /// How day-month dates are read; used by the typed writer, not the readers.
    pub dates: crate::schema::DateRules,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectedFormat {
    Csv {
        delimiter: u8,
    },
    JsonArray,
    Ndjson,
    /// One or more whitespace-separated top-level objects (typically a
    /// single pretty-printed object).
    JsonStream,
    /// A line of names (`["asin","brand"]`), then a positional array a line.
    NdjsonArrays,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSummary {
    pub format: DetectedFormat,
    pub compression: Compression,
    /// encoding_rs name of the source encoding ("UTF-8", "windows-1252", "UTF-16LE").
    pub encoding: &'static str,
    /// Records passed to `sink.record`.
    pub records: u64,
    /// Records passed to `sink.reject`.
    pub rejected: u64,
    /// Bytes of decompressed, UTF-8 text parsed (without a BOM).
    pub decoded_bytes: u64,
    /// The CSV dialect read (detected where the feed does not set it).
    pub dialect: Option<Dialect>,
    /// What the reader decided that a person would want to know (a header
    /// fitted to its rows), in the manifest's `input.notes`.
    pub notes: Vec<String>,
    /// Distinct keys the JSON reader registered: its memory beyond one
    /// record, bounded by `json::keys::MAX_KEYS` whatever the file holds.
    pub keys: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The byte stream under the reader failed (an `io::Error` recognised by
    /// [`crate::record::is_source_error`]); reading the file again may work.
    #[error(transparent)]
    Source(std::io::Error),
    /// The sink failed; retryable per its flag.
    #[error(transparent)]
    Sink(SinkError),
    /// The file as a whole cannot be read. `line` is set where known.
    #[error("{reason}")]
    Unreadable { reason: String, line: Option<u64> },
    /// The file reads, but its rows cannot be lined up with its columns, so
    /// nothing in it can be loaded (a header the rows agree with in no way).
    #[error("{reason}")]
    Refused { reason: String },
    /// The file holds no data: no bytes, or only whitespace (after any BOM).
    #[error("empty file")]
    Empty,
}

impl FormatError {
    /// A read that broke off is retried; a file that cannot be read is
    /// recorded as failed and done with.
    pub fn disposition(&self) -> crate::disposition::Disposition {
        use crate::disposition::Disposition;
        match self {
            FormatError::Source(_) => Disposition::Retry,
            FormatError::Sink(e) if e.retryable => Disposition::Retry,
            FormatError::Sink(_)
            | FormatError::Unreadable { .. }
            | FormatError::Refused { .. }
            | FormatError::Empty => Disposition::Done,
        }
    }

    pub(crate) fn unreadable(reason: impl Into<String>, line: Option<u64>) -> Self {
        FormatError::Unreadable { reason: reason.into(), line }
    }
}

impl From<SinkError> for FormatError {
    fn from(e: SinkError) -> Self {
        FormatError::Sink(e)
    }
}

/// What the object key says, for when the content is ambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameHint {
    None,
    Csv,
    Tsv,
    Json,
    JsonLines,
}

impl NameHint {
    fn from_name(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        let mut base = lower.as_str();
        for ext in [".gz", ".gzip", ".zst", ".zstd"] {
            if let Some(stripped) = base.strip_suffix(ext) {
                base = stripped;
                break;
            }
        }
        match base.rsplit_once('.').map(|(_, ext)| ext) {
            Some("csv") => NameHint::Csv,
            Some("tsv" | "tab") => NameHint::Tsv,
            Some("json") => NameHint::Json,
            Some("jsonl" | "ndjson") => NameHint::JsonLines,
            _ => NameHint::None,
        }
    }
}

/// Wraps the sink to count what goes through and to cut raw text for rejects.
pub(crate) struct Out<'s> {
    sink: &'s mut dyn RecordSink,
    records: u64,
    rejected: u64,
    notes: Vec<String>,
    keys: usize,
}

impl<'s> Out<'s> {
    fn new(sink: &'s mut dyn RecordSink) -> Self {
        Self { sink, records: 0, rejected: 0, notes: Vec::new(), keys: 0 }
    }

    /// Something the reader decided about the file, for the manifest.
    pub(crate) fn note(&mut self, note: String) {
        tracing::info!(note = %note, "reader decision");
        self.notes.push(note);
    }

    pub(crate) fn header(&mut self, names: &[&str]) -> Result<(), SinkError> {
        self.sink.header(names)
    }

    pub(crate) fn column_for_path(&mut self, path: &[&str]) -> usize {
        self.sink.column_for_path(path)
    }

    pub(crate) fn record(
        &mut self,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        raw: &dyn Fn() -> String,
    ) -> Result<(), SinkError> {
        self.records += 1;
        let raw_cut = || {
            let mut s = raw();
            truncate_in_place(&mut s, MAX_RAW_BYTES);
            s
        };
        self.sink.record(line, values, &raw_cut)
    }

    pub(crate) fn reject(
        &mut self,
        line: LineNo,
        column: Option<&str>,
        reason: &str,
        raw: &str,
    ) -> Result<(), SinkError> {
        self.rejected += 1;
        self.sink.reject(line, column, reason, truncate(raw, MAX_RAW_BYTES))
    }
}

/// Reuses a vector's allocation for values borrowing from the next record,
/// which is what keeps the per-record loop free of allocations.
#[allow(clippy::unnecessary_filter_map)] // `filter` cannot change the element lifetime
pub(crate) fn recycle<'b>(mut v: Vec<(usize, Value<'_>)>) -> Vec<(usize, Value<'b>)> {
    v.clear();
    // Collecting an empty vector in place keeps the allocation.
    v.into_iter().filter_map(|_| None).collect()
}

/// Reads `input` (the raw object bytes, possibly compressed), detects what it
/// is, and pushes every record into `sink`. `name` is the object key, used for
/// extension hints (".gz", ".zst", ".csv", ".tsv", ".json", ".jsonl", ".ndjson").
pub fn read(
    input: impl Read,
    name: &str,
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
) -> Result<ReadSummary, FormatError> {
    let hint = NameHint::from_name(name);
    let ctx = Ctx::new();
    let mut tap = Tap::new(input, ctx.clone());

    let mut magic = Vec::with_capacity(4);
    stream::read_up_to(&mut tap, &mut magic, 4).map_err(|e| ctx.fail(e))?;
    let compression = compression::choose(opts.compression, &magic);
    ctx.set_compression(compression);
    ctx.set_max_decompressed(opts.max_decompressed_bytes.unwrap_or(DEFAULT_MAX_DECOMPRESSED_BYTES));

    let raw = BufReader::with_capacity(BUF_SIZE, Cursor::new(magic).chain(tap));
    let mut decompressed: Box<dyn Read> =
        Box::new(Decompressed::new(compression::decoder(compression, raw).map_err(|e| ctx.fail(e))?, ctx.clone()));

    let mut head = Vec::with_capacity(SAMPLE_SIZE);
    let head_complete = stream::read_up_to(&mut decompressed, &mut head, SAMPLE_SIZE).map_err(|e| ctx.fail(e))?;
    if let Some(kind) = detect::binary_signature(&head) {
        return Err(FormatError::unreadable(format!("binary content ({kind}): not CSV or JSON"), None));
    }

    let decoded = encoding::decode(head, head_complete, decompressed, opts.encoding, &ctx)?;
    let format = detect::detect(&decoded.sample, decoded.complete, opts, hint)?;
    tracing::debug!(
        object = name,
        ?format,
        compression = compression.as_str(),
        encoding = decoded.encoding.name(),
        "detected file layout"
    );

    let dialect = match format {
        DetectedFormat::Csv { delimiter } => {
            Some(csv_dialect(&decoded.sample, decoded.complete, delimiter, opts, hint))
        }
        _ => None,
    };
    let data_width = match dialect {
        Some(d) if opts.csv.header => {
            let records = dialect::records(&decoded.sample, decoded.complete, d);
            // The header's last record stands for it: the records above it are as wide.
            csv::data_width(records.get(d.preamble + d.header_rows.max(1) - 1..).unwrap_or_default())
                .map_err(|reason| FormatError::Refused { reason })?
        }
        _ => None,
    };

    let text = Counted::new(Cursor::new(decoded.sample).chain(decoded.rest), ctx.clone());
    let mut out = Out::new(sink);
    match format {
        DetectedFormat::Csv { .. } => {
            let d = dialect.unwrap_or_default();
            if d.space_after {
                csv::read_csv(dialect::SkipSpaces::new(text, d), d, &opts.csv, data_width, &ctx, &mut out)?
            } else {
                csv::read_csv(text, d, &opts.csv, data_width, &ctx, &mut out)?
            }
        }
        DetectedFormat::Ndjson | DetectedFormat::JsonArray | DetectedFormat::JsonStream if opts.json.wrapped() => {
            json::records::read_wrapped(BufReader::with_capacity(BUF_SIZE, text), &opts.json, &ctx, &mut out)?
        }
        DetectedFormat::NdjsonArrays => {
            json::rows::read_array_lines(BufReader::with_capacity(BUF_SIZE, text), &ctx, &mut out)?
        }
        DetectedFormat::Ndjson => {
            json::read_ndjson(BufReader::with_capacity(BUF_SIZE, text), opts.json.map_keys, &ctx, &mut out)?
        }
        DetectedFormat::JsonArray | DetectedFormat::JsonStream => {
            json::read_json_stream(BufReader::with_capacity(BUF_SIZE, text), opts.json.map_keys, &ctx, &mut out)?
        }
    }

    Ok(ReadSummary {
        format,
        compression,
        encoding: decoded.encoding.name(),
        records: out.records,
        rejected: out.rejected,
        decoded_bytes: ctx.decoded_bytes(),
        dialect,
        notes: out.notes,
        keys: out.keys,
    })
}

/// The dialect of a CSV file: what the feed sets, the rest detected.
fn csv_dialect(sample: &[u8], complete: bool, delimiter: u8, opts: &ReadOptions, hint: NameHint) -> Dialect {
    let csv = &opts.csv;
    let mut d = dialect::detect(sample, complete, Some(delimiter), csv.quote, hint);
    if let Some(space) = csv.skip_initial_space {
        d.space_after = space;
    }
    if let Some(skip) = csv.skip_rows {
        d.preamble = skip;
    }
    if let Some(rows) = csv.header_rows {
        d.header_rows = rows;
    }
    d
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn choices_deserialize_lowercase() {
        let f: FormatChoice = serde_json::from_str("\"json\"").unwrap();
        assert_eq!(f, FormatChoice::Json);
        let c: CompressionChoice = serde_json::from_str("\"zstd\"").unwrap();
        assert_eq!(c, CompressionChoice::Zstd);
        assert_eq!(FormatChoice::default(), FormatChoice::Auto);
        assert_eq!(CompressionChoice::default(), CompressionChoice::Auto);
        assert!(serde_json::from_str::<FormatChoice>("\"Parquet\"").is_err());
    }

    #[test]
    fn defaults() {
        let o = ReadOptions::default();
        assert!(o.csv.header);
        assert_eq!(o.csv.quote, None, "detected");
        assert_eq!(o.csv.null_values, vec![String::new()]);
        assert_eq!(o.csv.null_tokens, NullTokens::defaults());
        assert_eq!(o.encoding, None);
    }

    #[test]
    fn name_hints() {
        assert_eq!(NameHint::from_name("a/b/x.CSV.gz"), NameHint::Csv);
        assert_eq!(NameHint::from_name("x.tsv"), NameHint::Tsv);
        assert_eq!(NameHint::from_name("x.jsonl.zst"), NameHint::JsonLines);
        assert_eq!(NameHint::from_name("x.ndjson"), NameHint::JsonLines);
        assert_eq!(NameHint::from_name("x.json"), NameHint::Json);
        assert_eq!(NameHint::from_name("x"), NameHint::None);
        assert_eq!(NameHint::from_name("dir.csv/x"), NameHint::None);
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn recycle_keeps_the_allocation() {
        let mut v: Vec<(usize, Value<'_>)> = Vec::with_capacity(100);
        v.push((0, Value::Null));
        let ptr = v.as_ptr() as usize;
        let w = recycle(v);
        assert!(w.is_empty());
        assert!(w.capacity() >= 100);
        assert_eq!(w.as_ptr() as usize, ptr);
    }

    #[test]
    fn summary_counts() {
        let (s, sink) = read_ok(b"a,b\n1,2\n3\n4,5\n", "x.csv");
        assert_eq!(s.records, 2);
        assert_eq!(s.rejected, 1);
        assert_eq!(s.decoded_bytes, 14);
        assert_eq!(s.encoding, "UTF-8");
        assert_eq!(s.compression, Compression::None);
        assert_eq!(s.format, DetectedFormat::Csv { delimiter: b',' });
        assert_eq!(sink.records.len(), 2);
    }

    #[test]
    fn sink_error_aborts() {
        let mut sink = Collect { fail_record_at: Some(1), ..Default::default() };
        let err = read(&b"a\n1\n2\n3\n"[..], "x.csv", &ReadOptions::default(), &mut sink).unwrap_err();
        assert!(matches!(err, FormatError::Sink(_)));
        assert_eq!(err.disposition(), crate::disposition::Disposition::Done);
        assert_eq!(sink.records.len(), 1);

        let mut sink = Collect { fail_record_at: Some(1), ..Default::default() };
        let err =
            read(&b"[{\"a\":1},{\"a\":2},{\"a\":3}]"[..], "x.json", &ReadOptions::default(), &mut sink).unwrap_err();
        assert!(matches!(err, FormatError::Sink(_)), "{err:?}");
        assert_eq!(sink.records.len(), 1);

        let mut sink = Collect { fail_record_at: Some(0), ..Default::default() };
        let err = read(&b"{\"a\":1}\n{\"a\":2}\n"[..], "x", &ReadOptions::default(), &mut sink).unwrap_err();
        assert!(matches!(err, FormatError::Sink(_)), "{err:?}");
    }

    #[test]
    fn retryable_sink_error_is_retryable() {
        struct Failing;
        impl RecordSink for Failing {
            fn header(&mut self, _: &[&str]) -> Result<(), SinkError> {
                Err(SinkError::retryable("upload failed", std::io::Error::other("503")))
            }
            fn column_for_path(&mut self, _: &[&str]) -> usize {
                0
            }
            fn record(&mut self, _: u64, _: &[(usize, Value<'_>)], _: &dyn Fn() -> String) -> Result<(), SinkError> {
                Ok(())
            }
            fn reject(&mut self, _: u64, _: Option<&str>, _: &str, _: &str) -> Result<(), SinkError> {
                Ok(())
            }
        }
        let err = read(&b"a\n1\n"[..], "x.csv", &ReadOptions::default(), &mut Failing).unwrap_err();
        assert_eq!(err.disposition(), crate::disposition::Disposition::Retry);
        assert_eq!(err.to_string(), "upload failed");
    }

    /// Throughput of the whole reader on real files, by hand, in release:
    /// `LANDFALL_BENCH_FILES=/path/a.csv,/path/b.ndjson cargo test --release -- --ignored throughput --nocapture`
    /// (generate data with /work/shared/bench/gen_clickstream.py).
    #[test]
    #[ignore = "throughput check, run by hand in release with LANDFALL_BENCH_FILES"]
    fn throughput() {
        struct CountValues {
            columns: usize,
            values: u64,
            text_bytes: u64,
        }
        impl RecordSink for CountValues {
            fn header(&mut self, names: &[&str]) -> Result<(), SinkError> {
                self.columns = names.len();
                Ok(())
            }
            fn column_for_path(&mut self, _: &[&str]) -> usize {
                self.columns += 1;
                self.columns - 1
            }
            fn record(
                &mut self,
                _: u64,
                values: &[(usize, Value<'_>)],
                _: &dyn Fn() -> String,
            ) -> Result<(), SinkError> {
                self.values += values.len() as u64;
                for (_, v) in values {
                    if let Value::Text(s) = v {
                        self.text_bytes += s.len() as u64;
                    }
                }
                Ok(())
            }
            fn reject(&mut self, _: u64, _: Option<&str>, _: &str, _: &str) -> Result<(), SinkError> {
                Ok(())
            }
        }
        let files = std::env::var("LANDFALL_BENCH_FILES").unwrap_or_default();
        for path in files.split(',').filter(|p| !p.is_empty()) {
            let file = std::fs::File::open(path).expect(path);
            let size = file.metadata().unwrap().len();
            let mut sink = CountValues { columns: 0, values: 0, text_bytes: 0 };
            let started = std::time::Instant::now();
            let s = read(file, path, &ReadOptions::default(), &mut sink).unwrap();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{path}: {:?} {:?}, {} records, {} rejected, {} values, {:.1} MB in, {:.1} MB decoded, {:.2} s: \
                 {:.0} MB/s of input, {:.0} MB/s decoded",
                s.format,
                s.compression,
                s.records,
                s.rejected,
                sink.values,
                size as f64 / 1e6,
                s.decoded_bytes as f64 / 1e6,
                secs,
                size as f64 / 1e6 / secs,
                s.decoded_bytes as f64 / 1e6 / secs,
            );
        }
    }

    /// 50 MB of CSV produced on the fly: checks the pipeline streams and counts right.
    #[test]
    fn large_generated_csv_streams() {
        struct Gen {
            row: u64,
            rows: u64,
            pending: Vec<u8>,
            pos: usize,
        }
        impl Read for Gen {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                while self.pos == self.pending.len() {
                    if self.row > self.rows {
                        return Ok(0);
                    }
                    self.pending.clear();
                    self.pos = 0;
                    if self.row == 0 {
                        self.pending.extend_from_slice(b"id,name,amount,note\n");
                    } else {
                        let r = self.row;
                        let line =
                            format!("{r},user {r},{}.{:02},\"note, with \"\"quotes\"\" {r}\"\n", r % 1000, r % 100);
                        self.pending.extend_from_slice(line.as_bytes());
                    }
                    self.row += 1;
                }
                let n = buf.len().min(self.pending.len() - self.pos);
                buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
                self.pos += n;
                Ok(n)
            }
        }
        struct Count {
            records: u64,
            values: u64,
            last_line: u64,
        }
        impl RecordSink for Count {
            fn header(&mut self, names: &[&str]) -> Result<(), SinkError> {
                assert_eq!(names.len(), 4);
                Ok(())
            }
            fn column_for_path(&mut self, _: &[&str]) -> usize {
                0
            }
            fn record(
                &mut self,
                line: u64,
                values: &[(usize, Value<'_>)],
                _: &dyn Fn() -> String,
            ) -> Result<(), SinkError> {
                self.records += 1;
                self.values += values.len() as u64;
                self.last_line = line;
                Ok(())
            }
            fn reject(&mut self, line: u64, _: Option<&str>, reason: &str, _: &str) -> Result<(), SinkError> {
                panic!("unexpected reject at {line}: {reason}");
            }
        }
        let rows = 1_000_000;
        let mut sink = Count { records: 0, values: 0, last_line: 0 };
        let gen_input = Gen { row: 0, rows, pending: Vec::new(), pos: 0 };
        let s = read(gen_input, "big.csv", &ReadOptions::default(), &mut sink).unwrap();
        assert_eq!(s.records, rows);
        assert_eq!(sink.records, rows);
        assert_eq!(sink.values, rows * 4);
        assert_eq!(sink.last_line, rows + 1);
        assert!(s.decoded_bytes > 50_000_000, "{}", s.decoded_bytes);
    }
}
