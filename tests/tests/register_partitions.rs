//! register-partitions end to end: parts land in the curated bucket of the
//! local stack (written by parse-file from a landing object, or put
//! directly), moto sends the S3 notifications to the register-partitions
//! queue the Terraform root module created, the pump invokes the handler as
//! the Lambda event source mapping would, and moto's Glue is read back.
//!
//! Each test starts by forgetting its tables (Glue table and curated
//! objects), so it runs the same on a fresh stack or a used one.
//!
//! Needs the local stack: `infra/stack up` (the README's test command does it).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use landfall::lambda::Deadline;
use landfall::pipeline::NoticeHandler;
use landfall_infra::{Pump, SqsHandler};
use landfall_tests::{Harness, columns};
use serde_json::json;

const PARTNER_CLICKS: &str = "partner_clicks";

/// A Parquet part with one all-null row, as parse-file writes its columns.
fn parquet(fields: &[(&str, DataType)]) -> Vec<u8> {
    let mut fields: Vec<Field> = fields.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect();
    fields.push(Field::new("_landfall_file", DataType::Utf8, true));
    fields.push(Field::new("_landfall_row", DataType::Int64, true));
    let schema = Arc::new(Schema::new(fields));
    let arrays = schema.fields().iter().map(|f| arrow_array::new_null_array(f.data_type(), 1)).collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

fn simple_part() -> Vec<u8> {
    parquet(&[("id", DataType::Int64), ("name", DataType::Utf8)])
}

fn part_key(table: &str, dt: &str) -> String {
    format!("tables/{table}/dt={dt}/e2e0-0.parquet")
}

fn day(base: (i32, u32, u32), offset: u32) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(base.0, base.1, base.2).unwrap();
    (start + chrono::Days::new(offset.into())).to_string()
}

