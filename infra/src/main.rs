//! `landfall`: the operator CLI, for the local stack and deployed ones.
//! The commands live in `cli/`; this is the entry point only.

use std::process::ExitCode;

use clap::Parser;

mod cli;

#[tokio::main]
async fn main() -> ExitCode {
    landfall::telemetry::init_tracing_pretty();
    let parsed = cli::Cli::parse();
    match cli::run(parsed).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
