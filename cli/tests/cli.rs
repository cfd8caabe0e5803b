//! The `landfall` binary as an operator runs it, against the local stack
//! (`infra/stack up`; infra/test starts it): every subcommand, the `--json`
//! shapes scripts rely on, exit codes, and the aws target pointed at moto
//! through the same code path as real AWS, with no local stack file in reach.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use landfall_infra::{LocalStack, local};
use serde_json::Value;

/// The tests share the stack's queues: one at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SUBCOMMANDS: [&str; 23] = [
    "status",
    "files",
    "file",
    "rejects",
    "replay",
    "redrive",
    "load",
    "repair",
    "fetch",
    "monitor",
    "infer",
    "preview",
    "validate-config",
    "demo",
    "pump",
    "drop",
    "summary",
    "jobs",
    "run-job",
    "doctor",
    "completions",
    "man",
    "config-schema",
];

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_landfall"))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("landfall runs");
    eprintln!(
        "$ landfall {:?}\n{}{}",
        cmd.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn repo() -> PathBuf {
    landfall_infra::stack::repo_root()
}

/// A key prefix no other run used.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}cli-{nanos}/")
}

struct Stack {
    stack: LocalStack,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Stack {
    async fn start() -> Stack {
        let turn = TURN.lock().await;
        let stack = LocalStack::discover().unwrap_or_else(|e| panic!("{e}"));
        let sdk = stack.sdk_config().await;
        let s = Stack { s3: aws_sdk_s3::Client::new(&sdk), sqs: aws_sdk_sqs::Client::new(&sdk), stack, _turn: turn };
        s.pump();
        s
    }

    async fn put(&self, key: &str, body: &str) {
        self.s3
            .put_object()
            .bucket(&self.stack.landing_bucket)
            .key(key)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    }

    fn pump(&self) {
        let out = run(bin().args(["pump", "--timeout", "180"]));
        assert!(out.status.success(), "the queues drain");
    }

    async fn exec(&self, statements: &str) {
        let (client, conn) = tokio_postgres::connect(&self.stack.database_url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(statements).await.unwrap_or_else(|e| panic!("{statements}: {e}"));
    }

    async fn sql(&self, q: &str) -> i64 {
        let (client, conn) = tokio_postgres::connect(&self.stack.database_url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.query_one(q, &[]).await.unwrap_or_else(|e| panic!("{q}: {e}")).get::<_, i64>(0)
    }
}

/// `legacy_export` in config/landfall.yaml: pipe-delimited, windows-1252, append.
fn legacy_csv(n: usize) -> String {
    format!("sku|name\n{n}|first\n{}|second\n", n + 100_000)
}

#[test]
fn every_subcommand_answers_help() {
    for sub in SUBCOMMANDS {
        let out = run(bin().args([sub, "--help"]));
        assert!(out.status.success(), "{sub} --help");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("Usage: landfall {sub}")), "{sub}: {text}");
    }
}

#[test]
fn a_bad_flag_is_a_usage_error_with_exit_code_2() {
    let out = run(bin().args(["files", "--no-such-flag"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(bin().args(["replay"]));
    assert_eq!(out.status.code(), Some(2), "replay needs --feed or --prefix");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_json_has_the_shape_scripts_read() {
    let s = Stack::start().await;
    let v = json_of(&run(bin().args(["status", "--json"])));
    assert_eq!(v["target"], "local");
    let feed = v["feeds"].as_array().and_then(|f| f.iter().find(|f| f["feed"] == "legacy_export")).expect("a feed row");
    for key in [
        "table",
        "last_file",
        "last_load",
        "files_today",
        "rows_today",
        "files_7d",
        "rows_7d",
        "rows_rejected_7d",
        "files_refused_7d",
        "files_failed_7d",
    ] {
        assert!(feed.get(key).is_some(), "feed rows carry {key}: {feed}");
    }
    let queues = v["queues"].as_array().expect("queues");
    let functions: Vec<&str> = queues.iter().filter_map(|q| q["function"].as_str()).collect();
    assert_eq!(functions, vec!["load-warehouse", "parse-file", "register-partitions"]);
    for q in queues {
        for key in ["queued", "in_flight", "oldest_age_seconds", "dead_letters"] {
            assert!(q.get(key).is_some(), "queue rows carry {key}: {q}");
        }
    }
    drop(s);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_is_followed_from_landing_to_the_ledger_in_one_answer() {
    let s = Stack::start().await;
    let key = format!("{}products.csv", unique("legacy/"));
    let missing = run(bin().args(["file", &key]));
    assert_eq!(missing.status.code(), Some(3), "a file that never landed is not found");
    s.put(&key, &legacy_csv(1)).await;
    let pending = json_of(&run(bin().args(["file", &key, "--json"])));
    assert_eq!(pending["state"], "pending", "not parsed before the pump");
    s.pump();
    let v = json_of(&run(bin().args(["file", &key, "--json"])));
    assert_eq!(v["state"], "loaded");
    assert_eq!(v["feed"], "legacy_export");
    assert_eq!(v["parsed"]["rows"], 2);
    assert_eq!(v["ledger"]["rows_loaded"], 2);
    assert_eq!(v["ledger"]["table"], "public.legacy_export");
    assert!(v["parts"].as_array().is_some_and(|p| !p.is_empty() && p.iter().all(|p| p["present"] == true)));
    assert!(v["verdict"].as_str().is_some_and(|t| t.starts_with("loaded into public.legacy_export")), "{v}");
    let listed = json_of(&run(bin().args(["files", "--feed", "legacy_export", "--since", "1h", "--json"])));
    assert!(listed.as_array().is_some_and(|l| l.iter().any(|f| f["object"]["key"] == key.as_str())), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_whose_rows_fit_no_header_is_refused_in_file_the_ledger_and_the_digest() {
    let s = Stack::start().await;
    let key = format!("{}ragged.csv", unique("legacy/"));
    // `legacy_export` reads `|`: the header has 2 fields, the rows 1, 3 and 4.
    s.put(&key, "sku|name\n1\n2|b|x\n3|c|y|z\n").await;
    s.pump();
    let v = json_of(&run(bin().args(["file", &key, "--json"])));
    assert_eq!(v["state"], "refused", "{v}");
    assert_eq!(v["parsed"]["status"], "refused", "{v}");
    assert_eq!(v["parsed"]["rows"], 0);
    assert_eq!(v["ledger"]["status"], "refused", "{v}");
    let verdict = v["verdict"].as_str().unwrap_or_default();
    assert!(verdict.contains("the header has 2 fields and the rows agree on no width"), "{verdict}");
    // The digest marks the refused file, so the operator is told of it.
    run(bin().args(["monitor", "--json"]));
    let file_id = v["file_id"].as_str().unwrap_or_default().to_owned();
    let digested = s.sql(&format!("SELECT count(*) FROM landfall.file_digests WHERE file_id = '{file_id}'")).await;
    assert_eq!(digested, 1, "the refused file is in a digest");
}

/// An empty file is nothing wrong: `empty` in the manifest, the ledger and
/// `landfall file`, with no reject, no error and no place in the digest.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_file_is_empty_in_file_and_the_ledger_and_not_in_the_digest() {
    let s = Stack::start().await;
    let key = format!("{}empty.csv", unique("legacy/"));
    s.put(&key, "").await;
    s.pump();
    let v = json_of(&run(bin().args(["file", &key, "--json"])));
    assert_eq!(
        (v["state"].clone(), v["parsed"]["status"].clone()),
        (Value::from("empty"), Value::from("empty")),
        "{v}"
    );
    assert_eq!(
        (v["parsed"]["error"].clone(), v["ledger"]["status"].clone()),
        (Value::Null, Value::from("empty")),
        "{v}"
    );
    assert!(v["verdict"].as_str().unwrap_or_default().starts_with("empty: the file holds no data"), "{v}");
    run(bin().args(["monitor", "--json"]));
    let file_id = v["file_id"].as_str().unwrap_or_default().to_owned();
    let digested = s.sql(&format!("SELECT count(*) FROM landfall.file_digests WHERE file_id = '{file_id}'")).await;
    assert_eq!(digested, 0, "an empty file is not in a digest");
}

#[tokio::test(flavor = "multi_thread")]
async fn rejects_lists_the_bad_rows_of_a_file_with_line_column_and_reason() {
    let s = Stack::start().await;
    let key = format!("{}orders.csv", unique("orders/"));
    let body = "order_id,customer,amount,currency,ordered_at\n\
                91001,Ada,10.00,EUR,2026-11-20T10:00:00Z\n\
                91002,Bob,twelve,EUR,2026-11-20T11:00:00Z\n";
    s.put(&key, body).await;
    s.pump();
    let v = json_of(&run(bin().args(["rejects", &key, "--json"])));
    assert_eq!(v["total"], 1);
    assert_eq!(v["rejects"][0]["line"], 3);
    assert_eq!(v["rejects"][0]["column"], "amount");
    assert!(v["rejects"][0]["reason"].as_str().is_some_and(|r| r.contains("twelve")), "{v}");
    assert!(v["rejects"][0]["raw"].as_str().is_some_and(|r| r.starts_with("91002,Bob")), "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_200_loaded_objects_loads_nothing_twice() {
    let s = Stack::start().await;
    let prefix = unique("legacy/");
    for i in 0..200 {
        s.put(&format!("{prefix}{i:03}.csv"), &legacy_csv(i)).await;
    }
    s.pump();
    let like = format!("s3://{}/{prefix}%", s.stack.landing_bucket);
    let rows = format!("SELECT count(*) FROM public.legacy_export WHERE _landfall_file LIKE '{like}'");
    let ledger = format!("SELECT count(*) FROM landfall.load_ledger WHERE source_url LIKE '{like}'");
    assert_eq!((s.sql(&rows).await, s.sql(&ledger).await), (400, 200));

    let dry = json_of(&run(bin().args(["replay", "--prefix", &prefix, "--dry-run", "--json"])));
    assert_eq!((dry["matched"].as_u64(), dry["sent"].as_u64()), (Some(200), Some(0)));
    let v = json_of(&run(bin().args(["replay", "--prefix", &prefix, "--rate", "500", "--json"])));
    assert_eq!(v["matched"], 200);
    assert_eq!(v["sent"], 200);
    assert_eq!(v["failed"], 0);
    assert_eq!(v["already_loaded"], 200, "the output says the replay is a no-op for loaded files");
    s.pump();
    assert_eq!((s.sql(&rows).await, s.sql(&ledger).await), (400, 200), "0 duplicates after the replay");
}

#[tokio::test(flavor = "multi_thread")]
async fn redrive_returns_dead_lettered_load_messages_and_they_load() {
    let s = Stack::start().await;
    let key = format!("{}redrive.csv", unique("legacy/"));
    s.put(&key, &legacy_csv(7)).await;
    // Parse only; then park load-warehouse's message in its dead-letter queue, as retries would.
    let functions = local::functions(&s.stack).await.unwrap_or_else(|e| panic!("{e}"));
    let report = local::pump_only(&s.stack, &functions, &["parse-file", "register-partitions"])
        .unwrap_or_else(|e| panic!("{e}"))
        .drain(Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.drained);
    let dead_letters = || {
        let status = json_of(&run(bin().args(["status", "--json"])));
        status["queues"]
            .as_array()
            .and_then(|q| q.iter().find(|q| q["function"] == "load-warehouse"))
            .and_then(|q| q["dead_letters"].as_u64())
            .expect("load-warehouse's queue row")
    };
    // An earlier failed run may have left some; they are redriven too.
    let before = dead_letters();
    let q = s.stack.queue("load-warehouse").unwrap().clone();
    let mut parked = 0;
    for _ in 0..10 {
        let got = s
            .sqs
            .receive_message()
            .queue_url(&q.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in got.messages() {
            s.sqs.send_message().queue_url(&q.dlq_url).message_body(m.body().unwrap_or_default()).send().await.unwrap();
            s.sqs
                .delete_message()
                .queue_url(&q.url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .unwrap();
            parked += 1;
        }
        if parked > 0 && got.messages().is_empty() {
            break;
        }
    }
    assert!(parked >= 1, "the manifest's message was parked");
    assert_eq!(dead_letters(), before + parked, "status counts the dead letters");

    let v = json_of(&run(bin().args(["redrive", "load-warehouse", "--json"])));
    assert_eq!(v["method"], "by_hand", "moto has no StartMessageMoveTask");
    assert_eq!(v["moved"].as_u64(), Some(before + parked));
    s.pump();
    let file = json_of(&run(bin().args(["file", &key, "--json"])));
    assert_eq!(file["state"], "loaded");
    assert_eq!(file["ledger"]["rows_loaded"], 2);
}

/// Receives every message of a queue whose body holds `marker`, deletes
/// them, and says how many there were.
async fn take_marked(sqs: &aws_sdk_sqs::Client, url: &str, marker: &str) -> usize {
    let mut n = 0;
    for _ in 0..5 {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if got.messages().is_empty() {
            break;
        }
        for m in got.messages() {
            if m.body().is_some_and(|b| b.contains(marker)) {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .unwrap();
                n += 1;
            } else {
                let handle = m.receipt_handle().unwrap_or_default();
                sqs.change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn redrive_max_3_moves_exactly_3_of_5_dead_letters() {
    let s = Stack::start().await;
    let q = s.stack.queue("register-partitions").unwrap().clone();
    // Whatever earlier runs left in the DLQ goes back first, so the count below is this test's.
    json_of(&run(bin().args(["redrive", "register-partitions", "--json"])));
    let marker = unique("redrive-max-");
    for i in 0..5 {
        let body = format!("{{\"marker\": \"{marker}{i}\"}}");
        s.sqs.send_message().queue_url(&q.dlq_url).message_body(body).send().await.unwrap();
    }

    let v = json_of(&run(bin().args(["redrive", "register-partitions", "--max", "3", "--json"])));
    assert_eq!(v["method"], "by_hand", "a count limit always moves by hand");
    assert_eq!(v["moved"], 3);
    assert_eq!(take_marked(&s.sqs, &q.url, &marker).await, 3, "three reached the queue");
    assert_eq!(take_marked(&s.sqs, &q.dlq_url, &marker).await, 2, "two stayed dead-lettered");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_asks_for_yes_past_ask_over_and_for_the_whole_bucket_and_counts_refused_files_apart() {
    let s = Stack::start().await;
    let prefix = unique("legacy/");
    s.put(&format!("{prefix}good.csv"), &legacy_csv(11)).await;
    s.put(&format!("{prefix}ragged.csv"), "sku|name\n1\n2|b|x\n3|c|y|z\n").await;
    s.pump();

    let asked = run(bin().args(["replay", "--prefix", &prefix, "--ask-over", "1", "--json"]));
    assert_eq!(asked.status.code(), Some(2), "two objects are more than --ask-over 1");
    assert!(String::from_utf8_lossy(&asked.stderr).contains("pass --yes"));
    let whole = run(bin().args(["replay", "--prefix", "", "--json"]));
    assert_eq!(whole.status.code(), Some(2), "an empty prefix is the whole bucket");

    let v = json_of(&run(bin().args(["replay", "--prefix", &prefix, "--ask-over", "1", "--yes", "--json"])));
    assert_eq!((v["matched"].as_u64(), v["sent"].as_u64()), (Some(2), Some(2)));
    assert_eq!(
        (v["already_loaded"].as_u64(), v["refused"].as_u64(), v["failed_before"].as_u64()),
        (Some(1), Some(1), Some(0))
    );
    s.pump();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aws_target_reaches_moto_through_the_default_chain_with_no_local_stack_in_reach() {
    let s = Stack::start().await;
    let key = format!("{}aws.csv", unique("legacy/"));
    s.put(&key, &legacy_csv(3)).await;
    s.pump();
    let away = tempfile::tempdir().unwrap();
    let outputs = away.path().join("outputs.json");
    std::fs::copy(s.stack.dir.join("outputs.json"), &outputs).unwrap();
    // Outside any checkout, with the stack's folder out of reach: only the
    // outputs file, the environment's credentials and endpoint, and a URL.
    let aws = |args: &[&str]| -> Output {
        let mut c = bin();
        c.current_dir(away.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", away.path())
            .env("LANDFALL_STACK_DIR", away.path().join("no-stack-here"))
            .env("AWS_ENDPOINT_URL", &s.stack.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("LANDFALL_WAREHOUSE_URL", &s.stack.database_url)
            .args(["--target", "aws", "--outputs"])
            .arg(&outputs)
            .args(args);
        run(&mut c)
    };
    let status = json_of(&aws(&["status", "--json"]));
    assert_eq!(status["target"], "aws");
    assert_eq!(status["region"], s.stack.region.as_str(), "the region comes from the outputs");
    let file = json_of(&aws(&["file", &key, "--json"]));
    assert_eq!(file["state"], "loaded");
    let local = json_of(&run(bin().args(["file", &key, "--json"])));
    assert_eq!(file["ledger"], local["ledger"], "both targets read the same ledger row");

    // Without --target, outside a checkout and without outputs: aws, and the fix is named.
    let mut c = bin();
    c.current_dir(away.path()).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).args(["status"]);
    let out = run(&mut c);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--outputs"), "the error says the fix");
}

#[tokio::test(flavor = "multi_thread")]
async fn load_and_repair_run_in_process_on_the_local_stack() {
    let s = Stack::start().await;
    let key = format!("{}load.csv", unique("legacy/"));
    s.put(&key, &legacy_csv(11)).await;
    s.pump();
    let file = json_of(&run(bin().args(["file", &key, "--json"])));
    let manifest = file["parsed"]["manifest_key"].as_str().expect("a manifest").to_owned();
    let v = json_of(&run(bin().args(["load", &manifest, "--json"])));
    assert_eq!(v["loads"][0]["already_loaded"], 1, "loading a loaded manifest again is a no-op");
    assert_eq!(v["loads"][0]["rows_loaded"], 0);
    let repaired = json_of(&run(bin().args(["repair", "legacy_export", "--days", "1", "--json"])));
    assert!(repaired["repair"].is_object(), "{repaired}");
}

#[test]
fn infer_prints_a_feed_block_that_the_config_accepts() {
    let sample = repo().join("events/samples/legacy/products.csv");
    let v = json_of(&run(bin().args(["infer"]).arg(&sample).args(["--feed-name", "products", "--json"])));
    assert_eq!(v["input"]["format"], "csv");
    assert_eq!(v["input"]["delimiter"], "|");
    assert!(v["rows"].as_u64().is_some_and(|n| n > 0));
    let block = v["feed_block"].as_str().expect("a feed block");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("landfall.yaml");
    std::fs::write(&config, format!("version: 1\nfeeds:\n{block}")).unwrap();
    let checked = json_of(&run(bin().arg("validate-config").arg(&config).arg("--json")));
    assert_eq!(checked["feeds"][0]["name"], "products");
    // The pasted block reads the sample the same way: declared, nothing rejected.
    let again = json_of(&run(bin()
        .arg("preview")
        .arg(&sample)
        .args(["--feed", "products", "--config"])
        .arg(&config)
        .arg("--json")));
    assert_eq!((again["rows"].clone(), again["rejected"].clone()), (v["rows"].clone(), Value::from(0)));
}

/// A GeoJSON FeatureCollection reads as one row; `infer` finds its records
/// under `features`, reads them a row each and pins the path in the block.
#[test]
fn infer_finds_the_records_a_wrapping_object_holds_and_pins_the_path() {
    let sample = repo().join("tests/fixtures/real/json_geojson.json");
    let v = json_of(&run(bin().arg("infer").arg(&sample).args(["--feed-name", "stations", "--json"])));
    assert_eq!((v["rows"].clone(), v["json"].clone()), (Value::from(3), Value::from("{ records: \"features\" }")));
    let block = v["feed_block"].as_str().expect("a feed block");
    assert!(block.contains("    json: { records: \"features\" }\n"), "{block}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("landfall.yaml");
    std::fs::write(&config, format!("version: 1\nfeeds:\n{block}")).unwrap();
    let again = json_of(&run(bin()
        .arg("preview")
        .arg(&sample)
        .args(["--feed", "stations", "--config"])
        .arg(&config)
        .arg("--json")));
    assert_eq!((again["rows"].clone(), again["rejected"].clone()), (Value::from(3), Value::from(0)));
}

/// A load the warehouse refuses on every delivery (a view stands where the
/// feed's table should be) dead-letters its message; `landfall file` still
/// says why, from `landfall.failures`, and `status` counts the file stuck.
#[tokio::test]
async fn a_dead_lettered_file_shows_its_error_in_landfall_file() {
    let s = Stack::start().await;
    s.exec("DROP TABLE IF EXISTS public.crm_contacts; CREATE OR REPLACE VIEW public.crm_contacts AS SELECT 1::bigint AS id")
        .await;
    let key = format!("{}contacts.csv", unique("crm/"));
    s.put(&key, "id,name\n1,a\n").await;
    s.pump();
    let file = json_of(&run(bin().args(["file", &key, "--json"])));
    let status = json_of(&run(bin().args(["status", "--feed", "crm_contacts", "--json"])));
    s.exec("DROP VIEW public.crm_contacts").await;

    assert_eq!(file["state"], "stuck", "{file}");
    let error = file["failure"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("crm_contacts"), "{error}");
    assert!(file["failure"]["attempts"].as_u64().is_some_and(|n| n >= 1), "{file}");
    assert!(file["verdict"].as_str().unwrap_or_default().contains("failed"), "{file}");
    assert!(status["feeds"][0]["files_stuck"].as_u64().is_some_and(|n| n >= 1), "{status}");
    let _ = run(bin().args(["redrive", "load-warehouse"]));
}

/// v1 and v2 of one key, v2 parsed and loaded first: `landfall file` shows
/// v2 loaded and, asked for v1's version, v1 superseded with the reason.
#[tokio::test]
async fn an_older_version_loaded_after_a_newer_one_is_superseded_in_landfall_file() {
    let s = Stack::start().await;
    let key = format!("{}contacts.csv", unique("crm/"));
    let mut versions = Vec::new();
    for body in ["id,name\n1,old\n", "id,name\n1,new\n"] {
        let put =
            s.s3.put_object().bucket(&s.stack.landing_bucket).key(&key).body(ByteStream::from_static(body.as_bytes()));
        versions.push(put.send().await.unwrap().version_id().unwrap_or_default().to_owned());
    }
    let queue = s.stack.queue("parse-file").unwrap().url.clone();
    let mut bodies = Vec::new();
    while bodies.len() < 2 {
        let out =
            s.sqs.receive_message().queue_url(&queue).max_number_of_messages(10).wait_time_seconds(1).send().await;
        for m in out.unwrap().messages() {
            bodies.push(m.body().unwrap_or_default().to_owned());
            let handle = m.receipt_handle().unwrap_or_default();
            s.sqs.delete_message().queue_url(&queue).receipt_handle(handle).send().await.unwrap();
        }
    }
    // v2's event (it names v2's version id) first.
    bodies.sort_by_key(|b| !b.contains(&versions[1]));
    for body in &bodies {
        s.sqs.send_message().queue_url(&queue).message_body(body).send().await.unwrap();
        s.pump();
    }

    let v2 = json_of(&run(bin().args(["file", &key, "--json"])));
    let v1 = json_of(&run(bin().args(["file", &key, "--version-id", &versions[0], "--json"])));
    assert_eq!((v2["state"].as_str(), v1["state"].as_str()), (Some("loaded"), Some("superseded")), "{v1}");
    let verdict = v1["verdict"].as_str().unwrap_or_default();
    assert!(verdict.starts_with("superseded in public.crm_contacts") && verdict.contains("newer version"), "{verdict}");
}

/// A file parse-file fails on (the table's column map is not a column map:
/// an operator's edit gone wrong) never gets a manifest; `landfall file`
/// still says why and how often, from the record parse-file left in the
/// curated bucket, and `status` counts it stuck.
#[tokio::test]
async fn a_file_parse_file_failed_on_shows_its_error_and_attempts_in_landfall_file() {
    let s = Stack::start().await;
    let map_key = "_columns/crm_contacts.json";
    let map = s.s3.get_object().bucket(&s.stack.curated_bucket).key(map_key).send().await.ok();
    let map = match map {
        Some(o) => Some(o.body.collect().await.map(|b| b.into_bytes().to_vec()).unwrap_or_default()),
        None => None,
    };
    let put_map = |body: Vec<u8>| {
        s.s3.put_object().bucket(&s.stack.curated_bucket).key(map_key).body(ByteStream::from(body)).send()
    };
    put_map(b"not a column map".to_vec()).await.unwrap();
    let key = format!("{}contacts.csv", unique("crm/"));
    s.put(&key, "id,name\n1,a\n").await;
    s.pump();
    let file = json_of(&run(bin().args(["file", &key, "--json"])));
    let status = json_of(&run(bin().args(["status", "--feed", "crm_contacts", "--json"])));
    match map {
        Some(body) => drop(put_map(body).await),
        None => drop(s.s3.delete_object().bucket(&s.stack.curated_bucket).key(map_key).send().await),
    }
    let _ = run(bin().args(["redrive", "parse-file"]));
    s.pump();

    assert_eq!(file["state"], "stuck", "{file}");
    assert_eq!(file["failure"]["stage"], "parse-file", "{file}");
    assert_eq!(file["failure"]["disposition"], "dead_letter", "{file}");
    let error = file["failure"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("_columns/crm_contacts.json") && error.contains("not valid"), "{error}");
    assert!(file["failure"]["attempts"].as_u64().is_some_and(|n| n >= 1), "{file}");
    let verdict = file["verdict"].as_str().unwrap_or_default();
    assert!(verdict.contains("parse-file failed") && verdict.contains("landfall redrive parse-file"), "{verdict}");
    assert!(status["feeds"][0]["files_stuck"].as_u64().is_some_and(|n| n >= 1), "{status}");
    let after = json_of(&run(bin().args(["file", &key, "--json"])));
    assert_eq!(after["state"], "loaded", "redriven after the fix, the file loads and is stuck no more: {after}");
}

/// Values with quotes, backslashes and newlines, numbers, booleans and nulls:
/// what `infer` and `preview` print in `--json` is each value as JSON, so a
/// script reads back exactly what the file held.
#[test]
fn infer_and_preview_json_carry_typed_values_a_script_can_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("products.csv");
    let csv = "sku,name,price,active,note\n\
               1,\"Men's Boxer, 5\"\" Inseam\",12.5,true,\"C:\\temp\\new\"\n\
               2,\"two\nlines\",7,false,\n";
    std::fs::write(&file, csv).unwrap();
    let inferred = json_of(&run(bin().arg("infer").arg(&file).args(["--feed-name", "products", "--json"])));
    let config = dir.path().join("landfall.yaml");
    let block = inferred["feed_block"].as_str().expect("a feed block");
    std::fs::write(&config, format!("version: 1\nfeeds:\n{block}")).unwrap();
    let previewed = json_of(&run(bin()
        .arg("preview")
        .arg(&file)
        .args(["--feed", "products", "--config"])
        .arg(&config)
        .arg("--json")));
    for v in [inferred, previewed] {
        let rows = v["sample"].as_array().expect("sample rows");
        assert_eq!(rows[0]["sku"], Value::from(1));
        assert_eq!(rows[0]["name"], Value::from("Men's Boxer, 5\" Inseam"));
        // A decimal is its exact text; a double would be a JSON number.
        let price = rows[0]["price"].as_f64().or_else(|| rows[0]["price"].as_str().and_then(|p| p.parse().ok()));
        assert_eq!(price, Some(12.5), "{}", rows[0]["price"]);
        assert_eq!(rows[0]["active"], Value::Bool(true));
        assert_eq!(rows[0]["note"], Value::from("C:\\temp\\new"));
        assert_eq!(rows[1]["name"], Value::from("two\nlines"));
        assert_eq!(rows[1]["note"], Value::Null);
    }
}

#[test]
fn preview_reads_a_local_file_as_a_configured_feed_without_aws() {
    let sample = repo().join("events/samples/orders/2026-11-01/orders.csv");
    let config = repo().join("config/landfall.yaml");
    let mut c = bin();
    // No AWS at all: nothing to reach, and it still answers.
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:1").arg("preview").arg(&sample).args(["--feed", "orders", "--config"]);
    let v = json_of(&run(c.arg(&config).arg("--json")));
    assert_eq!(v["rows"], 5);
    assert_eq!(v["rejected"], 3);
    let dts: Vec<&String> = v["partitions"].as_object().map(|m| m.keys().collect()).unwrap_or_default();
    assert_eq!(dts, vec!["2026-11-01", "2026-11-02"]);
    assert_eq!(v["rejects"][0]["line"], 5);
}

#[test]
fn output_to_a_pipe_has_no_colour_codes_and_logs_stay_off_stdout() {
    let sample = repo().join("events/samples/orders/2026-11-01/orders.csv");
    let config = repo().join("config/landfall.yaml");
    for args in [&["validate-config"][..], &["preview", "--feed", "orders", "--json"][..]] {
        let mut c = bin();
        c.env("RUST_LOG", "debug").env("AWS_ENDPOINT_URL", "http://127.0.0.1:1").args(args);
        if args[0] == "preview" {
            c.arg(&sample).arg("--config");
        }
        let out = run(c.arg(&config));
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(!bytes.contains(&0x1b), "{args:?}: an escape code on {name}");
        }
        if args[0] == "preview" {
            assert!(!out.stderr.is_empty(), "debug logs were written, on stderr");
            json_of(&out);
        }
    }
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish_with_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(bin().args(["completions", shell]));
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for sub in ["status", "rejects", "validate-config", "doctor"] {
            assert!(script.contains(sub), "{shell} completes {sub}");
        }
    }
    assert_eq!(run(bin().args(["completions", "cmd.exe"])).status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn man_writes_a_page_for_the_cli_and_each_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(bin().arg("man").arg(dir.path()));
    assert!(out.status.success());
    let page = std::fs::read_to_string(dir.path().join("landfall-file.1")).unwrap();
    assert!(page.starts_with(".ie") || page.contains(".TH"), "roff: {page}");
    assert!(page.contains("landfall file"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(dir.path().join(format!("landfall-{sub}.1")).is_file(), "landfall-{sub}.1");
    }
    assert!(dir.path().join("landfall.1").is_file());
}

#[test]
fn validate_config_names_the_line_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "version: 1\nfeeds:\n  x:\n    prefix: x/\n    write_disposition: sideways\n").unwrap();
    let out = run(bin().arg("validate-config").arg(&bad));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:", bad.display())) && err.contains('5'), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_file_is_parsed_and_loaded_by_the_pump() {
    let s = Stack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.csv");
    std::fs::write(&path, legacy_csv(21)).unwrap();
    let key = format!("{}dropped.csv", unique("legacy/"));
    let out = run(bin().arg("drop").arg(&path).arg(&key));
    assert!(out.status.success());
    s.pump();
    let v = json_of(&run(bin().args(["file", &key, "--json"])));
    assert_eq!((v["state"].as_str(), v["ledger"]["rows_loaded"].as_u64()), (Some("loaded"), Some(2)));
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_runs_a_source_against_a_local_server_and_its_pages_load() {
    let s = Stack::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new("python3")
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
        .arg(repo().join("events/api/demo"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 http.server");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let base = format!("http://127.0.0.1:{port}");
    let out = run(bin().args(["fetch", "demo_leads", "--base-url", &base, "--json"]));
    // Stop the server this test started, by its own handle.
    let _ = server.kill();
    let _ = server.wait();
    let v = json_of(&out);
    assert!(v["run"]["pages"].as_u64().is_some_and(|p| p >= 1), "{v}");
    assert_eq!(v["drained"], true);
    let rows = s.sql("SELECT count(*) FROM public.demo_leads").await;
    assert!(rows >= 1, "the fetched pages loaded: {rows} row(s)");
}

#[tokio::test]
async fn jobs_lists_the_configured_jobs_with_their_last_run() {
    let _stack = Stack::start().await;
    let listed = json_of(&run(bin().args(["jobs", "--json"])));
    let names: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|j| j["job"].as_str()).collect();
    assert_eq!(names, vec!["clicks_per_partner_daily", "clicks_report", "partner_clicks_archive"], "{listed}");
    let report = &listed[1];
    assert_eq!((report["kind"].as_str(), report["schedule"].is_null()), (Some("export"), true), "{report}");
    assert_eq!(report["depends_on"][0], "clicks_per_partner_daily");
    assert!(listed[0].get("last_run").is_some(), "{listed}");
    let missing = run(bin().args(["jobs", "--job", "no_such_job"]));
    assert_eq!(missing.status.code(), Some(3));
    let missing = run(bin().args(["run-job", "no_such_job"]));
    assert_eq!(missing.status.code(), Some(3));
}

/// A command's JSON on stdout, whatever its exit code.
fn json_anyway(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"].as_array().and_then(|c| c.iter().find(|c| c["check"] == name)).expect("the check is reported")
}

#[tokio::test]
async fn doctor_passes_on_the_stack_and_names_the_fix_for_each_failure_it_finds() {
    let s = Stack::start().await;
    let ok = json_of(&run(bin().args(["doctor", "--json"])));
    assert_eq!(ok["failed"], 0, "{ok}");
    assert_eq!(check(&ok, "config")["verdict"], "pass");
    assert_eq!(check(&ok, "warehouse")["verdict"], "pass");
    assert_eq!(check(&ok, "grants monitor-feeds")["verdict"], "pass", "the stack's user owns what it reads");

    // The bucket's config is not the repository's.
    let outputs: Value = serde_json::from_slice(&std::fs::read(s.stack.dir.join("outputs.json")).unwrap()).unwrap();
    let url = outputs["config_url"]["value"].as_str().unwrap().to_owned();
    let (bucket, key) = url.trim_start_matches("s3://").split_once('/').unwrap();
    let original = std::fs::read(repo().join("config/landfall.yaml")).unwrap();
    let mut changed = original.clone();
    changed.extend_from_slice(b"# edited in the console\n");
    s.s3.put_object().bucket(bucket).key(key).body(ByteStream::from(changed)).send().await.unwrap();
    let drift = run(bin().args(["doctor", "--json"]));
    s.s3.put_object().bucket(bucket).key(key).body(ByteStream::from(original)).send().await.unwrap();
    assert_eq!(drift.status.code(), Some(1));
    let drift = json_anyway(&drift);
    let config = check(&drift, "config");
    assert_eq!(config["verdict"], "fail");
    assert!(config["fix"].as_str().unwrap().contains("aws s3 cp "), "{config}");

    // A warehouse user that may not create the landfall schema.
    let (client, conn) = tokio_postgres::connect(&s.stack.database_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'landfall_doctor_nobody') THEN \
             CREATE ROLE landfall_doctor_nobody LOGIN; END IF; END $$; CREATE SCHEMA IF NOT EXISTS landfall",
        )
        .await
        .unwrap();
    let (scheme, rest) = s.stack.database_url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    // No password in the URL (the config refuses one); the stack's server trusts loopback.
    let nobody = format!("{scheme}://landfall_doctor_nobody@{host}");
    let denied = run(bin().env("LANDFALL_WAREHOUSE_URL", &nobody).args(["doctor", "--json"]));
    assert_eq!(denied.status.code(), Some(1));
    let denied = json_anyway(&denied);
    let warehouse = check(&denied, "warehouse");
    assert_eq!(warehouse["verdict"], "fail");
    let fix = warehouse["fix"].as_str().unwrap();
    assert!(fix.starts_with("GRANT CREATE ON DATABASE ") && fix.contains("TO \"landfall_doctor_nobody\";"), "{fix}");
    assert_eq!(check(&denied, "config")["verdict"], "pass", "one failure at a time");
    let grants = check(&denied, "grants monitor-feeds");
    assert_eq!(grants["verdict"], "fail");
    let fix = grants["fix"].as_str().unwrap();
    assert!(fix.contains("GRANT USAGE ON SCHEMA \"landfall\" TO \"landfall_doctor_nobody\";"), "{fix}");
}
