//! parse-file end to end: objects put into the landing bucket of the local
//! stack, S3 notifications delivered by moto to the SQS queue the Terraform
//! root module created, the pump invoking the handler as the Lambda event
//! source mapping would, and the curated bucket read back.
//!
//! Needs the local stack: `infra/stack up` (the README's test command does it).

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use landfall::layout;
use landfall::manifest::FileStatus;
use landfall::rejects::RejectKind;
use landfall_tests::{Harness, column_names, total_rows};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a dyn Array {
    batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name} in {:?}", column_names(batch))).as_ref()
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = column(b, name).as_string::<i32>();
            (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_owned())).collect::<Vec<_>>()
        })
        .collect()
}

fn type_of(m: &landfall::manifest::Manifest, column: &str) -> String {
    m.schema
        .iter()
        .find(|c| c.name == column)
        .map(|c| c.data_type.to_string())
        .unwrap_or_else(|| panic!("no column {column} in {:?}", m.schema.iter().map(|c| &c.name).collect::<Vec<_>>()))
}

const CLICKS_CSV: &str = "Datum,Partner-ID,Klicks,Kosten,Aktiv\n\
2026-11-01,p001-1,120,45.50,true\n\
2026-11-01,p002-3,87,12.00,false\n\
2026-11-02,p001-1,143,51.20,true\n";

#[tokio::test]
async fn csv_becomes_typed_parquet_partitioned_by_its_date_column() {
    let h = Harness::start().await;
    let m = h.ingest("partners/e2e/plain.csv", "partner_clicks", CLICKS_CSV).await;

    assert_eq!(m.status, FileStatus::Parsed);
    assert_eq!((m.rows, m.rejected_rows), (3, 0));
    assert_eq!(type_of(&m, "datum"), "date");
    assert_eq!(type_of(&m, "partner_id"), "string");
    assert_eq!(type_of(&m, "klicks"), "int64");
    assert_eq!(type_of(&m, "kosten"), "decimal(18,2)", "inferred decimals get headroom so later rows do not widen");
    assert_eq!(type_of(&m, "aktiv"), "boolean");
    let dts: Vec<&str> = m.parts.iter().map(|p| p.dt.as_str()).collect();
    assert_eq!(dts, vec!["2026-11-01", "2026-11-02"]);
    for part in &m.parts {
        assert!(part.key.starts_with(&format!("tables/partner_clicks/dt={}/{}-", part.dt, m.file_id)), "{}", part.key);
        assert!(part.key.ends_with(".parquet"));
    }

    let batches = h.read_parts(&m).await;
    assert_eq!(total_rows(&batches), 3);
    let url = format!("s3://{}/partners/e2e/plain.csv", h.stack.landing_bucket);
    assert!(strings(&batches, "_landfall_file").iter().all(|f| f.as_deref() == Some(url.as_str())));
    let lines: Vec<i64> =
        batches.iter().flat_map(|b| column(b, "_landfall_row").as_primitive::<Int64Type>().values().to_vec()).collect();
    assert_eq!(lines, vec![2, 3, 4]);
    let days: Vec<i32> =
        batches.iter().flat_map(|b| column(b, "datum").as_primitive::<Date32Type>().values().to_vec()).collect();
    assert_eq!(days.len(), 3);
}

#[tokio::test]
async fn gzip_is_detected_by_its_magic_bytes_whatever_the_extension() {
    let h = Harness::start().await;
    let m = h.ingest("partners/e2e/compressed-but-named.csv", "partner_clicks", gzip(CLICKS_CSV.as_bytes())).await;
    assert_eq!(m.rows, 3);
    assert_eq!(m.input.as_ref().unwrap().compression, "gzip");
}

#[tokio::test]
async fn zstd_ndjson_is_decompressed() {
    let h = Harness::start().await;
    let body = zstd::encode_all(&b"{\"event_id\":\"a\",\"event_time\":\"2026-11-03T10:00:00Z\"}\n"[..], 3).unwrap();
    let m = h.ingest("clickstream/e2e/events.jsonl.zst", "clickstream", body).await;
    assert_eq!(m.rows, 1);
    assert_eq!(m.input.as_ref().unwrap().compression, "zstd");
    assert_eq!(m.parts[0].dt, "2026-11-03");
}

