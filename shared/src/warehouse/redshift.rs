//! The Redshift driver, through the Redshift Data API: no VPC, no
//! connection, IAM or Secrets Manager auth.
//!
//! A load runs the [`staged`](super::staged) plan:
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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures_util::StreamExt;
use serde_json::json;
use tracing::{info, warn};

use super::sql::{Dialect, ExistingColumn, SqlType, TableName};
use super::staged::{self, FileRow, RawGroup, StagedLoad, load_rejects_table};
use super::{FileResult, LedgerStatus, LoadDecision, LoadReport, TableLoad, Warehouse, WarehouseError};
use crate::catalog::footer::{ReadError, read_columns};
use crate::config::{RedshiftConfig, RedshiftEndpoint};
use crate::fetch::retry::{Jitter, backoff};
use crate::layout;
use crate::rejects::{Reject, RejectKind};
use crate::storage::ObjectStore;

/// Files set aside for data errors before the load gives up on the batch.
pub const MAX_FILE_REFUSALS: usize = 10;
/// Prefix of the COPY manifests in the curated bucket (the COPY role reads it).
pub const COPY_PREFIX: &str = "_copy/";
/// Footers read at once.
const FOOTER_CONCURRENCY: usize = 16;

/// A statement's state as DescribeStatement reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Submitted,
    Picked,
    Started,
    Finished,
    Failed,
    Aborted,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "SUBMITTED" => Status::Submitted,
            "PICKED" => Status::Picked,
            "STARTED" => Status::Started,
            "FINISHED" => Status::Finished,
            "FAILED" => Status::Failed,
            "ABORTED" => Status::Aborted,
            _ => return None,
        })
    }

    pub fn running(self) -> bool {
        matches!(self, Status::Submitted | Status::Picked | Status::Started)
    }
}

/// One statement of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubStatement {
    pub status: Option<Status>,
    pub error: Option<String>,
    pub query_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub id: String,
    pub status: Status,
    pub error: Option<String>,
    pub query_id: i64,
    pub session_id: Option<String>,
    pub subs: Vec<SubStatement>,
}

impl Described {
    /// The Redshift query id of the statement that failed.
    pub fn failed_query_id(&self) -> Option<i64> {
        self.subs
            .iter()
            .find(|s| s.status == Some(Status::Failed) || s.error.is_some())
            .map(|s| s.query_id)
            .or(Some(self.query_id))
            .filter(|q| *q > 0)
    }
}

/// How a call relates to a Data API session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// A statement of its own.
    None,
    /// Open a session and keep it this many seconds after the call.
    Open {
        keep_alive_secs: i32,
    },
    Use(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct ApiError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub retryable: bool,
}

/// Error codes of the Data API that pass with time.
pub fn retryable_api_code(code: &str) -> bool {
    matches!(
        code,
        "ActiveStatementsExceededException"
            | "ActiveSessionsExceededException"
            | "ActiveWaitingRequestsExceededException"
            | "ThrottlingException"
            | "InternalServerException"
            | "ExecuteStatementException"
            | "BatchExecuteStatementException"
            | "DatabaseConnectionException"
    )
}

/// The Data API operations the driver uses: the narrow trait beside its
/// SDK implementation.
#[async_trait]
pub trait DataApi: Send + Sync {
    /// Submits statements: more than one run as one transaction (BatchExecuteStatement), one on its
    /// own (ExecuteStatement). Returns the statement id and the session id.
    async fn submit(
        &self,
        sqls: Vec<String>,
        name: &str,
        session: Session,
    ) -> Result<(String, Option<String>), ApiError>;
    async fn describe(&self, id: &str) -> Result<Described, ApiError>;
    /// Ids and statuses of this role's statements whose name starts with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<(String, Status)>, ApiError>;
    /// The rows of a finished query, every value as text (NULL as `None`).
    async fn rows(&self, id: &str) -> Result<Vec<Vec<Option<String>>>, ApiError>;
}

/// [`DataApi`] on aws-sdk-redshiftdata.
#[derive(Clone)]
pub struct SdkDataApi {
    client: aws_sdk_redshiftdata::Client,
    target: RedshiftConfig,
}

impl SdkDataApi {
    pub fn new(client: aws_sdk_redshiftdata::Client, target: RedshiftConfig) -> Self {
        SdkDataApi { client, target }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, target: RedshiftConfig) -> Self {
        SdkDataApi::new(aws_sdk_redshiftdata::Client::new(sdk), target)
    }
}

fn api_error<E>(
    operation: &'static str,
    err: &aws_sdk_redshiftdata::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> ApiError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    let code = err.code().map(str::to_owned);
    let (_, message) = crate::aws::status_and_message(err);
    let retryable = crate::aws::transient(err) || code.as_deref().is_some_and(retryable_api_code);
    ApiError { operation, code, message, retryable }
}

#[async_trait]
impl DataApi for SdkDataApi {
    async fn submit(
        &self,
        sqls: Vec<String>,
        name: &str,
        session: Session,
    ) -> Result<(String, Option<String>), ApiError> {
        let t = &self.target;
        // Where and as whom, or the session that already knows; the same
        // setters exist on both request builders.
        macro_rules! target {
            ($req:expr) => {{
                let mut req = $req.statement_name(name);
                match &session {
                    Session::Use(id) => req = req.session_id(id),
                    other => {
                        req = req.database(&t.database);
                        req = match &t.endpoint {
                            RedshiftEndpoint::Workgroup(w) => req.workgroup_name(w),
                            RedshiftEndpoint::Cluster(c) => req.cluster_identifier(c),
                        };
                        if let Some(s) = &t.secret_arn {
                            req = req.secret_arn(s);
                        }
                        if let Some(u) = &t.db_user {
                            req = req.db_user(u);
                        }
                        if let Session::Open { keep_alive_secs } = other {
                            req = req.session_keep_alive_seconds(*keep_alive_secs);
                        }
                    }
                }
                req
            }};
        }
        let missing_id = |operation| ApiError {
            operation,
            code: None,
            message: "the response has no statement id".into(),
            retryable: true,
        };
        // One statement runs on its own (ExecuteStatement, autocommit):
        // Redshift refuses `ALTER COLUMN ... TYPE` inside a transaction block.
        if let [sql] = &sqls[..] {
            let out = target!(self.client.execute_statement().sql(sql))
                .send()
                .await
                .map_err(|e| api_error("ExecuteStatement", &e))?;
            let id = out.id().map(str::to_owned).ok_or_else(|| missing_id("ExecuteStatement"))?;
            return Ok((id, out.session_id().map(str::to_owned)));
        }
        let out = target!(self.client.batch_execute_statement().set_sqls(Some(sqls)))
            .send()
            .await
            .map_err(|e| api_error("BatchExecuteStatement", &e))?;
        let id = out.id().map(str::to_owned).ok_or_else(|| missing_id("BatchExecuteStatement"))?;
        Ok((id, out.session_id().map(str::to_owned)))
    }

