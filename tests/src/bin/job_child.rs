//! Runs one job of the config given on the command line against the local
//! stack, in a process of its own, so a test can kill it with SIGKILL in the
//! middle of a run and show what a crash leaves behind.

use landfall::config::Config;
use landfall_infra::LocalStack;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(job), Some(yaml)) = (args.next(), args.next()) else {
        eprintln!("usage: job-child JOB CONFIG_YAML");
        std::process::exit(2);
    };
    let stack = LocalStack::discover().unwrap_or_else(|e| panic!("{e}"));
    let config = Config::from_yaml(&yaml, "job-child.yaml").unwrap_or_else(|e| panic!("{e}"));
    let runner = landfall_tests::job_runner(&stack, config).await;
    if let Err(e) = runner.run(&run_job::Payload { job, from: None, to: None }).await {
        eprintln!("job-child: {e}");
        std::process::exit(1);
    }
}
