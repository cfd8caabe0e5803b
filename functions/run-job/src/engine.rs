//! Where a job's SQL runs: a PostgreSQL connection (transactions held open
//! while rows stream out) or the Redshift Data API (statement lists, one
//! transaction each).

use std::sync::Arc;

use landfall::config::RedshiftConfig;
use landfall::warehouse::WarehouseError;
use landfall::warehouse::postgres::PostgresTarget;
use landfall::warehouse::postgres::connection::error_text;
use landfall::warehouse::redshift::RedshiftWarehouse;
use landfall::warehouse::sql::{Dialect, TableName};

pub type Rows = Vec<Vec<Option<String>>>;

#[derive(Clone)]
pub enum Engine {
    Postgres(PostgresTarget),
    Redshift { warehouse: Arc<RedshiftWarehouse>, config: RedshiftConfig },
}

/// A PostgreSQL statement that failed, worded with the server's message.
pub fn pg_error(what: &str, statement: &str, e: &tokio_postgres::Error) -> WarehouseError {
    let code = e.as_db_error().map(|db| db.code().code().to_owned());
    WarehouseError::Sql {
        table: what.to_owned(),
        statement: statement.chars().take(200).collect(),
        code,
        message: error_text(e),
        retryable: e.as_db_error().is_none_or(|db| landfall::warehouse::postgres::retryable_code(db.code().code())),
    }
}

/// Every row of a simple query, values as text.
pub async fn pg_rows(
    client: &impl tokio_postgres::GenericClient,
    what: &str,
    sql: &str,
) -> Result<Rows, WarehouseError> {
    landfall::warehouse::postgres::text_rows(client, sql).await.map_err(|e| pg_error(what, sql, &e))
}

impl Engine {
    pub fn dialect(&self) -> Dialect {
        match self {
            Engine::Postgres(_) => Dialect::Postgres,
            Engine::Redshift { .. } => Dialect::Redshift,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Engine::Postgres(t) => t.display.clone(),
            Engine::Redshift { config, .. } => config.display(),
        }
    }

    /// A query's rows. `name` names the statement on Redshift.
    pub async fn query(&self, about: &TableName, name: &str, sql: &str) -> Result<Rows, WarehouseError> {
        match self {
            Engine::Postgres(target) => {
                let client = target.connect().await?;
                pg_rows(&client, &about.plain(), sql).await
            }
            Engine::Redshift { warehouse, .. } => warehouse.fetch(about, name, sql.to_owned()).await,
        }
    }

    /// Statements as one transaction.
    pub async fn transaction(&self, about: &TableName, name: &str, sqls: Vec<String>) -> Result<(), WarehouseError> {
        match self {
            Engine::Postgres(target) => {
                let mut client = target.connect().await?;
                let tx = client.transaction().await.map_err(|e| pg_error(&about.plain(), "BEGIN", &e))?;
                for sql in &sqls {
                    tx.batch_execute(sql).await.map_err(|e| pg_error(&about.plain(), sql, &e))?;
                }
                tx.commit().await.map_err(|e| pg_error(&about.plain(), "COMMIT", &e))
            }
            Engine::Redshift { warehouse, .. } => {
                // One statement goes through ExecuteStatement, which is its own transaction.
                warehouse.execute_named(about, name, sqls).await
            }
        }
    }

    /// Whether a table or view exists.
    pub async fn exists(&self, table: &TableName, name: &str) -> Result<bool, WarehouseError> {
        let d = self.dialect();
        let sql = format!(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = {} AND table_name = {}",
            d.literal(&table.schema),
            d.literal(&table.table)
        );
        Ok(!self.query(table, name, &sql).await?.is_empty())
    }
}

/// The configured warehouse: PostgreSQL (the URL checked and its password
/// read now, so a bad setting fails the cold start; `url` and
/// `password_secret` from the environment win over the config's) or
/// Redshift's Data API.
pub async fn from_config(
    warehouse: &landfall::config::WarehouseConfig,
    sdk: &aws_config::SdkConfig,
    store: Arc<dyn landfall::storage::ObjectStore>,
    curated_bucket: &str,
    work_dir: std::path::PathBuf,
    url: Option<String>,
    password_secret: Option<String>,
) -> Result<Engine, WarehouseError> {
    use landfall::config::WarehouseDriver;
    use landfall::warehouse::postgres::connection::connection_settings;
    use landfall::warehouse::redshift::{Polling, RedshiftSettings, SdkDataApi};
    match (&warehouse.driver, &warehouse.redshift) {
        (WarehouseDriver::Redshift, Some(config)) => {
            let api = SdkDataApi::from_sdk(sdk, config.clone());
            let settings =
                RedshiftSettings { curated_bucket: curated_bucket.to_owned(), work_dir, polling: Polling::default() };
            let warehouse = RedshiftWarehouse::new(Arc::new(api), store, config, settings);
            Ok(Engine::Redshift { warehouse: Arc::new(warehouse), config: config.clone() })
        }
        (WarehouseDriver::Redshift, None) => {
            Err(WarehouseError::Config { message: "driver: redshift without its settings".into() })
        }
        (WarehouseDriver::Postgres, _) => {
            let (url, secret) = connection_settings(warehouse, url, password_secret)?;
            let secrets = landfall::secrets::SecretsManager::new(sdk);
            Ok(Engine::Postgres(PostgresTarget::resolve(&url, secret.as_deref(), &secrets).await?))
        }
    }
}
