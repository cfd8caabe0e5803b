//! Loading curated Parquet into the warehouse, exactly once.
//!
//! [`plan_loads`] turns a batch of manifests into one [`TableLoad`] per table
//! (pure); a [`Warehouse`] driver applies a load in one transaction: lock the
//! target, leave out files the ledger already holds, evolve the table, copy
//! the rows, apply the feed's write disposition, record every file in
//! `landfall.load_ledger`, commit. [`sql`] builds the SQL for both dialects;
//! [`copy`] encodes Parquet rows for PostgreSQL's COPY; [`postgres`] is the
//! PostgreSQL driver.

pub mod connection;
pub mod copy;
pub mod postgres;
pub mod redshift;
pub mod sql;
pub mod staged;

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::config::{Feed, WriteDisposition};
use crate::manifest::{FileStatus, Manifest};
use crate::schema::SchemaContract;
use sql::{Change, ExistingColumn};
use std::path::Path;

use crate::rejects::{Reject, RejectWriter};
use crate::storage::{ObjectStore, StorageError};
pub use sql::{ColumnNeed, Dialect, SqlType, TableName};

/// How a feed's files are applied; defaults (append, evolve) for a manifest
/// whose feed is no longer in the config, so its data still lands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedRules {
    pub disposition: WriteDisposition,
    pub primary_key: Vec<String>,
    pub order_by: Option<String>,
    pub contract: SchemaContract,
    /// Redshift's distribution key; the other drivers ignore it.
    pub distkey: Option<String>,
    /// Redshift's compound sort key (`dt` when empty).
    pub sortkey: Vec<String>,
}

impl From<&Feed> for FeedRules {
    fn from(feed: &Feed) -> Self {
        FeedRules {
            disposition: feed.write_disposition,
            primary_key: feed.primary_key.clone(),
            order_by: feed.order_by.clone(),
            contract: feed.contract,
            distkey: feed.distkey.clone(),
            sortkey: feed.sortkey.clone(),
        }
    }
}

/// One file of a load, in batch order (`seq`: later files win a merge tie).
#[derive(Debug, Clone)]
pub struct LoadFile {
    pub seq: u32,
    pub manifest_key: String,
    pub manifest: Manifest,
}

impl LoadFile {
    /// The batch's needs of this file alone (for contract checks per file).
    pub fn needs(&self) -> Vec<ColumnNeed> {
        self.manifest
            .schema
            .iter()
            .map(|c| ColumnNeed { name: c.name.clone(), logical: c.data_type, max_bytes: c.max_bytes })
            .collect()
    }
}

/// Everything one transaction applies to one table.
#[derive(Debug, Clone)]
pub struct TableLoad {
    /// Deterministic for the same table and files, so a retried batch is recognisable.
    pub load_id: String,
    pub target: TableName,
    pub feed: String,
    pub rules: FeedRules,
    /// The union of the files' columns, widest type and longest value.
    pub needs: Vec<ColumnNeed>,
    pub files: Vec<LoadFile>,
}

impl TableLoad {
    pub fn file_ids(&self) -> Vec<&str> {
        self.files.iter().map(|f| f.manifest.file_id.as_str()).collect()
    }
}

/// Groups a batch's manifests into loads: one per (table, feed), files in
/// the order they were parsed. A manifest delivered twice in one batch is
/// loaded once; two versions of one source object (same URL, different
/// content) go to successive loads so the earlier is applied first.
pub fn plan_loads(
    schema: &str,
    manifests: Vec<(String, Manifest)>,
    rules: impl Fn(&str) -> FeedRules,
) -> Vec<TableLoad> {
    let mut groups: BTreeMap<(String, String), Vec<(String, Manifest)>> = BTreeMap::new();
    for (key, m) in manifests {
        groups.entry((m.table.clone(), m.feed.clone())).or_default().push((key, m));
    }
    let mut loads = Vec::new();
    for ((table, feed), mut files) in groups {
        files.sort_by(|a, b| (&a.1.parsed_at, &a.1.file_id).cmp(&(&b.1.parsed_at, &b.1.file_id)));
        let mut seen = HashSet::new();
        files.retain(|(_, m)| seen.insert(m.file_id.clone()));
        let mut rounds: Vec<Vec<(String, Manifest)>> = Vec::new();
        for file in files {
            let url = file.1.source.url.clone();
            match rounds.iter_mut().find(|r| r.iter().all(|(_, m)| m.source.url != url)) {
                Some(round) => round.push(file),
                None => rounds.push(vec![file]),
            }
        }
        let target = TableName::new(schema, table);
        for round in rounds {
            let files: Vec<LoadFile> = round
                .into_iter()
                .enumerate()
                .map(|(i, (manifest_key, manifest))| LoadFile {
                    seq: u32::try_from(i).unwrap_or(u32::MAX),
                    manifest_key,
                    manifest,
                })
                .collect();
            loads.push(TableLoad {
                load_id: load_id(&target, &files),
                target: target.clone(),
                feed: feed.clone(),
                rules: rules(&feed),
                needs: union_needs(&files),
                files,
            });
        }
    }
    loads
}

