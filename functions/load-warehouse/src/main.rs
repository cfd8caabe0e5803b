//! Lambda wiring for load-warehouse: configuration, the warehouse
//! connection settings (password from Secrets Manager) and clients are
//! built once per cold start; the handler lives in lib.rs.

use std::sync::Arc;

use landfall::env;
use landfall::secrets::SecretsManager;
use landfall::storage::{S3Store, s3_client};
use landfall::telemetry::{self, Metrics};
use landfall::warehouse::connection::{PostgresTarget, SECRET_ENV, URL_ENV, connection_settings};
use landfall::warehouse::postgres::{LoaderSettings, PostgresWarehouse};
use load_warehouse::LoadWarehouse;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let curated_bucket = env::required("LANDFALL_CURATED_BUCKET")?;
    let work_dir = env::optional("LANDFALL_WORK_DIR").unwrap_or_else(|| std::env::temp_dir().display().to_string());

    let sdk = aws_config::load_from_env().await;
    let store = Arc::new(S3Store::new(s3_client(&sdk)));
    let (location, config) = landfall::config::from_env(store.as_ref()).await?;
    let (url, secret) = connection_settings(&config.warehouse, env::optional(URL_ENV), env::optional(SECRET_ENV))?;
    let target = PostgresTarget::resolve(&url, secret.as_deref(), &SecretsManager::new(&sdk)).await?;
    tracing::info!(config = %location, warehouse = %target.display, schema = %config.warehouse.schema, "configuration loaded");

    let settings = LoaderSettings { curated_bucket, work_dir: work_dir.into() };
    let warehouse = PostgresWarehouse::new(target, store.clone(), settings);
    let metrics = Metrics::new("landfall");
    let handler = LoadWarehouse::new(store, Arc::new(config), Arc::new(warehouse), metrics.clone());
    telemetry::serve(metrics, |payload| handler.handle(payload)).await
}
