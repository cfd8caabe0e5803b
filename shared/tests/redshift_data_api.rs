//! The driver against a stand-in for the Data API over HTTP on loopback.
//! There is no local Redshift or Data API emulator (moto has none), so the
//! real SDK client talks to a wiremock server that speaks the Data API's
//! JSON protocol, records every call, and plays scripted statement
//! outcomes. The SQL itself is checked by the golden files and, for the
//! PostgreSQL dialect, on a real server (tests/tests/staged_sql.rs).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::method};

use std::sync::Arc;
use std::time::Duration;

use landfall::config::{RedshiftConfig, RedshiftEndpoint, WriteDisposition};
use landfall::disposition::Disposition;
use landfall::layout;
use landfall::manifest::{FileStatus, MANIFEST_VERSION, Manifest, ManifestPart, SourceObject};
use landfall::schema::{ColumnSchema, LogicalType};
use landfall::storage::memory::MemoryStore;
use landfall::warehouse::redshift::plan;
use landfall::warehouse::redshift::{COPY_PREFIX, Polling, RedshiftSettings, RedshiftWarehouse, SdkDataApi};
use landfall::warehouse::{FeedRules, LedgerStatus, TableLoad, Warehouse, plan_loads};

const CURATED: &str = "curated";
const ROLE: &str = "arn:aws:iam::123456789012:role/landfall-copy";

/// How a submitted batch plays out.
#[derive(Clone)]
struct Outcome {
    statuses: Vec<&'static str>,
    error: Option<String>,
    query_id: i64,
}

fn finishes() -> Outcome {
    Outcome { statuses: vec!["SUBMITTED", "STARTED", "FINISHED"], error: None, query_id: 101 }
}

struct Statement {
    sqls: Vec<String>,
    name: String,
    outcome: Outcome,
    polls: usize,
}

type Answer = Box<dyn Fn(&str) -> Vec<Vec<Value>> + Send + Sync>;
type Decide = Box<dyn Fn(&[String]) -> Outcome + Send + Sync>;

struct Fake {
    calls: Mutex<Vec<(String, Value)>>,
    statements: Mutex<HashMap<String, Statement>>,
    refuse_submits: Mutex<VecDeque<&'static str>>,
    outcome: Mutex<Decide>,
    answer: Mutex<Answer>,
    /// ClientToken -> the statement it started.
    tokens: Mutex<HashMap<String, String>>,
    /// Submits to accept and then answer with a 500, as a connection lost after the call.
    lose_answers: Mutex<usize>,
}

impl Fake {
    fn new() -> Arc<Fake> {
        Arc::new(Fake {
            calls: Mutex::new(Vec::new()),
            statements: Mutex::new(HashMap::new()),
            refuse_submits: Mutex::new(VecDeque::new()),
            outcome: Mutex::new(Box::new(|_| finishes())),
            answer: Mutex::new(Box::new(|_| Vec::new())),
            tokens: Mutex::new(HashMap::new()),
            lose_answers: Mutex::new(0),
        })
    }

    fn on_submit(&self, f: impl Fn(&[String]) -> Outcome + Send + Sync + 'static) {
        *self.outcome.lock().unwrap() = Box::new(f);
    }

    fn on_query(&self, f: impl Fn(&str) -> Vec<Vec<Value>> + Send + Sync + 'static) {
        *self.answer.lock().unwrap() = Box::new(f);
    }

    /// A statement an earlier invocation left running.
    fn already_running(&self, id: &str, name: &str, statuses: Vec<&'static str>) {
        self.statements.lock().unwrap().insert(
            id.into(),
            Statement {
                sqls: vec!["-- earlier".into()],
                name: name.into(),
                outcome: Outcome { statuses, error: None, query_id: 1 },
                polls: 0,
            },
        );
    }

    /// The submitted batches: (statement name, SQL), in order.
    fn submitted(&self) -> Vec<(String, Vec<String>)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, _)| op.ends_with("ExecuteStatement"))
            .map(|(_, body)| (body["StatementName"].as_str().unwrap_or_default().to_owned(), sqls_of(body)))
            .collect()
    }

    fn names(&self) -> Vec<String> {
        self.submitted().into_iter().map(|(n, _)| n.splitn(3, '-').nth(2).unwrap_or_default().to_owned()).collect()
    }

    fn count(&self, op: &str) -> usize {
        self.calls.lock().unwrap().iter().filter(|(o, _)| o == op).count()
    }

    /// Submissions, whether one statement or a transaction.
    fn submissions(&self) -> usize {
        self.count("ExecuteStatement") + self.count("BatchExecuteStatement")
    }
}

