//! Small-files benchmark: many files of a few rows each through parse-file
//! and load-warehouse, as SQS would hand them over (load-warehouse takes its
//! event source mapping's batch per invocation). Prints files/s per stage and
//! the warehouse transactions per table; asserts only that every row arrived.
//!
//!   infra/stack up
//!   cargo run --profile bench-fast -p landfall-infra --bin landfall-bench-small-files -- [--files 10000] [--rows 20] [--batch 500]
//!
//! Objects live in memory rather than moto (moto is a Python emulator);
//! the warehouse is the stack's PostgreSQL.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use landfall::config::Config;
use landfall::events::ObjectCreated;
use landfall::lambda::Deadline;
use landfall::storage::memory::MemoryStore;
use landfall::telemetry::Metrics;
use landfall::warehouse::postgres::PostgresTarget;
use landfall_infra::{LocalStack, NoSecrets};
use parse_file::Outcome;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

const CONFIG: &str = "feeds:\n  small:\n    prefix: small/\n    format: csv\n    table: bench_small_files\n    partition_column: event_time\nwarehouse:\n  driver: postgres\n  schema: bench\n";

struct Args {
    files: usize,
    rows: usize,
    batch: usize,
}

async fn run(args: Args) -> BenchResult<()> {
    let stack = LocalStack::discover()?;
    let store = Arc::new(MemoryStore::default());
    let config = Arc::new(Config::from_yaml(CONFIG, "bench")?);
    let metrics = Metrics::new("bench");
    let work = tempfile::tempdir()?;
    let target = PostgresTarget::resolve(&stack.database_url, None, &NoSecrets).await?;
    let admin = target.connect().await?;
    admin.batch_execute("CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.bench_small_files").await?;
    let _ = admin.batch_execute("DELETE FROM landfall.load_ledger WHERE table_name = 'bench.bench_small_files'").await;
    let (parse, load) = landfall_infra::bench_rig::parse_and_load(store.clone(), config, target, work.path(), metrics);

    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let keys: Vec<String> = (0..args.files).map(|i| format!("small/run-{run}/{i:06}.csv")).collect();
    for (i, key) in keys.iter().enumerate() {
        let mut csv = String::from("id,event_time,partner_id,event\n");
        for r in 0..args.rows {
            let id = i * args.rows + r;
            csv.push_str(&format!("{id},2026-12-01T{:02}:{:02}:00Z,p{},click\n", r % 24, i % 60, i % 50));
        }
        store.insert("landing", key, csv.as_bytes());
    }
    println!("{} files of {} rows; load-warehouse batches of {}", args.files, args.rows, args.batch);

    let started = Instant::now();
    let mut manifests = Vec::with_capacity(keys.len());
    for key in &keys {
        match parse.process(&ObjectCreated::put("landing", key)).await? {
            Outcome::Written { manifest_key, .. } => manifests.push(("curated".to_owned(), manifest_key)),
            other => return Err(format!("parse-file: {other:?}").into()),
        }
    }
    let parsed = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for batch in manifests.chunks(args.batch.max(1)) {
        let outcome = load.load_manifests(batch, Deadline::never()).await;
        if let Some(e) = outcome.first_error() {
            return Err(e.into());
        }
    }
    let loaded = started.elapsed().as_secs_f64();

    let rows: i64 = admin.query_one("SELECT count(*) FROM bench.bench_small_files", &[]).await?.get(0);
    let transactions: i64 = admin
        .query_one(
            "SELECT count(DISTINCT load_id) FROM landfall.load_ledger WHERE table_name = 'bench.bench_small_files'",
            &[],
        )
        .await?
        .get(0);
    let files = args.files as f64;
    println!("{:<16} {:>9} {:>10}", "stage", "seconds", "files/s");
    println!("{:<16} {:>9.2} {:>10.0}", "parse-file", parsed, files / parsed.max(1e-9));
    println!("{:<16} {:>9.2} {:>10.0}", "load-warehouse", loaded, files / loaded.max(1e-9));
    println!("warehouse transactions for the table: {transactions}; rows committed: {rows}");
    if usize::try_from(rows)? != args.files * args.rows {
        return Err(format!("{rows} rows committed, {} expected", args.files * args.rows).into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut args = Args { files: 10_000, rows: 20, batch: 500 };
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next().map(|v| v.parse::<usize>())) {
            ("--files", Some(Ok(v))) => args.files = v,
            ("--rows", Some(Ok(v))) => args.rows = v,
            ("--batch", Some(Ok(v))) => args.batch = v,
            _ => {
                eprintln!("usage: landfall-bench-small-files [--files 10000] [--rows 20] [--batch 500]");
                return ExitCode::FAILURE;
            }
        }
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
