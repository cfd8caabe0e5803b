//! Lambda wiring for load-warehouse: configuration, the configured warehouse
//! driver (`postgres`: connection settings, password from Secrets Manager;
//! `redshift`: the Data API client) and clients are built once per cold
//! start; the handler lives in lib.rs.

use std::time::Duration;

use landfall::warehouse::postgres::connection::{SECRET_ENV, URL_ENV};
use landfall::warehouse::{self, DriverSettings};
use landfall::{env, lambda, telemetry::Metrics};
use load_warehouse::LoadWarehouse;

/// `LANDFALL_STATEMENT_DEADLINE_SECONDS` (Terraform sets it under the
/// function's timeout) bounds the wait on one Data API statement.
fn statement_deadline() -> Result<Option<Duration>, env::EnvError> {
    const NAME: &str = "LANDFALL_STATEMENT_DEADLINE_SECONDS";
    env::optional(NAME)
        .map(|secs| {
            secs.parse().map(Duration::from_secs).map_err(|_| env::EnvError::Invalid {
                name: NAME,
                message: format!("a number of seconds, not {secs:?}"),
            })
        })
        .transpose()
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let settings = DriverSettings {
        curated_bucket: env::required("LANDFALL_CURATED_BUCKET")?,
        work_dir: lambda::work_dir(),
        url: env::optional(URL_ENV),
        password_secret: env::optional(SECRET_ENV),
        statement_deadline: statement_deadline()?,
    };

    let sdk = lambda::sdk_config().await;
    let store = lambda::s3_store(&sdk);
    let config = lambda::config(store.as_ref()).await?;
    let warehouse = warehouse::from_config(&config.warehouse, &sdk, store.clone(), settings).await?;
    tracing::info!(warehouse = %warehouse.describe(), schema = %config.warehouse.schema, "warehouse driver ready");

    let metrics = Metrics::new("landfall");
    let handler = LoadWarehouse::new(store, config, warehouse, metrics.clone());
    lambda::serve("load-warehouse", metrics, |payload, deadline| handler.handle(payload, deadline)).await
}
