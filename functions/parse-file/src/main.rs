//! Lambda wiring for parse-file: configuration and clients are built once per
//! cold start; the handler lives in lib.rs.

use landfall::pipeline::NoticeHandler;
use landfall::{env, lambda, telemetry::Metrics};
use parse_file::{ParseFile, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let settings = Settings {
        curated_bucket: env::required("LANDFALL_CURATED_BUCKET")?,
        work_dir: lambda::work_dir(),
        threads: env::parse_threads("LANDFALL_PARSE_THREADS")?,
    };

    let sdk = lambda::sdk_config().await;
    let store = lambda::s3_store(&sdk);
    let config = lambda::config(store.as_ref()).await?;

    let metrics = Metrics::new("landfall");
    let handler =
        ParseFile::new(store, config, settings, metrics.clone()).with_budget(lambda::FunctionBudget::from_env());
    lambda::serve("parse-file", metrics, |payload, deadline| handler.handle(payload, deadline)).await
}
