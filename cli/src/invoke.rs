//! `landfall load`, `repair`, `fetch` and `monitor`: run a function's work by hand. On
//! the local stack the handlers run in this process, as the pump runs them;
//! on AWS the deployed function is invoked with the same payload its
//! trigger sends, so the run is logged, metered and permissioned as any other.

use std::time::Duration;

use chrono::NaiveDate;
use landfall::events::{ObjectCreated, notification};
use landfall::lambda::Deadline;
use landfall::layout;
use landfall::pipeline::NoticeHandler;
use landfall_infra::local;
use serde_json::{Value, json};

use super::output::emit;
use super::{CliError, Deployment, TargetKind};

#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Manifest keys of the curated bucket (`_manifests/<table>/<file-id>.json`) or their s3:// URLs.
    #[arg(required = true)]
    pub manifests: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RepairArgs {
    /// Only these tables (default: all).
    pub tables: Vec<String>,
    /// First day to repair (YYYY-MM-DD).
    #[arg(long, requires = "to", conflicts_with = "days")]
    pub from: Option<NaiveDate>,
    /// Last day to repair (YYYY-MM-DD).
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// The last N days (the schedule's default is 3).
    #[arg(long)]
    pub days: Option<u32>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FetchArgs {
    /// The configured source.
    pub source: String,
    /// Backfill window start (RFC 3339 or YYYY-MM-DD), as the schedule's payload takes it.
    #[arg(long)]
    pub start: Option<String>,
    /// Backfill window end.
    #[arg(long)]
    pub end: Option<String>,
    /// Local stack only: send the source's requests to this scheme://host:port instead (a test server).
    #[arg(long)]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct MonitorArgs {
    /// Local stack only: the Secrets Manager secret holding a Slack webhook URL (on AWS the function's own).
    #[arg(long)]
    pub slack_secret: Option<String>,
    /// Local stack only: an SNS topic ARN to publish the alerts to.
    #[arg(long)]
    pub sns_topic: Option<String>,
}

/// Invokes a deployed function and returns its JSON answer; a function
/// error is this command's failure, with the function's message.
pub(super) async fn invoke(d: &Deployment, function: &str, payload: &Value) -> Result<Value, CliError> {
    let deployed = d.functions.get(function).ok_or_else(|| {
        CliError::Usage(format!(
            "the outputs list no deployed {function} (create_functions = false?); deployed: {}",
            d.functions.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let lambda = aws_sdk_lambda::Client::new(&d.sdk);
    let out = lambda
        .invoke()
        .function_name(&deployed.function_name)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
        .send()
        .await
        .map_err(|e| super::aws_error("Invoke", e))?;
    let body = out.payload().map(|b| String::from_utf8_lossy(b.as_ref()).into_owned()).unwrap_or_default();
    if let Some(kind) = out.function_error() {
        return Err(CliError::Failed(format!("{} failed ({kind}): {body}", deployed.function_name)));
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

fn manifest_key<'a>(d: &Deployment, m: &'a str) -> Result<&'a str, CliError> {
    match layout::parse_s3_url(m) {
        Some((bucket, key)) if bucket == d.curated_bucket => Ok(key),
        Some((bucket, _)) => Err(CliError::Usage(format!("{m}: manifests live in {}, not {bucket}", d.curated_bucket))),
        None => Ok(m),
    }
}

pub async fn load(d: &Deployment, args: &LoadArgs, json: bool) -> Result<(), CliError> {
    let keys: Vec<String> =
        args.manifests.iter().map(|m| manifest_key(d, m).map(str::to_owned)).collect::<Result<_, _>>()?;
    let answer = match (d.kind, &d.local) {
        (TargetKind::Local, Some(stack)) => {
            let functions = local::functions(stack).await.map_err(CliError::failed)?;
            let pairs: Vec<(String, String)> = keys.iter().map(|k| (d.curated_bucket.clone(), k.clone())).collect();
            let outcome = functions.load_warehouse.load_manifests(&pairs, Deadline::never()).await;
            let loads: Vec<Value> = outcome
                .reports()
                .map(|r| {
                    json!({"table": r.table, "load_id": r.load_id, "files": r.files.len(),
                        "already_loaded": r.already_loaded.len(), "rows_loaded": r.rows_loaded,
                        "rows_rejected_at_load": r.rows_rejected_at_load, "changes": r.changes})
                })
                .collect();
            if let Some(e) = outcome.first_error() {
                return Err(CliError::Failed(e));
            }
            json!({"loads": loads, "missing": outcome.missing})
        }
        _ => {
            let objects: Vec<ObjectCreated> = keys.iter().map(|k| ObjectCreated::put(&d.curated_bucket, k)).collect();
            let payload: Value = serde_json::from_str(&notification(&objects)).map_err(CliError::failed)?;
            invoke(d, "load-warehouse", &payload).await?
        }
    };
    emit(json, &answer, |a| {
        let mut out = String::new();
        for l in a["loads"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{}: load {}, {} file(s) loaded, {} already loaded (a no-op), {} row(s), {} rejected at load\n",
                l["table"].as_str().unwrap_or("?"),
                l["load_id"].as_str().unwrap_or("?"),
                l["files"],
                l["already_loaded"],
                l["rows_loaded"],
                l["rows_rejected_at_load"]
            ));
        }
        for m in a["missing"].as_array().into_iter().flatten() {
            out.push_str(&format!("{}: no such manifest\n", m.as_str().unwrap_or("?")));
        }
        out.trim_end().to_owned()
    })
}

pub async fn repair(d: &Deployment, args: &RepairArgs, json: bool) -> Result<(), CliError> {
    let mut request = serde_json::Map::new();
    if !args.tables.is_empty() {
        request.insert("tables".into(), json!(args.tables));
    }
    if let (Some(from), Some(to)) = (args.from, args.to) {
        request.insert("from".into(), json!(from.to_string()));
        request.insert("to".into(), json!(to.to_string()));
    }
    if let Some(days) = args.days {
        request.insert("days".into(), json!(days));
    }
    let payload = json!({ "repair": request });
    let answer = match (d.kind, &d.local) {
        (TargetKind::Local, Some(stack)) => {
            let functions = local::functions(stack).await.map_err(CliError::failed)?;
            functions.register_partitions.handle(payload, Deadline::never()).await.map_err(CliError::failed)?
        }
        _ => invoke(d, "register-partitions", &payload).await?,
    };
    emit(json, &answer, |a| serde_json::to_string_pretty(a).unwrap_or_default())
}

pub async fn fetch(d: &Deployment, args: &FetchArgs, json: bool) -> Result<(), CliError> {
    let mut payload = json!({ "source": args.source });
    if let Some(s) = &args.start {
        payload["start"] = json!(s);
    }
    if let Some(e) = &args.end {
        payload["end"] = json!(e);
    }
    let answer = match (d.kind, &d.local) {
        (TargetKind::Local, Some(stack)) => {
            let store = d.store();
            let mut config = landfall::config::load(&stack.config_url, &store).await?;
            if let Some(base) = &args.base_url {
                local::point_source_at(&mut config, &args.source, base).map_err(CliError::failed)?;
            }
            let functions = local::functions_with(stack, config).await.map_err(CliError::failed)?;
            let run = functions.fetch_api.handle(payload, Deadline::never()).await.map_err(CliError::failed)?;
            // Locally nothing else delivers the pages' events: pump them through.
            let drained = local::drain(stack, &functions, Duration::from_secs(180)).await.map_err(CliError::failed)?;
            json!({"run": run, "drained": drained.drained})
        }
        _ if args.base_url.is_some() => {
            return Err(CliError::Usage("--base-url is for the local stack only".into()));
        }
        _ => json!({ "run": invoke(d, "fetch-api", &payload).await? }),
    };
    emit(json, &answer, |a| serde_json::to_string_pretty(a).unwrap_or_default())
}

/// `landfall monitor`: one monitor-feeds run now. Locally the handler runs
/// here on the stack's warehouse, telling the channels given (none: the
/// alerts and the digest are only recorded); on AWS the deployed function
/// runs with its own.
pub async fn monitor(d: &Deployment, args: &MonitorArgs, json: bool) -> Result<(), CliError> {
    let payload = json!({ "monitor": "by hand" });
    let answer = match (d.kind, &d.local) {
        (TargetKind::Local, Some(stack)) => {
            let functions = local::functions(stack).await.map_err(CliError::failed)?;
            let notifier = monitor_feeds::Notifier::new(
                std::sync::Arc::new(landfall::secrets::SecretsManager::new(&functions.sdk)),
                std::sync::Arc::new(monitor_feeds::sns::SnsPublisher::new(&functions.sdk)),
                functions.metrics.clone(),
            );
            let defaults = landfall::config::Channels {
                slack_secret: args.slack_secret.clone(),
                sns_topic: args.sns_topic.clone(),
            };
            let handler = monitor_feeds::MonitorFeeds::new(
                functions.config.clone(),
                functions.warehouse.clone(),
                monitor_feeds::Curated { store: std::sync::Arc::new(d.store()), bucket: d.curated_bucket.clone() },
                notifier,
                defaults,
                functions.metrics.clone(),
            );
            handler.handle(payload, Deadline::never()).await.map_err(CliError::failed)?
        }
        _ if args.slack_secret.is_some() || args.sns_topic.is_some() => {
            return Err(CliError::Usage(
                "--slack-secret and --sns-topic are for the local stack; the deployed function has its own".into(),
            ));
        }
        _ => invoke(d, "monitor-feeds", &payload).await?,
    };
    emit(json, &answer, |a| serde_json::to_string_pretty(a).unwrap_or_default())
}
