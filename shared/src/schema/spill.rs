//! Held rows past their memory budget, spilled to local disk in sorted runs
//! (`held.rs`): each spill writes every held row, in day order, to a run
//! file of its own and empties memory; at the end of the file the runs are
//! read back day by day beside what memory still holds, so a day's rows
//! are written together however many spills held them: one part per day.
//! The runs take at most the scratch budget they are given; past it the
//! writer falls back to writing the biggest held day early.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::record::{LineNo, SinkError, StoredValue, Value};

use super::infer::InferBuffer;

/// The runs of one file.
pub(super) struct Runs {
    dir: PathBuf,
    /// Bytes the runs may take on disk together.
    budget: u64,
    used: u64,
    readers: Vec<RunReader>,
    /// The days the runs hold rows of, not yet written.
    days: BTreeSet<i32>,
}

impl Runs {
    pub(super) fn new(dir: &Path, budget: u64) -> Self {
        Runs { dir: dir.to_path_buf(), budget, used: 0, readers: Vec::new(), days: BTreeSet::new() }
    }

    /// Writes `days` (in day order) as one run, unless it would pass the
    /// budget: then nothing is written and false is returned.
    pub(super) fn spill(&mut self, days: &BTreeMap<i32, InferBuffer>, bytes: usize) -> Result<bool, SinkError> {
        // The encoding takes about the memory the rows took.
        if self.used.saturating_add(bytes as u64) > self.budget {
            return Ok(false);
        }
        let path = self.dir.join(format!("held-{}.run", self.readers.len()));
        let failed = |e: io::Error| SinkError::retryable(format!("spilling held rows to {}", path.display()), e);
        let mut out = BufWriter::new(File::create(&path).map_err(failed)?);
        for (&day, rows) in days {
            rows.replay(|line, values| encode(&mut out, day, line, values).map_err(failed))?;
        }
        out.flush().map_err(failed)?;
        drop(out);
        self.used += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(bytes as u64);
        let file = File::open(&path).map_err(failed)?;
        let mut reader = RunReader { input: BufReader::new(file), path, next: Record::default(), done: false };
        reader.advance()?;
        self.readers.push(reader);
        self.days.extend(days.keys());
        Ok(true)
    }

    /// The earliest day the runs hold rows of.
    pub(super) fn first_day(&self) -> Option<i32> {
        self.days.first().copied()
    }

    /// Whether the runs hold rows of `day` not yet written.
    pub(super) fn holds(&self, day: i32) -> bool {
        self.days.contains(&day)
    }

    /// Hands every spilled row of `day` to `write`, run by run. Days must be
    /// asked for in order: each run is read once, front to back.
    pub(super) fn replay_day(
        &mut self,
        day: i32,
        mut write: impl FnMut(LineNo, &[(usize, Value<'_>)]) -> Result<(), SinkError>,
    ) -> Result<(), SinkError> {
        self.days.remove(&day);
        for reader in &mut self.readers {
            if !reader.done && reader.next.day < day {
                return Err(SinkError::fatal(format!("held rows of day {} were skipped", reader.next.day)));
            }
            while !reader.done && reader.next.day == day {
                let r = &reader.next;
                let values: Vec<(usize, Value<'_>)> = r.values.iter().map(|&(idx, v)| (idx, v.get(&r.text))).collect();
                write(r.line, &values)?;
                reader.advance()?;
            }
        }
        Ok(())
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        for r in &self.readers {
            let _ = std::fs::remove_file(&r.path);
        }
    }
}

#[derive(Default)]
struct Record {
    day: i32,
    line: LineNo,
    values: Vec<(usize, StoredValue)>,
    text: String,
}

struct RunReader {
    input: BufReader<File>,
    path: PathBuf,
    next: Record,
    done: bool,
}

impl RunReader {
    fn advance(&mut self) -> Result<(), SinkError> {
        let path = self.path.display().to_string();
        match decode(&mut self.input, &mut self.next) {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.done = true;
                Ok(())
            }
            Err(e) => Err(SinkError::retryable(format!("reading held rows back from {path}"), e)),
        }
    }
}

const NULL: u8 = 0;
const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 3;
const TEXT: u8 = 4;
const JSON: u8 = 5;

/// One row: day, line, value count, then each value's column index, tag and payload.
fn encode(out: &mut impl Write, day: i32, line: LineNo, values: &[(usize, Value<'_>)]) -> io::Result<()> {
    out.write_all(&day.to_le_bytes())?;
    out.write_all(&line.to_le_bytes())?;
    out.write_all(&(values.len() as u64).to_le_bytes())?;
    for &(idx, v) in values {
        out.write_all(&(idx as u64).to_le_bytes())?;
        match v {
            Value::Null => out.write_all(&[NULL])?,
            Value::Bool(b) => out.write_all(&[BOOL, u8::from(b)])?,
            Value::Int(i) => {
                out.write_all(&[INT])?;
                out.write_all(&i.to_le_bytes())?;
            }
            Value::Float(f) => {
                out.write_all(&[FLOAT])?;
                out.write_all(&f.to_bits().to_le_bytes())?;
            }
            Value::Text(s) | Value::Json(s) => {
                out.write_all(&[if matches!(v, Value::Text(_)) { TEXT } else { JSON }])?;
                out.write_all(&(s.len() as u64).to_le_bytes())?;
                out.write_all(s.as_bytes())?;
            }
        }
    }
    Ok(())
}

fn u64_of(input: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    input.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn usize_of(input: &mut impl Read) -> io::Result<usize> {
    usize::try_from(u64_of(input)?).map_err(io::Error::other)
}

/// Reads the next row into `r`; false at the end of the run.
fn decode(input: &mut impl Read, r: &mut Record) -> io::Result<bool> {
    let mut day = [0u8; 4];
    match input.read_exact(&mut day) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        other => other?,
    }
    r.day = i32::from_le_bytes(day);
    r.line = u64_of(input)?;
    r.values.clear();
    r.text.clear();
    for _ in 0..usize_of(input)? {
        let idx = usize_of(input)?;
        let mut tag = [0u8; 1];
        input.read_exact(&mut tag)?;
        let value = match tag[0] {
            NULL => StoredValue::Null,
            BOOL => {
                input.read_exact(&mut tag)?;
                StoredValue::Bool(tag[0] != 0)
            }
            INT => StoredValue::Int(u64_of(input)? as i64),
            FLOAT => StoredValue::Float(f64::from_bits(u64_of(input)?)),
            TEXT | JSON => {
                let mut bytes = vec![0u8; usize_of(input)?];
                input.read_exact(&mut bytes)?;
                let s = String::from_utf8(bytes).map_err(io::Error::other)?;
                let stored = StoredValue::store(Value::Text(&s), &mut r.text);
                match (tag[0], stored) {
                    (JSON, StoredValue::Text(a, z)) => StoredValue::Json(a, z),
                    (_, stored) => stored,
                }
            }
            other => return Err(io::Error::other(format!("unknown value tag {other}"))),
        };
        r.values.push((idx, value));
    }
    Ok(true)
}