/// The SQL of an ExecuteStatement (`Sql`) or BatchExecuteStatement (`Sqls`) request.
fn sqls_of(body: &Value) -> Vec<String> {
    match body["Sqls"].as_array() {
        Some(list) => list.iter().map(|s| s.as_str().unwrap_or_default().to_owned()).collect(),
        None => vec![body["Sql"].as_str().unwrap_or_default().to_owned()],
    }
}

struct Responder(Arc<Fake>);

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let fake = &self.0;
        let op = req
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("RedshiftData."))
            .unwrap_or_default()
            .to_owned();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        fake.calls.lock().unwrap().push((op.clone(), body.clone()));
        let ok = |v: Value| ResponseTemplate::new(200).set_body_raw(v.to_string(), "application/x-amz-json-1.1");
        match op.as_str() {
            "BatchExecuteStatement" | "ExecuteStatement" => {
                if let Some(code) = fake.refuse_submits.lock().unwrap().pop_front() {
                    return ResponseTemplate::new(400).set_body_raw(
                        json!({"__type": code, "Message": "too many active statements"}).to_string(),
                        "application/x-amz-json-1.1",
                    );
                }
                let sqls = sqls_of(&body);
                // "The maximum query statement size is 100 KB" (Data API considerations:
                // https://docs.aws.amazon.com/redshift/latest/mgmt/data-api.html), with the
                // service's message.
                if sqls.iter().any(|s| s.len() > 100_000) {
                    return ResponseTemplate::new(400).set_body_raw(
                        json!({"__type": "ValidationException", "Message": "Cannot process query string larger than 100kB"}).to_string(),
                        "application/x-amz-json-1.1",
                    );
                }
                // ClientToken makes the call idempotent (ExecuteStatement:
                // https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ExecuteStatement.html):
                // a token seen before answers with the statement it started, which runs once.
                let token = body["ClientToken"].as_str().unwrap_or_default().to_owned();
                let mut statements = fake.statements.lock().unwrap();
                let id = match fake.tokens.lock().unwrap().get(&token) {
                    Some(id) => id.clone(),
                    None => {
                        let outcome = (fake.outcome.lock().unwrap())(&sqls);
                        let id = format!("st-{}", statements.len() + 1);
                        let name = body["StatementName"].as_str().unwrap_or_default().to_owned();
                        statements.insert(id.clone(), Statement { sqls, name, outcome, polls: 0 });
                        id
                    }
                };
                if !token.is_empty() {
                    fake.tokens.lock().unwrap().insert(token, id.clone());
                }
                let mut lose = fake.lose_answers.lock().unwrap();
                if *lose > 0 {
                    *lose -= 1;
                    return ResponseTemplate::new(500).set_body_raw(
                        json!({"__type": "InternalServerException", "Message": "connection reset"}).to_string(),
                        "application/x-amz-json-1.1",
                    );
                }
                ok(json!({"Id": id, "SessionId": "sess-1", "CreatedAt": 1_790_000_000.0}))
            }
            "DescribeStatement" => {
                let id = body["Id"].as_str().unwrap_or_default();
                let mut statements = fake.statements.lock().unwrap();
                let Some(st) = statements.get_mut(id) else {
                    return ResponseTemplate::new(400).set_body_raw(
                        json!({"__type": "ResourceNotFoundException", "Message": id}).to_string(),
                        "application/x-amz-json-1.1",
                    );
                };
                let status = st.outcome.statuses[st.polls.min(st.outcome.statuses.len() - 1)];
                st.polls += 1;
                let failed = status == "FAILED";
                // Only a batch reports sub-statements.
                let batch = st.sqls.len() > 1;
                let subs: Vec<Value> = st
                        .sqls
                        .iter()
                        .filter(|_| batch)
                        .enumerate()
                        .map(|(i, q)| {
                            let mut sub = json!({"Id": format!("{id}:{}", i + 1), "Status": if failed { "FAILED" } else { status }, "QueryString": q, "RedshiftQueryId": st.outcome.query_id});
                            if failed {
                                sub["Error"] = json!(st.outcome.error);
                            }
                            sub
                        })
                        .collect();
                let mut out = json!({"Id": id, "Status": status, "RedshiftQueryId": st.outcome.query_id, "SessionId": "sess-1", "SubStatements": subs});
                if failed || status == "ABORTED" {
                    out["Error"] = json!(st.outcome.error.clone().unwrap_or_else(|| "Query cancelled.".into()));
                }
                ok(out)
            }
            "ListStatements" => {
                let prefix = body["StatementName"].as_str().unwrap_or_default();
                let statements = fake.statements.lock().unwrap();
                let list: Vec<Value> = statements
                        .iter()
                        .filter(|(_, s)| s.name.starts_with(prefix))
                        .map(|(id, s)| json!({"Id": id, "StatementName": s.name, "Status": s.outcome.statuses[s.polls.min(s.outcome.statuses.len() - 1)]}))
                        .collect();
                ok(json!({"Statements": list}))
            }
            "GetStatementResult" => {
                let id = body["Id"].as_str().unwrap_or_default();
                let (parent, _) = id.split_once(':').unwrap_or((id, ""));
                let sql = fake.statements.lock().unwrap().get(parent).map(|s| s.sqls[0].clone()).unwrap_or_default();
                let rows = (fake.answer.lock().unwrap())(&sql);
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

/// A Parquet part as parse-file writes it: data columns then lineage.
fn part(file_url: &str, ids: &[i64]) -> Vec<u8> {
    let n = ids.len();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(ids.to_vec()))),
        ("name", Arc::new(StringArray::from(vec!["x"; n]))),
        ("_landfall_file", Arc::new(StringArray::from(vec![file_url; n]))),
        ("_landfall_row", Arc::new(Int64Array::from((2..2 + n as i64).collect::<Vec<_>>()))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut buf = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    buf
}

fn manifest(store: &MemoryStore, n: usize, dt: &str) -> (String, Manifest) {
    let url = format!("s3://landing/orders/file-{n}.csv");
    let key = format!("tables/orders/dt={dt}/file-{n}-0.parquet");
    let body = part(&url, &[1, 2, 3]);
    store.insert(CURATED, &key, &body);
    let col = |name: &str, t, b| ColumnSchema {
        name: name.into(),
        source_name: name.into(),
        data_type: t,
        nullable: true,
        max_bytes: b,
        declared: false,
    };
    let m = Manifest {
        manifest_version: MANIFEST_VERSION,
        file_id: format!("{n:040x}"),
        source: SourceObject {
            bucket: "landing".into(),
            key: format!("orders/file-{n}.csv"),
            url: url.clone(),
            version_id: None,
            etag: Some(format!("e{n}")),
            size: 10,
            sequencer: None,
        },
        feed: "orders".into(),
        table: "orders".into(),
        status: FileStatus::Parsed,
        error: None,
        input: None,
        schema: vec![col("id", LogicalType::Int64, None), col("name", LogicalType::String, Some(1))],
        parts: vec![ManifestPart {
            key: key.clone(),
            url: layout::s3_url(CURATED, &key),
            dt: dt.into(),
            rows: 3,
            bytes: body.len() as u64,
        }],
        rows: 3,
        rejected_rows: 0,
        rejects_key: None,
        widenings: Vec::new(),
        discarded_columns: Vec::new(),
        arrival_date: dt.into(),
        parsed_at: format!("2026-11-22T10:00:{n:02}Z"),
        producer: "test".into(),
    };
    (format!("_manifests/orders/{n}.json"), m)
}

fn load_of(store: &MemoryStore, files: usize, rules: FeedRules) -> TableLoad {
    let manifests = (0..files).map(|n| manifest(store, n, "2026-11-21")).collect();
    plan_loads("public", manifests, |_| rules.clone()).remove(0)
}

/// `svv_columns` rows: the ledger exists, and the target has these columns.
fn columns_rows(columns: &[(&str, &str, Value)]) -> Vec<Vec<Value>> {
    let mut rows = vec![vec![
        json!("landfall"),
        json!("load_ledger"),
        json!("file_id"),
        json!("character varying"),
        json!(64),
        Value::Null,
        Value::Null,
    ]];
    for (name, ty, len) in columns {
        rows.push(vec![
            json!("public"),
            json!("orders"),
            json!(name),
            json!(ty),
            len.clone(),
            Value::Null,
            Value::Null,
        ]);
    }
    rows
}

/// Ledger rows recorded by `load` (file id, load id, status, rows, rejected, manifest key).
fn ledger_rows(load: &TableLoad, status: impl Fn(usize) -> &'static str) -> Vec<Vec<Value>> {
    load.files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let loaded = if status(i) == "loaded" { 3 } else { 0 };
            vec![
                json!(f.manifest.file_id),
                json!(load.load_id),
                json!(status(i)),
                json!(loaded),
                json!(0),
                json!(f.manifest_key),
            ]
        })
        .collect()
}