fn load_id(target: &TableName, files: &[LoadFile]) -> String {
    let mut ids: Vec<&str> = files.iter().map(|f| f.manifest.file_id.as_str()).collect();
    ids.sort_unstable();
    let mut h = Sha256::new();
    h.update(target.plain().as_bytes());
    for id in ids {
        h.update([0]);
        h.update(id.as_bytes());
    }
    h.finalize().iter().take(10).map(|b| format!("{b:02x}")).collect()
}

fn union_needs(files: &[LoadFile]) -> Vec<ColumnNeed> {
    let mut needs: Vec<ColumnNeed> = Vec::new();
    for file in files.iter().filter(|f| f.manifest.status != FileStatus::Failed) {
        add_needs(&mut needs, file.needs());
    }
    needs
}

/// Adds columns to a union: a known column takes the wider type and the
/// longer value, a new one is appended (order of first appearance).
pub fn add_needs(union: &mut Vec<ColumnNeed>, needs: Vec<ColumnNeed>) {
    for need in needs {
        match union.iter_mut().find(|n| n.name == need.name) {
            Some(n) => {
                n.logical = sql::join_logical(n.logical, need.logical);
                n.max_bytes = n.max_bytes.max(need.max_bytes);
            }
            None => union.push(need),
        }
    }
}

/// What a load does with its files, decided from the table as it is and
/// the files the ledger holds. Both drivers follow it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadDecision {
    /// Indices (into `TableLoad::files`) of files the ledger does not hold, in batch order.
    pub fresh: Vec<usize>,
    /// Ids of files the ledger already holds (duplicate deliveries, retries after a commit).
    pub already_loaded: Vec<String>,
    /// Per file of the load: why it is refused, if it is.
    pub refused: Vec<Option<String>>,
    /// What the table needs, in order.
    pub changes: Vec<Change>,
    /// The data columns the load carries, with their types once the changes are made.
    pub columns: Vec<(String, SqlType)>,
}

