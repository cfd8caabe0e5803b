//! fetch-api's database sources against real servers: the local stack's
//! PostgreSQL (a second database, `landfall_source`) and its MariaDB. The
//! landing bucket is an in-memory store, which can fail the state write on
//! purpose to stand in for a crash between a page and its commit.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use fetch_api::{FetchApi, FetchError, HttpClient, Payload, Settings, http_client};
use landfall::config::Config;
use landfall::secrets::{SecretError, Secrets};
use landfall::storage::memory::{Fault, MemoryStore};
use landfall::telemetry::Metrics;
use landfall_infra::LocalStack;
use serde_json::Value;

const LANDING: &str = "landing";
const CURATED: &str = "curated";

struct NoSecrets;

#[async_trait::async_trait]
impl Secrets for NoSecrets {
    async fn secret_string(&self, name: &str) -> Result<String, SecretError> {
        Err(SecretError::NotFound { name: name.into() })
    }
}

fn stack() -> LocalStack {
    LocalStack::discover().expect("the local stack is up (infra/stack up)")
}

/// A table name no other test (or earlier run) uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}_{}", nanos % 1_000_000_000_000)
}

/// The source database on the stack's PostgreSQL, created on first use.
async fn postgres_source(stack: &LocalStack) -> (tokio_postgres::Client, String) {
    let admin = connect(&stack.database_url).await;
    // Two tests may race to create it: the loser's error is expected.
    let _ = admin.batch_execute("CREATE DATABASE landfall_source").await;
    let server = stack.database_url.rsplit_once('/').map_or(stack.database_url.as_str(), |(server, _)| server);
    let url = format!("{server}/landfall_source");
    (connect(&url).await, url)
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

fn mysql_url(stack: &LocalStack) -> String {
    stack.env.get("LANDFALL_MYSQL_URL").cloned().expect("stack.env has LANDFALL_MYSQL_URL (infra/stack up)")
}

async fn mysql(url: &str) -> mysql_async::Conn {
    mysql_async::Conn::new(mysql_async::Opts::from_url(url).unwrap()).await.unwrap()
}

struct Rig {
    store: Arc<MemoryStore>,
    metrics: Metrics,
    handler: FetchApi,
}

impl Rig {
    fn new(source_yaml: &str) -> Rig {
        let yaml = format!("feeds:\n  rows:\n    prefix: db/rows/\n    format: json\nsources:\n  src:\n{source_yaml}");
        let config = Arc::new(Config::from_yaml(&yaml, "test").unwrap());
        let store = Arc::new(MemoryStore::default());
        let metrics = Metrics::new("test");
        let settings = Settings {
            landing_bucket: LANDING.into(),
            curated_bucket: CURATED.into(),
            time_budget: Duration::from_secs(300),
        };
        let http = HttpClient::new(http_client().unwrap(), metrics.clone());
        let handler = FetchApi::new(config, store.clone(), Arc::new(NoSecrets), http, metrics.clone(), settings);
        Rig { store, metrics, handler }
    }

    async fn run(&self) -> Result<fetch_api::RunReport, FetchError> {
        self.handler.run(&Payload { source: "src".into(), start: None, end: None }).await
    }

    /// Every landed record, page by page in key order.
    fn records(&self, keys: &[String]) -> Vec<Value> {
        keys.iter()
            .flat_map(|k| {
                let gz = self.store.read(LANDING, k).unwrap();
                let mut text = String::new();
                flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
                text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>()
            })
            .collect()
    }
}

fn source_yaml(kind: &str, url: &str, table: &str, page_rows: u32) -> String {
    format!(
        "    kind: {kind}\n    feed: rows\n    url: {url}\n    table: {table}\n    cursor: {{ column: updated_at, key: [id] }}\n    page_rows: {page_rows}\n"
    )
}

fn ids(records: &[Value]) -> Vec<i64> {
    records.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn postgres_rows_land_with_their_types_and_only_changes_come_next() {
    let stack = stack();
    let (db, url) = postgres_source(&stack).await;
    let t = unique("orders");
    db.batch_execute(&format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, amount numeric(30,9), doc jsonb, blob bytea, note text);
         INSERT INTO {t} VALUES
           (1, '2026-12-01 10:00:00.123456+00', 12345678901234567890.123456789, '{{\"a\": [1, 2], \"b\": {{\"c\": null}}}}', '\\x00ff10', 'first'),
           (2, '2026-12-01 11:00:00+02', 0.1, NULL, NULL, NULL),
           (3, '2026-12-01 12:00:00+00', -5, '[]', '\\x', 'é ünïcode');"
    ))
    .await
    .unwrap();
    let rig = Rig::new(&source_yaml("postgres", &url, &t, 1000));
    let first = rig.run().await.unwrap();
    assert_eq!((first.pages, first.records, first.complete), (1, 3, true));
    let records = rig.records(&first.keys);
    assert_eq!(ids(&records), vec![2, 1, 3], "in cursor order (11:00+02 is 09:00 UTC)");
    let one = &records[1];
    // The exact decimal, not a float's nearest value.
    let raw = String::from_utf8_lossy(&rig.store.read(LANDING, &first.keys[0]).map(gunzip).unwrap()).into_owned();
    assert!(raw.contains("\"amount\":12345678901234567890.123456789"), "{raw}");
    assert_eq!(one["doc"], serde_json::json!({"a": [1, 2], "b": {"c": null}}), "jsonb nested, not a string");
    assert_eq!(one["blob"], "AP8Q", "bytea as base64");
    assert_eq!(one["updated_at"], "2026-12-01T10:00:00.123456+00:00", "with its zone");
    assert_eq!(records[2]["note"], "é ünïcode");

    db.batch_execute(&format!(
        "UPDATE {t} SET note = 'changed', updated_at = '2026-12-02 00:00:00+00' WHERE id = 2;
         INSERT INTO {t} (id, updated_at) VALUES (4, '2026-12-02 00:00:00+00'), (5, '2026-12-03 00:00:00+00');"
    ))
    .await
    .unwrap();
    let second = rig.run().await.unwrap();
    let next = rig.records(&second.keys);
    assert_eq!(ids(&next), vec![2, 4, 5], "the updated row and the new ones, nothing else");
    assert_eq!(next[0]["note"], "changed");
    let third = rig.run().await.unwrap();
    assert_eq!((third.pages, third.records), (0, 0), "nothing changed, nothing landed");
}

