//! Rows and files a load set aside: written to the curated bucket after the
//! commit as `_rejects/<feed>/load-<load-id>.jsonl.gz`, and (Redshift, where
//! the null-key check runs in SQL) first kept in `landfall.load_rejects`
//! inside the load's transaction.

use std::path::Path;

use crate::lineage::LEDGER_SCHEMA;
use crate::rejects::{Reject, RejectWriter};
use crate::storage::ObjectStore;
use crate::warehouse::sql::{Dialect, TableName};
use crate::warehouse::{TableLoad, WarehouseError};

/// Rows set aside at load (null merge keys), kept beside the ledger.
pub(crate) const LOAD_REJECTS_TABLE: &str = "load_rejects";

pub(crate) fn load_rejects_table() -> TableName {
    TableName::new(LEDGER_SCHEMA, LOAD_REJECTS_TABLE)
}

impl Dialect {
    /// Rows set aside at load: file, line and reason, by load.
    pub fn create_load_rejects(self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n  table_name varchar(512) NOT NULL,\n  load_id varchar(64) NOT NULL,\n  \
             file_url varchar(2048) NOT NULL,\n  line bigint,\n  column_name varchar(256),\n  reason varchar(1024) NOT NULL,\n  \
             rejected_at timestamptz NOT NULL\n)",
            load_rejects_table()
        )
    }
}

/// Writes a load's rejects: the rows set aside at load and a file record for
/// each refused file, to `_rejects/<feed>/load-<load-id>.jsonl.gz`. `None`
/// when there are none.
pub async fn write_load_rejects(
    store: &dyn ObjectStore,
    bucket: &str,
    work_dir: &Path,
    load: &TableLoad,
    mut rejects: Vec<Reject>,
    refused: &[(usize, String)],
) -> Result<Option<String>, WarehouseError> {
    for (i, reason) in refused {
        if let Some(file) = load.files.get(*i) {
            let m = &file.manifest;
            rejects.push(Reject::file_error(&m.source.url, &m.feed, None, format!("not loaded: {reason}")));
        }
    }
    if rejects.is_empty() {
        return Ok(None);
    }
    let key = crate::layout::load_rejects_key(&load.feed, &load.load_id);
    write_rejects(store, bucket, work_dir, &load.target, &key, &rejects).await?;
    Ok(Some(key))
}

/// Writes rejects as one gzipped JSON Lines object.
pub async fn write_rejects(
    store: &dyn ObjectStore,
    bucket: &str,
    work_dir: &Path,
    table: &TableName,
    key: &str,
    rejects: &[Reject],
) -> Result<(), WarehouseError> {
    let scratch = |source| WarehouseError::Scratch { table: table.plain(), source };
    let dir = tempfile::Builder::new().prefix("load-rejects-").tempdir_in(work_dir).map_err(scratch)?;
    let mut writer = RejectWriter::new(dir.path());
    for r in rejects {
        writer.push(r).map_err(scratch)?;
    }
    if let Some(path) = writer.finish().map_err(scratch)? {
        store
            .put_file(bucket, key, &path, "application/gzip")
            .await
            .map_err(|e| WarehouseError::Rejects { table: table.plain(), source: Box::new(e) })?;
    }
    Ok(())
}
