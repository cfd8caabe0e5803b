//! A part's columns from its Parquet footer, read with ranged GETs: the
//! whole file is never downloaded.

use super::{Column, FOOTER_TAIL_LEN, FooterError, columns_from_metadata, footer_metadata_len};
use crate::disposition::Disposition;
use crate::storage::{ByteRange, ObjectStore, StorageError};

/// The first read takes this much of the file's end: the footer of a
/// typical part (tens of columns, a few row groups) is a few KiB, so one GET
/// usually holds it all; a longer footer costs a second, exact GET.
pub(crate) const TAIL_GUESS: u64 = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("s3://{bucket}/{key}: {source}")]
    Footer { bucket: String, key: String, source: FooterError },
}

impl ReadError {
    /// A missing object or a file that is not Parquet never gets better, and
    /// is counted and logged where it is met. Any other storage failure says
    /// nothing about the part: transient ones are retried, the rest (access
    /// denied, an answer S3 should never give) go to the DLQ for an operator,
    /// so a partition is never silently left out of the catalog.
    pub fn disposition(&self) -> Disposition {
        match self {
            ReadError::Storage(StorageError::NotFound { .. }) | ReadError::Footer { .. } => Disposition::Done,
            ReadError::Storage(e) => Disposition::of_fault(e.retryable()),
        }
    }

    /// Low-cardinality label for `parts_unreadable{reason}`.
    pub fn label(&self) -> &'static str {
        match self {
            ReadError::Storage(StorageError::NotFound { .. }) => "missing",
            ReadError::Storage(_) => "storage",
            ReadError::Footer { source: FooterError::UnsupportedType { .. }, .. } => "unsupported_type",
            ReadError::Footer { .. } => "not_parquet",
        }
    }
}

pub async fn read_columns(store: &dyn ObjectStore, bucket: &str, key: &str) -> Result<Vec<Column>, ReadError> {
    let footer = |source| ReadError::Footer { bucket: bucket.to_owned(), key: key.to_owned(), source };
    let tail = store.get_range(bucket, key, ByteRange::Suffix(TAIL_GUESS)).await?;
    let metadata_len = footer_metadata_len(&tail.bytes).map_err(footer)?;
    let needed = metadata_len as u64 + FOOTER_TAIL_LEN as u64;
    if needed > tail.object_size {
        return Err(footer(FooterError::NotParquet(format!(
            "the footer claims {needed} bytes of a {}-byte object",
            tail.object_size
        ))));
    }
    let have = tail.bytes.len();
    let metadata = match have.checked_sub(needed as usize) {
        Some(start) => tail.bytes.get(start..have - FOOTER_TAIL_LEN).map(<[u8]>::to_vec).unwrap_or_default(),
        None => {
            let end = tail.object_size - FOOTER_TAIL_LEN as u64;
            let range = ByteRange::Span { start: tail.object_size - needed, end };
            store.get_range(bucket, key, range).await?.bytes
        }
    };
    if metadata.len() != metadata_len {
        return Err(footer(FooterError::BadMetadata(format!(
            "read {} of {metadata_len} metadata bytes",
            metadata.len()
        ))));
    }
    columns_from_metadata(&metadata).map_err(footer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(retryable: bool) -> ReadError {
        ReadError::Storage(StorageError::Request {
            operation: "GetObject",
            bucket: "curated".into(),
            key: "tables/t/dt=2026-11-01/p.parquet".into(),
            message: "service error: unhandled error: error parsing XML: no root element".into(),
            retryable,
        })
    }

    #[test]
    fn only_a_missing_or_broken_part_lets_its_message_go() {
        let missing = ReadError::Storage(StorageError::NotFound { bucket: "b".into(), key: "k".into() });
        assert_eq!(missing.disposition(), Disposition::Done);
        assert_eq!(request(true).disposition(), Disposition::Retry);
        // Unreadable answers say nothing about the part: done would leave its
        // partition out of the catalog with no message left to mend it.
        assert_eq!(request(false).disposition(), Disposition::DeadLetter);
        let denied = ReadError::Storage(StorageError::AccessDenied {
            bucket: "b".into(),
            key: "k".into(),
            message: "no".into(),
        });
        assert_eq!(denied.disposition(), Disposition::DeadLetter);
    }
}
