//! The benchmarks' peers: pyarrow, polars and DuckDB converting the same
//! files to zstd Parquet, and dlt loading the same NDJSON, each run by
//! `infra/bench/*.py` in a venv of their own (`.landfall/bench-venv`, not
//! checkov's `.landfall/venv`: dlt's dependencies would move checkov's pins).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::stack::repo_root;

pub type PeerResult<T> = Result<T, Box<dyn std::error::Error>>;

pub const PARSE_PEERS: [&str; 3] = ["pyarrow", "polars", "duckdb"];

/// One peer run as `peers.py` or `dlt_load.py` reports it.
#[derive(Debug, serde::Deserialize)]
pub struct PeerRun {
    pub seconds: f64,
    pub peak_rss_mb: f64,
    #[serde(default)]
    pub cpu_seconds: f64,
    /// Parquet files written (parse peers).
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Rows loaded (dlt).
    #[serde(default)]
    pub rows: u64,
}

fn scripts() -> PathBuf {
    repo_root().join("infra/bench")
}

/// The venv's python, after creating the venv and installing the pinned
/// peers (`infra/bench/requirements-peers.txt`) if anything is missing.
pub fn ensure_venv() -> PeerResult<PathBuf> {
    let venv = repo_root().join(".landfall/bench-venv");
    let status = Command::new("python3")
        .arg(scripts().join("peers.py"))
        .arg("ensure")
        .arg(&venv)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("installing the peers into {} failed", venv.display()).into());
    }
    Ok(venv.join("bin/python"))
}

fn run_json(mut command: Command) -> PeerResult<PeerRun> {
    let out = command.stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        return Err(format!("{command:?} failed ({})", out.status).into());
    }
    let text = String::from_utf8(out.stdout)?;
    let line = text.lines().last().ok_or("the peer printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

/// `peer` converts `input` (`format` csv or ndjson) into `out_dir` on `threads` threads.
pub fn parse(
    python: &Path,
    peer: &str,
    format: &str,
    threads: usize,
    input: &Path,
    out_dir: &Path,
) -> PeerResult<PeerRun> {
    let mut command = Command::new(python);
    command
        .arg(scripts().join("peers.py"))
        .args(["parse", "--peer", peer, "--format", format, "--threads", &threads.to_string()])
        .arg(input)
        .arg(out_dir);
    run_json(command)
}

/// Rows in the Parquet files' footers.
pub fn parquet_rows(files: &[PathBuf]) -> PeerResult<u64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut rows = 0u64;
    for file in files {
        let reader = SerializedFileReader::new(std::fs::File::open(file)?)?;
        rows += u64::try_from(reader.metadata().file_metadata().num_rows())?;
    }
    Ok(rows)
}

/// dlt loads the NDJSON `input` into `schema.table` of the PostgreSQL at `dsn`,
/// nested objects kept as jsonb columns as landfall keeps them.
pub fn dlt_load(python: &Path, dsn: &str, schema: &str, table: &str, input: &Path) -> PeerResult<PeerRun> {
    let mut command = Command::new(python);
    command
        .arg(scripts().join("dlt_load.py"))
        .args(["--dsn", dsn, "--schema", schema, "--table", table, "--max-table-nesting", "0"])
        .arg(input);
    run_json(command)
}
