//! fetch-api end to end: a source fetched from a local HTTP server (wiremock
//! replaying Mailchimp's shape), its credentials read from the stack's
//! Secrets Manager, the pages landed in the stack's landing bucket, parsed
//! by parse-file through the real S3 notifications and SQS, and loaded by
//! load-warehouse into PostgreSQL; the cursor kept in the curated bucket.
//!
//! Needs the local stack: `infra/stack up` (the README's test command does it).

use std::path::PathBuf;

use fetch_api::Payload;
use landfall::config::Config;
use landfall::fetch::{SourceState, state_key};
use landfall::storage::{ObjectStore, Precondition, PutOptions, StorageError};
use landfall_tests::Harness;
use serde_json::{Value, json};
use wiremock::matchers::{header, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SOURCE: &str = "e2e_mailchimp";
const TABLE: &str = "wh_fetch_campaigns";

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/api").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn config(server: &str, secret: &str) -> Config {
    let yaml = format!(
        r#"
feeds:
  e2e_fetch_campaigns:
    prefix: e2e/fetch/mailchimp/
    table: {TABLE}
    format: json
    primary_key: [id]
    write_disposition: merge
sources:
  {SOURCE}:
    feed: e2e_fetch_campaigns
    base_url: {server}/3.0
    path: /campaigns
    query: {{ since_send_time: "{{start}}", sort_field: send_time, sort_dir: ASC }}
    auth: {{ type: basic, username: landfall, password_secret: {secret} }}
    paginator: {{ type: offset, offset_param: offset, limit_param: count, limit: 2, total_path: total_items }}
    records: campaigns
    cursor: {{ field: send_time, initial: "2026-01-01T00:00:00+00:00", lag_seconds: 3600 }}
    limits: {{ backoff_base_ms: 10 }}
"#
    );
    Config::from_yaml(&yaml, "fetch_api.rs").unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn api_pages_flow_through_landing_parse_file_and_the_warehouse_and_the_cursor_moves_on() {
    let server = MockServer::start().await;
    let secret = format!("landfall/e2e/mailchimp-{}", std::process::id());
    let h = Harness::start_with(Some(config(&server.uri(), &secret))).await;
    h.reset_tables(&[TABLE]).await;
    let state = state_key(SOURCE);
    let _ = h.s3.delete_object().bucket(&h.stack.curated_bucket).key(&state).send().await;
    let sm = aws_sdk_secretsmanager::Client::new(&h.functions.sdk);
    sm.create_secret().name(&secret).secret_string("mc-key-e2e").send().await.unwrap();

    let basic = "Basic bGFuZGZhbGw6bWMta2V5LWUyZQ=="; // landfall:mc-key-e2e
    for offset in ["0", "2"] {
        Mock::given(path("/3.0/campaigns"))
            .and(header("authorization", basic))
            .and(query_param("since_send_time", "2026-01-01T00:00:00+00:00"))
            .and(query_param("offset", offset))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(fixture(&format!("mailchimp/campaigns-{offset}.json"))),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    // The second run starts an hour (the lag) before the last send_time.
    Mock::given(path("/3.0/campaigns"))
        .and(query_param("since_send_time", "2026-02-17T08:00:00+00:00"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"campaigns": [], "total_items": 0})))
        .expect(1)
        .mount(&server)
        .await;

    let report = h.functions.fetch_api.run(&Payload { source: SOURCE.into(), start: None, end: None }).await.unwrap();
    assert_eq!((report.pages, report.records, report.keys.len()), (2, 3, 2));
    h.drain().await;

    for key in &report.keys {
        assert!(key.starts_with("e2e/fetch/mailchimp/dt="), "{key}");
        let head = h.s3.head_object().bucket(&h.stack.landing_bucket).key(key).send().await.unwrap();
        let meta = head.metadata().cloned().unwrap_or_default();
        assert_eq!(meta.get("source").map(String::as_str), Some(SOURCE), "{meta:?}");
        assert_eq!(meta.get("run-id"), Some(&report.run_id), "{meta:?}");
        let id = h.file_id(key, head.e_tag().unwrap_or_default().trim_matches('"'));
        let manifest = h.manifest(TABLE, &id).await.unwrap_or_else(|| panic!("no manifest for {key}"));
        assert_eq!(manifest.rejected_rows, 0, "{manifest:?}");
    }
    let ids = h.column(&format!("SELECT id FROM public.{TABLE} ORDER BY id")).await;
    assert_eq!(ids, vec!["42694e9e57", "9f1e2d3c4b", "b7c6d5e4f3"]);
    let subjects = h.column(&format!("SELECT settings__subject_line FROM public.{TABLE} ORDER BY id")).await;
    assert_eq!(subjects[0], "February news", "nested objects are flattened by parse-file");

    let stored: SourceState = serde_json::from_slice(&h.curated_bytes(&state).await.unwrap()).unwrap();
    assert_eq!(stored.cursor, Some(json!("2026-02-17T09:00:00+00:00")));
    assert_eq!(stored.last_run_id, report.run_id);

    let again = h.functions.fetch_api.run(&Payload { source: SOURCE.into(), start: None, end: None }).await.unwrap();
    assert_eq!(again.records, 0);
    h.drain().await;
    assert_eq!(h.scalar(&format!("SELECT count(*) FROM public.{TABLE}")).await, "3");
    let _ = sm.delete_secret().secret_id(&secret).force_delete_without_recovery(true).send().await;
}

