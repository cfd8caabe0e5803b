//! Format detection from the first (decoded) bytes of a file.

use serde::de::IgnoredAny;

use super::encoding::is_json_whitespace;
use super::{DetectedFormat, FormatChoice, FormatError, MAX_LEADING_WHITESPACE, NameHint, ReadOptions};

/// Well-known binary files that end up in landing buckets by mistake; naming
/// them makes the error obvious to whoever dropped the file.
pub(crate) fn binary_signature(head: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"%PDF-", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive; .xlsx and .docx files are ZIP archives too"),
        (b"PAR1", "a Parquet file"),
        (b"Obj\x01", "an Avro file"),
        (b"SQLite format 3\x00", "an SQLite database"),
        (b"\xfd7zXZ\x00", "xz-compressed data, which is not supported"),
        (b"\x1f\x8b", "gzip-compressed data, but compression is set to something else"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed data, but compression is set to something else"),
    ];
    for (magic, what) in SIGNATURES {
        if head.starts_with(magic) {
            return Some(what);
        }
    }
    // "BZh" + block size digit + the block magic 0x314159265359 (pi).
    if head.len() >= 10 && head.starts_with(b"BZh") && head[4..10] == *b"1AY&SY" {
        return Some("bzip2-compressed data, which is not supported");
    }
    None
}

pub(crate) fn detect(
    sample: &[u8],
    complete: bool,
    opts: &ReadOptions,
    hint: NameHint,
) -> Result<DetectedFormat, FormatError> {
    let Some(start) = sample.iter().position(|&b| !is_json_whitespace(b)) else {
        if complete {
            return Err(FormatError::Empty);
        }
        let reason = format!("no data in the first {} MiB (only whitespace)", MAX_LEADING_WHITESPACE >> 20);
        return Err(FormatError::unreadable(reason, None));
    };
    let rest = sample.get(start..).unwrap_or_default();
    let csv = || DetectedFormat::Csv {
        delimiter: opts
            .csv
            .delimiter
            .unwrap_or_else(|| super::dialect::detect(sample, complete, None, opts.csv.quote, hint).delimiter),
    };
    match opts.format {
        FormatChoice::Csv => Ok(csv()),
        FormatChoice::Json => json_kind(rest, complete, hint).ok_or_else(|| not_json(sample, start)),
        FormatChoice::Auto => {
            if let Some(kind) = json_kind(rest, complete, hint) {
                return Ok(kind);
            }
            // A .json file holding one scalar cannot be CSV data either.
            if matches!(hint, NameHint::Json | NameHint::JsonLines) && scalar_kind(rest).is_some() {
                return Err(not_json(sample, start));
            }
            Ok(csv())
        }
    }
}

fn not_json(sample: &[u8], start: usize) -> FormatError {
    let rest = sample.get(start..).unwrap_or_default();
    let line = sample.get(..start).unwrap_or_default().iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let reason = match scalar_kind(rest) {
        Some(kind) => format!("JSON top level is {kind}; expected an object or an array of objects"),
        None => {
            let shown: String = String::from_utf8_lossy(rest.get(..20).unwrap_or(rest)).chars().take(10).collect();
            format!("not JSON: the data starts with {shown:?} (line {line}); expected an object or an array of objects")
        }
    };
    FormatError::unreadable(reason, Some(line))
}

/// `text` starts with a complete JSON scalar.
fn scalar_kind(text: &[u8]) -> Option<&'static str> {
    let kind = match text.first()? {
        b'"' => "a string",
        b'-' | b'0'..=b'9' => "a number",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => return None,
    };
    let mut values = serde_json::Deserializer::from_slice(text).into_iter::<IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => Some(kind),
        // A string running past the sample is still a string.
        Some(Err(e)) if e.is_eof() && kind == "a string" => Some(kind),
        _ => None,
    }
}

/// `text` starts at the first non-blank byte.
fn json_kind(text: &[u8], complete: bool, hint: NameHint) -> Option<DetectedFormat> {
    match text.first()? {
        b'[' => Some(array_or_rows(text, complete)),
        b'{' => Some(ndjson_or_stream(text, complete, hint)),
        _ => None,
    }
}

