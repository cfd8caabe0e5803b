//! The PostgreSQL driver (tokio-postgres over rustls).
//!
//! One load, two transactions:
//! 1. *prepare*: under a transaction-scoped advisory lock, create the ledger,
//!    the schema and the target if missing (racing creators would otherwise
//!    collide on the catalog's unique indexes). Idempotent; an empty table
//!    left by a crash is harmless.
//! 2. *apply*: lock the target (SHARE ROW EXCLUSIVE: one loader at a time,
//!    readers unaffected), read which of the batch's files the ledger holds
//!    and leave them out, evolve the table, COPY the remaining files' rows
//!    (streamed from S3 through a local file per part) into the target
//!    (append) or a staging table (merge, replace partition), apply the
//!    disposition, record every file in the ledger, commit.
//!
//! The lock comes before the COPY (the design has COPY, then lock, then
//! delete what the ledger holds): PostgreSQL's COPY is quick next to the
//! data's trip from S3, and checking the ledger first lets an append go
//! straight into the target, one write of each row instead of two.
//!
//! A value the column cannot hold fails the COPY with its line; the driver
//! rolls back to a savepoint, sets that row aside (rejects, with the source
//! line and the server's reason) and copies again, up to
//! [`MAX_ROW_RETRIES`] times; after that a data error sets its whole file
//! aside. A part that is missing or unreadable sets its file aside too. The
//! rest of the batch loads either way.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_postgres::Transaction;
use tracing::info;

mod apply;
pub mod connection;
pub mod copy;
mod stream;

pub use connection::PostgresTarget;
use connection::error_text;

use super::sql::{Dialect, ExistingColumn, SqlType, TableName};
use super::{LoadReport, Rows, TableLoad, Warehouse, WarehouseError};
use crate::lineage::LEDGER_SCHEMA;
use crate::storage::ObjectStore;

/// Rows set aside one by one before a data error sets aside the whole file.
pub(crate) const MAX_ROW_RETRIES: u32 = 10;

/// Whether a SQLSTATE names a fault that can pass: connection loss,
/// serialization failure, deadlock, lock timeout, shutdown, resource
/// shortage, and catalog races between concurrent creators.
pub fn retryable_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || matches!(code, "40001" | "40P01" | "55P03" | "55006" | "23505" | "42P07" | "42P06")
}

/// Settings the driver needs besides the connection.
#[derive(Debug, Clone)]
pub struct LoaderSettings {
    /// Where the parts are read from and the load rejects written to.
    pub curated_bucket: String,
    /// Scratch space for parts on their way to COPY (`/tmp` in Lambda).
    pub work_dir: PathBuf,
}

#[derive(Clone)]
pub struct PostgresWarehouse {
    target: PostgresTarget,
    store: Arc<dyn ObjectStore>,
    settings: Arc<LoaderSettings>,
}

impl PostgresWarehouse {
    pub fn new(target: PostgresTarget, store: Arc<dyn ObjectStore>, settings: LoaderSettings) -> Self {
        PostgresWarehouse { target, store, settings: Arc::new(settings) }
    }

    pub fn target(&self) -> &PostgresTarget {
        &self.target
    }
}

/// The one mapping of a PostgreSQL failure: the server's SQLSTATE and
/// message with the statement's start, retryable when the code or a broken
/// connection says the fault can pass.
pub fn sql_error(table: &TableName, statement: &str, e: &tokio_postgres::Error) -> WarehouseError {
    let code = e.as_db_error().map(|db| db.code().code().to_owned());
    let retryable = match &code {
        Some(c) => retryable_code(c),
        // No server error: the connection broke or timed out.
        None => true,
    };
    let mut statement: String = statement.chars().take(160).collect();
    if statement.len() >= 160 {
        statement.push('…');
    }
    WarehouseError::Sql { table: table.plain(), statement, code, message: error_text(e), retryable }
}

async fn exec(txn: &Transaction<'_>, table: &TableName, statement: &str) -> Result<(), WarehouseError> {
    txn.batch_execute(statement).await.map_err(|e| sql_error(table, statement, &e))
}

#[async_trait]
impl Warehouse for PostgresWarehouse {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn describe(&self) -> String {
        self.target.display.clone()
    }

    async fn fetch(&self, about: &TableName, _name: &str, sql: &str) -> Result<Rows, WarehouseError> {
        let client = self.target.connect().await?;
        rows(&client, about, sql).await
    }

