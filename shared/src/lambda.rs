//! The one Lambda wiring path every function's `main.rs` takes: tracing as
//! Lambda's log settings say, the AWS SDK configuration with explicit
//! retries and timeouts, and the runtime loop that hands each handler its
//! payload and its deadline and flushes the metrics after every invocation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use serde_json::Value;

use crate::config::Config;
use crate::env::EnvError;
use crate::storage::{ObjectStore, S3Store, s3_client};
use crate::telemetry::Metrics;
use crate::telemetry::catalog::InvocationFinished;

/// Attempts per AWS call, the first included. The SDK's standard mode
/// backs off with jitter and honours throttling; the functions add no loop
/// of their own around SDK calls (the Data API driver, which does, builds
/// its client with retries off).
pub(crate) const SDK_ATTEMPTS: u32 = 3;
/// A black-holed endpoint fails in seconds, not at the function's timeout.
pub(crate) const SDK_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Tracing through lambda_runtime's subscriber, so the function's log
/// configuration wins: `AWS_LAMBDA_LOG_LEVEL` (then `RUST_LOG`) for the
/// level and `AWS_LAMBDA_LOG_FORMAT=JSON` for JSON lines, which Terraform
/// sets.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// The SDK configuration every function builds once at cold start: the
/// default credential chain and region, [`SDK_ATTEMPTS`] standard retries
/// and a [`SDK_CONNECT_TIMEOUT`].
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS))
        .timeout_config(TimeoutConfig::builder().connect_timeout(SDK_CONNECT_TIMEOUT).build())
        .load()
        .await
}

/// The S3 store every function reads and writes through.
pub fn s3_store(sdk: &aws_config::SdkConfig) -> Arc<S3Store> {
    Arc::new(S3Store::new(s3_client(sdk)))
}

/// The config file `LANDFALL_CONFIG` names, read once at cold start.
pub async fn config(store: &dyn ObjectStore) -> Result<Arc<Config>, EnvError> {
    let (location, config) = crate::config::from_env(store).await?;
    tracing::info!(
        config = %location,
        feeds = config.feeds.len(),
        sources = config.sources.len(),
        warehouse = ?config.warehouse.driver,
        "configuration loaded"
    );
    Ok(Arc::new(config))
}

