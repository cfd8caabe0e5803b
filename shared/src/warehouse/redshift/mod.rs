//! The Redshift driver, through the Redshift Data API: no VPC, no
//! connection, IAM or Secrets Manager auth.
//!
//! A load runs the staged [`plan`]:
//! 1. If a statement of this load (named `landfall-<load id>-…`) is still
//!    running, from an invocation that timed out or crashed, wait for it
//!    instead of starting a duplicate (ListStatements).
//! 2. Read the table's columns and the ledger; create what is missing;
//!    [`decide`](super::decide) as the PostgreSQL driver does.
//! 3. Evolve the table, each change on its own: Redshift runs
//!    `ALTER COLUMN ... TYPE` only outside a transaction block, and takes
//!    one `ADD COLUMN` per statement. A change only ever adds a nullable
//!    column or widens one, so making it before the load's transaction is
//!    safe when the load then fails: the retry finds it made.
//! 4. Read each part's footer (one ranged GET), group parts by column
//!    layout and `dt`, write one COPY manifest per group to
//!    `_copy/<table>/<load id>/`.
//! 5. Stage in one Data API session (temp tables live as long as it):
//!    BatchExecuteStatement calls of at most 40 statements, none over
//!    100 KB. A COPY that fails on a part's data sets that file aside with
//!    the row, column, type and reason from `sys_load_error_detail` (and
//!    `stl_load_errors` on provisioned clusters), and the load is staged
//!    again without it.
//! 6. Apply in one BatchExecuteStatement: one transaction, statements that
//!    do not grow with the batch.
//! 7. Report from the ledger by load id, and write the load's rejects.
//!
//! Every call is polled with DescribeStatement, backing off, until
//! FINISHED, FAILED or ABORTED. Credentials never appear in SQL: the COPY
//! names an IAM role, the Data API call a secret ARN or database user.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures_util::StreamExt;
use tracing::{info, warn};

pub mod api;
pub mod errors;
pub mod plan;

pub use api::{ApiError, DataApi, Described, SdkDataApi, Session, StatementStatus, SubStatement};
use errors::blame;
pub use errors::{LoadErrorDetail, is_load_error, retryable_statement_error, sqlstate_of};
use plan::{RawGroup, StagedLoad};

use super::bookkeeping::load_ledger::{LedgerRow, newest_versions};
use super::bookkeeping::load_rejects::load_rejects_table;
use super::sql::{Dialect, ExistingColumn, SqlType, TableName};
use super::{FileResult, Held, LedgerStatus, LoadDecision, LoadReport, Rows, TableLoad, Warehouse, WarehouseError};
use crate::catalog::footer::{ReadError, read_columns};
use crate::config::{RedshiftConfig, RedshiftEndpoint};
use crate::disposition::Disposition;
use crate::layout;
use crate::lineage::LEDGER_SCHEMA;
use crate::rejects::{Reject, RejectKind};
use crate::retry::{Backoff, Jitter};
use crate::storage::ObjectStore;

/// Files set aside for data errors before the load gives up on the batch.
pub(crate) const MAX_FILE_REFUSALS: usize = 10;
/// Prefix of the COPY manifests in the curated bucket (the COPY role reads it).
pub const COPY_PREFIX: &str = "_copy/";
/// Footers read at once.
const FOOTER_CONCURRENCY: usize = 16;
/// File ids in one ledger query: 36 bytes each as a quoted literal in a
/// list (32 hex digits), so 1,000 take about 36 KB of the Data API's 100 KB
/// per statement; one IN list reached the limit at about 2,700 files.
pub const IDS_PER_QUERY: usize = 1000;

/// How the driver waits and retries.
#[derive(Debug, Clone)]
pub struct Polling {
    /// First DescribeStatement wait; doubles (with jitter) up to `max_wait`.
    pub first_wait: Duration,
    pub max_wait: Duration,
    /// A statement running longer than this fails the load (retryable).
    pub deadline: Duration,
    /// Attempts of a call the Data API refused with a retryable error.
    pub submit_attempts: u32,
    pub session_keep_alive_secs: i32,
}

