//! Fuzzing on stable Rust: a generator/mutator loop over a corpus seeded from
//! `events/samples/`, the configs and the kept regression inputs
//! (`events/fuzz/<target>/`), driving five targets: the CSV reader, the JSON
//! reader, value parsing, the config parser and column naming across files. `landfall-fuzz` (and
//! `infra/fuzz`) runs them; a panic, a broken invariant or an input slower
//! than the bound is a failure, minimised and written out for keeping.
//!
//! Not coverage-guided (cargo-fuzz needs nightly): the mutations are chosen
//! for these formats (quotes, delimiters, braces, escapes, BOMs, invalid
//! UTF-8, deep nesting, splices of two inputs), which is what found the
//! readers' edge cases before.

pub mod mutate;
pub mod targets;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use mutate::{Mutator, Rng};
pub use targets::Target;

/// Why an input fails a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Panic(String),
    /// The target returned, but an invariant did not hold.
    Invariant(String),
    /// Longer than the per-input bound.
    Slow(Duration),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panic(m) => write!(f, "panic: {m}"),
            Failure::Invariant(m) => write!(f, "invariant: {m}"),
            Failure::Slow(d) => write!(f, "slow: {} ms", d.as_millis()),
        }
    }
}

/// A target as the driver runs it: `Err` is a broken invariant.
pub type Run<'a> = &'a (dyn Fn(&[u8]) -> Result<(), String> + std::panic::RefUnwindSafe);

/// Runs one input, catching a panic and timing it against `bound`.
pub fn check(target: Target, input: &[u8], bound: Duration) -> Result<(), Failure> {
    check_with(&|i: &[u8]| target.run(i), input, bound)
}

fn check_with(run: Run<'_>, input: &[u8], bound: Duration) -> Result<(), Failure> {
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| run(input));
    let took = started.elapsed();
    match outcome {
        Err(p) => {
            let message = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "non-string panic".into());
            Err(Failure::Panic(message))
        }
        Ok(Err(invariant)) => Err(Failure::Invariant(invariant)),
        Ok(Ok(())) if took > bound => Err(Failure::Slow(took)),
        Ok(Ok(())) => Ok(()),
    }
}

/// The smallest input found that still fails the same way (greedy removal
/// of chunks, halving their size), so a kept fixture shows the cause.
pub fn minimise(target: Target, input: &[u8], bound: Duration) -> Vec<u8> {
    minimise_with(&|i: &[u8]| target.run(i), input, bound)
}

fn minimise_with(run: Run<'_>, input: &[u8], bound: Duration) -> Vec<u8> {
    let same = |candidate: &[u8], want: &Failure| {
        matches!(
            (check_with(run, candidate, bound * 4), want),
            (Err(Failure::Panic(_)), Failure::Panic(_))
                | (Err(Failure::Invariant(_)), Failure::Invariant(_))
                | (Err(Failure::Slow(_)), Failure::Slow(_))
        )
    };
    let Err(want) = check_with(run, input, bound) else { return input.to_vec() };
    let mut best = input.to_vec();
    let mut chunk = best.len().div_ceil(2).max(1);
    while chunk >= 1 {
        let mut at = 0;
        let mut shrunk = false;
        while at < best.len() {
            let end = (at + chunk).min(best.len());
            let mut candidate = best[..at].to_vec();
            candidate.extend_from_slice(&best[end..]);
            if same(&candidate, &want) {
                best = candidate;
                shrunk = true;
            } else {
                at = end;
            }
        }
        if !shrunk {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    best
}

/// Seed inputs for a target: the sample files, the configs, its kept
/// regression inputs, and a few hand-made edge cases.
pub fn corpus(root: &Path, target: Target) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = match target {
        Target::Config => vec![root.join("config"), root.join("events/config")],
        _ => vec![root.join("events/samples"), root.join("events/api")],
    };
    dirs.push(root.join("events/fuzz").join(target.name()));
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out: Vec<Vec<u8>> =
        files.iter().filter_map(|p| std::fs::read(p).ok()).filter(|b| b.len() < 1 << 20).collect();
    if target == Target::Values {
        // One field at a time: the values of the samples, not whole files.
        let fields: std::collections::BTreeSet<Vec<u8>> = out
            .iter()
            .flat_map(|f| f.split(|b| b",;|\t\n\r\"".contains(b)).map(<[u8]>::to_vec).collect::<Vec<_>>())
            .filter(|f| !f.is_empty() && f.len() <= 128)
            .collect();
        out = fields.into_iter().collect();
    }
    out.extend(targets::edge_cases(target));
    out
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub iterations: u64,
    pub elapsed: Duration,
    pub failures: Vec<(Failure, Vec<u8>)>,
    /// The slowest input's time.
    pub slowest: Duration,
}

/// `iterations` mutated inputs through `target`; stops early at the first
/// failure (minimised).
pub fn fuzz(target: Target, seeds: &[Vec<u8>], iterations: u64, seed: u64, bound: Duration) -> Report {
    let mut m = Mutator::new(seed);
    let mut report = Report::default();
    let started = Instant::now();
    // The seeds themselves first: a regression input must still pass.
    let mut queue: std::collections::VecDeque<Vec<u8>> = seeds.iter().cloned().collect();
    while report.iterations < iterations {
        let input = match queue.pop_front() {
            Some(i) => i,
            None => m.mutate(seeds),
        };
        let t = Instant::now();
        let result = check(target, &input, bound);
        report.slowest = report.slowest.max(t.elapsed());
        report.iterations += 1;
        if let Err(f) = result {
            let small = minimise(target, &input, bound);
            report.failures.push((f, small));
            break;
        }
    }
    report.elapsed = started.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(5);

    fn fails_on_xy(input: &[u8]) -> Result<(), String> {
        if input.windows(2).any(|w| w == b"XY") { Err("XY".into()) } else { Ok(()) }
    }

    #[test]
    fn a_failing_input_is_minimised_to_what_still_fails() {
        let input = b"aaaa,bbbb\nccXYdd\n\"eeee\"".to_vec();
        assert_eq!(minimise_with(&fails_on_xy, &input, BOUND), b"XY".to_vec());
    }

    #[test]
    fn a_panic_is_caught_and_reported_with_its_message() {
        let panics = |i: &[u8]| -> Result<(), String> {
            assert!(!i.contains(&b'Z'), "found a Z");
            Ok(())
        };
        assert_eq!(check_with(&panics, b"abcZ", BOUND), Err(Failure::Panic("found a Z".into())));
        assert_eq!(check_with(&panics, b"abc", BOUND), Ok(()));
    }
}
