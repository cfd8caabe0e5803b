//! CSV dialect detection: which delimiter and quote character a file uses,
//! whether a space follows each delimiter, and how many preamble lines come
//! before the header. Each candidate dialect parses the sample and is scored
//! as CleverCSV scores it (van den Burg et al., 2019): a pattern score that
//! rewards rows of one width with many fields, times a type score, the share
//! of fields that look like a value (a number, a date, a word) rather than a
//! piece of text cut at the wrong character.

use super::NameHint;
use super::csv::{Next, Parser};
use crate::schema::LogicalType;
use crate::schema::values::infer_text;

/// Records of the sample each candidate parses.
const SCORE_RECORDS: usize = 200;
/// Lines before the header that detection may skip.
const MAX_PREAMBLE: usize = 20;
/// Records a header may span.
const MAX_HEADER_ROWS: usize = 3;

const DELIMITERS: [u8; 5] = [b',', b';', b'\t', b'|', b' '];
const QUOTES: [u8; 2] = [b'"', b'\''];

/// How a CSV file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: u8,
    /// A space after each delimiter belongs to no field (`a, b, "c, d"`).
    pub space_after: bool,
    /// Records before the header (a title, notes, an export date).
    pub preamble: usize,
    /// Records the header spans, joined column by column into names
    /// (`Temperature` over `min` over `C`: `Temperature min C`).
    pub header_rows: usize,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect { delimiter: b',', quote: b'"', space_after: false, preamble: 0, header_rows: 1 }
    }
}

/// The best-scoring dialect of `sample`; `delimiter` and `quote` are kept
/// where the feed sets them. Ties go to the earlier candidate (`,` before
/// `;` TAB `|` space, `"` before `'`), or to TAB for a .tsv key.
pub(crate) fn detect(
    sample: &[u8],
    complete: bool,
    delimiter: Option<u8>,
    quote: Option<u8>,
    hint: NameHint,
) -> Dialect {
    let mut best: Option<(f64, Dialect)> = None;
    let mut delimiters: Vec<u8> = match delimiter {
        Some(d) => vec![d],
        None if hint == NameHint::Tsv => vec![b'\t', b',', b';', b'|', b' '],
        None => DELIMITERS.to_vec(),
    };
    // Spaces are in most text: a space-delimited file is one whose first
    // line holds none of the other delimiters (a sentence in a quoted field
    // must not outscore the commas of a file broken by an unbalanced quote).
    let first_line = sample.split(|&b| b == b'\n').next().unwrap_or_default();
    if delimiter.is_none() && first_line.iter().any(|b| DELIMITERS.get(..4).unwrap_or_default().contains(b)) {
        delimiters.retain(|&d| d != b' ');
    }
    // A quote character the sample does not hold cannot be the file's; `"`
    // stays the default where neither occurs.
    let quotes: Vec<u8> = match quote {
        Some(q) => vec![q],
        None => QUOTES.iter().copied().filter(|&q| q == b'"' || sample.contains(&q)).collect(),
    };
    for &d in &delimiters {
        for &q in &quotes {
            for space_after in [false, true] {
                if space_after && d == b' ' {
                    continue;
                }
                let dialect = Dialect { delimiter: d, quote: q, space_after, ..Dialect::default() };
                let rows = records(sample, complete, dialect);
                let score = score(&rows);
                if best.is_none_or(|(s, _)| score > s + 1e-9) {
                    best = Some((score, dialect));
                }
            }
        }
    }
    let mut dialect = best.map_or(Dialect::default(), |(_, d)| d);
    let rows = records(sample, complete, dialect);
    dialect.preamble = preamble(&rows);
    dialect.header_rows = header_rows(rows.get(dialect.preamble..).unwrap_or_default());
    dialect
}

/// The sample's records under `dialect`, each as its fields (the last one
/// left out when the sample cuts it).
pub(crate) fn records(sample: &[u8], complete: bool, dialect: Dialect) -> Vec<Vec<String>> {
    let text = if dialect.space_after { skip_spaces(sample, dialect) } else { sample.to_vec() };
    let mut p = Parser::new(text.as_slice(), dialect.delimiter, dialect.quote);
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Reading from memory cannot fail; a record too large for the sample ends it.
    while let Ok(Next::Record(_)) = p.next_record() {
        rows.push(p.fields().map(|f| String::from_utf8_lossy(f).into_owned()).collect());
        if rows.len() > SCORE_RECORDS {
            break;
        }
    }
    if !complete || rows.len() > SCORE_RECORDS {
        rows.pop();
    }
    rows
}

