//! A MySQL or MariaDB source through mysql_async (pure Rust, rustls when
//! the URL sets `require_ssl=true`): a read-only session in UTC with the
//! source's statement timeout; rows streamed into the page as they arrive.

use async_trait::async_trait;
use landfall::fetch::DatabaseSource;
use landfall::fetch::keyset::{self, Column, Encoding};
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Row, Value};

use super::{DbError, Page, PageWriter, SourceDb};

/// The binary character set: BLOB and BINARY columns carry it, TEXT ones do not.
const BINARY_CHARSET: u16 = 63;

pub struct MysqlSource {
    conn: Conn,
}

/// Server errors a new connection may get past: lock waits, deadlocks,
/// statement timeouts (MySQL's and MariaDB's), a server going away or
/// shutting down, a column the relation no longer has; every I/O or driver
/// fault too.
fn classify(e: mysql_async::Error) -> DbError {
    let retryable = match &e {
        mysql_async::Error::Server(server) => {
            matches!(server.code, 1205 | 1213 | 3024 | 1969 | 2006 | 2013 | 1053 | 1927 | 1054 | 1317)
        }
        mysql_async::Error::Url(_) => false,
        _ => true,
    };
    DbError { message: e.to_string(), retryable }
}

impl MysqlSource {
    pub async fn connect(source: &DatabaseSource, password: Option<String>) -> Result<Self, DbError> {
        let opts = Opts::from_url(&source.url).map_err(|e| DbError { message: e.to_string(), retryable: false })?;
        let password = password.map(|p| p.trim_end_matches(['\n', '\r']).to_owned());
        let opts = OptsBuilder::from_opts(opts).pass(password);
        let mut conn = Conn::new(opts).await.map_err(classify)?;
        conn.query_drop("SET SESSION TRANSACTION READ ONLY").await.map_err(classify)?;
        conn.query_drop("SET time_zone = '+00:00'").await.map_err(classify)?;
        // MariaDB names the timeout in seconds, MySQL in milliseconds.
        let seconds = source.statement_timeout_seconds;
        if conn.query_drop(format!("SET SESSION max_statement_time = {seconds}")).await.is_err() {
            conn.query_drop(format!("SET SESSION max_execution_time = {}", seconds * 1000)).await.map_err(classify)?;
        }
        Ok(MysqlSource { conn })
    }
}

fn column(c: &mysql_async::Column) -> Column {
    use ColumnType::*;
    let binary = c.character_set() == BINARY_CHARSET;
    let ty = c.column_type();
    let encoding = match ty {
        MYSQL_TYPE_JSON => Encoding::Json,
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => Encoding::UtcTimestamp,
        MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_BIT
            if binary =>
        {
            Encoding::Base64
        }
        _ => Encoding::Native,
    };
    let unsigned = c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let cast = match ty {
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_INT24
        | MYSQL_TYPE_YEAR => {
            if unsigned {
                "UNSIGNED"
            } else {
                "SIGNED"
            }
        }
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => "DECIMAL(65,30)",
        MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => "DOUBLE",
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 | MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => "DATETIME(6)",
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => "DATE",
        _ => "",
    };
    Column { name: c.name_str().into_owned(), encoding, cast: cast.to_owned() }
}

#[async_trait]
impl SourceDb for MysqlSource {
    async fn describe(&mut self, source: &DatabaseSource) -> Result<Vec<Column>, DbError> {
        let statement = self.conn.prep(keyset::describe_sql(source)).await.map_err(classify)?;
        let columns = statement.columns().iter().map(column).collect();
        self.conn.close(statement).await.map_err(classify)?;
        Ok(columns)
    }

    async fn page(&mut self, sql: &str, params: &[&str], positions: usize) -> Result<Page, DbError> {
        let params = Params::Positional(params.iter().map(|p| Value::from(*p)).collect());
        let mut result = self.conn.exec_iter(sql, params).await.map_err(classify)?;
        let mut writer = PageWriter::new();
        let mut last = None;
        let mut failure = None;
        result
            .for_each(|mut row: Row| {
                if failure.is_some() {
                    return;
                }
                let mut text = |i: usize| -> Result<String, DbError> {
                    match row.take_opt::<Option<String>, _>(i) {
                        Some(Ok(Some(s))) => Ok(s),
                        Some(Ok(None)) => Err(super::null_position()),
                        Some(Err(e)) => {
                            Err(DbError { message: format!("column {i} of a page row: {e}"), retryable: false })
                        }
                        None => Err(DbError { message: format!("a page row has no column {i}"), retryable: false }),
                    }
                };
                let step = text(0).and_then(|json| {
                    let position = (1..=positions).map(&mut text).collect::<Result<Vec<_>, _>>()?;
                    writer.push(&json)?;
                    last = Some(position);
                    Ok(())
                });
                if let Err(e) = step {
                    failure = Some(e);
                }
            })
            .await
            .map_err(classify)?;
        if let Some(e) = failure {
            return Err(e);
        }
        writer.finish(last)
    }
}
