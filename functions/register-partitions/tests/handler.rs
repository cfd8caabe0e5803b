//! The handler's behaviour against an in-memory catalog that can inject the
//! faults Glue produces under load (throttling, a per-entry internal error,
//! a table created by a concurrent invocation) and an in-memory object store
//! holding real Parquet bytes. The same behaviours run against moto's Glue
//! in tests/tests/register_partitions.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use async_trait::async_trait;
use landfall::catalog::{Catalog, CatalogError, Column, ErrorKind, HiveType, PartitionDef, TableDef};
use landfall::events::fixtures::{failed_ids, sqs_event};
use landfall::lambda::Deadline;
use landfall::pipeline::NoticeHandler;
use landfall::storage::{ByteRange, ObjectBody, ObjectMeta, ObjectStore, RangeRead, StorageError, Version};
use landfall::telemetry::Metrics;
use register_partitions::repair::{RepairRequest, Tables};
use register_partitions::{RegisterPartitions, Settings};
use serde_json::{Value, json};

const BUCKET: &str = "curated";

// ---------------------------------------------------------------- fakes

#[derive(Default)]
struct MemoryStore {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    ranges: Mutex<Vec<(String, ByteRange)>>,
    throttled: Mutex<BTreeSet<String>>,
}

impl MemoryStore {
    fn put(&self, key: &str, body: Vec<u8>) {
        self.objects.lock().unwrap().insert(key.into(), body);
    }
    fn range_reads(&self, key: &str) -> Vec<ByteRange> {
        self.ranges.lock().unwrap().iter().filter(|(k, _)| k == key).map(|(_, r)| *r).collect()
    }
    fn not_found(key: &str) -> StorageError {
        StorageError::NotFound { bucket: BUCKET.into(), key: key.into() }
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn get(&self, _bucket: &str, key: &str, _version: Version<'_>) -> Result<ObjectBody, StorageError> {
        let data = self.objects.lock().unwrap().get(key).cloned().ok_or_else(|| Self::not_found(key))?;
        let meta = ObjectMeta { size: data.len() as u64, etag: None, version_id: None };
        Ok(ObjectBody { meta, reader: Box::pin(std::io::Cursor::new(data)) })
    }

    async fn put_bytes(&self, _bucket: &str, key: &str, body: Vec<u8>, _ct: &str) -> Result<(), StorageError> {
        self.put(key, body);
        Ok(())
    }

    async fn put_file(&self, _bucket: &str, key: &str, path: &Path, _ct: &str) -> Result<(), StorageError> {
        let body =
            std::fs::read(path).map_err(|source| StorageError::Local { path: path.display().to_string(), source })?;
        self.put(key, body);
        Ok(())
    }

    async fn list(&self, _bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        let objects = self.objects.lock().unwrap();
        Ok(objects.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.len() as u64)).collect())
    }

    async fn get_range(&self, _bucket: &str, key: &str, range: ByteRange) -> Result<RangeRead, StorageError> {
        self.ranges.lock().unwrap().push((key.into(), range));
        if self.throttled.lock().unwrap().contains(key) {
            return Err(StorageError::Request {
                operation: "GetObject",
                bucket: BUCKET.into(),
                key: key.into(),
                message: "SlowDown".into(),
                retryable: true,
            });
        }
        let data = self.objects.lock().unwrap().get(key).cloned().ok_or_else(|| Self::not_found(key))?;
        let (start, end) = range.bounds(data.len() as u64);
        Ok(RangeRead { bytes: data[start as usize..end as usize].to_vec(), object_size: data.len() as u64 })
    }
}

#[derive(Default)]
struct FakeCatalog {
    tables: Mutex<BTreeMap<String, TableDef>>,
    partitions: Mutex<BTreeMap<(String, String), PartitionDef>>,
    calls: Mutex<Vec<&'static str>>,
    /// Tables whose GetTable is throttled.
    throttle_tables: Mutex<BTreeSet<String>>,
    /// (table, dt) whose BatchCreatePartition entry fails with this kind.
    entry_faults: Mutex<BTreeMap<(String, String), ErrorKind>>,
    /// A table another invocation creates just before our CreateTable.
    racing_create: Mutex<Option<TableDef>>,
    /// Columns another invocation adds just before our UpdateTable.
    racing_update: Mutex<Option<Column>>,
}