fn gunzip(gz: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut out).unwrap();
    out
}

#[tokio::test]
async fn ties_on_the_cursor_across_page_boundaries_are_neither_skipped_nor_repeated() {
    let stack = stack();
    let (db, url) = postgres_source(&stack).await;
    let t = unique("ties");
    db.batch_execute(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
         INSERT INTO {t} SELECT g, '2026-12-01 00:00:00+00' FROM generate_series(1, 10) g;
         INSERT INTO {t} VALUES (11, '2026-12-01 00:00:01+00');"
    ))
    .await
    .unwrap();
    let rig = Rig::new(&source_yaml("postgres", &url, &t, 3));
    let report = rig.run().await.unwrap();
    assert_eq!(report.pages, 4);
    assert_eq!(ids(&rig.records(&report.keys)), (1..=11).collect::<Vec<_>>());
    // A row that ties with the last position but sorts after it by key still comes.
    db.batch_execute(&format!("INSERT INTO {t} VALUES (12, '2026-12-01 00:00:01+00')")).await.unwrap();
    let again = rig.run().await.unwrap();
    assert_eq!(ids(&rig.records(&again.keys)), vec![12]);
}

#[tokio::test]
async fn a_run_killed_before_its_commit_repeats_the_same_page_and_skips_none() {
    let stack = stack();
    let (db, url) = postgres_source(&stack).await;
    let t = unique("crash");
    db.batch_execute(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
         INSERT INTO {t} SELECT g, '2026-12-01 00:00:00+00'::timestamptz + g * interval '1 second' FROM generate_series(1, 5) g;"
    ))
    .await
    .unwrap();
    let rig = Rig::new(&source_yaml("postgres", &url, &t, 2));
    rig.store.fault("_state/", Fault::RejectPuts);
    assert!(rig.run().await.is_err(), "the commit fails as a crash would stop it");
    let landed = rig.store.keys(LANDING, "db/rows/");
    assert_eq!(landed.len(), 1, "the first page landed, its position never committed");
    let before = rig.store.read(LANDING, &landed[0]).unwrap();

    rig.store.clear_fault("_state/");
    let report = rig.run().await.unwrap();
    assert_eq!(report.keys[0], landed[0], "the repeated page has the same key");
    assert_eq!(rig.store.read(LANDING, &landed[0]).unwrap(), before, "and the same bytes: the ledger takes it once");
    assert_eq!(ids(&rig.records(&report.keys)), vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_source_that_drops_the_connection_mid_page_is_read_again_from_the_same_position() {
    let stack = stack();
    let (db, url) = postgres_source(&stack).await;
    let t = unique("drop");
    db.batch_execute(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
         INSERT INTO {t} SELECT g, '2026-12-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 20) g;"
    ))
    .await
    .unwrap();
    // Each row takes 50 ms to read, so the first page is still streaming when its backend is killed.
    // The sleep names the row (WHERE ... id), so PostgreSQL runs it per row, not once for the query.
    let query = format!("SELECT id, updated_at FROM {t}, LATERAL (SELECT pg_sleep(0.05) WHERE {t}.id > 0) AS slow");
    let yaml = format!(
        "    kind: postgres\n    feed: rows\n    url: {url}\n    query: \"{query}\"\n    cursor: {{ column: updated_at, key: [id] }}\n    page_rows: 20\n"
    );
    let rig = Rig::new(&yaml);
    let killer = {
        let (db, t) = (connect(&url).await, t.clone());
        tokio::spawn(async move {
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let killed = db
                    .query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'landfall-fetch-api' AND query LIKE $1",
                        &[&format!("%{t}%")],
                    )
                    .await
                    .unwrap();
                if !killed.is_empty() {
                    return true;
                }
            }
            false
        })
    };
    let report = rig.run().await.unwrap();
    assert!(killer.await.unwrap(), "the page's backend was terminated mid-read");
    assert!(rig.metrics.get(landfall::telemetry::catalog::SOURCE_RETRIES.name, &[("source", "src")]) >= 1);
    assert_eq!(ids(&rig.records(&report.keys)), (1..=20).collect::<Vec<_>>(), "every row once");
}

