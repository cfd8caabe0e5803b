//! Hostile and degenerate files: each ends in a recorded outcome (a
//! manifest with its status and reason, or a reject record), never a panic,
//! a hang or a message failed for ever. The README's "Bad input" table lists
//! these cases and their outcomes.

use std::io::Write;
use std::sync::Arc;

use landfall::config::Config;
use landfall::events::ObjectCreated;
use landfall::manifest::{FileStatus, Manifest};
use landfall::storage::memory::MemoryStore;
use landfall::telemetry::Metrics;
use landfall::threads::Threads;
use parse_file::{Outcome, ParseFile, Settings};

const CONFIG: &str = "feeds:\n  any:\n    prefix: any/\n  small:\n    prefix: small/\n    max_decompressed_mb: 1\n";

fn handler(store: Arc<MemoryStore>) -> (ParseFile, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_yaml(CONFIG, "test").unwrap();
    let settings =
        Settings { curated_bucket: "curated".into(), work_dir: dir.path().to_path_buf(), threads: Threads::Two };
    (ParseFile::new(store, Arc::new(config), settings, Metrics::new("test")), dir)
}

/// Parses `body` landed at `key`; returns the manifest it wrote.
async fn parse(key: &str, body: &[u8]) -> Manifest {
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", key, body);
    let (h, _dir) = handler(Arc::clone(&store));
    let Outcome::Written { manifest_key, .. } = h.process(&ObjectCreated::put("landing", key)).await.unwrap() else {
        panic!("{key}: expected a manifest")
    };
    Manifest::from_json(&store.read("curated", &manifest_key).unwrap()).unwrap()
}

#[tokio::test]
async fn a_header_only_csv_is_parsed_with_its_columns_and_no_rows() {
    let m = parse("any/header.csv", b"id,name,amount\n").await;
    assert_eq!((m.status, m.rows, m.schema.len()), (FileStatus::Parsed, 0, 3));
}

#[tokio::test]
async fn five_thousand_columns_refuse_the_file_with_the_limit_named() {
    let header: Vec<String> = (0..5000).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
    let body = format!("{}\n{}\n", header.join(","), row.join(","));
    let m = parse("any/wide.csv", body.as_bytes()).await;
    assert_eq!(m.status, FileStatus::Refused);
    assert!(
        m.error.as_deref().is_some_and(|e| e.contains("5000 columns; a table takes at most 1590")),
        "{:?}",
        m.error
    );
}

#[tokio::test]
async fn a_100_mb_line_fails_the_file_with_the_record_limit_named() {
    let mut body = b"id,text\n1,".to_vec();
    body.resize(body.len() + (100 << 20), b'x');
    body.extend_from_slice(b"\n2,short\n");
    let m = parse("any/long.csv", &body).await;
    assert_eq!(m.status, FileStatus::Failed);
    assert!(m.error.as_deref().is_some_and(|e| e.contains("larger than 64 MiB")), "{:?}", m.error);
    assert!(m.parts.is_empty());
}

#[tokio::test]
async fn a_key_of_1024_bytes_with_unicode_is_parsed_under_short_lake_keys() {
    let mut key = "any/".to_owned();
    while key.len() + "ü".len() <= 1020 {
        key.push('ü');
    }
    key.push_str(".csv");
    assert_eq!(key.len(), 1024, "S3's longest key");
    let m = parse(&key, b"id\n1\n2\n").await;
    assert_eq!((m.status, m.rows), (FileStatus::Parsed, 2));
    assert_eq!(m.source.key, key);
    assert!(m.parts.iter().all(|p| p.key.len() < 200), "part keys are built from the file id, not the source key");
}

/// 8 MiB of rows (2 Mi of them) in a few KiB of gzip.
fn gzip_bomb() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(b"a,b\n").unwrap();
    for _ in 0..(2 << 20) {
        gz.write_all(b"1,2\n").unwrap();
    }
    gz.finish().unwrap()
}