impl LoadDecision {
    /// Files whose rows are copied: fresh, readable, not refused.
    pub fn copied(&self, load: &TableLoad) -> Vec<usize> {
        self.fresh
            .iter()
            .copied()
            .filter(|&i| {
                self.refused.get(i).is_some_and(Option::is_none)
                    && load.files.get(i).is_some_and(|f| f.manifest.status != FileStatus::Failed)
            })
            .collect()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// Decides a load: leaves out the files the ledger holds, applies the feed's
/// schema contract file by file (`freeze` refuses a file that would change a
/// column's type or add one; `discard_columns` loads files without their new
/// columns), and lists the changes the accepted files need.
pub fn decide(
    dialect: Dialect,
    load: &TableLoad,
    existing: &[ExistingColumn],
    already: &HashSet<String>,
) -> LoadDecision {
    let mut decision = LoadDecision { refused: vec![None; load.files.len()], ..LoadDecision::default() };
    for (i, file) in load.files.iter().enumerate() {
        let id = &file.manifest.file_id;
        if already.contains(id) {
            decision.already_loaded.push(id.clone());
        } else {
            decision.fresh.push(i);
        }
    }
    let contract = load.rules.contract;
    let mut accepted: Vec<ColumnNeed> = Vec::new();
    for &i in &decision.fresh {
        let file = &load.files[i];
        if file.manifest.status == FileStatus::Failed {
            continue;
        }
        let forbidden: Vec<String> = sql::changes(dialect, existing, &file.needs())
            .iter()
            .filter(|c| contract == SchemaContract::Freeze && c.is_type_change())
            .map(|c| c.describe(dialect))
            .collect();
        if forbidden.is_empty() {
            add_needs(&mut accepted, file.needs());
        } else {
            decision.refused[i] =
                Some(format!("schema_contract freeze forbids changing the table: {}", forbidden.join("; ")));
        }
    }
    let mut changes = sql::changes(dialect, existing, &accepted);
    if contract == SchemaContract::DiscardColumns {
        changes.retain(|c| !matches!(c, Change::Add { .. }));
    }
    let type_after = |name: &str| -> Option<SqlType> {
        let changed = changes.iter().find_map(|c| match c {
            Change::Add { column, sql_type } if column == name => Some(sql_type.clone()),
            Change::Widen { column, to, .. } if column == name => Some(to.clone()),
            _ => None,
        });
        changed.or_else(|| existing.iter().find(|c| c.name == name).map(|c| c.sql_type.clone()))
    };
    let mut columns: Vec<(String, SqlType)> =
        accepted.iter().filter_map(|n| type_after(&n.name).map(|t| (n.name.clone(), t))).collect();
    if load.rules.disposition == WriteDisposition::Merge {
        // The merge reads its key and ordering columns from staging even
        // when a file lacks them (its rows then have null keys: rejected).
        for c in load.rules.primary_key.iter().chain(load.rules.order_by.as_ref()) {
            if !columns.iter().any(|(n, _)| n == c)
                && let Some(t) = type_after(c)
            {
                columns.push((c.clone(), t));
            }
        }
        let missing: Vec<&str> =
            load.rules.primary_key.iter().map(String::as_str).filter(|k| type_after(k).is_none()).collect();
        if !missing.is_empty() {
            for &i in &decision.fresh {
                if load.files[i].manifest.status != FileStatus::Failed && decision.refused[i].is_none() {
                    decision.refused[i] = Some(format!(
                        "the merge key column(s) {} are in neither the file nor the table",
                        missing.join(", ")
                    ));
                }
            }
        }
    }
    decision.changes = changes;
    decision.columns = columns;
    decision
}

/// What the ledger says of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerStatus {
    /// Every row the manifest lists was loaded (less rows rejected at load).
    Loaded,
    /// The file was only partly readable; what was read is loaded.
    Partial,
    /// parse-file could not read it at all; nothing to load.
    Failed,
    /// The loader refused it (schema contract, or too many data errors).
    Refused,
}

impl LedgerStatus {
    /// A file's status from whether the loader refused it and how parse-file read it.
    pub fn of(refused: bool, parsed: FileStatus) -> LedgerStatus {
        match (refused, parsed) {
            (true, _) => LedgerStatus::Refused,
            (false, FileStatus::Failed) => LedgerStatus::Failed,
            (false, FileStatus::Partial) => LedgerStatus::Partial,
            (false, FileStatus::Parsed) => LedgerStatus::Loaded,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerStatus::Loaded => "loaded",
            LedgerStatus::Partial => "partial",
            LedgerStatus::Failed => "failed",
            LedgerStatus::Refused => "refused",
        }
    }
}

/// One file's outcome in a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileResult {
    pub file_id: String,
    pub manifest_key: String,
    pub status: LedgerStatus,
    pub rows_loaded: u64,
    /// Rejected by parse-file plus rejected at load.
    pub rows_rejected: u64,
    pub reason: Option<String>,
}

/// What a committed load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub load_id: String,
    pub table: String,
    /// Files recorded by this load.
    pub files: Vec<FileResult>,
    /// Files the ledger already held (duplicate deliveries, retries after a commit).
    pub already_loaded: Vec<String>,
    /// Columns added and widened, as the ledger says them.
    pub changes: Vec<String>,
    pub rows_loaded: u64,
    pub rows_rejected_at_load: u64,
    /// Where rows rejected at load (and refused files) are described.
    pub rejects_key: Option<String>,
    /// COPY attempts (more than one when rows had to be set aside).
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("warehouse configuration: {message}")]
    Config { message: String },
    #[error("reading secret {name}: {message}")]
    Secret { name: String, message: String, retryable: bool },
    #[error("connecting to the warehouse: {message}")]
    Connect { message: String, retryable: bool },
    #[error("{table}: {statement}: {message}")]
    Sql { table: String, statement: String, code: Option<String>, message: String, retryable: bool },
    #[error("{table}: reading {key}: {source}")]
    Part { table: String, key: String, source: Box<StorageError> },
    #[error("{table}: writing the load rejects: {source}")]
    Rejects { table: String, source: Box<StorageError> },
    #[error("{table}: part {key} cannot be loaded: {message}")]
    Encode { table: String, key: String, message: String },
    #[error("{table}: scratch space: {source}")]
    Scratch { table: String, source: std::io::Error },
}

