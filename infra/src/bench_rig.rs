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