/// CleverCSV's score: the pattern score times the type score.
fn score(rows: &[Vec<String>]) -> f64 {
    if rows.is_empty() {
        return 0.0;
    }
    // Pattern score: sum over distinct widths of N (L - 1) / L, over their count.
    let mut widths: Vec<(usize, usize)> = Vec::new();
    for r in rows {
        match widths.iter_mut().find(|(w, _)| *w == r.len()) {
            Some((_, n)) => *n += 1,
            None => widths.push((r.len(), 1)),
        }
    }
    let pattern: f64 = widths.iter().map(|&(w, n)| n as f64 * (w.max(1) - 1) as f64 / w.max(1) as f64).sum::<f64>()
        / widths.len() as f64;
    let cells: usize = rows.iter().map(Vec::len).sum();
    let typed = rows.iter().flatten().filter(|c| looks_typed(c)).count();
    let types = if cells == 0 { 0.0 } else { typed as f64 / cells as f64 };
    // A floor, as CleverCSV keeps, so patterns still count among untyped candidates.
    pattern * types.max(1e-10)
}

/// A field that reads as a value: empty, a number, a date or time, a
/// boolean, or a word or phrase without the characters a wrong dialect
/// leaves in fields (delimiters, quotes).
fn looks_typed(cell: &str) -> bool {
    let cell = cell.trim();
    if cell.is_empty() || infer_text(cell) != LogicalType::String {
        return true;
    }
    cell.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | '/' | ':' | '(' | ')' | '%' | '+'))
        && !cell.starts_with(' ')
}

/// Records before the header: the title, notes or comments over a table,
/// rows of one field (or nothing past the first) or starting with `#`,
/// before the first row as wide as the rows that follow agree on. A header
/// narrower than its rows is not a preamble (see `csv::data_width`).
fn preamble(rows: &[Vec<String>]) -> usize {
    let Some(mode) = mode_width(rows.get(1..).unwrap_or_default()) else { return 0 };
    if mode < 2 {
        return 0;
    }
    let first = rows.iter().position(|r| r.len() == mode).unwrap_or(0);
    let note =
        |r: &Vec<String>| r.first().is_some_and(|c| c.starts_with('#')) || r.iter().skip(1).all(String::is_empty);
    if first <= MAX_PREAMBLE && rows.iter().take(first).all(note) { first } else { 0 }
}

/// Records the header spans (`rows` starts at it): each record after the
/// first that no data row could be, up to [`MAX_HEADER_ROWS`].
fn header_rows(rows: &[Vec<String>]) -> usize {
    let Some(width) = mode_width(rows.get(1..).unwrap_or_default()) else { return 1 };
    let mut n = 1;
    while n < MAX_HEADER_ROWS && width >= 2 && continues_header(rows, n, width) {
        n += 1;
    }
    n
}

/// Whether record `k` continues the header above it. Either it holds
/// words, and only words, in columns whose data are numbers or dates
/// (`,min,max` over `Oslo,1.5,7.2`), or it repeats one run of names under
/// each label its upper row spans (`,Revenue,,Cost,` over
/// `region,2019,2020,2019,2020`). A data row with a stray word beside
/// numbers, or a pandas index column under an empty name, is neither.
fn continues_header(rows: &[Vec<String>], k: usize, width: usize) -> bool {
    let (Some(above), Some(row)) = (rows.get(k - 1), rows.get(k)) else { return false };
    let data: Vec<&Vec<String>> = rows.iter().skip(k + 1).filter(|r| r.len() == width).collect();
    if above.len() != width || row.len() != width || data.len() < 2 {
        return false;
    }
    let nulls = crate::schema::NullTokens::defaults();
    let is_missing = |c: &str| {
        let c = c.trim();
        c.is_empty() || nulls.matches(&crate::record::Value::Text(c))
    };
    let word = |c: &str| !is_missing(c) && infer_text(c.trim()) == LogicalType::String;
    let typed_column = |i: usize| {
        let typed = data.iter().filter(|r| r.get(i).is_some_and(|c| !is_missing(c) && !word(c))).count();
        typed * 2 > data.len()
    };
    let typed: Vec<usize> = (0..width).filter(|&i| typed_column(i)).collect();
    let words_over_numbers = !typed.is_empty()
        && typed.iter().all(|&i| row.get(i).is_some_and(|c| is_missing(c) || word(c)))
        && typed.iter().any(|&i| row.get(i).is_some_and(|c| word(c)));
    words_over_numbers || repeats_under_spans(above, row)
}