/// The fake warehouse's answers: an existing table and ledger, nothing
/// loaded yet, and once asked for the report, every file recorded by this load.
fn warehouse_answers(fake: &Fake, load: &TableLoad) {
    let recorded = ledger_rows(load, |_| "loaded");
    fake.on_query(move |sql| {
        if sql.contains("svv_columns") {
            return columns_rows(&[("id", "bigint", Value::Null), ("name", "character varying", json!(32))]);
        }
        if sql.contains("status, rows_loaded") {
            return recorded.clone();
        }
        Vec::new()
    });
}

fn driver(server: &MockServer, store: Arc<MemoryStore>) -> RedshiftWarehouse {
    driver_on(server, store, RedshiftEndpoint::Workgroup("analytics".into()))
}

fn driver_on(server: &MockServer, store: Arc<MemoryStore>, endpoint: RedshiftEndpoint) -> RedshiftWarehouse {
    let conf = aws_sdk_redshiftdata::Config::builder()
        .endpoint_url(server.uri())
        .region(aws_sdk_redshiftdata::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_redshiftdata::config::Credentials::new("test", "test", None, None, "test"))
        .behavior_version(aws_sdk_redshiftdata::config::BehaviorVersion::latest())
        // The driver's own retries are under test, not the SDK's.
        .retry_config(aws_sdk_redshiftdata::config::retry::RetryConfig::disabled())
        .build();
    let target = RedshiftConfig {
        endpoint,
        database: "dev".into(),
        secret_arn: Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:dw".into()),
        db_user: None,
        copy_role_arn: ROLE.into(),
    };
    let api = SdkDataApi::new(aws_sdk_redshiftdata::Client::from_conf(conf), target.clone());
    let settings = RedshiftSettings {
        curated_bucket: CURATED.into(),
        work_dir: std::env::temp_dir(),
        polling: Polling {
            first_wait: Duration::from_millis(2),
            max_wait: Duration::from_millis(10),
            deadline: Duration::from_secs(20),
            submit_attempts: 4,
            session_keep_alive_secs: 300,
        },
    };
    RedshiftWarehouse::new(Arc::new(api), store, &target, settings)
}

