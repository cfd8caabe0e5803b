//! run-job against the local stack's PostgreSQL, S3 and Glue (moto): the
//! atomic swap under a concurrent reader, the incremental watermark over
//! three runs, `after` and `depends_on`, an export streamed to S3, and an
//! archive stopped between its upload and its delete, then run again.
//!
//! Needs the local stack: `infra/stack up`.

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use arrow_array::{Array, Int64Array};
use landfall::config::Config;
use landfall::storage::{ObjectStore, S3Store, s3_client};
use landfall_infra::LocalStack;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use run_job::{Payload, RunJob, RunReport};

/// The tests' own schema: the stack's `public` holds the feeds' tables, which the demo lists.
const SCHEMA: &str = "jobs_e2e";

struct Rig {
    stack: LocalStack,
    store: S3Store,
    db: tokio_postgres::Client,
}

impl Rig {
    async fn new() -> Rig {
        let stack = LocalStack::discover().unwrap_or_else(|e| panic!("{e}"));
        let sdk = stack.sdk_config().await;
        let db = landfall_tests::warehouse(&stack).await;
        Rig { store: S3Store::new(s3_client(&sdk)), stack, db }
    }

    fn config(&self, jobs: &str) -> String {
        format!(
            "version: 1\nwarehouse:\n  driver: postgres\n  url: {}\n  schema: {SCHEMA}\njobs:\n{jobs}",
            self.stack.database_url
        )
    }

    async fn runner(&self, jobs: &str) -> RunJob {
        let config = Config::from_yaml(&self.config(jobs), "run_job.yaml").unwrap_or_else(|e| panic!("{e}"));
        landfall_tests::job_runner(&self.stack, config).await
    }

    async fn exec(&self, sql: &str) {
        self.db.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let rows =
            landfall::warehouse::postgres::text_rows(&self.db, sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        rows.into_iter().map(|r| r.into_iter().map(|v| v.unwrap_or_else(|| "NULL".into())).collect()).collect()
    }

    async fn scalar(&self, sql: &str) -> String {
        self.rows(sql)
            .await
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or_else(|| panic!("{sql}: no rows"))
    }

    /// Forgets the jobs' runs, so a test starts from nothing however often it has run.
    async fn forget(&self, jobs: &[&str], tables: &[&str]) {
        // Concurrent CREATE SCHEMA IF NOT EXISTS can collide in PostgreSQL's catalog.
        self.exec(&format!("BEGIN; SELECT pg_advisory_xact_lock(7); CREATE SCHEMA IF NOT EXISTS {SCHEMA}; COMMIT"))
            .await;
        for t in tables {
            let kind = format!(
                "SELECT relkind::text FROM pg_class WHERE relname = '{t}' AND relnamespace = 'jobs_e2e'::regnamespace"
            );
            let what = match self.rows(&kind).await.first().map(|r| r[0].as_str()) {
                Some("v") => "VIEW",
                Some(_) => "TABLE",
                None => continue,
            };
            self.exec(&format!("DROP {what} IF EXISTS jobs_e2e.{t} CASCADE")).await;
        }
        let names: Vec<String> = jobs.iter().map(|j| format!("'{j}'")).collect();
        let _ =
            self.db.batch_execute(&format!("DELETE FROM landfall.job_runs WHERE job IN ({})", names.join(", "))).await;
    }
}

async fn run(runner: &RunJob, job: &str) -> Vec<RunReport> {
    runner.run(&Payload { job: job.into(), from: None, to: None }).await.unwrap_or_else(|e| panic!("{job}: {e}"))
}

#[tokio::test]
async fn a_swapped_table_is_never_missing_for_a_concurrent_reader() {
    let rig = Rig::new().await;
    rig.forget(&["jobs_swap"], &["jobs_swap_src", "jobs_swap"]).await;
    rig.exec("CREATE TABLE jobs_e2e.jobs_swap_src AS SELECT g AS id FROM generate_series(1, 1000) g").await;
    // The build sleeps, so readers overlap it and the swap.
    let jobs = "  jobs_swap:\n    kind: transform\n    schedule: rate(1 hour)\n    sql: SELECT s.id, s.id * 2 AS v FROM jobs_e2e.jobs_swap_src s CROSS JOIN LATERAL (SELECT pg_sleep(0.3)) z\n";
    let runner = rig.runner(jobs).await;
    run(&runner, "jobs_swap").await;
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let url = rig.stack.database_url.clone();
        tokio::spawn(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match client.query_one("SELECT count(*) FROM jobs_e2e.jobs_swap", &[]).await {
                    Ok(row) => seen.push(Ok(row.get::<_, i64>(0))),
                    Err(e) => seen.push(Err(e.to_string())),
                }
            }
            seen
        })
    };
    let started = Instant::now();
    for round in 1..=4 {
        rig.exec(&format!(
            "INSERT INTO jobs_e2e.jobs_swap_src SELECT g FROM generate_series({}, {}) g",
            1000 * round + 1,
            1000 * round + 1000
        ))
        .await;
        let report = run(&runner, "jobs_swap").await;
        assert_eq!(report[0].rows, Some(1000 * (round + 1)), "{report:?}");
    }
    stop.store(true, Ordering::Relaxed);
    let seen = reader.await.unwrap();
    let errors: Vec<&String> = seen.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(errors.is_empty(), "the reader failed {} times, first: {:?}", errors.len(), errors.first());
    let counts: BTreeSet<i64> = seen.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
    assert!(counts.iter().all(|c| [1000, 2000, 3000, 4000, 5000].contains(c)), "{counts:?}");
    assert!(counts.len() >= 2, "the reader saw the swaps happen: {counts:?}");
    eprintln!("swap: {} reads over {:?}, counts seen {counts:?}, none empty or failed", seen.len(), started.elapsed());
    let leftovers = rig.scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'jobs_swap__landfall%'").await;
    assert_eq!(leftovers, "0");
}

