//! Test harness for the end-to-end tests: the local stack (moto + the
//! Terraform root module applied to it), real S3 notifications through real
//! SQS queues, and the pump delivering them to the handlers in-process.
//!
//! Tests share the stack's queues, so they take turns through [`Harness::lock`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use landfall::catalog::{Catalog, CatalogError, ErrorKind, GlueCatalog, PartitionDef, TableDef};
use landfall::config::Config;
use landfall::layout;
use landfall::manifest::Manifest;
use landfall::rejects::{Reject, read_rejects};
use landfall::storage::{ObjectStore, S3Store, s3_client};
use landfall_infra::{LocalStack, PumpReport, local};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

// An async mutex: each test has its own runtime, and a guard held across
// awaits must not block a thread; it also does not poison when a test fails.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Harness {
    pub stack: LocalStack,
    pub s3: aws_sdk_s3::Client,
    /// The functions' own object-store adapter, for reading the curated bucket.
    pub store: S3Store,
    pub sqs: aws_sdk_sqs::Client,
    pub glue: aws_sdk_glue::Client,
    /// The Glue catalog register-partitions uses here, observed.
    pub catalog: Arc<ObservedCatalog>,
    pub functions: local::Functions,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Harness {
    /// Takes this test's turn on the shared stack. Panics with the way to
    /// start the stack if it is not up: an end-to-end test that silently
    /// skipped would prove nothing.
    pub async fn start() -> Harness {
        Harness::start_with(None).await
    }

    /// Like [`Harness::start`], with the handlers reading `config/e2e.yaml`
    /// from `events/` (test feeds under `e2e/`) instead of the stack's config.
    pub async fn start_e2e() -> Harness {
        let path = landfall_infra::stack::repo_root().join("events/config/e2e.yaml");
        let config = Config::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
        Harness::start_with(Some(config)).await
    }

    pub async fn start_with(config: Option<Config>) -> Harness {
        let turn = TURN.lock().await;
        let stack = LocalStack::discover().unwrap_or_else(|e| panic!("{e}"));
        let mut functions = match config {
            None => local::functions(&stack).await,
            Some(c) => local::functions_with(&stack, c).await,
        }
        .unwrap_or_else(|e| panic!("{e}"));
        let sdk = functions.sdk.clone();
        let s3 = s3_client(&sdk);
        let glue = aws_sdk_glue::Client::new(&sdk);
        let catalog = Arc::new(ObservedCatalog::new(GlueCatalog::new(glue.clone(), &stack.glue_database)));
        functions.register_partitions =
            local::register_partitions(&stack, &sdk, catalog.clone(), functions.metrics.clone());
        let harness = Harness {
            store: S3Store::new(s3.clone()),
            s3,
            sqs: aws_sdk_sqs::Client::new(&sdk),
            glue,
            catalog,
            stack,
            functions,
            _turn: turn,
        };
        // Leftovers of a test that failed midway must not leak into this one.
        harness.drain().await;
        harness.catalog.forget();
        harness
    }

    /// Uploads to the landing bucket; returns the ETag.
    pub async fn put(&self, key: &str, body: impl Into<Vec<u8>>) -> String {
        let out = self
            .s3
            .put_object()
            .bucket(&self.stack.landing_bucket)
            .key(key)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
        out.e_tag().unwrap_or_default().trim_matches('"').to_owned()
    }

    /// Delivers the queued messages of the named functions only.
    pub async fn drain_only(&self, functions: &[&str]) -> PumpReport {
        let pump = local::pump_only(&self.stack, &self.functions, functions).unwrap_or_else(|e| panic!("{e}"));
        let report = pump.drain(Duration::from_secs(120)).await.unwrap_or_else(|e| panic!("pump: {e}"));
        assert!(report.drained, "queues did not drain: {report:?}");
        report
    }

    /// Delivers every queued message to the handlers.
    pub async fn drain(&self) -> PumpReport {
        let report = local::drain(&self.stack, &self.functions, Duration::from_secs(120))
            .await
            .unwrap_or_else(|e| panic!("pump: {e}"));
        assert!(report.drained, "queues did not drain: {report:?}");
        report
    }

    pub fn file_id(&self, key: &str, etag: &str) -> String {
        layout::file_id(&self.stack.landing_bucket, key, Some(etag), None)
    }

    pub async fn curated_bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.store.get_bytes(&self.stack.curated_bucket, key).await.ok()
    }

    pub async fn manifest(&self, table: &str, file_id: &str) -> Option<Manifest> {
        let bytes = self.curated_bytes(&layout::manifest_key(table, file_id)).await?;
        Some(Manifest::from_json(&bytes).unwrap_or_else(|e| panic!("manifest {table}/{file_id}: {e}")))
    }

    /// Uploads, pumps, and returns the manifest the file produced.
    pub async fn ingest(&self, key: &str, table: &str, body: impl Into<Vec<u8>>) -> Manifest {
        let etag = self.put(key, body).await;
        self.drain().await;
        let id = self.file_id(key, &etag);
        self.manifest(table, &id).await.unwrap_or_else(|| panic!("no manifest for {key} (file id {id})"))
    }

    pub async fn rejects(&self, key: &str) -> Vec<Reject> {
        let bytes = self.curated_bytes(key).await.unwrap_or_else(|| panic!("no rejects at {key}"));
        read_rejects(&bytes).unwrap_or_else(|e| panic!("rejects {key}: {e}"))
    }

    /// Reads every part of a manifest back as Arrow batches.
    pub async fn read_parts(&self, manifest: &Manifest) -> Vec<RecordBatch> {
        let mut batches = Vec::new();
        for part in &manifest.parts {
            let bytes = self.curated_bytes(&part.key).await.unwrap_or_else(|| panic!("missing part {}", part.key));
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
                .unwrap_or_else(|e| panic!("{}: {e}", part.key))
                .build()
                .unwrap_or_else(|e| panic!("{}: {e}", part.key));
            for batch in reader {
                batches.push(batch.unwrap_or_else(|e| panic!("{}: {e}", part.key)));
            }
        }
        batches
    }

    /// Every key under a curated prefix, sorted.
    pub async fn curated_keys(&self, prefix: &str) -> Vec<String> {
        let listed = self.store.list(&self.stack.curated_bucket, prefix).await;
        let mut keys: Vec<String> =
            listed.unwrap_or_else(|e| panic!("list {prefix}: {e}")).into_iter().map(|(k, _)| k).collect();
        keys.sort();
        keys
    }

    /// Sends a raw body to a function's queue, as S3 (or anyone) would.
    pub async fn send_to_queue(&self, function: &str, body: &str) {
        let queue = self.stack.queue(function).unwrap_or_else(|e| panic!("{e}"));
        self.sqs
            .send_message()
            .queue_url(&queue.url)
            .message_body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("send: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
    }

    /// Takes `n` messages off a function's queue (received and deleted),
    /// their bodies in the order received, so a test can deliver them again
    /// in an order of its own.
    pub async fn take_messages(&self, function: &str, n: usize) -> Vec<String> {
        let queue = self.stack.queue(function).unwrap_or_else(|e| panic!("{e}"));
        let mut bodies = Vec::new();
        for _ in 0..20 {
            if bodies.len() >= n {
                break;
            }
            bodies.extend(self.receive_and_delete(&queue.url).await);
        }
        assert_eq!(bodies.len(), n, "messages on {function}'s queue: {bodies:?}");
        bodies
    }

    pub async fn dead_letters(&self, function: &str) -> Vec<String> {
        let queue = self.stack.queue(function).unwrap_or_else(|e| panic!("{e}"));
        self.receive_and_delete(&queue.dlq_url).await
    }

    /// One receive of up to 10 messages, each deleted once read.
    async fn receive_and_delete(&self, url: &str) -> Vec<String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive {url}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
        let mut bodies = Vec::new();
        for m in out.messages() {
            bodies.push(m.body().unwrap_or_default().to_owned());
            if let Some(handle) = m.receipt_handle() {
                let _ = self.sqs.delete_message().queue_url(url).receipt_handle(handle).send().await;
            }
        }
        bodies
    }
}