#[tokio::test]
async fn semicolon_csv_with_bom_and_crlf_is_sniffed() {
    let h = Harness::start().await;
    let body = "\u{feff}Datum;Partner-ID;Klicks;Umsatz;Kampagne\r\n2026-11-01;p001-1;120;45,50;\"Herbst; Sale\"\r\n2026-11-01;p002-3;87;1.234,00;News\r\n";
    let m = h.ingest("partners/e2e/semikolon.csv", "partner_clicks", body).await;
    let input = m.input.as_ref().unwrap();
    assert_eq!((input.format.as_str(), input.delimiter.as_deref()), ("csv", Some(";")));
    assert_eq!(m.schema.first().map(|c| c.name.as_str()), Some("datum"), "the BOM must not reach the first header");
    assert_eq!(type_of(&m, "umsatz"), "decimal(18,2)", "the feed's decimal comma is understood");
    let batches = h.read_parts(&m).await;
    assert_eq!(strings(&batches, "kampagne"), vec![Some("Herbst; Sale".into()), Some("News".into())]);
}

#[tokio::test]
async fn ndjson_with_nested_objects_is_flattened_and_arrays_kept_as_json() {
    let h = Harness::start().await;
    let body = concat!(
        r#"{"event_id":"e1","event_time":"2026-11-01T08:00:00.123456Z","device":{"browser":"Firefox","screen":{"w":1280}},"tags":["a","b"],"revenue":1.5}"#,
        "\n",
        r#"{"event_id":"e2","event_time":"2026-11-01T09:00:00Z","device":{"browser":"Safari"},"tags":[],"revenue":null}"#,
        "\n"
    );
    let m = h.ingest("clickstream/e2e/nested.jsonl", "clickstream", body).await;
    assert_eq!(m.input.as_ref().unwrap().format, "ndjson");
    assert_eq!(type_of(&m, "event_time"), "timestamptz");
    assert_eq!(type_of(&m, "device__browser"), "string");
    assert_eq!(type_of(&m, "device__screen__w"), "int64");
    assert_eq!(type_of(&m, "tags"), "json");
    assert_eq!(type_of(&m, "revenue"), "float64");
    let batches = h.read_parts(&m).await;
    assert_eq!(strings(&batches, "tags"), vec![Some(r#"["a","b"]"#.into()), Some("[]".into())]);
}

#[tokio::test]
async fn a_json_array_is_streamed_into_rows() {
    let h = Harness::start().await;
    let body = r#"[{"id":1,"name":"Ada","address":{"city":"London","geo":{"lat":51.5}}},{"id":2,"name":"Grace","address":{"city":"Arlington"}}]"#;
    let m = h.ingest("crm/e2e/contacts.json", "crm_contacts", body).await;
    assert_eq!(m.input.as_ref().unwrap().format, "json_array");
    assert_eq!(m.rows, 2);
    assert_eq!(type_of(&m, "address__geo__lat"), "float64");
    let batches = h.read_parts(&m).await;
    assert_eq!(strings(&batches, "address__city"), vec![Some("London".into()), Some("Arlington".into())]);
}

#[tokio::test]
async fn a_single_pretty_printed_object_is_one_row() {
    let h = Harness::start().await;
    let body = "{\n  \"id\": 7,\n  \"name\": \"Hedy\",\n  \"address\": {\n    \"city\": \"Wien\"\n  }\n}\n";
    let m = h.ingest("crm/e2e/one.json", "crm_contacts", body).await;
    assert_eq!(m.input.as_ref().unwrap().format, "json_stream");
    assert_eq!(m.rows, 1);
}

#[tokio::test]
async fn bad_rows_go_to_the_rejects_with_line_column_and_reason() {
    let h = Harness::start().await;
    let body =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/samples/orders/2026-11-01/orders.csv")).unwrap();
    let m = h.ingest("orders/e2e/orders.csv", "orders", body).await;

    assert_eq!(m.status, FileStatus::Parsed);
    assert_eq!((m.rows, m.rejected_rows), (5, 3));
    assert_eq!(type_of(&m, "amount"), "decimal(12,2)", "the declared schema wins over inference");
    let rejects_key = m.rejects_key.clone().expect("rejects written");
    assert_eq!(rejects_key, layout::rejects_key("orders", &m.file_id));
    let rejects = h.rejects(&rejects_key).await;
    let summary: Vec<(Option<u64>, Option<&str>)> = rejects.iter().map(|r| (r.line, r.column.as_deref())).collect();
    assert_eq!(summary, vec![(Some(5), Some("amount")), (Some(6), Some("order_id")), (Some(9), None)]);
    assert!(rejects[0].reason.contains("twelve"), "{}", rejects[0].reason);
    assert!(rejects[2].reason.contains("expected 5 fields, found 3"), "{}", rejects[2].reason);
    assert!(rejects.iter().all(|r| r.kind == RejectKind::Row && r.raw.is_some()));

    let batches = h.read_parts(&m).await;
    let customers = strings(&batches, "customer");
    assert!(customers.contains(&Some("Multi\nline customer".into())), "{customers:?}");
    assert!(customers.contains(&Some("ACME \"Global\" Ltd".into())), "{customers:?}");
}

#[tokio::test]
async fn a_file_that_is_neither_csv_nor_json_gets_an_error_record_and_its_message_succeeds() {
    let h = Harness::start().await;
    let png =
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";
    let etag = h.put("partners/e2e/logo.png", png.to_vec()).await;
    let report = h.drain().await;
    assert_eq!(report.functions["parse-file"].failures, 0, "a bad file must not be retried");
    let m = h.manifest("partner_clicks", &h.file_id("partners/e2e/logo.png", &etag)).await.unwrap();
    assert_eq!(m.status, FileStatus::Failed);
    assert!(m.parts.is_empty());
    let rejects = h.rejects(m.rejects_key.as_deref().unwrap()).await;
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].kind, RejectKind::File);
    assert!(rejects[0].reason.contains("binary") || rejects[0].reason.contains("UTF-8"), "{}", rejects[0].reason);
}

#[tokio::test]
async fn an_empty_file_is_empty_with_no_error_record() {
    let h = Harness::start().await;
    let m = h.ingest("partners/e2e/empty.csv", "partner_clicks", Vec::new()).await;
    assert_eq!((m.status, m.rows, m.rejects_key, m.error), (FileStatus::Empty, 0, None, None));
}

#[tokio::test]
async fn a_key_with_spaces_and_unicode_is_decoded_from_the_notification() {
    let h = Harness::start().await;
    let key = "partners/e2e/Zürich Q4 (final) + 1 €.csv";
    let m = h.ingest(key, "partner_clicks", CLICKS_CSV).await;
    assert_eq!(m.source.key, key);
    assert_eq!(m.rows, 3);
}

#[tokio::test]
async fn windows_1252_is_transcoded_when_the_feed_says_so() {
    let h = Harness::start().await;
    let m = h
        .ingest("legacy/e2e/products.csv", "legacy_export", b"sku|name\r\n100|Cr\xe8me br\xfbl\xe9e\r\n".to_vec())
        .await;
    let batches = h.read_parts(&m).await;
    assert_eq!(strings(&batches, "name"), vec![Some("Crème brûlée".into())]);
}

#[tokio::test]
async fn a_non_utf8_file_without_an_encoding_is_refused_clearly() {
    let h = Harness::start().await;
    let m = h.ingest("partners/e2e/latin1.csv", "partner_clicks", b"name\nCr\xe8me\n".to_vec()).await;
    assert_eq!(m.status, FileStatus::Failed);
    let rejects = h.rejects(m.rejects_key.as_deref().unwrap()).await;
    assert!(rejects[0].reason.contains("UTF-8") && rejects[0].reason.contains("encoding"), "{}", rejects[0].reason);
}

#[tokio::test]
async fn a_key_no_feed_claims_is_reported_not_dropped() {
    let h = Harness::start().await;
    let etag = h.put("nobody-owns-this/notes.txt", "hello").await;
    let report = h.drain().await;
    assert_eq!(report.functions["parse-file"].failures, 0);
    let id = h.file_id("nobody-owns-this/notes.txt", &etag);
    let rejects = h.rejects(&layout::rejects_key(layout::UNMATCHED_FEED, &id)).await;
    assert_eq!(rejects[0].kind, RejectKind::File);
    assert!(rejects[0].reason.contains("no feed matches"), "{}", rejects[0].reason);
    assert!(
        h.functions.metrics.get(landfall::telemetry::catalog::FILES_PROCESSED.name, &[("outcome", "unmatched")]) >= 1
    );
}

#[tokio::test]
async fn the_same_event_delivered_twice_overwrites_instead_of_duplicating() {
    let h = Harness::start().await;
    let key = "partners/e2e/twice.csv";
    let first = h.ingest(key, "partner_clicks", CLICKS_CSV).await;
    let keys_before = h.curated_keys("tables/partner_clicks/").await;
    let manifests_before = h.curated_keys("_manifests/partner_clicks/").await;

    // The very notification S3 sent, delivered again (SQS is at-least-once).
    let etag = first.source.etag.clone().unwrap();
    let body = serde_json::json!({"Records": [{
        "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": "2026-11-22T10:00:00.000Z",
        "s3": {"bucket": {"name": h.stack.landing_bucket}, "object": {"key": "partners/e2e/twice.csv", "size": 10, "eTag": etag}}
    }]});
    h.send_to_queue("parse-file", &body.to_string()).await;
    h.drain().await;

    let again = h.manifest("partner_clicks", &first.file_id).await.unwrap();
    assert_eq!(h.curated_keys("tables/partner_clicks/").await, keys_before, "no new parts");
    assert_eq!(h.curated_keys("_manifests/partner_clicks/").await, manifests_before, "no new manifest");
    assert_eq!((again.rows, &again.parts), (first.rows, &first.parts));
}

#[tokio::test]
async fn dropping_the_same_bytes_again_maps_to_the_same_file() {
    let h = Harness::start().await;
    let first = h.ingest("partners/e2e/again.csv", "partner_clicks", CLICKS_CSV).await;
    let second = h.ingest("partners/e2e/again.csv", "partner_clicks", CLICKS_CSV).await;
    assert_eq!(first.file_id, second.file_id);
    assert_eq!(first.parts, second.parts);
}

#[tokio::test]
async fn an_undecodable_message_fails_alone_and_ends_in_the_dlq() {
    let h = Harness::start().await;
    h.send_to_queue("parse-file", "this is not a notification").await;
    let etag = h.put("partners/e2e/beside-garbage.csv", CLICKS_CSV).await;
    let report = h.drain().await;

    assert!(report.functions["parse-file"].failures >= 1);
    let id = h.file_id("partners/e2e/beside-garbage.csv", &etag);
    assert!(h.manifest("partner_clicks", &id).await.is_some(), "the good message was processed");
    let dead = h.dead_letters("parse-file").await;
    assert_eq!(dead, vec!["this is not a notification".to_owned()]);
}

#[tokio::test]
async fn the_s3_test_event_is_skipped_and_counted() {
    let h = Harness::start().await;
    let body = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/s3-test-event.json")).unwrap();
    let before =
        h.functions.metrics.get(landfall::telemetry::catalog::EVENTS_SKIPPED.name, &[("reason", "test_event")]);
    h.send_to_queue("parse-file", &body).await;
    let report = h.drain().await;
    assert_eq!(report.functions["parse-file"].failures, 0);
    assert_eq!(
        h.functions.metrics.get(landfall::telemetry::catalog::EVENTS_SKIPPED.name, &[("reason", "test_event")]),
        before + 1
    );
}

#[tokio::test]
async fn a_widened_column_starts_a_new_part_with_the_wider_type() {
    let h = Harness::start().await;
    let mut body = String::from("Datum,Menge\n");
    for _ in 0..1500 {
        body.push_str("2026-11-05,1\n");
    }
    body.push_str("2026-11-05,1.5\n");
    let m = h.ingest("partners/e2e/widening.csv", "partner_clicks", body).await;
    assert_eq!(m.rows, 1501);
    assert!(m.parts.len() >= 2, "{:?}", m.parts);
    assert_ne!(type_of(&m, "menge"), "int64");
    assert_eq!(m.widenings.len(), 1, "{:?}", m.widenings);
    assert_eq!(total_rows(&h.read_parts(&m).await), 1501);
}

#[tokio::test]
async fn a_file_overwritten_before_it_is_read_is_parsed_as_its_event_saw_it() {
    let h = Harness::start().await;
    let key = "crm/e2e/overwritten.json";
    let put = |body: &'static str| {
        h.s3.put_object()
            .bucket(&h.stack.landing_bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(body.as_bytes()))
            .send()
    };
    let v1 = put("{\"id\": 1, \"name\": \"first\"}\n").await.unwrap();
    // Replaced before parse-file gets to the first event.
    put("{\"id\": 1, \"name\": \"second\"}\n{\"id\": 2, \"name\": \"added\"}\n").await.unwrap();
    let mut first = landfall::events::ObjectCreated::put(&h.stack.landing_bucket, key);
    first.version_id = v1.version_id().map(str::to_owned);
    first.etag = v1.e_tag().map(|e| e.trim_matches('"').to_owned());
    assert!(first.version_id.is_some(), "the landing bucket is versioned");
    let outcome = h.functions.parse_file.process(&first).await.unwrap();
    let parse_file::Outcome::Written { manifest_key, rows, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(rows, 1, "the version the event named, not the newer object");
    let m = landfall::manifest::Manifest::from_json(&h.curated_bytes(&manifest_key).await.unwrap()).unwrap();
    assert_eq!(m.source.version_id, first.version_id);
    h.drain().await;
}
