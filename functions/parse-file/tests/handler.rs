//! The handler's batch semantics, against an in-memory object store that can
//! inject faults moto cannot produce on demand (throttling mid-batch, a body
//! stream cut off mid-file). The same behaviours run against moto in
//! tests/tests/parse_file.rs.

use std::sync::Arc;

use landfall::config::Config;
use landfall::events::ObjectCreated;
use landfall::events::fixtures::{failed_ids, s3_notification, sqs_event};
use landfall::lambda::Deadline;
use landfall::manifest::{FileStatus, Manifest};
use landfall::parse_failures;
use landfall::pipeline::NoticeHandler;
use landfall::storage::memory::{Fault, MemoryStore};
use landfall::storage::{ObjectStore, Version};
use landfall::telemetry::Metrics;
use landfall::threads::Threads;
use parse_file::{Outcome, ParseFile, Settings};

const CONFIG: &str = "feeds:\n  clicks:\n    prefix: clicks/\n    partition_column: day\n";
const CSV: &[u8] = b"day,n\n2026-11-01,1\n2026-11-02,2\n";

fn handler(store: Arc<MemoryStore>) -> (ParseFile, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_yaml(CONFIG, "test").unwrap();
    let settings =
        Settings { curated_bucket: "curated".into(), work_dir: dir.path().to_path_buf(), threads: Threads::Two };
    (ParseFile::new(store, Arc::new(config), settings, Metrics::new("test")), dir)
}

fn object(key: &str) -> ObjectCreated {
    ObjectCreated::put("landing", key)
}

#[tokio::test]
async fn one_bad_message_fails_only_itself() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    store.insert("landing", "clicks/b.csv", CSV);
    let (h, _dir) = handler(Arc::clone(&store));
    let a = s3_notification("landing", "clicks/a.csv");
    let b = s3_notification("landing", "clicks/b.csv");
    let response = h.handle_sqs(sqs_event(&[&a, "garbage", &b]), Deadline::never()).await;
    assert_eq!(failed_ids(&response), vec!["m1"]);
    assert_eq!(store.keys("curated", "_manifests/clicks/").len(), 2);
}

#[tokio::test]
async fn throttling_fails_the_message_for_a_retry_and_leaves_no_manifest() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/slow.csv", CSV);
    store.insert("landing", "clicks/ok.csv", CSV);
    store.fault("clicks/slow.csv", Fault::Throttle);
    let (h, _dir) = handler(Arc::clone(&store));
    let response = h
        .handle_sqs(
            sqs_event(&[&s3_notification("landing", "clicks/slow.csv"), &s3_notification("landing", "clicks/ok.csv")]),
            Deadline::never(),
        )
        .await;
    assert_eq!(failed_ids(&response), vec!["m0"]);
    assert_eq!(store.keys("curated", "_manifests/").len(), 1);
}

#[tokio::test]
async fn a_stream_cut_mid_file_is_retried_not_recorded_as_bad_data() {
    let store = Arc::new(MemoryStore::default());
    let mut big = b"day,n\n".to_vec();
    for i in 0..50_000 {
        big.extend_from_slice(format!("2026-11-01,{i}\n").as_bytes());
    }
    store.insert("landing", "clicks/big.csv", &big);
    store.fault("clicks/big.csv", Fault::CutAfter(300_000));
    let (h, _dir) = handler(Arc::clone(&store));
    let err = h.process(&object("clicks/big.csv")).await.unwrap_err();
    assert!(err.disposition().fails_message(), "{err}");
    assert!(store.keys("curated", "_manifests/").is_empty(), "no manifest for an incomplete read");
    assert!(store.keys("curated", "_rejects/").is_empty(), "a transport fault is not bad data");
}

#[tokio::test]
async fn access_denied_fails_the_message_so_an_operator_sees_it() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/x.csv", CSV);
    store.fault("clicks/x.csv", Fault::Denied);
    let (h, _dir) = handler(store);
    let response = h.handle_sqs(sqs_event(&[&s3_notification("landing", "clicks/x.csv")]), Deadline::never()).await;
    assert_eq!(failed_ids(&response), vec!["m0"]);
}

/// Neither a retried message nor a dead letter keeps its error: the file's
/// last error and how many deliveries failed stay in `_failures/`.
#[tokio::test]
async fn each_failed_delivery_leaves_the_files_error_and_attempts_where_landfall_file_reads_them() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/x.csv", CSV);
    store.fault("clicks/x.csv", Fault::Denied);
    let (h, _dir) = handler(Arc::clone(&store));
    for _ in 0..2 {
        h.handle_sqs(sqs_event(&[&s3_notification("landing", "clicks/x.csv")]), Deadline::never()).await;
    }
    let keys = store.keys("curated", "_failures/clicks/");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let file_id = keys[0].trim_start_matches("_failures/clicks/").trim_end_matches(".json");
    let failure = parse_failures::read(store.as_ref(), "curated", "clicks", file_id).await.unwrap().unwrap();
    assert_eq!((failure.attempts, failure.disposition.as_str()), (2, "dead_letter"));
    assert!(failure.error.contains("denied") && failure.source_url == "s3://landing/clicks/x.csv", "{failure:?}");
    assert_eq!(parse_failures::stuck_per_feed(store.as_ref(), "curated").await.unwrap().get("clicks"), Some(&1));
}

