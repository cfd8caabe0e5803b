//! One run of a database source: pages read by keyset pagination on
//! (cursor, key...), each landed as gzipped NDJSON under the feed's prefix,
//! and after each page the position is committed to `_state/<source>.json`
//! with the conditional write HTTP sources use. A crash repeats the page it
//! was on, never skips one; a page's key is derived from where it starts, so
//! a repeated page of unchanged rows is the same object and the loader's
//! ledger takes it once.

mod mysql;
mod postgres;

use std::io::Write;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use flate2::Compression;
use flate2::write::GzEncoder;
use landfall::fetch::DatabaseSource;
use landfall::fetch::keyset::{self, Column, Position};
use landfall::fetch::{DatabaseKind, SourceState};
use landfall::retry::Backoff;
use landfall::secrets::Secrets;
use landfall::storage::PutOptions;
use landfall::telemetry::catalog::{PageFetched, SourcePageRetried};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::info;

use crate::{FetchApi, FetchError, RunReport};

/// Attempts per page: a source that goes away mid-page is reconnected,
/// re-described (its columns may have changed) and read again.
const PAGE_ATTEMPTS: u32 = 3;

/// A failure of the source database.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    pub message: String,
    /// A lost connection, a timeout, a conflict or a column that moved: a
    /// new connection and a fresh description may succeed.
    pub retryable: bool,
}

/// A NULL sorts after every value and compares with none: such rows cannot be paged.
fn null_position() -> DbError {
    DbError {
        message:
            "a row has NULL in the cursor column or the key; filter such rows out with query: (WHERE ... IS NOT NULL)"
                .into(),
        retryable: false,
    }
}

/// One page as the driver streamed it: the gzipped NDJSON and the position
/// of its last row.
pub struct Page {
    pub gz: Vec<u8>,
    pub rows: u64,
    pub last: Option<Position>,
}

/// The narrow seam each driver implements.
#[async_trait]
pub trait SourceDb: Send {
    /// The relation's columns, without reading its rows.
    async fn describe(&mut self, source: &DatabaseSource) -> Result<Vec<Column>, DbError>;
    /// Streams the rows of `sql` into a page.
    async fn page(&mut self, sql: &str, params: &[&str], positions: usize) -> Result<Page, DbError>;
}

/// Opens a read-only session with the source's statement timeout, in UTC.
async fn connect(source: &DatabaseSource, secrets: &dyn Secrets) -> Result<Box<dyn SourceDb>, DbError> {
    let password = match &source.password_secret {
        None => None,
        Some(name) => Some(
            secrets
                .secret_string(name)
                .await
                .map_err(|e| DbError { message: format!("secret {name}: {e}"), retryable: e.retryable() })?,
        ),
    };
    match source.kind {
        DatabaseKind::Postgres => Ok(Box::new(postgres::PostgresSource::connect(source, password).await?)),
        DatabaseKind::Mysql => Ok(Box::new(mysql::MysqlSource::connect(source, password).await?)),
    }
}

/// Writes NDJSON lines into a gzip stream as rows arrive.
pub struct PageWriter {
    gz: GzEncoder<Vec<u8>>,
    rows: u64,
}

impl PageWriter {
    pub fn new() -> Self {
        PageWriter { gz: GzEncoder::new(Vec::new(), Compression::fast()), rows: 0 }
    }

    pub fn push(&mut self, json: &str) -> Result<(), DbError> {
        let io = |e: std::io::Error| DbError { message: format!("compressing a page: {e}"), retryable: true };
        self.gz.write_all(json.as_bytes()).map_err(io)?;
        self.gz.write_all(b"\n").map_err(io)?;
        self.rows += 1;
        Ok(())
    }

    pub fn finish(self, last: Option<Position>) -> Result<Page, DbError> {
        let rows = self.rows;
        let gz =
            self.gz.finish().map_err(|e| DbError { message: format!("compressing a page: {e}"), retryable: true })?;
        Ok(Page { gz, rows, last })
    }
}

