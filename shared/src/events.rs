//! Event intake: every way an "object was created" notice reaches a function.
//!
//! Shapes understood, in any nesting the AWS services produce:
//! - an SQS batch whose message bodies are S3 notifications, S3 events
//!   forwarded by EventBridge, or either of those wrapped in an SNS envelope;
//! - a direct S3 invocation (`{"Records": [{"eventSource": "aws:s3", ...}]}`);
//! - an EventBridge "Object Created" event delivered straight to the function.
//!
//! Parsing is lenient about fields landfall does not need and strict about the
//! ones it does; nothing here panics on any input. Object keys arrive
//! URL-encoded (`+` for a space) and are decoded here, once.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// One object that was created and should be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub bucket: String,
    /// The decoded key, as the S3 API expects it.
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: Option<u64>,
    pub sequencer: Option<String>,
    pub event_time: Option<DateTime<Utc>>,
    /// e.g. `ObjectCreated:Put` (or the EventBridge `reason`, e.g. `PutObject`).
    pub event_name: String,
}

impl ObjectCreated {
    /// A plain `ObjectCreated:Put` of a key, with nothing else known (local
    /// tools and tests; events from S3 carry more).
    pub fn put(bucket: &str, key: &str) -> Self {
        ObjectCreated {
            bucket: bucket.into(),
            key: key.into(),
            version_id: None,
            etag: None,
            size: None,
            sequencer: None,
            event_time: None,
            event_name: "ObjectCreated:Put".into(),
        }
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// A record that is deliberately not processed, with the reason (logged and counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The `s3:TestEvent` S3 sends when a notification is configured.
    TestEvent,
    /// A removal, restore, replication or other non-create event.
    NotObjectCreated(String),
    /// A "folder" placeholder (`prefix/`) created by consoles.
    FolderMarker(String),
}

impl Skip {
    /// Low-cardinality label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Skip::TestEvent => "test_event",
            Skip::NotObjectCreated(_) => "not_object_created",
            Skip::FolderMarker(_) => "folder_marker",
        }
    }
}

/// What one notification body (or direct event) contains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notice {
    pub objects: Vec<ObjectCreated>,
    pub skipped: Vec<Skip>,
}

/// A body that is not any notification landfall understands. Never retried
/// into success, so an SQS message carrying it is failed and, after the
/// queue's receive count, parked in the dead-letter queue for a human.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("message body is not JSON: {0}")]
    NotJson(String),
    #[error("message body is not an S3, EventBridge or SNS notification (top-level keys: {0})")]
    UnknownShape(String),
    #[error("S3 record {index} is missing {field}")]
    MissingField { index: usize, field: &'static str },
    #[error("object key {key:?} is not valid percent-encoded UTF-8")]
    BadKeyEncoding { key: String },
    #[error("SNS envelopes nest deeper than {0} levels")]
    TooDeep(usize),
}

impl EventError {
    pub fn retryable(&self) -> bool {
        false
    }
}

/// Decodes an S3 event key: `+` is a space, then percent-decoding.
pub(crate) fn decode_key(raw: &str) -> Result<String, EventError> {
    let plus_as_space = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| EventError::BadKeyEncoding { key: raw.to_owned() })
}

/// Encodes a key as S3 writes it into an event (the inverse of
/// [`decode_key`]): unreserved characters and `/` as they are, a space as
/// `+`, everything else percent-encoded as UTF-8.
pub(crate) fn encode_key(key: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
    utf8_percent_encode(key, KEEP).to_string().replace("%20", "+")
}

/// An S3 event notification for these objects, as S3 would send it to a
/// queue: what `landfall replay` sends so that a re-run goes the same way
/// as the first delivery.
pub fn notification(objects: &[ObjectCreated]) -> String {
    let records: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut object = serde_json::json!({ "key": encode_key(&o.key) });
            if let Some(size) = o.size {
                object["size"] = size.into();
            }
            if let Some(etag) = &o.etag {
                object["eTag"] = etag.clone().into();
            }
            if let Some(v) = &o.version_id {
                object["versionId"] = v.clone().into();
            }
            if let Some(seq) = &o.sequencer {
                object["sequencer"] = seq.clone().into();
            }
            let mut record = serde_json::json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": o.event_name,
                "s3": { "s3SchemaVersion": "1.0", "bucket": { "name": o.bucket }, "object": object },
            });
            if let Some(t) = o.event_time {
                record["eventTime"] = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).into();
            }
            record
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

