//! The CLI as an installed tool: shell completions and man pages, both
//! generated from the same clap definition the parser uses, so they cannot
//! drift from the commands; and the config's JSON Schema for editors,
//! generated from the types `validate-config` reads the file into.

use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::{Cli, CliError};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing), e.g. /usr/local/share/man/man1.
    pub dir: PathBuf,
}

/// Prints the completion script of one shell on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "landfall", &mut std::io::stdout());
    Ok(())
}

/// Writes `landfall.1` and `landfall-<subcommand>.1` for every subcommand.
pub fn man(args: &ManArgs) -> Result<(), CliError> {
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| CliError::Failed(format!("creating {}: {e}", args.dir.display())))?;
    clap_mangen::generate_to(Cli::command(), &args.dir)
        .map_err(|e| CliError::Failed(format!("writing man pages to {}: {e}", args.dir.display())))?;
    println!("man pages written to {}", args.dir.display());
    Ok(())
}

/// Prints the JSON Schema of `landfall.yaml`.
pub fn config_schema() -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(&landfall::config::json_schema()).map_err(CliError::failed)?;
    println!("{text}");
    Ok(())
}
