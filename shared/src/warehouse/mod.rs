//! Loading curated Parquet into the warehouse, exactly once.
//!
//! [`plan_loads`] turns a batch of manifests into one [`TableLoad`] per table
//! (pure); a [`Warehouse`] driver applies a load in one transaction: lock the
//! target, leave out files the ledger already holds, evolve the table, copy
//! the rows, apply the feed's write disposition, record every file in
//! `landfall.load_ledger`, commit. [`decide`] is the one decision both
//! drivers follow; [`sql`] builds the SQL for both dialects and [`ledger`]
//! the ledger's; [`postgres`] (tokio-postgres, COPY FROM STDIN) and
//! [`redshift`] (the Data API, a staged plan) are the drivers, and
//! [`from_config`] builds the configured one.

pub mod bookkeeping;
pub mod decision;
pub mod error;
pub mod jobs;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redshift")]
pub mod redshift;
pub mod sql;
pub mod stuck;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::config::{Feed, WriteDisposition};
use crate::manifest::Manifest;
use crate::schema::SchemaContract;
// Only the driver's choice needs the drivers' types.
#[cfg(all(feature = "postgres", feature = "redshift"))]
use {
    crate::config::{WarehouseConfig, WarehouseDriver},
    crate::secrets::SecretsManager,
    crate::storage::ObjectStore,
    std::sync::Arc,
};

pub use bookkeeping::feed_stats::StatsRules;
pub use bookkeeping::load_ledger::{Counted, FileResult, LedgerRow, LedgerStatus, LoadReport};
pub use bookkeeping::load_rejects::{write_load_rejects, write_rejects};
pub use decision::{Held, LoadDecision, decide};
pub use error::WarehouseError;
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
    /// Set for a monitored feed: its loads record `landfall.feed_stats`.
    pub stats: Option<StatsRules>,
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
            stats: feed
                .monitored()
                .then(|| StatsRules { dims: feed.monitor_by.clone(), event_column: feed.partition_column.clone() }),
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

    /// The source objects of the load's files that carry S3's sequencer,
    /// each once: only those can be superseded, so a batch without one (a
    /// replay, a source that sends none) reads no versions.
    pub fn sequenced_source_urls(&self) -> Vec<&str> {
        let urls: std::collections::BTreeSet<&str> = self
            .files
            .iter()
            .filter(|f| f.manifest.source.sequencer.is_some())
            .map(|f| f.manifest.source.url.as_str())
            .collect();
        urls.into_iter().collect()
    }
}

/// Groups a batch's manifests into loads: one per (table, feed), files in
/// the order they were parsed. A manifest delivered twice in one batch is
/// loaded once; two versions of one source object (same URL, different
/// content) go to successive loads so the older is applied first (S3's
/// sequencer says which, [`version_rounds`]).
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
        let round_of = version_rounds(&files);
        let mut rounds: Vec<Vec<(String, Manifest)>> = Vec::new();
        for (file, round) in files.into_iter().zip(round_of) {
            if rounds.len() <= round {
                rounds.resize_with(round + 1, Vec::new);
            }
            rounds[round].push(file);
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

/// Each file's load among the batch's successive loads: the versions of one
/// source object go one a load, oldest first (by S3's sequencer; in parse
/// order where a notice carried none), so a newer version is never applied
/// before an older one of the same batch.
fn version_rounds(files: &[(String, Manifest)]) -> Vec<usize> {
    let mut by_url: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, m)) in files.iter().enumerate() {
        by_url.entry(m.source.url.as_str()).or_default().push(i);
    }
    let mut round_of = vec![0; files.len()];
    for mut versions in by_url.into_values() {
        // A total order: no sequencer sorts first, a stable sort keeps parse order among equals.
        versions.sort_by(|&a, &b| match (&files[a].1.source.sequencer, &files[b].1.source.sequencer) {
            (Some(x), Some(y)) => crate::manifest::sequencer_cmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        });
        for (round, i) in versions.into_iter().enumerate() {
            round_of[i] = round;
        }
    }
    round_of
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
    for file in files.iter().filter(|f| f.manifest.status.has_rows()) {
        add_needs(&mut needs, file.needs());
    }
    needs
}