impl FakeCatalog {
    fn err(op: &'static str, table: &str, kind: ErrorKind, partition: Option<&str>) -> CatalogError {
        CatalogError {
            operation: op,
            database: "db".into(),
            table: table.into(),
            partition: partition.map(str::to_owned),
            kind,
            message: format!("{kind:?}"),
        }
    }
    fn count(&self, op: &str) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| **c == op).count()
    }
    fn table(&self, name: &str) -> TableDef {
        self.tables.lock().unwrap().get(name).cloned().unwrap_or_else(|| panic!("no table {name}"))
    }
    fn dts(&self, table: &str) -> Vec<String> {
        self.partitions.lock().unwrap().keys().filter(|(t, _)| t == table).map(|(_, d)| d.clone()).collect()
    }
    fn partition(&self, table: &str, dt: &str) -> PartitionDef {
        self.partitions.lock().unwrap().get(&(table.into(), dt.into())).cloned().expect("partition")
    }
}

#[async_trait]
impl Catalog for FakeCatalog {
    async fn get_table(&self, table: &str) -> Result<Option<TableDef>, CatalogError> {
        self.calls.lock().unwrap().push("GetTable");
        if self.throttle_tables.lock().unwrap().contains(table) {
            return Err(Self::err("GetTable", table, ErrorKind::Throttled, None));
        }
        Ok(self.tables.lock().unwrap().get(table).cloned())
    }

    async fn create_table(&self, table: &TableDef) -> Result<(), CatalogError> {
        self.calls.lock().unwrap().push("CreateTable");
        if let Some(other) = self.racing_create.lock().unwrap().take() {
            self.tables.lock().unwrap().insert(other.name.clone(), other);
        }
        let mut tables = self.tables.lock().unwrap();
        if tables.contains_key(&table.name) {
            return Err(Self::err("CreateTable", &table.name, ErrorKind::AlreadyExists, None));
        }
        let mut stored = table.clone();
        stored.version_id = Some("1".into());
        tables.insert(table.name.clone(), stored);
        Ok(())
    }

    /// Like Glue: an update made against an older version fails.
    async fn update_table(&self, table: &TableDef) -> Result<(), CatalogError> {
        self.calls.lock().unwrap().push("UpdateTable");
        let mut tables = self.tables.lock().unwrap();
        let current = tables.get_mut(&table.name).expect("updated tables exist");
        if let Some(col) = self.racing_update.lock().unwrap().take() {
            current.columns.push(col);
            current.version_id = Some(format!("{}0", current.version_id.clone().unwrap_or_default()));
        }
        if current.version_id != table.version_id {
            return Err(Self::err("UpdateTable", &table.name, ErrorKind::ConcurrentModification, None));
        }
        let mut stored = table.clone();
        stored.version_id = Some(format!("{}1", current.version_id.clone().unwrap_or_default()));
        *current = stored;
        Ok(())
    }

    async fn batch_get_partitions(&self, table: &str, dts: &[String]) -> Result<Vec<String>, CatalogError> {
        self.calls.lock().unwrap().push("BatchGetPartition");
        assert!(dts.len() <= 1000);
        let parts = self.partitions.lock().unwrap();
        Ok(dts.iter().filter(|d| parts.contains_key(&(table.to_owned(), (*d).clone()))).cloned().collect())
    }

    async fn batch_create_partitions(
        &self,
        table: &TableDef,
        partitions: &[PartitionDef],
    ) -> Result<Vec<CatalogError>, CatalogError> {
        self.calls.lock().unwrap().push("BatchCreatePartition");
        assert!(partitions.len() <= 100, "Glue takes at most 100 partitions per call");
        let mut errors = Vec::new();
        let mut existing = self.partitions.lock().unwrap();
        for p in partitions {
            let key = (table.name.clone(), p.dt.clone());
            if let Some(kind) = self.entry_faults.lock().unwrap().get(&key) {
                errors.push(Self::err("BatchCreatePartition", &table.name, *kind, Some(&p.dt)));
            } else if let std::collections::btree_map::Entry::Vacant(e) = existing.entry(key) {
                e.insert(p.clone());
            } else {
                errors.push(Self::err("BatchCreatePartition", &table.name, ErrorKind::AlreadyExists, Some(&p.dt)));
            }
        }
        Ok(errors)
    }
}

