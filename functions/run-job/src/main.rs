//! Lambda wiring for run-job: configuration, the warehouse, S3, Glue and
//! the Slack notifier are set up once per cold start; the handler lives in
//! lib.rs.

use std::sync::Arc;

use landfall::catalog::GlueCatalog;
use landfall::notify::Slack;
use landfall::secrets::SecretsManager;
use landfall::storage::s3_client;
use landfall::warehouse::{self, DriverSettings};
use landfall::{env, lambda, telemetry::Metrics};
use run_job::{RunJob, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let driver_settings = DriverSettings::from_env()?;
    let glue_database = env::required("LANDFALL_GLUE_DATABASE")?;
    let (curated_bucket, work_dir) = (driver_settings.curated_bucket.clone(), driver_settings.work_dir.clone());

    let sdk = lambda::sdk_config().await;
    let store = lambda::s3_store(&sdk);
    let config = lambda::config(store.as_ref()).await?;
    let warehouse = warehouse::from_config(&config.warehouse, &sdk, store.clone(), driver_settings).await?;
    let catalog = Arc::new(GlueCatalog::new(aws_sdk_glue::Client::new(&sdk), glue_database.clone()));
    let slack = match env::optional("LANDFALL_SLACK_WEBHOOK_SECRET") {
        Some(secret) => Some(Slack::new(Arc::new(SecretsManager::new(&sdk)), secret)?),
        None => None,
    };

    let metrics = Metrics::new("landfall");
    let settings = Settings { curated_bucket, glue_database, work_dir };
    let handler = RunJob::new(config, warehouse, store, s3_client(&sdk), catalog, slack, metrics.clone(), settings);
    lambda::serve("run-job", metrics, |payload, deadline| handler.handle(payload, deadline)).await
}
