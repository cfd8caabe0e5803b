//! The handler's batch semantics, with a warehouse driver that records what
//! it is asked to load and fails the tables a test names, and an in-memory
//! object store that can throttle. The same behaviours run against moto and
//! a real PostgreSQL in tests/tests/load_warehouse.rs.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use landfall::config::Config;
use landfall::events::fixtures::{failed_ids, s3_notification, sqs_event};
use landfall::lambda::Deadline;
use landfall::manifest::{FileStatus, MANIFEST_VERSION, Manifest, SourceObject};
use landfall::pipeline::NoticeHandler;
use landfall::storage::memory::{Fault, MemoryStore};
use landfall::telemetry::Metrics;
use landfall::warehouse::{Dialect, LoadReport, Rows, TableLoad, TableName, Warehouse, WarehouseError};
use load_warehouse::LoadWarehouse;

/// Records each load; fails loads of the tables in `failing`.
#[derive(Default)]
struct RecordingWarehouse {
    loads: Mutex<Vec<(String, Vec<String>)>>,
    failing: Vec<&'static str>,
}

#[async_trait]
impl Warehouse for RecordingWarehouse {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn describe(&self) -> String {
        "a recording stand-in".into()
    }

    async fn fetch(&self, _about: &TableName, _name: &str, _sql: &str) -> Result<Rows, WarehouseError> {
        Ok(Vec::new())
    }

    async fn transaction(&self, _about: &TableName, _name: &str, _sql: Vec<String>) -> Result<(), WarehouseError> {
        Ok(())
    }

    async fn load(&self, load: &TableLoad) -> Result<LoadReport, WarehouseError> {
        let ids = load.file_ids().into_iter().map(str::to_owned).collect();
        self.loads.lock().unwrap().push((load.target.table.clone(), ids));
        if self.failing.contains(&load.target.table.as_str()) {
            return Err(WarehouseError::Sql {
                table: load.target.plain(),
                statement: "LOCK".into(),
                code: Some("40P01".into()),
                message: "deadlock detected".into(),
                retryable: true,
            });
        }
        Ok(LoadReport { load_id: load.load_id.clone(), table: load.target.plain(), ..LoadReport::default() })
    }
}

fn manifest(table: &str, file_id: &str) -> Manifest {
    Manifest {
        manifest_version: MANIFEST_VERSION,
        file_id: file_id.into(),
        source: SourceObject {
            bucket: "landing".into(),
            key: format!("{table}/{file_id}.csv"),
            url: format!("s3://landing/{table}/{file_id}.csv"),
            version_id: None,
            etag: Some(file_id.into()),
            size: 10,
            sequencer: None,
        },
        feed: table.into(),
        table: table.into(),
        status: FileStatus::Parsed,
        error: None,
        input: None,
        schema: Vec::new(),
        parts: Vec::new(),
        rows: 0,
        rejected_rows: 0,
        rejects_key: None,
        widenings: Vec::new(),
        discarded_columns: Vec::new(),
        arrival_date: "2026-11-22".into(),
        parsed_at: format!("2026-11-22T10:00:00.000Z-{file_id}"),
        producer: "test".into(),
    }
}

/// Stores a manifest; returns the S3 notification for it.
fn put_manifest(store: &MemoryStore, table: &str, file_id: &str) -> String {
    let key = landfall::layout::manifest_key(table, file_id);
    store.insert("curated", &key, &manifest(table, file_id).to_json());
    s3_notification("curated", &key)
}

fn handler(store: Arc<MemoryStore>, warehouse: Arc<RecordingWarehouse>) -> LoadWarehouse {
    let config = Config::from_yaml("feeds:\n  orders:\n    prefix: orders/\n", "test").unwrap();
    LoadWarehouse::new(store, Arc::new(config), warehouse, Metrics::new("test"))
}

#[tokio::test]
async fn manifests_of_one_table_in_a_batch_are_loaded_together() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse::default());
    let a = put_manifest(&store, "orders", "f1");
    let b = put_manifest(&store, "orders", "f2");
    let c = put_manifest(&store, "clicks", "f3");
    let response = handler(store, wh.clone()).handle_sqs(sqs_event(&[&a, &b, &c]), Deadline::never()).await;
    assert!(failed_ids(&response).is_empty());
    let mut loads = wh.loads.lock().unwrap().clone();
    loads.sort();
    assert_eq!(loads, vec![("clicks".into(), vec!["f3".into()]), ("orders".into(), vec!["f1".into(), "f2".into()])]);
}

#[tokio::test]
async fn a_failed_table_fails_only_the_messages_that_carried_its_manifests() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse { failing: vec!["broken"], ..RecordingWarehouse::default() });
    let ok1 = put_manifest(&store, "orders", "f1");
    let bad = put_manifest(&store, "broken", "f2");
    let ok2 = put_manifest(&store, "orders", "f3");
    let h = handler(store, wh);
    let response = h.handle_sqs(sqs_event(&[&ok1, &bad, &ok2]), Deadline::never()).await;
    assert_eq!(failed_ids(&response), vec!["m1"]);
    assert_eq!(
        h.metrics()
            .get(landfall::telemetry::catalog::LOADS_COMPLETED.name, &[("table", "broken"), ("outcome", "retry")]),
        1
    );
}

