//! `landfall-chaos [--files N] [--kills K] [--seed S]`: files flow through
//! the local stack while the process running the handlers (`landfall pump`,
//! the stand-in for Lambda) is killed with SIGKILL at K random moments and
//! started again; then the queues drain, dead letters are redriven, and the
//! end state is checked: every appended row exactly once, the latest version
//! of every merged key, one ledger row per file, every partition in Glue, no
//! part without its manifest, no session left idle in a transaction. Prints
//! the kills, the dead letters and the checks; exits 1 when one fails.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use clap::Parser;
use landfall::layout;
use landfall_infra::LocalStack;
use landfall_infra::fuzz::Rng;

#[derive(Debug, Parser)]
#[command(name = "landfall-chaos", about = "Kill the handlers at random moments; check nothing is lost or doubled")]
struct Args {
    /// Files to send, half to an append feed (legacy_export), half to a merge feed (orders).
    #[arg(long, default_value_t = 80)]
    files: usize,
    /// SIGKILLs of the pump while it works.
    #[arg(long, default_value_t = 50)]
    kills: usize,
    #[arg(long, default_value_t = 0xc4a05)]
    seed: u64,
}

const APPEND_ROWS: usize = 5;
const MERGE_KEYS: usize = 10;

fn landfall_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.with_file_name("landfall")
}

