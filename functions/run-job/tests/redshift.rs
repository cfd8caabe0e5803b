//! run-job on Redshift through a stand-in for the Data API over HTTP on
//! loopback (the real SDK client, as shared/tests/redshift_data_api.rs
//! does for the loader): the calls are recorded, and an UNLOAD writes what
//! Redshift would (its files and verbose manifest) into an in-memory store.
//! The statements' text is pinned by the golden files in events/redshift/
//! (`cargo test -p landfall jobs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use async_trait::async_trait;
use landfall::catalog::{Catalog, CatalogError, PartitionDef, TableDef};
use landfall::config::{Config, RedshiftConfig, RedshiftEndpoint};
use landfall::storage::ObjectStore;
use landfall::storage::memory::MemoryStore;
use landfall::telemetry::Metrics;
use landfall::warehouse::Driver;
use landfall::warehouse::redshift::{Polling, RedshiftSettings, RedshiftWarehouse, SdkDataApi};
use run_job::{Payload, RunJob, Settings};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::method};

const CURATED: &str = "curated";
const ROLE: &str = "arn:aws:iam::123456789012:role/landfall-copy";

type Answer = Box<dyn Fn(&str) -> Vec<Vec<Value>> + Send + Sync>;

/// Records every submitted SQL list; answers queries; plays UNLOAD into the
/// store; holds the archived table's rows as a count (`rows`), which an
/// archive's check, count and DELETE read.
struct Fake {
    store: Arc<MemoryStore>,
    submitted: Mutex<Vec<Vec<String>>>,
    ids: Mutex<BTreeMap<String, Vec<String>>>,
    /// Statements that FAILED, with Redshift's error.
    failed: Mutex<BTreeMap<String, String>>,
    /// Rows of the archived table that meet the archive's condition.
    rows: Mutex<u64>,
    /// What loads do to those rows after each UNLOAD (a count each).
    after_unload: Mutex<Vec<u64>>,
    /// The transform table's grants to others, (privilege, grantee, kind):
    /// a table renamed into its place starts with none.
    grants: Mutex<Vec<(String, String, String)>>,
    /// Views bound to the transform table: they follow it through a rename,
    /// so dropping the renamed old table fails, as DROP TABLE documents
    /// without CASCADE (<https://docs.aws.amazon.com/redshift/latest/dg/r_DROP_TABLE.html>);
    /// views WITH NO SCHEMA BINDING record no dependency and are not here.
    bound_views: Mutex<Vec<String>>,
    answer: Answer,
}

fn sqls_of(body: &Value) -> Vec<String> {
    match body["Sqls"].as_array() {
        Some(list) => list.iter().map(|s| s.as_str().unwrap_or_default().to_owned()).collect(),
        None => vec![body["Sql"].as_str().unwrap_or_default().to_owned()],
    }
}

/// A Parquet file as UNLOAD would write it (no `dt` column: it is the partition).
fn parquet(ids: &[i64]) -> Vec<u8> {
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(ids.to_vec()))),
        ("note", Arc::new(StringArray::from(vec!["x"; ids.len()]))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut buf = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    buf
}

/// Redshift's error for an UNLOAD into a prefix that has objects, without ALLOWOVERWRITE or CLEANPATH.
const NOT_EMPTY: &str = "Specified unload destination on S3 is not empty. Consider using a different bucket / prefix, \
                         manually removing the target files in S3, or using the ALLOWOVERWRITE option.";

