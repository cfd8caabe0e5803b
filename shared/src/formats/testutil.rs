//! What the readers' tests share: a sink that collects everything, and
//! shorthands to read bytes with it.

use super::*;
use crate::record::SinkError;

#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    Json(String),
}

impl From<&Value<'_>> for V {
    fn from(v: &Value<'_>) -> Self {
        match *v {
            Value::Null => V::Null,
            Value::Text(s) => V::Text(s.to_owned()),
            Value::Bool(b) => V::Bool(b),
            Value::Int(i) => V::Int(i),
            Value::Float(f) => V::Float(f),
            Value::Json(s) => V::Json(s.to_owned()),
        }
    }
}

pub fn t(s: &str) -> V {
    V::Text(s.to_owned())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
    pub raw: String,
}

/// Collects everything; JSON columns are named by joining path segments with "__".
#[derive(Default, Debug)]
pub(crate) struct Collect {
    pub header: Option<Vec<String>>,
    pub columns: Vec<String>,
    pub records: Vec<(u64, Vec<(usize, V)>)>,
    pub raws: Vec<String>,
    pub rejects: Vec<Reject>,
    pub fail_record_at: Option<usize>,
}

impl Collect {
    /// Records as (line, [(column name, value)]).
    pub fn named(&self) -> Vec<(u64, Vec<(String, V)>)> {
        self.records
            .iter()
            .map(|(line, vals)| {
                let names = self.header.as_ref().unwrap_or(&self.columns);
                (*line, vals.iter().map(|(c, v)| (names[*c].clone(), v.clone())).collect())
            })
            .collect()
    }

    pub fn lines(&self) -> Vec<u64> {
        self.records.iter().map(|(l, _)| *l).collect()
    }
}

impl RecordSink for Collect {
    fn header(&mut self, names: &[&str]) -> Result<(), SinkError> {
        assert!(self.header.is_none(), "header called twice");
        assert!(self.records.is_empty(), "header after records");
        self.header = Some(names.iter().map(|s| s.to_string()).collect());
        Ok(())
    }

    fn column_for_path(&mut self, path: &[&str]) -> usize {
        let name = path.join("__");
        if let Some(i) = self.columns.iter().position(|c| *c == name) {
            return i;
        }
        self.columns.push(name);
        self.columns.len() - 1
    }

    fn record(&mut self, line: u64, values: &[(usize, Value<'_>)], raw: &dyn Fn() -> String) -> Result<(), SinkError> {
        if self.fail_record_at == Some(self.records.len()) {
            return Err(SinkError::fatal("disk full"));
        }
        self.records.push((line, values.iter().map(|(c, v)| (*c, V::from(v))).collect()));
        self.raws.push(raw());
        Ok(())
    }

    fn reject(&mut self, line: u64, column: Option<&str>, reason: &str, raw: &str) -> Result<(), SinkError> {
        self.rejects.push(Reject {
            line,
            column: column.map(str::to_owned),
            reason: reason.to_owned(),
            raw: raw.to_owned(),
        });
        Ok(())
    }
}

pub(crate) fn read_with(bytes: &[u8], name: &str, opts: &ReadOptions) -> (Result<ReadSummary, FormatError>, Collect) {
    let mut sink = Collect::default();
    let res = read(bytes, name, opts, &mut sink);
    (res, sink)
}

pub(crate) fn read_ok(bytes: &[u8], name: &str) -> (ReadSummary, Collect) {
    let (res, sink) = read_with(bytes, name, &ReadOptions::default());
    (res.expect("read failed"), sink)
}

pub(crate) fn is_empty_file(bytes: &[u8], name: &str) -> bool {
    matches!(read_with(bytes, name, &ReadOptions::default()).0, Err(FormatError::Empty))
}

pub(crate) fn read_err(bytes: &[u8], name: &str) -> (String, Option<u64>) {
    match read_with(bytes, name, &ReadOptions::default()).0 {
        Err(FormatError::Unreadable { reason, line }) => (reason, line),
        other => panic!("expected Unreadable, got {other:?}"),
    }
}