// ---------------------------------------------------------------- fixtures

/// Parquet bytes with one all-null row, the fields as parse-file writes them.
fn parquet(fields: Vec<Field>) -> Vec<u8> {
    let schema = Arc::new(Schema::new(fields));
    let columns = schema.fields().iter().map(|f| arrow_array::new_null_array(f.data_type(), 1)).collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut out = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

fn field(name: &str, t: DataType) -> Field {
    Field::new(name, t, true)
}

fn orders_v1() -> Vec<Field> {
    vec![
        field("order_id", DataType::Int64),
        field("amount", DataType::Decimal128(12, 2)),
        field("ordered_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
        field("attrs", DataType::Utf8)
            .with_metadata(std::collections::HashMap::from([("landfall.type".to_string(), "json".to_string())])),
        field("_landfall_file", DataType::Utf8),
        field("_landfall_row", DataType::Int64),
    ]
}

fn key(table: &str, dt: &str, n: u32) -> String {
    format!("tables/{table}/dt={dt}/f00d-{n}.parquet")
}

fn notification(key: &str) -> String {
    json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": "2026-11-01T10:00:00Z",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key.replace('=', "%3D"), "size": 100}}}]})
    .to_string()
}

struct Setup {
    store: Arc<MemoryStore>,
    catalog: Arc<FakeCatalog>,
    handler: RegisterPartitions,
}

fn setup() -> Setup {
    let store = Arc::new(MemoryStore::default());
    let catalog = Arc::new(FakeCatalog::default());
    let settings = Settings { curated_bucket: BUCKET.into(), database: "db".into() };
    let handler = RegisterPartitions::new(store.clone(), catalog.clone(), settings, Metrics::new("test"));
    Setup { store, catalog, handler }
}

impl Setup {
    /// Puts a part and returns the notification S3 would send for it.
    fn part(&self, table: &str, dt: &str, n: u32, fields: Vec<Field>) -> String {
        let k = key(table, dt, n);
        self.store.put(&k, parquet(fields));
        notification(&k)
    }

    async fn batch(&self, bodies: &[String]) -> Vec<String> {
        failed_ids(&self.handler.handle_sqs(sqs_event(bodies), Deadline::never()).await)
    }
}

fn types(cols: &[Column]) -> Vec<String> {
    cols.iter().map(|c| format!("{} {}", c.name, c.data_type)).collect()
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

// ---------------------------------------------------------------- behaviour

#[tokio::test]
async fn the_first_part_creates_an_external_parquet_table_and_its_partition() {
    let s = setup();
    let body = s.part("orders", "2026-11-01", 0, orders_v1());
    assert!(s.batch(&[body]).await.is_empty());

    let t = s.catalog.table("orders");
    assert_eq!(t.location, "s3://curated/tables/orders/");
    assert_eq!(t.partition_keys, ["dt"]);
    assert_eq!(t.parameters.get("classification").map(String::as_str), Some("parquet"));
    assert_eq!(
        types(&t.columns),
        [
            "order_id bigint",
            "amount decimal(12,2)",
            "ordered_at timestamp",
            "attrs string",
            "_landfall_file string",
            "_landfall_row bigint"
        ]
    );
    assert_eq!(s.catalog.dts("orders"), ["2026-11-01"]);
    assert_eq!(s.catalog.partition("orders", "2026-11-01").location, "s3://curated/tables/orders/dt=2026-11-01/");
    assert_eq!(s.handler.metrics().get(landfall::telemetry::catalog::TABLES_CREATED.name, &[]), 1);
    assert_eq!(
        s.handler.metrics().get(landfall::telemetry::catalog::PARTITIONS_REGISTERED.name, &[("table", "orders")]),
        1
    );
}

#[tokio::test]
async fn the_footer_is_read_with_ranged_gets_not_the_whole_object() {
    let s = setup();
    let small = s.part("orders", "2026-11-01", 0, orders_v1());
    let wide: Vec<Field> =
        (0..800).map(|i| field(&format!("column_with_a_long_name_{i:04}"), DataType::Int64)).collect();
    let big = s.part("wide", "2026-11-01", 0, wide);
    assert!(s.batch(&[small, big]).await.is_empty());

    assert_eq!(s.store.range_reads(&key("orders", "2026-11-01", 0)).len(), 1, "a small footer fits the first read");
    let reads = s.store.range_reads(&key("wide", "2026-11-01", 0));
    assert_eq!(reads.len(), 2, "a footer longer than the first read costs exactly one more");
    assert!(matches!(reads[1], ByteRange::Span { .. }));
    assert_eq!(s.catalog.table("wide").columns.len(), 800);
}

#[tokio::test]
async fn a_second_day_adds_a_partition_and_leaves_the_table_alone() {
    let s = setup();
    let day1 = s.part("orders", "2026-11-01", 0, orders_v1());
    let day2 = s.part("orders", "2026-11-02", 0, orders_v1());
    assert!(s.batch(&[day1]).await.is_empty());
    assert!(s.batch(&[day2]).await.is_empty());
    assert_eq!(s.catalog.dts("orders"), ["2026-11-01", "2026-11-02"]);
    assert_eq!((s.catalog.count("CreateTable"), s.catalog.count("UpdateTable")), (1, 0));
}

#[tokio::test]
async fn the_same_event_twice_succeeds_and_changes_nothing() {
    let s = setup();
    let body = s.part("orders", "2026-11-01", 0, orders_v1());
    assert!(s.batch(&[body.clone(), body.clone()]).await.is_empty(), "twice in one batch");
    assert!(s.batch(&[body]).await.is_empty(), "again in a later batch");
    assert_eq!(s.catalog.dts("orders"), ["2026-11-01"]);
    assert_eq!((s.catalog.count("CreateTable"), s.catalog.count("UpdateTable")), (1, 0));
    assert_eq!(
        s.handler.metrics().get(landfall::telemetry::catalog::PARTITIONS_EXISTING.name, &[]),
        1,
        "the later batch found it registered"
    );
}

#[tokio::test]
async fn a_new_column_is_appended_and_a_wider_type_widens_the_table() {
    let s = setup();
    assert!(s.batch(&[s.part("orders", "2026-11-01", 0, orders_v1())]).await.is_empty());
    let mut v2 = orders_v1();
    v2[1] = field("amount", DataType::Float64);
    v2.push(field("coupon", DataType::Utf8));
    assert!(s.batch(&[s.part("orders", "2026-11-02", 0, v2)]).await.is_empty());

    let t = s.catalog.table("orders");
    assert_eq!(
        types(&t.columns),
        [
            "order_id bigint",
            "amount double",
            "ordered_at timestamp",
            "attrs string",
            "_landfall_file string",
            "_landfall_row bigint",
            "coupon string"
        ],
        "appended, widened, nothing dropped or reordered"
    );
    assert_eq!(s.catalog.count("UpdateTable"), 1);
    let old = s.catalog.partition("orders", "2026-11-01");
    assert!(
        types(&old.columns).contains(&"amount decimal(12,2)".to_string()),
        "the old partition keeps its parts' types"
    );
    let new = s.catalog.partition("orders", "2026-11-02");
    assert!(types(&new.columns).contains(&"amount double".to_string()));
    assert_eq!(s.handler.metrics().get(landfall::telemetry::catalog::COLUMNS_ADDED.name, &[]), 1);
    assert_eq!(s.handler.metrics().get(landfall::telemetry::catalog::CATALOG_COLUMNS_WIDENED.name, &[]), 1);
}

#[tokio::test]
async fn a_part_without_a_column_the_table_has_drops_nothing() {
    let s = setup();
    assert!(s.batch(&[s.part("orders", "2026-11-01", 0, orders_v1())]).await.is_empty());
    let narrow = vec![field("order_id", DataType::Int64)];
    assert!(s.batch(&[s.part("orders", "2026-11-02", 0, narrow)]).await.is_empty());
    assert_eq!(s.catalog.table("orders").columns.len(), 6);
    assert_eq!(s.catalog.count("UpdateTable"), 0);
}

#[tokio::test]
async fn a_batch_of_three_tables_and_120_partitions_takes_one_create_call_per_100_partitions() {
    let s = setup();
    let mut bodies = Vec::new();
    let day = |i: u32| (chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(i.into())).to_string();
    for i in 0..102 {
        bodies.push(s.part("alpha", &day(i), 0, orders_v1()));
    }
    for i in 0..10 {
        bodies.push(s.part("beta", &day(i), 0, orders_v1()));
        bodies.push(s.part("gamma", &day(i), if i < 2 { 1 } else { 0 }, orders_v1()));
    }
    bodies.push(s.part("gamma", &day(0), 0, orders_v1()));
    assert!(s.batch(&bodies).await.is_empty());

    assert_eq!(
        (s.catalog.dts("alpha").len(), s.catalog.dts("beta").len(), s.catalog.dts("gamma").len()),
        (102, 10, 10)
    );
    assert_eq!(s.catalog.count("BatchCreatePartition"), 4, "alpha 2 (100 + 2), beta 1, gamma 1");
    assert_eq!(s.catalog.count("CreateTable"), 3, "each table ensured once");
    assert_eq!(s.catalog.count("GetTable"), 3);
}

#[tokio::test]
async fn a_per_entry_glue_error_fails_only_the_messages_that_needed_that_partition() {
    let s = setup();
    let a = s.part("orders", "2026-11-01", 0, orders_v1());
    let b = s.part("orders", "2026-11-02", 0, orders_v1());
    let b2 = s.part("orders", "2026-11-02", 1, orders_v1());
    let c = s.part("orders", "2026-11-03", 0, orders_v1());
    s.catalog.entry_faults.lock().unwrap().insert(("orders".into(), "2026-11-02".into()), ErrorKind::Server);

    assert_eq!(s.batch(&[a, b, c, b2]).await, ["m1", "m3"]);
    assert_eq!(s.catalog.dts("orders"), ["2026-11-01", "2026-11-03"]);
    assert_eq!(s.handler.metrics().get(landfall::telemetry::catalog::CATALOG_ERRORS.name, &[("kind", "server")]), 1);
}

#[tokio::test]
async fn throttling_on_one_table_fails_only_that_tables_messages() {
    let s = setup();
    let slow = s.part("slow", "2026-11-01", 0, orders_v1());
    let fine = s.part("orders", "2026-11-01", 0, orders_v1());
    s.catalog.throttle_tables.lock().unwrap().insert("slow".into());
    assert_eq!(s.batch(&[slow, fine]).await, ["m0"]);
    assert_eq!(s.catalog.dts("orders"), ["2026-11-01"]);
    assert_eq!(s.handler.metrics().get(landfall::telemetry::catalog::CATALOG_ERRORS.name, &[("kind", "throttled")]), 1);
}

#[tokio::test]
async fn a_table_another_invocation_created_first_is_merged_not_failed() {
    let s = setup();
    let theirs = TableDef::new(
        "orders",
        "s3://curated/tables/orders/".into(),
        vec![Column::new("order_id", HiveType::Bigint), Column::new("legacy", HiveType::String)],
    );
    *s.catalog.racing_create.lock().unwrap() = Some(theirs);
    assert!(s.batch(&[s.part("orders", "2026-11-01", 0, orders_v1())]).await.is_empty());
    let names: Vec<String> = s.catalog.table("orders").columns.iter().map(|c| c.name.clone()).collect();
    assert_eq!(names[..3], ["order_id", "legacy", "amount"], "their columns first, ours appended");
    assert_eq!(s.catalog.count("UpdateTable"), 1);
}

#[tokio::test]
async fn a_concurrent_schema_change_is_merged_not_overwritten() {
    let s = setup();
    assert!(s.batch(&[s.part("orders", "2026-11-01", 0, orders_v1())]).await.is_empty());
    *s.catalog.racing_update.lock().unwrap() = Some(Column::new("theirs", HiveType::String));
    let mut v2 = orders_v1();
    v2.push(field("ours", DataType::Utf8));
    assert!(s.batch(&[s.part("orders", "2026-11-02", 0, v2)]).await.is_empty());
    let names: Vec<String> = s.catalog.table("orders").columns.iter().map(|c| c.name.clone()).collect();
    assert_eq!(names[6..], ["theirs", "ours"]);
    assert_eq!(s.catalog.count("UpdateTable"), 2, "the stale update failed and was made again");
}

#[tokio::test]
async fn a_table_partitioned_by_something_else_is_a_conflict_that_fails_its_messages() {
    let s = setup();
    let mut foreign = TableDef::new("orders", "s3://curated/tables/orders/".into(), vec![]);
    foreign.partition_keys = vec!["year".into(), "month".into()];
    s.catalog.tables.lock().unwrap().insert("orders".into(), foreign);
    assert_eq!(s.batch(&[s.part("orders", "2026-11-01", 0, orders_v1())]).await, ["m0"]);
    assert_eq!(s.handler.metrics().get(landfall::telemetry::catalog::CATALOG_ERRORS.name, &[("kind", "conflict")]), 1);
}

#[tokio::test]
async fn a_transient_storage_fault_on_a_footer_fails_only_its_message() {
    let s = setup();
    let slow = s.part("orders", "2026-11-01", 0, orders_v1());
    let fine = s.part("orders", "2026-11-02", 0, orders_v1());
    s.store.throttled.lock().unwrap().insert(key("orders", "2026-11-01", 0));
    assert_eq!(s.batch(&[slow, fine]).await, ["m0"]);
    assert_eq!(s.catalog.dts("orders"), ["2026-11-02"]);
}

#[tokio::test]
async fn a_part_that_is_not_parquet_is_counted_and_does_not_poison_the_queue() {
    let s = setup();
    s.store.put(&key("orders", "2026-11-01", 0), b"not parquet at all".to_vec());
    let bad = notification(&key("orders", "2026-11-01", 0));
    let gone = notification(&key("orders", "2026-11-01", 9));
    assert!(s.batch(&[bad, gone]).await.is_empty());
    assert_eq!(
        s.handler.metrics().get(landfall::telemetry::catalog::PARTS_UNREADABLE.name, &[("reason", "not_parquet")]),
        1
    );
    assert_eq!(
        s.handler.metrics().get(landfall::telemetry::catalog::PARTS_UNREADABLE.name, &[("reason", "missing")]),
        1
    );
    assert_eq!(s.catalog.count("GetTable"), 0, "nothing to register");
}

#[tokio::test]
async fn keys_that_are_not_parts_and_test_events_are_skipped_and_counted() {
    let s = setup();
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}).to_string();
    let manifest = notification("_manifests/orders/f00d.json");
    let no_dt = notification("tables/orders/f00d-0.parquet");
    let bad_table = notification("tables/Orders-X/dt=2026-11-01/f00d-0.parquet");
    assert!(s.batch(&[test_event, manifest, no_dt, bad_table]).await.is_empty());
    let m = s.handler.metrics();
    assert_eq!(m.get(landfall::telemetry::catalog::EVENTS_SKIPPED.name, &[("reason", "test_event")]), 1);
    assert_eq!(m.get(landfall::telemetry::catalog::EVENTS_SKIPPED.name, &[("reason", "not_a_part")]), 2);
    assert_eq!(m.get(landfall::telemetry::catalog::EVENTS_SKIPPED.name, &[("reason", "bad_table_name")]), 1);
}

#[tokio::test]
async fn a_body_that_is_not_a_notification_fails_only_itself() {
    let s = setup();
    let good = s.part("orders", "2026-11-01", 0, orders_v1());
    assert_eq!(s.batch(&["garbage".into(), good]).await, ["m0"]);
    assert_eq!(s.catalog.dts("orders"), ["2026-11-01"]);
}

#[tokio::test]
async fn the_fixture_notification_registers_its_part() {
    let s = setup();
    let payload = fixture("curated-part-created.json");
    s.store.put("tables/orders/dt=2026-11-01/6f1c2d3e4f5a69788796a5b4c3d2e1f0-0.parquet", parquet(orders_v1()));
    let settings = Settings { curated_bucket: "landfall-local-curated".into(), database: "db".into() };
    let h = RegisterPartitions::new(s.store.clone(), s.catalog.clone(), settings, Metrics::new("test"));
    assert_eq!(h.handle(payload, Deadline::never()).await.unwrap(), json!({"failed": 0}));
    assert_eq!(s.catalog.dts("orders"), ["2026-11-01"]);
}

#[tokio::test]
async fn repair_registers_every_missing_partition_in_range_in_pages_and_is_idempotent() {
    let s = setup();
    for day in 1..=30 {
        s.part("orders", &format!("2026-11-{day:02}"), 0, orders_v1());
    }
    s.part("orders", "2026-10-31", 0, orders_v1());
    for day in 1..=130u32 {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(day.into());
        s.part("clicks", &d.to_string(), 0, orders_v1());
    }
    assert!(s.batch(&[notification(&key("orders", "2026-11-05", 0))]).await.is_empty());

    let request = RepairRequest {
        tables: Tables::All,
        from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        to: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    };
    let report = s.handler.repair(&request).await.unwrap();
    assert_eq!(
        report["repair"]["tables"]["orders"],
        json!({"listed": 31, "missing": 30, "registered": 30, "failed": 0})
    );
    assert_eq!(report["repair"]["tables"]["clicks"]["registered"], 130);
    assert_eq!(s.catalog.dts("clicks").len(), 130, "a backfill creates the table from the footers");
    assert_eq!(s.catalog.count("BatchCreatePartition"), 1 + 1 + 2, "pages of at most 100");

    let again = s.handler.repair(&request).await.unwrap();
    assert_eq!(again["repair"]["tables"]["orders"]["missing"], 0);
    assert_eq!(again["repair"]["tables"]["clicks"]["missing"], 0);
}

#[tokio::test]
async fn repair_by_scheduled_event_covers_only_its_tables_and_days() {
    let s = setup();
    s.part("orders", "2026-11-01", 0, orders_v1());
    s.part("orders", "2026-12-01", 0, orders_v1());
    s.part("clicks", "2026-11-01", 0, orders_v1());
    let report = s.handler.handle(fixture("repair-schedule.json"), Deadline::never()).await.unwrap();
    assert_eq!(report["repair"]["tables"]["orders"]["registered"], 1);
    assert_eq!(s.catalog.dts("orders"), ["2026-11-01"]);
    assert!(s.catalog.tables.lock().unwrap().get("clicks").is_none());
}

#[tokio::test]
async fn a_repair_with_a_failed_partition_reports_it_as_an_error() {
    let s = setup();
    s.part("orders", "2026-11-01", 0, orders_v1());
    s.part("orders", "2026-11-02", 0, orders_v1());
    s.catalog.entry_faults.lock().unwrap().insert(("orders".into(), "2026-11-02".into()), ErrorKind::InvalidInput);
    let err = s
        .handler
        .handle(json!({"repair": {"tables": ["orders"], "from": "2026-11-01", "to": "2026-11-02"}}), Deadline::never())
        .await;
    let err = err.unwrap_err().to_string();
    assert!(err.contains("1 partition(s)") && err.contains("dt=2026-11-02"), "{err}");
    assert_eq!(s.catalog.dts("orders"), ["2026-11-01"], "the rest is registered all the same");
}

#[tokio::test]
async fn a_malformed_repair_request_is_refused() {
    let s = setup();
    assert!(s.handler.handle(json!({"repair": {"tables": "some"}}), Deadline::never()).await.is_err());
    assert_eq!(
        s.handler.metrics().get(landfall::telemetry::catalog::EVENTS_INVALID.name, &[("reason", "repair_request")]),
        1
    );
}
