//! Lambda wiring for register-partitions: settings and clients are built
//! once per cold start; the handler lives in lib.rs.

use std::sync::Arc;

use landfall::catalog::GlueCatalog;
use landfall::pipeline::NoticeHandler;
use landfall::{env, lambda, telemetry::Metrics};
use register_partitions::{RegisterPartitions, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let curated_bucket = env::required("LANDFALL_CURATED_BUCKET")?;
    let database = env::required("LANDFALL_GLUE_DATABASE")?;

    let sdk = lambda::sdk_config().await;
    let store = lambda::s3_store(&sdk);
    let catalog = Arc::new(GlueCatalog::new(aws_sdk_glue::Client::new(&sdk), &database));
    tracing::info!(%curated_bucket, %database, "register-partitions configured");

    let metrics = Metrics::new("landfall");
    let handler = RegisterPartitions::new(store, catalog, Settings { curated_bucket, database }, metrics.clone());
    lambda::serve("register-partitions", metrics, |payload, deadline| handler.handle(payload, deadline)).await
}
