//! load-warehouse end to end: files dropped in the landing bucket of the
//! local stack, parsed by parse-file, their manifests' S3 events delivered
//! through the load-warehouse queue, and the rows read back from the
//! stack's real PostgreSQL.
//!
//! The tests use their own feeds (`events/config/e2e.yaml`, keys under
//! `e2e/`), each owning its tables, which it drops before it starts.
//!
//! Needs the local stack: `infra/stack up` (the README's test command does it).

use std::process::Stdio;
use std::time::{Duration, Instant};

use landfall::disposition::Disposition;
use landfall::lambda::Deadline;
use landfall::layout;
use landfall::pipeline::NoticeHandler;
use landfall::rejects::{RejectKind, read_rejects};
use landfall::secrets::SecretsManager;
use landfall::warehouse::Dialect;
use landfall::warehouse::postgres::PostgresTarget;
use landfall_tests::{Harness, warehouse};

/// An S3 notification for one curated object, as S3 would send it.
fn notification(bucket: &str, key: &str) -> String {
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-22T10:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": { "name": bucket, "arn": format!("arn:aws:s3:::{bucket}") },
                "object": { "key": key, "size": 1 }
            }
        }]
    })
    .to_string()
}

async fn ledger(h: &Harness, table: &str) -> Vec<Vec<Option<String>>> {
    h.sql(&format!(
        "SELECT source_url, status, rows_loaded, rows_rejected, detail FROM landfall.load_ledger \
         WHERE table_name = 'public.{table}' ORDER BY loaded_at, source_url"
    ))
    .await
}

/// Whether any parked load-warehouse message concerns this table (other
/// tests' leftovers on a long-lived local stack are not this test's business).
async fn dead_letter_mentions(h: &Harness, table: &str) -> bool {
    let mut found = false;
    loop {
        let batch = h.dead_letters("load-warehouse").await;
        if batch.is_empty() {
            return found;
        }
        found |= batch.iter().any(|b| b.contains(&format!("_manifests/{table}/")));
    }
}

fn text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("NULL")
}

#[tokio::test]
async fn append_adds_each_files_rows_once_with_lineage() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_append"]).await;
    h.ingest("e2e/append/a.csv", "wh_append", "id,name\n1,x\n2,y\n").await;
    h.ingest("e2e/append/b.csv", "wh_append", "id,name\n3,z\n").await;

    assert_eq!(h.column("SELECT id FROM public.wh_append ORDER BY id").await, vec!["1", "2", "3"]);
    let lineage = h
        .sql("SELECT _landfall_file, _landfall_row, dt IS NOT NULL, _landfall_loaded_at IS NOT NULL FROM public.wh_append ORDER BY id")
        .await;
    let url = format!("s3://{}/e2e/append/a.csv", h.stack.landing_bucket);
    assert_eq!(text(&lineage[0][0]), url);
    assert_eq!((text(&lineage[0][1]), text(&lineage[1][1])), ("2", "3"), "source lines, header is line 1");
    assert!(lineage.iter().all(|r| text(&r[2]) == "t" && text(&r[3]) == "t"));

    let l = ledger(&h, "wh_append").await;
    assert_eq!(l.len(), 2);
    assert!(l.iter().all(|r| text(&r[1]) == "loaded"));
    assert_eq!(l.iter().map(|r| text(&r[2]).to_owned()).collect::<Vec<_>>(), vec!["2", "1"]);
}

#[tokio::test]
async fn the_same_manifest_delivered_twice_changes_nothing() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_append"]).await;
    let m = h.ingest("e2e/append/twice.csv", "wh_append", "id,name\n1,x\n2,y\n3,z\n").await;
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_append").await, "3");

    let manifest_key = landfall::layout::manifest_key("wh_append", &m.file_id);
    h.send_to_queue("load-warehouse", &notification(&h.stack.curated_bucket, &manifest_key)).await;
    h.drain().await;
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_append").await, "3");
    assert!(
        h.functions.metrics.get(
            landfall::telemetry::catalog::FILES_SKIPPED.name,
            &[("table", "wh_append"), ("reason", "already_loaded")]
        ) >= 1
    );

    // The same bytes dropped again: same file id, same manifest, no new rows.
    h.ingest("e2e/append/twice.csv", "wh_append", "id,name\n1,x\n2,y\n3,z\n").await;
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_append").await, "3");
    assert_eq!(ledger(&h, "wh_append").await.len(), 1);
}