async fn setup(files: usize, rules: FeedRules) -> (MockServer, Arc<Fake>, Arc<MemoryStore>, TableLoad) {
    let server = MockServer::start().await;
    let fake = Fake::new();
    Mock::given(method("POST")).respond_with(Responder(Arc::clone(&fake))).mount(&server).await;
    let store = Arc::new(MemoryStore::default());
    let load = load_of(&store, files, rules);
    warehouse_answers(&fake, &load);
    (server, fake, store, load)
}

fn merge_rules() -> FeedRules {
    FeedRules { disposition: WriteDisposition::Merge, primary_key: vec!["id".into()], ..FeedRules::default() }
}

#[tokio::test]
async fn an_append_stages_in_a_session_then_applies_in_one_transaction() {
    let (server, fake, store, load) = setup(2, FeedRules::default()).await;
    let report = driver(&server, store.clone()).load(&load).await.unwrap();
    assert_eq!(fake.names(), vec!["columns", "ledger-0", "stage-0", "apply", "report-0", "rejects"]);
    let submitted = fake.submitted();
    let stage = &submitted[2].1;
    assert!(stage[0].starts_with("CREATE TEMP TABLE \"landfall_staging\""));
    let copy = stage.iter().find(|s| s.starts_with("COPY")).unwrap();
    assert!(copy.contains(&format!("IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST")), "{copy}");
    let apply = &submitted[3].1;
    assert_eq!(apply[0], "LOCK \"public\".\"orders\"");
    assert!(apply[3].starts_with("DELETE FROM \"landfall\".\"load_ledger\""), "a refused file's row is replaced");
    assert!(apply[4].starts_with("INSERT INTO \"public\".\"orders\""), "{}", apply[4]);
    assert!(apply[5].starts_with("INSERT INTO \"landfall\".\"load_ledger\""));
    assert_eq!(apply.len(), 6);
    // The apply runs in the session that holds the staged rows.
    let calls = fake.calls.lock().unwrap().clone();
    let apply_call = calls.iter().filter(|(op, _)| op.ends_with("ExecuteStatement")).nth(3).unwrap();
    assert_eq!(apply_call.1["SessionId"], "sess-1");
    assert!(apply_call.1.get("Database").is_none(), "a session call names no database");
    let first = calls.iter().find(|(op, _)| op == "ExecuteStatement").unwrap();
    assert!(first.1["Sql"].as_str().unwrap().contains("svv_columns"), "a query runs on its own");
    assert_eq!(first.1["WorkgroupName"], "analytics");
    assert!(first.1["SecretArn"].as_str().unwrap().starts_with("arn:aws:secretsmanager"));
    assert!(calls.iter().all(|(_, b)| !b.to_string().contains("password")), "credentials never travel as SQL");
    // The COPY manifest: every part mandatory, with its length.
    let keys = store.keys(CURATED, COPY_PREFIX);
    assert_eq!(keys.len(), 1, "one layout, one dt: one manifest");
    let m: Value = serde_json::from_slice(&store.read(CURATED, &keys[0]).unwrap()).unwrap();
    assert_eq!(m["entries"].as_array().unwrap().len(), 2);
    assert_eq!(m["entries"][0]["mandatory"], true);
    assert!(m["entries"][0]["meta"]["content_length"].as_u64().unwrap() > 0);
    assert_eq!(report.rows_loaded, 6);
    assert_eq!(report.files.len(), 2);
}