#[tokio::test]
async fn a_swap_keeps_the_tables_grants_and_refuses_under_a_view_bound_to_it() {
    let rig = Rig::new().await;
    rig.forget(&["jobs_grants"], &["jobs_grants_view", "jobs_grants", "jobs_grants_src"]).await;
    rig.exec(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'landfall_jobs_reader') THEN \
         CREATE ROLE landfall_jobs_reader; END IF; END $$",
    )
    .await;
    rig.exec("CREATE TABLE jobs_e2e.jobs_grants_src AS SELECT g AS id FROM generate_series(1, 10) g").await;
    let jobs = "  jobs_grants:\n    kind: transform\n    schedule: rate(1 hour)\n    sql: SELECT id FROM jobs_e2e.jobs_grants_src\n";
    let runner = rig.runner(jobs).await;
    run(&runner, "jobs_grants").await;
    rig.exec("GRANT SELECT ON jobs_e2e.jobs_grants TO landfall_jobs_reader").await;
    let may_read = "SELECT has_table_privilege('landfall_jobs_reader', 'jobs_e2e.jobs_grants', 'SELECT')::text";
    run(&runner, "jobs_grants").await;
    assert_eq!(rig.scalar(may_read).await, "true", "the grant survives the swap");

    rig.exec("CREATE VIEW jobs_e2e.jobs_grants_view AS SELECT id FROM jobs_e2e.jobs_grants").await;
    let refused = runner.run(&Payload { job: "jobs_grants".into(), from: None, to: None }).await;
    let e = refused.expect_err("a view bound to the table refuses the swap");
    assert!(e.to_string().contains("views depend on it (jobs_e2e.jobs_grants_view)"), "{e}");
    assert_eq!(e.disposition(), landfall::disposition::Disposition::DeadLetter);
    assert_eq!(rig.scalar("SELECT count(*) FROM jobs_e2e.jobs_grants_view").await, "10", "the view still reads");
}

