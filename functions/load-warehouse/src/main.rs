//! Lambda wiring for load-warehouse: configuration, the warehouse driver
//! (`postgres`: connection settings, password from Secrets Manager;
//! `redshift`: the Data API client) and clients are built once per cold
//! start; the handler lives in lib.rs.

use std::sync::Arc;

use landfall::config::WarehouseDriver;
use landfall::env;
use landfall::secrets::SecretsManager;
use landfall::storage::{S3Store, s3_client};
use landfall::telemetry::{self, Metrics};
use landfall::warehouse::Warehouse;
use landfall::warehouse::connection::{PostgresTarget, SECRET_ENV, URL_ENV, connection_settings};
use landfall::warehouse::postgres::{LoaderSettings, PostgresWarehouse};
use landfall::warehouse::redshift::{Polling, RedshiftSettings, RedshiftWarehouse, SdkDataApi};
use load_warehouse::LoadWarehouse;

/// `LANDFALL_STATEMENT_DEADLINE_SECONDS` (Terraform sets it under the
/// function's timeout) bounds the wait on one Data API statement.
fn polling() -> Result<Polling, lambda_runtime::Error> {
    let mut polling = Polling::default();
    if let Some(secs) = env::optional("LANDFALL_STATEMENT_DEADLINE_SECONDS") {
        let secs: u64 = secs
            .parse()
            .map_err(|_| format!("LANDFALL_STATEMENT_DEADLINE_SECONDS must be a number of seconds, not {secs:?}"))?;
        polling.deadline = std::time::Duration::from_secs(secs);
    }
    Ok(polling)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let curated_bucket = env::required("LANDFALL_CURATED_BUCKET")?;
    let work_dir = env::optional("LANDFALL_WORK_DIR").unwrap_or_else(|| std::env::temp_dir().display().to_string());

    let sdk = aws_config::load_from_env().await;
    let store = Arc::new(S3Store::new(s3_client(&sdk)));
    let (location, config) = landfall::config::from_env(store.as_ref()).await?;
    let warehouse: Arc<dyn Warehouse> = match (&config.warehouse.driver, &config.warehouse.redshift) {
        (WarehouseDriver::Redshift, Some(redshift)) => {
            tracing::info!(config = %location, warehouse = %redshift.display(), schema = %config.warehouse.schema, "configuration loaded");
            let settings = RedshiftSettings { curated_bucket, work_dir: work_dir.into(), polling: polling()? };
            let api = SdkDataApi::from_sdk(&sdk, redshift.clone());
            Arc::new(RedshiftWarehouse::new(Arc::new(api), store.clone(), redshift, settings))
        }
        _ => {
            let (url, secret) =
                connection_settings(&config.warehouse, env::optional(URL_ENV), env::optional(SECRET_ENV))?;
            let target = PostgresTarget::resolve(&url, secret.as_deref(), &SecretsManager::new(&sdk)).await?;
            tracing::info!(config = %location, warehouse = %target.display, schema = %config.warehouse.schema, "configuration loaded");
            let settings = LoaderSettings { curated_bucket, work_dir: work_dir.into() };
            Arc::new(PostgresWarehouse::new(target, store.clone(), settings))
        }
    };
    let metrics = Metrics::new("landfall");
    let handler = LoadWarehouse::new(store, Arc::new(config), warehouse, metrics.clone());
    telemetry::serve(metrics, |payload| handler.handle(payload)).await
}