    async fn transaction(&self, about: &TableName, _name: &str, statements: Vec<String>) -> Result<(), WarehouseError> {
        let mut client = self.target.connect().await?;
        let txn = client.transaction().await.map_err(|e| sql_error(about, "BEGIN", &e))?;
        for s in &statements {
            exec(&txn, about, s).await?;
        }
        txn.commit().await.map_err(|e| sql_error(about, "COMMIT", &e))
    }

    async fn load(&self, load: &TableLoad) -> Result<LoadReport, WarehouseError> {
        let mut client = self.target.connect().await?;
        prepare(&mut client, load).await?;
        let txn = client.transaction().await.map_err(|e| sql_error(&load.target, "BEGIN", &e))?;
        let report = self.apply(&txn, load).await?;
        txn.commit().await.map_err(|e| sql_error(&load.target, "COMMIT", &e))?;
        Ok(report)
    }
}

/// A query's rows on an open connection or transaction, errors mapped by [`sql_error`].
pub async fn rows(
    client: &impl tokio_postgres::GenericClient,
    about: &TableName,
    sql: &str,
) -> Result<Rows, WarehouseError> {
    text_rows(client, sql).await.map_err(|e| sql_error(about, sql, &e))
}

/// A query's rows, each value as text (NULL as `None`), by the simple query protocol.
pub async fn text_rows(
    client: &impl tokio_postgres::GenericClient,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
    Ok(client
        .simple_query(sql)
        .await?
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect())
}

/// Creates what a load needs, in its own short transaction.
async fn prepare(client: &mut tokio_postgres::Client, load: &TableLoad) -> Result<(), WarehouseError> {
    let t = &load.target;
    let d = Dialect::Postgres;
    let txn = client.transaction().await.map_err(|e| sql_error(t, "BEGIN", &e))?;
    if let Some(lock) = d.ddl_lock() {
        exec(&txn, t, &lock).await?;
    }
    // Only what is missing, so a loader without CREATE rights on existing
    // schemas still works once an administrator has created them.
    for schema in [LEDGER_SCHEMA, t.schema.as_str()] {
        let q = "SELECT 1 FROM pg_namespace WHERE nspname = $1";
        let found = txn.query_opt(q, &[&schema]).await.map_err(|e| sql_error(t, q, &e))?;
        if found.is_none() {
            exec(&txn, t, &d.create_schema(schema)).await?;
        }
    }
    for (table, ddl) in [
        (TableName::ledger(), vec![d.create_ledger()]),
        (TableName::feed_stats(), d.create_feed_stats()),
        (t.clone(), vec![d.create_table(t, &column_types(load))]),
    ] {
        let q = "SELECT to_regclass($1) IS NOT NULL";
        let row = txn.query_one(q, &[&table.to_string()]).await.map_err(|e| sql_error(t, q, &e))?;
        if !row.get::<_, bool>(0) {
            for statement in &ddl {
                exec(&txn, t, statement).await?;
            }
            info!(table = %table.plain(), "created");
        }
    }
    txn.commit().await.map_err(|e| sql_error(t, "COMMIT", &e))
}

/// The new table's data columns: those of the files that fit the column
/// budget (a file past it is refused by `decide`, and must not make the
/// CREATE itself fail).
fn column_types(load: &TableLoad) -> Vec<(String, SqlType)> {
    let fresh: Vec<usize> = (0..load.files.len()).collect();
    let refused = crate::warehouse::decision::over_budget(Dialect::Postgres, load, &[], &fresh);
    let mut needs = Vec::new();
    for (file, refused) in load.files.iter().zip(&refused) {
        if refused.is_none() && file.manifest.status.has_rows() {
            crate::warehouse::add_needs(&mut needs, file.needs());
        }
    }
    needs.iter().map(|n| (n.name.clone(), SqlType::for_column(Dialect::Postgres, n.logical, n.max_bytes))).collect()
}

async fn existing_columns(txn: &Transaction<'_>, table: &TableName) -> Result<Vec<ExistingColumn>, WarehouseError> {
    let q = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
    let rows = txn.query(q, &[&table.to_string()]).await.map_err(|e| sql_error(table, q, &e))?;
    Ok(rows
        .iter()
        .map(|r| ExistingColumn { name: r.get(0), sql_type: SqlType::parse(&r.get::<_, String>(1)) })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_sqlstates_are_retryable_and_data_errors_are_not() {
        for code in ["40001", "40P01", "08006", "57P01", "53300", "55P03"] {
            assert!(retryable_code(code), "{code}");
        }
        for code in ["22003", "42601", "42703", "23502"] {
            assert!(!retryable_code(code), "{code}");
        }
    }
}