/// run-job's handler on the local stack (its PostgreSQL, moto's S3 and Glue)
/// with the given config, as Lambda would build it.
pub async fn job_runner(stack: &LocalStack, config: Config) -> run_job::RunJob {
    let sdk = stack.sdk_config().await;
    let store = Arc::new(S3Store::new(s3_client(&sdk)));
    let work_dir = stack.dir.join("work");
    std::fs::create_dir_all(&work_dir).unwrap_or_else(|e| panic!("{}: {e}", work_dir.display()));
    let warehouse =
        landfall_infra::local::driver(stack, &sdk, &config, work_dir.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    let catalog = Arc::new(GlueCatalog::new(aws_sdk_glue::Client::new(&sdk), &stack.glue_database));
    let settings = run_job::Settings {
        curated_bucket: stack.curated_bucket.clone(),
        glue_database: stack.glue_database.clone(),
        work_dir,
    };
    let metrics = landfall::telemetry::Metrics::new("landfall");
    run_job::RunJob::new(Arc::new(config), warehouse, store, s3_client(&sdk), catalog, None, metrics, settings)
}

/// A connection to the stack's PostgreSQL, as an analyst would open one.
pub async fn warehouse(stack: &LocalStack) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", stack.database_url));
    tokio::spawn(connection);
    client
}