/// `above` labels runs of columns (a name, then empty cells it spans); at
/// least two runs of two or more, and `row` holds the same names under each.
fn repeats_under_spans(above: &[String], row: &[String]) -> bool {
    let mut runs: Vec<&[String]> = Vec::new();
    let mut start = None;
    for (i, cell) in above.iter().enumerate() {
        if !cell.trim().is_empty() {
            if let Some(s) = start {
                runs.push(row.get(s..i).unwrap_or_default());
            }
            start = Some(i);
        }
    }
    if let Some(s) = start {
        runs.push(row.get(s..).unwrap_or_default());
    }
    let spans: Vec<&[String]> = runs.into_iter().filter(|r| r.len() >= 2).collect();
    spans.len() >= 2 && spans.iter().all(|r| *r == spans[0]) && spans[0].iter().all(|c| !c.trim().is_empty())
}

/// One name per column from a header of several records: upper records'
/// labels carried right over the empty cells they span, the parts joined by
/// a space.
pub(crate) fn join_header_rows(rows: &[Vec<String>]) -> Vec<String> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let last = rows.len().saturating_sub(1);
    let mut parts: Vec<Vec<String>> = vec![Vec::new(); width];
    for (r, row) in rows.iter().enumerate() {
        let mut label = String::new();
        for (i, names) in parts.iter_mut().enumerate() {
            let cell = row.get(i).map_or("", |c| c.trim());
            if !cell.is_empty() || r == last {
                label = cell.to_owned();
            }
            if !label.is_empty() {
                names.push(label.clone());
            }
        }
    }
    parts.into_iter().map(|p| p.join(" ")).collect()
}

fn mode_width(rows: &[Vec<String>]) -> Option<usize> {
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for r in rows {
        match counts.iter_mut().find(|(w, _)| *w == r.len()) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.len(), 1)),
        }
    }
    counts.into_iter().max_by_key(|&(w, n)| (n, w)).map(|(w, _)| w)
}

/// `text` without the spaces that follow a delimiter outside quotes.
fn skip_spaces(text: &[u8], dialect: Dialect) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut state = SpaceState::default();
    state.filter(text, dialect, &mut out);
    out
}

/// Where the space filter is, carried across reads of a stream.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SpaceState {
    in_quotes: bool,
    after_delimiter: bool,
}

impl SpaceState {
    /// Appends `input` to `out`, leaving out spaces right after a delimiter.
    pub(crate) fn filter(&mut self, input: &[u8], dialect: Dialect, out: &mut Vec<u8>) {
        for &b in input {
            if self.after_delimiter && b == b' ' {
                continue;
            }
            self.after_delimiter = false;
            if b == dialect.quote {
                self.in_quotes = !self.in_quotes;
            } else if !self.in_quotes && b == dialect.delimiter {
                self.after_delimiter = true;
            }
            out.push(b);
        }
    }
}

/// A reader that drops the space after each delimiter (outside quotes).
pub(crate) struct SkipSpaces<R> {
    inner: R,
    dialect: Dialect,
    state: SpaceState,
    buf: Vec<u8>,
    pending: Vec<u8>,
    at: usize,
}

impl<R: std::io::Read> SkipSpaces<R> {
    pub(crate) fn new(inner: R, dialect: Dialect) -> Self {
        Self { inner, dialect, state: SpaceState::default(), buf: vec![0; 64 * 1024], pending: Vec::new(), at: 0 }
    }
}

