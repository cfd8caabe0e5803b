//! `landfall`, the operator CLI: one command line for the local stack and a
//! deployed one ([`deployment`]), clap-derived, `--help` on every
//! subcommand, `--json` for scripts.
//!
//! Exit codes: 0 done; 1 the command failed (an AWS or warehouse error, a
//! file that failed to load); 2 a usage error (bad flags, no stack, no
//! outputs); 3 what was asked for does not exist (a file, a queue).

pub mod deployment;
pub mod doctor;
pub mod fate;
pub mod invoke;
pub mod jobs;
pub mod local;
pub mod output;
pub mod packaging;
pub mod redrive;
pub mod replay;
pub mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use deployment::{Deployment, TargetArgs, TargetKind};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Stack(#[from] landfall_infra::StackError),
    #[error(transparent)]
    Config(#[from] landfall::config::ConfigError),
    #[error(transparent)]
    Storage(#[from] landfall::storage::StorageError),
    #[error(transparent)]
    Warehouse(#[from] landfall::warehouse::WarehouseError),
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Stack(_) | CliError::Config(_) => 2,
            CliError::NotFound(_) => 3,
            _ => 1,
        }
    }

    /// Any other error, as a failure of the command.
    pub fn failed(e: impl std::fmt::Display) -> CliError {
        CliError::Failed(e.to_string())
    }
}

/// An AWS SDK error with its context (code, message), for messages.
pub fn aws_error<E: std::error::Error>(operation: &str, e: E) -> CliError {
    CliError::Failed(format!("{operation}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))
}

#[derive(Debug, Parser)]
#[command(
    name = "landfall",
    version,
    about = "Operate landfall: status, file fate, replays and redrives, on the local stack or a deployment",
    after_help = "Targets: --target local (the stack infra/stack up started; the default inside such a checkout) \
                  or --target aws (the default credential chain; names from `terraform output -json`)."
)]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print JSON instead of a table (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per feed: last file, last load, files and rows today and over 7 days,
    /// rejects, refusals; per function: queue depth, oldest message, dead letters.
    Status(status::StatusArgs),
    /// The fate of each landing file of a feed (or all): parsed, parts, manifest, ledger status.
    Files(fate::FilesArgs),
    /// The whole chain for one file: landing object, feed, manifest, parts, ledger, rejects.
    File(fate::FileArgs),
    /// The bad rows of a file with line, column, reason and raw text.
    Rejects(fate::RejectsArgs),
    /// Re-run landing objects: send their ObjectCreated notices to parse-file's queue.
    Replay(replay::ReplayArgs),
    /// Move a function's dead-lettered messages back to its queue.
    Redrive(redrive::RedriveArgs),
    /// Load manifests into the warehouse (in-process locally, by invoking load-warehouse on AWS).
    Load(invoke::LoadArgs),
    /// Every configured job with its last run (landfall.job_runs); --job NAME lists its runs.
    Jobs(jobs::JobsArgs),
    /// Run a job by hand, as its schedule does (in-process locally, by invoking run-job on AWS).
    RunJob(jobs::RunArgs),
    /// Register the partitions the Glue catalog lacks (as the daily schedule does).
    Repair(invoke::RepairArgs),
    /// Run a source's fetch by hand (as its schedule does).
    Fetch(invoke::FetchArgs),
    /// Evaluate the feeds' expectations and send the alerts and the digest now (as the 15-minute schedule does).
    Monitor(invoke::MonitorArgs),
    /// Detect and infer a local file: format, schema, typed rows, rejects, and a feed block to paste.
    Infer(local::InferArgs),
    /// What parse-file would make of a local file for a configured feed, without touching AWS.
    Preview(local::PreviewArgs),
    /// Check a config file, with line numbers.
    ValidateConfig(local::ValidateArgs),
    /// Read-only preflight after `terraform apply`: the deployed config is the repository's, the
    /// warehouse answers and its user may create what the loader creates. Pass or the fix, per check.
    Doctor(doctor::DoctorArgs),
    /// Local stack: upload the samples, fetch the demo API, pump, print the lake and the warehouse.
    Demo,
    /// Local stack: deliver queued messages to the handlers until the queues are empty.
    Pump(local::PumpArgs),
    /// Local stack: upload one file to the landing bucket.
    Drop(local::DropArgs),
    /// Local stack: what the curated bucket, the catalog and the warehouse hold.
    Summary,
    /// Print a shell completion script: `landfall completions bash > /etc/bash_completion.d/landfall`.
    Completions(packaging::CompletionsArgs),
    /// Write man pages (landfall.1 and one per subcommand) into a directory.
    Man(packaging::ManArgs),
    /// Print the JSON Schema of landfall.yaml (committed as config/landfall.schema.json for editors).
    ConfigSchema,
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let json = cli.json;
    match cli.command {
        Command::Status(a) => status::run(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Files(a) => fate::files(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::File(a) => fate::file(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Rejects(a) => fate::rejects(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Replay(a) => replay::run(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Redrive(a) => redrive::run(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Load(a) => invoke::load(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Jobs(a) => jobs::run(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::RunJob(a) => jobs::run_job(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Repair(a) => invoke::repair(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Fetch(a) => invoke::fetch(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Monitor(a) => invoke::monitor(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Infer(a) => local::infer(&a, json),
        Command::Preview(a) => local::preview(&a, json),
        Command::ValidateConfig(a) => local::validate_config(&a, json),
        Command::Doctor(a) => doctor::run(&Deployment::resolve(&cli.target).await?, &a, json).await,
        Command::Demo => local::demo().await,
        Command::Pump(a) => local::pump(&a).await,
        Command::Drop(a) => local::drop_file(&a).await,
        Command::Summary => local::summary().await,
        Command::Completions(a) => packaging::completions(&a),
        Command::Man(a) => packaging::man(&a),
        Command::ConfigSchema => packaging::config_schema(),
    }
}

/// The checkout this binary runs in, if any: the nearest directory from the
/// working directory up that holds `config/landfall.yaml` and `infra/stack`.
pub fn checkout_root() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .find(|d| d.join("config/landfall.yaml").is_file() && d.join("infra/stack").is_file())
        .map(Into::into)
}