#[tokio::test]
async fn merge_updates_rows_by_key_and_the_latest_by_order_by_wins() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_merge"]).await;
    h.ingest(
        "e2e/merge/1.csv",
        "wh_merge",
        "id,name,updated_at\n1,a1,2026-11-01T10:00:00Z\n2,b1,2026-11-01T10:00:00Z\n3,c1,2026-11-05T10:00:00Z\n",
    )
    .await;
    h.ingest(
        "e2e/merge/2.csv",
        "wh_merge",
        // 2 is newer; 3 is older than the table's row; 4 comes twice, the later wins.
        "id,name,updated_at\n2,b2,2026-11-02T10:00:00Z\n3,c0,2026-11-04T10:00:00Z\n4,d2,2026-11-03T11:00:00Z\n4,d1,2026-11-03T10:00:00Z\n",
    )
    .await;
    let rows = h.sql("SELECT id, name FROM public.wh_merge ORDER BY id").await;
    let rows: Vec<(String, String)> = rows.iter().map(|r| (text(&r[0]).into(), text(&r[1]).into())).collect();
    assert_eq!(
        rows,
        vec![
            ("1".into(), "a1".into()),
            ("2".into(), "b2".into()),
            ("3".into(), "c1".into()),
            ("4".into(), "d2".into())
        ]
    );
}

#[tokio::test]
async fn merge_without_order_by_keeps_the_last_row_of_the_last_file_and_rejects_null_keys() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_merge_last"]).await;
    h.ingest("e2e/merge-last/1.csv", "wh_merge_last", "id,name\n1,a\n2,b\n").await;
    h.ingest("e2e/merge-last/2.csv", "wh_merge_last", "id,name\n2,b2\n2,b3\n3,c\n,orphan\n").await;
    let rows = h.sql("SELECT id, name FROM public.wh_merge_last ORDER BY id").await;
    let names: Vec<&str> = rows.iter().map(|r| text(&r[1])).collect();
    assert_eq!(names, vec!["a", "b3", "c"]);

    let l = ledger(&h, "wh_merge_last").await;
    assert_eq!((text(&l[1][2]), text(&l[1][3])), ("3", "1"), "3 rows loaded, the null key rejected");
    let detail: serde_json::Value = serde_json::from_str(text(&l[1][4])).unwrap();
    let key = detail["load_rejects"].as_str().expect("a load rejects key");
    let rejects = read_rejects(&h.curated_bytes(key).await.unwrap()).unwrap();
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].line, Some(5));
    assert_eq!(rejects[0].reason, "primary key column id is null");
}

#[tokio::test]
async fn a_merge_of_files_already_loaded_changes_nothing() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_merge_last"]).await;
    let m = h.ingest("e2e/merge-last/again.csv", "wh_merge_last", "id,name\n1,a\n2,b\n").await;
    let key = landfall::layout::manifest_key("wh_merge_last", &m.file_id);
    h.send_to_queue("load-warehouse", &notification(&h.stack.curated_bucket, &key)).await;
    let report = h.drain().await;
    assert_eq!(report.functions["load-warehouse"].failures, 0);
    assert_eq!(h.column("SELECT name FROM public.wh_merge_last ORDER BY id").await, vec!["a", "b"]);
    assert!(!dead_letter_mentions(&h, "wh_merge_last").await);
}

#[tokio::test]
async fn replace_partition_replaces_only_the_partitions_in_the_batch() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_replace"]).await;
    h.ingest("e2e/replace/1.csv", "wh_replace", "day,n\n2026-11-01,1\n2026-11-01,2\n2026-11-02,3\n").await;
    h.ingest("e2e/replace/2.csv", "wh_replace", "day,n\n2026-11-01,9\n").await;
    let rows = h.sql("SELECT dt, n FROM public.wh_replace ORDER BY dt, n").await;
    let rows: Vec<(String, String)> = rows.iter().map(|r| (text(&r[0]).into(), text(&r[1]).into())).collect();
    assert_eq!(rows, vec![("2026-11-01".into(), "9".into()), ("2026-11-02".into(), "3".into())]);
}