impl Polling {
    fn backoff(&self) -> Backoff {
        Backoff::new(self.first_wait, self.max_wait)
    }
}

impl Default for Polling {
    fn default() -> Self {
        Polling {
            first_wait: Duration::from_millis(200),
            max_wait: Duration::from_secs(5),
            deadline: Duration::from_secs(840),
            submit_attempts: 5,
            session_keep_alive_secs: 600,
        }
    }
}

/// Settings the driver needs besides the Data API.
#[derive(Debug, Clone)]
pub struct RedshiftSettings {
    pub curated_bucket: String,
    /// Scratch space for the rejects file.
    pub work_dir: std::path::PathBuf,
    pub polling: Polling,
}

pub struct RedshiftWarehouse {
    api: Arc<dyn DataApi>,
    store: Arc<dyn ObjectStore>,
    settings: RedshiftSettings,
    /// The role COPY names.
    copy_role_arn: String,
    /// A provisioned cluster also logs COPY errors in `stl_load_errors`.
    provisioned: bool,
    /// The workgroup or cluster and database, for logs.
    target: String,
}

/// A failed statement, as the driver sees it.
#[derive(Debug, Clone)]
struct Failure {
    described: Described,
    message: String,
}

/// Why staging failed.
enum StageFailure {
    /// A part's data could not be copied: set its file aside.
    File {
        file: usize,
        reason: String,
    },
    Fatal(WarehouseError),
}

/// A part of a copied file and its columns as COPY reads them.
#[derive(Debug, Clone)]
pub(crate) struct PartLayout {
    pub(crate) file: usize,
    pub(crate) url: String,
    dt: String,
    bytes: u64,
    columns: Vec<(String, SqlType)>,
}

impl RedshiftWarehouse {
    pub fn new(
        api: Arc<dyn DataApi>,
        store: Arc<dyn ObjectStore>,
        redshift: &RedshiftConfig,
        settings: RedshiftSettings,
    ) -> Self {
        RedshiftWarehouse {
            api,
            store,
            settings,
            copy_role_arn: redshift.copy_role_arn.clone(),
            provisioned: matches!(redshift.endpoint, RedshiftEndpoint::Cluster(_)),
            target: redshift.display(),
        }
    }

    fn name(load: &TableLoad, step: &str) -> String {
        format!("landfall-{}-{step}", load.load_id)
    }

    /// Submits with retries on throttling and the active-statement limits.
    async fn submit(
        &self,
        table: &TableName,
        sqls: Vec<String>,
        name: &str,
        session: Session,
    ) -> Result<(String, Option<String>), WarehouseError> {
        let mut jitter = Jitter::from_clock();
        let p = &self.settings.polling;
        let mut attempt = 0;
        // One token for every attempt: a submit whose answer was lost is not run again.
        let token = api::client_token(name, &sqls);
        loop {
            match self.api.submit(sqls.clone(), name, session.clone(), &token).await {
                Ok(r) => return Ok(r),
                Err(e) if e.retryable && attempt + 1 < p.submit_attempts => {
                    warn!(table = %table.plain(), statement = name, error = %e, attempt, "Data API refused the call; retrying");
                    tokio::time::sleep(p.backoff().retry_wait(attempt, &mut jitter)).await;
                    attempt += 1;
                }
                Err(e) => return Err(api_fault(table, name, e)),
            }
        }
    }

    /// Polls until the statement ends; `Err(Failure)` when it FAILED or was ABORTED.
    async fn wait(&self, table: &TableName, id: &str) -> Result<Result<Described, Failure>, WarehouseError> {
        let p = &self.settings.polling;
        let started = tokio::time::Instant::now();
        let mut jitter = Jitter::from_clock();
        let mut faults = 0u32;
        let mut poll = 0u32;
        loop {
            match self.api.describe(id).await {
                Ok(d) => match d.status {
                    StatementStatus::Finished => return Ok(Ok(d)),
                    StatementStatus::Failed | StatementStatus::Aborted => {
                        let message = d
                            .error
                            .clone()
                            .or_else(|| d.subs.iter().find_map(|s| s.error.clone()))
                            .unwrap_or_else(|| format!("statement {id} was {:?}", d.status).to_lowercase());
                        return Ok(Err(Failure { described: d, message }));
                    }
                    _ => {}
                },
                Err(e) if e.retryable && faults + 1 < p.submit_attempts => faults += 1,
                Err(e) => return Err(api_fault(table, "DescribeStatement", e)),
            }
            if started.elapsed() > p.deadline {
                return Err(WarehouseError::Timeout {
                    table: table.plain(),
                    statement: id.to_owned(),
                    waited: p.deadline,
                });
            }
            tokio::time::sleep(p.backoff().poll_wait(poll, &mut jitter)).await;
            poll = poll.saturating_add(1);
        }
    }

