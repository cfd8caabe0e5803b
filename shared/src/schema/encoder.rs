//! Where a part's record batches become Parquet: in the calling thread, or
//! on a thread of the part's own so that encoding and compression (about a
//! third of a conversion's CPU on clickstream data) overlap with reading and
//! typing the next batch. Either way the bytes written are the same.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::record::SinkError;

/// Batches waiting for the encoding thread: with the one being encoded and
/// the one being filled, at most four batches (8,192 rows or 16 MiB of text
/// each) are in memory; one queued was measured slower, as the typing
/// thread then waits whenever a page is compressed.
const QUEUED_BATCHES: usize = 2;

pub(super) fn io_err(what: &str, path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SinkError {
    SinkError::retryable(format!("{what} {}", path.display()), e)
}

pub(super) enum Job {
    Batch(RecordBatch),
    FlushRowGroup,
}

/// One part file's Parquet writer.
pub(super) enum Encoder {
    Inline {
        writer: Box<ArrowWriter<File>>,
        path: PathBuf,
        row_group_bytes: usize,
    },
    Threaded {
        jobs: Option<SyncSender<Job>>,
        worker: Option<JoinHandle<Result<File, SinkError>>>,
        /// The worker's `memory_size()` after its last job.
        buffered: Arc<AtomicUsize>,
        path: PathBuf,
    },
}

impl Encoder {
    /// Opens `path` for a part with `schema`; `threaded` encodes on a thread of its own.
    pub(super) fn create(
        path: PathBuf,
        schema: SchemaRef,
        props: WriterProperties,
        row_group_bytes: usize,
        threaded: bool,
    ) -> Result<Self, SinkError> {
        let file = File::create(&path).map_err(|e| io_err("creating part file", &path, e))?;
        let writer = ArrowWriter::try_new(file, schema, Some(props))
            .map_err(|e| io_err("starting parquet writer for", &path, e))?;
        if !threaded {
            return Ok(Encoder::Inline { writer: Box::new(writer), path, row_group_bytes });
        }
        let (jobs, queue) = sync_channel(QUEUED_BATCHES);
        let buffered = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (at, buffered) = (path.clone(), Arc::clone(&buffered));
            std::thread::Builder::new()
                .name("landfall-parquet".into())
                .spawn(move || encode_jobs(writer, queue, &at, row_group_bytes, &buffered))
                .map_err(|e| io_err("starting the encoding thread for", &path, e))?
        };
        Ok(Encoder::Threaded { jobs: Some(jobs), worker: Some(worker), buffered, path })
    }

    /// Encodes `batch` (now, or on the part's thread), flushing the row group
    /// once it holds more than `row_group_bytes`.
    pub(super) fn write(&mut self, batch: RecordBatch) -> Result<(), SinkError> {
        match self {
            Encoder::Inline { writer, path, row_group_bytes } => write_batch(writer, &batch, path, *row_group_bytes),
            Encoder::Threaded { .. } => self.send(Job::Batch(batch)),
        }
    }

    pub(super) fn flush_row_group(&mut self) -> Result<(), SinkError> {
        match self {
            Encoder::Inline { writer, path, .. } => writer.flush().map_err(|e| io_err("writing parquet", path, e)),
            Encoder::Threaded { .. } => self.send(Job::FlushRowGroup),
        }
    }

    /// Memory held by the in-progress row group (as of the last job on a thread).
    pub(super) fn buffered_bytes(&self) -> usize {
        match self {
            Encoder::Inline { writer, .. } => writer.memory_size(),
            Encoder::Threaded { buffered, .. } => buffered.load(Ordering::Relaxed),
        }
    }

    /// Writes the footer and returns the file's size in bytes.
    pub(super) fn close(self) -> Result<u64, SinkError> {
        let (file, path) = match self {
            // into_inner writes the footer and flushes the buffer with errors
            // reported (close() would drop the BufWriter and lose them).
            Encoder::Inline { writer, path, .. } => {
                (writer.into_inner().map_err(|e| io_err("closing parquet", &path, e))?, path)
            }
            Encoder::Threaded { mut jobs, mut worker, path, .. } => {
                drop(jobs.take());
                (join(&mut worker, &path)?, path)
            }
        };
        Ok(file.metadata().map_err(|e| io_err("reading size of", &path, e))?.len())
    }

    fn send(&mut self, job: Job) -> Result<(), SinkError> {
        let Encoder::Threaded { jobs, worker, path, .. } = self else {
            return Err(SinkError::fatal("a job sent to an inline encoder"));
        };
        let sent = jobs.as_ref().map(|tx| tx.send(job).is_ok()).unwrap_or(false);
        if sent {
            return Ok(());
        }
        // The worker stopped on an error: that error is the answer.
        drop(jobs.take());
        join(worker, path)
            .and_then(|_| Err(SinkError::fatal(format!("the encoding thread of {} stopped", path.display()))))
    }
}