#[tokio::test]
async fn the_table_evolves_over_three_files_without_dropping_or_reordering() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_evolve"]).await;
    h.ingest("e2e/evolve/1.csv", "wh_evolve", "id,amount\n1,10\n").await;
    h.ingest("e2e/evolve/2.csv", "wh_evolve", "id,amount,note\n2,10.5,hello\n").await;
    h.ingest("e2e/evolve/3.csv", "wh_evolve", "id,amount,note\nA-7,11,bye\n").await;

    let columns = h
        .sql("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'wh_evolve' ORDER BY ordinal_position")
        .await;
    let columns: Vec<(String, String)> = columns.iter().map(|r| (text(&r[0]).into(), text(&r[1]).into())).collect();
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["id", "amount", "dt", "_landfall_file", "_landfall_row", "_landfall_loaded_at", "note"]);
    assert_eq!(columns[0].1, "character varying", "int widened to text by A-7");
    assert_eq!(columns[1].1, "numeric", "int widened to hold 10.5");

    let rows = h.sql("SELECT id, amount::text, note FROM public.wh_evolve ORDER BY _landfall_loaded_at").await;
    let rows: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(text).collect()).collect();
    assert_eq!(rows, vec![vec!["1", "10.0", "NULL"], vec!["2", "10.5", "hello"], vec!["A-7", "11.0", "bye"]]);

    let l = ledger(&h, "wh_evolve").await;
    let detail: serde_json::Value = serde_json::from_str(text(&l[1][4])).unwrap();
    let changes: Vec<&str> = detail["changes"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
    assert!(changes.iter().any(|c| c.starts_with("widened amount bigint -> numeric(")), "{changes:?}");
    assert!(changes.iter().any(|c| c.starts_with("added note varchar(")), "{changes:?}");
    assert!(text(&l[2][4]).contains("widened id bigint -> varchar("), "{}", text(&l[2][4]));
}

#[tokio::test]
async fn a_frozen_feed_refuses_a_file_that_would_change_the_table() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_frozen"]).await;
    h.ingest("e2e/frozen/1.csv", "wh_frozen", "id,code\n1,7\n").await;

    // Someone changes the declared type; the frozen table must not follow.
    let yaml = std::fs::read_to_string(landfall_infra::stack::repo_root().join("events/config/e2e.yaml"))
        .unwrap()
        .replace("{ name: code, type: int64 }", "{ name: code, type: string }");
    let config = landfall::config::Config::from_yaml(&yaml, "e2e.yaml (code as string)").unwrap();
    let changed = landfall_infra::local::functions_with(&h.stack, config).await.unwrap();
    h.put("e2e/frozen/2.csv", "id,code\n2,X-1\n").await;
    let report = landfall_infra::local::drain(&h.stack, &changed, Duration::from_secs(120)).await.unwrap();
    assert!(report.drained);

    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_frozen").await, "1");
    assert_eq!(
        h.scalar(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'wh_frozen' AND column_name = 'code'"
        )
        .await,
        "bigint"
    );
    let l = ledger(&h, "wh_frozen").await;
    assert_eq!((text(&l[1][1]), text(&l[1][2])), ("refused", "0"));
    let detail: serde_json::Value = serde_json::from_str(text(&l[1][4])).unwrap();
    assert!(detail["reason"].as_str().unwrap().contains("schema_contract freeze"), "{detail}");
    let rejects = read_rejects(&h.curated_bytes(detail["load_rejects"].as_str().unwrap()).await.unwrap()).unwrap();
    assert_eq!(rejects[0].kind, RejectKind::File);
    assert!(!dead_letter_mentions(&h, "wh_frozen").await, "a refused file is recorded, not retried");
}

