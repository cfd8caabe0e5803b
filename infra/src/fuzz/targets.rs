//! The four fuzz targets and the invariants each checks besides "no panic".

use landfall::formats::{CompressionChoice, FormatChoice, FormatError, ReadOptions};
use landfall::record::{LineNo, RecordSink, SinkError, Value};
use landfall::schema::values;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `formats::read` as CSV (sniffed delimiter, header).
    Csv,
    /// `formats::read` as JSON (array, NDJSON or a stream of objects).
    Json,
    /// Type inference and every value parser on one field's text.
    Values,
    /// `Config::from_yaml` on a whole file.
    Config,
    /// Column naming across files of one table: each line a CSV header.
    Names,
}

pub const ALL: [Target; 5] = [Target::Csv, Target::Json, Target::Values, Target::Config, Target::Names];

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Csv => "csv",
            Target::Json => "json",
            Target::Values => "values",
            Target::Config => "config",
            Target::Names => "names",
        }
    }

    pub fn parse(name: &str) -> Option<Target> {
        ALL.into_iter().find(|t| t.name() == name)
    }

    /// Runs one input; `Err` is a broken invariant.
    pub fn run(self, input: &[u8]) -> Result<(), String> {
        match self {
            Target::Csv => read(input, FormatChoice::Csv, "fuzz.csv"),
            Target::Json => read(input, FormatChoice::Json, "fuzz.json"),
            Target::Values => value_parsers(&String::from_utf8_lossy(&input[..input.len().min(512)])),
            Target::Config => {
                let _ = landfall::config::Config::from_yaml(&String::from_utf8_lossy(input), "fuzz");
                Ok(())
            }
            Target::Names => names(&String::from_utf8_lossy(input)),
        }
    }
}

/// A sink that takes every record as the table writer would (indices,
/// values, the raw text of some) and checks what the reader promises.
#[derive(Default)]
struct Checking {
    columns: usize,
    header: bool,
    records: u64,
    broken: Option<String>,
}

impl RecordSink for Checking {
    fn header(&mut self, names: &[&str]) -> Result<(), SinkError> {
        if self.header || self.records > 0 {
            self.broken = Some("header() after a header or a record".into());
        }
        self.header = true;
        self.columns = names.len();
        Ok(())
    }

    fn column_for_path(&mut self, _path: &[&str]) -> usize {
        self.columns += 1;
        self.columns - 1
    }

