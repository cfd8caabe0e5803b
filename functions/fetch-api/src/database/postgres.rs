//! A PostgreSQL source through tokio-postgres, over rustls when the URL asks
//! for TLS: a read-only session in UTC with the source's statement timeout;
//! rows streamed from the server into the page as they arrive.

use async_trait::async_trait;
use futures_util::{StreamExt, pin_mut};
use landfall::fetch::DatabaseSource;
use landfall::fetch::keyset::{self, Column, Encoding};
use landfall::warehouse::postgres::connection::{PostgresTarget, error_text};
use landfall::warehouse::postgres::retryable_code;
use tokio_postgres::types::Type;

use super::{DbError, Page, PageWriter, SourceDb};

pub struct PostgresSource {
    client: tokio_postgres::Client,
}

/// Whether a new connection may succeed where this one failed: no server
/// answer (the connection went away), a connection or resource class, a
/// cancelled statement (the timeout), or a column the relation no longer has.
fn classify(e: &tokio_postgres::Error) -> DbError {
    let retryable = e.as_db_error().is_none_or(|db| {
        let code = db.code().code();
        retryable_code(code) || matches!(code, "57014" | "42703")
    });
    DbError { message: error_text(e), retryable }
}

impl PostgresSource {
    pub async fn connect(source: &DatabaseSource, password: Option<String>) -> Result<Self, DbError> {
        let secret = source.password_secret.as_deref().zip(password.as_deref());
        let target = PostgresTarget::with_secret(&source.url, secret, "landfall-fetch-api")
            .map_err(|e| DbError { message: e.to_string(), retryable: false })?;
        let client = target.connect().await.map_err(|e| DbError {
            message: e.to_string(),
            retryable: e.disposition() == landfall::disposition::Disposition::Retry,
        })?;
        let setup = format!(
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; SET statement_timeout = '{}s'; SET TIME ZONE 'UTC'",
            source.statement_timeout_seconds
        );
        client.batch_execute(&setup).await.map_err(|e| classify(&e))?;
        Ok(PostgresSource { client })
    }
}

#[async_trait]
impl SourceDb for PostgresSource {
    async fn describe(&mut self, source: &DatabaseSource) -> Result<Vec<Column>, DbError> {
        let statement = self.client.prepare(&keyset::describe_sql(source)).await.map_err(|e| classify(&e))?;
        Ok(statement
            .columns()
            .iter()
            .map(|c| {
                let ty = c.type_();
                let encoding = if *ty == Type::BYTEA { Encoding::Base64 } else { Encoding::Native };
                Column { name: c.name().to_owned(), encoding, cast: ty.name().to_owned() }
            })
            .collect())
    }

    async fn page(&mut self, sql: &str, params: &[&str], positions: usize) -> Result<Page, DbError> {
        let rows = self.client.query_raw(sql, params.iter()).await.map_err(|e| classify(&e))?;
        pin_mut!(rows);
        let mut writer = PageWriter::new();
        let mut last = None;
        while let Some(row) = rows.next().await {
            let row = row.map_err(|e| classify(&e))?;
            let json: &str = row.try_get(0).map_err(|e| DbError { message: error_text(&e), retryable: false })?;
            writer.push(json)?;
            let mut position = Vec::with_capacity(positions);
            for i in 1..=positions {
                match row.try_get::<_, Option<String>>(i) {
                    Ok(Some(text)) => position.push(text),
                    Ok(None) => return Err(super::null_position()),
                    Err(e) => return Err(DbError { message: error_text(&e), retryable: false }),
                }
            }
            last = Some(position);
        }
        writer.finish(last)
    }
}