impl WarehouseError {
    /// Whether retrying the same batch later can succeed: connection
    /// faults, serialization failures, deadlocks, throttling.
    pub fn retryable(&self) -> bool {
        match self {
            WarehouseError::Config { .. } | WarehouseError::Encode { .. } => false,
            WarehouseError::Secret { retryable, .. }
            | WarehouseError::Connect { retryable, .. }
            | WarehouseError::Sql { retryable, .. } => *retryable,
            WarehouseError::Part { source, .. } | WarehouseError::Rejects { source, .. } => source.retryable(),
            WarehouseError::Scratch { .. } => true,
        }
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

/// A warehouse driver: applies one table's load in one transaction.
#[async_trait]
pub trait Warehouse: Send + Sync {
    fn dialect(&self) -> Dialect;
    async fn load(&self, load: &TableLoad) -> Result<LoadReport, WarehouseError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{MANIFEST_VERSION, SourceObject};
    use crate::schema::{ColumnSchema, LogicalType};

    fn manifest(file_id: &str, url: &str, parsed_at: &str, cols: &[(&str, LogicalType, Option<u32>)]) -> Manifest {
        Manifest {
            manifest_version: MANIFEST_VERSION,
            file_id: file_id.into(),
            source: SourceObject {
                bucket: "landing".into(),
                key: url.into(),
                url: url.into(),
                version_id: None,
                etag: Some(file_id.into()),
                size: 1,
            },
            feed: "clicks".into(),
            table: "clicks".into(),
            status: FileStatus::Parsed,
            error: None,
            input: None,
            schema: cols
                .iter()
                .map(|(n, t, b)| ColumnSchema {
                    name: (*n).into(),
                    source_name: (*n).into(),
                    data_type: *t,
                    nullable: true,
                    max_bytes: *b,
                    declared: false,
                })
                .collect(),
            parts: Vec::new(),
            rows: 1,
            rejected_rows: 0,
            rejects_key: None,
            widenings: Vec::new(),
            discarded_columns: Vec::new(),
            arrival_date: "2026-11-01".into(),
            parsed_at: parsed_at.into(),
            producer: "test".into(),
        }
    }

    #[test]
    fn a_batch_becomes_one_load_per_table_with_the_union_of_columns() {
        let a = manifest("a", "s3://l/1.csv", "2026-11-01T00:00:02Z", &[("id", LogicalType::Int64, None)]);
        let b = manifest(
            "b",
            "s3://l/2.csv",
            "2026-11-01T00:00:01Z",
            &[("id", LogicalType::Float64, None), ("name", LogicalType::String, Some(7))],
        );
        let loads = plan_loads("public", vec![("ka".into(), a), ("kb".into(), b)], |_| FeedRules::default());
        assert_eq!(loads.len(), 1);
        let load = &loads[0];
        assert_eq!(load.file_ids(), vec!["b", "a"], "in the order they were parsed");
        assert_eq!(load.files.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(load.needs[0].logical, LogicalType::Float64);
        assert_eq!(load.needs[1].max_bytes, Some(7));
        assert_eq!(load.target.to_string(), "\"public\".\"clicks\"");
    }

    #[test]
    fn a_manifest_delivered_twice_in_a_batch_is_loaded_once() {
        let a = manifest("a", "s3://l/1.csv", "t1", &[]);
        let loads = plan_loads("public", vec![("k".into(), a.clone()), ("k".into(), a)], |_| FeedRules::default());
        assert_eq!(loads.len(), 1);
        assert_eq!(loads[0].files.len(), 1);
    }

    #[test]
    fn two_versions_of_one_object_go_to_successive_loads() {
        let v1 = manifest("v1", "s3://l/same.csv", "t1", &[]);
        let v2 = manifest("v2", "s3://l/same.csv", "t2", &[]);
        let other = manifest("o", "s3://l/other.csv", "t3", &[]);
        let loads = plan_loads("public", vec![("2".into(), v2), ("1".into(), v1), ("3".into(), other)], |_| {
            FeedRules::default()
        });
        assert_eq!(loads.iter().map(TableLoad::file_ids).collect::<Vec<_>>(), vec![vec!["v1", "o"], vec!["v2"]]);
        assert_ne!(loads[0].load_id, loads[1].load_id);
    }

    #[test]
    fn the_load_id_depends_only_on_the_table_and_its_files() {
        let a = manifest("a", "s3://l/1.csv", "t1", &[]);
        let b = manifest("b", "s3://l/2.csv", "t2", &[]);
        let one =
            plan_loads("public", vec![("a".into(), a.clone()), ("b".into(), b.clone())], |_| FeedRules::default());
        let two = plan_loads("public", vec![("b".into(), b), ("a".into(), a)], |_| FeedRules::default());
        assert_eq!(one[0].load_id, two[0].load_id);
        assert_eq!(one[0].load_id.len(), 20);
    }
}