#[tokio::test]
async fn a_source_that_cannot_be_reached_fails_for_a_retry_and_commits_nothing() {
    let rig = Rig::new(&source_yaml("postgres", "postgres://nobody@127.0.0.1:1/none", "t", 10));
    let err = rig.run().await.unwrap_err();
    assert_eq!(err.disposition(), landfall::disposition::Disposition::Retry, "{err}");
    assert!(rig.store.keys(LANDING, "").is_empty() && rig.store.keys(CURATED, "").is_empty());
}

#[tokio::test]
async fn a_column_added_at_the_source_is_in_the_next_run() {
    let stack = stack();
    let (db, url) = postgres_source(&stack).await;
    let t = unique("evolve");
    db.batch_execute(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
         INSERT INTO {t} VALUES (1, '2026-12-01 00:00:00+00');"
    ))
    .await
    .unwrap();
    let rig = Rig::new(&source_yaml("postgres", &url, &t, 100));
    rig.run().await.unwrap();
    db.batch_execute(&format!(
        "ALTER TABLE {t} ADD COLUMN channel text; INSERT INTO {t} VALUES (2, '2026-12-02 00:00:00+00', 'email');"
    ))
    .await
    .unwrap();
    let report = rig.run().await.unwrap();
    let records = rig.records(&report.keys);
    assert_eq!(
        records,
        vec![serde_json::json!({"id": 2, "updated_at": "2026-12-02T00:00:00+00:00", "channel": "email"})]
    );
}

#[tokio::test]
async fn mysql_rows_land_with_their_types_and_ties_are_paged_by_key() {
    use mysql_async::prelude::Queryable;
    let stack = stack();
    let url = mysql_url(&stack);
    let mut db = mysql(&url).await;
    let t = unique("orders");
    db.query_drop(format!(
        "CREATE TABLE {t} (id BIGINT PRIMARY KEY, updated_at TIMESTAMP(6) NOT NULL, amount DECIMAL(30,9), doc JSON, blob_col BLOB, note TEXT)"
    ))
    .await
    .unwrap();
    db.query_drop("SET time_zone = '+00:00'").await.unwrap();
    db.query_drop(format!(
        "INSERT INTO {t} VALUES
           (1, '2026-12-01 10:00:00.5', 12345678901234567890.123456789, '{{\"a\": [1, 2]}}', x'00ff10', 'first'),
           (2, '2026-12-01 10:00:00.5', 0.1, NULL, NULL, NULL),
           (3, '2026-12-01 10:00:00.5', -5, '[]', x'', 'é ünïcode')"
    ))
    .await
    .unwrap();
    let rig = Rig::new(&source_yaml("mysql", &url, &t, 2));
    let first = rig.run().await.unwrap();
    assert_eq!((first.pages, first.records), (2, 3));
    let records = rig.records(&first.keys);
    assert_eq!(ids(&records), vec![1, 2, 3], "three rows tie on the cursor: ordered by id across the page boundary");
    let raw = String::from_utf8_lossy(&gunzip(rig.store.read(LANDING, &first.keys[0]).unwrap())).into_owned();
    assert!(raw.contains("12345678901234567890.123456789"), "{raw}");
    assert_eq!(records[0]["doc"], serde_json::json!({"a": [1, 2]}), "JSON nested");
    assert_eq!(records[0]["blob_col"], "AP8Q", "BLOB as base64");
    assert_eq!(records[0]["updated_at"], "2026-12-01T10:00:00.500000Z", "TIMESTAMP in UTC");
    assert_eq!(records[2]["note"], "é ünïcode");

    db.query_drop(format!("UPDATE {t} SET note = 'changed', updated_at = '2026-12-02 00:00:00' WHERE id = 1"))
        .await
        .unwrap();
    let second = rig.run().await.unwrap();
    let next = rig.records(&second.keys);
    assert_eq!(ids(&next), vec![1]);
    assert_eq!(next[0]["note"], "changed");
    db.query_drop(format!("DROP TABLE {t}")).await.unwrap();
}
