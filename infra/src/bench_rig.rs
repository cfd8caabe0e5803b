//! What the end-to-end benchmarks share: the real parse-file and
//! load-warehouse handlers over one object store, loading the local stack's
//! PostgreSQL, with the curated bucket named `curated`.

use std::path::Path;
use std::sync::Arc;

use landfall::config::Config;
use landfall::storage::ObjectStore;
use landfall::telemetry::Metrics;
use landfall::threads::Threads;
use landfall::warehouse::postgres::{LoaderSettings, PostgresTarget, PostgresWarehouse};
use load_warehouse::LoadWarehouse;
use parse_file::{ParseFile, Settings};

pub const CURATED: &str = "curated";

/// parse-file (on the threads this machine has) and load-warehouse into `target`,
/// both with scratch space in `work_dir`.
pub fn parse_and_load(
    store: Arc<dyn ObjectStore>,
    config: Arc<Config>,
    target: PostgresTarget,
    work_dir: &Path,
    metrics: Metrics,
) -> (ParseFile, LoadWarehouse) {
    let parse = ParseFile::new(
        store.clone(),
        config.clone(),
        Settings { curated_bucket: CURATED.into(), work_dir: work_dir.to_path_buf(), threads: Threads::available() },
        metrics.clone(),
    );
    let warehouse = PostgresWarehouse::new(
        target,
        store.clone(),
        LoaderSettings { curated_bucket: CURATED.into(), work_dir: work_dir.to_path_buf() },
    );
    let load = LoadWarehouse::new(store, config, Arc::new(warehouse), metrics);
    (parse, load)
}

/// This process's peak resident memory (Linux's VmHWM) in MB, NaN where
/// `/proc` has none: the benchmarks measure each case in a child process,
/// so the peak is the case's own.
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