// Lenient views of the notification shapes: only what landfall needs.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    #[serde(default)]
    event_source: Option<String>,
    #[serde(default)]
    event_name: Option<String>,
    #[serde(default)]
    event_time: Option<String>,
    s3: Option<S3Entity>,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Option<NamedBucket>,
    object: Option<S3Object>,
}

#[derive(Deserialize)]
struct NamedBucket {
    name: Option<String>,
}

#[derive(Deserialize)]
struct S3Object {
    key: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, rename = "eTag")]
    etag: Option<String>,
    #[serde(default, rename = "versionId")]
    version_id: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

#[derive(Deserialize)]
struct EventBridgeS3 {
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    time: Option<String>,
    detail: EventBridgeDetail,
}

#[derive(Deserialize)]
struct EventBridgeDetail {
    bucket: Option<NamedBucket>,
    object: Option<EventBridgeObject>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct EventBridgeObject {
    key: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default, rename = "version-id")]
    version_id: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

const MAX_ENVELOPES: usize = 4;

/// Parses one SQS message body (or any notification document).
pub(crate) fn parse_body(body: &str) -> Result<Notice, EventError> {
    let value: Value = serde_json::from_str(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    parse_value(&value, 0)
}

/// Parses a notification already decoded as JSON.
pub(crate) fn parse_value(value: &Value, depth: usize) -> Result<Notice, EventError> {
    if depth > MAX_ENVELOPES {
        return Err(EventError::TooDeep(MAX_ENVELOPES));
    }
    let obj = value.as_object().ok_or_else(|| EventError::UnknownShape(describe_non_object(value)))?;

    if obj.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notice { objects: vec![], skipped: vec![Skip::TestEvent] });
    }
    if obj.contains_key("Records") {
        return parse_s3_records(value);
    }
    if obj.get("source").and_then(Value::as_str) == Some("aws.s3") && obj.contains_key("detail") {
        return parse_eventbridge(value);
    }
    // SNS envelope (S3 -> SNS -> SQS without raw message delivery).
    if obj.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(message) = obj.get("Message").and_then(Value::as_str)
    {
        let inner: Value =
            serde_json::from_str(message).map_err(|e| EventError::NotJson(format!("SNS Message: {e}")))?;
        return parse_value(&inner, depth + 1);
    }
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).take(8).collect();
    keys.sort_unstable();
    Err(EventError::UnknownShape(keys.join(", ")))
}

