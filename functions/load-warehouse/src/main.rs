//! Lambda wiring for load-warehouse: configuration, the configured warehouse
//! driver (`postgres`: connection settings, password from Secrets Manager;
//! `redshift`: the Data API client) and clients are built once per cold
//! start; the handler lives in lib.rs.

use std::sync::Arc;

use landfall::pipeline::NoticeHandler;
use landfall::warehouse::{self, DriverSettings, Warehouse};
use landfall::{lambda, telemetry::Metrics};
use load_warehouse::LoadWarehouse;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let settings = DriverSettings::from_env()?;

    let sdk = lambda::sdk_config().await;
    let store = lambda::s3_store(&sdk);
    let config = lambda::config(store.as_ref()).await?;
    let warehouse = Arc::new(warehouse::from_config(&config.warehouse, &sdk, store.clone(), settings).await?);
    tracing::info!(warehouse = %warehouse.describe(), schema = %config.warehouse.schema, "warehouse driver ready");

    let metrics = Metrics::new("landfall");
    let handler = LoadWarehouse::new(store, config, warehouse, metrics.clone());
    lambda::serve("load-warehouse", metrics, |payload, deadline| handler.handle(payload, deadline)).await
}