impl Harness {
    /// Runs a query through the simple protocol; every value as text.
    pub async fn sql(&self, query: &str) -> Vec<Vec<Option<String>>> {
        let client = warehouse(&self.stack).await;
        let msgs = client.simple_query(query).await.unwrap_or_else(|e| panic!("{query}: {e:?}"));
        msgs.into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                }
                _ => None,
            })
            .collect()
    }

    /// The first column of every row, as text (NULL as "NULL").
    pub async fn column(&self, query: &str) -> Vec<String> {
        self.sql(query)
            .await
            .into_iter()
            .map(|r| r.into_iter().next().flatten().unwrap_or_else(|| "NULL".into()))
            .collect()
    }

    /// One value.
    pub async fn scalar(&self, query: &str) -> String {
        self.column(query).await.into_iter().next().unwrap_or_else(|| panic!("{query}: no rows"))
    }

    /// Forgets the named tables (in schema public) and their ledger rows, so
    /// a test starts from nothing however often it has run on this stack.
    pub async fn reset_tables(&self, tables: &[&str]) {
        let client = warehouse(&self.stack).await;
        for t in tables {
            let name = landfall::warehouse::TableName::new("public", *t);
            client.batch_execute(&format!("DROP TABLE IF EXISTS {name}")).await.unwrap_or_else(|e| panic!("{e:?}"));
            let forget = format!(
                "DELETE FROM landfall.load_ledger WHERE table_name = {}",
                landfall::warehouse::Dialect::Postgres.literal(&name.plain())
            );
            // The ledger does not exist before the first load on a new stack.
            let _ = client.batch_execute(&forget).await;
            let _ = client.batch_execute(&forget.replace("load_ledger", "feed_stats")).await;
        }
    }
}

impl Harness {
    /// Three loaders at once on one table: all of `keys`, all but the
    /// first, the first alone; each must succeed.
    pub async fn race_three_loaders(&self, keys: &[(String, String)]) -> [load_warehouse::BatchOutcome; 3] {
        let lw = &self.functions.load_warehouse;
        let never = landfall::lambda::Deadline::never;
        let (a, b, c) = tokio::join!(
            lw.load_manifests(keys, never()),
            lw.load_manifests(keys.get(1..).unwrap_or_default(), never()),
            lw.load_manifests(keys.get(..1).unwrap_or_default(), never())
        );
        for outcome in [&a, &b, &c] {
            assert_eq!(outcome.first_error(), None);
        }
        [a, b, c]
    }

    /// Puts an object into the curated bucket, as parse-file does.
    pub async fn put_curated(&self, key: &str, body: Vec<u8>) {
        self.store
            .put_bytes(&self.stack.curated_bucket, key, body, "application/vnd.apache.parquet")
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
    }

