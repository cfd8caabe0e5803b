//! Database-source benchmark: rows of a PostgreSQL source table to committed
//! warehouse rows through fetch-api (keyset pages, gzipped NDJSON),
//! parse-file and load-warehouse, timed per stage (prints figures; asserts
//! only that every row arrived once).
//!
//!   infra/stack up
//!   cargo run --profile bench-fast -p landfall-infra --bin landfall-bench-source -- [--rows 1000000] [--page-rows 50000]
//!
//! The source is a table in the stack's PostgreSQL (database
//! `landfall_source`, generated once per row count); the warehouse is the
//! same server's `landfall` database. Objects live in memory rather than
//! moto: moto is a Python emulator, and timing it would measure Python.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fetch_api::{FetchApi, HttpClient, Payload, Settings as FetchSettings, http_client};
use landfall::config::Config;
use landfall::events::ObjectCreated;
use landfall::lambda::Deadline;
use landfall::storage::memory::MemoryStore;
use landfall::telemetry::Metrics;
use landfall::warehouse::postgres::PostgresTarget;
use landfall_infra::{LocalStack, NoSecrets};
use parse_file::Outcome;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

const TABLE: &str = "bench_source_events";

fn config(source_url: &str, page_rows: u64) -> String {
    format!(
        "feeds:\n  events:\n    prefix: db/events/\n    format: json\n    table: bench_source_events\n    partition_column: updated_at\n\
         warehouse:\n  driver: postgres\n  schema: bench\n\
         sources:\n  events_db:\n    kind: postgres\n    feed: events\n    url: {source_url}\n    table: public.{TABLE}\n    \
         cursor: {{ column: updated_at, key: [id] }}\n    page_rows: {page_rows}\n"
    )
}

async fn connect(url: &str) -> BenchResult<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// The source table with `rows` rows (kept between runs of the same size).
async fn ensure_source(source_url: &str, rows: u64) -> BenchResult<f64> {
    let db = connect(source_url).await?;
    let have: i64 = match db.query_one(&format!("SELECT count(*) FROM {TABLE}"), &[]).await {
        Ok(row) => row.get(0),
        Err(_) => -1,
    };
    if have == i64::try_from(rows)? {
        return Ok(0.0);
    }
    let started = Instant::now();
    db.batch_execute(&format!(
        "DROP TABLE IF EXISTS {TABLE};
         CREATE TABLE {TABLE} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, user_id bigint NOT NULL,
           event text NOT NULL, amount numeric(12,2), props jsonb);
         INSERT INTO {TABLE} SELECT g, '2026-11-01'::timestamptz + (g / 4) * interval '1 second', g % 5000,
           (ARRAY['view','click','buy'])[1 + g % 3], (g % 100000) / 100.0,
           jsonb_build_object('page', '/p/' || (g % 97), 'ref', 'r' || (g % 13))
         FROM generate_series(1, {rows}) g;
         CREATE INDEX ON {TABLE} (updated_at, id);
         ANALYZE {TABLE};"
    ))
    .await?;
    Ok(started.elapsed().as_secs_f64())
}

async fn run(rows: u64, page_rows: u64) -> BenchResult<()> {
    let stack = LocalStack::discover()?;
    let server = stack.database_url.rsplit_once('/').map_or(stack.database_url.as_str(), |(s, _)| s);
    let source_url = format!("{server}/landfall_source");
    let admin = connect(&stack.database_url).await?;
    let _ = admin.batch_execute("CREATE DATABASE landfall_source").await;
    let generated = ensure_source(&source_url, rows).await?;
    admin.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.{TABLE}")).await?;
    let _ = admin.batch_execute(&format!("DELETE FROM landfall.load_ledger WHERE table_name = 'bench.{TABLE}'")).await;

    let config = Arc::new(Config::from_yaml(&config(&source_url, page_rows), "bench")?);
    let store = Arc::new(MemoryStore::default());
    let metrics = Metrics::new("bench");
    let work = tempfile::tempdir()?;
    let fetch = FetchApi::new(
        config.clone(),
        store.clone(),
        Arc::new(NoSecrets),
        HttpClient::new(http_client().map_err(|e| e.to_string())?, metrics.clone()),
        metrics.clone(),
        FetchSettings {
            landing_bucket: "landing".into(),
            curated_bucket: "curated".into(),
            time_budget: Duration::from_secs(900),
        },
    );
    let target = PostgresTarget::resolve(&stack.database_url, None, &NoSecrets).await?;
    let (parse, load) = landfall_infra::bench_rig::parse_and_load(store.clone(), config, target, work.path(), metrics);

    println!("{rows} source rows, {page_rows} per page; PostgreSQL at {server}");
    if generated > 0.0 {
        println!("(source table generated in {generated:.1} s, not timed below)");
    }
    let total = Instant::now();
    let started = Instant::now();
    let report = fetch.run(&Payload { source: "events_db".into(), start: None, end: None }).await?;
    let fetched = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut manifests = Vec::with_capacity(report.keys.len());
    for key in &report.keys {
        match parse.process(&ObjectCreated::put("landing", key)).await? {
            Outcome::Written { manifest_key, .. } => manifests.push(("curated".to_owned(), manifest_key)),
            other => return Err(format!("parse-file: {other:?}").into()),
        }
    }
    let parsed = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let outcome = load.load_manifests(&manifests, Deadline::never()).await;
    if let Some(e) = outcome.first_error() {
        return Err(e.into());
    }
    let loaded = started.elapsed().as_secs_f64();
    let all = total.elapsed().as_secs_f64();

    let committed: i64 = admin.query_one(&format!("SELECT count(DISTINCT id) FROM bench.{TABLE}"), &[]).await?.get(0);
    let per_s = |secs: f64| rows as f64 / secs.max(1e-9);
    println!("{:<28} {:>9} {:>12}", "stage", "seconds", "rows/s");
    println!("{:<28} {:>9.2} {:>12.0}", format!("fetch ({} pages)", report.pages), fetched, per_s(fetched));
    println!("{:<28} {:>9.2} {:>12.0}", format!("parse-file ({} files)", manifests.len()), parsed, per_s(parsed));
    println!("{:<28} {:>9.2} {:>12.0}", "load-warehouse (1 batch)", loaded, per_s(loaded));
    println!("{:<28} {:>9.2} {:>12.0}", "total", all, per_s(all));
    println!("committed rows: {committed} distinct ids (source: {rows})");
    if u64::try_from(committed)? != rows {
        return Err(format!("{committed} rows committed, {rows} expected").into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut rows, mut page_rows) = (1_000_000u64, 50_000u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next().map(|v| v.parse::<u64>())) {
            ("--rows", Some(Ok(v))) => rows = v,
            ("--page-rows", Some(Ok(v))) => page_rows = v,
            _ => {
                eprintln!("usage: landfall-bench-source [--rows 1000000] [--page-rows 50000]");
                return ExitCode::FAILURE;
            }
        }
    }
    match run(rows, page_rows).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
