//! Writes deterministic synthetic clickstream events to stdout (the data the
//! benchmarks use; see `landfall_infra::clickstream`).
//!
//!   cargo run --release -p landfall-infra --bin landfall-clickstream -- --rows N --format csv|ndjson [--seed S] [--day YYYY-MM-DD] > out

use std::io::Write;
use std::process::ExitCode;

use landfall_infra::clickstream::{self, DEFAULT_DAY, DEFAULT_SEED, Format, Options};

const USAGE: &str = "usage: landfall-clickstream --rows N --format csv|ndjson [--seed S] [--day YYYY-MM-DD] > out";

fn options(args: &[String]) -> Result<Options, String> {
    let (mut rows, mut format, mut seed, mut day) = (None, None, DEFAULT_SEED, DEFAULT_DAY.to_owned());
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rows" => rows = Some(value.parse::<u64>().map_err(|_| format!("--rows: not a count: {value}"))?),
            "--format" => format = Some(value.parse::<Format>().map_err(|e| e.to_string())?),
            "--seed" => seed = value.parse().map_err(|_| format!("--seed: not an integer: {value}"))?,
            "--day" => day = value.clone(),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let day = clickstream::parse_day(&day).ok_or_else(|| format!("--day: not a date: {day}"))?;
    let rows = rows.ok_or("--rows is required")?;
    let format = format.ok_or("--format is required")?;
    Ok(Options { rows, format, seed, day })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{USAGE}\nerror: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout);
    match clickstream::write(&mut out, &options).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not a failure of the generator.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
