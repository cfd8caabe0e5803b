//! The local stack seen from Rust: where it is (written by `infra/stack up`),
//! AWS clients pointed at it, and the pump that delivers SQS messages to the
//! handlers the way the Lambda event source mapping does.

pub mod bench_rig;
pub mod clickstream;
pub mod fuzz;
pub mod peers;
pub mod pump;
pub mod stack;

pub use pump::{Pump, PumpReport, SqsHandler};

/// Clickstream data for the benchmarks ([`clickstream`], default seed and
/// day), kept: a file already at `path` is reused. Written beside `path`
/// and renamed into place, so an interrupted run leaves no truncated file
/// for the next one to reuse.
pub fn generate_clickstream(path: &std::path::Path, format: &str, rows: u64) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let options = clickstream::Options::new(rows, format.parse()?);
    eprintln!("generating {} ({rows} rows)...", path.display());
    let partial = path.with_extension("partial");
    let written = std::fs::File::create(&partial).and_then(|file| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        clickstream::write(&mut out, &options)
    });
    match written.and_then(|()| std::fs::rename(&partial, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}
pub use stack::{LocalStack, QueueBinding, StackError};

/// Secrets for the local stack's PostgreSQL, which needs no password: every
/// name is not found.
pub struct NoSecrets;

#[async_trait::async_trait]
impl landfall::secrets::Secrets for NoSecrets {
    async fn secret_string(&self, name: &str) -> Result<String, landfall::secrets::SecretError> {
        Err(landfall::secrets::SecretError::NotFound { name: name.into() })
    }
}

pub mod local {
    //! The handlers wired to the local stack as Lambda wires them in AWS: the
    //! config read from its S3 URL, clients built once.

    use std::sync::Arc;
    use std::time::Duration;

    use fetch_api::{FetchApi, HttpClient};
    use landfall::catalog::{Catalog, GlueCatalog};
    use landfall::config::Config;
    use landfall::secrets::SecretsManager;
    use landfall::storage::{S3Store, s3_client};
    use landfall::telemetry::Metrics;
    use landfall::threads::Threads;
    use landfall::warehouse::{self, Driver, DriverSettings, Warehouse, WarehouseError};
    use load_warehouse::LoadWarehouse;
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
        #[error(transparent)]
        Warehouse(#[from] WarehouseError),
        #[error("HTTP client: {0}")]
        Http(String),
    }

    pub struct Functions {
        /// The SDK configuration the handlers were built with; the pump reuses it.
        pub sdk: aws_config::SdkConfig,
        pub parse_file: ParseFile,
        pub register_partitions: RegisterPartitions,
        pub load_warehouse: LoadWarehouse,
        /// Not behind a queue: `landfall fetch` and the tests fire its schedule payload by hand.
        pub fetch_api: FetchApi,
        /// The configured warehouse driver itself, for tests that load outside SQS.
        pub warehouse: Arc<dyn Warehouse>,
        pub metrics: Metrics,
        pub config: Arc<Config>,
    }

    /// The configured warehouse driver as Lambda builds it: the environment
    /// winning over the config file; locally the stack's PostgreSQL is the
    /// default URL.
    pub async fn driver(
        stack: &LocalStack,
        sdk: &aws_config::SdkConfig,
        config: &Config,
        work_dir: std::path::PathBuf,
    ) -> Result<Driver, WarehouseError> {
        let settings =
            DriverSettings::for_tool(stack.curated_bucket.clone(), work_dir, Some(stack.database_url.clone()));
        let store = Arc::new(S3Store::new(s3_client(sdk)));
        warehouse::from_config(&config.warehouse, sdk, store, settings).await
    }

    pub async fn functions(stack: &LocalStack) -> Result<Functions, LocalError> {
        let sdk = stack.sdk_config().await;
        let store = S3Store::new(s3_client(&sdk));
        let config = landfall::config::load(&stack.config_url, &store).await?;
        functions_with(stack, config).await
    }

    /// The handlers with a config of the caller's (tests use their own feeds).
    pub async fn functions_with(stack: &LocalStack, config: Config) -> Result<Functions, LocalError> {
        let sdk = stack.sdk_config().await;
        let store = Arc::new(S3Store::new(s3_client(&sdk)));
        let config = Arc::new(config);
        let metrics = Metrics::new("landfall");
        let work_dir = stack.dir.join("work");
        let _ = std::fs::create_dir_all(&work_dir);
        let parse_file = ParseFile::new(
            store.clone(),
            Arc::clone(&config),
            Settings {
                curated_bucket: stack.curated_bucket.clone(),
                work_dir: work_dir.clone(),
                threads: Threads::available(),
            },
            metrics.clone(),
        );
        let glue = Arc::new(GlueCatalog::new(aws_sdk_glue::Client::new(&sdk), &stack.glue_database));
        let register_partitions = register_partitions(stack, &sdk, glue, metrics.clone());
        let warehouse: Arc<dyn Warehouse> = Arc::new(driver(stack, &sdk, &config, work_dir).await?);
        let load_warehouse =
            LoadWarehouse::new(store.clone(), Arc::clone(&config), Arc::clone(&warehouse), metrics.clone());
        let http =
            HttpClient::new(fetch_api::http_client().map_err(|e| LocalError::Http(e.to_string()))?, metrics.clone());
        let fetch_api = FetchApi::new(
            Arc::clone(&config),
            store.clone(),
            Arc::new(SecretsManager::new(&sdk)),
            http,
            metrics.clone(),
            fetch_api::Settings {
                landing_bucket: stack.landing_bucket.clone(),
                curated_bucket: stack.curated_bucket.clone(),
                time_budget: Duration::from_secs(840),
            },
        );
        Ok(Functions { sdk, parse_file, register_partitions, load_warehouse, fetch_api, warehouse, metrics, config })
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

    /// Every function's queue routed to its handler.
    pub fn pump(stack: &LocalStack, functions: &Functions) -> Result<Pump, LocalError> {
        pump_only(stack, functions, &["parse-file", "register-partitions", "load-warehouse"])
    }

    /// Only the named functions' queues (a test may hold one stage back).
    pub fn pump_only(stack: &LocalStack, functions: &Functions, names: &[&str]) -> Result<Pump, LocalError> {
        let sqs = aws_sdk_sqs::Client::new(&functions.sdk);
        let mut pump = Pump::new(sqs, &stack.region);
        for &name in names {
            let handler: Arc<dyn crate::SqsHandler> = match name {
                "parse-file" => Arc::new(functions.parse_file.clone()),
                "register-partitions" => Arc::new(functions.register_partitions.clone()),
                "load-warehouse" => Arc::new(functions.load_warehouse.clone()),
                other => {
                    return Err(
                        crate::StackError::Missing { path: "local::pump_only".into(), key: other.into() }.into()
                    );
                }
            };
            pump = pump.route(name, stack.queue(name)?.clone(), handler);
        }
        Ok(pump)
    }

    /// Points a source's requests at another scheme://host:port (a local server), keeping its path.
    pub fn point_source_at(config: &mut Config, source: &str, base: &str) -> Result<(), LocalError> {
        let missing = || crate::StackError::Missing { path: config.origin.clone(), key: format!("sources.{source}") };
        let origin_len = |url: &str| url.find("://").map(|s| url[s + 3..].find('/').map_or(url.len(), |p| s + 3 + p));
        let index = config.sources.iter().position(|s| s.name == source).ok_or_else(missing)?;
        let url = &config.sources[index].url;
        let end = origin_len(url).ok_or_else(missing)?;
        config.sources[index].url = format!("{}{}", base.trim_end_matches('/'), &url[end..]);
        Ok(())
    }

    /// Pumps every queue until it is empty.
    pub async fn drain(stack: &LocalStack, functions: &Functions, timeout: Duration) -> Result<PumpReport, LocalError> {
        Ok(pump(stack, functions)?.drain(timeout).await?)
    }
}