    /// Runs statements as one transaction and waits; a failure is an error.
    async fn run(
        &self,
        table: &TableName,
        sqls: Vec<String>,
        name: &str,
        session: Session,
    ) -> Result<Described, WarehouseError> {
        let (id, _) = self.submit(table, sqls, name, session).await?;
        match self.wait(table, &id).await? {
            Ok(d) => Ok(d),
            Err(f) => Err(statement_failure(table, name, &f)),
        }
    }

    /// A query's rows.
    async fn query(
        &self,
        table: &TableName,
        sql: String,
        name: &str,
    ) -> Result<Vec<Vec<Option<String>>>, WarehouseError> {
        // One statement runs through ExecuteStatement: its result has the statement's own id.
        let d = self.run(table, vec![sql], name, Session::None).await?;
        self.api.rows(&d.id).await.map_err(|e| api_fault(table, "GetStatementResult", e))
    }

    /// The role COPY and UNLOAD name (jobs' exports and archives unload with it).
    pub fn copy_role_arn(&self) -> &str {
        &self.copy_role_arn
    }

    async fn existing_columns(&self, load: &TableLoad) -> Result<(Vec<ExistingColumn>, bool), WarehouseError> {
        let t = &load.target;
        let d = Dialect::Redshift;
        let ledger = TableName::ledger();
        let sql = format!(
            "SELECT table_schema, table_name, column_name, data_type, character_maximum_length, numeric_precision, \
             numeric_scale FROM svv_columns WHERE (table_schema = {} AND table_name = {}) OR (table_schema = {} AND \
             table_name = {}) ORDER BY table_schema, table_name, ordinal_position",
            d.literal(&t.schema),
            d.literal(&t.table),
            d.literal(&ledger.schema),
            d.literal(&ledger.table),
        );
        let rows = self.query(t, sql, &Self::name(load, "columns")).await?;
        let mut columns = Vec::new();
        let mut ledger_exists = false;
        for r in rows {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            if text(0) == ledger.schema && text(1) == ledger.table {
                ledger_exists = true;
                continue;
            }
            columns.push(ExistingColumn { name: text(2), sql_type: svv_type(&text(3), &text(4), &text(5), &text(6)) });
        }
        Ok((columns, ledger_exists))
    }

    async fn prepare(&self, load: &TableLoad, decision_columns: &[(String, SqlType)]) -> Result<(), WarehouseError> {
        let d = Dialect::Redshift;
        let t = &load.target;
        let mut sqls = vec![d.create_schema(LEDGER_SCHEMA), d.create_ledger(), d.create_load_rejects()];
        sqls.extend(d.create_feed_stats());
        sqls.extend([d.create_schema(&t.schema), d.create_table_keyed(t, decision_columns, &load.rules)]);
        self.run(t, sqls, &Self::name(load, "prepare"), Session::None).await?;
        info!(table = %t.plain(), "prepared");
        Ok(())
    }

    /// The ledger's `columns` for the batch's files, `condition` added: one
    /// query per [`IDS_PER_QUERY`] files, so no statement passes the Data
    /// API's 100 KB however big the batch is.
    async fn ledger_rows(
        &self,
        load: &TableLoad,
        step: &str,
        columns: &str,
        condition: Option<String>,
    ) -> Result<Rows, WarehouseError> {
        let d = Dialect::Redshift;
        let mut rows = Vec::new();
        for (i, ids) in load.file_ids().chunks(IDS_PER_QUERY).enumerate() {
            let mut sql = d.select_ledger(&load.target, ids, columns);
            if let Some(c) = &condition {
                sql = format!("{sql} AND {c}");
            }
            rows.extend(self.query(&load.target, sql, &Self::name(load, &format!("{step}-{i}"))).await?);
        }
        Ok(rows)
    }

