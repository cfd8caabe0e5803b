//! What hostile shapes of JSON cost parse-file next to a normal file of as
//! many records (prints figures; asserts nothing):
//!
//!   cargo run --profile bench-fast -p landfall-infra --bin landfall-bench-hostile -- [--rows 20000]
//!
//! Each shape is converted (detect, parse, infer, Parquet zstd, parts
//! dropped) in a fresh child process, so its peak RSS (VmHWM) is its own:
//! - `normal`: four fixed keys a record, the baseline;
//! - `top_keys`: one new top-level key a record (a column each, up to the cap);
//! - `id_map`: an object keyed by a MongoDB-style id, a new id a record;
//! - `name_map`: an object keyed by `attr_<n>`, a new key a record (a map
//!   once past `json.map_keys`).
//!
//! Printed per shape: rows written and rejected, parts, seconds, peak MB,
//! seconds per input MB, and both as a ratio to `normal`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use landfall::config::Config;
use landfall::convert::{ConvertRequest, NameRules, convert};
use landfall::threads::Threads;
use landfall_infra::bench_rig::peak_rss_mb;

const SHAPES: [&str; 4] = ["normal", "top_keys", "id_map", "name_map"];

fn record(shape: &str, i: usize) -> String {
    match shape {
        "top_keys" => format!("{{\"id\":{i},\"name\":\"c{i}\",\"k{i}\":{i}}}"),
        "id_map" => format!(
            "{{\"id\":{i},\"name\":\"c{i}\",\"tier_and_details\":{{\"{:024x}\":{{\"tier\":\"gold\",\"n\":{i}}}}}}}",
            i * 7919 + 1
        ),
        "name_map" => format!("{{\"id\":{i},\"name\":\"c{i}\",\"attrs\":{{\"attr_{i}\":{i}}}}}"),
        _ => format!("{{\"id\":{i},\"name\":\"c{i}\",\"tier\":\"gold\",\"n\":{i}}}"),
    }
}

fn generate(dir: &Path, shape: &str, rows: usize) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("hostile-{shape}-{rows}.jsonl"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for i in 0..rows {
        writeln!(out, "{}", record(shape, i))?;
    }
    out.flush()?;
    Ok(path)
}

/// One conversion in this process; prints `rows rejected parts seconds peak_mb`.
fn run_one(input: &Path, scratch: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_yaml("feeds:\n  hostile:\n    prefix: h/\n    format: json\n", "bench")?;
    let feed = config.feed("hostile").ok_or("no feed")?;
    let url = format!("file://{}", input.display());
    let name = input.display().to_string();
    let req = ConvertRequest {
        feed,
        source_url: &url,
        name: &name,
        arrival_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).ok_or("date")?,
        work_dir: scratch,
        threads: Threads::parse("1").ok_or("threads")?,
        names: NameRules::fresh(config.warehouse.driver),
        scratch_bytes: None,
    };
    let started = Instant::now();
    let outcome = convert(
        std::fs::File::open(input)?,
        &req,
        Box::new(|part| {
            let _ = std::fs::remove_file(&part.path);
            Ok(())
        }),
    )?;
    let secs = started.elapsed().as_secs_f64();
    let parts = outcome.write.parts.len();
    println!("{} {} {parts} {secs} {}", outcome.write.rows_written, outcome.rejected, peak_rss_mb());
    Ok(())
}

struct Figures {
    rows: u64,
    rejected: u64,
    parts: u64,
    secs: f64,
    peak_mb: f64,
}

fn measure(input: &Path, scratch: &Path) -> Result<Figures, Box<dyn std::error::Error>> {
    let out = Command::new(std::env::current_exe()?)
        .arg("--one")
        .arg(input)
        .arg(scratch)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("converting {} failed", input.display()).into());
    }
    let text = String::from_utf8(out.stdout)?;
    let f: Vec<&str> = text.split_whitespace().collect();
    let field = |i: usize| f.get(i).copied().ok_or("short output");
    Ok(Figures {
        rows: field(0)?.parse()?,
        rejected: field(1)?.parse()?,
        parts: field(2)?.parse()?,
        secs: field(3)?.parse()?,
        peak_mb: field(4)?.parse()?,
    })
}

fn bench(rows: usize) -> Result<(), Box<dyn std::error::Error>> {
    let data = landfall_infra::stack::repo_root().join("target/bench-data");
    std::fs::create_dir_all(&data)?;
    let scratch = tempfile::tempdir()?;
    println!(
        "{:<9} {:>9} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7}",
        "shape", "input MB", "rows", "reject", "parts", "seconds", "peak MB", "s/MB", "x time", "x RSS"
    );
    let mut base: Option<(f64, f64)> = None;
    for shape in SHAPES {
        let input = generate(&data, shape, rows)?;
        let mb = std::fs::metadata(&input)?.len() as f64 / 1e6;
        let f = measure(&input, scratch.path())?;
        let per_mb = f.secs / mb;
        let (t0, m0) = *base.get_or_insert((per_mb, f.peak_mb));
        println!(
            "{shape:<9} {mb:>9.2} {:>8} {:>6} {:>8} {:>8.2} {:>8.1} {:>8.3} {:>7.1} {:>7.1}",
            f.rows,
            f.rejected,
            f.parts,
            f.secs,
            f.peak_mb,
            per_mb,
            per_mb / t0,
            f.peak_mb / m0
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--one") => match (args.get(1), args.get(2)) {
            (Some(input), Some(scratch)) => run_one(Path::new(input), Path::new(scratch)),
            _ => Err("usage: --one INPUT SCRATCH".into()),
        },
        Some("--rows") => match args.get(1).and_then(|r| r.parse().ok()) {
            Some(rows) => bench(rows),
            None => Err("--rows takes a number".into()),
        },
        None => bench(20_000),
        Some(other) => Err(format!("unknown argument {other}; usage: [--rows 20000]").into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
