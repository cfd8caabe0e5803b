//! Cold-start benchmark: each function's package size and its init time,
//! from process start to its first request to a local stand-in for the
//! Lambda Runtime API (`GET /2018-06-01/runtime/invocation/next` on
//! loopback), with the config read from a local file and from the local
//! stack's S3 (moto), so the config fetch shows on its own. Prints figures.
//!
//!   infra/stack up
//!   for f in fetch-api load-warehouse parse-file register-partitions ...; do cargo build --profile bench-fast -p $f; done
//!   (one build per function: cargo unifies the features of the packages one build names)
//!   cargo run --profile bench-fast -p landfall-infra --bin landfall-bench-cold-start -- [--profile bench-fast] [--runs 5]
//!
//! The package is the binary stripped (strip(1)) and deflated into a zip as
//! `bootstrap`, as `cargo lambda build --output-format zip` packages it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use landfall_infra::LocalStack;
use landfall_infra::stack::repo_root;
use std::io::Read;
use std::net::TcpListener;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The function packages: directories under functions/.
fn functions() -> BenchResult<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("functions"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// The stripped binary deflated into a zip as `bootstrap`: its size in bytes.
fn package_size(binary: &Path, scratch: &Path) -> BenchResult<(u64, u64)> {
    let stripped = scratch.join("bootstrap");
    std::fs::copy(binary, &stripped)?;
    if !Command::new("strip").arg(&stripped).status()?.success() {
        return Err("strip failed".into());
    }
    let zip = scratch.join("bootstrap.zip");
    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n    z.write(sys.argv[2], 'bootstrap')\n";
    if !Command::new("python3").args(["-c", script]).arg(&zip).arg(&stripped).status()?.success() {
        return Err("zipping failed".into());
    }
    Ok((std::fs::metadata(&stripped)?.len(), std::fs::metadata(&zip)?.len()))
}

/// Starts the function and waits for its first `invocation/next`: the
/// time from spawn to that request (polled every 0.2 ms).
fn init_time(binary: &Path, stack: &LocalStack, config: &str, function: &str) -> BenchResult<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let api = listener.local_addr()?.to_string();
    let work = tempfile::tempdir()?;
    let mut cmd = Command::new(binary);
    cmd.env_clear()
        .envs(stack.env.iter().filter(|(k, _)| k.starts_with("AWS_")))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .env("LANDFALL_CONFIG", config)
        .env("LANDFALL_LANDING_BUCKET", &stack.landing_bucket)
        .env("LANDFALL_CURATED_BUCKET", &stack.curated_bucket)
        .env("LANDFALL_GLUE_DATABASE", &stack.glue_database)
        .env("LANDFALL_WAREHOUSE_URL", &stack.database_url)
        .env("LANDFALL_WORK_DIR", work.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let outcome = loop {
        match listener.accept() {
            Ok((mut socket, _)) => {
                socket.set_nonblocking(false)?;
                socket.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut head = [0u8; 4096];
                let n = socket.read(&mut head)?;
                let text = String::from_utf8_lossy(&head[..n]).into_owned();
                if text.starts_with("GET /2018-06-01/runtime/invocation/next") {
                    break Ok(started.elapsed());
                }
                // An init error report: the function could not start.
                break Err(format!("{function}: {}", text.lines().last().unwrap_or_default()).into());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => break Err(e.into()),
        }
        if let Some(status) = child.try_wait()? {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            break Err(format!("{function} exited ({status}): {}", err.lines().last().unwrap_or_default()).into());
        }
        if started.elapsed() > Duration::from_secs(20) {
            break Err(format!("{function}: no request within 20 s").into());
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    // Only the process this benchmark started, by its own handle.
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn run(profile: &str, runs: usize) -> BenchResult<()> {
    let stack = LocalStack::discover()?;
    let local_config = repo_root().join("config/landfall.yaml").display().to_string();
    let s3_config = stack.config_url.clone();
    let scratch = tempfile::tempdir()?;
    println!("profile {profile}, x86_64; init = spawn to the first invocation/next; median of {runs}");
    println!(
        "{:<20} {:>11} {:>9} {:>16} {:>15} {:>13}",
        "function", "stripped MB", "zip MB", "init (file) ms", "init (S3) ms", "config ms"
    );
    for function in functions()? {
        let binary: PathBuf = repo_root().join("target").join(profile).join(&function);
        if !binary.is_file() {
            println!("{function:<20} not built: cargo build --profile {profile} -p {function}");
            continue;
        }
        let (stripped, zip) = package_size(&binary, scratch.path())?;
        let mut file_times = Vec::with_capacity(runs);
        let mut s3_times = Vec::with_capacity(runs);
        for _ in 0..runs {
            file_times.push(init_time(&binary, &stack, &local_config, &function)?);
            s3_times.push(init_time(&binary, &stack, &s3_config, &function)?);
        }
        let (file, s3) = (median(file_times), median(s3_times));
        let mb = |b: u64| b as f64 / 1e6;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{function:<20} {:>11.2} {:>9.2} {:>16.1} {:>15.1} {:>13.1}",
            mb(stripped),
            mb(zip),
            ms(file),
            ms(s3),
            ms(s3.saturating_sub(file))
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut profile, mut runs) = ("bench-fast".to_owned(), 5usize);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--profile", Some(p)) => profile = p.clone(),
            ("--runs", Some(n)) if n.parse::<usize>().is_ok() => runs = n.parse().unwrap_or(5),
            _ => {
                eprintln!("usage: landfall-bench-cold-start [--profile bench-fast|release] [--runs 5]");
                return ExitCode::FAILURE;
            }
        }
    }
    match run(&profile, runs.max(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
