//! End-to-end load benchmark: a clickstream file to committed PostgreSQL
//! rows through parse-file and load-warehouse, beside a plain `psql \copy`
//! of the same flat CSV into a table of the same shape, in the same run
//! (prints figures; asserts nothing).
//!
//!   infra/stack up
//!   cargo run --profile bench-fast -p landfall-infra --bin landfall-bench-load -- [--rows 200000] [--runs 3]
//!
//! The handlers are the real ones (`ParseFile::process`, then
//! `LoadWarehouse::load_manifests`: COPY, ledger, commit) against the
//! stack's PostgreSQL. Objects live in a local directory rather than moto:
//! moto is a Python emulator, and timing it would measure Python, not
//! landfall. The psql process's start-up is part of the baseline's time.
//!
//! Beside them (unless `--no-dlt`), dlt loads the same NDJSON into the same
//! PostgreSQL (its `csv` loader, which is COPY, nested objects kept as
//! jsonb), from `.landfall/bench-venv`, installed on first use.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use landfall::config::Config;
use landfall::events::ObjectCreated;
use landfall::lambda::Deadline;
use landfall::storage::{ObjectBody, ObjectMeta, ObjectStore, StorageError, Version};
use landfall::telemetry::Metrics;
use landfall::warehouse::postgres::PostgresTarget;
use landfall::warehouse::{Dialect, TableName};
use landfall_infra::{LocalStack, NoSecrets};
use load_warehouse::LoadWarehouse;
use parse_file::{Outcome, ParseFile};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

const CONFIG: &str = r#"
feeds:
  bench_csv:
    prefix: csv/
    format: csv
    partition_column: event_time
  bench_ndjson:
    prefix: ndjson/
    format: json
    partition_column: event_time
warehouse:
  driver: postgres
  schema: bench
"#;

/// Buckets as directories: `<root>/<bucket>/<key>`.
struct DirStore {
    root: PathBuf,
}

impl DirStore {
    fn path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }
}

fn local_err(path: &Path, source: std::io::Error) -> StorageError {
    StorageError::Local { path: path.display().to_string(), source }
}

#[async_trait]
impl ObjectStore for DirStore {
    async fn get(&self, bucket: &str, key: &str, _version: Version<'_>) -> Result<ObjectBody, StorageError> {
        let path = self.path(bucket, key);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|_| StorageError::NotFound { bucket: bucket.into(), key: key.into() })?;
        let meta = file.metadata().await.map_err(|e| local_err(&path, e))?;
        let modified = meta.modified().ok().and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok());
        let etag = format!("{:x}-{:x}", meta.len(), modified.map(|d| d.as_nanos()).unwrap_or(0));
        Ok(ObjectBody {
            meta: ObjectMeta { size: meta.len(), etag: Some(etag), version_id: None },
            reader: Box::pin(tokio::io::BufReader::with_capacity(256 << 10, file)),
        })
    }

    async fn put_bytes(&self, bucket: &str, key: &str, body: Vec<u8>, _ct: &str) -> Result<(), StorageError> {
        let path = self.path(bucket, key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| local_err(dir, e))?;
        }
        std::fs::write(&path, body).map_err(|e| local_err(&path, e))
    }

    async fn put_file(&self, bucket: &str, key: &str, from: &Path, _ct: &str) -> Result<(), StorageError> {
        let path = self.path(bucket, key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| local_err(dir, e))?;
        }
        std::fs::copy(from, &path).map(|_| ()).map_err(|e| local_err(&path, e))
    }

    async fn list(&self, _bucket: &str, _prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        Ok(Vec::new())
    }
}

fn generate(dir: &Path, format: &str, rows: u64) -> BenchResult<PathBuf> {
    let path = dir.join(format!("e2e-{rows}.{}", if format == "csv" { "csv" } else { "jsonl" }));
    landfall_infra::generate_clickstream(&path, format, rows)?;
    Ok(path)
}