impl Fake {
    /// What Redshift does for an UNLOAD, as the UNLOAD reference documents
    /// it (<https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html>):
    /// with PARTITION BY a `/` is added to the prefix and the files go to
    /// Hive-style `dt=` folders under it; the manifest is `<prefix>manifest`,
    /// written last; with HEADER each file's `record_count` includes its
    /// header line; UNLOAD fails when it finds files it could overwrite,
    /// unless ALLOWOVERWRITE, or CLEANPATH (which first removes the files,
    /// with PARTITION BY only in the partition folders it writes to).
    fn unload(&self, sql: &str) -> Result<(), String> {
        let to = sql.split("\nTO '").nth(1).and_then(|r| r.split('\'').next()).unwrap();
        let mut prefix = to.strip_prefix(&format!("s3://{CURATED}/")).unwrap().to_owned();
        let partitioned = sql.contains("PARTITION BY");
        if partitioned && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let header = sql.contains(" HEADER");
        let rows = *self.rows.lock().unwrap();
        let files: Vec<(String, Vec<u8>, u64)> = if partitioned {
            let ids: Vec<i64> = (1..=i64::try_from(rows).unwrap()).collect();
            let (a, b) = ids.split_at(ids.len().div_ceil(2));
            [("2025-01-01", a), ("2025-01-02", b)]
                .into_iter()
                .filter(|(_, ids)| !ids.is_empty())
                .map(|(dt, ids)| (format!("{prefix}dt={dt}/0000_part_00.parquet"), parquet(ids), ids.len() as u64))
                .collect()
        } else {
            vec![(format!("{prefix}000.gz"), b"\x1f\x8bgzip".to_vec(), 7)]
        };
        if sql.contains("\nCLEANPATH") {
            let folders: Vec<String> = if partitioned {
                files.iter().map(|(k, _, _)| format!("{}/", k.rsplit_once('/').unwrap().0)).collect()
            } else {
                vec![prefix.clone()]
            };
            for folder in folders {
                for key in self.store.keys(CURATED, &folder) {
                    self.store.remove(CURATED, &key);
                }
            }
        } else if !sql.contains("ALLOWOVERWRITE") && !self.store.keys(CURATED, &prefix).is_empty() {
            return Err(NOT_EMPTY.into());
        }
        let mut entries = Vec::new();
        for (key, body, rows) in &files {
            self.store.insert(CURATED, key, body);
            let count = rows + u64::from(header);
            entries.push(json!({"url": format!("s3://{CURATED}/{key}"), "meta": {"content_length": body.len(), "record_count": count}}));
        }
        let manifest = json!({ "entries": entries, "author": {"name": "Amazon Redshift"} });
        self.store.insert(CURATED, &format!("{prefix}manifest"), manifest.to_string().as_bytes());
        let mut after = self.after_unload.lock().unwrap();
        if !after.is_empty() {
            *self.rows.lock().unwrap() = after.remove(0);
        }
        Ok(())
    }

    /// A transaction on the archived table: the check fails it (division by
    /// zero, nothing applied) unless its count is the table's.
    fn apply(&self, sqls: &[String]) -> Result<(), String> {
        let rows = *self.rows.lock().unwrap();
        for sql in sqls {
            if let Some(rest) = sql.strip_prefix("SELECT 1 / CASE WHEN count(*) = ") {
                let n: u64 = rest.split(' ').next().unwrap().parse().unwrap();
                if n != rows {
                    return Err("Divide by zero".into());
                }
            }
        }
        if sqls.iter().any(|s| s.starts_with("DELETE FROM \"raw\".\"partner_clicks\"")) {
            *self.rows.lock().unwrap() = 0;
        }
        self.swap(sqls)
    }

    /// A table swap's renames, grants and drop, as the catalog sees them.
    fn swap(&self, sqls: &[String]) -> Result<(), String> {
        let mut grants = self.grants.lock().unwrap().clone();
        for sql in sqls {
            if sql.contains("__landfall_new\" RENAME TO") {
                grants.clear();
            } else if let Some(rest) = sql.strip_prefix("GRANT ") {
                let (privilege, rest) = rest.split_once(" ON ").unwrap();
                let who = rest.split_once(" TO ").unwrap().1;
                let (kind, name) = who.split_once(' ').unwrap_or(("USER", who));
                grants.push((privilege.into(), name.trim_matches('"').into(), kind.to_lowercase()));
            } else if sql.starts_with("DROP TABLE \"")
                && sql.contains("__landfall_old")
                && let Some(view) = self.bound_views.lock().unwrap().first()
            {
                return Err(format!("ERROR: cannot drop table {sql} because other objects depend on it: view {view}"));
            }
        }
        *self.grants.lock().unwrap() = grants;
        Ok(())
    }

    fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        if sql.contains("FROM svv_relation_privileges") {
            let grants = self.grants.lock().unwrap();
            return grants.iter().map(|(p, g, k)| vec![json!(p), json!(g), json!(k)]).collect();
        }
        if sql.contains("FROM pg_depend") {
            return self.bound_views.lock().unwrap().iter().map(|v| vec![json!(v)]).collect();
        }
        if sql.starts_with("SELECT count(*) FROM \"raw\".\"partner_clicks\"") {
            return vec![vec![json!(*self.rows.lock().unwrap())]];
        }
        if sql.contains("information_schema.columns") && sql.contains("'_landfall_loaded_at'") {
            return vec![vec![json!("_landfall_loaded_at")]];
        }
        (self.answer)(sql)
    }
}

struct Responder(Arc<Fake>);

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let fake = &self.0;
        let op = req.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let op = op.strip_prefix("RedshiftData.").unwrap_or_default();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let ok = |v: Value| ResponseTemplate::new(200).set_body_raw(v.to_string(), "application/x-amz-json-1.1");
        match op {
            "BatchExecuteStatement" | "ExecuteStatement" => {
                let sqls = sqls_of(&body);
                let played = if sqls.iter().any(|s| s.starts_with("UNLOAD")) {
                    fake.unload(&sqls[0])
                } else {
                    fake.apply(&sqls)
                };
                fake.submitted.lock().unwrap().push(sqls.clone());
                let mut ids = fake.ids.lock().unwrap();
                let id = format!("st-{}", ids.len() + 1);
                ids.insert(id.clone(), sqls);
                if let Err(error) = played {
                    fake.failed.lock().unwrap().insert(id.clone(), error);
                }
                ok(json!({"Id": id, "CreatedAt": 1_790_000_000.0}))
            }
            "DescribeStatement" => {
                let id = body["Id"].as_str().unwrap_or_default();
                match fake.failed.lock().unwrap().get(id) {
                    Some(error) => ok(
                        json!({"Id": id, "Status": "FAILED", "Error": error, "RedshiftQueryId": 7, "SubStatements": []}),
                    ),
                    None => ok(json!({"Id": id, "Status": "FINISHED", "RedshiftQueryId": 7, "SubStatements": []})),
                }
            }
            "GetStatementResult" => {
                let sql = fake.ids.lock().unwrap().get(body["Id"].as_str().unwrap_or_default()).map(|s| s[0].clone());
                let rows = fake.query(&sql.unwrap_or_default());
                let records: Vec<Vec<Value>> = rows
                    .into_iter()
                    .map(|r| {
                        r.into_iter()
                            .map(|v| match v {
                                Value::Null => json!({"isNull": true}),
                                Value::Number(n) => json!({"longValue": n}),
                                other => json!({"stringValue": other.as_str().unwrap_or_default()}),
                            })
                            .collect()
                    })
                    .collect();
                ok(json!({"Records": records, "TotalNumRows": records.len()}))
            }
            other => ResponseTemplate::new(400).set_body_raw(
                json!({"__type": "ValidationException", "Message": other}).to_string(),
                "application/x-amz-json-1.1",
            ),
        }
    }
}

#[derive(Default)]
struct MemoryCatalog {
    tables: Mutex<BTreeMap<String, TableDef>>,
    partitions: Mutex<Vec<PartitionDef>>,
}

#[async_trait]
impl Catalog for MemoryCatalog {
    async fn get_table(&self, table: &str) -> Result<Option<TableDef>, CatalogError> {
        Ok(self.tables.lock().unwrap().get(table).cloned())
    }
    async fn create_table(&self, table: &TableDef) -> Result<(), CatalogError> {
        self.tables.lock().unwrap().insert(table.name.clone(), table.clone());
        Ok(())
    }
    async fn update_table(&self, table: &TableDef) -> Result<(), CatalogError> {
        self.create_table(table).await
    }
    async fn batch_get_partitions(&self, _table: &str, _dts: &[String]) -> Result<Vec<String>, CatalogError> {
        Ok(Vec::new())
    }
    async fn batch_create_partitions(
        &self,
        _t: &TableDef,
        p: &[PartitionDef],
    ) -> Result<Vec<CatalogError>, CatalogError> {
        self.partitions.lock().unwrap().extend(p.iter().cloned());
        Ok(Vec::new())
    }
}

