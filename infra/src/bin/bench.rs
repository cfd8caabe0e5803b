//! Throughput and memory benchmarks of parse-file beside its peers, and of
//! the TableWriter alone (prints figures; asserts nothing).
//!
//!   cargo run --profile bench-fast -p landfall-infra --bin landfall-bench -- [--sizes 100,1000] [--formats csv,ndjson] [--codec zstd|snappy] [--runs 3] [--no-peers]
//!
//! Generates clickstream data with landfall_infra::generate_clickstream, then
//! for each format and size runs, each in a fresh child process so peak RSS
//! is its own, `--runs` times in turn (medians are printed):
//! - `landfall 1` and `landfall 2`: the parse-file pipeline (detect, parse,
//!   infer, partition, Parquet zstd) on one thread and on two, parts written
//!   to a scratch directory;
//! - `landfall 1 x2`: two one-thread conversions at once, each of its own
//!   copy: what two cores of this machine give two independent jobs, the
//!   ceiling for any two-thread speed-up measured here;
//! - `baseline`: the same bytes only tokenised (csv records / JSON lines
//!   parsed and dropped), the floor any parser pays;
//! - the peers (unless `--no-peers`): pyarrow, polars and DuckDB to zstd
//!   Parquet on 1 and 2 threads, from `.landfall/bench-venv` (installed on
//!   first use from `infra/bench/requirements-peers.txt`).
//!
//! Throughput is MB/s of input; peak RSS is the child's VmHWM (ru_maxrss for
//! the peers). Ratios are wall time over `landfall 1`'s, in the same run.
//! The input is read once before the measurements so all start from the
//! page cache.
//!
//!   cargo run --profile bench-fast -p landfall-infra --bin landfall-bench -- --writer [--sizes 100] [--codec zstd|snappy|none] [--repeat 1] [--loops 1]
//!
//! `--writer` times the `TableWriter` alone (inference, coercion, date
//! partitions, Parquet) on the same generated CSV, held in memory already
//! split into fields the way a reader hands them over, so neither decoding
//! nor tokenising is in the figure. `--loops n` pushes the same rows n times
//! through one writer, to see peak memory on a large input without holding
//! it all; peak RSS includes the fields held in memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use landfall::config::Config;
use landfall::convert::{ConvertRequest, NameRules, convert};
use landfall::record::{RecordSink, Value};
use landfall::schema::{ParquetCompression, TableWriter, WriterOptions};
use landfall::threads::Threads;
use landfall_infra::bench_rig::peak_rss_mb;

const FEEDS: &str = r#"
feeds:
  clicks_csv:
    prefix: csv/
    format: csv
    partition_column: event_time
    parquet: { compression: CODEC }
  clicks_ndjson:
    prefix: ndjson/
    format: json
    partition_column: event_time
    parquet: { compression: CODEC }
"#;

/// Runs one measurement in this process and prints `rows seconds peak_mb parts`.
fn run_one(mode: &str, format: &str, input: &Path, scratch: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let rows = match mode {
        "landfall" => {
            let codec = std::env::var("LANDFALL_BENCH_CODEC").unwrap_or_else(|_| "zstd".into());
            let threads = std::env::var("LANDFALL_BENCH_THREADS").ok();
            let threads =
                Threads::parse(threads.as_deref().unwrap_or("1")).ok_or("LANDFALL_BENCH_THREADS: 1, 2 or auto")?;
            let config = Config::from_yaml(&FEEDS.replace("CODEC", &codec), "bench")?;
            let feed = config.feed(&format!("clicks_{format}")).ok_or("no feed")?;
            let file = std::fs::File::open(input)?;
            let url = format!("file://{}", input.display());
            let name = input.display().to_string();
            let arrival = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).ok_or("date")?;
            let req = ConvertRequest {
                feed,
                source_url: &url,
                name: &name,
                arrival_date: arrival,
                work_dir: scratch,
                threads,
                names: NameRules::fresh(config.warehouse.driver),
                scratch_bytes: None,
            };
            let outcome = convert(
                file,
                &req,
                Box::new(|part| {
                    // Stand-in for the S3 upload: the part is complete on disk; drop it.
                    let _ = std::fs::remove_file(&part.path);
                    Ok(())
                }),
            )?;
            if outcome.rejected > 0 || outcome.error.is_some() {
                eprintln!("warning: {} rejected, error {:?}", outcome.rejected, outcome.error);
            }
            outcome.write.rows_written
        }
        "baseline" => baseline(format, input)?,
        other => return Err(format!("unknown mode {other}").into()),
    };
    let secs = started.elapsed().as_secs_f64();
    println!("{rows} {secs} {}", peak_rss_mb());
    Ok(())
}

