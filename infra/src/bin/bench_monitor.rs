//! Monitor benchmark: the expectations of one feed with 5,000 partners
//! evaluated over 30 days of hourly `landfall.feed_stats` on the local
//! stack's PostgreSQL, through the monitor's one query per feed (prints
//! the time and the number of warehouse queries; asserts nothing).
//!
//!   infra/stack up
//!   cargo run --profile bench-fast -p landfall-infra --bin landfall-bench-monitor -- [--partners 5000] [--days 30] [--runs 3]
//!
//! The stats rows are generated in SQL (one row per partner and hour, as
//! hourly files from every partner would leave them) under the feed
//! `bench_monitor`, which the benchmark owns and replaces on every start;
//! every 1,000th partner sends 16% rejects in the last hour, so each run
//! should open `partners / 1000` alerts.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use landfall::config::Expectations;

use landfall::monitor::{evaluate, reconcile};
use landfall::warehouse::Dialect;
use landfall::warehouse::bookkeeping::feed_series::{parse_series, window};
use landfall::warehouse::postgres::PostgresTarget;
use landfall::warehouse::postgres::text_rows;
use landfall_infra::{LocalStack, NoSecrets};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

const FEED: &str = "bench_monitor";

async fn run(partners: u32, days: u32, runs: usize) -> BenchResult<()> {
    let stack = LocalStack::discover()?;
    let target = PostgresTarget::resolve(&stack.database_url, None, &NoSecrets).await?;
    let client = target.connect().await?;
    let d = Dialect::Postgres;
    client.batch_execute(&d.create_schema("landfall")).await?;
    for s in d.create_feed_stats() {
        client.batch_execute(&s).await?;
    }
    let now = Utc::now().duration_trunc(chrono::Duration::hours(1))?;
    let started = Instant::now();
    client.batch_execute(&format!("DELETE FROM landfall.feed_stats WHERE feed = '{FEED}'")).await?;
    client
        .batch_execute(&format!(
            "INSERT INTO landfall.feed_stats (table_name, feed, dt, dims, rows_loaded, files, rows_rejected, \
             first_event, last_event, load_id, loaded_at) \
             SELECT 'public.{FEED}', '{FEED}', t.at::date, 'partner_id=p' || p, 100 + (p % 7), 1, \
             CASE WHEN p % 1000 = 0 AND h = 0 THEN 20 ELSE p % 3 END, t.at, t.at, \
                    'bench', t.at \
             FROM generate_series(1, {partners}) p CROSS JOIN generate_series(0, {hours}) h \
             CROSS JOIN LATERAL (SELECT TIMESTAMPTZ '{now}' - (h * 3600 + 600) * INTERVAL '1 second' AS at) t; \
             ANALYZE landfall.feed_stats",
            hours = days * 24 - 1,
            now = now.to_rfc3339(),
        ))
        .await?;
    let rows: i64 =
        client.query_one("SELECT count(*) FROM landfall.feed_stats WHERE feed = $1", &[&FEED]).await?.get(0);
    println!(
        "{rows} stats rows ({partners} partners x {days} days, hourly) generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let expect = Expectations {
        every: Some(Duration::from_secs(3600)),
        min_rows: Some(50),
        max_reject_ratio: Some(0.02),
        volume_drop: Some(0.5),
    };
    println!("{:<4} {:>8} {:>9} {:>10} {:>9} {:>9}", "run", "queries", "series", "findings", "query s", "total s");
    for run in 1..=runs {
        let t0 = Instant::now();
        let mut queries = 0;
        let sql = d.feed_series_query(FEED, window(&expect), now);
        queries += 1;
        let result: Vec<Vec<Option<String>>> = text_rows(&client, &sql).await?;
        let query_s = t0.elapsed().as_secs_f64();
        let series = parse_series(&result)?;
        let evaluated: BTreeSet<String> = series.iter().map(|s| s.dims.clone()).collect();
        let findings: Vec<_> = series.iter().flat_map(|s| evaluate(&expect, now, s)).collect();
        let opened = reconcile(&[], &evaluated, findings).opened.len();
        let total_s = t0.elapsed().as_secs_f64();
        println!("{run:<4} {queries:>8} {:>9} {:>10} {query_s:>9.3} {total_s:>9.3}", series.len(), opened);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut partners, mut days, mut runs) = (5000u32, 30u32, 3usize);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next().map(|v| v.parse::<u32>())) {
            ("--partners", Some(Ok(v))) if v > 0 => partners = v,
            ("--days", Some(Ok(v))) if v > 0 => days = v,
            ("--runs", Some(Ok(v))) => runs = usize::try_from(v).unwrap_or(1),
            _ => {
                eprintln!("usage: landfall-bench-monitor [--partners 5000] [--days 30] [--runs 3]");
                return ExitCode::FAILURE;
            }
        }
    }
    match run(partners, days, runs).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