fn psql() -> BenchResult<PathBuf> {
    let candidates = std::env::var("LANDFALL_PG_BIN").map(|d| vec![PathBuf::from(d)]).unwrap_or_else(|_| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs.reverse();
        dirs
    });
    candidates
        .into_iter()
        .map(|d| d.join("psql"))
        .find(|p| p.exists())
        .ok_or_else(|| "psql not found (set LANDFALL_PG_BIN)".into())
}

struct Bench {
    parse: ParseFile,
    load: LoadWarehouse,
    store: Arc<DirStore>,
    client: tokio_postgres::Client,
    database_url: String,
}

impl Bench {
    async fn reset(&self, table: &TableName) -> BenchResult<()> {
        self.client.batch_execute(&format!("DROP TABLE IF EXISTS {table}")).await?;
        let forget = format!(
            "DELETE FROM landfall.load_ledger WHERE table_name = {}",
            Dialect::Postgres.literal(&table.plain())
        );
        let _ = self.client.batch_execute(&forget).await;
        Ok(())
    }

    /// File in the landing "bucket" -> committed rows; (parse s, load s, rows).
    async fn landfall(&self, input: &Path, key: &str) -> BenchResult<(f64, f64, u64)> {
        self.store.put_file("landing", key, input, "").await?;
        let object = ObjectCreated::put("landing", key);
        let started = Instant::now();
        let manifest_key = match self.parse.process(&object).await? {
            Outcome::Written { manifest_key, .. } => manifest_key,
            other => return Err(format!("parse-file: {other:?}").into()),
        };
        let parsed = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let outcome = self.load.load_manifests(&[("curated".into(), manifest_key)], Deadline::never()).await;
        if let Some(e) = outcome.first_error() {
            return Err(e.into());
        }
        let rows = outcome.reports().map(|r| r.rows_loaded).sum();
        Ok((parsed, started.elapsed().as_secs_f64(), rows))
    }

    /// The data columns (lineage excluded) of a table landfall loaded.
    async fn data_columns(&self, table: &TableName) -> BenchResult<Vec<String>> {
        let rows = self
            .client
            .query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = $1 AND table_name = $2 AND column_name NOT LIKE '\\_landfall\\_%'
                 ORDER BY ordinal_position",
                &[&table.schema, &table.table],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }

    fn psql(&self, command: &str) -> BenchResult<f64> {
        let started = Instant::now();
        let status = Command::new(psql()?)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.database_url, "-c", command])
            .status()?;
        let secs = started.elapsed().as_secs_f64();
        if !status.success() {
            return Err(format!("psql failed: {command}").into());
        }
        Ok(secs)
    }

    /// A plain `psql \copy` of the same rows into a table of the same shape
    /// as `like` (data columns only): the CSV is `csv` itself when given, or
    /// else `like`'s rows written out as CSV first (for NDJSON, which psql
    /// cannot read; nested objects then arrive as JSON text for jsonb).
    async fn plain_copy(&self, like: &TableName, csv: Option<&Path>, scratch: &Path) -> BenchResult<f64> {
        let plain = TableName::new("bench", "plain_copy");
        self.client.batch_execute(&format!("DROP TABLE IF EXISTS {plain}")).await?;
        let columns: Vec<String> = match csv {
            Some(csv) => {
                let header = std::io::BufRead::lines(std::io::BufReader::new(std::fs::File::open(csv)?))
                    .next()
                    .ok_or("empty CSV")??;
                header.split(',').map(landfall::schema::normalize_identifier).collect()
            }
            None => self.data_columns(like).await?,
        };
        let select: Vec<String> = columns.iter().map(|c| landfall::warehouse::sql::quote_ident(c)).collect();
        let select = select.join(", ");
        let file = match csv {
            Some(csv) => csv.to_path_buf(),
            None => {
                let out = scratch.join(format!("{}.csv", like.table));
                self.psql(&format!(
                    "\\copy (SELECT {select} FROM {like}) TO '{}' WITH (FORMAT csv, HEADER true)",
                    out.display()
                ))?;
                out
            }
        };
        self.client.batch_execute(&format!("CREATE TABLE {plain} AS SELECT {select} FROM {like} WHERE false")).await?;
        let secs =
            self.psql(&format!("\\copy {plain} ({select}) FROM '{}' WITH (FORMAT csv, HEADER true)", file.display()))?;
        if csv.is_none() {
            let _ = std::fs::remove_file(&file);
        }
        Ok(secs)
    }
}