#[tokio::test]
async fn an_incremental_transform_keeps_its_watermark_over_three_runs() {
    let rig = Rig::new().await;
    rig.forget(&["jobs_inc"], &["jobs_inc_src", "jobs_inc"]).await;
    rig.exec(
        "CREATE TABLE jobs_e2e.jobs_inc_src (id bigint, status text, updated_at timestamptz);
         INSERT INTO jobs_e2e.jobs_inc_src VALUES (1, 'new', '2026-11-01T10:00:00Z'), (2, 'new', '2026-11-01T11:00:00Z'), (3, 'new', '2026-11-01T12:00:00Z')",
    )
    .await;
    let jobs = "  jobs_inc:\n    kind: transform\n    materialize: incremental\n    schedule: rate(1 hour)\n    watermark: updated_at\n    primary_key: [id]\n    sql: SELECT id, status, updated_at FROM jobs_e2e.jobs_inc_src\n";
    let runner = rig.runner(jobs).await;
    let first = run(&runner, "jobs_inc").await;
    assert_eq!(first[0].rows, Some(3));
    // Run 2: one row changed (newer), two new, and one late row below the watermark.
    rig.exec(
        "UPDATE jobs_e2e.jobs_inc_src SET status = 'paid', updated_at = '2026-11-02T09:00:00Z' WHERE id = 1;
         INSERT INTO jobs_e2e.jobs_inc_src VALUES (4, 'new', '2026-11-02T10:00:00Z'), (5, 'new', '2026-11-02T11:00:00Z'), (6, 'late', '2026-10-01T00:00:00Z')",
    )
    .await;
    let second = run(&runner, "jobs_inc").await;
    assert_eq!(second[0].rows, Some(3), "{second:?}");
    let third = run(&runner, "jobs_inc").await;
    assert_eq!(third[0].rows, Some(0), "{third:?}");
    let table = rig.rows("SELECT id, status FROM jobs_e2e.jobs_inc ORDER BY id").await;
    let want: Vec<Vec<String>> = [("1", "paid"), ("2", "new"), ("3", "new"), ("4", "new"), ("5", "new")]
        .iter()
        .map(|(a, b)| vec![a.to_string(), b.to_string()])
        .collect();
    assert_eq!(table, want, "merged on id, the late row left out");
    let marks = rig
        .rows("SELECT status, rows_written, watermark FROM landfall.job_runs WHERE job = 'jobs_inc' ORDER BY started")
        .await;
    assert_eq!(
        marks,
        vec![
            vec!["succeeded".to_string(), "3".into(), "2026-11-01 12:00:00+00".into()],
            vec!["succeeded".into(), "3".into(), "2026-11-02 11:00:00+00".into()],
            vec!["succeeded".into(), "0".into(), "2026-11-02 11:00:00+00".into()],
        ]
    );
    // A backfill window re-reads below the watermark.
    let window = Payload {
        job: "jobs_inc".into(),
        from: Some("2026-10-01T00:00:00Z".into()),
        to: Some("2026-10-02T00:00:00Z".into()),
    };
    let backfill = runner.run(&window).await.unwrap();
    assert_eq!(backfill[0].rows, Some(1));
    assert_eq!(rig.scalar("SELECT count(*) FROM jobs_e2e.jobs_inc").await, "6");
}

#[tokio::test]
async fn after_skips_until_a_table_loads_and_dependents_follow() {
    let rig = Rig::new().await;
    rig.forget(&["jobs_after", "jobs_after_next"], &["jobs_after", "jobs_after_next"]).await;
    let d = landfall::warehouse::Dialect::Postgres;
    rig.exec(&format!("{}; {}", d.create_schema("landfall"), d.create_ledger())).await;
    rig.exec("DELETE FROM landfall.load_ledger WHERE table_name = 'jobs_e2e.jobs_after_loaded'").await;
    let jobs = "  jobs_after:\n    kind: transform\n    materialize: view\n    schedule: rate(1 hour)\n    after: [jobs_after_loaded]\n    sql: SELECT 1 AS n\n\
                \x20 jobs_after_next:\n    kind: transform\n    depends_on: [jobs_after]\n    sql: SELECT n + 1 AS m FROM jobs_e2e.jobs_after\n";
    let runner = rig.runner(jobs).await;
    let insert = |file: &str| {
        format!(
            "INSERT INTO landfall.load_ledger VALUES ('jobs_e2e.jobs_after_loaded', '{file}', 'f', 's3://l/{file}', NULL, 'm', 'loaded', 1, 0, 'l', now(), '{{}}')"
        )
    };
    let none = run(&runner, "jobs_after").await;
    assert_eq!((none.len(), none[0].status.as_str()), (1, "skipped"), "{none:?}");
    rig.exec(&insert("a")).await;
    let ran = run(&runner, "jobs_after").await;
    let statuses: Vec<(&str, &str)> = ran.iter().map(|r| (r.job.as_str(), r.status.as_str())).collect();
    assert_eq!(statuses, vec![("jobs_after", "succeeded"), ("jobs_after_next", "succeeded")]);
    assert_eq!(rig.scalar("SELECT m FROM jobs_e2e.jobs_after_next").await, "2");
    let again = run(&runner, "jobs_after").await;
    assert_eq!(again[0].status, "skipped");
    assert!(again[0].reason.as_deref().unwrap_or("").contains("since the last run"), "{again:?}");
    rig.exec(&insert("b")).await;
    assert_eq!(run(&runner, "jobs_after").await[0].status, "succeeded");
    // A dependent that fails is retried by the next invocation, even though its upstream then has nothing to do.
    let broken =
        rig.runner(&jobs.replace("SELECT n + 1 AS m FROM jobs_e2e.jobs_after", "SELECT m FROM jobs_e2e.no_such")).await;
    rig.exec(&insert("c")).await;
    let failed = broken.run(&Payload { job: "jobs_after".into(), from: None, to: None }).await;
    assert!(failed.is_err(), "{failed:?}");
    let retried = run(&runner, "jobs_after").await;
    let statuses: Vec<(&str, &str)> = retried.iter().map(|r| (r.job.as_str(), r.status.as_str())).collect();
    assert_eq!(statuses, vec![("jobs_after", "skipped"), ("jobs_after_next", "succeeded")]);
}