impl<R: std::io::Read> std::io::Read for SkipSpaces<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.pending.len() {
            let n = self.inner.read(&mut self.buf)?;
            if n == 0 {
                return Ok(0);
            }
            self.pending.clear();
            self.at = 0;
            self.state.filter(self.buf.get(..n).unwrap_or_default(), self.dialect, &mut self.pending);
        }
        let avail = self.pending.get(self.at..).unwrap_or_default();
        let n = avail.len().min(out.len());
        out.get_mut(..n).unwrap_or_default().copy_from_slice(avail.get(..n).unwrap_or_default());
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(s: &str) -> Dialect {
        detect(s.as_bytes(), true, None, None, NameHint::None)
    }

    #[test]
    fn delimiters_are_told_apart_by_consistent_rows_of_values() {
        assert_eq!(dialect("a,b,c\n1,2,3\n4,5,6\n").delimiter, b',');
        assert_eq!(dialect("a;b;c\n1,5;2;3\n4;5,5;6\n").delimiter, b';');
        assert_eq!(dialect("a\tb\n1\thello, world\n2\tno\n").delimiter, b'\t');
        assert_eq!(dialect("a|b|c\n1|2|3\n").delimiter, b'|');
        let spaced = dialect("name age city\nann 31 oslo\nbob 42 rome\n");
        assert_eq!((spaced.delimiter, spaced.preamble), (b' ', 0));
    }

    #[test]
    fn a_space_after_each_comma_is_skipped() {
        let d = dialect("id, name, note\n1, \"Smith, J\", \"a, b\"\n2, \"Doe, K\", \"c\"\n");
        assert_eq!((d.delimiter, d.quote, d.space_after), (b',', b'"', true));
        assert_eq!(skip_spaces(b"1, \"a, b\", c", d), b"1,\"a, b\",c");
    }

    #[test]
    fn single_quotes_are_found_when_they_hold_the_delimiter() {
        let d = dialect("id,name\n1,'Smith, J'\n2,'Doe, K'\n3,'Roe, L'\n");
        assert_eq!((d.delimiter, d.quote), (b',', b'\''));
        assert_eq!(dialect("id,name\n1,\"x, y\"\n2,it's\n").quote, b'"');
    }

    #[test]
    fn narrower_lines_before_the_header_are_a_preamble() {
        let d = dialect("Sales report\nexported 2026-01-01\n\nid,amount,region\n1,2.5,north\n2,3,south\n3,4,east\n");
        assert_eq!((d.delimiter, d.preamble), (b',', 2));
        assert_eq!(dialect("# comment\nid,amount\n1,2\n3,4\n").preamble, 1);
        assert_eq!(dialect("id,amount\n1,2\n3,4\n").preamble, 0);
    }

    #[test]
    fn a_header_spans_the_rows_no_data_row_could_be() {
        assert_eq!(dialect("station,t,t\n,min,max\nOslo,1.5,7\nRome,9,20.5\n").header_rows, 2);
        assert_eq!(dialect(",Revenue,,Cost,\nregion,2019,2020,2019,2020\nn,1,2,3,4\ns,5,6,7,8\n").header_rows, 2);
        // A word among numbers in a data row, NA, and an index column are data.
        assert_eq!(dialect("id,amount\n1,unknown\n2,3\n4,5\n").header_rows, 1);
        assert_eq!(dialect("id,amount\nNA,NA\n2,3\n4,5\n").header_rows, 1);
        assert_eq!(dialect(",a,b\n0,1,2\n1,3,4\n2,5,6\n").header_rows, 1);
    }

    #[test]
    fn header_rows_join_under_the_labels_they_span() {
        let rows = |t: &[&[&str]]| t.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect::<Vec<_>>();
        let joined =
            join_header_rows(&rows(&[&["", "Revenue", "", "Cost", ""], &["region", "2019", "2020", "2019", "2020"]]));
        assert_eq!(joined, vec!["region", "Revenue 2019", "Revenue 2020", "Cost 2019", "Cost 2020"]);
    }

    #[test]
    fn what_the_feed_sets_is_kept() {
        let d = detect(b"a;b\n1;2\n", true, Some(b','), Some(b'"'), NameHint::None);
        assert_eq!((d.delimiter, d.quote), (b',', b'"'));
    }

    #[test]
    fn the_space_filter_streams_across_reads() {
        use std::io::Read;
        let d = Dialect { space_after: true, ..Dialect::default() };
        let mut out = String::new();
        SkipSpaces::new(&b"a, b, \"c, d\"\n1,  2, 3\n"[..], d).read_to_string(&mut out).unwrap();
        assert_eq!(out, "a,b,\"c, d\"\n1,2,3\n");
    }
}