fn functions_report(report: &landfall_infra::PumpReport) -> landfall_infra::pump::FunctionReport {
    report.functions.get("register-partitions").cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_first_file_creates_the_table_and_its_partition() {
    let h = Harness::start().await;
    h.reset_table(PARTNER_CLICKS).await;
    h.ingest(
        "partners/e2e-glue/first.csv",
        PARTNER_CLICKS,
        "Datum,Partner-ID,Klicks,Kosten,Aktiv\n2026-11-01,p001,120,45.50,true\n",
    )
    .await;

    let table = h.glue_table(PARTNER_CLICKS).await.expect("the table was created");
    assert_eq!(table.table_type(), Some("EXTERNAL_TABLE"));
    let params = table.parameters().unwrap();
    assert_eq!(params.get("classification").map(String::as_str), Some("parquet"));
    assert_eq!(params.get("EXTERNAL").map(String::as_str), Some("TRUE"));
    let keys: Vec<String> = columns(table.partition_keys());
    assert_eq!(keys, ["dt string"]);
    let sd = table.storage_descriptor().unwrap();
    assert_eq!(sd.location(), Some(format!("s3://{}/tables/partner_clicks/", h.stack.curated_bucket).as_str()));
    assert_eq!(sd.input_format(), Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"));
    assert_eq!(sd.output_format(), Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"));
    assert_eq!(
        sd.serde_info().and_then(|s| s.serialization_library()),
        Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
    );
    assert_eq!(
        columns(sd.columns()),
        [
            "datum date",
            "partner_id string",
            "klicks bigint",
            "kosten decimal(18,2)",
            "aktiv boolean",
            "_landfall_file string",
            "_landfall_row bigint"
        ]
    );

    let partitions = h.glue_partitions(PARTNER_CLICKS).await;
    assert_eq!(partitions.keys().collect::<Vec<_>>(), ["2026-11-01"]);
    let p = h
        .glue
        .get_partition()
        .database_name(&h.stack.glue_database)
        .table_name(PARTNER_CLICKS)
        .partition_values("2026-11-01")
        .send()
        .await
        .unwrap();
    let location = p.partition().and_then(|p| p.storage_descriptor()).and_then(|sd| sd.location());
    assert_eq!(
        location,
        Some(format!("s3://{}/tables/partner_clicks/dt=2026-11-01/", h.stack.curated_bucket).as_str())
    );
}

#[tokio::test]
async fn a_second_day_adds_a_partition_and_leaves_the_table_alone() {
    let h = Harness::start().await;
    h.reset_table(PARTNER_CLICKS).await;
    let header = "Datum,Partner-ID,Klicks\n";
    h.ingest("partners/e2e-glue/day1.csv", PARTNER_CLICKS, format!("{header}2026-11-01,p001,1\n")).await;
    h.catalog.forget();
    h.ingest("partners/e2e-glue/day2.csv", PARTNER_CLICKS, format!("{header}2026-11-02,p001,2\n")).await;

    assert_eq!(h.glue_partitions(PARTNER_CLICKS).await.keys().collect::<Vec<_>>(), ["2026-11-01", "2026-11-02"]);
    assert!(h.catalog.calls_to("CreateTable", PARTNER_CLICKS).is_empty());
    assert!(h.catalog.calls_to("UpdateTable", PARTNER_CLICKS).is_empty(), "same columns, no table update");
    assert_eq!(h.catalog.calls_to("BatchCreatePartition", PARTNER_CLICKS).len(), 1);
}

#[tokio::test]
async fn the_same_event_twice_succeeds_and_changes_nothing() {
    let h = Harness::start().await;
    let table = "rp_twice";
    h.reset_table(table).await;
    let key = part_key(table, "2026-11-01");
    h.put_curated(&key, simple_part()).await;
    h.drain().await;
    h.catalog.forget();

    // The notification S3 sent, delivered twice more (S3 and SQS deliver at least once).
    let fixture = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/curated-part-created.json"))
        .unwrap()
        .replace("landfall-local-curated", &h.stack.curated_bucket)
        .replace("tables/orders/dt%3D2026-11-01/6f1c2d3e4f5a69788796a5b4c3d2e1f0-0.parquet", &key.replace('=', "%3D"));
    h.send_to_queue("register-partitions", &fixture).await;
    h.send_to_queue("register-partitions", &fixture).await;
    let report = functions_report(&h.drain().await);

    assert_eq!((report.messages, report.failures), (2, 0));
    assert_eq!(h.glue_partitions(table).await.len(), 1);
    assert!(h.catalog.calls_to("CreateTable", table).is_empty());
    assert!(h.catalog.calls_to("UpdateTable", table).is_empty());
    assert_eq!(
        h.functions.metrics.get(landfall::telemetry::catalog::PARTITIONS_REGISTERED.name, &[("table", table)]),
        1,
        "only by the first delivery"
    );
    assert!(
        h.functions.metrics.get(landfall::telemetry::catalog::PARTITIONS_EXISTING.name, &[("table", table)]) >= 1,
        "AlreadyExists is success"
    );
    assert!(h.dead_letters("register-partitions").await.is_empty());
}

#[tokio::test]
async fn a_new_column_is_appended_and_a_wider_type_widens_the_table() {
    let h = Harness::start().await;
    h.reset_table(PARTNER_CLICKS).await;
    h.ingest("partners/e2e-glue/v1.csv", PARTNER_CLICKS, "Datum,Partner-ID,Klicks\n2026-11-01,p001,120\n").await;
    h.ingest(
        "partners/e2e-glue/v2.csv",
        PARTNER_CLICKS,
        "Datum,Partner-ID,Klicks,Kampagne\n2026-11-02,p001,12.5,Herbst\n",
    )
    .await;

    let table = h.glue_table(PARTNER_CLICKS).await.unwrap();
    let cols = columns(table.storage_descriptor().unwrap().columns());
    let names: Vec<&str> = cols.iter().map(|c| c.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        ["datum", "partner_id", "klicks", "_landfall_file", "_landfall_row", "kampagne"],
        "the new column is appended; nothing dropped or reordered"
    );
    let klicks = cols.iter().find(|c| c.starts_with("klicks ")).unwrap();
    assert!(klicks.starts_with("klicks decimal("), "bigint widened to hold 12.5: {klicks}");

    let partitions = h.glue_partitions(PARTNER_CLICKS).await;
    assert!(partitions["2026-11-01"].contains(&"klicks bigint".to_string()), "day 1 still describes its own files");
    assert!(!partitions["2026-11-01"].iter().any(|c| c.starts_with("kampagne")));
    assert!(partitions["2026-11-02"].contains(&"kampagne string".to_string()));
}

/// The handler, timed: how long one invocation takes, apart from the pump.
struct Timed {
    inner: register_partitions::RegisterPartitions,
    took: Mutex<Vec<Duration>>,
}

#[async_trait::async_trait]
impl SqsHandler for Timed {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let started = Instant::now();
        let response = self.inner.handle_sqs(event, Deadline::never()).await;
        self.took.lock().unwrap().push(started.elapsed());
        response
    }
}

#[tokio::test]
async fn a_batch_of_three_tables_and_120_partitions_is_registered_in_one_invocation() {
    let h = Harness::start().await;
    let tables = [("rp_batch_a", 102usize), ("rp_batch_b", 10), ("rp_batch_c", 8)];
    for (table, days) in tables {
        h.reset_table(table).await;
        for i in 0..days as u32 {
            h.put_curated(&part_key(table, &day((2026, 1, 1), i)), simple_part()).await;
        }
    }
    // moto answers a ReceiveMessage of 10 in about 0.15 s, so gathering 120
    // messages outlasts the local stack's 1 s batching window; this pump
    // waits 3 s (production waits 10 s), still short of the local queue's 5 s
    // visibility timeout, after which the first messages would come again.
    let mut queue = h.stack.queue("register-partitions").unwrap().clone();
    queue.batching_window_seconds = 3;
    let timed = Arc::new(Timed { inner: h.functions.register_partitions.clone(), took: Mutex::default() });
    let pump = Pump::new(h.sqs.clone(), &h.stack.region).route("register-partitions", queue, timed.clone());
    let report = pump.drain(Duration::from_secs(60)).await.unwrap();
    let report = functions_report(&report);
    eprintln!("120 partitions over 3 tables: the handler took {:?}", timed.took.lock().unwrap());

    assert_eq!((report.invocations, report.messages, report.failures), (1, 120, 0), "one batch: {report:?}");
    for (table, days) in tables {
        assert_eq!(h.glue_partitions(table).await.len(), days, "{table}");
        assert_eq!(h.catalog.calls_to("GetTable", table).len(), 1, "{table} is ensured once");
    }
    let sizes: Vec<usize> =
        h.catalog.calls_to("BatchCreatePartition", "rp_batch_a").iter().map(|c| c.entries).collect();
    assert_eq!(sizes, [100, 2], "Glue takes at most 100 partitions per call");
    let calls = h.catalog.calls();
    eprintln!(
        "Glue calls: {:?}",
        calls.iter().map(|c| c.operation).fold(std::collections::BTreeMap::new(), |mut m, op| {
            *m.entry(op).or_insert(0) += 1;
            m
        })
    );
    assert_eq!(calls.iter().filter(|c| c.operation == "BatchCreatePartition").count(), 4);
}

#[tokio::test]
async fn repair_finds_and_registers_the_30_missing_partitions() {
    let h = Harness::start().await;
    let table = "rp_repair";
    h.reset_table(table).await;
    h.put_curated(&part_key(table, "2026-10-31"), simple_part()).await;
    h.drain().await;
    // Thirty days of parts whose notifications never arrive, and one day out of range.
    for i in 0..30 {
        h.put_curated(&part_key(table, &day((2026, 11, 1), i)), simple_part()).await;
    }
    h.put_curated(&part_key(table, "2026-12-01"), simple_part()).await;
    h.purge("register-partitions").await;
    assert_eq!(h.glue_partitions(table).await.len(), 1);
    h.catalog.forget();

    let request = json!({"repair": {"tables": [table], "from": "2026-10-31", "to": "2026-11-30"}});
    let report =
        NoticeHandler::handle(&h.functions.register_partitions, request.clone(), Deadline::never()).await.unwrap();
    assert_eq!(report["repair"]["tables"][table], json!({"listed": 31, "missing": 30, "registered": 30, "failed": 0}));
    let partitions = h.glue_partitions(table).await;
    assert_eq!(partitions.len(), 31);
    assert!(!partitions.contains_key("2026-12-01"), "outside the requested days");
    assert_eq!(h.catalog.calls_to("BatchCreatePartition", table).len(), 1);

    let again = NoticeHandler::handle(&h.functions.register_partitions, request, Deadline::never()).await.unwrap();
    assert_eq!(again["repair"]["tables"][table]["missing"], 0, "a second run finds nothing to do");
}

#[tokio::test]
async fn repair_backfills_a_table_the_catalog_has_never_seen() {
    let h = Harness::start().await;
    let table = "rp_backfill";
    h.reset_table(table).await;
    for i in 0..5 {
        h.put_curated(&part_key(table, &day((2025, 6, 1), i)), simple_part()).await;
    }
    h.purge("register-partitions").await;

    let scheduled = json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-22T03:00:00Z",
        "detail": {"repair": {"tables": "all", "from": "2025-06-01", "to": "2025-06-30"}}});
    let report = NoticeHandler::handle(&h.functions.register_partitions, scheduled, Deadline::never()).await.unwrap();
    assert_eq!(report["repair"]["tables"][table]["registered"], 5);
    let created = h.glue_table(table).await.expect("created from the footers");
    let cols = columns(created.storage_descriptor().unwrap().columns());
    assert_eq!(cols, ["id bigint", "name string", "_landfall_file string", "_landfall_row bigint"]);
}

#[tokio::test]
async fn a_glue_error_on_one_entry_fails_only_that_message() {
    let h = Harness::start().await;
    let table = "rp_fault";
    h.reset_table(table).await;
    // moto cannot fail one entry of a BatchCreatePartition; the harness's
    // ObservedCatalog fails this one once, as Glue's InternalServiceException would.
    h.catalog.fail_entry(table, "2026-11-02", 1);
    for dt in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        h.put_curated(&part_key(table, dt), simple_part()).await;
    }
    let report = functions_report(&h.drain().await);

    assert_eq!(report.failures, 1, "only the message that needed 2026-11-02: {report:?}");
    assert_eq!(report.messages, 4, "three messages, then the failed one again after its visibility timeout");
    assert_eq!(h.glue_partitions(table).await.len(), 3, "the retry registered it");
    assert_eq!(h.functions.metrics.get(landfall::telemetry::catalog::CATALOG_ERRORS.name, &[("kind", "server")]), 1);
    assert!(h.dead_letters("register-partitions").await.is_empty());
}
