//! Lambda wiring for monitor-feeds: configuration, the warehouse driver, the
//! default channels (`LANDFALL_SLACK_WEBHOOK_SECRET`, the Secrets Manager
//! secret holding the webhook URL; `LANDFALL_ALERTS_TOPIC_ARN`, the SNS
//! topic) and the AWS clients are built once per cold start; the handler
//! lives in lib.rs.

use std::sync::Arc;

use landfall::config::Channels;
use landfall::secrets::SecretsManager;
use landfall::warehouse::{self, DriverSettings, Warehouse};
use landfall::{env, lambda, telemetry::Metrics};
use monitor_feeds::sns::SnsPublisher;
use monitor_feeds::{Curated, MonitorFeeds, Notifier};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let settings = DriverSettings::from_env()?;
    let defaults = Channels {
        slack_secret: env::optional("LANDFALL_SLACK_WEBHOOK_SECRET"),
        sns_topic: env::optional("LANDFALL_ALERTS_TOPIC_ARN"),
    };
    if let Some(topic) = &defaults.sns_topic
        && !topic.starts_with("arn:")
    {
        return Err(env::EnvError::Invalid {
            name: "LANDFALL_ALERTS_TOPIC_ARN",
            message: format!("not an ARN: {topic:?}"),
        }
        .into());
    }

    let sdk = lambda::sdk_config().await;
    let store = lambda::s3_store(&sdk);
    let config = lambda::config(store.as_ref()).await?;
    let curated = Curated { store: store.clone(), bucket: env::required("LANDFALL_CURATED_BUCKET")? };
    let warehouse = Arc::new(warehouse::from_config(&config.warehouse, &sdk, store, settings).await?);
    tracing::info!(
        warehouse = %warehouse.describe(),
        slack_secret = defaults.slack_secret.as_deref().unwrap_or("none"),
        sns_topic = defaults.sns_topic.as_deref().unwrap_or("none"),
        "monitor ready"
    );

    let metrics = Metrics::new("landfall");
    let notifier =
        Notifier::new(Arc::new(SecretsManager::new(&sdk)), Arc::new(SnsPublisher::new(&sdk)), metrics.clone());
    let handler = MonitorFeeds::new(config, warehouse, curated, notifier, defaults, metrics.clone());
    lambda::serve("monitor-feeds", metrics, |payload, deadline| handler.handle(payload, deadline)).await
}