    /// The batch's files the ledger settles (loaded, partial): file id -> the load id that recorded it.
    async fn recorded(&self, load: &TableLoad) -> Result<HashMap<String, String>, WarehouseError> {
        let settled = Dialect::Redshift.settled_condition("");
        let rows = self.ledger_rows(load, "ledger", "file_id, load_id", Some(settled)).await?;
        Ok(rows.into_iter().filter_map(|r| Some((r.first()?.clone()?, r.get(1)?.clone()?))).collect())
    }

    /// The newest version in the table of each of the batch's source objects.
    /// Read before the apply's lock: a newer version loaded in between by
    /// another loader is not seen (PostgreSQL reads it under the lock).
    async fn newest_versions(&self, load: &TableLoad) -> Result<HashMap<String, String>, WarehouseError> {
        let mut rows = Vec::new();
        for (i, sql) in
            Dialect::Redshift.select_versions(&load.target, &load.sequenced_source_urls()).into_iter().enumerate()
        {
            rows.extend(self.query(&load.target, sql, &Self::name(load, &format!("versions-{i}"))).await?);
        }
        Ok(newest_versions(&rows))
    }

    async fn evolve(&self, load: &TableLoad, decision: &LoadDecision) -> Result<Vec<String>, WarehouseError> {
        let d = Dialect::Redshift;
        let t = &load.target;
        let mut changes = Vec::new();
        for (i, change) in decision.changes.iter().enumerate() {
            let statements = d.apply_change(t, change);
            self.run(t, statements, &Self::name(load, &format!("evolve-{i}")), Session::None).await?;
            info!(table = %t.plain(), change = %change.describe(d), "table evolved");
            changes.push(change.describe(d));
        }
        Ok(changes)
    }

    /// Reads the footers of the files' parts (one ranged GET each, a few at
    /// a time). Returns the parts, and the files with a part that is missing
    /// or not Parquet, with the reason.
    async fn read_layouts(
        &self,
        load: &TableLoad,
        files: &[usize],
    ) -> Result<(Vec<PartLayout>, Vec<(usize, String)>), WarehouseError> {
        let bucket = &self.settings.curated_bucket;
        let jobs: Vec<(usize, String, String, u64)> = files
            .iter()
            .flat_map(|&i| load.files[i].manifest.parts.iter().map(move |p| (i, p.key.clone(), p.dt.clone(), p.bytes)))
            .collect();
        let store = Arc::clone(&self.store);
        let results: Vec<_> = futures_util::stream::iter(jobs.into_iter().map(|(i, key, dt, bytes)| {
            let store = Arc::clone(&store);
            let bucket = bucket.clone();
            async move {
                let cols = read_columns(store.as_ref(), &bucket, &key).await;
                (i, key, dt, bytes, cols)
            }
        }))
        .buffered(FOOTER_CONCURRENCY)
        .collect()
        .await;
        let mut parts = Vec::new();
        let mut unreadable: Vec<(usize, String)> = Vec::new();
        for (file, key, dt, bytes, cols) in results {
            match cols {
                Ok(cols) => parts.push(PartLayout {
                    file,
                    url: layout::s3_url(bucket, &key),
                    dt,
                    bytes,
                    columns: cols.iter().map(|c| (c.name.clone(), plan::raw_type(&c.data_type))).collect(),
                }),
                Err(e) if e.disposition() != Disposition::Done => {
                    let ReadError::Storage(source) = e else {
                        return Err(WarehouseError::Encode { table: load.target.plain(), key, message: e.to_string() });
                    };
                    return Err(WarehouseError::Part { table: load.target.plain(), key, source: Box::new(source) });
                }
                Err(e) if !unreadable.iter().any(|(f, _)| *f == file) => {
                    unreadable.push((file, format!("part {key} cannot be read: {e}")))
                }
                Err(_) => {}
            }
        }
        Ok((parts, unreadable))
    }

