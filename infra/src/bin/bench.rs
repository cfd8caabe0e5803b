//! parse-file throughput and memory benchmark (prints figures; asserts nothing).
//!
//!   cargo run --profile bench-fast -p landfall-infra --bin landfall-bench -- [--sizes 100,1000] [--formats csv,ndjson] [--codec zstd|snappy]
//!
//! Generates clickstream data with landfall_infra::generate_clickstream, then
//! for each format and size runs, each in a fresh child process so peak RSS
//! is its own:
//! - `landfall`: the parse-file pipeline (detect, parse, infer, partition,
//!   Parquet zstd) on one thread, parts written to a scratch directory;
//! - `baseline`: the same bytes only tokenised (csv records / JSON lines
//!   parsed and dropped), the floor any parser pays, for a same-run ratio.
//!
//! Throughput is MB/s and rows/s of input; peak RSS is VmHWM of the child.
//! The input is read once before each measurement so both start from the
//! page cache.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use landfall::config::Config;
use landfall::convert::{ConvertRequest, convert};

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

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Runs one measurement in this process and prints `rows seconds peak_mb parts`.
fn run_one(mode: &str, format: &str, input: &Path, scratch: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let rows = match mode {
        "landfall" => {
            let codec = std::env::var("LANDFALL_BENCH_CODEC").unwrap_or_else(|_| "zstd".into());
            let config = Config::from_yaml(&FEEDS.replace("CODEC", &codec), "bench")?;
            let feed = config.feed(&format!("clicks_{format}")).ok_or("no feed")?;
            let file = std::fs::File::open(input)?;
            let url = format!("file://{}", input.display());
            let name = input.display().to_string();
            let arrival = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).ok_or("date")?;
            let req = ConvertRequest { feed, source_url: &url, name: &name, arrival_date: arrival, work_dir: scratch };
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

fn measure(
    mode: &str,
    format: &str,
    input: &Path,
    scratch: &Path,
    codec: &str,
) -> Result<(u64, f64, f64), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .env("LANDFALL_BENCH_CODEC", codec)
        .args(["--one", mode, format])
        .arg(input)
        .arg(scratch)
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("{mode} {format} failed").into());
    }
    let text = String::from_utf8(out.stdout)?;
    let mut it = text.split_whitespace();
    let rows = it.next().ok_or("rows")?.parse()?;
    let secs = it.next().ok_or("secs")?.parse()?;
    let rss = it.next().ok_or("rss")?.parse()?;
    Ok((rows, secs, rss))
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
    let mut sizes = vec![100u64, 1000];
    let mut formats = vec!["csv".to_owned(), "ndjson".to_owned()];
    let mut codec = "zstd".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--sizes", Some(v)) => sizes = v.split(',').filter_map(|s| s.parse().ok()).collect(),
            ("--formats", Some(v)) => formats = v.split(',').map(str::to_owned).collect(),
            // Read by the measuring child processes.
            ("--codec", Some(v)) => codec = v.clone(),
            _ => {
                eprintln!("usage: landfall-bench [--sizes 100,1000] [--formats csv,ndjson] [--codec zstd|snappy]");
                return ExitCode::FAILURE;
            }
        }
    }
    let data = landfall_infra::stack::repo_root().join("target/bench-data");
    if let Err(e) = std::fs::create_dir_all(&data) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "{:<7} {:>7} {:>9} {:>9} {:>11} {:>9} {:>10} {:>9} {:>6}",
        "format", "size", "rows", "MB/s", "rows/s", "peak MB", "base MB/s", "base MB", "ratio"
    );
    for format in &formats {
        for &mb in &sizes {
            let result = (|| -> Result<(), Box<dyn std::error::Error>> {
                let input = generate(&data, format, mb)?;
                let bytes = std::fs::metadata(&input)?.len() as f64;
                let scratch = tempfile::tempdir_in(&data)?;
                let (rows, secs, rss) = measure("landfall", format, &input, scratch.path(), &codec)?;
                let (_, base_secs, base_rss) = measure("baseline", format, &input, scratch.path(), &codec)?;
                let mbps = bytes / 1e6 / secs;
                let base_mbps = bytes / 1e6 / base_secs;
                println!(
                    "{:<7} {:>5}MB {:>9} {:>9.1} {:>11.0} {:>9.1} {:>10.1} {:>9.1} {:>6.2}",
                    format,
                    mb,
                    rows,
                    mbps,
                    rows as f64 / secs,
                    rss,
                    base_mbps,
                    base_rss,
                    secs / base_secs
                );
                Ok(())
            })();
            if let Err(e) = result {
                eprintln!("error: {format} {mb}MB: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
