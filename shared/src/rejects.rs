//! Rejected rows and failed files, kept with their reasons as gzipped JSON
//! lines in the curated bucket (`_rejects/<feed>/<file-id>.jsonl.gz`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// One record that could not be read or did not fit the schema.
    Row,
    /// The whole file (or its remainder) could not be read.
    File,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    pub kind: RejectKind,
    pub file: String,
    pub feed: String,
    pub line: Option<u64>,
    pub column: Option<String>,
    pub reason: String,
    /// The record's text, at most [`crate::record::MAX_RAW_BYTES`] of it.
    pub raw: Option<String>,
}

impl Reject {
    pub fn file_error(file: &str, feed: &str, line: Option<u64>, reason: impl Into<String>) -> Self {
        Reject {
            kind: RejectKind::File,
            file: file.to_owned(),
            feed: feed.to_owned(),
            line,
            column: None,
            reason: reason.into(),
            raw: None,
        }
    }
}

/// Streams rejects into a local gzip file so a file with millions of bad
/// rows never holds them in memory.
pub(crate) struct RejectWriter {
    path: PathBuf,
    out: Option<GzEncoder<BufWriter<File>>>,
    count: u64,
}

impl RejectWriter {
    pub fn new(dir: &Path) -> Self {
        RejectWriter { path: dir.join("rejects.jsonl.gz"), out: None, count: 0 }
    }

    pub fn push(&mut self, reject: &Reject) -> std::io::Result<()> {
        if self.out.is_none() {
            let file = File::create(&self.path)?;
            self.out = Some(GzEncoder::new(BufWriter::new(file), Compression::fast()));
        }
        if let Some(out) = self.out.as_mut() {
            write_line(out, reject)?;
        }
        self.count += 1;
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Finishes the gzip stream; returns the local file if anything was written.
    pub fn finish(mut self) -> std::io::Result<Option<PathBuf>> {
        match self.out.take() {
            None => Ok(None),
            Some(enc) => {
                enc.finish()?.flush()?;
                Ok(Some(self.path.clone()))
            }
        }
    }
}

fn write_line(out: &mut impl Write, reject: &Reject) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, reject)?;
    out.write_all(b"\n")
}

/// A small rejects file built in memory (one record for an unmatched key).
pub fn encode(rejects: &[Reject]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    for r in rejects {
        write_line(&mut enc, r)?;
    }
    enc.finish()
}

/// Reads a rejects file back (tests, the CLI).
pub fn read_rejects(gz: &[u8]) -> std::io::Result<Vec<Reject>> {
    use std::io::BufRead;
    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(gz));
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(std::io::Error::other)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_round_trip_through_gzip_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RejectWriter::new(dir.path());
        let r = Reject {
            kind: RejectKind::Row,
            file: "s3://b/k.csv".into(),
            feed: "orders".into(),
            line: Some(7),
            column: Some("amount".into()),
            reason: "value \"x\" is not a valid int64".into(),
            raw: Some("1;x".into()),
        };
        w.push(&r).unwrap();
        w.push(&Reject::file_error("s3://b/k.csv", "orders", None, "empty file")).unwrap();
        assert_eq!(w.count(), 2);
        let path = w.finish().unwrap().unwrap();
        let back = read_rejects(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(back[0], r);
        assert_eq!(back[1].kind, RejectKind::File);
    }

    #[test]
    fn encoded_rejects_read_back() {
        let r = Reject::file_error("s3://b/k", "_unmatched", None, "no feed matches this key");
        assert_eq!(read_rejects(&encode(std::slice::from_ref(&r)).unwrap()).unwrap(), vec![r]);
    }

    #[test]
    fn nothing_is_written_without_rejects() {
        let dir = tempfile::tempdir().unwrap();
        assert!(RejectWriter::new(dir.path()).finish().unwrap().is_none());
    }
}