    /// Groups the parts by column layout and `dt` and writes one COPY
    /// manifest per group.
    async fn write_groups(&self, load: &TableLoad, parts: &[&PartLayout]) -> Result<Vec<RawGroup>, WarehouseError> {
        let bucket = &self.settings.curated_bucket;
        // (the group, its parts' URLs and lengths)
        let mut by_layout: Vec<(RawGroup, Vec<(String, u64)>)> = Vec::new();
        for p in parts {
            let entry = (p.url.clone(), p.bytes);
            match by_layout.iter_mut().find(|(g, _)| g.columns == p.columns && g.dt == p.dt) {
                Some((_, entries)) => entries.push(entry),
                None => by_layout.push((
                    RawGroup { columns: p.columns.clone(), dt: p.dt.clone(), manifest_url: String::new() },
                    vec![entry],
                )),
            }
        }
        let mut groups = Vec::new();
        for (n, (mut group, parts)) in by_layout.into_iter().enumerate() {
            let key = format!("{COPY_PREFIX}{}/{}/{n}.manifest", load.target.table, load.load_id);
            self.store
                .put_bytes(bucket, &key, plan::copy_manifest(&parts).into_bytes(), "application/json")
                .await
                .map_err(|e| WarehouseError::Part {
                    table: load.target.plain(),
                    key: key.clone(),
                    source: Box::new(e),
                })?;
            group.manifest_url = layout::s3_url(bucket, &key);
            groups.push(group);
        }
        Ok(groups)
    }

    /// The COPY's load errors, from the system tables. The Data API's
    /// `RedshiftQueryId` is `STL_QUERY`'s query id (DescribeStatement:
    /// <https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_DescribeStatement.html>),
    /// which on a provisioned cluster is not the `query_id` of the SYS views:
    /// there `stl_load_errors` is read by it, and `sys_load_error_detail`
    /// (which also has the COPYs run on concurrency scaling) by the
    /// transaction `STL_QUERY` gives it. Serverless has only the SYS views,
    /// whose `query_id` it gives.
    async fn load_errors(&self, table: &TableName, load: &TableLoad, query_id: i64) -> Vec<LoadErrorDetail> {
        let sys = |matching: String| {
            format!(
                "SELECT TRIM(file_name), line_number, TRIM(column_name), TRIM(column_type), TRIM(error_message) \
                 FROM sys_load_error_detail WHERE {matching} ORDER BY start_time LIMIT 20"
            )
        };
        let sqls = if self.provisioned {
            vec![
                format!(
                    "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(type), TRIM(err_reason) \
                     FROM stl_load_errors WHERE query = {query_id} ORDER BY starttime LIMIT 20"
                ),
                sys(format!("transaction_id = (SELECT MAX(xid) FROM stl_query WHERE query = {query_id})")),
            ]
        } else {
            vec![sys(format!("query_id = {query_id}"))]
        };
        for (n, sql) in sqls.into_iter().enumerate() {
            match self.query(table, sql, &Self::name(load, &format!("load-errors-{n}"))).await {
                Ok(rows) if !rows.is_empty() => {
                    return rows
                        .into_iter()
                        .map(|r| {
                            let text = |i: usize| r.get(i).cloned().flatten().filter(|s| !s.is_empty());
                            LoadErrorDetail {
                                file: text(0).unwrap_or_default(),
                                line: text(1).and_then(|l| l.parse().ok()),
                                column: text(2),
                                column_type: text(3),
                                reason: text(4).unwrap_or_else(|| "no reason given".into()),
                            }
                        })
                        .collect();
                }
                Ok(_) => {}
                Err(e) => warn!(table = %table.plain(), error = %e, "reading the load errors failed"),
            }
        }
        Vec::new()
    }