/// moto 5.2.1 decides If-Match and If-None-Match on PutObject as S3 does
/// (checked by hand with boto3 and pinned here), so the state's conditional
/// write is tested against it, not only against the in-memory store.
#[tokio::test]
async fn conditional_puts_to_the_stacks_s3_refuse_a_second_create_and_a_stale_etag() {
    let h = Harness::start().await;
    let (bucket, key) = (h.stack.curated_bucket.clone(), "_state/e2e-conditional-probe.json".to_owned());
    let _ = h.s3.delete_object().bucket(&bucket).key(&key).send().await;
    let put = |body: &str, precondition| {
        let options =
            PutOptions { content_type: "application/json", metadata: vec![], precondition: Some(precondition) };
        h.store.put_with(&bucket, &key, body.as_bytes().to_vec(), options)
    };
    let first = put("1", Precondition::IfNoneMatch).await.unwrap().unwrap();
    assert!(matches!(put("0", Precondition::IfNoneMatch).await, Err(StorageError::PreconditionFailed { .. })));
    put("2", Precondition::IfMatch(first.clone())).await.unwrap();
    assert!(matches!(put("3", Precondition::IfMatch(first)).await, Err(StorageError::PreconditionFailed { .. })));
    assert_eq!(h.curated_bytes(&key).await.unwrap(), b"2");
}

#[tokio::test]
async fn of_two_overlapping_runs_on_the_stack_only_one_advances_the_cursor() {
    let server = MockServer::start().await;
    let yaml = format!(
        "feeds:\n  e2e_fetch_overlap:\n    prefix: e2e/fetch/overlap/\n    table: wh_fetch_overlap\nsources:\n  e2e_overlap:\n    feed: e2e_fetch_overlap\n    base_url: {}\n    records: items\n    cursor: {{ field: n }}\n",
        server.uri()
    );
    let h = Harness::start_with(Some(Config::from_yaml(&yaml, "overlap").unwrap())).await;
    h.reset_tables(&["wh_fetch_overlap"]).await;
    let state = state_key("e2e_overlap");
    let _ = h.s3.delete_object().bucket(&h.stack.curated_bucket).key(&state).send().await;
    // Slow pages: both runs read the (absent) state before either commits.
    Mock::given(path("/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [{"n": 1}, {"n": 2}]}))
                .set_delay(std::time::Duration::from_millis(500)),
        )
        .mount(&server)
        .await;
    let payload = Payload { source: "e2e_overlap".into(), start: None, end: None };
    let (a, b) = tokio::join!(h.functions.fetch_api.run(&payload), h.functions.fetch_api.run(&payload));
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("exactly one run must commit: {other:?}"),
    };
    assert!(matches!(lost, fetch_api::FetchError::Conflict { .. }), "{lost}");
    let stored: SourceState = serde_json::from_slice(&h.curated_bytes(&state).await.unwrap()).unwrap();
    assert_eq!((stored.last_run_id, stored.cursor), (won.run_id, Some(json!(2))));
    h.drain().await;
}