/// `landfall pump`, logging one line per invocation (tracing writes to stdout).
fn pump(timeout: u64) -> Command {
    let mut c = Command::new(landfall_bin());
    c.args(["pump", "--timeout", &timeout.to_string()])
        .env("RUST_LOG", "landfall_infra::pump=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    c
}

/// Redelivered messages a pump logged before it ended or was killed.
fn redeliveries(child: &mut std::process::Child) -> u64 {
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut text);
    }
    text.lines()
        .filter(|l| l.contains("batch delivered"))
        .filter_map(|l| {
            l.split("redelivered=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok()
        })
        .sum()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let stack = LocalStack::discover()?;
    let sdk = stack.sdk_config().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let (pg, conn) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_micros() % 1_000_000_000_000;
    let base = i64::try_from(run)? * 100;
    let appends = args.files.div_ceil(2);
    let merges = args.files - appends;

    // Every file first, so the queues are full when the kills begin.
    let mut ids: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for i in 0..appends {
        let rows: String =
            (0..APPEND_ROWS).map(|r| format!("{}|chaos\n", base + (i * APPEND_ROWS + r) as i64)).collect();
        ids.insert(
            put(&s3, &stack.landing_bucket, &format!("legacy/chaos-{run}/a-{i:03}.csv"), format!("sku|name\n{rows}"))
                .await?,
        );
    }
    for i in 0..merges {
        // Version i of key i % MERGE_KEYS; later versions are later in time.
        let body = format!(
            "order_id,customer,amount,currency,ordered_at\n{},chaos,{i}.00,EUR,2026-11-20T{:02}:{:02}:00Z\n",
            base + (i % MERGE_KEYS) as i64,
            i / 60,
            i % 60
        );
        ids.insert(put(&s3, &stack.landing_bucket, &format!("orders/chaos-{run}/m-{i:03}.csv"), body).await?);
    }

    let mut rng = Rng::new(args.seed);
    let mut redelivered = 0;
    for k in 0..args.kills {
        let mut child = pump(120).spawn()?;
        let after = Duration::from_millis(100 + rng.below(2400) as u64);
        tokio::time::sleep(after).await;
        let finished = child.try_wait()?.is_some();
        // std's kill is SIGKILL on Unix: no chance to finish the batch or clean up.
        let _ = child.kill();
        let _ = child.wait();
        redelivered += redeliveries(&mut child);
        println!(
            "kill {:>2}: after {:>4} ms{}",
            k + 1,
            after.as_millis(),
            if finished { " (it had finished)" } else { "" }
        );
    }
    let mut last = pump(300).spawn()?;
    redelivered += redeliveries(&mut last);
    let drained = last.wait()?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut dead = 0;
    for (function, q) in &stack.queues {
        let n = sqs
            .get_queue_attributes()
            .queue_url(&q.dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await?
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages).cloned())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if n > 0 {
            dead += n;
            let status =
                Command::new(landfall_bin()).args(["redrive", function, "--by-hand"]).stdout(Stdio::null()).status()?;
            println!("redrove {n} dead letter(s) of {function}: {status}");
        }
    }
    let mut after_redrive = pump(300).spawn()?;
    redelivered += redeliveries(&mut after_redrive);
    let _ = after_redrive.wait()?;
    let _ = Command::new(landfall_bin())
        .args(["repair", "legacy_export", "orders", "--days", "3"])
        .stdout(Stdio::null())
        .status()?;
    println!(
        "{} kill(s); {redelivered} redelivered message(s); first drain {drained}; {dead} dead letter(s) redriven",
        args.kills
    );

    let count = |q: String| {
        let pg = &pg;
        async move { pg.query_one(&q, &[]).await.map(|r| r.get::<_, i64>(0)) }
    };
    let a_like = format!("s3://{}/legacy/chaos-{run}/%", stack.landing_bucket);
    let m_like = format!("s3://{}/orders/chaos-{run}/%", stack.landing_bucket);
    let mut ok = true;
    let mut check = |name: &str, good: bool, detail: String| {
        println!("{} {name}: {detail}", if good { "ok  " } else { "FAIL" });
        ok &= good;
    };
    let rows = count(format!("SELECT count(*) FROM public.legacy_export WHERE _landfall_file LIKE '{a_like}'")).await?;
    let distinct =
        count(format!("SELECT count(DISTINCT sku) FROM public.legacy_export WHERE _landfall_file LIKE '{a_like}'"))
            .await?;
    let want = (appends * APPEND_ROWS) as i64;
    check(
        "append rows exactly once",
        rows == want && distinct == want,
        format!("{rows} rows, {distinct} distinct, want {want}"),
    );
    let ledger = count(format!(
        "SELECT count(*) FROM landfall.load_ledger WHERE source_url LIKE '{a_like}' OR source_url LIKE '{m_like}'"
    ))
    .await?;
    check("one ledger row per file", ledger == args.files as i64, format!("{ledger} rows for {} files", args.files));
    let mut latest_ok = true;
    for key in 0..MERGE_KEYS.min(merges) {
        let latest = (0..merges).filter(|i| i % MERGE_KEYS == key).max().unwrap_or(0);
        let got = pg
            .query_opt("SELECT amount::text FROM public.orders WHERE order_id = $1", &[&(base + key as i64)])
            .await?
            .map(|r| r.get::<_, String>(0));
        latest_ok &= got.as_deref() == Some(format!("{latest}.00").as_str());
    }
    check("the latest version of every merged key", latest_ok, format!("{} key(s)", MERGE_KEYS.min(merges)));
    let idle = count(
        "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            .into(),
    )
    .await?;
    check("no session idle in a transaction", idle == 0, format!("{idle}"));

    // Every part of this run's files has its manifest, and every partition is in Glue.
    let glue = aws_sdk_glue::Client::new(&sdk);
    let mut orphans = 0;
    let mut missing_partitions = Vec::new();
    for table in ["legacy_export", "orders"] {
        let mut parts = Vec::new();
        let mut pages = s3
            .list_objects_v2()
            .bucket(&stack.curated_bucket)
            .prefix(format!("{}{table}/", layout::TABLES_PREFIX))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            parts.extend(page?.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        }
        let mut dts = std::collections::BTreeSet::new();
        for key in &parts {
            let Some(p) = layout::parse_part_key(key) else { continue };
            let Some((file_id, _)) = p.file.rsplit_once('-') else { continue };
            if !ids.contains(file_id) {
                continue;
            }
            dts.insert(p.dt.to_owned());
            let manifest = layout::manifest_key(table, file_id);
            if s3.head_object().bucket(&stack.curated_bucket).key(&manifest).send().await.is_err() {
                orphans += 1;
            }
        }
        for dt in dts {
            let found = glue
                .get_partition()
                .database_name(&stack.glue_database)
                .table_name(table)
                .partition_values(dt.clone())
                .send()
                .await
                .is_ok();
            if !found {
                missing_partitions.push(format!("{table}/dt={dt}"));
            }
        }
    }
    check("no part without its manifest", orphans == 0, format!("{orphans} orphan(s)"));
    check("every partition in Glue", missing_partitions.is_empty(), format!("missing: {missing_partitions:?}"));
    Ok(ok)
}

/// Uploads a landing file; returns its file id.
async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: String,
) -> Result<String, Box<dyn std::error::Error>> {
    let out = s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body.into_bytes())).send().await?;
    Ok(layout::file_id(bucket, key, out.e_tag().map(|e| e.trim_matches('"')), None))
}