/// `["asin","brand"]` alone on the first line, then an array or nothing on
/// the next: positional rows under a header line, not one array of records.
fn array_or_rows(text: &[u8], complete: bool) -> DetectedFormat {
    let mut lines = CompleteLines { text, complete }.filter(|l| l.iter().any(|&b| !is_json_whitespace(b)));
    let header = lines.next().is_some_and(super::json::rows::is_header_line);
    let rows_follow = match lines.next() {
        Some(line) => line.trim_ascii_start().first() == Some(&b'[') && is_single_value(line),
        None => complete,
    };
    if header && rows_follow { DetectedFormat::NdjsonArrays } else { DetectedFormat::JsonArray }
}

fn ndjson_or_stream(text: &[u8], complete: bool, hint: NameHint) -> DetectedFormat {
    let mut lines = CompleteLines { text, complete };
    let Some(first) = lines.next() else {
        // The first line is longer than the sample: only the name can tell.
        // Reading NDJSON as a stream of objects works too, just with record
        // numbers instead of line numbers and no recovery from a bad line.
        return if hint == NameHint::JsonLines { DetectedFormat::Ndjson } else { DetectedFormat::JsonStream };
    };
    if is_single_value(first) {
        return DetectedFormat::Ndjson;
    }
    // A broken first line should not turn NDJSON into a stream (which stops at
    // the first error): if the next lines are objects on their own, it is NDJSON.
    // Two of them, so that `{"items": [\n {"id": 1}\n]}` stays a stream.
    let needed = if hint == NameHint::JsonLines { 1 } else { 2 };
    let mut found = 0;
    for line in lines.filter(|l| l.iter().any(|&b| !is_json_whitespace(b))).take(needed) {
        let trimmed = line.trim_ascii_start();
        if trimmed.first() == Some(&b'{') && is_single_value(trimmed) {
            found += 1;
        } else {
            break;
        }
    }
    if found == needed { DetectedFormat::Ndjson } else { DetectedFormat::JsonStream }
}

fn is_single_value(line: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(line).is_ok()
}

/// Lines of the sample that are known to be complete.
struct CompleteLines<'a> {
    text: &'a [u8],
    complete: bool,
}