    /// Stage the load; a data error names the file to set aside.
    async fn stage(
        &self,
        load: &TableLoad,
        staged: &StagedLoad<'_>,
        parts: &[&PartLayout],
    ) -> Result<String, StageFailure> {
        let t = &load.target;
        let d = Dialect::Redshift;
        let batches = plan::batches(staged.stage_statements(d))
            .map_err(|e| StageFailure::Fatal(WarehouseError::Invariant { table: t.plain(), message: e.to_string() }))?;
        let mut session: Option<String> = None;
        for (n, sqls) in batches.into_iter().enumerate() {
            let mode = match &session {
                Some(id) => Session::Use(id.clone()),
                None => Session::Open { keep_alive_secs: self.settings.polling.session_keep_alive_secs },
            };
            let name = Self::name(load, &format!("stage-{n}"));
            let (id, sid) = self.submit(t, sqls, &name, mode).await.map_err(StageFailure::Fatal)?;
            let described = self.wait(t, &id).await.map_err(StageFailure::Fatal)?;
            let described = match described {
                Ok(d) => d,
                Err(f) if is_load_error(&f.message) => {
                    let details = match f.described.failed_query_id() {
                        Some(q) => self.load_errors(t, load, q).await,
                        None => Vec::new(),
                    };
                    let blamed = blame(&details, &f.message, parts);
                    return Err(match blamed {
                        Some((file, reason)) => {
                            warn!(table = %t.plain(), file = %load.files[file].manifest.source.url, %reason, "COPY refused a file's data; setting it aside");
                            StageFailure::File { file, reason }
                        }
                        None => StageFailure::Fatal(statement_failure(t, &name, &f)),
                    });
                }
                Err(f) => return Err(StageFailure::Fatal(statement_failure(t, &name, &f))),
            };
            session = sid.or(described.session_id).or(session);
        }
        session.ok_or_else(|| {
            StageFailure::Fatal(WarehouseError::DataApi {
                table: t.plain(),
                operation: "BatchExecuteStatement".into(),
                code: None,
                message: "the Data API returned no session id".into(),
                retryable: true,
            })
        })
    }

    async fn write_rejects(
        &self,
        load: &TableLoad,
        refused: &[(usize, String)],
    ) -> Result<Option<String>, WarehouseError> {
        let t = &load.target;
        let d = Dialect::Redshift;
        let sql = format!(
            "SELECT file_url, line, column_name, reason FROM {} WHERE table_name = {} AND load_id = {} ORDER BY file_url, line",
            load_rejects_table(),
            d.literal(&t.plain()),
            d.literal(&load.load_id)
        );
        let rows = self.query(t, sql, &Self::name(load, "rejects")).await?;
        let rejects: Vec<Reject> = rows
            .into_iter()
            .map(|r| {
                let text = |i: usize| r.get(i).cloned().flatten();
                Reject {
                    kind: RejectKind::Row,
                    file: text(0).unwrap_or_default(),
                    feed: load.feed.clone(),
                    line: text(1).and_then(|l| l.parse().ok()),
                    column: text(2),
                    reason: text(3).unwrap_or_default(),
                    raw: None,
                }
            })
            .collect();
        super::write_load_rejects(
            self.store.as_ref(),
            &self.settings.curated_bucket,
            &self.settings.work_dir,
            load,
            rejects,
            refused,
        )
        .await
    }

    /// The report, read back from the ledger: what this load id recorded.
    async fn report(
        &self,
        load: &TableLoad,
        changes: Vec<String>,
        refused: &[(usize, String)],
        attempts: u32,
    ) -> Result<LoadReport, WarehouseError> {
        let t = &load.target;
        let columns = "file_id, load_id, status, rows_loaded, rows_rejected, manifest_key";
        let rows = self.ledger_rows(load, "report", columns, None).await?;
        let mut report =
            LoadReport { load_id: load.load_id.clone(), table: t.plain(), changes, attempts, ..LoadReport::default() };
        for r in rows {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let file_id = text(0);
            if text(1) != load.load_id {
                report.already_loaded.push(file_id);
                continue;
            }
            let status: LedgerStatus = text(2).parse().map_err(|e| WarehouseError::Invariant {
                table: t.plain(),
                message: format!("the ledger row of file {file_id}: {e}"),
            })?;
            let file = load.files.iter().position(|f| f.manifest.file_id == file_id);
            let rows_loaded: u64 = text(3).parse().unwrap_or(0);
            let rows_rejected: u64 = text(4).parse().unwrap_or(0);
            let parse_rejected = file.map_or(0, |i| load.files[i].manifest.rejected_rows);
            report.rows_loaded += rows_loaded;
            report.rows_rejected_at_load += rows_rejected.saturating_sub(parse_rejected);
            report.files.push(FileResult {
                file_id,
                manifest_key: text(5),
                status,
                rows_loaded,
                rows_rejected,
                reason: file.and_then(|i| {
                    refused
                        .iter()
                        .find(|(f, _)| *f == i)
                        .map(|(_, r)| r.clone())
                        .or_else(|| load.files[i].manifest.error.clone())
                }),
            });
        }
        if !report.files.is_empty() {
            report.rejects_key = self.write_rejects(load, refused).await?;
        }
        Ok(report)
    }
}

