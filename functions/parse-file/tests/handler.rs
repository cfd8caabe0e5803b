//! The handler's batch semantics, against an in-memory object store that can
//! inject faults moto cannot produce on demand (throttling mid-batch, a body
//! stream cut off mid-file). The same behaviours run against moto in
//! tests/tests/parse_file.rs.

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use landfall::config::Config;
use landfall::events::ObjectCreated;
use landfall::manifest::{FileStatus, Manifest};
use landfall::record::SourceReadError;
use landfall::storage::{ObjectBody, ObjectMeta, ObjectStore, StorageError, Version};
use landfall::telemetry::Metrics;
use parse_file::{Outcome, ParseFile, Settings};
use serde_json::json;
use tokio::io::AsyncRead;

#[derive(Clone, Copy, Debug)]
enum Fault {
    Throttle,
    Denied,
    /// The body stream fails after this many bytes.
    CutAfter(usize),
}

#[derive(Default)]
struct MemoryStore {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    faults: Mutex<BTreeMap<String, Fault>>,
}

impl MemoryStore {
    fn insert(&self, bucket: &str, key: &str, body: &[u8]) {
        self.objects.lock().unwrap().insert((bucket.into(), key.into()), body.to_vec());
    }
    fn fault(&self, key: &str, fault: Fault) {
        self.faults.lock().unwrap().insert(key.into(), fault);
    }
    fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let objects = self.objects.lock().unwrap();
        objects.keys().filter(|(b, k)| b == bucket && k.starts_with(prefix)).map(|(_, k)| k.clone()).collect()
    }
    fn read(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(&(bucket.into(), key.into())).cloned()
    }
}

struct CutReader {
    data: std::io::Cursor<Vec<u8>>,
    limit: usize,
}

impl AsyncRead for CutReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::io::Read;
        let pos = self.data.position() as usize;
        if pos >= self.limit {
            return std::task::Poll::Ready(Err(SourceReadError::io("connection reset by peer")));
        }
        let want = buf.remaining().min(self.limit - pos);
        let mut tmp = vec![0u8; want];
        let n = self.data.read(&mut tmp)?;
        buf.put_slice(&tmp[..n]);
        std::task::Poll::Ready(Ok(()))
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn get(&self, bucket: &str, key: &str, _version: Version<'_>) -> Result<ObjectBody, StorageError> {
        let fault = self.faults.lock().unwrap().get(key).copied();
        match fault {
            Some(Fault::Throttle) => {
                return Err(StorageError::Request {
                    operation: "GetObject",
                    bucket: bucket.into(),
                    key: key.into(),
                    message: "SlowDown: please reduce your request rate".into(),
                    retryable: true,
                });
            }
            Some(Fault::Denied) => {
                return Err(StorageError::AccessDenied {
                    bucket: bucket.into(),
                    key: key.into(),
                    message: "no".into(),
                });
            }
            _ => {}
        }
        let data = self.read(bucket, key).ok_or(StorageError::NotFound { bucket: bucket.into(), key: key.into() })?;
        let meta = ObjectMeta { size: data.len() as u64, etag: Some(format!("etag-{}", data.len())), version_id: None };
        let limit = match fault {
            Some(Fault::CutAfter(n)) => n,
            _ => usize::MAX,
        };
        Ok(ObjectBody { meta, reader: Box::pin(CutReader { data: std::io::Cursor::new(data), limit }) })
    }

    async fn put_bytes(&self, bucket: &str, key: &str, body: Vec<u8>, _ct: &str) -> Result<(), StorageError> {
        self.insert(bucket, key, &body);
        Ok(())
    }

    async fn put_file(&self, bucket: &str, key: &str, path: &Path, _ct: &str) -> Result<(), StorageError> {
        let body =
            std::fs::read(path).map_err(|source| StorageError::Local { path: path.display().to_string(), source })?;
        self.insert(bucket, key, &body);
        Ok(())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        Ok(self.keys(bucket, prefix).into_iter().map(|k| (k, 0)).collect())
    }
}

