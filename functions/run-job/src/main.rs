//! Lambda wiring for run-job: configuration, the warehouse, S3, Glue and
//! the Slack notifier are set up once per cold start; the handler lives in
//! lib.rs.

use std::sync::Arc;

use landfall::catalog::GlueCatalog;
use landfall::config::{SECRET_ENV, URL_ENV};
use landfall::notify::Slack;
use landfall::secrets::SecretsManager;
use landfall::storage::s3_client;
use landfall::{env, lambda, telemetry::Metrics};
use run_job::{RunJob, Settings, engine};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let curated_bucket = env::required("LANDFALL_CURATED_BUCKET")?;
    let glue_database = env::required("LANDFALL_GLUE_DATABASE")?;
    let work_dir = lambda::work_dir();

    let sdk = lambda::sdk_config().await;
    let store = lambda::s3_store(&sdk);
    let config = lambda::config(store.as_ref()).await?;
    let (url, secret) = (env::optional(URL_ENV), env::optional(SECRET_ENV));
    let engine =
        engine::from_config(&config.warehouse, &sdk, store.clone(), &curated_bucket, work_dir.clone(), url, secret)
            .await?;
    let catalog = Arc::new(GlueCatalog::new(aws_sdk_glue::Client::new(&sdk), glue_database.clone()));
    let slack = match env::optional("LANDFALL_SLACK_WEBHOOK_SECRET") {
        Some(secret) => Some(Slack::new(Arc::new(SecretsManager::new(&sdk)), secret)?),
        None => None,
    };

    let metrics = Metrics::new("landfall");
    let settings = Settings { curated_bucket, glue_database, work_dir };
    let handler = RunJob::new(config, engine, store, s3_client(&sdk), catalog, slack, metrics.clone(), settings);
    lambda::serve("run-job", metrics, |payload, deadline| handler.handle(payload, deadline)).await
}