#[tokio::test]
async fn a_merge_sets_aside_null_keys_then_deletes_and_inserts_the_latest_rows() {
    let (server, fake, store, load) = setup(1, merge_rules()).await;
    driver(&server, store).load(&load).await.unwrap();
    let apply = fake.submitted().into_iter().find(|(n, _)| n.ends_with("-apply")).unwrap().1;
    let heads: Vec<String> = apply.iter().map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(
        heads,
        vec![
            "LOCK \"public\".\"orders\"",
            "DELETE FROM \"landfall_staging\"",
            "DELETE FROM \"landfall_files\"",
            "DELETE FROM \"landfall\".\"load_ledger\"",
            "INSERT INTO \"landfall\".\"load_rejects\"",
            "DELETE FROM \"landfall_staging\"",
            "DROP TABLE IF",
            "CREATE TEMP TABLE",
            "DELETE FROM \"public\".\"orders\"",
            "INSERT INTO \"public\".\"orders\"",
            "DROP TABLE \"landfall_staging_latest\"",
            "INSERT INTO \"landfall\".\"load_ledger\"",
        ]
    );
    assert!(apply[7].contains("ROW_NUMBER() OVER (PARTITION BY \"id\""));
    assert!(apply[8].contains("USING \"landfall_staging_latest\" s"));
}

#[tokio::test]
async fn a_replace_partition_deletes_the_batchs_partitions_before_inserting() {
    let rules = FeedRules { disposition: WriteDisposition::ReplacePartition, ..FeedRules::default() };
    let (server, fake, store, load) = setup(1, rules).await;
    driver(&server, store).load(&load).await.unwrap();
    let apply = fake.submitted().into_iter().find(|(n, _)| n.ends_with("-apply")).unwrap().1;
    assert!(apply[4].starts_with(
        "DELETE FROM \"public\".\"orders\" WHERE \"dt\" IN (SELECT DISTINCT \"dt\" FROM \"landfall_staging\")"
    ));
    assert!(apply[5].starts_with("INSERT INTO \"public\".\"orders\""));
}

#[tokio::test]
async fn statements_are_polled_through_submitted_and_started_until_finished() {
    let (server, fake, store, load) = setup(1, FeedRules::default()).await;
    fake.on_submit(|_| Outcome {
        statuses: vec!["SUBMITTED", "PICKED", "STARTED", "STARTED", "FINISHED"],
        error: None,
        query_id: 5,
    });
    driver(&server, store).load(&load).await.unwrap();
    let batches = fake.submissions();
    assert_eq!(fake.count("DescribeStatement"), batches * 5, "every statement polled until FINISHED, no further");
}