/// The fault at the AWS edge that once lost a file: an answer the SDK cannot
/// read is not retryable, and it must not be taken for a recorded outcome.
#[tokio::test]
async fn a_manifest_that_cannot_be_stored_fails_the_message_for_the_dlq() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    store.fault("_manifests/", Fault::RejectPuts);
    let (h, _dir) = handler(Arc::clone(&store));
    let response = h.handle_sqs(sqs_event(&[&s3_notification("landing", "clicks/a.csv")]), Deadline::never()).await;
    assert_eq!(failed_ids(&response), vec!["m0"]);
    assert_eq!(
        h.metrics().get(landfall::telemetry::catalog::MESSAGES_FAILED.name, &[("disposition", "dead_letter")]),
        1
    );
}

#[tokio::test]
async fn a_part_that_cannot_be_stored_fails_the_message_and_is_not_recorded_as_bad_data() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    store.fault("tables/", Fault::RejectPuts);
    let (h, _dir) = handler(Arc::clone(&store));
    let response = h.handle_sqs(sqs_event(&[&s3_notification("landing", "clicks/a.csv")]), Deadline::never()).await;
    assert_eq!(failed_ids(&response), vec!["m0"]);
    assert!(store.keys("curated", "_manifests/").is_empty(), "no manifest records a failed file");
    assert!(store.keys("curated", "_rejects/").is_empty(), "a storage fault is not bad data");
}

#[tokio::test]
async fn a_conversion_that_fails_midway_leaves_no_part_where_readers_look() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    let etag = store.get("landing", "clicks/a.csv", Version::default()).await.unwrap().meta.etag;
    let file_id = landfall::layout::file_id("landing", "clicks/a.csv", etag.as_deref(), None);
    // The first day's part is stored, the second day's is not.
    store.fault(&format!("_staging/clicks/{file_id}/dt=2026-11-02/"), Fault::RejectPuts);
    let (h, _dir) = handler(Arc::clone(&store));
    assert!(h.process(&object("clicks/a.csv")).await.is_err());
    assert_eq!(store.keys("curated", "tables/"), Vec::<String>::new(), "Glue and Athena read all of tables/");
    assert_eq!(store.keys("curated", "_staging/"), Vec::<String>::new(), "what the attempt staged is removed");
}

#[tokio::test]
async fn an_object_deleted_before_processing_succeeds_as_missing() {
    let store = Arc::new(MemoryStore::default());
    let (h, _dir) = handler(store);
    assert_eq!(h.process(&object("clicks/gone.csv")).await.unwrap(), Outcome::Missing);
    assert_eq!(h.metrics().get(landfall::telemetry::catalog::FILES_PROCESSED.name, &[("outcome", "missing")]), 1);
}

#[tokio::test]
async fn the_manifest_is_written_last_and_lists_every_part() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    let (h, _dir) = handler(Arc::clone(&store));
    let Outcome::Written { manifest_key, .. } = h.process(&object("clicks/a.csv")).await.unwrap() else {
        panic!("expected a manifest")
    };
    let m = Manifest::from_json(&store.read("curated", &manifest_key).unwrap()).unwrap();
    assert_eq!(m.status, FileStatus::Parsed);
    assert_eq!(m.parts.len(), 2);
    for part in &m.parts {
        assert!(store.read("curated", &part.key).is_some(), "{} listed but missing", part.key);
    }
    let mut parts = store.keys("curated", "tables/");
    parts.sort();
    assert_eq!(parts, m.parts.iter().map(|p| p.key.clone()).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_direct_s3_invocation_is_processed_and_answered() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    let (h, _dir) = handler(store);
    let payload: serde_json::Value = serde_json::from_str(&s3_notification("landing", "clicks/a.csv")).unwrap();
    let out = h.handle(payload, Deadline::never()).await.unwrap();
    assert_eq!(out["outcomes"][0], "parsed");
}

#[tokio::test]
async fn a_direct_invocation_with_a_transient_fault_errors_so_lambda_retries() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    store.fault("clicks/a.csv", Fault::Throttle);
    let (h, _dir) = handler(store);
    let payload: serde_json::Value = serde_json::from_str(&s3_notification("landing", "clicks/a.csv")).unwrap();
    assert!(h.handle(payload, Deadline::never()).await.is_err());
}

#[tokio::test]
async fn any_sqs_body_is_answered_without_panicking() {
    let store = Arc::new(MemoryStore::default());
    let (h, _dir) = handler(store);
    let base = s3_notification("landing", "clicks/a.csv");
    let mut bodies: Vec<String> = (0..base.len()).step_by(7).map(|i| base[..i].to_owned()).collect();
    bodies.push(base.replace("ObjectCreated", "ObjectRemoved"));
    bodies.push(base.replace("\"landing\"", "1"));
    bodies.push(base.replace("clicks/a.csv", "%ZZ"));
    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let response = h.handle_sqs(sqs_event(&refs), Deadline::never()).await;
    assert!(response.batch_item_failures.len() <= refs.len());
}

#[tokio::test]
async fn messages_not_started_before_the_deadline_margin_come_back_untouched() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    let (h, _dir) = handler(Arc::clone(&store));
    let soon = landfall::lambda::Deadline::after(parse_file::DEADLINE_MARGIN / 2);
    let response = h.handle_sqs(sqs_event(&[&s3_notification("landing", "clicks/a.csv")]), soon).await;
    assert_eq!(failed_ids(&response), vec!["m0"]);
    assert!(store.keys("curated", "_manifests/").is_empty(), "the file was not parsed");
    assert_eq!(h.metrics().get(landfall::telemetry::catalog::MESSAGES_DEFERRED.name, &[("reason", "deadline")]), 1);
}
