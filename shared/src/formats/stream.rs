//! Plumbing shared by every reader: remembering transport failures however
//! deep in the decoder stack they surface, counting decoded bytes, and turning
//! `io::Error`s into the right [`FormatError`].

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;
use std::time::Instant;

use super::{Compression, FormatError, MAX_RECORD_BYTES};
use crate::record::{SourceReadError, is_source_error};

#[derive(Default)]
struct State {
    /// The first transport error seen by [`Tap`]. Decoders may wrap, replace
    /// or swallow the error they were given; this keeps the original.
    source_error: Cell<Option<io::Error>>,
    compression: Cell<Option<Compression>>,
    raw_bytes: Cell<u64>,
    decompressed_bytes: Cell<u64>,
    decoded_bytes: Cell<u64>,
    /// [`Counted`] fails reads past this many decoded bytes.
    limit: Cell<u64>,
    /// [`Decompressed`] fails reads past this many decompressed bytes.
    max_decompressed: Cell<u64>,
    /// [`Decompressed`] fails reads after this instant, with the time it ran.
    deadline: Cell<Option<(Instant, Instant)>>,
    limit_hit: Cell<bool>,
}

/// Shared between the reader layers of one `read` call (single-threaded).
#[derive(Clone, Default)]
pub(crate) struct Ctx(Rc<State>);

impl Ctx {
    pub(crate) fn new() -> Self {
        let ctx = Ctx::default();
        ctx.0.limit.set(u64::MAX);
        ctx.0.max_decompressed.set(u64::MAX);
        ctx
    }

    /// Bounds what one file may decompress to (a compression bomb's defence).
    pub(crate) fn set_max_decompressed(&self, bytes: u64) {
        self.0.max_decompressed.set(bytes);
    }

    /// Bounds when reading must stop (the function's deadline less what
    /// recording the file's fate takes).
    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        self.0.deadline.set(deadline.map(|d| (Instant::now(), d)));
    }

    pub(crate) fn set_compression(&self, c: Compression) {
        self.0.compression.set(Some(c));
    }

    pub(crate) fn decoded_bytes(&self) -> u64 {
        self.0.decoded_bytes.get()
    }

    /// Allows at most [`MAX_RECORD_BYTES`] (plus one read buffer) more
    /// decoded bytes before the next call; readers call this after each record.
    pub(crate) fn allow_next_record(&self) {
        let limit = self.0.decoded_bytes.get().saturating_add((MAX_RECORD_BYTES + super::BUF_SIZE) as u64);
        self.0.limit.set(limit);
    }

    pub(crate) fn limit_hit(&self) -> bool {
        self.0.limit_hit.get()
    }

    /// The transport error, if the source failed at any point.
    pub(crate) fn take_source_error(&self) -> Option<io::Error> {
        self.0.source_error.take()
    }

    /// Maps an I/O error from anywhere in the reader stack. Transport errors
    /// win over whatever a decoder made of them; the rest is a property of
    /// the data (corrupt compression) and is not retryable.
    pub(crate) fn fail(&self, err: io::Error) -> FormatError {
        if let Some(original) = self.take_source_error() {
            return FormatError::Source(original);
        }
        if is_source_error(&err) {
            return FormatError::Source(err);
        }
        let decompressed = self.0.decompressed_bytes.get();
        let raw = self.0.raw_bytes.get();
        if let Some(DeadlinePassed(ran)) = err.get_ref().and_then(|e| e.downcast_ref::<DeadlinePassed>()) {
            return FormatError::unreadable(
                format!(
                    "not read within the function's time: stopped after {} s at decompressed byte {decompressed} \
                     (compressed byte {raw}); a file this size needs a function with more memory (more CPU) or a \
                     longer timeout, or to arrive split",
                    ran.as_secs()
                ),
                None,
            );
        }
        if let Some(limit) = err.get_ref().and_then(|e| e.downcast_ref::<DecompressionLimit>()) {
            return FormatError::unreadable(
                format!(
                    "decompresses to more than {} MiB (from {raw} compressed bytes read): a compression bomb, or a file \
                     that needs a higher max_decompressed_mb in its feed",
                    limit.0 >> 20
                ),
                None,
            );
        }
        let reason = match self.0.compression.get() {
            Some(c @ (Compression::Gzip | Compression::Zstd)) => format!(
                "{} stream is corrupt at decompressed byte {decompressed} (compressed input read up to byte {raw}): {err}",
                c.as_str()
            ),
            _ => format!("reading the object failed at byte {raw}: {err}"),
        };
        FormatError::unreadable(reason, None)
    }
}

/// Sits directly on the caller's input and remembers transport errors.
pub(crate) struct Tap<R> {
    inner: R,
    ctx: Ctx,
}

impl<R> Tap<R> {
    pub(crate) fn new(inner: R, ctx: Ctx) -> Self {
        Self { inner, ctx }
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                let s = &self.ctx.0;
                s.raw_bytes.set(s.raw_bytes.get() + n as u64);
                Ok(n)
            }
            Err(e) if is_source_error(&e) => {
                let kind = e.kind();
                let message = e.to_string();
                let s = &self.ctx.0;
                let first = s.source_error.take().unwrap_or(e);
                s.source_error.set(Some(first));
                // Still a source error for layers that look, but the original
                // stays with us so that no decoder can lose it.
                Err(io::Error::new(kind, SourceReadError(message.into())))
            }
            Err(e) => Err(e),
        }
    }
}

/// Sits on the decompressor: counts its output, for error messages.
pub(crate) struct Decompressed<R> {
    inner: R,
    ctx: Ctx,
}