#[tokio::test]
async fn a_refused_file_loads_once_the_cause_is_fixed_and_it_is_loaded_again() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_frozen"]).await;
    h.ingest("e2e/frozen/1.csv", "wh_frozen", "id,code\n1,7\n").await;
    let e2e = std::fs::read_to_string(landfall_infra::stack::repo_root().join("events/config/e2e.yaml")).unwrap();
    let with = |yaml: String, origin: &str| landfall::config::Config::from_yaml(&yaml, origin).unwrap();
    let strings = e2e.replace("{ name: code, type: int64 }", "{ name: code, type: string }");
    let refusing =
        landfall_infra::local::functions_with(&h.stack, with(strings.clone(), "code as string")).await.unwrap();
    let etag = h.put("e2e/frozen/2.csv", "id,code\n2,X-1\n").await;
    assert!(landfall_infra::local::drain(&h.stack, &refusing, Duration::from_secs(120)).await.unwrap().drained);
    let l = ledger(&h, "wh_frozen").await;
    assert_eq!(text(&l[1][1]), "refused");

    // The fix: the feed may now evolve its table. Loading the file again
    // (what a replay ends in) replaces the refusal with the load.
    let evolving = strings.replace("schema_contract: freeze", "schema_contract: evolve");
    let fixed = landfall_infra::local::functions_with(&h.stack, with(evolving, "evolve")).await.unwrap();
    let manifest = layout::manifest_key("wh_frozen", &h.file_id("e2e/frozen/2.csv", &etag));
    let keys = [(h.stack.curated_bucket.clone(), manifest)];
    let outcome = fixed.load_warehouse.load_manifests(&keys, Deadline::never()).await;
    assert!(outcome.first_error().is_none(), "{:?}", outcome.first_error());
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_frozen").await, "2");
    let l = ledger(&h, "wh_frozen").await;
    assert_eq!(l.len(), 2, "one ledger row per file: the refusal was replaced");
    assert_eq!((text(&l[1][1]), text(&l[1][2])), ("loaded", "1"));

    let again = fixed.load_warehouse.load_manifests(&keys, Deadline::never()).await;
    assert_eq!(again.reports().map(|r| r.already_loaded.len()).sum::<usize>(), 1, "now settled: a no-op");
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_frozen").await, "2");
}

#[tokio::test]
async fn sql_keywords_as_table_and_column_names_are_quoted() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["order"]).await;
    h.ingest("e2e/keywords/1.csv", "order", "select,from,group,\"user \"\"name\"\"\"\n1,a,g1,x\n2,b,g2,y\n").await;
    h.ingest("e2e/keywords/2.csv", "order", "select,from,group,\"user \"\"name\"\"\"\n2,b2,g2,y2\n").await;
    let rows =
        h.sql("SELECT \"select\", \"from\", \"group\", \"user_name\" FROM public.\"order\" ORDER BY \"select\"").await;
    let rows: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(text).collect()).collect();
    assert_eq!(rows, vec![vec!["1", "a", "g1", "x"], vec!["2", "b2", "g2", "y2"]]);
}

#[tokio::test]
async fn a_value_the_column_cannot_hold_rejects_that_row_only() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_bad_values"]).await;
    h.ingest("e2e/bad-values/1.csv", "wh_bad_values", "id,n\n1,5\n").await;
    // An analyst narrows a column the loader created.
    h.sql("ALTER TABLE public.wh_bad_values ALTER COLUMN n TYPE integer").await;
    h.ingest("e2e/bad-values/2.csv", "wh_bad_values", "id,n\n2,6\n3,3000000000\n4,7\n").await;

    assert_eq!(h.column("SELECT id FROM public.wh_bad_values ORDER BY id").await, vec!["1", "2", "4"]);
    let l = ledger(&h, "wh_bad_values").await;
    assert_eq!((text(&l[1][1]), text(&l[1][2]), text(&l[1][3])), ("loaded", "2", "1"));
    let detail: serde_json::Value = serde_json::from_str(text(&l[1][4])).unwrap();
    let rejects = read_rejects(&h.curated_bytes(detail["load_rejects"].as_str().unwrap()).await.unwrap()).unwrap();
    assert_eq!(rejects.len(), 1);
    assert_eq!((rejects[0].line, rejects[0].column.as_deref()), (Some(3), Some("n")));
    assert!(rejects[0].reason.contains("out of range"), "{}", rejects[0].reason);
    assert!(rejects[0].raw.as_deref().unwrap_or("").starts_with("3\t3000000000\t"));
    assert!(!dead_letter_mentions(&h, "wh_bad_values").await);
}

