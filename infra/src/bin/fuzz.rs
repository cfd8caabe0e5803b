//! `landfall-fuzz TARGET|all --iterations N`: the parsers under mutated
//! input (see `landfall_infra::fuzz`). Prints iterations, inputs per second
//! and the slowest input per target; a failure is minimised and written to
//! `target/fuzz/<target>/`, to be kept under `events/fuzz/<target>/` as a
//! regression input, and the exit code is 1.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use landfall_infra::fuzz::{self, Target, targets::ALL};

#[derive(Debug, Parser)]
#[command(name = "landfall-fuzz", about = "Fuzz landfall's readers and parsers with mutated inputs")]
struct Args {
    /// csv, json, values, config, or all.
    target: String,
    /// Mutated inputs per target (the corpus itself runs first).
    #[arg(long, default_value_t = 100_000)]
    iterations: u64,
    /// Seed of the mutator (a run is reproducible from it).
    #[arg(long, default_value_t = 0x1a4d_fa11)]
    seed: u64,
    /// An input slower than this fails (milliseconds).
    #[arg(long, default_value_t = 2_000)]
    bound_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let targets: Vec<Target> = if args.target == "all" {
        ALL.to_vec()
    } else {
        match Target::parse(&args.target) {
            Some(t) => vec![t],
            None => {
                eprintln!("error: unknown target {:?}; targets: csv, json, values, config, all", args.target);
                return ExitCode::from(2);
            }
        }
    };
    let root = landfall_infra::stack::repo_root();
    let bound = Duration::from_millis(args.bound_ms);
    let mut failed = false;
    for target in targets {
        let seeds = fuzz::corpus(&root, target);
        let report = fuzz::fuzz(target, &seeds, args.iterations, args.seed, bound);
        let per_sec = report.iterations as f64 / report.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{:<7} {:>10} inputs in {:>7.1} s ({:>8.0}/s), {} seeds, slowest {} ms, {} failure(s)",
            target.name(),
            report.iterations,
            report.elapsed.as_secs_f64(),
            per_sec,
            seeds.len(),
            report.slowest.as_millis(),
            report.failures.len()
        );
        for (failure, input) in &report.failures {
            failed = true;
            let dir = root.join("target/fuzz").join(target.name());
            let _ = std::fs::create_dir_all(&dir);
            let hash =
                input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
            let path = dir.join(format!("failure-{hash:016x}.bin"));
            let _ = std::fs::write(&path, input);
            println!("  {failure}\n  minimised to {} bytes: {}", input.len(), path.display());
        }
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
