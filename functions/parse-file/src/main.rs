//! Lambda wiring for parse-file: configuration and clients are built once per
//! cold start; the handler lives in lib.rs.

use std::sync::Arc;

use landfall::env;
use landfall::storage::{S3Store, s3_client};
use landfall::telemetry::{self, Metrics};
use parse_file::{ParseFile, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let curated_bucket = env::required("LANDFALL_CURATED_BUCKET")?;
    let work_dir = env::optional("LANDFALL_WORK_DIR").unwrap_or_else(|| std::env::temp_dir().display().to_string());

    let sdk = aws_config::load_from_env().await;
    let store = Arc::new(S3Store::new(s3_client(&sdk)));
    let (location, config) = landfall::config::from_env(store.as_ref()).await?;
    tracing::info!(config = %location, feeds = config.feeds.len(), "configuration loaded");

    let metrics = Metrics::new("landfall");
    let settings = Settings { curated_bucket, work_dir: work_dir.into() };
    let handler = ParseFile::new(store, Arc::new(config), settings, metrics.clone());
    telemetry::serve(metrics, |payload| handler.handle(payload)).await
}