/// `LANDFALL_WORK_DIR`, else the system's temp dir (`/tmp` in Lambda).
pub fn work_dir() -> PathBuf {
    crate::env::optional("LANDFALL_WORK_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir)
}

/// Name prefixes of the scratch folders handlers make in the work dir
/// (parse-file's `parse-`, the loaders' `load-` and `load-rejects-`,
/// tempfile's default `.tmp` for run-job's archives).
const SCRATCH_PREFIXES: [&str; 3] = ["parse-", "load-", ".tmp"];

/// Removes the scratch folders in `dir`, returning how many. Called once
/// as the runtime starts, before any invocation of this process: Lambda
/// keeps `/tmp` across a timeout or a crash, so whatever is there was left
/// by an invocation that was killed and would otherwise fill the ephemeral
/// storage. Never called by the local stack, whose processes share a dir.
pub fn clear_stale_scratch(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_scratch = SCRATCH_PREFIXES.iter().any(|p| name.to_string_lossy().starts_with(p));
        if is_scratch && entry.file_type().is_ok_and(|t| t.is_dir()) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// What a file may cost the function converting it, from the function
/// itself rather than one default for every size: its memory
/// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, which also buys its CPU), its
/// ephemeral storage (`LANDFALL_EPHEMERAL_STORAGE_MB`, which Terraform sets
/// from the function's `ephemeral_storage`) and the invocation's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionBudget {
    /// The function's memory in MB; `None` outside Lambda (no bound).
    pub memory_mb: Option<u64>,
    /// The function's `/tmp` in MB; `None` outside Lambda (no bound).
    pub ephemeral_mb: Option<u64>,
}

impl FunctionBudget {
    /// Decompressed bytes a file may reach per MB of memory: Lambda gives a
    /// function CPU in proportion to its memory (one vCPU at 1,769 MB,
    /// <https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html>),
    /// and parse-file reads about 25 MB/s on one core (docs/bounds.md), so a
    /// 1,024 MB function reads about 14 MB/s and 4 GiB in about its 300 s.
    pub const DECOMPRESSED_BYTES_PER_MB: u64 = 4 << 20;
    /// What recording a file's fate takes after reading stops: finishing and
    /// uploading the open parts, the rejects and the manifest.
    pub const RECORD_MARGIN: Duration = Duration::from_secs(30);

    /// The budget of this process, from Lambda's environment.
    pub fn from_env() -> Self {
        let mb = |name| crate::env::optional(name).and_then(|mb| mb.trim().parse().ok());
        FunctionBudget {
            memory_mb: mb("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
            ephemeral_mb: mb("LANDFALL_EPHEMERAL_STORAGE_MB"),
        }
    }

    /// Bytes a file's open parts may take in `/tmp` together, and as many
    /// its spilled held rows: a third of it each, the last third left to the
    /// rejects file.
    pub fn scratch_bytes(&self) -> Option<u64> {
        self.ephemeral_mb.map(|mb| mb.saturating_mul(1 << 20) / 3)
    }

    /// A feed's read options within this budget: the decompressed-size limit
    /// is the feed's `max_decompressed_mb` or, without one, what the
    /// function's memory reads in time (never more than the feed allows);
    /// reading stops [`Self::RECORD_MARGIN`] before the invocation's end
    /// (`remaining`), so a file that cannot finish is refused with its reason
    /// on its first attempt instead of timing out five times.
    pub fn apply(&self, read: &mut crate::formats::ReadOptions, remaining: Option<Duration>) {
        if read.max_decompressed_bytes.is_none() {
            read.max_decompressed_bytes = self.memory_mb.map(|mb| mb.saturating_mul(Self::DECOMPRESSED_BYTES_PER_MB));
        }
        read.deadline = remaining.map(|left| {
            std::time::Instant::now() + left.saturating_sub(Self::RECORD_MARGIN).max(Duration::from_secs(1))
        });
    }
}

/// When the invocation is cut off. A handler stops taking new work a margin
/// before it and fails what it has not touched, so SQS delivers those
/// messages again instead of Lambda killing the batch mid-way (which fails
/// every message in it, finished or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<SystemTime>);

impl Deadline {
    /// No deadline: tests, the local stack's CLI.
    pub fn never() -> Self {
        Deadline(None)
    }

    pub fn at(when: SystemTime) -> Self {
        Deadline(Some(when))
    }

    /// `duration` from now.
    pub fn after(duration: Duration) -> Self {
        Deadline(SystemTime::now().checked_add(duration))
    }

    /// The invocation's deadline as the Runtime API sends it (milliseconds
    /// since the epoch; 0 when absent).
    pub fn of(context: &lambda_runtime::Context) -> Self {
        if context.deadline == 0 { Deadline::never() } else { Deadline::at(context.deadline()) }
    }

    /// Time left, `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|at| at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
    }

    /// Whether less than `margin` is left: time to stop taking work.
    pub fn within(&self, margin: Duration) -> bool {
        self.remaining().is_some_and(|left| left < margin)
    }
}

/// The Lambda runtime loop for a handler of JSON payloads: each invocation
/// gets its payload and [`Deadline`]; its metrics are flushed as EMF, with
/// the `function` dimension, after every invocation.
pub async fn serve<F, Fut>(function: &'static str, metrics: Metrics, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Value, Deadline) -> Fut,
    Fut: std::future::Future<Output = Result<Value, lambda_runtime::Error>>,
{
    let removed = clear_stale_scratch(&work_dir());
    if removed > 0 {
        tracing::warn!(removed, "removed scratch folders that killed invocations left in the work dir");
    }
    let handler = &handler;
    let metrics = &metrics;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<Value>| async move {
        let started = std::time::Instant::now();
        let result = handler(event.payload, Deadline::of(&event.context)).await;
        InvocationFinished { ok: result.is_ok(), elapsed: started.elapsed() }.emit(metrics);
        metrics.flush_emf(function, &mut std::io::stdout().lock());
        result
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_invocations_scratch_is_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["parse-abc", "load-x1", "load-rejects-y", ".tmpQ1"] {
            std::fs::create_dir_all(dir.path().join(d).join("inner")).unwrap();
        }
        std::fs::create_dir(dir.path().join("keep")).unwrap();
        std::fs::write(dir.path().join("parse-file.log"), b"a file, not a folder").unwrap();
        assert_eq!(clear_stale_scratch(dir.path()), 4);
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(left, vec!["keep", "parse-file.log"]);
    }

    #[test]
    fn a_deadline_says_when_to_stop_taking_work() {
        assert!(!Deadline::never().within(Duration::from_secs(3600)));
        let soon = Deadline::after(Duration::from_secs(5));
        assert!(soon.within(Duration::from_secs(10)));
        assert!(!soon.within(Duration::from_secs(1)));
        let past = Deadline::at(SystemTime::UNIX_EPOCH);
        assert_eq!(past.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn the_runtime_apis_deadline_is_read_and_a_missing_one_is_none() {
        let mut ctx = lambda_runtime::Context::default();
        assert_eq!(Deadline::of(&ctx), Deadline::never());
        ctx.deadline = 1_800_000_000_000;
        assert_eq!(Deadline::of(&ctx), Deadline::at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)));
    }

    #[test]
    fn a_1024_mb_function_reads_at_most_4_gib_unless_the_feed_says_otherwise() {
        let budget = FunctionBudget { memory_mb: Some(1024), ephemeral_mb: Some(512) };
        assert_eq!(budget.scratch_bytes(), Some((512 << 20) / 3));
        let mut opts = crate::formats::ReadOptions::default();
        budget.apply(&mut opts, Some(Duration::from_secs(300)));
        assert_eq!(opts.max_decompressed_bytes, Some(4 << 30));
        let left = opts.deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()).as_secs());
        assert!(left.is_some_and(|s| (268..=270).contains(&s)), "{left:?}: the deadline less the record margin");
        let mut feed_says = crate::formats::ReadOptions { max_decompressed_bytes: Some(1 << 20), ..Default::default() };
        budget.apply(&mut feed_says, None);
        assert_eq!((feed_says.max_decompressed_bytes, feed_says.deadline), (Some(1 << 20), None));
    }
}
