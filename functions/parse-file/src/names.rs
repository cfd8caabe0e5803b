//! The table's recorded column map (`_columns/<table>.json`): read before a
//! file is named, extended after, so every file of a table puts a source
//! name's values in the same column.

use landfall::config::WarehouseDriver;
use landfall::convert::NameRules;
use landfall::layout;
use landfall::schema::ColumnMap;
use landfall::storage::{ObjectStore, Precondition, PutOptions, StorageError, Version};
use std::collections::BTreeMap;

/// Conditional writes lost to other files of the same table before the file
/// is named again from the start.
const MERGE_ATTEMPTS: usize = 5;

/// Why the table's column map could not be read or extended.
#[derive(Debug, thiserror::Error)]
pub enum NamesError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Someone wrote something that is not a column map: an operator's
    /// edit gone wrong. Nothing parses until it is fixed (dead letter).
    #[error("the column map s3://{bucket}/{key} is not valid: {source}")]
    Corrupt { bucket: String, key: String, source: serde_json::Error },
    /// Another file of the table recorded the column this one chose, or
    /// kept winning the write: parse the file again against the new map.
    #[error("the column map s3://{bucket}/{key} changed while {table}'s file was named: {reason}")]
    Conflict { bucket: String, key: String, table: String, reason: String },
}

/// The table's map as read, with the ETag a later write is conditional on.
pub struct RecordedNames {
    pub map: ColumnMap,
    etag: Option<String>,
}

impl RecordedNames {
    pub fn rules(&self, driver: WarehouseDriver) -> NameRules {
        NameRules {
            identifier_limit: driver.identifier_limit(),
            text_limit: driver.text_limit(),
            column_map: self.map.columns.clone(),
        }
    }
}

/// Reads the table's map; a table no file named yet has an empty one.
pub async fn read(store: &dyn ObjectStore, bucket: &str, table: &str) -> Result<RecordedNames, NamesError> {
    let key = layout::column_map_key(table);
    let body = match store.get(bucket, &key, Version::default()).await {
        Ok(body) => body,
        Err(StorageError::NotFound { .. }) => return Ok(RecordedNames { map: ColumnMap::default(), etag: None }),
        Err(e) => return Err(e.into()),
    };
    let etag = body.meta.etag.clone();
    let mut bytes = Vec::new();
    let mut reader = body.reader;
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut bytes).await.map_err(|e| StorageError::Request {
        operation: "GetObject",
        bucket: bucket.to_owned(),
        key: key.clone(),
        message: e.to_string(),
        retryable: true,
    })?;
    let map = ColumnMap::from_json(&bytes).map_err(|source| NamesError::Corrupt {
        bucket: bucket.to_owned(),
        key: key.clone(),
        source,
    })?;
    Ok(RecordedNames { map, etag })
}

/// Adds the names a file decided to the table's map, with a write that
/// succeeds only if nobody wrote the map since it was read; on losing that
/// race the map is read again and the names merged, unless another file took
/// one of the same columns (then the file must be named again: a retry).
pub async fn record(
    store: &dyn ObjectStore,
    bucket: &str,
    table: &str,
    read_map: &RecordedNames,
    added: &BTreeMap<String, String>,
) -> Result<(), NamesError> {
    if added.is_empty() {
        return Ok(());
    }
    let key = layout::column_map_key(table);
    let conflict = |reason: String| NamesError::Conflict {
        bucket: bucket.to_owned(),
        key: key.clone(),
        table: table.to_owned(),
        reason,
    };
    let mut current = RecordedNames { map: read_map.map.clone(), etag: read_map.etag.clone() };
    for _ in 0..MERGE_ATTEMPTS {
        let mut next = current.map.clone();
        next.merge(&read_map.map, added).map_err(|e| conflict(e.to_string()))?;
        let precondition = match &current.etag {
            Some(etag) => Precondition::IfMatch(etag.clone()),
            None => Precondition::IfNoneMatch,
        };
        let options =
            PutOptions { content_type: "application/json", metadata: Vec::new(), precondition: Some(precondition) };
        match store.put_with(bucket, &key, next.to_json(), options).await {
            Ok(_) => return Ok(()),
            // Another file of the table wrote the map first: read it again.
            Err(StorageError::PreconditionFailed { .. }) => current = read(store, bucket, table).await?,
            Err(e) => return Err(e.into()),
        }
    }
    Err(conflict(format!("{MERGE_ATTEMPTS} conditional writes lost to other files")))
}