#[tokio::test]
async fn an_export_streams_gzipped_csv_into_a_multipart_upload() {
    let rig = Rig::new().await;
    rig.forget(&["jobs_export"], &[]).await;
    // About 34 MB of CSV, 15 MB gzipped: two parts. Text with commas, quotes and newlines.
    let sql = "SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS a, CASE WHEN g % 1000 = 0 THEN 'say \"hi\",' || chr(10) || 'there' END AS b FROM generate_series(1, 300000) g";
    let jobs = format!("  jobs_export:\n    kind: export\n    schedule: rate(1 day)\n    sql: |\n      {sql}\n");
    let runner = rig.runner(&jobs).await;
    let started = Instant::now();
    let report = run(&runner, "jobs_export").await;
    let elapsed = started.elapsed();
    let r = &report[0];
    assert_eq!(r.rows, Some(300_000), "{r:?}");
    let key = r.detail["keys"][0].as_str().unwrap().to_owned();
    assert!(key.starts_with("exports/jobs_export/dt=") && key.ends_with(&format!("/{}.csv.gz", r.run_id)), "{key}");
    let body = rig.store.get_bytes(&rig.stack.curated_bucket, &key).await.unwrap();
    assert_eq!(Some(body.len() as u64), r.bytes);
    assert!(body.len() > 8 << 20, "more than one part: {}", body.len());
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(&body[..]).read_to_end(&mut text).unwrap();
    assert!(text.starts_with(b"id,a,b\n1,"), "{:?}", String::from_utf8_lossy(&text[..40]));
    assert_eq!(run_job::count_csv_records(&text), 300_001);
    assert!(r.detail["link"].as_str().is_some_and(|l| l.contains("X-Amz-Signature")), "{:?}", r.detail);
    let ledger = rig
        .rows(&format!(
            "SELECT status, rows_written, bytes_written FROM landfall.job_runs WHERE run_id = '{}'",
            r.run_id
        ))
        .await;
    assert_eq!(ledger, vec![vec!["succeeded".to_string(), "300000".into(), body.len().to_string()]]);
    eprintln!("export: 300,000 rows, {} MB CSV, {} bytes gzipped, in {elapsed:?}", text.len() >> 20, body.len());
}

/// Every `id` in the archive's Parquet parts.
async fn archived_ids(rig: &Rig, prefix: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for (key, _) in rig.store.list(&rig.stack.curated_bucket, prefix).await.unwrap() {
        let bytes = rig.store.get_bytes(&rig.stack.curated_bucket, &key).await.unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap().build().unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let col = batch.column_by_name("id").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().clone();
            ids.extend((0..col.len()).map(|i| col.value(i)));
        }
    }
    ids
}