struct Rig {
    _server: MockServer,
    fake: Arc<Fake>,
    store: Arc<MemoryStore>,
    catalog: Arc<MemoryCatalog>,
    runner: RunJob,
}

/// The webhook secret's value: the URL of a local stand-in for Slack.
struct WebhookSecret(String);

#[async_trait]
impl landfall::secrets::Secrets for WebhookSecret {
    async fn secret_string(&self, _name: &str) -> Result<String, landfall::secrets::SecretError> {
        Ok(self.0.clone())
    }
}

async fn rig(jobs: &str, answer: impl Fn(&str) -> Vec<Vec<Value>> + Send + Sync + 'static) -> Rig {
    rig_with(jobs, answer, None).await
}

async fn rig_with(
    jobs: &str,
    answer: impl Fn(&str) -> Vec<Vec<Value>> + Send + Sync + 'static,
    slack: Option<landfall::notify::Slack>,
) -> Rig {
    let server = MockServer::start().await;
    let store = Arc::new(MemoryStore::default());
    let fake = Arc::new(Fake {
        store: store.clone(),
        submitted: Mutex::default(),
        ids: Mutex::default(),
        failed: Mutex::default(),
        rows: Mutex::new(5),
        after_unload: Mutex::default(),
        grants: Mutex::default(),
        bound_views: Mutex::default(),
        answer: Box::new(answer),
    });
    Mock::given(method("POST")).respond_with(Responder(fake.clone())).mount(&server).await;
    let conf = aws_sdk_redshiftdata::Config::builder()
        .endpoint_url(server.uri())
        .region(aws_sdk_redshiftdata::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_redshiftdata::config::Credentials::new("test", "test", None, None, "test"))
        .behavior_version(aws_sdk_redshiftdata::config::BehaviorVersion::latest())
        .build();
    let target = RedshiftConfig {
        endpoint: RedshiftEndpoint::Workgroup("analytics".into()),
        database: "dev".into(),
        secret_arn: None,
        db_user: None,
        copy_role_arn: ROLE.into(),
    };
    let api = SdkDataApi::new(aws_sdk_redshiftdata::Client::from_conf(conf), target.clone());
    let polling =
        Polling { first_wait: Duration::from_millis(1), max_wait: Duration::from_millis(5), ..Polling::default() };
    let settings = RedshiftSettings { curated_bucket: CURATED.into(), work_dir: std::env::temp_dir(), polling };
    let warehouse = RedshiftWarehouse::new(Arc::new(api), store.clone(), &target, settings);
    let yaml = format!(
        "version: 1\nwarehouse:\n  driver: redshift\n  workgroup: analytics\n  database: dev\n  copy_role_arn: {ROLE}\n  schema: raw\njobs:\n{jobs}"
    );
    let config = Config::from_yaml(&yaml, "redshift.yaml").unwrap_or_else(|e| panic!("{e}"));
    // Never called on these paths: presigning needs no endpoint, and nothing is deleted.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test"))
            .endpoint_url("http://127.0.0.1:1")
            .build(),
    );
    let catalog = Arc::new(MemoryCatalog::default());
    let settings =
        Settings { curated_bucket: CURATED.into(), glue_database: "lake".into(), work_dir: std::env::temp_dir() };
    let warehouse = Driver::Redshift(Arc::new(warehouse));
    let store_dyn: Arc<dyn ObjectStore> = store.clone();
    let runner =
        RunJob::new(Arc::new(config), warehouse, store_dyn, s3, catalog.clone(), slack, Metrics::new("t"), settings);
    Rig { _server: server, fake, store, catalog, runner }
}

fn payload(job: &str) -> Payload {
    Payload { job: job.into(), from: None, to: None }
}

const ARCHIVE: &str =
    "  old_clicks:\n    kind: archive\n    table: partner_clicks\n    older_than: 400d\n    schedule: rate(1 day)\n";