fn join(worker: &mut Option<JoinHandle<Result<File, SinkError>>>, path: &Path) -> Result<File, SinkError> {
    let Some(handle) = worker.take() else {
        return Err(SinkError::fatal(format!("the encoding thread of {} was already joined", path.display())));
    };
    handle.join().map_err(|_| SinkError::fatal(format!("the encoding thread of {} panicked", path.display())))?
}

fn write_batch(
    writer: &mut ArrowWriter<File>,
    batch: &RecordBatch,
    path: &Path,
    row_group_bytes: usize,
) -> Result<(), SinkError> {
    writer.write(batch).map_err(|e| io_err("writing parquet", path, e))?;
    if writer.in_progress_size() > row_group_bytes {
        writer.flush().map_err(|e| io_err("writing parquet", path, e))?;
    }
    Ok(())
}

/// The encoding thread: jobs in order until the part is closed, then the footer.
fn encode_jobs(
    mut writer: ArrowWriter<File>,
    queue: Receiver<Job>,
    path: &Path,
    row_group_bytes: usize,
    buffered: &AtomicUsize,
) -> Result<File, SinkError> {
    for job in queue {
        match job {
            Job::Batch(batch) => write_batch(&mut writer, &batch, path, row_group_bytes)?,
            Job::FlushRowGroup => writer.flush().map_err(|e| io_err("writing parquet", path, e))?,
        }
        buffered.store(writer.memory_size(), Ordering::Relaxed);
    }
    writer.into_inner().map_err(|e| io_err("closing parquet", path, e))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;
    use crate::schema::parquet::{ParquetCompression, writer_properties};

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let values: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1_500));
        RecordBatch::try_new(schema, vec![values]).unwrap()
    }

    fn encode(path: PathBuf, threaded: bool) -> Result<u64, SinkError> {
        let props = writer_properties(ParquetCompression::default(), 1_000, 64 << 20).unwrap();
        let mut encoder = Encoder::create(path, batch().schema(), props, 64 << 20, threaded)?;
        // Row groups of 1,000 rows, and one flushed early (the memory bound's
        // flush), so both the writer's own cuts and ours must arrive in order.
        for i in 0..3 {
            encoder.write(batch())?;
            if i == 0 {
                encoder.flush_row_group()?;
            }
        }
        encoder.close()
    }

    #[test]
    fn a_part_encoded_on_its_own_thread_is_the_part_encoded_inline() {
        let dir = tempfile::tempdir().unwrap();
        let (inline, threaded) = (dir.path().join("inline.parquet"), dir.path().join("threaded.parquet"));
        let sizes = (encode(inline.clone(), false).unwrap(), encode(threaded.clone(), true).unwrap());
        assert_eq!(sizes.0, sizes.1);
        assert_eq!(std::fs::read(inline).unwrap(), std::fs::read(threaded).unwrap());
    }

    /// The thread's write error (here a full disk) is what the writer gets
    /// back, retryable and naming the file, not a "thread stopped".
    #[test]
    fn an_encoding_thread_that_fails_reports_its_own_error() {
        for threaded in [false, true] {
            let err = encode(PathBuf::from("/dev/full"), threaded).unwrap_err();
            assert!(err.retryable, "{err}");
            assert!(
                err.message.starts_with("writing parquet /dev/full")
                    || err.message.starts_with("closing parquet /dev/full"),
                "{threaded}: {err}"
            );
        }
    }
}
