//! The two-thread pipeline is only an optimisation: for every kind of input
//! it must write the same parts, byte for byte, the same rejects and the
//! same outcome as one thread.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use super::tests::request;
use super::*;
use crate::config::Config;
use crate::rejects::read_rejects;
use crate::schema::FinishedPart;

/// (seq, dt, rows, bytes of the file) of each part.
type PartBytes = Vec<(u32, NaiveDate, u64, Vec<u8>)>;

/// What a conversion produced, with the parts' bytes read as they were handed over.
#[derive(Debug, PartialEq)]
struct Produced {
    status: FileStatus,
    error: Option<String>,
    input: Option<DetectedInput>,
    rows_written: u64,
    rows_rejected: u64,
    columns: Vec<crate::schema::ColumnSchema>,
    widenings: Vec<String>,
    parts: PartBytes,
    rejects: Vec<Reject>,
}

fn feed_config(extra: &str) -> Config {
    Config::from_yaml(&format!("feeds:\n  f:\n    prefix: f/\n{extra}"), "test").unwrap()
}

fn produce(config: &Config, name: &str, input: &[u8], threads: Threads) -> Result<Produced, ConvertError> {
    let dir = tempfile::tempdir().unwrap();
    let req = request(&config.feeds[0], name, dir.path(), threads, NameRules::fresh(config.warehouse.driver));
    let parts: Arc<Mutex<PartBytes>> = Arc::default();
    let sink = Arc::clone(&parts);
    let on_part = Box::new(move |part: FinishedPart| {
        let bytes = std::fs::read(&part.path).map_err(|e| SinkError::retryable("reading a part back", e))?;
        sink.lock().unwrap().push((part.seq, part.dt, part.rows, bytes));
        Ok(())
    });
    let out = convert(input, &req, on_part)?;
    let rejects = match &out.rejects_file {
        Some(path) => read_rejects(&std::fs::read(path).unwrap()).unwrap(),
        None => Vec::new(),
    };
    let mut parts = std::mem::take(&mut *parts.lock().unwrap());
    parts.sort_by_key(|p| p.0);
    Ok(Produced {
        status: out.status,
        error: out.error,
        input: out.input,
        rows_written: out.write.rows_written,
        rows_rejected: out.write.rows_rejected,
        columns: out.write.columns,
        widenings: out.write.widenings,
        parts,
        rejects,
    })
}

fn assert_same_on_both(config: &Config, name: &str, input: &[u8]) -> Produced {
    let one = produce(config, name, input, Threads::One).unwrap();
    let two = produce(config, name, input, Threads::Two).unwrap();
    assert_eq!(one, two, "one thread (left) and two threads (right) differ for {name}");
    one
}

/// 20,000 rows over 12 days in turn (more than the 8 parts open at once), a
/// quoted newline, wrong field counts, a bad UTF-8 byte, and an amount that
/// turns from integer to decimal after the rows the types were decided on.
fn messy_csv() -> Vec<u8> {
    let mut text = String::from("id,event_time,amount,note\n");
    for i in 0..20_000u32 {
        let day = 1 + i / 1_700;
        let amount = if i < 5_000 { format!("{}", i % 97) } else { format!("{}.{:02}", i % 97, i % 100) };
        match i % 1_000 {
            7 => text.push_str("1,2,3\n"),
            9 => {
                let _ = writeln!(text, "{i},2026-11-{day:02}T10:00:00Z,{amount},\"two\nlines\"");
            }
            _ => {
                let _ = writeln!(text, "{i},2026-11-{day:02}T10:00:00Z,{amount},n{}", i % 13);
            }
        }
    }
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"20001,2026-11-02T10:00:00Z,1,caf\xe9\n");
    bytes
}

#[test]
fn a_messy_csv_gives_the_same_parts_and_rejects_on_two_threads() {
    let config = feed_config("    partition_column: event_time\n");
    let out = assert_same_on_both(&config, "f/x.csv", &messy_csv());
    assert_eq!((out.rows_written, out.rejects.len()), (19_980, 21));
    // 12 days, and the day open when amount widened (its part is closed then) starts a second part.
    assert_eq!(out.parts.len(), 13);
    assert!(!out.widenings.is_empty(), "amount widened after inference: {:?}", out.widenings);
}

#[test]
fn ndjson_with_keys_that_appear_late_gives_the_same_parts_on_two_threads() {
    let mut text = String::new();
    for i in 0..12_000u32 {
        let _ = write!(text, "{{\"id\":{i},\"user\":{{\"name\":\"u{}\",\"tier\":{}}}", i % 50, i % 3);
        if i > 9_000 {
            let _ = write!(text, ",\"late\":{{\"flag\":{}}}", i % 2 == 0);
        }
        if i % 2_500 == 0 {
            text.push_str(",\"id\":\"not a number\"");
        }
        text.push_str("}\n");
    }
    text.push_str("{\"id\": broken\n");
    let out = assert_same_on_both(&feed_config(""), "f/x.jsonl", text.as_bytes());
    assert!(out.columns.iter().any(|c| c.name == "late__flag"), "{:?}", out.columns);
    assert!(!out.rejects.is_empty());
}

#[test]
fn a_json_array_gives_the_same_parts_on_two_threads() {
    let rows: Vec<String> =
        (0..9_000).map(|i| format!("{{\"id\":{i},\"tags\":[\"a\",\"b{i}\"],\"v\":{i}.5}}")).collect();
    let text = format!("[{}]", rows.join(","));
    let out = assert_same_on_both(&feed_config(""), "f/x.json", text.as_bytes());
    assert_eq!(out.rows_written, 9_000);
}

#[test]
fn a_file_that_cannot_be_read_is_the_same_outcome_on_two_threads() {
    let config = feed_config("    partition_column: day\n");
    let out = assert_same_on_both(&config, "f/x.csv", b"a,b\n1,2\n");
    assert_eq!(out.status, FileStatus::Failed);
    let out = assert_same_on_both(&feed_config(""), "f/x.json", b"[{\"a\":1},{\"a\":2},{\"a\":");
    assert_eq!((out.status, out.rows_written), (FileStatus::Partial, 2));
}

/// A part closed while rows are still being typed (more days than parts
/// open at once) is handed over from the typing thread; its upload failing
/// must fail the conversion just as on one thread, retryable.
#[test]
fn a_part_that_cannot_be_handed_over_fails_the_conversion_on_two_threads() {
    let config = feed_config("    partition_column: event_time\n");
    let input = messy_csv();
    let dir = tempfile::tempdir().unwrap();
    for threads in [Threads::One, Threads::Two] {
        let req = request(&config.feeds[0], "f/x.csv", dir.path(), threads, NameRules::fresh(config.warehouse.driver));
        let failing =
            Box::new(|_: FinishedPart| Err(SinkError::retryable("uploading a part", std::io::Error::other("503"))));
        let err = convert(&input[..], &req, failing).unwrap_err();
        assert!(err.retryable(), "{threads:?}: {err}");
        assert_eq!(err.to_string(), "uploading a part", "{threads:?}");
    }
}