/// Adds columns to a union: a known column takes the wider type and the
/// longer value, a new one is appended (order of first appearance).
pub(crate) fn add_needs(union: &mut Vec<ColumnNeed>, needs: Vec<ColumnNeed>) {
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

/// A query's rows, each value as text (NULL as `None`).
pub type Rows = Vec<Vec<Option<String>>>;

/// The one way every function and the CLI reach the warehouse: loads,
/// queries and transactions, each statement named (Redshift's
/// `StatementName`, so a retried invocation finds a statement still
/// running) and about a table (the context of its errors), with one error
/// mapping per driver. [`Driver`] is the configured one.
#[async_trait]
pub trait Warehouse: Send + Sync {
    fn dialect(&self) -> Dialect;
    /// Where it loads, for logs (never a password).
    fn describe(&self) -> String;
    /// Applies one table's load in one transaction.
    async fn load(&self, load: &TableLoad) -> Result<LoadReport, WarehouseError>;
    /// A query's rows; `name` names the statement, `about` the table its errors name.
    async fn fetch(&self, about: &TableName, name: &str, sql: &str) -> Result<Rows, WarehouseError>;
    /// Statements as one transaction (on Redshift one BatchExecuteStatement,
    /// so at most [`MAX_TRANSACTION_STATEMENTS`]; a single statement is its
    /// own transaction there, which is how VACUUM runs).
    async fn transaction(&self, about: &TableName, name: &str, statements: Vec<String>) -> Result<(), WarehouseError>;

    /// A read-only query about landfall's own tables (the operator CLI, the monitor).
    async fn query(&self, sql: &str) -> Result<Rows, WarehouseError> {
        self.fetch(&TableName::ledger(), &statement_name("query"), sql).await
    }

    /// A read-only query about one of landfall's own tables, `None` when the
    /// table does not exist yet (no load, failure or alert was ever recorded).
    async fn query_if_present(&self, sql: &str) -> Result<Option<Rows>, WarehouseError> {
        match self.query(sql).await {
            Ok(rows) => Ok(Some(rows)),
            Err(e) if e.is_undefined_table() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Bookkeeping statements in one transaction (the monitor's alerts and digests).
    async fn execute(&self, statements: Vec<String>) -> Result<(), WarehouseError> {
        if statements.is_empty() {
            return Ok(());
        }
        self.transaction(&TableName::ledger(), &statement_name("execute"), statements).await
    }

    /// Whether a table or view exists.
    async fn exists(&self, table: &TableName, name: &str) -> Result<bool, WarehouseError> {
        let d = self.dialect();
        let sql = format!(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = {} AND table_name = {}",
            d.literal(&table.schema),
            d.literal(&table.table)
        );
        Ok(!self.fetch(table, name, &sql).await?.is_empty())
    }
}

/// A statement name unique to this moment, for statements no retry looks for.
fn statement_name(what: &str) -> String {
    format!("landfall-{what}-{}", chrono::Utc::now().timestamp_micros())
}

#[cfg(all(feature = "postgres", feature = "redshift"))]
/// The configured driver. Most callers use it as a [`Warehouse`]; the work
/// only one engine can do (PostgreSQL's `COPY ... TO STDOUT` inside a held
/// transaction, Redshift's `UNLOAD`) matches on it.
#[derive(Clone)]
pub enum Driver {
    Postgres(Arc<postgres::PostgresWarehouse>),
    Redshift(Arc<redshift::RedshiftWarehouse>),
}

#[cfg(all(feature = "postgres", feature = "redshift"))]
impl Driver {
    fn inner(&self) -> &dyn Warehouse {
        match self {
            Driver::Postgres(w) => w.as_ref(),
            Driver::Redshift(w) => w.as_ref(),
        }
    }
}

#[cfg(all(feature = "postgres", feature = "redshift"))]
#[async_trait]
impl Warehouse for Driver {
    fn dialect(&self) -> Dialect {
        self.inner().dialect()
    }

    fn describe(&self) -> String {
        self.inner().describe()
    }

    async fn load(&self, load: &TableLoad) -> Result<LoadReport, WarehouseError> {
        self.inner().load(load).await
    }

    async fn fetch(&self, about: &TableName, name: &str, sql: &str) -> Result<Rows, WarehouseError> {
        self.inner().fetch(about, name, sql).await
    }

    async fn transaction(&self, about: &TableName, name: &str, statements: Vec<String>) -> Result<(), WarehouseError> {
        self.inner().transaction(about, name, statements).await
    }
}

/// Statements one [`Warehouse::execute`] takes: the Data API's limit per batch.
pub const MAX_TRANSACTION_STATEMENTS: usize = 40;

/// What a driver needs besides the config's `warehouse:` section, read from
/// the function's environment once at cold start.
#[derive(Debug, Clone)]
pub struct DriverSettings {
    /// Where the parts are read from and the load rejects written to.
    pub curated_bucket: String,
    /// Scratch space (`/tmp` in Lambda).
    pub work_dir: PathBuf,
    /// PostgreSQL: a URL that wins over `warehouse.url` (`LANDFALL_WAREHOUSE_URL`).
    pub url: Option<String>,
    /// PostgreSQL: a secret that wins over `warehouse.password_secret`.
    pub password_secret: Option<String>,
    /// Redshift: how long to wait on one statement (under the function's timeout).
    pub statement_deadline: Option<Duration>,
}

impl DriverSettings {
    /// The settings from the function's environment: `LANDFALL_CURATED_BUCKET`,
    /// `LANDFALL_WORK_DIR`, the PostgreSQL URL and secret overrides and
    /// `LANDFALL_STATEMENT_DEADLINE_SECONDS` (Terraform sets it under the
    /// function's timeout), read once at cold start.
    pub fn from_env() -> Result<DriverSettings, crate::env::EnvError> {
        const DEADLINE: &str = "LANDFALL_STATEMENT_DEADLINE_SECONDS";
        let statement_deadline = crate::env::optional(DEADLINE)
            .map(|secs| {
                secs.parse().map(Duration::from_secs).map_err(|_| crate::env::EnvError::Invalid {
                    name: DEADLINE,
                    message: format!("a number of seconds, not {secs:?}"),
                })
            })
            .transpose()?;
        Ok(DriverSettings {
            curated_bucket: crate::env::required("LANDFALL_CURATED_BUCKET")?,
            work_dir: crate::lambda::work_dir(),
            url: crate::env::optional(crate::config::URL_ENV),
            password_secret: crate::env::optional(crate::config::SECRET_ENV),
            statement_deadline,
        })
    }

    /// The settings for a tool run outside Lambda (the CLI, the local
    /// stack): the same URL and secret overrides a function reads, else
    /// `default_url` (the local stack's PostgreSQL), and no statement
    /// deadline (an operator waits for their own command).
    pub fn for_tool(curated_bucket: String, work_dir: PathBuf, default_url: Option<String>) -> DriverSettings {
        DriverSettings {
            curated_bucket,
            work_dir,
            url: crate::env::optional(crate::config::URL_ENV).or(default_url),
            password_secret: crate::env::optional(crate::config::SECRET_ENV),
            statement_deadline: None,
        }
    }
}

/// The configured driver: `postgres` (the URL checked and its password
/// fetched from Secrets Manager now, so a bad setting fails the cold start)
/// or `redshift` (a Data API client from the SDK configuration).
#[cfg(all(feature = "postgres", feature = "redshift"))]
pub async fn from_config(
    warehouse: &WarehouseConfig,
    sdk: &aws_config::SdkConfig,
    store: Arc<dyn ObjectStore>,
    settings: DriverSettings,
) -> Result<Driver, WarehouseError> {
    match (&warehouse.driver, &warehouse.redshift) {
        (WarehouseDriver::Redshift, Some(config)) => {
            let mut polling = redshift::Polling::default();
            if let Some(deadline) = settings.statement_deadline {
                polling.deadline = deadline;
            }
            let api = redshift::SdkDataApi::from_sdk(sdk, config.clone());
            let settings = redshift::RedshiftSettings {
                curated_bucket: settings.curated_bucket,
                work_dir: settings.work_dir,
                polling,
            };
            Ok(Driver::Redshift(Arc::new(redshift::RedshiftWarehouse::new(Arc::new(api), store, config, settings))))
        }
        (WarehouseDriver::Redshift, None) => Err(WarehouseError::Config {
            message: "driver: redshift without its settings (workgroup or cluster, database, copy_role_arn)".into(),
        }),
        (WarehouseDriver::Postgres, _) => {
            let (url, secret) =
                postgres::connection::connection_settings(warehouse, settings.url, settings.password_secret)?;
            let target = postgres::PostgresTarget::resolve(&url, secret.as_deref(), &SecretsManager::new(sdk)).await?;
            let settings =
                postgres::LoaderSettings { curated_bucket: settings.curated_bucket, work_dir: settings.work_dir };
            Ok(Driver::Postgres(Arc::new(postgres::PostgresWarehouse::new(target, store, settings))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{FileStatus, MANIFEST_VERSION, SourceObject};
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
                sequencer: None,
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
    fn the_older_version_by_sequencer_loads_first_even_when_it_was_parsed_last() {
        let mut v1 = manifest("v1", "s3://l/same.csv", "t2", &[]);
        v1.source.sequencer = Some("0055AED6DCD90281E5".into());
        let mut v2 = manifest("v2", "s3://l/same.csv", "t1", &[]);
        v2.source.sequencer = Some("0055AED6DCD90281E6".into());
        let loads = plan_loads("public", vec![("2".into(), v2), ("1".into(), v1)], |_| FeedRules::default());
        assert_eq!(loads.iter().map(TableLoad::file_ids).collect::<Vec<_>>(), vec![vec!["v1"], vec!["v2"]]);
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

    fn wide(file_id: &str, parsed_at: &str, prefix: &str, n: usize) -> Manifest {
        let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
        let cols: Vec<(&str, LogicalType, Option<u32>)> =
            names.iter().map(|c| (c.as_str(), LogicalType::String, Some(4))).collect();
        manifest(file_id, &format!("s3://l/{file_id}.csv"), parsed_at, &cols)
    }

    #[test]
    fn a_file_that_would_take_its_table_past_1600_columns_is_refused_and_the_others_load() {
        let existing: Vec<sql::ExistingColumn> =
            (0..1503).map(|i| sql::ExistingColumn { name: format!("a{i}"), sql_type: SqlType::Varchar(32) }).collect();
        let too_wide = wide("wide", "t1", "b", 200);
        let narrow = manifest("narrow", "s3://l/n.csv", "t2", &[("a1", LogicalType::String, Some(4))]);
        let loads = plan_loads("public", vec![("w".into(), too_wide), ("n".into(), narrow)], |_| FeedRules::default());
        let decision = decide(Dialect::Postgres, &loads[0], &existing, &Held::default());
        let reason = decision.refused[0].as_deref().unwrap_or_default();
        assert!(reason.contains("200 new columns") && reason.contains("1596"), "{reason}");
        assert_eq!(decision.refused[1], None);
        assert!(decision.changes.is_empty(), "no DDL for the refused file: {:?}", decision.changes);
    }

    #[test]
    fn a_file_column_sized_for_1024_bytes_is_widened_to_hold_any_s3_url() {
        let existing =
            vec![sql::ExistingColumn { name: crate::lineage::FILE_COLUMN.into(), sql_type: SqlType::Varchar(1024) }];
        let loads = plan_loads("public", vec![("a".into(), manifest("a", "s3://l/1.csv", "t1", &[]))], |_| {
            FeedRules::default()
        });
        let decision = decide(Dialect::Redshift, &loads[0], &existing, &Held::default());
        assert_eq!(
            decision.changes,
            vec![sql::Change::Widen {
                column: crate::lineage::FILE_COLUMN.into(),
                from: SqlType::Varchar(1024),
                to: SqlType::Varchar(crate::lineage::FILE_URL_MAX_BYTES),
            }]
        );
    }

    #[test]
    fn on_redshift_a_file_that_would_retype_a_key_column_is_refused_with_the_reason() {
        use crate::warehouse::sql::{Dialect, ExistingColumn, SqlType};
        let tz = manifest("tz", "s3://l/1.csv", "t1", &[("ordered_at", LogicalType::TimestampTz, None)]);
        let wide = manifest("wide", "s3://l/2.csv", "t2", &[("note", LogicalType::String, Some(40))]);
        let rules = FeedRules { distkey: Some("ordered_at".into()), ..FeedRules::default() };
        let load = plan_loads("public", vec![("1".into(), tz), ("2".into(), wide)], |_| rules.clone()).remove(0);
        let existing = vec![
            ExistingColumn { name: "ordered_at".into(), sql_type: SqlType::Timestamp },
            ExistingColumn { name: "note".into(), sql_type: SqlType::BigInt },
        ];
        let d = decide(Dialect::Redshift, &load, &existing, &Held::default());
        let reason = d.refused[0].clone().unwrap_or_default();
        assert!(reason.starts_with("column ordered_at is the table's distribution key"), "{reason}");
        assert!(reason.contains("from timestamp to timestamptz"), "{reason}");
        assert_eq!(d.refused[1], None, "a column that is no key is widened");
        assert!(d.changes.iter().all(|c| c.column() == "note"), "{:?}", d.changes);
        let pg = decide(Dialect::Postgres, &load, &existing, &Held::default());
        assert_eq!(pg.refused, vec![None, None], "PostgreSQL changes a key's type in place");
    }

    #[test]
    fn a_version_older_than_the_one_the_table_holds_is_superseded_and_changes_nothing() {
        let mut v1 = manifest("v1", "s3://l/k.csv", "t2", &[("only_in_v1", LogicalType::String, Some(3))]);
        v1.source.sequencer = Some("0A".into());
        let load = plan_loads("public", vec![("1".into(), v1)], |_| FeedRules::default()).remove(0);
        let held = Held { newest: [("s3://l/k.csv".to_owned(), "000B".to_owned())].into(), ..Held::default() };
        let d = decide(Dialect::Postgres, &load, &[], &held);
        assert_eq!((d.fresh.clone(), d.superseded.clone()), (vec![0], vec![true]));
        assert!(d.refused[0].as_deref().unwrap_or_default().contains("sequencer 000B, this one 0A"), "{:?}", d.refused);
        assert!(d.changes.is_empty() && d.copied(&load).is_empty());
        let row = d.ledger_row(&load, 0, d.refused[0].as_deref(), &[], None).map(|r| r.status);
        assert_eq!(row, Some(LedgerStatus::Superseded));
        let newer = Held { newest: [("s3://l/k.csv".to_owned(), "09".to_owned())].into(), ..Held::default() };
        assert_eq!(decide(Dialect::Postgres, &load, &[], &newer).superseded, vec![false]);
    }
}