/// On a provisioned cluster the Data API's query id is STL_QUERY's
/// (DescribeStatement, `RedshiftQueryId`:
/// https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_DescribeStatement.html),
/// and the SYS views number queries in a scheme of their own
/// (SYS_LOAD_ERROR_DETAIL: `query_id`, `transaction_id`:
/// https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html).
/// The fake keeps the two apart: SYS query 4242 is another table's COPY.
#[tokio::test]
async fn on_a_provisioned_cluster_the_load_errors_are_matched_by_stl_query_id_not_a_sys_query_id() {
    let (server, fake, store, load) = setup(2, FeedRules::default()).await;
    let bad_part = load.files[1].manifest.parts[0].url.clone();
    let failed_once = Arc::new(Mutex::new(false));
    let once = Arc::clone(&failed_once);
    fake.on_submit(move |sqls| {
        let copies_bad = sqls.iter().any(|s| s.starts_with("COPY")) && sqls.iter().any(|s| s.contains("file-1.csv', "));
        if copies_bad && !*once.lock().unwrap() {
            *once.lock().unwrap() = true;
            return Outcome {
                statuses: vec!["FAILED"],
                error: Some(
                    "ERROR: Load into table 'landfall_raw_0' failed. Check 'stl_load_errors' system table for details."
                        .into(),
                ),
                query_id: 4242,
            };
        }
        finishes()
    });
    let ours = move |part: &str| {
        vec![vec![json!(part), json!(3), json!("id"), json!("int8"), json!("Overflow for type bigint")]]
    };
    let recorded = ledger_rows(&load, |i| if i == 1 { "refused" } else { "loaded" });
    fake.on_query(move |sql| {
        if sql.contains("sys_load_error_detail") && sql.contains("query_id = 4242") {
            return vec![vec![
                json!("s3://elsewhere/other-table.csv"),
                json!(1),
                json!("x"),
                json!("int4"),
                json!("not ours"),
            ]];
        }
        if (sql.contains("stl_load_errors") && sql.contains("query = 4242"))
            || sql.contains("FROM stl_query WHERE query = 4242")
        {
            return ours(&bad_part);
        }
        if sql.contains("svv_columns") {
            return columns_rows(&[]);
        }
        if sql.contains("status, rows_loaded") {
            return recorded.clone();
        }
        Vec::new()
    });
    let cluster = RedshiftEndpoint::Cluster("analytics-cluster".into());
    let report = driver_on(&server, store, cluster).load(&load).await.unwrap();
    let refused = report.files.iter().find(|f| f.status == LedgerStatus::Refused).expect("the bad file is set aside");
    assert!(
        refused.reason.as_deref().unwrap().contains("row 3 column id (int8): Overflow for type bigint"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_copy_that_refuses_a_files_data_sets_that_file_aside_with_the_detail_from_sys_load_error_detail() {
    let (server, fake, store, load) = setup(2, FeedRules::default()).await;
    let bad_part = load.files[1].manifest.parts[0].url.clone();
    let stage_failures = Arc::new(Mutex::new(0));
    let count = Arc::clone(&stage_failures);
    fake.on_submit(move |sqls| {
            let copies_bad = sqls.iter().any(|s| s.starts_with("COPY")) && sqls.iter().any(|s| s.contains("file-1.csv', "));
            if copies_bad && *count.lock().unwrap() == 0 {
                *count.lock().unwrap() += 1;
                return Outcome {
                    statuses: vec!["STARTED", "FAILED"],
                    error: Some("ERROR: Load into table 'landfall_raw_0' failed. Check 'sys_load_error_detail' system table for details.".into()),
                    query_id: 4242,
                };
            }
            finishes()
        });
    let answer_part = bad_part.clone();
    let recorded = ledger_rows(&load, |i| if i == 1 { "refused" } else { "loaded" });
    fake.on_query(move |sql| {
        if sql.contains("sys_load_error_detail") {
            assert!(sql.contains("query_id = 4242"), "{sql}");
            return vec![vec![
                json!(answer_part),
                json!(3),
                json!("id"),
                json!("int8"),
                json!("Overflow for type bigint"),
            ]];
        }
        if sql.contains("svv_columns") {
            return columns_rows(&[]);
        }
        if sql.contains("status, rows_loaded") {
            return recorded.clone();
        }
        Vec::new()
    });
    let report = driver(&server, store.clone()).load(&load).await.unwrap();
    let stages: Vec<Vec<String>> =
        fake.submitted().into_iter().filter(|(n, _)| n.contains("-stage-")).map(|(_, s)| s).collect();
    assert_eq!(stages.len(), 2, "staged again without the refused file");
    let files_insert = stages[1].iter().find(|s| s.starts_with("INSERT INTO \"landfall_files\"")).unwrap();
    assert!(files_insert.contains("'refused'"), "{files_insert}");
    assert!(files_insert.contains("row 3 column id (int8): Overflow for type bigint"), "{files_insert}");
    let refused = report.files.iter().find(|f| f.status == LedgerStatus::Refused).unwrap();
    assert!(refused.reason.as_deref().unwrap().contains("Overflow for type bigint"));
    let rejects = store.keys(CURATED, "_rejects/orders/");
    assert_eq!(rejects.len(), 1, "the refused file has a rejects record");
    assert_eq!(report.rejects_key.as_deref(), Some(rejects[0].as_str()));
}

#[tokio::test]
async fn a_failed_statement_that_is_not_a_load_error_fails_the_load_and_is_classified() {
    let (server, fake, store, load) = setup(1, FeedRules::default()).await;
    fake.on_submit(|sqls| {
        if sqls[0].starts_with("LOCK") {
            return Outcome {
                statuses: vec!["FAILED"],
                error: Some("ERROR: syntax error at or near \"LOCKX\"".into()),
                query_id: 9,
            };
        }
        finishes()
    });
    let e = driver(&server, store.clone()).load(&load).await.unwrap_err();
    assert_eq!(e.disposition(), Disposition::DeadLetter, "SQL errors are not retried: {e}");
    assert!(e.to_string().contains("syntax error"), "{e}");

    fake.on_submit(|sqls| {
        if sqls[0].starts_with("LOCK") {
            return Outcome {
                statuses: vec!["FAILED"],
                error: Some("ERROR: 1023 DETAIL: Serializable isolation violation on table - 1234".into()),
                query_id: 9,
            };
        }
        finishes()
    });
    let e = driver(&server, store).load(&load).await.unwrap_err();
    assert_eq!(e.disposition(), Disposition::Retry, "a serializable isolation violation is retried: {e}");
}

#[tokio::test]
async fn an_aborted_statement_is_a_retryable_failure() {
    let (server, fake, store, load) = setup(1, FeedRules::default()).await;
    fake.on_submit(|sqls| {
        if sqls[0].starts_with("LOCK") {
            return Outcome { statuses: vec!["STARTED", "ABORTED"], error: None, query_id: 9 };
        }
        finishes()
    });
    let e = driver(&server, store).load(&load).await.unwrap_err();
    assert_eq!(e.disposition(), Disposition::Retry, "{e}");
    assert!(e.to_string().contains("ABORTED"), "{e}");
}

#[tokio::test]
async fn a_throttled_call_is_retried_with_backoff_until_it_is_accepted() {
    let (server, fake, store, load) = setup(1, FeedRules::default()).await;
    fake.refuse_submits.lock().unwrap().extend(["ActiveStatementsExceededException", "ThrottlingException"]);
    driver(&server, store).load(&load).await.unwrap();
    assert_eq!(fake.submissions(), fake.names().len(), "every call recorded");
    assert_eq!(fake.submitted()[0].0, fake.submitted()[2].0, "the refused call was sent again");
}

#[tokio::test]
async fn a_retry_that_finds_its_statement_still_running_waits_for_it_instead_of_loading_again() {
    let (server, fake, store, load) = setup(2, FeedRules::default()).await;
    fake.already_running(
        "earlier-apply",
        &format!("landfall-{}-apply", load.load_id),
        vec!["STARTED", "STARTED", "FINISHED"],
    );
    // Once the earlier apply has committed, the ledger holds every file under this load id.
    let recorded = ledger_rows(&load, |_| "loaded");
    fake.on_query(move |sql| {
        if sql.contains("svv_columns") {
            return columns_rows(&[("id", "bigint", Value::Null)]);
        }
        if sql.contains("SELECT file_id, load_id FROM") || sql.contains("status, rows_loaded") {
            return recorded.clone();
        }
        Vec::new()
    });
    let report = driver(&server, store).load(&load).await.unwrap();
    let described_earlier = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(op, b)| op == "DescribeStatement" && b["Id"] == "earlier-apply")
        .count();
    assert_eq!(described_earlier, 3, "waited until the earlier statement finished");
    assert!(
        fake.submitted().iter().all(|(n, _)| !n.contains("-stage-") && !n.ends_with("-apply")),
        "{:?}",
        fake.names()
    );
    assert_eq!(report.files.len(), 2, "the earlier attempt's files are this load's");
    assert_eq!(report.rows_loaded, 6);
}

#[tokio::test]
async fn a_batch_whose_sql_would_exceed_100_kb_is_split_into_statements_under_the_limit() {
    let (server, fake, store, load) = setup(400, FeedRules::default()).await;
    driver(&server, store).load(&load).await.unwrap();
    let submitted = fake.submitted();
    let all: Vec<&String> = submitted.iter().flat_map(|(_, s)| s).collect();
    let total: usize = all.iter().map(|s| s.len()).sum();
    assert!(total > plan::MAX_STATEMENT_BYTES, "the batch's SQL is {total} bytes in all");
    assert!(all.iter().all(|s| s.len() <= plan::MAX_STATEMENT_BYTES));
    assert!(submitted.iter().all(|(_, s)| s.len() <= plan::MAX_BATCH_STATEMENTS));
    let inserts = all.iter().filter(|s| s.starts_with("INSERT INTO \"landfall_files\"")).count();
    assert!(inserts >= 2, "the files were inserted in {inserts} statements");
    assert_eq!(submitted.iter().filter(|(n, _)| n.ends_with("-apply")).count(), 1, "still one apply transaction");
    let largest = all.iter().map(|s| s.len()).max().unwrap_or(0);
    eprintln!(
        "400 files: {total} bytes of SQL in {} statements over {} calls; {inserts} landfall_files inserts; largest statement {largest} bytes",
        all.len(),
        submitted.len()
    );
}

#[tokio::test]
async fn the_monitors_statements_run_as_one_transaction_and_one_statement_on_its_own() {
    use landfall::warehouse::Dialect;
    let (server, fake, store, _) = setup(1, FeedRules::default()).await;
    let warehouse = driver(&server, store);
    let ddl = Dialect::Redshift.create_monitor_tables();
    warehouse.execute(ddl.clone()).await.unwrap();
    warehouse.execute(vec!["DELETE FROM \"landfall\".\"file_digests\" WHERE run_id = 'r'".into()]).await.unwrap();
    warehouse.execute(Vec::new()).await.unwrap();
    assert_eq!(fake.count("BatchExecuteStatement"), 1, "the tables in one transaction");
    assert_eq!(fake.count("ExecuteStatement"), 1, "one statement alone; nothing for none");
    let submitted = fake.submitted();
    assert_eq!(submitted[0].1, ddl);
    assert!(!ddl.iter().any(|s| s.contains("pg_advisory")), "PostgreSQL's lock is not Redshift's");
    assert!(submitted[0].0.starts_with("landfall-execute-"), "{}", submitted[0].0);

    fake.on_submit(|_| Outcome {
        statuses: vec!["FAILED"],
        error: Some("ERROR: permission denied for schema landfall".into()),
        query_id: 7,
    });
    let e = warehouse.execute(vec!["SELECT 1".into(), "SELECT 2".into()]).await.unwrap_err();
    assert_eq!(e.disposition(), Disposition::DeadLetter, "{e}");
    assert!(e.to_string().contains("permission denied"), "{e}");
}

#[tokio::test]
async fn a_submit_whose_answer_was_lost_is_not_run_twice() {
    let (server, fake, store, load) = setup(2, FeedRules::default()).await;
    *fake.lose_answers.lock().unwrap() = 1;
    driver(&server, store.clone()).load(&load).await.unwrap();
    let calls = fake.calls.lock().unwrap().clone();
    let first = calls.iter().find(|(op, _)| op.ends_with("ExecuteStatement")).unwrap();
    let token = first.1["ClientToken"].as_str().unwrap().to_owned();
    let sent = calls.iter().filter(|(_, b)| b["ClientToken"] == token.as_str()).count();
    assert_eq!(sent, 2, "the lost call was sent again, with its token");
    let columns: Vec<String> = fake.names().into_iter().filter(|n| n == "columns").collect();
    assert_eq!(columns.len(), 2, "two calls");
    let started = fake.statements.lock().unwrap().values().filter(|s| s.name.ends_with("-columns")).count();
    assert_eq!(started, 1, "one statement ran");
}

#[tokio::test]
async fn a_batch_of_3000_files_reads_the_ledger_in_statements_under_100_kb() {
    // 3,000 ids in one IN list are about 132 KB here (40 hex digits; 108 KB at the real 32).
    let (server, fake, store, load) = setup(3000, FeedRules::default()).await;
    driver(&server, store.clone()).load(&load).await.unwrap();
    let submitted = fake.submitted();
    assert!(submitted.iter().flat_map(|(_, s)| s).all(|s| s.len() <= plan::MAX_STATEMENT_BYTES));
    let names = fake.names();
    assert!(names.contains(&"ledger-2".to_owned()) && names.contains(&"report-2".to_owned()), "{names:?}");
}

#[tokio::test]
async fn a_query_on_a_relation_that_does_not_exist_yet_reads_as_absent_and_other_failures_stay_errors() {
    let (server, fake, store, _) = setup(1, FeedRules::default()).await;
    let warehouse = driver(&server, store);
    fake.on_submit(|_| Outcome {
        statuses: vec!["FAILED"],
        error: Some("ERROR: relation \"landfall.failures\" does not exist".into()),
        query_id: 7,
    });
    let rows = warehouse.query_if_present("SELECT 1 FROM \"landfall\".\"failures\"").await.unwrap();
    assert!(rows.is_none(), "a missing table is nothing recorded");

    fake.on_submit(|_| Outcome {
        statuses: vec!["FAILED"],
        error: Some("ERROR: column \"feed\" does not exist in failures".into()),
        query_id: 8,
    });
    let e = warehouse.query_if_present("SELECT feed FROM \"landfall\".\"failures\"").await.unwrap_err();
    assert!(!e.is_undefined_table(), "a missing column is a real error: {e}");
}

/// A version whose object the table already holds newer (by S3's
/// sequencer) is recorded superseded and copies nothing; a batch whose
/// files carry no sequencer reads no versions at all (the append test).
#[tokio::test]
async fn a_version_older_than_the_one_the_table_holds_is_superseded_and_not_copied() {
    let (server, fake, store, mut load) = setup(1, FeedRules::default()).await;
    load.files[0].manifest.source.sequencer = Some("0A".into());
    let url = load.files[0].manifest.source.url.clone();
    let recorded = ledger_rows(&load, |_| "superseded");
    fake.on_query(move |sql| {
        if sql.contains("svv_columns") {
            return columns_rows(&[("id", "bigint", Value::Null), ("name", "character varying", json!(32))]);
        }
        if sql.starts_with("SELECT source_url, detail") {
            return vec![vec![json!(url), json!(r#"{"sequencer":"000B"}"#)]];
        }
        if sql.contains("status, rows_loaded") {
            return recorded.clone();
        }
        Vec::new()
    });
    let report = driver(&server, store).load(&load).await.unwrap();
    assert!(fake.names().contains(&"versions-0".to_owned()), "{:?}", fake.names());
    assert_eq!(report.files[0].status, LedgerStatus::Superseded, "{report:?}");
    let copies = fake.submitted().iter().flat_map(|(_, sqls)| sqls.clone()).filter(|s| s.starts_with("COPY")).count();
    assert_eq!(copies, 0, "nothing of the older version is staged");
}