fn api_fault(table: &TableName, operation: &str, e: ApiError) -> WarehouseError {
    WarehouseError::DataApi {
        table: table.plain(),
        operation: operation.to_owned(),
        code: e.code,
        message: e.message,
        retryable: e.retryable,
    }
}

fn statement_failure(table: &TableName, name: &str, f: &Failure) -> WarehouseError {
    let retryable = f.described.status == StatementStatus::Aborted || retryable_statement_error(&f.message);
    let status = format!("{:?}", f.described.status).to_uppercase();
    WarehouseError::Sql {
        table: table.plain(),
        statement: name.to_owned(),
        code: Some(sqlstate_of(&f.message).map_or_else(|| status.clone(), str::to_owned)),
        message: format!("{status}: {}", f.message),
        retryable,
    }
}

#[async_trait]
impl Warehouse for RedshiftWarehouse {
    fn dialect(&self) -> Dialect {
        Dialect::Redshift
    }

    fn describe(&self) -> String {
        format!("redshift {}", self.target)
    }

    async fn fetch(&self, about: &TableName, name: &str, sql: &str) -> Result<Rows, WarehouseError> {
        RedshiftWarehouse::query(self, about, sql.to_owned(), name).await
    }

    async fn transaction(&self, about: &TableName, name: &str, statements: Vec<String>) -> Result<(), WarehouseError> {
        // One statement is an ExecuteStatement, its own transaction; more are
        // one BatchExecuteStatement, one transaction.
        self.run(about, statements, name, Session::None).await.map(|_| ())
    }

