//! The Redshift driver end to end against a real Redshift (Serverless
//! workgroup or provisioned cluster) and a real S3 bucket. Skipped unless
//! configured, since no local Redshift exists:
//!
//! ```text
//! LANDFALL_IT_REDSHIFT_WORKGROUP=analytics   # or LANDFALL_IT_REDSHIFT_CLUSTER=my-cluster
//! LANDFALL_IT_REDSHIFT_DATABASE=dev
//! LANDFALL_IT_REDSHIFT_SECRET_ARN=arn:...    # or LANDFALL_IT_REDSHIFT_DB_USER=... (clusters)
//! LANDFALL_IT_REDSHIFT_COPY_ROLE=arn:aws:iam::...:role/...   # can read the bucket below
//! LANDFALL_IT_BUCKET=my-scratch-bucket       # same region as Redshift
//! AWS credentials and region as for the AWS CLI
//! cargo test -p landfall-tests --test redshift_live -- --nocapture
//! ```
//!
//! It parses a CSV with parse-file into the bucket (under `landfall-it/`),
//! loads it through the Data API twice (the second load must change
//! nothing), merges a corrected file, and checks the rows and the ledger.

use std::sync::Arc;
use std::time::Duration;

use landfall::config::{Config, RedshiftConfig, RedshiftEndpoint};
use landfall::events::ObjectCreated;
use landfall::lambda::Deadline;
use landfall::storage::{ObjectStore, S3Store, s3_client};
use landfall::telemetry::Metrics;
use landfall::threads::Threads;
use landfall::warehouse::redshift::api::client_token;
use landfall::warehouse::redshift::{DataApi, Polling, RedshiftSettings, RedshiftWarehouse, SdkDataApi, Session};
use load_warehouse::LoadWarehouse;
use parse_file::{Outcome, ParseFile, Settings};

struct Live {
    target: RedshiftConfig,
    bucket: String,
}

fn live() -> Option<Live> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let endpoint = match (var("LANDFALL_IT_REDSHIFT_WORKGROUP"), var("LANDFALL_IT_REDSHIFT_CLUSTER")) {
        (Some(w), _) => RedshiftEndpoint::Workgroup(w),
        (None, Some(c)) => RedshiftEndpoint::Cluster(c),
        (None, None) => return None,
    };
    Some(Live {
        target: RedshiftConfig {
            endpoint,
            database: var("LANDFALL_IT_REDSHIFT_DATABASE").unwrap_or_else(|| "dev".into()),
            secret_arn: var("LANDFALL_IT_REDSHIFT_SECRET_ARN"),
            db_user: var("LANDFALL_IT_REDSHIFT_DB_USER"),
            copy_role_arn: var("LANDFALL_IT_REDSHIFT_COPY_ROLE")?,
        },
        bucket: var("LANDFALL_IT_BUCKET")?,
    })
}

const CONFIG: &str = "
feeds:
  it_orders:
    prefix: landfall-it/landing/orders/
    table: it_orders
    write_disposition: merge
    primary_key: [order_id]
    order_by: updated_at
warehouse:
  driver: redshift
  schema: landfall_it
";

async fn query(api: &SdkDataApi, sql: &str) -> Vec<Vec<Option<String>>> {
    let (id, _) = api
        .submit(vec![sql.to_owned()], "landfall-it-query", Session::None, &client_token("landfall-it-query", &[]))
        .await
        .unwrap();
    loop {
        let d = api.describe(&id).await.unwrap();
        if !d.status.running() {
            assert!(d.error.is_none(), "{sql}: {:?}", d.error);
            return api.rows(&format!("{id}:1")).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_file_loads_into_redshift_exactly_once_and_a_correction_merges() {
    let Some(live) = live() else {
        eprintln!(
            "skipped: set LANDFALL_IT_REDSHIFT_WORKGROUP (or _CLUSTER), _COPY_ROLE and LANDFALL_IT_BUCKET to run"
        );
        return;
    };
    let sdk = aws_config::load_from_env().await;
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(s3_client(&sdk)));
    let config = Arc::new(Config::from_yaml(CONFIG, "redshift_live").unwrap());
    let work = tempfile_dir();
    let metrics = Metrics::new("it");
    let parse = ParseFile::new(
        store.clone(),
        config.clone(),
        Settings { curated_bucket: live.bucket.clone(), work_dir: work.clone(), threads: Threads::available() },
        metrics.clone(),
    );
    let api = SdkDataApi::from_sdk(&sdk, live.target.clone());
    let _ = query(&api, "DROP TABLE IF EXISTS landfall_it.it_orders").await;
    let _ = query(&api, "DELETE FROM landfall.load_ledger WHERE table_name = 'landfall_it.it_orders'").await;
    let settings =
        RedshiftSettings { curated_bucket: live.bucket.clone(), work_dir: work, polling: Polling::default() };
    let warehouse = RedshiftWarehouse::new(Arc::new(api.clone()), store.clone(), &live.target, settings);
    let load = LoadWarehouse::new(store.clone(), config, Arc::new(warehouse), metrics);

    let mut manifests = Vec::new();
    for (name, body) in [
        ("first.csv", "order_id,amount,updated_at\n1,10.50,2026-11-01T10:00:00Z\n2,20.00,2026-11-01T10:00:00Z\n"),
        ("fix.csv", "order_id,amount,updated_at\n2,25.00,2026-11-02T10:00:00Z\n"),
    ] {
        let key = format!("landfall-it/landing/orders/{name}");
        store.put_bytes(&live.bucket, &key, body.as_bytes().to_vec(), "text/csv").await.unwrap();
        match parse.process(&ObjectCreated::put(&live.bucket, &key)).await.unwrap() {
            Outcome::Written { manifest_key, .. } => manifests.push((live.bucket.clone(), manifest_key)),
            other => panic!("{other:?}"),
        }
    }
    for round in 0..2 {
        let outcome = load.load_manifests(&manifests[..1], Deadline::never()).await;
        assert!(outcome.first_error().is_none(), "round {round}: {:?}", outcome.first_error());
    }
    let outcome = load.load_manifests(&manifests[1..], Deadline::never()).await;
    assert!(outcome.first_error().is_none(), "{:?}", outcome.first_error());

    let rows =
        query(&api, "SELECT order_id::varchar, amount::varchar FROM landfall_it.it_orders ORDER BY order_id").await;
    assert_eq!(rows, vec![vec![Some("1".into()), Some("10.50".into())], vec![Some("2".into()), Some("25.00".into())]]);
    let ledger =
        query(&api, "SELECT count(*) FROM landfall.load_ledger WHERE table_name = 'landfall_it.it_orders'").await;
    assert_eq!(ledger, vec![vec![Some("2".into())]], "one ledger row per file, the replay added none");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("landfall-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