impl<'a> Iterator for CompleteLines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.text.is_empty() {
            return None;
        }
        match self.text.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let (line, rest) = self.text.split_at(i);
                self.text = rest.get(1..).unwrap_or_default();
                Some(line)
            }
            None if self.complete => Some(std::mem::take(&mut self.text)),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::*;

    fn sniff(s: &str) -> u8 {
        sniff_delimiter(s.as_bytes(), true, NameHint::None)
    }

    fn sniff_delimiter(sample: &[u8], complete: bool, hint: NameHint) -> u8 {
        super::super::dialect::detect(sample, complete, None, None, hint).delimiter
    }

    #[test]
    fn sniffs_each_candidate() {
        assert_eq!(sniff("a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff("a;b;c\n1;2;3\n"), b';');
        assert_eq!(sniff("a\tb\tc\n1\t2\t3\n"), b'\t');
        assert_eq!(sniff("a|b|c\n1|2|3\n"), b'|');
        assert_eq!(sniff("single\nvalue\n"), b',');
    }

    #[test]
    fn sniff_ignores_delimiters_inside_quotes() {
        let s = "name;note\n\"Smith, John\";\"a,b,c|d\"\n\"x\";\"1,2,3,4\"\n";
        assert_eq!(sniff(s), b';');
        let s = "a|b\n\"x;y;z\"|\"p,q\"\n\"with\nnewline, and, commas\"|2\n";
        assert_eq!(sniff(s), b'|');
    }

    #[test]
    fn sniff_prefers_consistent_counts() {
        // Decimal commas in a semicolon file.
        assert_eq!(sniff("a;b;c\n1,5;2,25;3\n4;5,5;6\n"), b';');
        // Commas in free text of a tab file.
        assert_eq!(sniff("id\ttext\n1\thello, world\n2\tno commas\n3\ta, b, c\n"), b'\t');
    }

    #[test]
    fn sniff_ignores_a_cut_last_record() {
        let s = b"a;b\n1;2\n3;4\nx,y,z,";
        assert_eq!(sniffer_incomplete(s), b';');
    }

    fn sniffer_incomplete(s: &[u8]) -> u8 {
        sniff_delimiter(s, false, NameHint::None)
    }

    #[test]
    fn tsv_hint_breaks_ties() {
        assert_eq!(sniff_delimiter(b"a,b\tc\n", true, NameHint::None), b',');
        assert_eq!(sniff_delimiter(b"a,b\tc\n", true, NameHint::Tsv), b'\t');
    }

    #[test]
    fn read_sniffs_delimiters_end_to_end() {
        for (data, d) in [
            (&b"a,b\n1,\"x;y\tz|w\"\n"[..], b','),
            (b"a;b\n1;\"x,y\tz|w\"\n", b';'),
            (b"a\tb\n1\t\"x,y;z|w\"\n", b'\t'),
            (b"a|b\n1|\"x,y;z\tw\"\n", b'|'),
        ] {
            let (s, sink) = read_ok(data, "x.txt");
            assert_eq!(s.format, DetectedFormat::Csv { delimiter: d });
            assert_eq!(sink.header.clone().unwrap(), vec!["a", "b"]);
            assert_eq!(sink.records.len(), 1);
            assert_eq!(sink.records[0].1.len(), 2);
        }
    }

    #[test]
    fn detects_json_kinds() {
        let d = |s: &str| {
            let o = ReadOptions::default();
            detect(s.as_bytes(), true, &o, NameHint::None).map_err(|e| e.to_string())
        };
        assert_eq!(d("  [{\"a\":1}]"), Ok(DetectedFormat::JsonArray));
        assert_eq!(d("{\"a\":1}\n{\"a\":2}\n"), Ok(DetectedFormat::Ndjson));
        assert_eq!(d("{\"a\":1}"), Ok(DetectedFormat::Ndjson));
        assert_eq!(d("{\n  \"a\": 1\n}\n"), Ok(DetectedFormat::JsonStream));
        assert_eq!(d("{\"a\":1} {\"a\":2}\n"), Ok(DetectedFormat::JsonStream));
        assert_eq!(d("{\"items\": [\n  {\"id\": 1}\n]}\n"), Ok(DetectedFormat::JsonStream));
        // A broken first line does not make NDJSON a stream.
        assert_eq!(d("{\"a\":\n{\"a\":2}\n{\"a\":3}\n"), Ok(DetectedFormat::Ndjson));
        assert_eq!(d("a,b\n"), Ok(DetectedFormat::Csv { delimiter: b',' }));
        assert_eq!(d("\"quoted\",b\n1,2\n"), Ok(DetectedFormat::Csv { delimiter: b',' }));
    }

    #[test]
    fn long_first_line_uses_the_name() {
        let o = ReadOptions::default();
        let cut = b"{\"a\": \"very long";
        assert_eq!(detect(cut, false, &o, NameHint::JsonLines).unwrap(), DetectedFormat::Ndjson);
        assert_eq!(detect(cut, false, &o, NameHint::None).unwrap(), DetectedFormat::JsonStream);
    }

    #[test]
    fn scalar_top_level_is_unreadable() {
        for (data, kind) in [("42\n", "a number"), ("\"hello\"", "a string"), ("true", "a boolean"), ("null", "null")] {
            let (reason, _) = read_err(data.as_bytes(), "x.json");
            assert_eq!(reason, format!("JSON top level is {kind}; expected an object or an array of objects"));
        }
        let opts = ReadOptions { format: FormatChoice::Json, ..Default::default() };
        let (res, _) = read_with(b"  3.5", "x", &opts);
        assert!(res.unwrap_err().to_string().contains("JSON top level is a number"));
        let (res, _) = read_with(b"id,name\n", "x", &opts);
        assert!(res.unwrap_err().to_string().starts_with("not JSON: the data starts with \"id,name"));
        // Without a JSON name or format, a lone word is a one-column CSV header.
        let (s, _) = read_ok(b"true\n", "x");
        assert_eq!(s.format, DetectedFormat::Csv { delimiter: b',' });
    }

    #[test]
    fn forced_csv_reads_json_looking_text() {
        let opts = ReadOptions { format: FormatChoice::Csv, ..Default::default() };
        let (res, sink) = read_with(b"{a}\n{b}\n", "x.json", &opts);
        assert_eq!(res.unwrap().format, DetectedFormat::Csv { delimiter: b',' });
        assert_eq!(sink.header.unwrap(), vec!["{a}"]);
    }

    #[test]
    fn binary_signatures() {
        assert_eq!(
            binary_signature(b"PK\x03\x04rest"),
            Some("a ZIP archive; .xlsx and .docx files are ZIP archives too")
        );
        assert_eq!(binary_signature(b"BZh91AY&SYxx"), Some("bzip2-compressed data, which is not supported"));
        assert_eq!(binary_signature(b"BZh is a word"), None);
        assert_eq!(binary_signature(b"a,b\n"), None);
    }
}