const RESUMED: &str = "20261206T000000Z-0000beef";

/// The job ledger's answer: one archive run that recorded its range and did not finish.
fn unfinished(sql: &str) -> Vec<Vec<Value>> {
    if !sql.contains("status IN ('running', 'failed')") {
        return Vec::new();
    }
    let mut row: Vec<Value> = ["old_clicks", "archive", RESUMED, "2026-12-06 00:00:00.000+00"].map(|v| json!(v)).into();
    row.extend([Value::Null, json!("failed"), Value::Null, Value::Null, Value::Null, Value::Null]);
    row.extend([json!("dt"), json!("2025-11-01"), Value::Null, Value::Null]);
    vec![row]
}

#[tokio::test]
async fn an_archive_unloads_parquet_registers_it_and_then_deletes_with_its_ledger_row() {
    let rig = rig(ARCHIVE, |_| Vec::new()).await;
    let report = rig.runner.run(&payload("old_clicks")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report[0].status.as_str(), report[0].rows), ("succeeded", Some(5)));
    let submitted = rig.fake.submitted.lock().unwrap().clone();
    let unload = submitted.iter().find(|s| s[0].starts_with("UNLOAD")).unwrap();
    assert!(
        unload[0].contains("FORMAT AS PARQUET\nPARTITION BY (\"dt\")\nMANIFEST VERBOSE\nCLEANPATH"),
        "{}",
        unload[0]
    );
    assert!(
        unload[0].contains(&format!("TO 's3://curated/archive/partner_clicks/{}/'", report[0].run_id)),
        "{}",
        unload[0]
    );
    assert!(
        unload[0].starts_with("UNLOAD ('SELECT * FROM \"raw\".\"partner_clicks\" WHERE \"dt\" < \\'"),
        "{}",
        unload[0]
    );
    let delete = submitted.last().unwrap();
    assert_eq!(delete[0], "LOCK \"raw\".\"partner_clicks\"");
    assert!(delete[1].starts_with("SELECT 1 / CASE WHEN count(*) = 5 THEN 1 ELSE 0 END"), "{delete:?}");
    assert!(delete[2].starts_with("DELETE FROM \"raw\".\"partner_clicks\" WHERE \"dt\" < '"), "{delete:?}");
    assert!(delete[3].contains("status = 'succeeded'") && delete[3].contains("rows_written = 5"), "{delete:?}");
    // The catalog entry came before the delete, and names every partition's folder.
    let tables = rig.catalog.tables.lock().unwrap().clone();
    let table = &tables["archive_partner_clicks"];
    assert_eq!(table.location, "s3://curated/archive/partner_clicks/");
    assert_eq!(table.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["id", "note"]);
    let partitions = rig.catalog.partitions.lock().unwrap().clone();
    assert_eq!(partitions.iter().map(|p| p.dt.as_str()).collect::<Vec<_>>(), vec!["2025-01-01", "2025-01-02"]);
    let folder = format!("s3://curated/archive/partner_clicks/{}/dt=2025-01-01/", report[0].run_id);
    assert_eq!(partitions[0].location, folder);
    assert_eq!(*rig.fake.rows.lock().unwrap(), 0);
}

#[tokio::test]
async fn the_unload_and_the_delete_are_bounded_by_the_rows_loaded_before_the_run_was_recorded() {
    let rig = rig(ARCHIVE, unfinished).await;
    rig.runner.run(&payload("old_clicks")).await.unwrap_or_else(|e| panic!("{e}"));
    let submitted = rig.fake.submitted.lock().unwrap().clone();
    let bound = "\"_landfall_loaded_at\" <= CAST('2026-12-06 00:00:00.000+00' AS timestamptz)";
    let unload = &submitted.iter().find(|s| s[0].starts_with("UNLOAD")).unwrap()[0];
    assert!(unload.contains(&bound.replace('\'', "\\'")), "{unload}");
    let delete = submitted.last().unwrap();
    assert!(delete[1].ends_with(bound) && delete[2].ends_with(bound), "{delete:?}");
}