const CONFIG: &str = "feeds:\n  clicks:\n    prefix: clicks/\n    partition_column: day\n";
const CSV: &[u8] = b"day,n\n2026-11-01,1\n2026-11-02,2\n";

fn handler(store: Arc<MemoryStore>) -> (ParseFile, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_yaml(CONFIG, "test").unwrap();
    let settings = Settings { curated_bucket: "curated".into(), work_dir: dir.path().to_path_buf() };
    (ParseFile::new(store, Arc::new(config), settings, Metrics::new("test")), dir)
}

fn notification(key: &str) -> String {
    json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": "2026-11-22T10:00:00Z",
        "s3": {"bucket": {"name": "landing"}, "object": {"key": key, "size": 1}}}]})
    .to_string()
}

fn sqs_event(bodies: &[&str]) -> SqsEvent {
    let records: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"messageId": format!("m{i}"), "receiptHandle": "r", "body": b, "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

fn object(key: &str) -> ObjectCreated {
    ObjectCreated {
        bucket: "landing".into(),
        key: key.into(),
        version_id: None,
        etag: None,
        size: None,
        sequencer: None,
        event_time: None,
        event_name: "ObjectCreated:Put".into(),
    }
}

#[tokio::test]
async fn one_bad_message_fails_only_itself() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    store.insert("landing", "clicks/b.csv", CSV);
    let (h, _dir) = handler(Arc::clone(&store));
    let a = notification("clicks/a.csv");
    let b = notification("clicks/b.csv");
    let response = h.handle_sqs(sqs_event(&[&a, "garbage", &b])).await;
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
    let response = h.handle_sqs(sqs_event(&[&notification("clicks/slow.csv"), &notification("clicks/ok.csv")])).await;
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
    assert!(err.fails_message(), "{err}");
    assert!(store.keys("curated", "_manifests/").is_empty(), "no manifest for an incomplete read");
    assert!(store.keys("curated", "_rejects/").is_empty(), "a transport fault is not bad data");
}

#[tokio::test]
async fn access_denied_fails_the_message_so_an_operator_sees_it() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/x.csv", CSV);
    store.fault("clicks/x.csv", Fault::Denied);
    let (h, _dir) = handler(store);
    let response = h.handle_sqs(sqs_event(&[&notification("clicks/x.csv")])).await;
    assert_eq!(failed_ids(&response), vec!["m0"]);
}

#[tokio::test]
async fn an_object_deleted_before_processing_succeeds_as_missing() {
    let store = Arc::new(MemoryStore::default());
    let (h, _dir) = handler(store);
    assert_eq!(h.process(&object("clicks/gone.csv")).await.unwrap(), Outcome::Missing);
    assert_eq!(h.metrics().get("files_processed", &[("outcome", "missing")]), 1);
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
    let payload: serde_json::Value = serde_json::from_str(&notification("clicks/a.csv")).unwrap();
    let out = h.handle(payload).await.unwrap();
    assert_eq!(out["outcomes"][0], "parsed");
}

#[tokio::test]
async fn a_direct_invocation_with_a_transient_fault_errors_so_lambda_retries() {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "clicks/a.csv", CSV);
    store.fault("clicks/a.csv", Fault::Throttle);
    let (h, _dir) = handler(store);
    let payload: serde_json::Value = serde_json::from_str(&notification("clicks/a.csv")).unwrap();
    assert!(h.handle(payload).await.is_err());
}

#[tokio::test]
async fn any_sqs_body_is_answered_without_panicking() {
    let store = Arc::new(MemoryStore::default());
    let (h, _dir) = handler(store);
    let base = notification("clicks/a.csv");
    let mut bodies: Vec<String> = (0..base.len()).step_by(7).map(|i| base[..i].to_owned()).collect();
    bodies.push(base.replace("ObjectCreated", "ObjectRemoved"));
    bodies.push(base.replace("\"landing\"", "1"));
    bodies.push(base.replace("clicks/a.csv", "%ZZ"));
    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let response = h.handle_sqs(sqs_event(&refs)).await;
    assert!(response.batch_item_failures.len() <= refs.len());
}