#[tokio::test]
async fn a_compression_bomb_is_refused_past_the_feeds_bound() {
    // Under a feed allowing 1 MiB.
    let bomb = gzip_bomb();
    assert!(bomb.len() < 64 << 10, "{} compressed bytes", bomb.len());
    let m = parse("small/bomb.csv.gz", &bomb).await;
    // As with any file that breaks off, what was read before the bound is kept.
    assert_eq!(m.status, FileStatus::Partial);
    assert!(m.rows < 2 << 20, "{} rows", m.rows);
    let error = m.error.unwrap_or_default();
    assert!(error.contains("more than 1 MiB") && error.contains("compression bomb"), "{error}");
    // The same file under the default bound reads fine.
    let m = parse("any/bomb.csv.gz", &bomb).await;
    assert_eq!((m.status, m.rows), (FileStatus::Parsed, 2 << 20));
}

#[tokio::test]
async fn without_a_feed_bound_the_functions_memory_bounds_a_bomb_on_its_first_attempt() {
    // A 1 MB function reads 4 MiB (FunctionBudget::DECOMPRESSED_BYTES_PER_MB).
    let store = Arc::new(MemoryStore::default());
    store.insert("landing", "any/bomb.csv.gz", &gzip_bomb());
    let (h, _dir) = handler(Arc::clone(&store));
    let h = h.with_budget(landfall::lambda::FunctionBudget { memory_mb: Some(1), ephemeral_mb: None });
    let outcome = h.process(&ObjectCreated::put("landing", "any/bomb.csv.gz")).await;
    let Ok(Outcome::Written { manifest_key, .. }) = outcome else { panic!("{outcome:?}: not recorded") };
    let m = Manifest::from_json(&store.read("curated", &manifest_key).unwrap()).unwrap();
    let error = m.error.unwrap_or_default();
    assert_eq!(m.status, FileStatus::Partial, "{error}");
    assert!(error.contains("more than 4 MiB") && error.contains("compression bomb"), "{error}");
}

fn gzip_lines(lines: impl Iterator<Item = String>) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for line in lines {
        gz.write_all(line.as_bytes()).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    gz.finish().unwrap()
}

#[tokio::test]
async fn twenty_thousand_ids_as_keys_make_one_json_column_one_part_and_lose_no_row() {
    let body = gzip_lines((0..20_000).map(|i| {
        format!("{{\"id\":{i},\"tier_and_details\":{{\"{:024x}\":{{\"tier\":\"gold\",\"n\":{i}}}}}}}", i * 7919 + 1)
    }));
    let m = parse("any/customers.jsonl.gz", &body).await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 20_000, 0));
    let columns: Vec<(&str, String)> = m.schema.iter().map(|c| (c.name.as_str(), c.data_type.to_string())).collect();
    assert_eq!(columns, vec![("id", "int64".to_owned()), ("tier_and_details", "json".to_owned())]);
    assert_eq!(m.parts.len(), 1);
    let notes = m.input.map(|i| i.notes).unwrap_or_default();
    assert!(
        notes.iter().any(|n| n.starts_with("object tier_and_details is kept whole as one JSON column")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_gzip_csv_whose_dates_cycle_through_nine_days_makes_one_part_per_day() {
    let store = Arc::new(MemoryStore::default());
    let mut csv = String::from("id,day\n");
    for i in 0..20_000 {
        csv.push_str(&format!("{i},2026-01-0{}\n", i % 9 + 1));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv.as_bytes()).unwrap();
    store.insert("landing", "days/cycle.csv.gz", &gz.finish().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_yaml("feeds:\n  days:\n    prefix: days/\n    partition_column: day\n", "test").unwrap();
    let settings =
        Settings { curated_bucket: "curated".into(), work_dir: dir.path().to_path_buf(), threads: Threads::Two };
    let h = ParseFile::new(store.clone(), Arc::new(config), settings, Metrics::new("test"));
    let Outcome::Written { manifest_key, .. } =
        h.process(&ObjectCreated::put("landing", "days/cycle.csv.gz")).await.unwrap()
    else {
        panic!("expected a manifest")
    };
    let m = Manifest::from_json(&store.read("curated", &manifest_key).unwrap()).unwrap();
    assert_eq!((m.status, m.rows), (FileStatus::Parsed, 20_000));
    let mut days: Vec<&str> = m.parts.iter().map(|p| p.dt.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    assert_eq!((m.parts.len(), days.len()), (9, 9), "one part per day");
}
