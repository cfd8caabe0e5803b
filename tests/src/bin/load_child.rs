//! Loads the manifests named on the command line with the e2e config, in a
//! process of its own, so a test can kill it mid-transaction with SIGKILL
//! and show that nothing of the load survives.

use landfall::config::Config;
use landfall::lambda::Deadline;
use landfall_infra::{LocalStack, local, stack::repo_root};

#[tokio::main]
async fn main() {
    let stack = LocalStack::discover().unwrap_or_else(|e| panic!("{e}"));
    let config = Config::from_path(&repo_root().join("events/config/e2e.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let functions = local::functions_with(&stack, config).await.unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<(String, String)> = std::env::args().skip(1).map(|k| (stack.curated_bucket.clone(), k)).collect();
    let outcome = functions.load_warehouse.load_manifests(&keys, Deadline::never()).await;
    if let Some(e) = outcome.first_error() {
        eprintln!("load-child: {e}");
        std::process::exit(1);
    }
}
