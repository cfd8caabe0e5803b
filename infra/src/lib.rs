//! The local stack seen from Rust: where it is (written by `infra/stack up`),
//! AWS clients pointed at it, and the pump that delivers SQS messages to the
//! handlers the way the Lambda event source mapping does.

pub mod pump;
pub mod stack;

pub use pump::{Pump, PumpReport, SqsHandler};
pub use stack::{LocalStack, QueueBinding, StackError};

pub mod local {
    //! The handlers wired to the local stack as Lambda wires them in AWS: the
    //! config read from its S3 URL, clients built once.

    use std::sync::Arc;
    use std::time::Duration;

    use landfall::catalog::{Catalog, GlueCatalog};
    use landfall::config::Config;
    use landfall::storage::{S3Store, s3_client};
    use landfall::telemetry::Metrics;
    use parse_file::{ParseFile, Settings};
    use register_partitions::RegisterPartitions;

    use crate::{LocalStack, Pump, PumpReport};

    #[derive(Debug, thiserror::Error)]
    pub enum LocalError {
        #[error(transparent)]
        Stack(#[from] crate::StackError),
        #[error(transparent)]
        Config(#[from] landfall::config::ConfigError),
        #[error(transparent)]
        Pump(#[from] crate::pump::PumpError),
    }

    pub struct Functions {
        /// The SDK configuration the handlers were built with; the pump reuses it.
        pub sdk: aws_config::SdkConfig,
        pub parse_file: ParseFile,
        pub register_partitions: RegisterPartitions,
        pub metrics: Metrics,
        pub config: Arc<Config>,
    }

    pub async fn functions(stack: &LocalStack) -> Result<Functions, LocalError> {
        let sdk = stack.sdk_config().await;
        let store = Arc::new(S3Store::new(s3_client(&sdk)));
        let config = Arc::new(landfall::config::load(&stack.config_url, store.as_ref()).await?);
        let metrics = Metrics::new("landfall");
        let work_dir = stack.dir.join("work");
        let _ = std::fs::create_dir_all(&work_dir);
        let parse_file = ParseFile::new(
            store,
            Arc::clone(&config),
            Settings { curated_bucket: stack.curated_bucket.clone(), work_dir },
            metrics.clone(),
        );
        let glue = Arc::new(GlueCatalog::new(aws_sdk_glue::Client::new(&sdk), &stack.glue_database));
        let register_partitions = register_partitions(stack, &sdk, glue, metrics.clone());
        Ok(Functions { sdk, parse_file, register_partitions, metrics, config })
    }

    /// register-partitions on a given catalog: Glue in the stack, or a
    /// wrapper around it (the tests count calls and inject faults moto cannot).
    pub fn register_partitions(
        stack: &LocalStack,
        sdk: &aws_config::SdkConfig,
        catalog: Arc<dyn Catalog>,
        metrics: Metrics,
    ) -> RegisterPartitions {
        let store = Arc::new(S3Store::new(s3_client(sdk)));
        let settings = register_partitions::Settings {
            curated_bucket: stack.curated_bucket.clone(),
            database: stack.glue_database.clone(),
        };
        RegisterPartitions::new(store, catalog, settings, metrics)
    }

    pub fn pump(stack: &LocalStack, functions: &Functions) -> Result<Pump, LocalError> {
        let sqs = aws_sdk_sqs::Client::new(&functions.sdk);
        Ok(Pump::new(sqs, &stack.region)
            .route("parse-file", stack.queue("parse-file")?.clone(), Arc::new(functions.parse_file.clone()))
            .route(
                "register-partitions",
                stack.queue("register-partitions")?.clone(),
                Arc::new(functions.register_partitions.clone()),
            ))
    }

    /// Pumps every queue until it is empty.
    pub async fn drain(stack: &LocalStack, functions: &Functions, timeout: Duration) -> Result<PumpReport, LocalError> {
        Ok(pump(stack, functions)?.drain(timeout).await?)
    }
}