    async fn load(&self, load: &TableLoad) -> Result<LoadReport, WarehouseError> {
        let t = &load.target;
        let d = Dialect::Redshift;
        // 1. An earlier invocation's statement still running: wait, do not duplicate.
        let prefix = format!("landfall-{}-", load.load_id);
        let running = self.api.list(&prefix).await.map_err(|e| api_fault(t, "ListStatements", e))?;
        for (id, status) in running.into_iter().filter(|(_, s)| s.running()) {
            info!(table = %t.plain(), statement = %id, ?status, "a statement of this load is still running; waiting for it");
            let _ = self.wait(t, &id).await?;
        }

        // 2. The table and the ledger as they are.
        let (mut existing, ledger_exists) = self.existing_columns(load).await?;
        if existing.is_empty() || !ledger_exists {
            let columns = super::decide(d, load, &existing, &Held::default()).columns;
            self.prepare(load, &columns).await?;
            existing = self.existing_columns(load).await?.0;
        }
        let recorded = self.recorded(load).await?;
        let held = Held { settled: recorded.keys().cloned().collect(), newest: self.newest_versions(load).await? };
        let mut decision = super::decide(d, load, &existing, &held);
        if decision.fresh.is_empty() {
            if recorded.values().all(|id| *id != load.load_id) {
                // A duplicate delivery: every file is another load's.
                return Ok(LoadReport {
                    load_id: load.load_id.clone(),
                    table: t.plain(),
                    already_loaded: decision.already_loaded,
                    ..LoadReport::default()
                });
            }
            // An earlier attempt of this load committed: report it and write its rejects.
            return self.report(load, Vec::new(), &[], 0).await;
        }

        // 3. Evolve.
        let changes = self.evolve(load, &decision).await?;

        // 4–5. Stage, setting aside files whose parts cannot be read or copied.
        let (parts, unreadable) = self.read_layouts(load, &decision.copied(load)).await?;
        for (i, reason) in unreadable {
            warn!(table = %t.plain(), file = %load.files[i].manifest.source.url, %reason, "file set aside");
            decision.refused[i] = Some(reason);
        }
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let load_rejects = layout::load_rejects_key(&load.feed, &load.load_id);
        let mut copy_refusals = 0usize;
        let (session, apply) = loop {
            let copied = decision.copied(load);
            let active: Vec<&PartLayout> = parts.iter().filter(|p| copied.contains(&p.file)).collect();
            let groups = self.write_groups(load, &active).await?;
            let rows = file_rows(load, &decision, &changes, &load_rejects);
            let staged = StagedLoad {
                target: t,
                feed: &load.feed,
                load_id: &load.load_id,
                loaded_at: &now,
                columns: &decision.columns,
                files: &rows,
                groups: &groups,
                rules: &load.rules,
                copy_role_arn: &self.copy_role_arn,
            };
            match self.stage(load, &staged, &active).await {
                Ok(session) => break (session, staged.apply_statements(d)),
                Err(StageFailure::Fatal(e)) => return Err(e),
                Err(StageFailure::File { file, reason }) => {
                    copy_refusals += 1;
                    if copy_refusals > MAX_FILE_REFUSALS {
                        return Err(WarehouseError::TooManyRefusals {
                            table: t.plain(),
                            limit: MAX_FILE_REFUSALS,
                            last: reason,
                        });
                    }
                    decision.refused[file] = Some(reason);
                }
            }
        };

        // 6. Apply: one transaction.
        let name = Self::name(load, "apply");
        let apply =
            plan::batches(apply).map_err(|e| WarehouseError::Invariant { table: t.plain(), message: e.to_string() })?;
        let [apply] = <[Vec<String>; 1]>::try_from(apply).map_err(|b| WarehouseError::Invariant {
            table: t.plain(),
            message: format!("the apply transaction needs {} calls; it must be one", b.len()),
        })?;
        self.run(t, apply, &name, Session::Use(session)).await?;
        info!(table = %t.plain(), load_id = %load.load_id, files = decision.fresh.len(), "committed");

        // 7. Report.
        let refused: Vec<(usize, String)> =
            decision.refused.iter().enumerate().filter_map(|(i, r)| r.clone().map(|r| (i, r))).collect();
        let attempts = u32::try_from(copy_refusals + 1).unwrap_or(u32::MAX);
        self.report(load, changes, &refused, attempts).await
    }
}

/// The `landfall_files` rows of the fresh files.
fn file_rows(load: &TableLoad, decision: &LoadDecision, changes: &[String], load_rejects: &str) -> Vec<LedgerRow> {
    decision
        .fresh
        .iter()
        .filter_map(|&i| {
            let refused = decision.refused.get(i).cloned().flatten();
            decision.ledger_row(load, i, refused.as_deref(), changes, Some(load_rejects))
        })
        .collect()
}
/// A column type from `svv_columns`.
pub(crate) fn svv_type(data_type: &str, length: &str, precision: &str, scale: &str) -> SqlType {
    let t = data_type.trim().to_ascii_lowercase();
    match t.as_str() {
        "character varying" | "varchar" if !length.is_empty() => SqlType::parse(&format!("varchar({length})")),
        "numeric" | "decimal" if !precision.is_empty() => {
            SqlType::parse(&format!("numeric({precision},{})", if scale.is_empty() { "0" } else { scale }))
        }
        "timestamp with time zone" => SqlType::TimestampTz,
        "timestamp without time zone" => SqlType::Timestamp,
        _ => SqlType::parse(&t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svv_columns_types_read_back_as_warehouse_types() {
        assert_eq!(svv_type("character varying", "256", "", ""), SqlType::Varchar(256));
        assert_eq!(svv_type("numeric", "", "18", "2"), SqlType::Numeric { precision: 18, scale: 2 });
        assert_eq!(svv_type("super", "", "", ""), SqlType::Json);
        assert_eq!(svv_type("timestamp with time zone", "", "", ""), SqlType::TimestampTz);
        assert_eq!(svv_type("bigint", "", "64", "0"), SqlType::BigInt);
    }
}