    /// Forgets a table: its Glue table (and so its partitions) and its
    /// curated objects, so a test starts from nothing however often it runs.
    pub async fn reset_table(&self, table: &str) {
        let _ = self.glue.delete_table().database_name(&self.stack.glue_database).name(table).send().await;
        for key in self.curated_keys(&format!("{}{table}/", layout::TABLES_PREFIX)).await {
            self.s3
                .delete_object()
                .bucket(&self.stack.curated_bucket)
                .key(&key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("delete {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
        }
    }

    /// Drops what waits in a function's queue (notifications a test wants unseen).
    pub async fn purge(&self, function: &str) {
        let queue = self.stack.queue(function).unwrap_or_else(|e| panic!("{e}"));
        self.sqs
            .purge_queue()
            .queue_url(&queue.url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("purge: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
    }

    pub async fn glue_table(&self, table: &str) -> Option<aws_sdk_glue::types::Table> {
        let out = self.glue.get_table().database_name(&self.stack.glue_database).name(table).send().await.ok()?;
        out.table().cloned()
    }

    /// A table's partitions: dt -> its columns as "name type".
    pub async fn glue_partitions(&self, table: &str) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .glue
            .get_partitions()
            .database_name(&self.stack.glue_database)
            .table_name(table)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .unwrap_or_else(|e| panic!("partitions of {table}: {}", aws_sdk_glue::error::DisplayErrorContext(e)));
            for p in page.partitions() {
                let cols = p.storage_descriptor().map(|sd| columns(sd.columns())).unwrap_or_default();
                out.insert(p.values().first().cloned().unwrap_or_default(), cols);
            }
        }
        out
    }
}

/// Glue columns as "name type".
pub fn columns(cols: &[aws_sdk_glue::types::Column]) -> Vec<String> {
    cols.iter().map(|c| format!("{} {}", c.name(), c.r#type().unwrap_or("?"))).collect()
}

/// One catalog call as register-partitions made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub operation: &'static str,
    pub table: String,
    /// Partitions in a batch call.
    pub entries: usize,
}

/// The real Glue catalog with every call recorded, and one fault moto cannot
/// produce: a per-entry error inside an otherwise successful
/// BatchCreatePartition (moto reports only AlreadyExists per entry). The
/// chosen partition is left out of the call to Glue and reported back as an
/// InternalServiceException entry, exactly as Glue reports one.
pub struct ObservedCatalog {
    inner: GlueCatalog,
    calls: Mutex<Vec<Call>>,
    /// (table, dt) -> how many more calls fail that entry.
    faults: Mutex<BTreeMap<(String, String), usize>>,
}

impl ObservedCatalog {
    pub fn new(inner: GlueCatalog) -> Self {
        Self { inner, calls: Mutex::default(), faults: Mutex::default() }
    }

    /// The next `times` BatchCreatePartition calls carrying this partition fail its entry.
    pub fn fail_entry(&self, table: &str, dt: &str, times: usize) {
        self.faults.lock().unwrap_or_else(|p| p.into_inner()).insert((table.into(), dt.into()), times);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The calls of one operation on one table.
    pub fn calls_to(&self, operation: &str, table: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.operation == operation && c.table == table).collect()
    }

    pub fn forget(&self) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn record(&self, operation: &'static str, table: &str, entries: usize) {
        let call = Call { operation, table: table.to_owned(), entries };
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(call);
    }

    fn take_fault(&self, table: &str, dt: &str) -> bool {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        match faults.get_mut(&(table.to_owned(), dt.to_owned())) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl Catalog for ObservedCatalog {
    async fn get_table(&self, table: &str) -> Result<Option<TableDef>, CatalogError> {
        self.record("GetTable", table, 0);
        self.inner.get_table(table).await
    }

    async fn create_table(&self, table: &TableDef) -> Result<(), CatalogError> {
        self.record("CreateTable", &table.name, 0);
        self.inner.create_table(table).await
    }

    async fn update_table(&self, table: &TableDef) -> Result<(), CatalogError> {
        self.record("UpdateTable", &table.name, 0);
        self.inner.update_table(table).await
    }

    async fn batch_get_partitions(&self, table: &str, dts: &[String]) -> Result<Vec<String>, CatalogError> {
        self.record("BatchGetPartition", table, dts.len());
        self.inner.batch_get_partitions(table, dts).await
    }

    async fn batch_create_partitions(
        &self,
        table: &TableDef,
        partitions: &[PartitionDef],
    ) -> Result<Vec<CatalogError>, CatalogError> {
        self.record("BatchCreatePartition", &table.name, partitions.len());
        let (failing, passing): (Vec<&PartitionDef>, Vec<&PartitionDef>) =
            partitions.iter().partition(|p| self.take_fault(&table.name, &p.dt));
        let passing: Vec<PartitionDef> = passing.into_iter().cloned().collect();
        let mut errors =
            if passing.is_empty() { Vec::new() } else { self.inner.batch_create_partitions(table, &passing).await? };
        errors.extend(failing.into_iter().map(|p| CatalogError {
            operation: "BatchCreatePartition",
            database: self.inner.database().to_owned(),
            table: table.name.clone(),
            partition: Some(p.dt.clone()),
            kind: ErrorKind::Server,
            message: "InternalServiceException: injected by the test's ObservedCatalog".into(),
        }));
        Ok(errors)
    }
}

/// The names of a batch's columns.
pub fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch.schema().fields().iter().map(|f| f.name().clone()).collect()
}

/// Total rows over batches.
pub fn total_rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}