#[tokio::test]
async fn a_resumed_archive_unloads_again_into_its_own_emptied_folder() {
    let rig = rig(ARCHIVE, unfinished).await;
    // An attempt that died mid-UNLOAD: files, no manifest, one in a folder the next UNLOAD does not write.
    let stale = format!("archive/partner_clicks/{RESUMED}/dt=2025-01-03/0003_part_00.parquet");
    rig.store.insert(CURATED, &stale, &parquet(&[99]));
    rig.store.insert(CURATED, &format!("archive/partner_clicks/{RESUMED}/dt=2025-01-01/0000_part_00.parquet"), b"x");
    let other_run = "archive/partner_clicks/20261101T000000Z-00000001/dt=2024-10-01/0000_part_00.parquet";
    rig.store.insert(CURATED, other_run, &parquet(&[1]));
    let report = rig.runner.run(&payload("old_clicks")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report[0].run_id.as_str(), report[0].rows), (RESUMED, Some(5)));
    assert!(rig.store.read(CURATED, &stale).is_none(), "the earlier attempt's file is gone");
    assert!(rig.store.read(CURATED, other_run).is_some(), "another run's archive is untouched");
    let partitions = rig.catalog.partitions.lock().unwrap().clone();
    assert_eq!(partitions.iter().map(|p| p.dt.as_str()).collect::<Vec<_>>(), vec!["2025-01-01", "2025-01-02"]);
}

#[tokio::test]
async fn a_resumed_archive_whose_unload_finished_reads_its_manifest_and_does_not_unload_again() {
    let rig = rig(ARCHIVE, unfinished).await;
    let prefix = format!("archive/partner_clicks/{RESUMED}/");
    let key = format!("{prefix}dt=2025-01-01/0000_part_00.parquet");
    rig.store.insert(CURATED, &key, &parquet(&[1, 2, 3, 4, 5]));
    let manifest = json!({"entries": [{"url": format!("s3://{CURATED}/{key}"), "meta": {"content_length": 10, "record_count": 5}}]});
    rig.store.insert(CURATED, &format!("{prefix}manifest"), manifest.to_string().as_bytes());
    let report = rig.runner.run(&payload("old_clicks")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report[0].rows, Some(5));
    let submitted = rig.fake.submitted.lock().unwrap().clone();
    assert!(!submitted.iter().any(|s| s[0].starts_with("UNLOAD")), "{submitted:?}");
}

#[tokio::test]
async fn rows_loaded_into_the_range_after_the_unload_are_archived_before_anything_is_deleted() {
    let rig = rig(ARCHIVE, |_| Vec::new()).await;
    rig.fake.after_unload.lock().unwrap().push(7);
    let report = rig.runner.run(&payload("old_clicks")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report[0].rows, Some(7), "the second UNLOAD holds the late rows");
    let submitted = rig.fake.submitted.lock().unwrap().clone();
    assert_eq!(submitted.iter().filter(|s| s[0].starts_with("UNLOAD")).count(), 2);
    assert_eq!(*rig.fake.rows.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_range_that_keeps_changing_deletes_nothing_and_is_left_for_the_next_run() {
    let rig = rig(ARCHIVE, |_| Vec::new()).await;
    rig.fake.after_unload.lock().unwrap().extend([7, 9]);
    let err = rig.runner.run(&payload("old_clicks")).await.unwrap_err();
    assert!(matches!(err, run_job::JobError::RangeMoved { archived: 7, matching: 9, .. }), "{err}");
    assert_eq!(err.disposition(), landfall::disposition::Disposition::Retry);
    assert_eq!(*rig.fake.rows.lock().unwrap(), 9, "nothing deleted");
}

#[tokio::test]
async fn an_export_unloads_one_gzipped_csv_and_reports_the_manifests_counts() {
    let jobs = "  report:\n    kind: export\n    schedule: rate(1 day)\n    sql: SELECT partner_id FROM raw.clicks WHERE dt = '2026-11-30'\n";
    let webhook = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&webhook).await;
    let slack = landfall::notify::Slack::new(Arc::new(WebhookSecret(webhook.uri())), "landfall/slack").unwrap();
    let rig = rig_with(jobs, |_| Vec::new(), Some(slack)).await;
    let report = rig.runner.run(&payload("report")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report[0].rows, report[0].bytes), (Some(7), Some(6)));
    let submitted = rig.fake.submitted.lock().unwrap().clone();
    let unload = &submitted.iter().find(|s| s[0].starts_with("UNLOAD")).unwrap()[0];
    assert!(unload.contains("WHERE dt = \\'2026-11-30\\'')\nTO 's3://curated/exports/report/dt="), "{unload}");
    assert!(unload.ends_with("FORMAT AS CSV HEADER GZIP\nMANIFEST VERBOSE\nPARALLEL OFF"), "{unload}");
    assert!(unload.contains(&format!("/{}_'", report[0].run_id)), "{unload}");
    let finish = submitted.last().unwrap();
    assert!(finish[0].contains("rows_written = 7") && finish[1].contains("bytes_written = 6"), "{finish:?}");
    // Then the message: rows, bytes, where, and the presigned link.
    let posted = webhook.received_requests().await.unwrap();
    assert_eq!(posted.len(), 1);
    let message: Value = serde_json::from_slice(&posted[0].body).unwrap();
    assert_eq!(message["text"], ":outbox_tray: export report: 7 rows, 6 bytes");
    let text = message.to_string();
    assert!(text.contains("X-Amz-Signature") && text.contains(&format!("{}_000.gz", report[0].run_id)), "{text}");
}