fn describe_non_object(value: &Value) -> String {
    match value {
        Value::Array(_) => "an array".into(),
        Value::String(_) => "a string".into(),
        Value::Number(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Null => "null".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The object fields both notification shapes carry, validated once.
struct ObjectFields {
    bucket: Option<String>,
    key: Option<String>,
    size: Option<u64>,
    etag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

/// Names of the fields in the shape at hand, for error messages.
struct FieldNames {
    index: usize,
    bucket: &'static str,
    key: &'static str,
}

fn object_created(
    fields: ObjectFields,
    names: FieldNames,
    event_time: Option<&str>,
    event_name: String,
) -> Result<Result<ObjectCreated, Skip>, EventError> {
    let index = names.index;
    let bucket =
        fields.bucket.filter(|n| !n.is_empty()).ok_or(EventError::MissingField { index, field: names.bucket })?;
    let raw_key = fields.key.filter(|k| !k.is_empty()).ok_or(EventError::MissingField { index, field: names.key })?;
    let key = decode_key(&raw_key)?;
    if key.ends_with('/') && fields.size.unwrap_or(0) == 0 {
        return Ok(Err(Skip::FolderMarker(key)));
    }
    Ok(Ok(ObjectCreated {
        bucket,
        key,
        // S3 says "null" for objects written before versioning was enabled.
        version_id: fields.version_id.filter(|v| !v.is_empty() && v != "null"),
        etag: fields.etag.map(|e| e.trim_matches('"').to_owned()),
        size: fields.size,
        sequencer: fields.sequencer,
        event_time: parse_time(event_time),
        event_name,
    }))
}

fn parse_time(raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

fn parse_s3_records(value: &Value) -> Result<Notice, EventError> {
    // Deserialised straight from the parsed body (`&Value` is a deserializer), no copies.
    let records = value
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| EventError::UnknownShape("Records: not an array".into()))?;
    let mut notice = Notice::default();
    for (index, raw) in records.iter().enumerate() {
        let record = S3Record::deserialize(raw)
            .map_err(|_| EventError::MissingField { index, field: "a well-formed record" })?;
        if let Some(source) = record.event_source.as_deref()
            && source != "aws:s3"
        {
            return Err(EventError::UnknownShape(format!(
                "record {index} has eventSource {source:?} (an SQS batch passed where a message body was expected?)"
            )));
        }
        let event_name = record.event_name.unwrap_or_default();
        // S3 notifications say "ObjectCreated:Put"; some emulators prefix "s3:".
        let bare_name = event_name.strip_prefix("s3:").unwrap_or(&event_name);
        if !bare_name.starts_with("ObjectCreated:") {
            notice.skipped.push(Skip::NotObjectCreated(event_name));
            continue;
        }
        let s3 = record.s3.ok_or(EventError::MissingField { index, field: "s3" })?;
        let object = s3.object.ok_or(EventError::MissingField { index, field: "s3.object" })?;
        let fields = ObjectFields {
            bucket: s3.bucket.and_then(|b| b.name),
            key: object.key,
            size: object.size,
            etag: object.etag,
            version_id: object.version_id,
            sequencer: object.sequencer,
        };
        let names = FieldNames { index, bucket: "s3.bucket.name", key: "s3.object.key" };
        match object_created(fields, names, record.event_time.as_deref(), bare_name.to_owned())? {
            Ok(created) => notice.objects.push(created),
            Err(skip) => notice.skipped.push(skip),
        }
    }
    Ok(notice)
}

fn parse_eventbridge(value: &Value) -> Result<Notice, EventError> {
    let event = EventBridgeS3::deserialize(value).map_err(|e| EventError::UnknownShape(format!("EventBridge: {e}")))?;
    if event.detail_type != "Object Created" {
        return Ok(Notice { objects: vec![], skipped: vec![Skip::NotObjectCreated(event.detail_type)] });
    }
    let object = event.detail.object.ok_or(EventError::MissingField { index: 0, field: "detail.object" })?;
    let fields = ObjectFields {
        bucket: event.detail.bucket.and_then(|b| b.name),
        key: object.key,
        size: object.size,
        etag: object.etag,
        version_id: object.version_id,
        sequencer: object.sequencer,
    };
    let names = FieldNames { index: 0, bucket: "detail.bucket.name", key: "detail.object.key" };
    let event_name = event.detail.reason.unwrap_or_else(|| "Object Created".into());
    Ok(match object_created(fields, names, event.time.as_deref(), event_name)? {
        Ok(created) => Notice { objects: vec![created], skipped: vec![] },
        Err(skip) => Notice { objects: vec![], skipped: vec![skip] },
    })
}

/// The event a function was invoked with, classified.
#[derive(Debug)]
pub enum Invocation {
    /// An SQS batch: answer with an `SqsBatchResponse`.
    Sqs(SqsEvent),
    /// A direct S3 or EventBridge invocation: already parsed.
    Direct(Notice),
}

/// Classifies a raw Lambda payload.
pub fn classify(payload: Value) -> Result<Invocation, EventError> {
    let is_sqs = payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs");
    if is_sqs {
        let event: SqsEvent =
            serde_json::from_value(payload).map_err(|e| EventError::UnknownShape(format!("SQS event: {e}")))?;
        return Ok(Invocation::Sqs(event));
    }
    parse_value(&payload, 0).map(Invocation::Direct)
}

/// The message id to report in `batchItemFailures`. Lambda always sets it;
/// a message without one cannot be reported, so the caller fails the whole
/// invocation instead (the safe direction: the batch is retried).
pub fn message_id(message: &SqsMessage) -> Option<&str> {
    message.message_id.as_deref().filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn decode_key_turns_plus_into_space_and_percent_escapes_into_utf8() {
        assert_eq!(decode_key("drop/My+File%281%29.csv").unwrap(), "drop/My File(1).csv");
        assert_eq!(decode_key("caf%C3%A9%2B1.csv").unwrap(), "café+1.csv");
        assert_eq!(decode_key("dt%3D2026-11-01/a.csv").unwrap(), "dt=2026-11-01/a.csv");
    }

    #[test]
    fn an_encoded_key_decodes_back_to_itself() {
        for key in ["drop/My File(1).csv", "café+1.csv", "dt=2026-11-01/a b/c%d.json", "partner/ü ñ 100%.csv"] {
            assert_eq!(decode_key(&encode_key(key)).unwrap(), key);
        }
        assert_eq!(encode_key("a b/c+d.csv"), "a+b/c%2Bd.csv");
    }

    #[test]
    fn a_notification_built_here_parses_back_to_the_same_objects() {
        let mut o = ObjectCreated::put("landing", "orders/2026 11/a+b.csv");
        o.etag = Some("abc".into());
        o.size = Some(42);
        o.event_time = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").ok().map(|t| t.to_utc());
        let notice = parse_body(&notification(std::slice::from_ref(&o))).unwrap();
        assert_eq!(notice.objects, vec![o]);
    }

    #[test]
    fn decode_key_refuses_percent_escapes_that_are_not_utf8() {
        assert!(matches!(decode_key("bad%FF.csv"), Err(EventError::BadKeyEncoding { .. })));
    }

    #[test]
    fn s3_notification_yields_decoded_object() {
        let notice = parse_body(&fixture("s3-notification.json")).unwrap();
        assert_eq!(notice.objects.len(), 1);
        let o = &notice.objects[0];
        assert_eq!(o.bucket, "landfall-local-landing");
        assert_eq!(o.key, "orders/2026 11/Bestellungen Zürich.csv");
        assert_eq!(o.etag.as_deref(), Some("0123456789abcdef0123456789abcdef"));
        assert_eq!(o.version_id.as_deref(), Some("3HL4kqtJlcpXroDTDmJ"));
        assert_eq!(o.size, Some(1024));
        assert_eq!(o.event_name, "ObjectCreated:Put");
        assert!(o.event_time.is_some());
    }

    #[test]
    fn test_event_is_skipped() {
        let notice = parse_body(&fixture("s3-test-event.json")).unwrap();
        assert!(notice.objects.is_empty());
        assert_eq!(notice.skipped, vec![Skip::TestEvent]);
    }

    #[test]
    fn removal_records_are_skipped_and_created_ones_kept() {
        let notice = parse_body(&fixture("s3-notification-mixed.json")).unwrap();
        assert_eq!(notice.objects.len(), 1);
        assert_eq!(notice.skipped, vec![Skip::NotObjectCreated("ObjectRemoved:Delete".into())]);
    }

    #[test]
    fn eventbridge_object_created_is_understood() {
        let notice = parse_body(&fixture("eventbridge-object-created.json")).unwrap();
        let o = &notice.objects[0];
        assert_eq!(o.bucket, "landfall-local-landing");
        assert_eq!(o.key, "clicks/day one.jsonl");
        assert_eq!(o.version_id.as_deref(), Some("Wmkyfa9cgl5J6ReN"));
        assert_eq!(o.event_name, "PutObject");
    }

    #[test]
    fn eventbridge_object_deleted_is_skipped() {
        let body = r#"{"source":"aws.s3","detail-type":"Object Deleted","detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}"#;
        let notice = parse_body(body).unwrap();
        assert_eq!(notice.skipped, vec![Skip::NotObjectCreated("Object Deleted".into())]);
    }

    #[test]
    fn sns_envelope_is_unwrapped() {
        let notice = parse_body(&fixture("sns-wrapped-s3-notification.json")).unwrap();
        assert_eq!(notice.objects[0].key, "orders/a b.csv");
    }

    #[test]
    fn folder_markers_are_skipped() {
        let body = r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"orders%2F","size":0}}}]}"#;
        let notice = parse_body(body).unwrap();
        assert_eq!(notice.skipped, vec![Skip::FolderMarker("orders/".into())]);
    }

    #[test]
    fn sqs_batch_fixture_is_classified_as_sqs_with_every_message() {
        let payload: Value = serde_json::from_str(&fixture("sqs-batch.json")).unwrap();
        let Invocation::Sqs(event) = classify(payload).unwrap() else { panic!("expected SQS") };
        assert_eq!(event.records.len(), 3);
        let bodies: Vec<_> = event.records.iter().map(|m| parse_body(m.body.as_deref().unwrap_or(""))).collect();
        assert!(bodies[0].as_ref().unwrap().objects.len() == 1);
        assert_eq!(bodies[1].as_ref().unwrap().skipped, vec![Skip::TestEvent]);
        assert!(bodies[2].is_err(), "the garbage message must fail on its own");
    }

    #[test]
    fn direct_s3_invocation_is_classified_as_direct() {
        let payload: Value = serde_json::from_str(&fixture("s3-notification.json")).unwrap();
        let Invocation::Direct(notice) = classify(payload).unwrap() else { panic!("expected direct") };
        assert_eq!(notice.objects.len(), 1);
    }

    #[test]
    fn direct_eventbridge_invocation_is_classified_as_direct() {
        let payload: Value = serde_json::from_str(&fixture("eventbridge-object-created.json")).unwrap();
        assert!(matches!(classify(payload).unwrap(), Invocation::Direct(_)));
    }

    #[test]
    fn hostile_bodies_are_errors_not_panics() {
        for body in [
            "",
            "null",
            "[]",
            "42",
            "\"x\"",
            "{}",
            r#"{"Records":null}"#,
            r#"{"Records":[null]}"#,
            r#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#,
            r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{},"object":{"key":"a"}}}]}"#,
            r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":""}}}]}"#,
            r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a","size":-1}}}]}"#,
            r#"{"source":"aws.s3","detail-type":"Object Created","detail":{}}"#,
            r#"{"Type":"Notification","Message":"not json"}"#,
            r#"{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"{\\\"Type\\\":\\\"Notification\\\",\\\"Message\\\":\\\"{}\\\"}\"}"}"#,
        ] {
            assert!(parse_body(body).is_err(), "{body} should be refused");
        }
    }

    #[test]
    fn deeply_nested_body_is_refused_without_overflowing_the_stack() {
        let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(parse_body(&body), Err(EventError::NotJson(_))));
    }
}

/// Events as S3 and Lambda send them, for handler tests and local tools.
pub mod fixtures {
    use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
    use serde_json::json;

    /// An S3 `ObjectCreated:Put` notification for one object.
    pub fn s3_notification(bucket: &str, key: &str) -> String {
        json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": "2026-11-22T10:00:00Z",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}}}]})
        .to_string()
    }

    /// An SQS batch of these bodies, message ids `m0`, `m1`, ...
    pub fn sqs_event<S: AsRef<str>>(bodies: &[S]) -> SqsEvent {
        let records: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| json!({"messageId": format!("m{i}"), "receiptHandle": "r", "body": b.as_ref(), "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}}))
            .collect();
        serde_json::from_value(json!({ "Records": records })).unwrap_or_default()
    }

    /// The message ids a batch response reports as failed.
    pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
        response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
    }
}