impl<R> Decompressed<R> {
    pub(crate) fn new(inner: R, ctx: Ctx) -> Self {
        Self { inner, ctx }
    }
}

/// The decompressed-size bound was passed.
#[derive(Debug)]
struct DecompressionLimit(u64);

impl std::fmt::Display for DecompressionLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "decompressed past {} bytes", self.0)
    }
}

impl std::error::Error for DecompressionLimit {}

/// The deadline passed, after reading this long.
#[derive(Debug)]
struct DeadlinePassed(std::time::Duration);

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reading past the deadline after {:?}", self.0)
    }
}

impl std::error::Error for DeadlinePassed {}

impl<R: Read> Read for Decompressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let s = &self.ctx.0;
        let total = s.decompressed_bytes.get() + n as u64;
        s.decompressed_bytes.set(total);
        let max = s.max_decompressed.get();
        if total > max {
            return Err(io::Error::other(DecompressionLimit(max)));
        }
        if let Some((started, deadline)) = s.deadline.get() {
            let now = Instant::now();
            if now >= deadline {
                return Err(io::Error::other(DeadlinePassed(now.duration_since(started))));
            }
        }
        Ok(n)
    }
}

/// Sits on the decoded text: counts it and enforces the per-record limit.
pub(crate) struct Counted<R> {
    inner: R,
    ctx: Ctx,
}

impl<R> Counted<R> {
    pub(crate) fn new(inner: R, ctx: Ctx) -> Self {
        Self { inner, ctx }
    }
}

#[derive(Debug)]
struct RecordTooLarge;

impl std::fmt::Display for RecordTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record larger than {} MiB", MAX_RECORD_BYTES >> 20)
    }
}

impl std::error::Error for RecordTooLarge {}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let s = &self.ctx.0;
        let done = s.decoded_bytes.get();
        if done >= s.limit.get() {
            s.limit_hit.set(true);
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLarge));
        }
        let n = self.inner.read(buf)?;
        s.decoded_bytes.set(done + n as u64);
        Ok(n)
    }
}

/// Reads until `buf` holds `n` more bytes or the input ends; returns true at end of input.
pub(crate) fn read_up_to(r: &mut dyn Read, buf: &mut Vec<u8>, n: usize) -> io::Result<bool> {
    let got = r.take(n as u64).read_to_end(buf)?;
    Ok(got < n)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use crate::record::SourceReadError;
    use std::io::{self, Write};

    /// Serves `data`, then fails like a dropped S3 connection.
    struct Flaky<'a> {
        data: &'a [u8],
        tagged: bool,
    }

    impl Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.data.is_empty() {
                return Err(if self.tagged {
                    SourceReadError::io("connection reset by peer")
                } else {
                    io::Error::other("disk on fire")
                });
            }
            let n = buf.len().min(self.data.len()).min(1000);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn csv_bytes(rows: usize) -> Vec<u8> {
        let mut v = b"a,b\n".to_vec();
        for i in 0..rows {
            writeln!(v, "{i},x{i}").unwrap();
        }
        v
    }

    fn check_source(data: &[u8], name: &str) {
        let mut sink = Collect::default();
        let err = read(Flaky { data, tagged: true }, name, &ReadOptions::default(), &mut sink).unwrap_err();
        assert!(matches!(err, FormatError::Source(_)), "{name}: {err:?}");
        assert_eq!(err.disposition(), crate::disposition::Disposition::Retry);
        assert!(err.to_string().contains("connection reset by peer"), "{err}");
    }

    #[test]
    fn source_error_surfaces_as_source_everywhere() {
        let csv = csv_bytes(50_000);
        check_source(&csv, "x.csv");
        check_source(&csv[..100], "x.csv"); // fails during the sample read
        check_source(b"", "x.csv"); // fails on the very first read

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&csv).unwrap();
        let gz = gz.finish().unwrap();
        check_source(&gz[..gz.len() / 2], "x.csv.gz");
        check_source(&gz[..20], "x.csv.gz");

        let zst = zstd::encode_all(&csv[..], 3).unwrap();
        check_source(&zst[..zst.len() / 2], "x.csv.zst");

        let mut nd = Vec::new();
        for i in 0..20_000 {
            writeln!(nd, "{{\"i\":{i},\"s\":\"v{i}\"}}").unwrap();
        }
        check_source(&nd[..nd.len() / 2], "x.jsonl");
        let mut arr = b"[".to_vec();
        for i in 0..20_000 {
            write!(arr, "{{\"i\":{i}}},").unwrap();
        }
        check_source(&arr, "x.json");
        check_source(&arr, "x.json");

        let latin = b"a,b\n\xe9,1\n".repeat(20_000);
        let mut sink = Collect::default();
        let opts = ReadOptions { encoding: encoding_for_label("latin1"), ..Default::default() };
        let err = read(Flaky { data: &latin, tagged: true }, "x.csv", &opts, &mut sink).unwrap_err();
        assert!(matches!(err, FormatError::Source(_)), "{err:?}");
    }

    #[test]
    fn untagged_io_error_is_not_retryable() {
        let csv = csv_bytes(50_000);
        let mut sink = Collect::default();
        let err = read(Flaky { data: &csv, tagged: false }, "x.csv", &ReadOptions::default(), &mut sink).unwrap_err();
        assert!(matches!(err, FormatError::Unreadable { .. }), "{err:?}");
        assert_eq!(err.disposition(), crate::disposition::Disposition::Done);
    }
}