#[tokio::test]
async fn the_same_manifest_in_two_messages_is_loaded_once_and_both_succeed() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse::default());
    let a = put_manifest(&store, "orders", "f1");
    let response = handler(store, wh.clone()).handle_sqs(sqs_event(&[&a, &a]), Deadline::never()).await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(wh.loads.lock().unwrap().clone(), vec![("orders".into(), vec!["f1".into()])]);
}

#[tokio::test]
async fn a_key_that_is_not_a_manifest_is_skipped_and_its_message_succeeds() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse::default());
    let part = s3_notification("curated", "tables/orders/dt=2026-11-01/f1-0.parquet");
    let h = handler(store, wh.clone());
    let response = h.handle_sqs(sqs_event(&[&part]), Deadline::never()).await;
    assert!(failed_ids(&response).is_empty());
    assert!(wh.loads.lock().unwrap().is_empty());
    assert_eq!(h.metrics().get(landfall::telemetry::catalog::EVENTS_SKIPPED.name, &[("reason", "not_a_manifest")]), 1);
}

#[tokio::test]
async fn a_manifest_deleted_before_loading_succeeds_with_nothing_to_load() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse::default());
    let gone = s3_notification("curated", "_manifests/orders/gone.json");
    let h = handler(store, wh.clone());
    let response = h.handle_sqs(sqs_event(&[&gone]), Deadline::never()).await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(h.metrics().get(landfall::telemetry::catalog::MANIFESTS_MISSING.name, &[]), 1);
    assert!(wh.loads.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_corrupt_manifest_fails_its_message_so_it_reaches_the_dlq() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse::default());
    store.insert("curated", "_manifests/orders/bad.json", b"{\"not\": \"a manifest\"}");
    let bad = s3_notification("curated", "_manifests/orders/bad.json");
    let good = put_manifest(&store, "orders", "f1");
    let response = handler(store, wh.clone()).handle_sqs(sqs_event(&[&good, &bad]), Deadline::never()).await;
    assert_eq!(failed_ids(&response), vec!["m1"]);
    assert_eq!(wh.loads.lock().unwrap().len(), 1, "the good manifest still loads");
}

#[tokio::test]
async fn a_throttled_manifest_read_fails_its_message_for_a_retry() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse::default());
    let slow = put_manifest(&store, "orders", "slow");
    store.fault("_manifests/orders/slow.json", Fault::Throttle);
    let h = handler(store, wh);
    let response = h.handle_sqs(sqs_event(&[&slow]), Deadline::never()).await;
    assert_eq!(failed_ids(&response), vec!["m0"]);
    assert_eq!(h.metrics().get(landfall::telemetry::catalog::MANIFESTS_UNREADABLE.name, &[("retryable", "true")]), 1);
}

#[tokio::test]
async fn a_body_that_is_not_a_notification_fails_only_itself() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse::default());
    let good = put_manifest(&store, "orders", "f1");
    let response = handler(store, wh).handle_sqs(sqs_event(&["not json", &good]), Deadline::never()).await;
    assert_eq!(failed_ids(&response), vec!["m0"]);
}

#[tokio::test]
async fn a_direct_invocation_errors_when_a_table_fails_so_lambda_retries() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse { failing: vec!["broken"], ..RecordingWarehouse::default() });
    let bad = put_manifest(&store, "broken", "f2");
    let ok = put_manifest(&store, "orders", "f1");
    let h = handler(store, wh);
    let err = h.handle(serde_json::from_str(&bad).unwrap(), Deadline::never()).await.unwrap_err();
    assert!(err.to_string().contains("deadlock detected"), "{err}");
    let done = h.handle(serde_json::from_str(&ok).unwrap(), Deadline::never()).await.unwrap();
    assert_eq!(done["loads"][0]["table"], "public.orders");
}

#[tokio::test]
async fn a_load_that_would_start_near_the_deadline_is_not_started_and_its_messages_come_back() {
    let store = Arc::new(MemoryStore::default());
    let wh = Arc::new(RecordingWarehouse::default());
    let a = put_manifest(&store, "orders", "f1");
    let h = handler(store, wh.clone());
    let soon = Deadline::after(load_warehouse::DEADLINE_MARGIN / 2);
    let response = h.handle_sqs(sqs_event(&[&a]), soon).await;
    assert_eq!(failed_ids(&response), vec!["m0"]);
    assert!(wh.loads.lock().unwrap().is_empty(), "nothing was started");
    assert_eq!(h.metrics().get(landfall::telemetry::catalog::LOADS_DEFERRED.name, &[("table", "orders")]), 1);
    assert_eq!(h.metrics().get(landfall::telemetry::catalog::MESSAGES_FAILED.name, &[("disposition", "retry")]), 1);
}