#[tokio::test]
async fn two_loads_of_one_table_racing_leave_each_file_once() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_race"]).await;
    h.put("e2e/race/1.csv", "id\n1\n2\n").await;
    h.put("e2e/race/2.csv", "id\n3\n").await;
    h.drain_only(&["parse-file"]).await;
    let keys: Vec<(String, String)> =
        h.curated_keys("_manifests/wh_race/").await.into_iter().map(|k| (h.stack.curated_bucket.clone(), k)).collect();
    assert_eq!(keys.len(), 2);

    // Three loaders at once on a table that does not exist yet: both files,
    // the second file alone, the first alone.
    let [a, b, c] = h.race_three_loaders(&keys).await;
    assert_eq!(h.column("SELECT id FROM public.wh_race ORDER BY id").await, vec!["1", "2", "3"]);
    assert_eq!(ledger(&h, "wh_race").await.len(), 2);
    let loaded: usize = [&a, &b, &c].iter().flat_map(|o| o.reports()).map(|r| r.files.len()).sum();
    let skipped: usize = [&a, &b, &c].iter().flat_map(|o| o.reports()).map(|r| r.already_loaded.len()).sum();
    assert_eq!((loaded, skipped), (2, 2), "each file recorded by exactly one loader");

    // The S3 events for both manifests are still queued: duplicates now.
    h.drain().await;
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_race").await, "3");
}

#[tokio::test]
async fn a_loader_killed_between_copy_and_commit_leaves_nothing_and_the_retry_loads_once() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_crash"]).await;
    let etag = h.put("e2e/crash/1.csv", "id,name\n1,a\n2,b\n3,c\n").await;
    h.drain_only(&["parse-file"]).await;
    let file_id = h.file_id("e2e/crash/1.csv", &etag);
    let manifest_key = landfall::layout::manifest_key("wh_crash", &file_id);

    // Hold an uncommitted ledger row for the file: the loader's own ledger
    // insert, after its COPY, waits on it, so it is stopped exactly between
    // COPY and COMMIT, in a process of its own.
    let mut blocker = warehouse(&h.stack).await;
    let d = Dialect::Postgres;
    blocker.batch_execute(&d.create_schema("landfall")).await.unwrap();
    blocker.batch_execute(&d.create_ledger()).await.unwrap();
    let txn = blocker.transaction().await.unwrap();
    txn.batch_execute(&format!(
        "INSERT INTO landfall.load_ledger VALUES ('public.wh_crash', '{file_id}', 'x', 'x', NULL, 'x', 'x', 0, 0, 'x', now(), NULL)"
    ))
    .await
    .unwrap();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_load-child"))
        .arg(&manifest_key)
        .env("LANDFALL_STACK_DIR", &h.stack.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'landfall-load-warehouse' \
                   AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"landfall\".\"load_ledger\"%'";
    let started = Instant::now();
    while h.scalar(waiting).await != "1" {
        assert!(started.elapsed() < Duration::from_secs(60), "the loader never reached its ledger insert");
        assert!(child.try_wait().unwrap().is_none(), "the loader exited before reaching its ledger insert");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The rows are copied (visible only inside the loader's transaction).
    child.kill().unwrap();
    child.wait().unwrap();
    txn.rollback().await.unwrap();
    let gone = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'landfall-load-warehouse'";
    let started = Instant::now();
    while h.scalar(gone).await != "0" {
        assert!(started.elapsed() < Duration::from_secs(30), "the killed loader's session lingers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_crash").await, "0", "nothing of the killed load committed");
    assert!(ledger(&h, "wh_crash").await.is_empty());

    // The manifest's event is still queued: the retry loads it, once.
    h.drain().await;
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_crash").await, "3");
    let outcome = h
        .functions
        .load_warehouse
        .load_manifests(&[(h.stack.curated_bucket.clone(), manifest_key)], Deadline::never())
        .await;
    assert_eq!(outcome.reports().map(|r| r.already_loaded.len()).sum::<usize>(), 1);
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_crash").await, "3");
}

#[tokio::test]
async fn five_hundred_small_files_load_in_one_transaction() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_many"]).await;
    let puts = (0..500).map(|i| {
        let h = &h;
        async move { h.put(&format!("e2e/many/{i:03}.csv"), format!("id,v\n{i},x{i}\n")).await }
    });
    futures_join(puts, 16).await;
    h.drain_only(&["parse-file"]).await;

    // Gather the 500 manifest events into one SQS batch, as a batching
    // window would, and hand it to the handler.
    let queue = h.stack.queue("load-warehouse").unwrap().clone();
    let mut records = Vec::new();
    let mut handles = Vec::new();
    let started = Instant::now();
    while records.len() < 500 {
        assert!(started.elapsed() < Duration::from_secs(60), "only {} of 500 manifest events arrived", records.len());
        // Held for the whole test: the stack's 5 s visibility timeout would
        // bring early messages back while the rest are still being received.
        let out = h
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            records.push(serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
            }));
            handles.push(m.receipt_handle().unwrap_or_default().to_owned());
        }
    }
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
    let started = Instant::now();
    let response = h.functions.load_warehouse.handle_sqs(event, Deadline::never()).await;
    let elapsed = started.elapsed();
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    eprintln!("500 files, one batch: loaded in {elapsed:?}");

    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_many").await, "500");
    assert_eq!(
        h.scalar("SELECT count(*) || ' ' || count(DISTINCT load_id) FROM landfall.load_ledger WHERE table_name = 'public.wh_many'").await,
        "500 1",
        "500 files, one load id: one transaction"
    );
    for chunk in handles.chunks(10) {
        for handle in chunk {
            let _ = h.sqs.delete_message().queue_url(&queue.url).receipt_handle(handle).send().await;
        }
    }
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>, limit: usize) {
    use futures_util::StreamExt;
    futures_util::stream::iter(futures).buffer_unordered(limit).collect::<Vec<_>>().await;
}