fn baseline(format: &str, input: &Path) -> Result<u64, Box<dyn std::error::Error>> {
    let file = BufReader::with_capacity(256 << 10, std::fs::File::open(input)?);
    let mut rows = 0u64;
    if format == "csv" {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(file);
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record)? {
            rows += 1;
        }
    } else {
        let mut lines = file;
        let mut line = Vec::new();
        while lines.read_until(b'\n', &mut line)? > 0 {
            let _: serde_json::Value = serde_json::from_slice(&line)?;
            rows += 1;
            line.clear();
        }
    }
    Ok(rows)
}

fn generate(dir: &Path, format: &str, mb: u64) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let path = dir.join(format!("clickstream-{mb}mb.{}", if format == "csv" { "csv" } else { "jsonl" }));
    // Bytes per row of the generator's output, measured on its default seed.
    let bytes_per_row = if format == "csv" { 307 } else { 569 };
    landfall_infra::generate_clickstream(&path, format, mb * 1_000_000 / bytes_per_row)?;
    Ok(path)
}

/// One measuring child process, started.
fn spawn_one(
    mode: &str,
    format: &str,
    input: &Path,
    scratch: &Path,
    codec: &str,
    threads: usize,
) -> Result<std::process::Child, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    Ok(Command::new(exe)
        .env("LANDFALL_BENCH_CODEC", codec)
        .env("LANDFALL_BENCH_THREADS", threads.to_string())
        .args(["--one", mode, format])
        .arg(input)
        .arg(scratch)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?)
}

/// (rows, seconds, peak MB) that a measuring child printed.
fn read_one(child: std::process::Child, what: &str) -> Result<(u64, f64, f64), Box<dyn std::error::Error>> {
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!("{what} failed").into());
    }
    let text = String::from_utf8(out.stdout)?;
    let mut it = text.split_whitespace();
    let rows = it.next().ok_or("rows")?.parse()?;
    let secs = it.next().ok_or("secs")?.parse()?;
    let rss = it.next().ok_or("rss")?.parse()?;
    Ok((rows, secs, rss))
}

const WRITER_USAGE: &str = "landfall-bench --writer [--sizes 100] [--codec zstd|snappy|none] [--repeat 1] [--loops 1]";

/// The generator's CSV in one text buffer, a separator after every field
/// as a reader holds it, and every field's bounds in that buffer.
struct Fields {
    header: Vec<String>,
    text: String,
    bounds: Vec<(usize, usize)>,
}

impl Fields {
    fn load(input: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_path(input)?;
        let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        let mut text = String::with_capacity(std::fs::metadata(input)?.len() as usize);
        let mut bounds = Vec::new();
        let mut record = csv::StringRecord::new();
        while reader.read_record(&mut record)? {
            for field in &record {
                let a = text.len();
                text.push_str(field);
                bounds.push((a, text.len()));
                text.push(',');
            }
            text.pop();
            text.push('\n');
        }
        Ok(Fields { header, text, bounds })
    }
}

/// Pushes `fields` through one `TableWriter` `loops` times and prints its figures.
fn bench_writer(
    fields: &Fields,
    input: &Path,
    scratch: &Path,
    compression: ParquetCompression,
    loops: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let width = fields.header.len();
    let header: Vec<&str> = fields.header.iter().map(String::as_str).collect();
    let rows = fields.bounds.len() / width.max(1) * loops;
    let bytes = fields.text.len() * loops;
    let arrival = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).ok_or("date")?;
    let mut opts = WriterOptions::new(format!("file://{}", input.display()), arrival, scratch);
    opts.compression = compression;
    let start = Instant::now();
    let mut w = TableWriter::new(opts, Box::new(|_| Ok(())), Box::new(|_| Ok(())))?;
    w.header(&header)?;
    let mut values: Vec<(usize, Value<'_>)> = Vec::with_capacity(width);
    let mut line = 1;
    for _ in 0..loops {
        for row in fields.bounds.chunks_exact(width) {
            values.clear();
            // An empty field is null, as the CSV reader has it by default.
            values.extend(
                row.iter()
                    .enumerate()
                    .map(|(c, &(a, z))| (c, if a == z { Value::Null } else { Value::Text(&fields.text[a..z]) })),
            );
            line += 1;
            w.record(line, &values, &String::new)?;
        }
    }
    let summary = w.finish()?;
    let secs = start.elapsed().as_secs_f64();
    let out: u64 = summary.parts.iter().map(|p| p.bytes).sum();
    println!(
        "writer ({compression:?}): {rows} rows, {:.1} MB text in {secs:.2}s = {:.0} rows/s, {:.1} MB/s; parquet {:.1} MB; peak RSS {:.1} MB",
        bytes as f64 / 1e6,
        rows as f64 / secs,
        bytes as f64 / 1e6 / secs,
        out as f64 / 1e6,
        peak_rss_mb(),
    );
    println!(
        "types: {}",
        summary.columns.iter().map(|c| format!("{}:{}", c.name, c.data_type)).collect::<Vec<_>>().join(" ")
    );
    if summary.rows_written != rows as u64 {
        eprintln!("warning: {} of {rows} rows written, {} rejected", summary.rows_written, summary.rows_rejected);
    }
    Ok(())
}