#[tokio::test]
async fn an_incremental_transform_is_one_batch_with_its_ledger_row() {
    let jobs = "  latest:\n    kind: transform\n    materialize: incremental\n    schedule: rate(1 hour)\n    watermark: updated_at\n    primary_key: [id]\n    sql: SELECT id, updated_at FROM raw.orders\n";
    let rig = rig(jobs, |sql| {
        if sql.contains("information_schema.tables") {
            return vec![vec![json!(1)]];
        }
        if sql.contains("WHERE run_id =") {
            return vec![
                ["latest", "transform", "r", "2026-12-01", "2026-12-01", "succeeded", "4"]
                    .iter()
                    .map(|v| json!(v))
                    .chain(std::iter::once(Value::Null).cycle().take(7))
                    .collect(),
            ];
        }
        Vec::new()
    })
    .await;
    let report = rig.runner.run(&payload("latest")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report[0].rows, Some(4));
    let submitted = rig.fake.submitted.lock().unwrap().clone();
    let apply = submitted.iter().find(|s| s.len() > 3 && s[0].starts_with("LOCK")).unwrap();
    assert_eq!(apply[0], "LOCK \"raw\".\"latest\"");
    assert!(apply[3].starts_with("DELETE FROM \"raw\".\"latest\" USING landfall_job_rows n"), "{apply:?}");
    assert!(apply[5].starts_with("UPDATE landfall.job_runs SET status = 'succeeded'"), "{apply:?}");
}

#[tokio::test]
async fn a_table_transform_grants_again_what_the_old_table_had_and_refuses_under_a_bound_view() {
    let jobs = "  daily:\n    kind: transform\n    schedule: rate(1 hour)\n    sql: SELECT 1 AS n\n";
    let rig = rig(jobs, |sql| {
        if sql.contains("information_schema.tables") {
            return vec![vec![json!(1)]];
        }
        Vec::new()
    })
    .await;
    let analysts = ("SELECT".to_owned(), "analysts".to_owned(), "group".to_owned());
    rig.fake.grants.lock().unwrap().push(analysts.clone());
    rig.runner.run(&payload("daily")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(*rig.fake.grants.lock().unwrap(), vec![analysts], "the group still reads the new table");

    rig.fake.bound_views.lock().unwrap().push("bi.daily_view".into());
    let e = rig.runner.run(&payload("daily")).await.expect_err("refused");
    assert!(e.to_string().contains("views depend on it (bi.daily_view)"), "{e}");
    let swaps = rig.fake.submitted.lock().unwrap().iter().filter(|s| s.iter().any(|x| x.contains("RENAME TO"))).count();
    assert_eq!(swaps, 1, "the refused run submitted no swap");
}