async fn run(rows: u64, runs: usize, dlt: bool) -> BenchResult<()> {
    let python = if dlt { Some(landfall_infra::peers::ensure_venv()?) } else { None };
    let stack = LocalStack::discover()?;
    let data = landfall_infra::stack::repo_root().join("target/bench-data");
    std::fs::create_dir_all(&data)?;
    let csv = generate(&data, "csv", rows)?;
    let ndjson = generate(&data, "ndjson", rows)?;
    let root = tempfile::Builder::new().prefix("bench-store-").tempdir_in(&data)?;
    let work = root.path().join("work");
    std::fs::create_dir_all(&work)?;
    let store = Arc::new(DirStore { root: root.path().to_path_buf() });
    let config = Arc::new(Config::from_yaml(CONFIG, "bench")?);
    let metrics = Metrics::new("bench");
    let target = PostgresTarget::resolve(&stack.database_url, None, &NoSecrets).await?;
    let client = target.connect().await?;
    client.batch_execute("CREATE SCHEMA IF NOT EXISTS bench").await?;
    let (parse, load) = landfall_infra::bench_rig::parse_and_load(store.clone(), config, target, &work, metrics);
    let bench = Bench { parse, load, store, client, database_url: stack.database_url.clone() };

    println!("{rows} rows; {runs} run(s); PostgreSQL at {}", stack.database_url);
    println!(
        "{:<4} {:<7} {:>8} {:>9} {:>9} {:>9} {:>11} {:>7} {:>8} {:>8} {:>8}",
        "run", "format", "rows", "parse s", "load s", "total s", "psql \\copy s", "ratio", "dlt s", "dlt MB", "x dlt"
    );
    for run in 1..=runs {
        let mut results = Vec::new();
        for (format, input) in [("csv", &csv), ("ndjson", &ndjson)] {
            let table = TableName::new("bench", format!("bench_{format}"));
            bench.reset(&table).await?;
            let key = format!("{format}/run-{run}/{}", input.file_name().and_then(|n| n.to_str()).unwrap_or("input"));
            results.push((format, bench.landfall(input, &key).await?));
        }
        let plain_csv = bench.plain_copy(&TableName::new("bench", "bench_csv"), Some(&csv), &data).await?;
        let plain_ndjson = bench.plain_copy(&TableName::new("bench", "bench_ndjson"), None, &data).await?;
        let dlt = match &python {
            Some(python) => {
                let run = landfall_infra::peers::dlt_load(python, &stack.database_url, "bench_dlt", "clicks", &ndjson)?;
                if run.rows != rows {
                    eprintln!("warning: dlt loaded {} of {rows} rows", run.rows);
                }
                Some(run)
            }
            None => None,
        };
        for (format, (parse, load, loaded)) in results {
            let total = parse + load;
            let plain = if format == "csv" { plain_csv } else { plain_ndjson };
            let beside = match (&dlt, format) {
                (Some(d), "ndjson") => {
                    format!("{:>8.3} {:>8.1} {:>8.2}", d.seconds, d.peak_rss_mb, total / d.seconds)
                }
                _ => format!("{:>8} {:>8} {:>8}", "-", "-", "-"),
            };
            println!(
                "{run:<4} {format:<7} {loaded:>8} {parse:>9.3} {load:>9.3} {total:>9.3} {plain:>11.3} {:>7.2} {beside}",
                total / plain
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut rows, mut runs, mut dlt) = (200_000u64, 3usize, true);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--no-dlt" {
            dlt = false;
            continue;
        }
        match (a.as_str(), it.next().map(|v| v.parse::<u64>())) {
            ("--rows", Some(Ok(v))) => rows = v,
            ("--runs", Some(Ok(v))) => runs = usize::try_from(v).unwrap_or(1),
            _ => {
                eprintln!("usage: landfall-bench-load [--rows 200000] [--runs 3] [--no-dlt]");
                return ExitCode::FAILURE;
            }
        }
    }
    match run(rows, runs, dlt).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
