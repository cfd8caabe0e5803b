//! CSV (RFC 4180) reader.
//!
//! Drives `csv_core` directly rather than `csv::Reader`: the latter reports
//! the line *before* skipped blank lines and the last line of a CRLF record
//! as the start of the next record, so its line numbers drift on real files.
//! Owning the loop also caps the record size, which is what keeps memory
//! bounded when an unbalanced quote swallows the rest of a file.

use std::io::{self, Read};

use csv_core::{ReadRecordResult, Reader as Core, ReaderBuilder as CoreBuilder};

use super::stream::Ctx;
use super::{BUF_SIZE, CsvOptions, Dialect, FormatError, MAX_RECORD_BYTES, Out, recycle};
use crate::record::Value;

/// More fields than this in one record is not a table.
const MAX_FIELDS: usize = 1 << 20;

/// Reads a CSV file in `dialect` whose rows hold `data_width` fields,
/// whatever its header says (see [`data_width`]).
pub(crate) fn read_csv(
    src: impl Read,
    dialect: Dialect,
    opts: &CsvOptions,
    data_width: Option<usize>,
    ctx: &Ctx,
    out: &mut Out<'_>,
) -> Result<(), FormatError> {
    let delimiter = dialect.delimiter;
    let mut p = Parser::new(src, delimiter, dialect.quote);
    let next = |p: &mut Parser<_>| -> Result<Option<u64>, FormatError> {
        match p.next_record().map_err(|e| ctx.fail(e))? {
            Next::Record(line) => Ok(Some(line)),
            Next::End => Ok(None),
            Next::TooLarge(line) => Err(FormatError::unreadable(
                format!(
                    "CSV record starting at line {line} is larger than {} MiB or has more than {MAX_FIELDS} fields; \
                     the file probably has an unbalanced quote character",
                    MAX_RECORD_BYTES >> 20
                ),
                Some(line),
            )),
        }
    };

    for _ in 0..dialect.preamble {
        if next(&mut p)?.is_none() {
            return Ok(());
        }
    }
    let Some(first_line) = next(&mut p)? else {
        return Ok(());
    };
    let fields =
        |p: &Parser<_>| -> Vec<String> { p.fields().map(|f| String::from_utf8_lossy(f).into_owned()).collect() };
    let mut names: Vec<String> = if opts.header {
        let mut rows = vec![fields(&p)];
        for _ in 1..dialect.header_rows {
            if next(&mut p)?.is_none() {
                break;
            }
            rows.push(fields(&p));
        }
        if rows.len() > 1 { super::dialect::join_header_rows(&rows) } else { rows.swap_remove(0) }
    } else {
        (1..=p.len).map(|i| format!("column_{i}")).collect()
    };
    let mut width = names.len();
    if let Some(data) = data_width.filter(|&w| opts.header && w != width) {
        out.note(align_header(&mut names, data));
        width = data;
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    out.header(&name_refs)?;

    let nulls = Nulls::new(&opts.null_values);
    // Decimal-comma numbers rewritten for the current record: (field, start, end) in `rewritten`.
    let mut rewritten = String::new();
    let mut rewrites: Vec<(usize, usize, usize)> = Vec::new();
    let mut spare: Vec<(usize, Value<'static>)> = Vec::with_capacity(width);
    let mut line = first_line;
    if opts.header {
        match next(&mut p)? {
            Some(l) => line = l,
            None => return Ok(()),
        }
    }
    loop {
        let raw = || p.raw(delimiter);
        if p.len != width {
            let reason = format!("expected {width} fields, found {}", p.len);
            out.reject(line, None, &reason, &raw())?;
        } else {
            let mut values = recycle(spare);
            let mut bad = None;
            // One validation per record instead of one per field; `str::get`
            // then only has to check that each field starts and ends on a
            // character boundary.
            match simdutf8::basic::from_utf8(p.record_bytes()) {
                Ok(record) => {
                    if opts.decimal_comma {
                        rewrite_decimal_commas(record, p.field_ranges(), &mut rewritten, &mut rewrites);
                    }
                    let mut pending = rewrites.iter().peekable();
                    for (i, (start, end)) in p.field_ranges().enumerate() {
                        let field = match pending.next_if(|r| r.0 == i) {
                            Some(&(_, a, z)) => rewritten.get(a..z),
                            None => record.get(start..end),
                        };
                        match field {
                            Some(s) => values.push((i, if nulls.is_null(s) { Value::Null } else { Value::Text(s) })),
                            None => {
                                // Valid bytes only once joined: the field itself is cut mid-character.
                                let field = p.record_bytes().get(start..end).unwrap_or_default();
                                bad = Some((i, std::str::from_utf8(field).err().map_or(0, |e| e.valid_up_to())));
                                break;
                            }
                        }
                    }
                }
                Err(_) => {
                    bad = p
                        .fields()
                        .enumerate()
                        .find_map(|(i, f)| std::str::from_utf8(f).err().map(|e| (i, e.valid_up_to())));
                }
            }
            match bad {
                None => out.record(line, &values, &raw)?,
                Some((i, at)) => {
                    let reason = format!(
                        "not valid UTF-8 at byte {at} of the field; set format.encoding (for example windows-1252) in the feed"
                    );
                    out.reject(line, names.get(i).map(String::as_str), &reason, &raw())?;
                }
            }
            spare = recycle(values);
        }
        match next(&mut p)? {
            Some(l) => line = l,
            None => return Ok(()),
        }
    }
}

/// The width the data rows agree on when it is not the header's, from the
/// sample's `records` (the header first): `Ok(None)` when the header fits
/// (or as many rows are as wide as it as any other width), `Ok(Some(w))`
/// when a majority of the rows hold `w` fields, and `Err(reason)` when no
/// width holds a majority, so the file cannot be aligned with its header.
pub(crate) fn data_width(records: &[Vec<String>]) -> Result<Option<usize>, String> {
    let Some((header, rows)) = records.split_first() else { return Ok(None) };
    let header = header.len();
    let widths: Vec<usize> = rows.iter().map(Vec::len).collect();
    let count = |w: usize| widths.iter().filter(|&&x| x == w).count();
    let Some((mode, n)) = widths.iter().map(|&w| (w, count(w))).max_by_key(|&(w, n)| (n, w == header)) else {
        return Ok(None);
    };
    if mode == header || count(header) >= n {
        return Ok(None);
    }
    if n * 2 > widths.len() {
        return Ok(Some(mode));
    }
    let mut seen: Vec<(usize, usize)> = Vec::new();
    for &w in &widths {
        if !seen.iter().any(|&(x, _)| x == w) {
            seen.push((w, count(w)));
        }
    }
    seen.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let found: Vec<String> = seen.iter().take(4).map(|(w, n)| format!("{w} fields in {n}")).collect();
    Err(format!(
        "the header has {header} fields and the rows agree on no width ({} of the first {} rows); \
         the file cannot be aligned with its header",
        found.join(", "),
        widths.len()
    ))
}

/// Fits the header's names to rows of `width` fields: extra fields get
/// `column_<n>` names, names past the rows' width are left out. Says what it did.
fn align_header(names: &mut Vec<String>, width: usize) -> String {
    let header = names.len();
    if width > header {
        names.extend((header + 1..=width).map(|i| format!("column_{i}")));
        let added = names.get(header..).unwrap_or_default().join(", ");
        format!("the header names {header} columns but the rows hold {width}: the extra columns are named {added}")
    } else {
        let dropped = names.split_off(width).join(", ");
        format!("the header names {header} columns but the rows hold {width}: left out (no data): {dropped}")
    }
}

/// Rewrites the record's decimal-comma numbers into `out`, noting where each went.
fn rewrite_decimal_commas(
    record: &str,
    ranges: impl Iterator<Item = (usize, usize)>,
    out: &mut String,
    rewrites: &mut Vec<(usize, usize, usize)>,
) {
    out.clear();
    rewrites.clear();
    for (i, (start, end)) in ranges.enumerate() {
        let Some(field) = record.get(start..end) else { continue };
        let at = out.len();
        if decimal_comma_number(field, out) {
            rewrites.push((i, at, out.len()));
        }
    }
}

/// Appends `field` to `out` in dot-decimal form when it is a decimal-comma
/// number that needs rewriting (`-1.234,5` -> `-1234.5`, `45,50` -> `45.50`);
/// returns false, appending nothing, for anything else (plain integers,
/// dates like `01.11.2026`, text).
fn decimal_comma_number(field: &str, out: &mut String) -> bool {
    let (sign, body) = match field.as_bytes().first() {
        Some(b'-') => ("-", field.get(1..).unwrap_or_default()),
        Some(b'+') => ("", field.get(1..).unwrap_or_default()),
        _ => ("", field),
    };
    let (int, frac) = match body.split_once(',') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if frac.is_some_and(|f| !digits(f)) {
        return false;
    }
    let grouped = int.contains('.');
    let int_ok = if grouped {
        let mut groups = int.split('.');
        groups.next().is_some_and(|g| digits(g) && g.len() <= 3) && groups.all(|g| digits(g) && g.len() == 3)
    } else {
        digits(int)
    };
    if !int_ok || (frac.is_none() && !grouped) {
        return false;
    }
    out.push_str(sign);
    out.extend(int.chars().filter(|&c| c != '.'));
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    true
}

/// `null_values` with the common case (only the empty string) made cheap.
struct Nulls<'a> {
    empty: bool,
    others: Vec<&'a str>,
}

impl<'a> Nulls<'a> {
    fn new(values: &'a [String]) -> Self {
        Self {
            empty: values.iter().any(String::is_empty),
            others: values.iter().filter(|v| !v.is_empty()).map(String::as_str).collect(),
        }
    }

    fn is_null(&self, field: &str) -> bool {
        if field.is_empty() { self.empty } else { !self.others.is_empty() && self.others.contains(&field) }
    }
}

pub(super) enum Next {
    Record(u64),
    End,
    TooLarge(u64),
}

pub(super) struct Parser<R> {
    src: R,
    core: Core,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// '\n' bytes skipped between records (csv_core counts the rest).
    newlines: u64,
    fields: Vec<u8>,
    ends: Vec<usize>,
    /// Fields in the current record.
    len: usize,
}

impl<R: Read> Parser<R> {
    pub(super) fn new(src: R, delimiter: u8, quote: u8) -> Self {
        let core = CoreBuilder::new().delimiter(delimiter).quote(quote).double_quote(true).build();
        Self {
            src,
            core,
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            eof: false,
            newlines: 0,
            fields: vec![0; 4096],
            ends: vec![0; 64],
            len: 0,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        self.start = 0;
        self.end = 0;
        loop {
            match self.src.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end = n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) fn next_record(&mut self) -> io::Result<Next> {
        // Blank lines and the '\n' of a CRLF belong to no record; skipping
        // them here is what makes `line` the record's own first line.
        loop {
            if self.start >= self.end {
                if self.eof {
                    return Ok(Next::End);
                }
                self.fill()?;
                continue;
            }
            let avail = self.buf.get(self.start..self.end).unwrap_or_default();
            let skip = avail.iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
            self.newlines += count_newlines(avail.get(..skip).unwrap_or_default());
            self.start += skip;
            if self.start < self.end {
                break;
            }
        }
        // csv_core's line starts at 1 and counts the '\n' it consumed; add the ones skipped above.
        let line = self.newlines + self.core.line();
        let (mut nout, mut nends) = (0, 0);
        loop {
            let input = self.buf.get(self.start..self.end).unwrap_or_default();
            let output = self.fields.get_mut(nout..).unwrap_or_default();
            let ends = self.ends.get_mut(nends..).unwrap_or_default();
            let (res, nin, o, e) = self.core.read_record(input, output, ends);
            self.start += nin;
            nout += o;
            nends += e;
            match res {
                ReadRecordResult::InputEmpty => {
                    if self.eof {
                        // csv_core treats empty input as the end; never loop on it.
                        return Ok(Next::End);
                    }
                    self.fill()?;
                }
                ReadRecordResult::OutputFull => {
                    if self.fields.len() >= MAX_RECORD_BYTES {
                        return Ok(Next::TooLarge(line));
                    }
                    self.fields.resize(self.fields.len() * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() >= MAX_FIELDS {
                        return Ok(Next::TooLarge(line));
                    }
                    self.ends.resize(self.ends.len() * 2, 0);
                }
                ReadRecordResult::Record => {
                    self.len = nends;
                    return Ok(Next::Record(line));
                }
                ReadRecordResult::End => return Ok(Next::End),
            }
        }
    }

    fn field_ranges(&self) -> impl Iterator<Item = (usize, usize)> + use<'_, R> {
        let ends = self.ends.get(..self.len).unwrap_or_default();
        let mut start = 0;
        ends.iter().map(move |&end| {
            let range = (start, end);
            start = end;
            range
        })
    }

    pub(super) fn fields(&self) -> impl Iterator<Item = &[u8]> {
        self.field_ranges().map(|(start, end)| self.fields.get(start..end).unwrap_or_default())
    }

    /// All fields of the record, back to back.
    fn record_bytes(&self) -> &[u8] {
        let len = self.len.checked_sub(1).and_then(|last| self.ends.get(last)).copied().unwrap_or(0);
        self.fields.get(..len).unwrap_or_default()
    }

    /// The record re-joined with the delimiter (quoting is not restored).
    fn raw(&self, delimiter: u8) -> String {
        // Sized once: on two threads every record's raw text is kept.
        let mut raw = Vec::with_capacity((self.record_bytes().len() + self.len).min(super::MAX_RAW_BYTES + 1));
        for (i, f) in self.fields().enumerate() {
            if i > 0 {
                raw.push(delimiter);
            }
            raw.extend_from_slice(f);
            if raw.len() > super::MAX_RAW_BYTES {
                break;
            }
        }
        // Valid text (nearly always) becomes the string without a second copy.
        String::from_utf8(raw).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;

    fn opts_with(f: impl FnOnce(&mut CsvOptions)) -> ReadOptions {
        let mut o = ReadOptions::default();
        f(&mut o.csv);
        o
    }

    #[test]
    fn basic_with_header_and_nulls() {
        let (s, sink) = read_ok(b"id,name,score\n1,alice,\n2,,3.5\n", "x.csv");
        assert_eq!(s.records, 2);
        assert_eq!(sink.header.clone().unwrap(), vec!["id", "name", "score"]);
        assert_eq!(sink.records[0], (2, vec![(0, t("1")), (1, t("alice")), (2, V::Null)]));
        assert_eq!(sink.records[1], (3, vec![(0, t("2")), (1, V::Null), (2, t("3.5"))]));
    }

    #[test]
    fn decimal_comma_numbers_are_rewritten_only_when_asked() {
        let data =
            "Datum;Umsatz;Menge;Text\n01.11.2026;1.234,50;7;Herbst, Sale\n02.11.2026;-45,5;1.000;x,y\n".as_bytes();
        let o = opts_with(|c| c.decimal_comma = true);
        let (res, sink) = read_with(data, "x.csv", &o);
        res.unwrap();
        assert_eq!(
            sink.records[0].1,
            vec![(0, t("01.11.2026")), (1, t("1234.50")), (2, t("7")), (3, t("Herbst, Sale"))]
        );
        assert_eq!(sink.records[1].1, vec![(0, t("02.11.2026")), (1, t("-45.5")), (2, t("1000")), (3, t("x,y"))]);
        let (_, plain) = read_ok(data, "x.csv");
        assert_eq!(plain.records[0].1[1], (1, t("1.234,50")));
    }

    #[test]
    fn decimal_comma_recognition() {
        for (field, want) in [
            ("45,50", Some("45.50")),
            ("+3,1", Some("3.1")),
            ("1.234.567,89", Some("1234567.89")),
            ("12.345", Some("12345")),
            ("120", None),
            ("1,2,3", None),
            ("12.34", None),
            ("1.2345,6", None),
            (",5", None),
            ("5,", None),
            ("-", None),
            ("", None),
            ("abc,5", None),
        ] {
            let mut out = String::new();
            let got = super::decimal_comma_number(field, &mut out).then_some(out);
            assert_eq!(got.as_deref(), want, "{field:?}");
        }
    }

    #[test]
    fn custom_null_values() {
        let o = opts_with(|c| c.null_values = vec!["NULL".into(), "\\N".into()]);
        let (res, sink) = read_with(b"a,b,c\nNULL,\\N,\n", "x.csv", &o);
        res.unwrap();
        assert_eq!(sink.records[0].1, vec![(0, V::Null), (1, V::Null), (2, t(""))]);
    }

    #[test]
    fn embedded_newlines_and_doubled_quotes_keep_line_numbers() {
        let data = b"id,text\n1,\"line one\nline two\nline three\"\n2,\"she said \"\"hi\"\"\"\n3,\"a,b\"\n";
        let (_, sink) = read_ok(data, "x.csv");
        assert_eq!(sink.lines(), vec![2, 5, 6]);
        assert_eq!(sink.records[0].1[1].1, t("line one\nline two\nline three"));
        assert_eq!(sink.records[1].1[1].1, t("she said \"hi\""));
        assert_eq!(sink.records[2].1[1].1, t("a,b"));
    }

    #[test]
    fn crlf_and_blank_lines() {
        let data = b"a,b\r\n1,2\r\n\r\n\r\n3,4\r\n\"x\r\ny\",5\r\n6,7";
        let (_, sink) = read_ok(data, "x.csv");
        assert_eq!(sink.lines(), vec![2, 5, 6, 8]);
        assert_eq!(sink.records[0].1, vec![(0, t("1")), (1, t("2"))]);
        assert_eq!(sink.records[2].1[0].1, t("x\r\ny"));
        assert_eq!(sink.records[3].1, vec![(0, t("6")), (1, t("7"))]);
        let (_, sink) = read_ok(b"\n\na,b\n\n1,2\n\n\n3,4\n\n", "x.csv");
        assert_eq!(sink.header.clone().unwrap(), vec!["a", "b"]);
        assert_eq!(sink.lines(), vec![5, 8]);
    }

    #[test]
    fn wrong_field_count_rejected_with_line_and_raw() {
        let data = b"a,b,c\n1,2,3\n4,5\n6,\"7,x\",8,9\n10,11,12\n";
        let (s, sink) = read_ok(data, "x.csv");
        assert_eq!(s.records, 2);
        assert_eq!(s.rejected, 2);
        assert_eq!(sink.lines(), vec![2, 5]);
        let r = &sink.rejects[0];
        assert_eq!(
            (r.line, r.column.as_deref(), r.reason.as_str(), r.raw.as_str()),
            (3, None, "expected 3 fields, found 2", "4,5")
        );
        let r = &sink.rejects[1];
        assert_eq!((r.line, r.reason.as_str(), r.raw.as_str()), (4, "expected 3 fields, found 4", "6,7,x,8,9"));
    }

    fn width(sample: &str) -> Result<Option<usize>, String> {
        let comma = Dialect::default();
        super::data_width(&super::super::dialect::records(sample.as_bytes(), true, comma))
    }

    #[test]
    fn the_width_the_rows_agree_on_wins_over_the_header() {
        assert_eq!(width("a,b,c\n1,2,3\n4,5\n"), Ok(None), "a header the rows share is kept");
        assert_eq!(width("a,b\n1,2,3\n4,5,6\n7,8\n"), Ok(Some(3)));
        assert_eq!(width("a,b,c,d\n1,2\n3,4\n"), Ok(Some(2)));
        assert_eq!(width("a,b,c\n"), Ok(None), "no rows, nothing to agree on");
        // As many rows as wide as the header as any other width: the header stands.
        assert_eq!(width("a,b,c\n1,2,3\n1,2\n"), Ok(None));
        let refused = width("a,b,c\n1,2\n1,2,3,4\n1\n").unwrap_err();
        assert!(refused.starts_with("the header has 3 fields and the rows agree on no width"), "{refused}");
    }

    #[test]
    fn a_header_narrower_than_its_rows_names_the_extra_columns() {
        let (s, sink) = read_ok(b"a,b\n1,2,3\n4,5,6\n", "x.csv");
        assert_eq!((s.records, s.rejected), (2, 0));
        assert_eq!(sink.header.clone().unwrap(), vec!["a", "b", "column_3"]);
        assert_eq!(
            s.notes,
            vec!["the header names 2 columns but the rows hold 3: the extra columns are named column_3"]
        );
        let (res, _) = read_with(b"a,b,c\n1\n1,2,3,4\n", "x.csv", &ReadOptions::default());
        assert!(matches!(res, Err(FormatError::Refused { .. })), "{res:?}");
    }

    #[test]
    fn header_false_synthesizes_names() {
        let o = opts_with(|c| c.header = false);
        let (res, sink) = read_with(b"1;a\n2;b\n3\n", "x.csv", &o);
        let s = res.unwrap();
        assert_eq!(s.records, 2);
        assert_eq!(sink.header.clone().unwrap(), vec!["column_1", "column_2"]);
        assert_eq!(sink.lines(), vec![1, 2]);
        assert_eq!(sink.rejects[0].line, 3);
    }

    #[test]
    fn header_only_file() {
        let (s, sink) = read_ok(b"a,b,c\n", "x.csv");
        assert_eq!(s.records, 0);
        assert_eq!(sink.header.unwrap(), vec!["a", "b", "c"]);
    }

    #[test]
    fn configured_delimiter_and_quote() {
        let o = opts_with(|c| {
            c.delimiter = Some(b'|');
            c.quote = Some(b'\'');
        });
        let (res, sink) = read_with(b"a|b\n'x|y'|'it''s'\n", "x.csv", &o);
        res.unwrap();
        assert_eq!(sink.records[0].1, vec![(0, t("x|y")), (1, t("it's"))]);
    }

    #[test]
    fn raw_closure_renders_record() {
        let (_, sink) = read_ok(b"a,b\n1,\"x,y\"\n", "x.csv");
        assert_eq!(sink.raws[0], "1,x,y");
    }

    #[test]
    fn unbalanced_quote_is_bounded() {
        let mut data = b"a,b\n1,\"oops\n".to_vec();
        let row = b"2,plenty of data\n".repeat(1 << 16);
        while data.len() <= MAX_RECORD_BYTES + (4 << 20) {
            data.extend_from_slice(&row);
        }
        let (reason, line) = read_err(&data, "x.csv");
        assert!(reason.starts_with("CSV record starting at line 2 is larger than 64 MiB"), "{reason}");
        assert_eq!(line, Some(2));
    }

    #[test]
    fn unbalanced_quote_at_end_is_one_reject() {
        let (s, sink) = read_ok(b"a,b,c\n1,2,3\n4,\"oops,5\n6,7,8\n", "x.csv");
        assert_eq!(s.records, 1);
        assert_eq!(sink.rejects.len(), 1);
        assert_eq!(sink.rejects[0].line, 3);
    }

    #[test]
    fn header_with_invalid_utf8_beyond_sample_is_lossy() {
        // Not reachable through `read` with a short header (the sample check
        // refuses it); make sure a long header does not panic either.
        let mut data = vec![b'h'; SAMPLE_SIZE + 10];
        data.extend_from_slice(b"\xff,b\n1,2\n");
        let (s, sink) = read_ok(&data, "x.csv");
        assert_eq!(s.records, 1);
        assert!(sink.header.unwrap()[0].ends_with('\u{fffd}'));
    }
}