    async fn describe(&self, id: &str) -> Result<Described, ApiError> {
        let out =
            self.client.describe_statement().id(id).send().await.map_err(|e| api_error("DescribeStatement", &e))?;
        let status = out.status().and_then(|s| Status::parse(s.as_str())).ok_or_else(|| ApiError {
            operation: "DescribeStatement",
            code: None,
            message: format!("statement {id} has an unknown status {:?}", out.status()),
            retryable: true,
        })?;
        Ok(Described {
            id: id.to_owned(),
            status,
            error: out.error().map(str::to_owned),
            query_id: out.redshift_query_id(),
            session_id: out.session_id().map(str::to_owned),
            subs: out
                .sub_statements()
                .iter()
                .map(|s| SubStatement {
                    status: s.status().and_then(|st| Status::parse(st.as_str())),
                    error: s.error().map(str::to_owned),
                    query_id: s.redshift_query_id(),
                })
                .collect(),
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, Status)>, ApiError> {
        let out = self
            .client
            .list_statements()
            .statement_name(prefix)
            .status(aws_sdk_redshiftdata::types::StatusString::All)
            .max_results(100)
            .send()
            .await
            .map_err(|e| api_error("ListStatements", &e))?;
        Ok(out
            .statements()
            .iter()
            .filter(|s| s.statement_name().is_some_and(|n| n.starts_with(prefix)))
            .filter_map(|s| Some((s.id().to_owned(), Status::parse(s.status()?.as_str())?)))
            .collect())
    }

    async fn rows(&self, id: &str) -> Result<Vec<Vec<Option<String>>>, ApiError> {
        use aws_sdk_redshiftdata::types::Field;
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .get_statement_result()
                .id(id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api_error("GetStatementResult", &e))?;
            for record in out.records() {
                rows.push(
                    record
                        .iter()
                        .map(|f| match f {
                            Field::StringValue(s) => Some(s.clone()),
                            Field::LongValue(n) => Some(n.to_string()),
                            Field::DoubleValue(x) => Some(x.to_string()),
                            Field::BooleanValue(b) => Some(b.to_string()),
                            Field::IsNull(true) => None,
                            _ => None,
                        })
                        .collect(),
                );
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(rows)
    }
}

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
struct PartLayout {
    file: usize,
    url: String,
    dt: String,
    bytes: u64,
    columns: Vec<(String, SqlType)>,
}

/// A load error row from `sys_load_error_detail` / `stl_load_errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrorDetail {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<String>,
    pub column_type: Option<String>,
    pub reason: String,
}

impl LoadErrorDetail {
    pub fn describe(&self) -> String {
        let mut s = format!("COPY refused {}", self.file);
        if let Some(l) = self.line {
            s.push_str(&format!(" row {l}"));
        }
        if let Some(c) = &self.column {
            s.push_str(&format!(" column {c}"));
        }
        if let Some(t) = &self.column_type {
            s.push_str(&format!(" ({t})"));
        }
        s.push_str(&format!(": {}", self.reason));
        s
    }
}

/// Whether a failed statement's error passes with time: serializable
/// isolation conflicts (Redshift error 1023), deadlocks, a concurrent
/// creator of the same table or column, lost connections.
pub fn retryable_statement_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "serializable isolation violation",
        "deadlock",
        "concurrent transaction",
        "already exists",
        "connection",
        "timeout",
        "timed out",
        "out of memory",
        "disk full",
        "please retry",
        "temporarily unavailable",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Whether a failed statement is a COPY that refused data (rather than SQL or a fault).
pub fn is_load_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "load into table",
        "stl_load_errors",
        "sys_load_error_detail",
        "spectrum scan error",
        "incompatible parquet schema",
    ]
    .iter()
    .any(|p| m.contains(p))
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
        loop {
            match self.api.submit(sqls.clone(), name, session.clone()).await {
                Ok(r) => return Ok(r),
                Err(e) if e.retryable && attempt + 1 < p.submit_attempts => {
                    warn!(table = %table.plain(), statement = name, error = %e, attempt, "Data API refused the call; retrying");
                    tokio::time::sleep(backoff(p.first_wait, attempt, jitter.next_unit())).await;
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
        let mut wait = p.first_wait;
        let mut faults = 0u32;
        loop {
            match self.api.describe(id).await {
                Ok(d) => match d.status {
                    Status::Finished => return Ok(Ok(d)),
                    Status::Failed | Status::Aborted => {
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
                return Err(WarehouseError::Sql {
                    table: table.plain(),
                    statement: id.to_owned(),
                    code: Some("Timeout".into()),
                    message: format!("statement {id} still running after {:?}", p.deadline),
                    retryable: true,
                });
            }
            // Between half and all of a doubling wait, so parallel loaders spread out.
            tokio::time::sleep(wait.mul_f64(0.5 + jitter.next_unit() / 2.0)).await;
            wait = (wait * 2).min(p.max_wait);
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
        let sqls = vec![
            d.create_schema(super::sql::LEDGER_SCHEMA),
            d.create_ledger(),
            d.create_load_rejects(),
            d.create_schema(&t.schema),
            d.create_table_keyed(t, decision_columns, &load.rules),
        ];
        self.run(t, sqls, &Self::name(load, "prepare"), Session::None).await?;
        info!(table = %t.plain(), "prepared");
        Ok(())
    }

    /// The batch's files the ledger holds: file id -> the load id that recorded it.
    async fn recorded(&self, load: &TableLoad) -> Result<HashMap<String, String>, WarehouseError> {
        let sql = Dialect::Redshift.select_ledger(&load.target, &load.file_ids(), "file_id, load_id");
        let rows = self.query(&load.target, sql, &Self::name(load, "ledger")).await?;
        Ok(rows.into_iter().filter_map(|r| Some((r.first()?.clone()?, r.get(1)?.clone()?))).collect())
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
                    columns: cols.iter().map(|c| (c.name.clone(), staged::raw_type(&c.data_type))).collect(),
                }),
                Err(e) if e.fails_message() => {
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
                .put_bytes(bucket, &key, staged::copy_manifest(&parts).into_bytes(), "application/json")
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

    /// The COPY's load errors, from the system tables.
    async fn load_errors(&self, table: &TableName, load: &TableLoad, query_id: i64) -> Vec<LoadErrorDetail> {
        let mut sqls = vec![format!(
            "SELECT TRIM(file_name), line_number, TRIM(column_name), TRIM(column_type), TRIM(error_message) \
             FROM sys_load_error_detail WHERE query_id = {query_id} ORDER BY start_time LIMIT 20"
        )];
        if self.provisioned {
            sqls.push(format!(
                "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(type), TRIM(err_reason) \
                 FROM stl_load_errors WHERE query = {query_id} ORDER BY starttime LIMIT 20"
            ));
        }
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
        let batches = staged::batches(staged.stage_statements(d)).map_err(|message| {
            StageFailure::Fatal(WarehouseError::Config { message: format!("{}: {message}", t.plain()) })
        })?;
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
            StageFailure::Fatal(WarehouseError::Sql {
                table: t.plain(),
                statement: "stage".into(),
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
        let d = Dialect::Redshift;
        let sql =
            d.select_ledger(t, &load.file_ids(), "file_id, load_id, status, rows_loaded, rows_rejected, manifest_key");
        let rows = self.query(t, sql, &Self::name(load, "report")).await?;
        let mut report =
            LoadReport { load_id: load.load_id.clone(), table: t.plain(), changes, attempts, ..LoadReport::default() };
        for r in rows {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let file_id = text(0);
            if text(1) != load.load_id {
                report.already_loaded.push(file_id);
                continue;
            }
            let status = match text(2).as_str() {
                "partial" => LedgerStatus::Partial,
                "failed" => LedgerStatus::Failed,
                "refused" => LedgerStatus::Refused,
                _ => LedgerStatus::Loaded,
            };
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

/// The file a COPY failure is about: the part a load error names, else a
/// part whose name the error message carries.
fn blame(details: &[LoadErrorDetail], message: &str, parts: &[&PartLayout]) -> Option<(usize, String)> {
    let same = |named: &str, url: &str| {
        let named = named.trim().trim_start_matches("s3://");
        !named.is_empty() && (named.contains(url.trim_start_matches("s3://")) || url.contains(named))
    };
    details.iter().find_map(|e| parts.iter().find(|p| same(&e.file, &p.url)).map(|p| (p.file, e.describe()))).or_else(
        || {
            parts
                .iter()
                .find(|p| p.url.rsplit('/').next().is_some_and(|name| message.contains(name)))
                .map(|p| (p.file, message.to_owned()))
        },
    )
}

fn api_fault(table: &TableName, operation: &str, e: ApiError) -> WarehouseError {
    WarehouseError::Sql {
        table: table.plain(),
        statement: operation.to_owned(),
        code: e.code,
        message: e.message,
        retryable: e.retryable,
    }
}

fn statement_failure(table: &TableName, name: &str, f: &Failure) -> WarehouseError {
    let retryable = f.described.status == Status::Aborted || retryable_statement_error(&f.message);
    WarehouseError::Sql {
        table: table.plain(),
        statement: name.to_owned(),
        code: Some(format!("{:?}", f.described.status).to_uppercase()),
        message: format!("{}: {}", format!("{:?}", f.described.status).to_uppercase(), f.message),
        retryable,
    }
}

/// A column type from `svv_columns`.
pub fn svv_type(data_type: &str, length: &str, precision: &str, scale: &str) -> SqlType {
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

#[async_trait]
impl Warehouse for RedshiftWarehouse {
    fn dialect(&self) -> Dialect {
        Dialect::Redshift
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
            let columns = super::decide(d, load, &existing, &HashSet::new()).columns;
            self.prepare(load, &columns).await?;
            existing = self.existing_columns(load).await?.0;
        }
        let recorded = self.recorded(load).await?;
        let already: HashSet<String> = recorded.keys().cloned().collect();
        let mut decision = super::decide(d, load, &existing, &already);
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
                        return Err(WarehouseError::Sql {
                            table: t.plain(),
                            statement: "COPY".into(),
                            code: None,
                            message: format!("more than {MAX_FILE_REFUSALS} files refused by COPY; the last: {reason}"),
                            retryable: false,
                        });
                    }
                    decision.refused[file] = Some(reason);
                }
            }
        };

        // 6. Apply: one transaction.
        let name = Self::name(load, "apply");
        let apply = staged::batches(apply).map_err(|message| WarehouseError::Config { message })?;
        let [apply] = <[Vec<String>; 1]>::try_from(apply).map_err(|b| WarehouseError::Config {
            message: format!("{}: the apply transaction needs {} calls; it must be one", t.plain(), b.len()),
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
fn file_rows(load: &TableLoad, decision: &LoadDecision, changes: &[String], load_rejects: &str) -> Vec<FileRow> {
    decision
        .fresh
        .iter()
        .filter_map(|&i| {
            let file = load.files.get(i)?;
            let m = &file.manifest;
            let refused = decision.refused.get(i).cloned().flatten();
            let status = LedgerStatus::of(refused.is_some(), m.status);
            let reason = refused.or_else(|| m.error.clone());
            let detail = json!({
                "changes": changes,
                "reason": reason,
                "parse_status": m.status.as_str(),
                "rejects": m.rejects_key,
                "load_rejects": load_rejects,
            });
            Some(FileRow {
                file_id: m.file_id.clone(),
                url: m.source.url.clone(),
                seq: file.seq,
                feed: m.feed.clone(),
                etag: m.source.etag.clone(),
                manifest_key: file.manifest_key.clone(),
                status,
                parse_rejected: m.rejected_rows,
                detail: detail.to_string(),
            })
        })
        .collect()
}

/// The driver against a stand-in for the Data API over HTTP on loopback.
/// There is no local Redshift or Data API emulator (moto has none), so the
/// real SDK client talks to a wiremock server that speaks the Data API's
/// JSON protocol, records every call, and plays scripted statement
/// outcomes. The SQL itself is checked by the golden files and, for the
/// PostgreSQL dialect, on a real server (tests/tests/staged_sql.rs).
#[cfg(test)]
mod tests {
    use std::collections::{HashMap, VecDeque};
    use std::sync::Mutex;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use serde_json::{Value, json};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::method};

    use super::*;
    use crate::config::WriteDisposition;
    use crate::manifest::{FileStatus, MANIFEST_VERSION, Manifest, ManifestPart, SourceObject};
    use crate::schema::{ColumnSchema, LogicalType};
    use crate::storage::memory::MemoryStore;
    use crate::warehouse::{FeedRules, plan_loads};

    const CURATED: &str = "curated";
    const ROLE: &str = "arn:aws:iam::123456789012:role/landfall-copy";

    /// How a submitted batch plays out.
    #[derive(Clone)]
    struct Outcome {
        statuses: Vec<&'static str>,
        error: Option<String>,
        query_id: i64,
    }

    fn finishes() -> Outcome {
        Outcome { statuses: vec!["SUBMITTED", "STARTED", "FINISHED"], error: None, query_id: 101 }
    }

    struct Statement {
        sqls: Vec<String>,
        name: String,
        outcome: Outcome,
        polls: usize,
    }

    type Answer = Box<dyn Fn(&str) -> Vec<Vec<Value>> + Send + Sync>;
    type Decide = Box<dyn Fn(&[String]) -> Outcome + Send + Sync>;

    struct Fake {
        calls: Mutex<Vec<(String, Value)>>,
        statements: Mutex<HashMap<String, Statement>>,
        refuse_submits: Mutex<VecDeque<&'static str>>,
        outcome: Mutex<Decide>,
        answer: Mutex<Answer>,
    }

    impl Fake {
        fn new() -> Arc<Fake> {
            Arc::new(Fake {
                calls: Mutex::new(Vec::new()),
                statements: Mutex::new(HashMap::new()),
                refuse_submits: Mutex::new(VecDeque::new()),
                outcome: Mutex::new(Box::new(|_| finishes())),
                answer: Mutex::new(Box::new(|_| Vec::new())),
            })
        }

        fn on_submit(&self, f: impl Fn(&[String]) -> Outcome + Send + Sync + 'static) {
            *self.outcome.lock().unwrap() = Box::new(f);
        }

        fn on_query(&self, f: impl Fn(&str) -> Vec<Vec<Value>> + Send + Sync + 'static) {
            *self.answer.lock().unwrap() = Box::new(f);
        }

        /// A statement an earlier invocation left running.
        fn already_running(&self, id: &str, name: &str, statuses: Vec<&'static str>) {
            self.statements.lock().unwrap().insert(
                id.into(),
                Statement {
                    sqls: vec!["-- earlier".into()],
                    name: name.into(),
                    outcome: Outcome { statuses, error: None, query_id: 1 },
                    polls: 0,
                },
            );
        }

        /// The submitted batches: (statement name, SQL), in order.
        fn submitted(&self) -> Vec<(String, Vec<String>)> {
            self.calls
                .lock()
                .unwrap()
                .iter()
                .filter(|(op, _)| op.ends_with("ExecuteStatement"))
                .map(|(_, body)| (body["StatementName"].as_str().unwrap_or_default().to_owned(), sqls_of(body)))
                .collect()
        }

        fn names(&self) -> Vec<String> {
            self.submitted().into_iter().map(|(n, _)| n.splitn(3, '-').nth(2).unwrap_or_default().to_owned()).collect()
        }

        fn count(&self, op: &str) -> usize {
            self.calls.lock().unwrap().iter().filter(|(o, _)| o == op).count()
        }

        /// Submissions, whether one statement or a transaction.
        fn submissions(&self) -> usize {
            self.count("ExecuteStatement") + self.count("BatchExecuteStatement")
        }
    }

    /// The SQL of an ExecuteStatement (`Sql`) or BatchExecuteStatement (`Sqls`) request.
    fn sqls_of(body: &Value) -> Vec<String> {
        match body["Sqls"].as_array() {
            Some(list) => list.iter().map(|s| s.as_str().unwrap_or_default().to_owned()).collect(),
            None => vec![body["Sql"].as_str().unwrap_or_default().to_owned()],
        }
    }

    struct Responder(Arc<Fake>);

    impl Respond for Responder {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let fake = &self.0;
            let op = req
                .headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("RedshiftData."))
                .unwrap_or_default()
                .to_owned();
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            fake.calls.lock().unwrap().push((op.clone(), body.clone()));
            let ok = |v: Value| ResponseTemplate::new(200).set_body_raw(v.to_string(), "application/x-amz-json-1.1");
            match op.as_str() {
                "BatchExecuteStatement" | "ExecuteStatement" => {
                    if let Some(code) = fake.refuse_submits.lock().unwrap().pop_front() {
                        return ResponseTemplate::new(400).set_body_raw(
                            json!({"__type": code, "Message": "too many active statements"}).to_string(),
                            "application/x-amz-json-1.1",
                        );
                    }
                    let sqls = sqls_of(&body);
                    let outcome = (fake.outcome.lock().unwrap())(&sqls);
                    let mut statements = fake.statements.lock().unwrap();
                    let id = format!("st-{}", statements.len() + 1);
                    let name = body["StatementName"].as_str().unwrap_or_default().to_owned();
                    statements.insert(id.clone(), Statement { sqls, name, outcome, polls: 0 });
                    ok(json!({"Id": id, "SessionId": "sess-1", "CreatedAt": 1_790_000_000.0}))
                }
                "DescribeStatement" => {
                    let id = body["Id"].as_str().unwrap_or_default();
                    let mut statements = fake.statements.lock().unwrap();
                    let Some(st) = statements.get_mut(id) else {
                        return ResponseTemplate::new(400).set_body_raw(
                            json!({"__type": "ResourceNotFoundException", "Message": id}).to_string(),
                            "application/x-amz-json-1.1",
                        );
                    };
                    let status = st.outcome.statuses[st.polls.min(st.outcome.statuses.len() - 1)];
                    st.polls += 1;
                    let failed = status == "FAILED";
                    // Only a batch reports sub-statements.
                    let batch = st.sqls.len() > 1;
                    let subs: Vec<Value> = st
                        .sqls
                        .iter()
                        .filter(|_| batch)
                        .enumerate()
                        .map(|(i, q)| {
                            let mut sub = json!({"Id": format!("{id}:{}", i + 1), "Status": if failed { "FAILED" } else { status }, "QueryString": q, "RedshiftQueryId": st.outcome.query_id});
                            if failed {
                                sub["Error"] = json!(st.outcome.error);
                            }
                            sub
                        })
                        .collect();
                    let mut out = json!({"Id": id, "Status": status, "RedshiftQueryId": st.outcome.query_id, "SessionId": "sess-1", "SubStatements": subs});
                    if failed || status == "ABORTED" {
                        out["Error"] = json!(st.outcome.error.clone().unwrap_or_else(|| "Query cancelled.".into()));
                    }
                    ok(out)
                }
                "ListStatements" => {
                    let prefix = body["StatementName"].as_str().unwrap_or_default();
                    let statements = fake.statements.lock().unwrap();
                    let list: Vec<Value> = statements
                        .iter()
                        .filter(|(_, s)| s.name.starts_with(prefix))
                        .map(|(id, s)| json!({"Id": id, "StatementName": s.name, "Status": s.outcome.statuses[s.polls.min(s.outcome.statuses.len() - 1)]}))
                        .collect();
                    ok(json!({"Statements": list}))
                }
                "GetStatementResult" => {
                    let id = body["Id"].as_str().unwrap_or_default();
                    let (parent, _) = id.split_once(':').unwrap_or((id, ""));
                    let sql =
                        fake.statements.lock().unwrap().get(parent).map(|s| s.sqls[0].clone()).unwrap_or_default();
                    let rows = (fake.answer.lock().unwrap())(&sql);
                    let records: Vec<Vec<Value>> = rows
                        .into_iter()
                        .map(|r| {
                            r.into_iter()
                                .map(|v| match v {
                                    Value::Null => json!({"isNull": true}),
                                    Value::Number(n) => json!({"longValue": n}),
                                    other => json!({"stringValue": other.as_str().unwrap_or_default()}),
                                })
                                .collect()
                        })
                        .collect();
                    ok(json!({"Records": records, "TotalNumRows": records.len()}))
                }
                other => ResponseTemplate::new(400).set_body_raw(
                    json!({"__type": "ValidationException", "Message": other}).to_string(),
                    "application/x-amz-json-1.1",
                ),
            }
        }
    }

    /// A Parquet part as parse-file writes it: data columns then lineage.
    fn part(file_url: &str, ids: &[i64]) -> Vec<u8> {
        let n = ids.len();
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("id", Arc::new(Int64Array::from(ids.to_vec()))),
            ("name", Arc::new(StringArray::from(vec!["x"; n]))),
            ("_landfall_file", Arc::new(StringArray::from(vec![file_url; n]))),
            ("_landfall_row", Arc::new(Int64Array::from((2..2 + n as i64).collect::<Vec<_>>()))),
        ];
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let mut buf = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        buf
    }

    fn manifest(store: &MemoryStore, n: usize, dt: &str) -> (String, Manifest) {
        let url = format!("s3://landing/orders/file-{n}.csv");
        let key = format!("tables/orders/dt={dt}/file-{n}-0.parquet");
        let body = part(&url, &[1, 2, 3]);
        store.insert(CURATED, &key, &body);
        let col = |name: &str, t, b| ColumnSchema {
            name: name.into(),
            source_name: name.into(),
            data_type: t,
            nullable: true,
            max_bytes: b,
            declared: false,
        };
        let m = Manifest {
            manifest_version: MANIFEST_VERSION,
            file_id: format!("{n:040x}"),
            source: SourceObject {
                bucket: "landing".into(),
                key: format!("orders/file-{n}.csv"),
                url: url.clone(),
                version_id: None,
                etag: Some(format!("e{n}")),
                size: 10,
            },
            feed: "orders".into(),
            table: "orders".into(),
            status: FileStatus::Parsed,
            error: None,
            input: None,
            schema: vec![col("id", LogicalType::Int64, None), col("name", LogicalType::String, Some(1))],
            parts: vec![ManifestPart {
                key: key.clone(),
                url: layout::s3_url(CURATED, &key),
                dt: dt.into(),
                rows: 3,
                bytes: body.len() as u64,
            }],
            rows: 3,
            rejected_rows: 0,
            rejects_key: None,
            widenings: Vec::new(),
            discarded_columns: Vec::new(),
            arrival_date: dt.into(),
            parsed_at: format!("2026-11-22T10:00:{n:02}Z"),
            producer: "test".into(),
        };
        (format!("_manifests/orders/{n}.json"), m)
    }

    fn load_of(store: &MemoryStore, files: usize, rules: FeedRules) -> TableLoad {
        let manifests = (0..files).map(|n| manifest(store, n, "2026-11-21")).collect();
        plan_loads("public", manifests, |_| rules.clone()).remove(0)
    }

    /// `svv_columns` rows: the ledger exists, and the target has these columns.
    fn columns_rows(columns: &[(&str, &str, Value)]) -> Vec<Vec<Value>> {
        let mut rows = vec![vec![
            json!("landfall"),
            json!("load_ledger"),
            json!("file_id"),
            json!("character varying"),
            json!(64),
            Value::Null,
            Value::Null,
        ]];
        for (name, ty, len) in columns {
            rows.push(vec![
                json!("public"),
                json!("orders"),
                json!(name),
                json!(ty),
                len.clone(),
                Value::Null,
                Value::Null,
            ]);
        }
        rows
    }

    /// Ledger rows recorded by `load` (file id, load id, status, rows, rejected, manifest key).
    fn ledger_rows(load: &TableLoad, status: impl Fn(usize) -> &'static str) -> Vec<Vec<Value>> {
        load.files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let loaded = if status(i) == "loaded" { 3 } else { 0 };
                vec![
                    json!(f.manifest.file_id),
                    json!(load.load_id),
                    json!(status(i)),
                    json!(loaded),
                    json!(0),
                    json!(f.manifest_key),
                ]
            })
            .collect()
    }

    /// The fake warehouse's answers: an existing table and ledger, nothing
    /// loaded yet, and once asked for the report, every file recorded by this load.
    fn warehouse_answers(fake: &Fake, load: &TableLoad) {
        let recorded = ledger_rows(load, |_| "loaded");
        fake.on_query(move |sql| {
            if sql.contains("svv_columns") {
                return columns_rows(&[("id", "bigint", Value::Null), ("name", "character varying", json!(32))]);
            }
            if sql.contains("status, rows_loaded") {
                return recorded.clone();
            }
            Vec::new()
        });
    }

    fn driver(server: &MockServer, store: Arc<MemoryStore>) -> RedshiftWarehouse {
        let conf = aws_sdk_redshiftdata::Config::builder()
            .endpoint_url(server.uri())
            .region(aws_sdk_redshiftdata::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_redshiftdata::config::Credentials::new("test", "test", None, None, "test"))
            .behavior_version(aws_sdk_redshiftdata::config::BehaviorVersion::latest())
            // The driver's own retries are under test, not the SDK's.
            .retry_config(aws_sdk_redshiftdata::config::retry::RetryConfig::disabled())
            .build();
        let target = RedshiftConfig {
            endpoint: RedshiftEndpoint::Workgroup("analytics".into()),
            database: "dev".into(),
            secret_arn: Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:dw".into()),
            db_user: None,
            copy_role_arn: ROLE.into(),
        };
        let api = SdkDataApi::new(aws_sdk_redshiftdata::Client::from_conf(conf), target.clone());
        let settings = RedshiftSettings {
            curated_bucket: CURATED.into(),
            work_dir: std::env::temp_dir(),
            polling: Polling {
                first_wait: Duration::from_millis(2),
                max_wait: Duration::from_millis(10),
                deadline: Duration::from_secs(20),
                submit_attempts: 4,
                session_keep_alive_secs: 300,
            },
        };
        RedshiftWarehouse::new(Arc::new(api), store, &target, settings)
    }

    async fn setup(files: usize, rules: FeedRules) -> (MockServer, Arc<Fake>, Arc<MemoryStore>, TableLoad) {
        let server = MockServer::start().await;
        let fake = Fake::new();
        Mock::given(method("POST")).respond_with(Responder(Arc::clone(&fake))).mount(&server).await;
        let store = Arc::new(MemoryStore::default());
        let load = load_of(&store, files, rules);
        warehouse_answers(&fake, &load);
        (server, fake, store, load)
    }

    fn merge_rules() -> FeedRules {
        FeedRules { disposition: WriteDisposition::Merge, primary_key: vec!["id".into()], ..FeedRules::default() }
    }

    #[tokio::test]
    async fn an_append_stages_in_a_session_then_applies_in_one_transaction() {
        let (server, fake, store, load) = setup(2, FeedRules::default()).await;
        let report = driver(&server, store.clone()).load(&load).await.unwrap();
        assert_eq!(fake.names(), vec!["columns", "ledger", "stage-0", "apply", "report", "rejects"]);
        let submitted = fake.submitted();
        let stage = &submitted[2].1;
        assert!(stage[0].starts_with("CREATE TEMP TABLE \"landfall_staging\""));
        let copy = stage.iter().find(|s| s.starts_with("COPY")).unwrap();
        assert!(copy.contains(&format!("IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST")), "{copy}");
        let apply = &submitted[3].1;
        assert_eq!(apply[0], "LOCK \"public\".\"orders\"");
        assert!(apply[3].starts_with("INSERT INTO \"public\".\"orders\""), "{}", apply[3]);
        assert!(apply[4].starts_with("INSERT INTO \"landfall\".\"load_ledger\""));
        assert_eq!(apply.len(), 5);
        // The apply runs in the session that holds the staged rows.
        let calls = fake.calls.lock().unwrap().clone();
        let apply_call = calls.iter().filter(|(op, _)| op.ends_with("ExecuteStatement")).nth(3).unwrap();
        assert_eq!(apply_call.1["SessionId"], "sess-1");
        assert!(apply_call.1.get("Database").is_none(), "a session call names no database");
        let first = calls.iter().find(|(op, _)| op == "ExecuteStatement").unwrap();
        assert!(first.1["Sql"].as_str().unwrap().contains("svv_columns"), "a query runs on its own");
        assert_eq!(first.1["WorkgroupName"], "analytics");
        assert!(first.1["SecretArn"].as_str().unwrap().starts_with("arn:aws:secretsmanager"));
        assert!(calls.iter().all(|(_, b)| !b.to_string().contains("password")), "credentials never travel as SQL");
        // The COPY manifest: every part mandatory, with its length.
        let keys = store.keys(CURATED, COPY_PREFIX);
        assert_eq!(keys.len(), 1, "one layout, one dt: one manifest");
        let m: Value = serde_json::from_slice(&store.read(CURATED, &keys[0]).unwrap()).unwrap();
        assert_eq!(m["entries"].as_array().unwrap().len(), 2);
        assert_eq!(m["entries"][0]["mandatory"], true);
        assert!(m["entries"][0]["meta"]["content_length"].as_u64().unwrap() > 0);
        assert_eq!(report.rows_loaded, 6);
        assert_eq!(report.files.len(), 2);
    }

    #[tokio::test]
    async fn a_merge_sets_aside_null_keys_then_deletes_and_inserts_the_latest_rows() {
        let (server, fake, store, load) = setup(1, merge_rules()).await;
        driver(&server, store).load(&load).await.unwrap();
        let apply = fake.submitted().into_iter().find(|(n, _)| n.ends_with("-apply")).unwrap().1;
        let heads: Vec<String> =
            apply.iter().map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).collect();
        assert_eq!(
            heads,
            vec![
                "LOCK \"public\".\"orders\"",
                "DELETE FROM \"landfall_staging\"",
                "DELETE FROM \"landfall_files\"",
                "INSERT INTO \"landfall\".\"load_rejects\"",
                "DELETE FROM \"landfall_staging\"",
                "DROP TABLE IF",
                "CREATE TEMP TABLE",
                "DELETE FROM \"public\".\"orders\"",
                "INSERT INTO \"public\".\"orders\"",
                "DROP TABLE \"landfall_staging_latest\"",
                "INSERT INTO \"landfall\".\"load_ledger\"",
            ]
        );
        assert!(apply[6].contains("ROW_NUMBER() OVER (PARTITION BY \"id\""));
        assert!(apply[7].contains("USING \"landfall_staging_latest\" s"));
    }

    #[tokio::test]
    async fn a_replace_partition_deletes_the_batchs_partitions_before_inserting() {
        let rules = FeedRules { disposition: WriteDisposition::ReplacePartition, ..FeedRules::default() };
        let (server, fake, store, load) = setup(1, rules).await;
        driver(&server, store).load(&load).await.unwrap();
        let apply = fake.submitted().into_iter().find(|(n, _)| n.ends_with("-apply")).unwrap().1;
        assert!(apply[3].starts_with(
            "DELETE FROM \"public\".\"orders\" WHERE \"dt\" IN (SELECT DISTINCT \"dt\" FROM \"landfall_staging\")"
        ));
        assert!(apply[4].starts_with("INSERT INTO \"public\".\"orders\""));
    }

    #[tokio::test]
    async fn statements_are_polled_through_submitted_and_started_until_finished() {
        let (server, fake, store, load) = setup(1, FeedRules::default()).await;
        fake.on_submit(|_| Outcome {
            statuses: vec!["SUBMITTED", "PICKED", "STARTED", "STARTED", "FINISHED"],
            error: None,
            query_id: 5,
        });
        driver(&server, store).load(&load).await.unwrap();
        let batches = fake.submissions();
        assert_eq!(fake.count("DescribeStatement"), batches * 5, "every statement polled until FINISHED, no further");
    }

    #[tokio::test]
    async fn a_copy_that_refuses_a_files_data_sets_that_file_aside_with_the_detail_from_sys_load_error_detail() {
        let (server, fake, store, load) = setup(2, FeedRules::default()).await;
        let bad_part = load.files[1].manifest.parts[0].url.clone();
        let stage_failures = Arc::new(Mutex::new(0));
        let count = Arc::clone(&stage_failures);
        fake.on_submit(move |sqls| {
            let copies_bad = sqls.iter().any(|s| s.starts_with("COPY")) && sqls.iter().any(|s| s.contains("file-1.csv', "));
            if copies_bad && *count.lock().unwrap() == 0 {
                *count.lock().unwrap() += 1;
                return Outcome {
                    statuses: vec!["STARTED", "FAILED"],
                    error: Some("ERROR: Load into table 'landfall_raw_0' failed. Check 'sys_load_error_detail' system table for details.".into()),
                    query_id: 4242,
                };
            }
            finishes()
        });
        let answer_part = bad_part.clone();
        let recorded = ledger_rows(&load, |i| if i == 1 { "refused" } else { "loaded" });
        fake.on_query(move |sql| {
            if sql.contains("sys_load_error_detail") {
                assert!(sql.contains("query_id = 4242"), "{sql}");
                return vec![vec![
                    json!(answer_part),
                    json!(3),
                    json!("id"),
                    json!("int8"),
                    json!("Overflow for type bigint"),
                ]];
            }
            if sql.contains("svv_columns") {
                return columns_rows(&[]);
            }
            if sql.contains("status, rows_loaded") {
                return recorded.clone();
            }
            Vec::new()
        });
        let report = driver(&server, store.clone()).load(&load).await.unwrap();
        let stages: Vec<Vec<String>> =
            fake.submitted().into_iter().filter(|(n, _)| n.contains("-stage-")).map(|(_, s)| s).collect();
        assert_eq!(stages.len(), 2, "staged again without the refused file");
        let files_insert = stages[1].iter().find(|s| s.starts_with("INSERT INTO \"landfall_files\"")).unwrap();
        assert!(files_insert.contains("'refused'"), "{files_insert}");
        assert!(files_insert.contains("row 3 column id (int8): Overflow for type bigint"), "{files_insert}");
        let refused = report.files.iter().find(|f| f.status == LedgerStatus::Refused).unwrap();
        assert!(refused.reason.as_deref().unwrap().contains("Overflow for type bigint"));
        let rejects = store.keys(CURATED, "_rejects/orders/");
        assert_eq!(rejects.len(), 1, "the refused file has a rejects record");
        assert_eq!(report.rejects_key.as_deref(), Some(rejects[0].as_str()));
    }

    #[tokio::test]
    async fn a_failed_statement_that_is_not_a_load_error_fails_the_load_and_is_classified() {
        let (server, fake, store, load) = setup(1, FeedRules::default()).await;
        fake.on_submit(|sqls| {
            if sqls[0].starts_with("LOCK") {
                return Outcome {
                    statuses: vec!["FAILED"],
                    error: Some("ERROR: syntax error at or near \"LOCKX\"".into()),
                    query_id: 9,
                };
            }
            finishes()
        });
        let e = driver(&server, store.clone()).load(&load).await.unwrap_err();
        assert!(!e.retryable(), "SQL errors are not retried: {e}");
        assert!(e.to_string().contains("syntax error"), "{e}");

        fake.on_submit(|sqls| {
            if sqls[0].starts_with("LOCK") {
                return Outcome {
                    statuses: vec!["FAILED"],
                    error: Some("ERROR: 1023 DETAIL: Serializable isolation violation on table - 1234".into()),
                    query_id: 9,
                };
            }
            finishes()
        });
        let e = driver(&server, store).load(&load).await.unwrap_err();
        assert!(e.retryable(), "a serializable isolation violation is retried: {e}");
    }

    #[tokio::test]
    async fn an_aborted_statement_is_a_retryable_failure() {
        let (server, fake, store, load) = setup(1, FeedRules::default()).await;
        fake.on_submit(|sqls| {
            if sqls[0].starts_with("LOCK") {
                return Outcome { statuses: vec!["STARTED", "ABORTED"], error: None, query_id: 9 };
            }
            finishes()
        });
        let e = driver(&server, store).load(&load).await.unwrap_err();
        assert!(e.retryable(), "{e}");
        assert!(e.to_string().contains("ABORTED"), "{e}");
    }

    #[tokio::test]
    async fn a_throttled_call_is_retried_with_backoff_until_it_is_accepted() {
        let (server, fake, store, load) = setup(1, FeedRules::default()).await;
        fake.refuse_submits.lock().unwrap().extend(["ActiveStatementsExceededException", "ThrottlingException"]);
        driver(&server, store).load(&load).await.unwrap();
        assert_eq!(fake.submissions(), fake.names().len(), "every call recorded");
        assert_eq!(fake.submitted()[0].0, fake.submitted()[2].0, "the refused call was sent again");
    }

    #[tokio::test]
    async fn a_retry_that_finds_its_statement_still_running_waits_for_it_instead_of_loading_again() {
        let (server, fake, store, load) = setup(2, FeedRules::default()).await;
        fake.already_running(
            "earlier-apply",
            &format!("landfall-{}-apply", load.load_id),
            vec!["STARTED", "STARTED", "FINISHED"],
        );
        // Once the earlier apply has committed, the ledger holds every file under this load id.
        let recorded = ledger_rows(&load, |_| "loaded");
        fake.on_query(move |sql| {
            if sql.contains("svv_columns") {
                return columns_rows(&[("id", "bigint", Value::Null)]);
            }
            if sql.contains("SELECT file_id, load_id FROM") || sql.contains("status, rows_loaded") {
                return recorded.clone();
            }
            Vec::new()
        });
        let report = driver(&server, store).load(&load).await.unwrap();
        let described_earlier = fake
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, b)| op == "DescribeStatement" && b["Id"] == "earlier-apply")
            .count();
        assert_eq!(described_earlier, 3, "waited until the earlier statement finished");
        assert!(
            fake.submitted().iter().all(|(n, _)| !n.contains("-stage-") && !n.ends_with("-apply")),
            "{:?}",
            fake.names()
        );
        assert_eq!(report.files.len(), 2, "the earlier attempt's files are this load's");
        assert_eq!(report.rows_loaded, 6);
    }

    #[tokio::test]
    async fn a_batch_whose_sql_would_exceed_100_kb_is_split_into_statements_under_the_limit() {
        let (server, fake, store, load) = setup(400, FeedRules::default()).await;
        driver(&server, store).load(&load).await.unwrap();
        let submitted = fake.submitted();
        let all: Vec<&String> = submitted.iter().flat_map(|(_, s)| s).collect();
        let total: usize = all.iter().map(|s| s.len()).sum();
        assert!(total > staged::MAX_STATEMENT_BYTES, "the batch's SQL is {total} bytes in all");
        assert!(all.iter().all(|s| s.len() <= staged::MAX_STATEMENT_BYTES));
        assert!(submitted.iter().all(|(_, s)| s.len() <= staged::MAX_BATCH_STATEMENTS));
        let inserts = all.iter().filter(|s| s.starts_with("INSERT INTO \"landfall_files\"")).count();
        assert!(inserts >= 2, "the files were inserted in {inserts} statements");
        assert_eq!(submitted.iter().filter(|(n, _)| n.ends_with("-apply")).count(), 1, "still one apply transaction");
        let largest = all.iter().map(|s| s.len()).max().unwrap_or(0);
        eprintln!(
            "400 files: {total} bytes of SQL in {} statements over {} calls; {inserts} landfall_files inserts; largest statement {largest} bytes",
            all.len(),
            submitted.len()
        );
    }

    #[test]
    fn svv_columns_types_read_back_as_warehouse_types() {
        assert_eq!(svv_type("character varying", "256", "", ""), SqlType::Varchar(256));
        assert_eq!(svv_type("numeric", "", "18", "2"), SqlType::Numeric { precision: 18, scale: 2 });
        assert_eq!(svv_type("super", "", "", ""), SqlType::Json);
        assert_eq!(svv_type("timestamp with time zone", "", "", ""), SqlType::TimestampTz);
        assert_eq!(svv_type("bigint", "", "64", "0"), SqlType::BigInt);
    }

    #[test]
    fn statement_errors_are_classified() {
        assert!(retryable_statement_error("ERROR: 1023 DETAIL: Serializable isolation violation on table"));
        assert!(retryable_statement_error("ERROR: relation \"orders\" already exists"));
        assert!(!retryable_statement_error("ERROR: column \"x\" does not exist in orders"));
        assert!(is_load_error("Load into table 'landfall_raw_0' failed. Check 'sys_load_error_detail'"));
        assert!(!is_load_error("syntax error at or near"));
        assert!(retryable_api_code("ActiveStatementsExceededException"));
        assert!(!retryable_api_code("ValidationException"));
    }
}