fn writer_main(args: &[String], data: &Path) -> ExitCode {
    let mut sizes = vec![100u64];
    let mut compression = ParquetCompression::default();
    let mut repeat = 1usize;
    let mut loops = 1usize;
    let usage = || {
        eprintln!("usage: {WRITER_USAGE}");
        ExitCode::FAILURE
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next().map(String::as_str)) {
            ("--sizes", Some(v)) => sizes = v.split(',').filter_map(|s| s.parse().ok()).collect(),
            ("--codec", Some("zstd")) => compression = ParquetCompression::default(),
            ("--codec", Some("snappy")) => compression = ParquetCompression::Snappy,
            ("--codec", Some("none")) => compression = ParquetCompression::None,
            ("--repeat", Some(v)) => match v.parse() {
                Ok(n) => repeat = n,
                Err(_) => return usage(),
            },
            ("--loops", Some(v)) => match v.parse() {
                Ok(n) => loops = n,
                Err(_) => return usage(),
            },
            _ => return usage(),
        }
    }
    for &mb in &sizes {
        let result = (|| -> Result<(), Box<dyn std::error::Error>> {
            let input = generate(data, "csv", mb)?;
            let fields = Fields::load(&input)?;
            for _ in 0..repeat {
                let scratch = tempfile::tempdir_in(data)?;
                bench_writer(&fields, &input, scratch.path(), compression, loops)?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            eprintln!("error: writer {mb}MB: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        let (Some(mode), Some(format), Some(input), Some(scratch)) =
            (args.get(1), args.get(2), args.get(3), args.get(4))
        else {
            eprintln!("usage: --one MODE FORMAT INPUT SCRATCH");
            return ExitCode::FAILURE;
        };
        return match run_one(mode, format, Path::new(input), Path::new(scratch)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let data = landfall_infra::stack::repo_root().join("target/bench-data");
    if let Err(e) = std::fs::create_dir_all(&data) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if args.first().map(String::as_str) == Some("--writer") {
        return writer_main(&args[1..], &data);
    }
    let mut sizes = vec![100u64, 1000];
    let mut formats = vec!["csv".to_owned(), "ndjson".to_owned()];
    let mut codec = "zstd".to_owned();
    let mut runs = 3usize;
    let mut peers = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let parsed = match a.as_str() {
            "--no-peers" => {
                peers = false;
                true
            }
            flag => match (flag, it.next()) {
                ("--sizes", Some(v)) => {
                    sizes = v.split(',').filter_map(|s| s.parse().ok()).collect();
                    true
                }
                ("--formats", Some(v)) => {
                    formats = v.split(',').map(str::to_owned).collect();
                    true
                }
                // Read by the measuring child processes.
                ("--codec", Some(v)) => {
                    codec = v.clone();
                    true
                }
                ("--runs", Some(v)) => v.parse().map(|n: usize| runs = n.max(1)).is_ok(),
                _ => false,
            },
        };
        if !parsed {
            eprintln!("usage: {USAGE}");
            eprintln!("       {WRITER_USAGE}");
            return ExitCode::FAILURE;
        }
    }
    let python = if peers {
        match landfall_infra::peers::ensure_venv() {
            Ok(python) => Some(python),
            Err(e) => {
                eprintln!("error: {e} (--no-peers runs without them)");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    for format in &formats {
        for &mb in &sizes {
            if let Err(e) = compare(&data, format, mb, &codec, runs, python.as_deref()) {
                eprintln!("error: {format} {mb}MB: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

const USAGE: &str =
    "landfall-bench [--sizes 100,1000] [--formats csv,ndjson] [--codec zstd|snappy] [--runs 3] [--no-peers]";

/// One line of the comparison: medians over the runs.
struct Row {
    tool: String,
    threads: String,
    rows: u64,
    seconds: Vec<f64>,
    rss: Vec<f64>,
    cpu: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs every contestant on one generated file, `runs` rounds in turn, and prints the table.
fn compare(
    data: &Path,
    format: &str,
    mb: u64,
    codec: &str,
    runs: usize,
    python: Option<&Path>,
) -> Result<(), Box<dyn std::error::Error>> {
    let input = generate(data, format, mb)?;
    // A second copy for the pair, so neither job reads the other's pages.
    let twin = input.with_extension("twin");
    std::fs::copy(&input, &twin)?;
    let bytes = std::fs::metadata(&input)?.len() as f64;
    let peer_format = if format == "csv" { "csv" } else { "ndjson" };
    let mut table: Vec<Row> = Vec::new();
    let row = |table: &mut Vec<Row>, tool: &str, threads: &str| -> usize {
        if let Some(i) = table.iter().position(|r| r.tool == tool && r.threads == threads) {
            return i;
        }
        table.push(Row {
            tool: tool.into(),
            threads: threads.into(),
            rows: 0,
            seconds: Vec::new(),
            rss: Vec::new(),
            cpu: Vec::new(),
        });
        table.len() - 1
    };
    for _ in 0..runs {
        for threads in [1usize, 2] {
            let scratch = tempfile::tempdir_in(data)?;
            let (rows, secs, rss) =
                read_one(spawn_one("landfall", format, &input, scratch.path(), codec, threads)?, "landfall")?;
            let i = row(&mut table, "landfall", &threads.to_string());
            table[i].rows = rows;
            table[i].seconds.push(secs);
            table[i].rss.push(rss);
        }
        {
            let (a, b) = (tempfile::tempdir_in(data)?, tempfile::tempdir_in(data)?);
            let started = Instant::now();
            let first = spawn_one("landfall", format, &input, a.path(), codec, 1)?;
            let second = spawn_one("landfall", format, &twin, b.path(), codec, 1)?;
            let (rows, _, rss) = read_one(first, "landfall pair")?;
            let (rows2, _, rss2) = read_one(second, "landfall pair")?;
            // Two files' worth of work: the time per file is half the pair's.
            let i = row(&mut table, "landfall", "1 x2");
            table[i].rows = rows + rows2;
            table[i].seconds.push(started.elapsed().as_secs_f64() / 2.0);
            table[i].rss.push(rss.max(rss2));
        }
        {
            let scratch = tempfile::tempdir_in(data)?;
            let (rows, secs, rss) =
                read_one(spawn_one("baseline", format, &input, scratch.path(), codec, 1)?, "baseline")?;
            let i = row(&mut table, "baseline", "1");
            table[i].rows = rows;
            table[i].seconds.push(secs);
            table[i].rss.push(rss);
        }
        let Some(python) = python else { continue };
        for peer in landfall_infra::peers::PARSE_PEERS {
            for threads in [1usize, 2] {
                let out = tempfile::tempdir_in(data)?;
                let run = landfall_infra::peers::parse(python, peer, peer_format, threads, &input, out.path())?;
                let i = row(&mut table, peer, &threads.to_string());
                table[i].rows = landfall_infra::peers::parquet_rows(&run.files)?;
                table[i].seconds.push(run.seconds);
                table[i].rss.push(run.peak_rss_mb);
                table[i].cpu.push(run.cpu_seconds);
            }
        }
    }
    let _ = std::fs::remove_file(&twin);
    let landfall_1 = table.first().map(|r| median(&r.seconds)).unwrap_or(f64::NAN);
    println!("\n{format} {mb} MB ({:.1} MB, codec {codec}; medians of {runs} runs)", bytes / 1e6);
    println!(
        "{:<9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>14}",
        "tool", "threads", "rows", "wall s", "MB/s", "peak MB", "CPU s", "x landfall 1"
    );
    for r in &table {
        let secs = median(&r.seconds);
        let cpu = if r.cpu.is_empty() { "-".to_owned() } else { format!("{:.2}", median(&r.cpu)) };
        println!(
            "{:<9} {:>7} {:>9} {:>8.3} {:>8.1} {:>8.1} {:>8} {:>14.2}",
            r.tool,
            r.threads,
            r.rows,
            secs,
            bytes / 1e6 / secs,
            median(&r.rss),
            cpu,
            secs / landfall_1
        );
    }
    summarize(&table);
    Ok(())
}

/// The ratios the targets are stated in.
fn summarize(table: &[Row]) {
    let secs = |tool: &str, threads: &str| {
        table.iter().find(|r| r.tool == tool && r.threads == threads).map(|r| median(&r.seconds))
    };
    let (Some(one), Some(two), Some(pair)) = (secs("landfall", "1"), secs("landfall", "2"), secs("landfall", "1 x2"))
    else {
        return;
    };
    println!(
        "two threads: {:.2}x one thread's throughput; two one-thread jobs at once: {:.2}x (this machine's two cores)",
        one / two,
        one / pair
    );
    let best = |threads: &str| {
        landfall_infra::peers::PARSE_PEERS
            .iter()
            .filter_map(|p| secs(p, threads).map(|s| (*p, s)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    if let (Some((p1, s1)), Some((p2, s2))) = (best("1"), best("2")) {
        println!(
            "landfall 1 thread = {:.2}x the wall time of the best one-thread peer ({p1}); landfall 2 threads = {:.2}x the best two-thread peer ({p2})",
            one / s1,
            two / s2
        );
    }
}