#[tokio::test]
async fn the_warehouse_password_comes_from_secrets_manager_by_name() {
    let h = Harness::start_e2e().await;
    let sm = aws_sdk_secretsmanager::Client::new(&h.functions.sdk);
    let name = format!("landfall/e2e/warehouse-{}", std::process::id());
    sm.create_secret()
        .name(&name)
        .secret_string(r#"{"username":"landfall","password":"from-the-secret"}"#)
        .send()
        .await
        .unwrap();
    let secrets = SecretsManager::new(&h.functions.sdk);
    let target = PostgresTarget::resolve(&h.stack.database_url, Some(&name), &secrets).await.unwrap();
    assert_eq!(target.config.get_password(), Some(&b"from-the-secret"[..]));
    assert!(!format!("{target:?}").contains("from-the-secret"), "the password never reaches Debug output");
    target.connect().await.unwrap();

    let missing =
        PostgresTarget::resolve(&h.stack.database_url, Some("landfall/e2e/absent"), &secrets).await.unwrap_err();
    assert_eq!(missing.disposition(), Disposition::DeadLetter);
    assert!(missing.to_string().contains("landfall/e2e/absent: it does not exist"), "{missing}");
    let _ = sm.delete_secret().secret_id(&name).force_delete_without_recovery(true).send().await;
}

#[tokio::test]
async fn a_query_on_a_table_that_does_not_exist_reads_as_absent_and_a_missing_column_stays_an_error() {
    let h = Harness::start().await;
    let absent = h.functions.warehouse.query_if_present("SELECT 1 FROM landfall.e2e_never_created").await.unwrap();
    assert!(absent.is_none(), "SQLSTATE 42P01 is nothing recorded yet");
    let e = h
        .functions
        .warehouse
        .query_if_present("SELECT no_such_column FROM information_schema.tables")
        .await
        .unwrap_err();
    assert!(!e.is_undefined_table(), "{e}");
    assert_eq!(e.disposition(), Disposition::DeadLetter, "{e}");
}