#[tokio::test]
async fn an_archive_killed_with_sigkill_between_upload_and_delete_is_finished_by_the_next_run() {
    let rig = Rig::new().await;
    rig.forget(&["jobs_archive"], &["jobs_arch"]).await;
    let s3 = s3_client(&rig.stack.sdk_config().await);
    for (key, _) in rig.store.list(&rig.stack.curated_bucket, "archive/jobs_arch/").await.unwrap() {
        s3.delete_object().bucket(&rig.stack.curated_bucket).key(key).send().await.unwrap();
    }
    let glue = aws_sdk_glue::Client::new(&rig.stack.sdk_config().await);
    let _ = glue.delete_table().database_name(&rig.stack.glue_database).name("archive_jobs_arch").send().await;
    // 10 days of 100 rows from 405 to 396 days ago: the 5 oldest days (500 rows) are older than 400 days.
    rig.exec(
        "CREATE TABLE jobs_e2e.jobs_arch (id bigint, amount numeric(12,2), note varchar(64), paid boolean, at timestamptz, \
         dt date, _landfall_file varchar(256), _landfall_row bigint, _landfall_loaded_at timestamptz);
         INSERT INTO jobs_e2e.jobs_arch SELECT g, g / 100.0, 'n, \"' || g || '\"', g % 2 = 0, now() - interval '400 days', \
         current_date - (405 - (g - 1) / 100), 's3://landing/f.csv', g, now() FROM generate_series(1, 1000) g",
    )
    .await;
    let jobs = "  jobs_archive:\n    kind: archive\n    schedule: rate(1 day)\n    table: jobs_arch\n    older_than: 400d\n    vacuum: true\n";
    // An analyst's open transaction holds one of the old rows: the archive's lock (SHARE ROW
    // EXCLUSIVE) is granted beside it and its copy reads past it, but its DELETE waits for it,
    // so the run is held after its upload and its catalog entry, before its delete.
    let holder = landfall_tests::warehouse(&rig.stack).await;
    holder.batch_execute("BEGIN; SELECT id FROM jobs_e2e.jobs_arch WHERE id = 1 FOR UPDATE").await.unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_job-child"))
        .args(["jobs_archive", &rig.config(jobs)])
        .spawn()
        .expect("job-child starts");
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM \"jobs_e2e\".\"jobs_arch\"%'";
    let started = Instant::now();
    while rig.scalar(waiting).await != "1" {
        assert!(child.try_wait().unwrap().is_none(), "job-child ended before its delete");
        assert!(started.elapsed().as_secs() < 120, "job-child never reached its delete");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let parked = archived_ids(&rig, "archive/jobs_arch/").await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    holder.batch_execute("ROLLBACK").await.unwrap();
    // Killed between upload and delete: files and catalog are there, every row still in the warehouse.
    assert_eq!(parked.len(), 500, "the parts were uploaded before the delete");
    assert_eq!(rig.scalar("SELECT count(*) FROM jobs_e2e.jobs_arch").await, "1000");
    let table =
        glue.get_table().database_name(&rig.stack.glue_database).name("archive_jobs_arch").send().await.unwrap();
    let location =
        table.table().and_then(|t| t.storage_descriptor()).and_then(|s| s.location()).unwrap_or_default().to_owned();
    assert_eq!(location, format!("s3://{}/archive/jobs_arch/", rig.stack.curated_bucket));
    let first =
        rig.rows("SELECT run_id, status, range_from, range_to FROM landfall.job_runs WHERE job = 'jobs_archive'").await;
    assert_eq!((first.len(), first[0][1].as_str(), first[0][2].as_str()), (1, "running", "dt"), "{first:?}");

    let runner = rig.runner(jobs).await;
    let report = run(&runner, "jobs_archive").await;
    assert_eq!(report[0].run_id, first[0][0], "the recorded run is finished, with its range");
    assert_eq!(report[0].rows, Some(500));
    let kept: BTreeSet<i64> =
        rig.rows("SELECT id FROM jobs_e2e.jobs_arch").await.iter().map(|r| r[0].parse().unwrap()).collect();
    let archived = archived_ids(&rig, "archive/jobs_arch/").await;
    let unique: BTreeSet<i64> = archived.iter().copied().collect();
    assert_eq!(archived.len(), unique.len(), "no row twice in the archive");
    assert_eq!(unique.intersection(&kept).count(), 0, "no row in both places");
    assert_eq!(unique.union(&kept).count(), 1000, "no row lost");
    assert_eq!(unique, (1..=500).collect(), "the oldest 500");
    let partitions = glue
        .get_partitions()
        .database_name(&rig.stack.glue_database)
        .table_name("archive_jobs_arch")
        .send()
        .await
        .unwrap();
    assert_eq!(partitions.partitions().len(), 5);
    let again = run(&runner, "jobs_archive").await;
    assert_eq!(again[0].rows, Some(0), "nothing more is old enough");
    assert_eq!(rig.scalar("SELECT count(*) FROM jobs_e2e.jobs_arch").await, "500");
    eprintln!(
        "archive: killed with SIGKILL after {:?} between upload and delete, then finished: 500 archived, 500 kept, 0 lost, 0 in both places",
        started.elapsed()
    );
}
