//! Lambda wiring for parse-file: configuration and clients are built once per
//! cold start; the handler lives in lib.rs.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use landfall::env::{self, EnvError};
use landfall::storage::{S3Store, s3_client};
use landfall::telemetry::{self, Metrics};
use parse_file::{ParseFile, Settings};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_tracing();
    let curated_bucket = env::required("LANDFALL_CURATED_BUCKET")?;
    let config_location = env::required("LANDFALL_CONFIG")?;
    let work_dir = env::optional("LANDFALL_WORK_DIR").unwrap_or_else(|| std::env::temp_dir().display().to_string());

    let sdk = aws_config::load_from_env().await;
    let store = Arc::new(S3Store::new(s3_client(&sdk)));
    let config = landfall::config::load(&config_location, store.as_ref())
        .await
        .map_err(|e| EnvError::Invalid { name: "LANDFALL_CONFIG", message: e.to_string() })?;
    tracing::info!(config = %config_location, feeds = config.feeds.len(), "configuration loaded");

    let metrics = Metrics::new("landfall");
    let handler =
        ParseFile::new(store, Arc::new(config), Settings { curated_bucket, work_dir: work_dir.into() }, metrics);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let result = handler.handle(event.payload).await;
            handler.metrics().flush_emf(&mut std::io::stdout().lock());
            result
        }
    }))
    .await
}
