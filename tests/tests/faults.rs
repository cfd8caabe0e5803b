//! The pipeline under faults at the AWS edge: the functions' S3, SQS and
//! Glue calls go through a proxy on loopback (`infra/faults/proxy.py`) that
//! answers one call in ten with HTTP 500, 503 SlowDown, a throttling error
//! or a connection reset. The pump, standing in for Lambda's event source
//! mapping, talks to moto directly: it is not what is under test. Every file
//! must still load exactly once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use landfall::config::Config;
use landfall_tests::Harness;

const FILES: usize = 20;

struct Proxy {
    child: std::process::Child,
    url: String,
}

impl Proxy {
    fn start(upstream: &str, rate: f64, seed: u64) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let script = landfall_infra::stack::repo_root().join("infra/faults/proxy.py");
        let child = Command::new("python3")
            .arg(script)
            .args(["--upstream", upstream, "--rate", &rate.to_string(), "--seed", &seed.to_string(), "--port-file"])
            .arg(&port_file)
            .args(std::env::var("LANDFALL_FAULTS_LOG").map(|log| vec!["--log".to_owned(), log]).unwrap_or_default())
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs the proxy");
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&port_file).ok().and_then(|t| t.trim().parse::<u16>().ok()) {
                break p;
            }
            assert!(Instant::now() < deadline, "the proxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Proxy { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// Faults injected so far, by kind, and the calls forwarded.
    fn counts(&self) -> serde_json::Value {
        let port = self.url.rsplit(':').next().unwrap_or_default();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
        use std::io::{Read, Write};
        write!(stream, "GET /__faults HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or("{}")).unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Only the process this test started, by its own handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_file_loads_once_through_500s_slowdowns_throttling_and_resets() {
    if std::env::var_os("RUST_LOG").is_some() {
        landfall::lambda::init_tracing();
    }
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_append"]).await;
    // A new seed each run explores other fault sequences; it is printed so a
    // failure can be replayed (`--seed` of infra/faults/proxy.py).
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    eprintln!("fault proxy seed {seed}");
    let proxy = Proxy::start(&h.stack.endpoint, 0.1, seed);
    let mut faulty = h.stack.clone();
    faulty.endpoint = proxy.url.clone();
    let config = Config::from_path(&landfall_infra::stack::repo_root().join("events/config/e2e.yaml")).unwrap();
    let mut functions = landfall_infra::local::functions_with(&faulty, config).await.unwrap();
    functions.sdk = h.functions.sdk.clone();

    let run = format!("{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    for i in 0..FILES {
        h.put(&format!("e2e/append/faults-{run}/{i:02}.csv"), format!("id,name\n{i},a\n{},b\n", i + 1000)).await;
    }
    let report = landfall_infra::local::drain(&h.stack, &functions, Duration::from_secs(300)).await.unwrap();
    assert!(report.drained, "{report:?}");

    let counts = proxy.counts();
    eprintln!("faults injected at the AWS edge: {counts}");
    let injected: u64 = ["http_500", "slow_down_503", "throttled", "connection_reset"]
        .iter()
        .map(|k| counts[k].as_u64().unwrap_or(0))
        .sum();
    assert!(injected > 0, "the proxy injected faults: {counts}");
    let like = format!("s3://{}/e2e/append/faults-{run}/%", h.stack.landing_bucket);
    assert_eq!(
        h.scalar(&format!("SELECT count(*) FROM public.wh_append WHERE _landfall_file LIKE '{like}'")).await,
        (2 * FILES).to_string()
    );
    assert_eq!(
        h.scalar(&format!(
            "SELECT count(*) FROM landfall.load_ledger WHERE source_url LIKE '{like}' AND status = 'loaded'"
        ))
        .await,
        FILES.to_string(),
        "one ledger row per file"
    );
}