    fn record(
        &mut self,
        line: LineNo,
        values: &[(usize, Value<'_>)],
        raw: &dyn Fn() -> String,
    ) -> Result<(), SinkError> {
        self.records += 1;
        if line == 0 {
            self.broken = Some("a record on line 0 (lines are 1-based)".into());
        }
        if let Some((i, _)) = values.iter().find(|(i, _)| *i >= self.columns) {
            self.broken = Some(format!("column index {i} of {} columns", self.columns));
        }
        if self.records.is_multiple_of(7) {
            let _ = raw();
        }
        Ok(())
    }

    fn reject(&mut self, _line: LineNo, _column: Option<&str>, _reason: &str, _raw: &str) -> Result<(), SinkError> {
        Ok(())
    }
}

fn read(input: &[u8], format: FormatChoice, name: &str) -> Result<(), String> {
    let opts = ReadOptions { format, compression: CompressionChoice::Auto, ..ReadOptions::default() };
    let mut sink = Checking::default();
    match landfall::formats::read(input, name, &opts, &mut sink) {
        Ok(summary) if summary.records != sink.records => {
            Err(format!("summary says {} records, the sink saw {}", summary.records, sink.records))
        }
        // Reading from memory cannot fail for a reason that passes with time.
        Err(FormatError::Source(e)) => Err(format!("a retryable source error on in-memory input: {e}")),
        _ => sink.broken.map_or(Ok(()), Err),
    }
}

fn value_parsers(s: &str) -> Result<(), String> {
    let _ = values::infer_text(s);
    let _ = (values::parse_bool(s), values::parse_bool_lenient(s));
    let _ = (values::parse_f64_strict(s), values::parse_f64_lenient(s), values::parse_i64_lenient(s));
    let _ = (values::parse_date(s), values::parse_timestamp(s), values::parse_partition_day(s));
    if let Some(n) = values::parse_i64_strict(s)
        && values::parse_i64_strict(&n.to_string()) != Some(n)
    {
        return Err(format!("int64 {s:?} -> {n} does not read back"));
    }
    // Precision and scale from the text itself, so every pair gets tried.
    let b = s.as_bytes();
    let precision = 1 + b.first().copied().unwrap_or(0) % 38;
    let scale = i8::try_from(b.get(1).copied().unwrap_or(0) % (precision + 1)).unwrap_or(0);
    for strict in [true, false] {
        if let Some(m) = values::parse_decimal(s, precision, scale, strict) {
            let text = values::format_decimal(m, scale);
            if values::parse_decimal(&text, precision, scale, true) != Some(m) {
                return Err(format!("decimal({precision},{scale}) {s:?} -> {m} -> {text:?} does not read back"));
            }
        }
    }
    Ok(())
}

/// Each line is one file's header (fields split on `,`), named in turn
/// against the map the files before it recorded, at PostgreSQL's limit (or
/// Redshift's when the input starts with `#`). Whatever the headers: no two
/// source names of one file share a column, every name is a safe identifier
/// within the limit, and a source name keeps its recorded column.
fn names(input: &str) -> Result<(), String> {
    use landfall::lineage::RESERVED_NAMES;
    use landfall::schema::NameRegistry;
    use std::collections::{BTreeMap, HashMap};
    let limit = if input.starts_with('#') { 127 } else { 63 };
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for line in input.lines().take(8) {
        let header: Vec<&str> = line.split(',').take(2000).collect();
        let mut reg = NameRegistry::for_table(&RESERVED_NAMES, limit, &map);
        let Ok(columns) = reg.assign_header(&header) else { continue };
        let mut holder: HashMap<&str, &str> = HashMap::new();
        for (raw, column) in header.iter().zip(&columns) {
            let safe = column.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && column.bytes().next().is_some_and(|b| !b.is_ascii_digit());
            if !safe || column.len() > limit || RESERVED_NAMES.contains(&column.as_str()) {
                return Err(format!("{raw:?} got the column {column:?}"));
            }
            if let Some(other) = holder.insert(column, raw).filter(|other| other != raw) {
                return Err(format!("{other:?} and {raw:?} share the column {column}"));
            }
            if let Some(recorded) = map.get(*raw).filter(|r| *r != column)
                && header.iter().filter(|h| *h == raw).count() == 1
            {
                return Err(format!("{raw:?} was recorded as {recorded} and now went to {column}"));
            }
        }
        map.extend(reg.added().iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(())
}

/// Hand-made inputs every run starts with.
pub fn edge_cases(target: Target) -> Vec<Vec<u8>> {
    let deep = |open: &str, n: usize| open.repeat(n).into_bytes();
    match target {
        Target::Csv => vec![
            Vec::new(),
            b"a,b\n".to_vec(),
            b"\"a\nb\",c\n\"\"\"\",\"x\"\"y\"\n".to_vec(),
            b"a;b\r\n1,5;2\r\n".to_vec(),
            format!("{}\n", (0..5000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",")).into_bytes(),
        ],
        Target::Json => vec![
            Vec::new(),
            b"[]".to_vec(),
            b"{\"a\":\"\\ud800\"}".to_vec(),
            deep("[", 10_000),
            deep("{\"a\":", 5_000),
            b"{\"a\":1}\n{\"a\":\n".to_vec(),
        ],
        Target::Values => [
            "",
            "-",
            "1e400",
            "-9223372036854775808",
            "9223372036854775808",
            "1.234,50",
            "0000001",
            "2026-02-29",
            "2026-11-01 25:00",
            "99999999999999999999999999999999999999.9",
            "  12  ",
            "\u{feff}1",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        Target::Config => vec![
            Vec::new(),
            b"version: 1\nfeeds: {}\n".to_vec(),
            b"version: 1\nfeeds:\n  a:\n    prefix: a/\n    schema: [{name: x, type: \"decimal(99,99)\"}]\n".to_vec(),
            b"a: &x [*x]\n".to_vec(),
        ],
        Target::Names => {
            let stem = "How satisfied were you with the delivery of your order overall";
            vec![
                Vec::new(),
                b"id,Phone,phone #\nid,phone #,Phone\nPHONE\nPHONE,Phone,phone #\n".to_vec(),
                format!("{stem} 1,{stem} 2\n{stem} 2,{stem} 1,{stem} 3\n").into_bytes(),
                b"dt,_landfall_file,a,a,A,a_2\na_2,a,A\n".to_vec(),
                format!("#{}\n{}\n", "x".repeat(300), "x".repeat(301)).into_bytes(),
                format!("{}\n", (0..1700).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",")).into_bytes(),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edge_case_passes_every_target() {
        for t in ALL {
            for input in edge_cases(t) {
                assert_eq!(t.run(&input), Ok(()), "{} on {:?}", t.name(), String::from_utf8_lossy(&input));
            }
        }
    }

    #[test]
    fn numbers_read_back_from_their_own_text() {
        for s in ["12.5", "-0.001", "1e3", "007", "123456789012345678901234567890.12", "-9223372036854775808"] {
            assert_eq!(value_parsers(s), Ok(()), "{s}");
        }
    }
}