/// The landing key of the page that starts after `after`: the same start
/// gives the same key, so a repeated page overwrites itself.
pub fn page_key(prefix: &str, source: &str, after: Option<&Position>, page_rows: u32) -> String {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    for part in after.into_iter().flatten() {
        h.update([0]);
        h.update(part.as_bytes());
    }
    h.update(page_rows.to_le_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{source}/{hex}.jsonl.gz")
}

/// The stored position, if the state holds one of this source's shape.
fn stored_position(state: Option<&SourceState>, width: usize) -> Option<Position> {
    let Some(Value::Array(items)) = state.and_then(|s| s.cursor.as_ref()) else { return None };
    let position: Option<Position> = items.iter().map(|v| v.as_str().map(str::to_owned)).collect();
    position.filter(|p| p.len() == width)
}

impl FetchApi {
    /// One run of a database source within `budget`.
    pub(crate) async fn run_database(
        &self,
        source: &DatabaseSource,
        run_id: &str,
        budget: Duration,
    ) -> Result<RunReport, FetchError> {
        let started = Instant::now();
        let name = &source.name;
        let budget = source.time_budget_seconds.map_or(budget, |s| budget.min(Duration::from_secs(s)));
        let feed = self.config.feed(&source.feed).ok_or_else(|| FetchError::Config {
            name: name.clone(),
            message: format!("feed {:?} is not configured", source.feed),
        })?;
        let prefix = if feed.prefix.ends_with('/') { feed.prefix.clone() } else { format!("{}/", feed.prefix) };
        let storage = |error| FetchError::Storage { name: name.clone(), error };
        let (state, mut etag) = self.read_state(name).await.map_err(storage)?;
        let width = keyset::position_columns(source).len();
        let mut after = stored_position(state.as_ref(), width);

        let mut report = RunReport::new(name, run_id);
        let mut db: Option<(Box<dyn SourceDb>, Vec<Column>)> = None;
        let mut slowest = Duration::ZERO;
        loop {
            let page_started = Instant::now();
            let page = self.read_page(source, &mut db, after.as_ref()).await?;
            let landed = page.rows > 0;
            if landed {
                let key = page_key(&prefix, name, after.as_ref(), source.page_rows);
                let options = PutOptions {
                    content_type: "application/x-ndjson",
                    metadata: vec![
                        ("source", name.clone()),
                        ("run-id", run_id.to_owned()),
                        ("after", after.as_ref().map(|p| p.join(",")).unwrap_or_default()),
                    ],
                    precondition: None,
                };
                self.store.put_with(&self.settings.landing_bucket, &key, page.gz, options).await.map_err(storage)?;
                report.keys.push(key);
                report.pages += 1;
                report.records += page.rows;
                PageFetched { source: name, records: page.rows }.emit(&self.metrics);
                after = page.last.or(after);
            }
            let full = page.rows >= u64::from(source.page_rows);
            slowest = slowest.max(page_started.elapsed());
            let out_of_time = full && started.elapsed() + slowest > budget;
            if out_of_time {
                (report.complete, report.stopped) = (false, Some("time budget"));
            }
            if landed {
                // Committed after every page: a crash repeats at most the page it was on.
                let state = SourceState {
                    source: name.clone(),
                    cursor: after.clone().map(|p| Value::Array(p.into_iter().map(Value::String).collect())),
                    last_run_id: run_id.to_owned(),
                    updated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    complete: !full || out_of_time,
                };
                etag = self.commit_state(name, &state, etag, run_id).await?;
                info!(page = report.pages, rows = page.rows, "page landed and position committed");
            }
            if !full || out_of_time {
                break;
            }
        }
        report.cursor = after.map(|p| Value::Array(p.into_iter().map(Value::String).collect()));
        Ok(report)
    }

    /// Reads the page after `after`, reconnecting and describing again on a
    /// retryable failure; nothing is landed or committed for a failed page.
    async fn read_page(
        &self,
        source: &DatabaseSource,
        db: &mut Option<(Box<dyn SourceDb>, Vec<Column>)>,
        after: Option<&Position>,
    ) -> Result<Page, FetchError> {
        let failed =
            |e: DbError| FetchError::Database { name: source.name.clone(), message: e.message, retryable: e.retryable };
        const BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        let mut jitter = landfall::retry::Jitter::from_clock();
        let mut attempt = 1;
        loop {
            let result = async {
                let (conn, columns) = match db {
                    Some(open) => open,
                    None => {
                        let mut conn = connect(source, self.secrets.as_ref()).await?;
                        let columns = conn.describe(source).await?;
                        db.insert((conn, columns))
                    }
                };
                let sql = keyset::page_sql(source, columns, after, source.page_rows)
                    .map_err(|e| DbError { message: e.to_string(), retryable: false })?;
                let params = keyset::page_params(source, after);
                conn.page(&sql, &params, keyset::position_columns(source).len()).await
            }
            .await;
            match result {
                Ok(page) => return Ok(page),
                Err(e) if e.retryable && attempt < PAGE_ATTEMPTS => {
                    SourcePageRetried { source: &source.name, attempt, error: &e.message }.emit(&self.metrics);
                    *db = None;
                    tokio::time::sleep(BACKOFF.retry_wait(attempt, &mut jitter)).await;
                    attempt += 1;
                }
                Err(e) => return Err(failed(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_key_depends_on_where_the_page_starts_only() {
        let p = vec!["2026-12-01 10:00:00+00".to_owned(), "7".to_owned()];
        let a = page_key("db/orders/", "shop", Some(&p), 100);
        assert_eq!(a, page_key("db/orders/", "shop", Some(&p), 100));
        assert_ne!(a, page_key("db/orders/", "shop", None, 100));
        assert_ne!(a, page_key("db/orders/", "shop", Some(&p), 200));
        assert!(a.starts_with("db/orders/shop/") && a.ends_with(".jsonl.gz"), "{a}");
    }

    #[test]
    fn a_position_of_another_shape_is_not_resumed_from() {
        let state = SourceState { cursor: Some(serde_json::json!(["a", "1"])), ..Default::default() };
        assert_eq!(stored_position(Some(&state), 2), Some(vec!["a".to_owned(), "1".to_owned()]));
        assert_eq!(stored_position(Some(&state), 3), None);
        assert_eq!(stored_position(None, 2), None);
    }
}
