//! Lambda wiring for fetch-api: configuration, the HTTP client and the AWS
//! clients are built once per cold start; the handler lives in lib.rs.

use std::sync::Arc;
use std::time::Duration;

use fetch_api::{FetchApi, HttpClient, Settings, http_client};
use landfall::secrets::SecretsManager;
use landfall::{env, lambda, telemetry::Metrics};

/// Lambda's longest timeout less a minute to commit: runs stop at a page boundary before it.
const DEFAULT_TIME_BUDGET_SECONDS: u64 = 840;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let landing_bucket = env::required("LANDFALL_LANDING_BUCKET")?;
    let curated_bucket = env::required("LANDFALL_CURATED_BUCKET")?;
    let time_budget = match env::optional("LANDFALL_FETCH_TIME_BUDGET_SECONDS") {
        None => DEFAULT_TIME_BUDGET_SECONDS,
        Some(v) => v.parse().map_err(|e| env::EnvError::Invalid {
            name: "LANDFALL_FETCH_TIME_BUDGET_SECONDS",
            message: format!("{v:?}: {e}"),
        })?,
    };

    let sdk = lambda::sdk_config().await;
    let store = lambda::s3_store(&sdk);
    let config = lambda::config(store.as_ref()).await?;

    let metrics = Metrics::new("landfall");
    let http = HttpClient::new(http_client()?, metrics.clone());
    let settings = Settings { landing_bucket, curated_bucket, time_budget: Duration::from_secs(time_budget) };
    let secrets = Arc::new(SecretsManager::new(&sdk));
    let handler = FetchApi::new(config, store, secrets, http, metrics.clone(), settings);
    lambda::serve("fetch-api", metrics, |payload, deadline| handler.handle(payload, deadline)).await
}
