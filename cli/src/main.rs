//! `landfall`: the operator CLI, for the local stack and deployed ones.
//! The commands live in the library (`lib.rs`); this is the entry point only.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    landfall::telemetry::init_tracing_pretty();
    let parsed = landfall_cli::Cli::parse();
    match landfall_cli::run(parsed).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
