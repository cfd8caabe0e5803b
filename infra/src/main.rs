//! `landfall`: the operator CLI of the local stack.
//!
//!   landfall demo                   upload events/samples/ to the landing bucket, pump, print the lake
//!   landfall pump [--timeout S]     deliver queued messages to the handlers until the queues are empty
//!   landfall drop FILE [KEY]        upload one file to the landing bucket (KEY defaults to the file name)
//!   landfall summary                print what the curated bucket, the Glue catalog and the warehouse hold
//!   landfall repair [TABLE...] [--from D --to D | --days N]
//!                                   register the partitions the catalog lacks (all tables by default)
//!   landfall load MANIFEST_KEY...   load manifests by hand (a replay; the ledger makes repeats no-ops)
//!   landfall validate-config [PATH] check a config file (default config/landfall.yaml)
//!   landfall fetch SOURCE [--start T] [--end T] [--base-url URL]
//!                                   fire a source's schedule by hand (fetch-api), then pump

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use landfall::config::Config;
use landfall::lambda::Deadline;
use landfall::layout;
use landfall::manifest::Manifest;
use landfall::rejects::read_rejects;
use landfall::storage::{ObjectStore, S3Store, s3_client};
use landfall_infra::{LocalStack, local, stack::repo_root};

type CliResult = Result<(), Box<dyn std::error::Error>>;

fn usage() -> &'static str {
    "usage: landfall demo | pump [--timeout SECONDS] | drop FILE [KEY] | summary | repair [TABLE...] [--from YYYY-MM-DD --to YYYY-MM-DD | --days N] | load MANIFEST_KEY... | validate-config [PATH] | fetch SOURCE [--start T] [--end T] [--base-url URL]"
}

#[tokio::main]
async fn main() -> ExitCode {
    landfall::telemetry::init_tracing_pretty();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo().await,
        Some("pump") => pump(&args[1..]).await,
        Some("drop") => drop_file(&args[1..]).await,
        Some("summary") => summary().await,
        Some("repair") => repair(&args[1..]).await,
        Some("load") => load(&args[1..]).await,
        Some("validate-config") => validate_config(args.get(1).map(PathBuf::from)),
        Some("fetch") => fetch(&args[1..]).await,
        Some("-h" | "--help" | "help") => {
            println!("{}", usage());
            Ok(())
        }
        _ => Err(usage().into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn validate_config(path: Option<PathBuf>) -> CliResult {
    let path = path.unwrap_or_else(|| repo_root().join("config/landfall.yaml"));
    let config = Config::from_path(&path)?;
    println!("{}: valid, {} feed(s), {} source(s)", path.display(), config.feeds.len(), config.sources.len());
    for f in &config.feeds {
        println!(
            "  {:<20} prefix {:<24} -> table {:<20} {:?}{}",
            f.name,
            f.prefix,
            f.table,
            f.write_disposition,
            f.partition_column.as_deref().map(|p| format!(", partitioned by {p}")).unwrap_or_default()
        );
    }
    Ok(())
}

async fn pump(args: &[String]) -> CliResult {
    let timeout = match args {
        [flag, secs] if flag == "--timeout" => secs.parse()?,
        [] => 120,
        _ => return Err(usage().into()),
    };
    let stack = LocalStack::discover()?;
    let functions = local::functions(&stack).await?;
    let report = local::drain(&stack, &functions, Duration::from_secs(timeout)).await?;
    for (f, r) in &report.functions {
        println!(
            "{f}: {} invocation(s), {} message(s), {} failed, {} deleted",
            r.invocations, r.messages, r.failures, r.deleted
        );
    }
    if !report.drained {
        return Err(format!("queues not empty after {timeout}s").into());
    }
    Ok(())
}

async fn drop_file(args: &[String]) -> CliResult {
    let (file, key) = match args {
        [file] => (PathBuf::from(file), None),
        [file, key] => (PathBuf::from(file), Some(key.clone())),
        _ => return Err(usage().into()),
    };
    let stack = LocalStack::discover()?;
    let key = key.unwrap_or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let s3 = s3_client(&stack.sdk_config().await);
    upload(&s3, &stack.landing_bucket, &key, &file).await?;
    println!("uploaded {} to s3://{}/{key}", file.display(), stack.landing_bucket);
    Ok(())
}

/// Puts a local file into the landing bucket, as a partner would.
async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, path: &Path) -> CliResult {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_path(path).await?)
        .send()
        .await
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
    Ok(())
}

fn sample_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The schedule's payload fired by hand: `{"source", "start"?, "end"?}`.
async fn fetch(args: &[String]) -> CliResult {
    let Some((source, mut rest)) = args.split_first() else { return Err(usage().into()) };
    let mut payload = serde_json::json!({ "source": source });
    let mut base_url = None;
    while let [flag, value, tail @ ..] = rest {
        match flag.as_str() {
            "--start" => payload["start"] = value.clone().into(),
            "--end" => payload["end"] = value.clone().into(),
            "--base-url" => base_url = Some(value.clone()),
            _ => return Err(usage().into()),
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(usage().into());
    }
    let stack = LocalStack::discover()?;
    let functions = fetch_functions(&stack, source, base_url.as_deref()).await?;
    fetch_and_pump(&stack, &functions, payload).await
}

/// The handlers, with one source's base URL pointed elsewhere if asked (a local server).
async fn fetch_functions(
    stack: &LocalStack,
    source: &str,
    base_url: Option<&str>,
) -> Result<local::Functions, Box<dyn std::error::Error>> {
    let store = S3Store::new(s3_client(&stack.sdk_config().await));
    let mut config = landfall::config::load(&stack.config_url, &store).await?;
    if let Some(base) = base_url {
        local::point_source_at(&mut config, source, base)?;
    }
    Ok(local::functions_with(stack, config).await?)
}

async fn fetch_and_pump(stack: &LocalStack, functions: &local::Functions, payload: serde_json::Value) -> CliResult {
    let result = functions.fetch_api.handle(payload, Deadline::never()).await.map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    let report = local::drain(stack, functions, Duration::from_secs(180)).await?;
    for (f, r) in &report.functions {
        println!("  {f}: {} invocation(s), {} message(s), {} failed", r.invocations, r.messages, r.failures);
    }
    Ok(())
}

/// Serves `dir` over HTTP on a free loopback port (python3's http.server),
/// for the demo's API source. The caller stops it.
fn serve_directory(dir: &Path) -> Result<(std::process::Child, String), Box<dyn std::error::Error>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = std::process::Command::new("python3")
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return Err(format!("python3 -m http.server did not listen on 127.0.0.1:{port}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// The demo's API source: `demo_leads` from the stack's config, fetched
/// from a local server replaying events/api/demo/.
async fn demo_fetch(stack: &LocalStack) -> Result<local::Functions, Box<dyn std::error::Error>> {
    let (mut server, base) = serve_directory(&repo_root().join("events/api/demo"))?;
    println!("== fetching source demo_leads from {base} (python3 -m http.server, pid {})", server.id());
    let fetched = async {
        let functions = fetch_functions(stack, "demo_leads", Some(&base)).await?;
        let result = functions
            .fetch_api
            .handle(serde_json::json!({"source": "demo_leads"}), Deadline::never())
            .await
            .map_err(|e| e.to_string())?;
        println!("  {result}");
        Ok::<_, Box<dyn std::error::Error>>(functions)
    }
    .await;
    // Stop the server we started (by its handle, so its PID), whatever happened.
    let _ = server.kill();
    let _ = server.wait();
    fetched
}

async fn demo() -> CliResult {
    let stack = LocalStack::discover()?;
    let s3 = s3_client(&stack.sdk_config().await);
    let samples = repo_root().join("events/samples");
    println!("== uploading {} to s3://{}/", samples.display(), stack.landing_bucket);
    for path in sample_files(&samples)? {
        let key = path.strip_prefix(&samples)?.to_string_lossy().replace('\\', "/");
        upload(&s3, &stack.landing_bucket, &key, &path).await?;
        println!("  {key}");
    }
    let functions = demo_fetch(&stack).await?;
    println!("== pumping the queues into the handlers");
    let report = local::drain(&stack, &functions, Duration::from_secs(180)).await?;
    for (f, r) in &report.functions {
        println!("  {f}: {} invocation(s), {} message(s), {} failed", r.invocations, r.messages, r.failures);
    }
    summary_of(&stack).await?;
    warehouse_summary(&stack, &functions.config.warehouse.schema).await?;
    let dead = local::pump(&stack, &functions)?.dead_letters().await?;
    println!("== dead-letter queues: {dead:?}");
    if !report.drained {
        return Err("the queues did not drain within 180s".into());
    }
    Ok(())
}

async fn load(keys: &[String]) -> CliResult {
    if keys.is_empty() {
        return Err(usage().into());
    }
    let stack = LocalStack::discover()?;
    let functions = local::functions(&stack).await?;
    let keys: Vec<(String, String)> = keys.iter().map(|k| (stack.curated_bucket.clone(), k.clone())).collect();
    let outcome = functions.load_warehouse.load_manifests(&keys, Deadline::never()).await;
    for report in outcome.reports() {
        println!(
            "{}: load {}, {} file(s) loaded, {} already loaded, {} row(s), {} rejected at load, changes {:?}",
            report.table,
            report.load_id,
            report.files.len(),
            report.already_loaded.len(),
            report.rows_loaded,
            report.rows_rejected_at_load,
            report.changes
        );
    }
    for key in &outcome.missing {
        println!("{key}: no such manifest");
    }
    match outcome.first_error() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

async fn summary() -> CliResult {
    let stack = LocalStack::discover()?;
    summary_of(&stack).await?;
    let config = landfall::config::Config::from_path(&repo_root().join("config/landfall.yaml"))?;
    warehouse_summary(&stack, &config.warehouse.schema).await
}

/// The local warehouse as an analyst would see it: each table's row count
/// and first rows, and the ledger.
async fn warehouse_summary(stack: &LocalStack, schema: &str) -> CliResult {
    use tokio_postgres::SimpleQueryMessage;
    let (client, connection) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let rows = |msgs: Vec<SimpleQueryMessage>| -> Vec<Vec<String>> {
        msgs.into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).unwrap_or("NULL").to_owned()).collect())
                }
                _ => None,
            })
            .collect()
    };
    println!("== warehouse tables in {} (schema {schema})", stack.database_url);
    let q = format!(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = {} ORDER BY 1",
        landfall::warehouse::Dialect::Postgres.literal(schema)
    );
    for table in rows(client.simple_query(&q).await?).into_iter().filter_map(|r| r.into_iter().next()) {
        let name = landfall::warehouse::TableName::new(schema, &table);
        let count = rows(client.simple_query(&format!("SELECT count(*) FROM {name}")).await?);
        let n = count.first().and_then(|r| r.first()).cloned().unwrap_or_default();
        println!("  {name}: {n} row(s)");
        let sample = client
            .simple_query(&format!("SELECT * FROM {name} ORDER BY _landfall_file, _landfall_row LIMIT 3"))
            .await?;
        let columns: Vec<String> = sample
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(r.columns().iter().map(|c| c.name().to_owned()).collect()),
                _ => None,
            })
            .unwrap_or_default();
        let shown: Vec<&String> = columns.iter().filter(|c| !c.starts_with("_landfall")).collect();
        if !shown.is_empty() {
            println!("     {}", shown.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" | "));
        }
        for row in rows(sample) {
            let values: Vec<String> =
                columns
                    .iter()
                    .zip(row)
                    .filter(|(c, _)| !c.starts_with("_landfall"))
                    .map(|(_, v)| {
                        if v.chars().count() > 24 {
                            format!("{}…", v.chars().take(23).collect::<String>())
                        } else {
                            v
                        }
                    })
                    .collect();
            println!("     {}", values.join(" | "));
        }
    }
    println!("== load ledger (landfall.load_ledger)");
    let ledger = client
        .simple_query(
            "SELECT table_name, status, count(*), sum(rows_loaded), sum(rows_rejected) FROM landfall.load_ledger \
             GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .await;
    match ledger {
        Ok(msgs) => {
            for r in rows(msgs) {
                println!("  {:<28} {:<8} {} file(s), {} row(s) loaded, {} rejected", r[0], r[1], r[2], r[3], r[4]);
            }
        }
        Err(e) => println!("  no ledger yet ({e})"),
    }
    println!("  connect: psql {}", stack.database_url);
    Ok(())
}

/// Fires the repair request the daily schedule sends, by hand.
async fn repair(args: &[String]) -> CliResult {
    let mut request = serde_json::Map::new();
    let mut tables = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            flag @ ("--from" | "--to") => {
                let value = it.next().ok_or(usage())?;
                request.insert(flag.trim_start_matches('-').to_owned(), value.clone().into());
            }
            "--days" => {
                request.insert("days".into(), it.next().ok_or(usage())?.parse::<u32>()?.into());
            }
            table if !table.starts_with('-') => tables.push(serde_json::Value::from(table)),
            _ => return Err(usage().into()),
        }
    }
    if !tables.is_empty() {
        request.insert("tables".into(), tables.into());
    }
    let stack = LocalStack::discover()?;
    let functions = local::functions(&stack).await?;
    let payload = serde_json::json!({ "repair": request });
    println!("== repair {payload}");
    let report = functions.register_partitions.handle(payload, Deadline::never()).await.map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    catalog_summary(&stack).await
}

fn glue_err(e: impl std::error::Error) -> String {
    aws_sdk_glue::error::DisplayErrorContext(e).to_string()
}

/// The Glue tables register-partitions keeps, with their columns and partitions.
async fn catalog_summary(stack: &LocalStack) -> CliResult {
    let glue = aws_sdk_glue::Client::new(&stack.sdk_config().await);
    let db = &stack.glue_database;
    println!("== Glue tables in database {db}");
    let mut pages = glue.get_tables().database_name(db).into_paginator().send();
    while let Some(page) = pages.next().await {
        for table in page.map_err(glue_err)?.table_list() {
            let sd = table.storage_descriptor();
            let cols: Vec<String> = sd
                .map(|sd| sd.columns().iter().map(|c| format!("{} {}", c.name(), c.r#type().unwrap_or("?"))).collect())
                .unwrap_or_default();
            println!("  {}  {}", table.name(), sd.and_then(|sd| sd.location()).unwrap_or(""));
            println!("     columns: {}", cols.join(", "));
            let mut dts = Vec::new();
            let mut parts = glue.get_partitions().database_name(db).table_name(table.name()).into_paginator().send();
            while let Some(p) = parts.next().await {
                dts.extend(p.map_err(glue_err)?.partitions().iter().filter_map(|p| p.values().first().cloned()));
            }
            dts.sort();
            let dts: Vec<String> = dts.iter().map(|d| format!("dt={d}")).collect();
            println!("     {} partition(s): {}", dts.len(), dts.join(", "));
        }
    }
    Ok(())
}

async fn summary_of(stack: &LocalStack) -> CliResult {
    let store = S3Store::new(s3_client(&stack.sdk_config().await));
    let bucket = &stack.curated_bucket;

    println!("== Parquet parts in s3://{bucket}/{}", layout::TABLES_PREFIX);
    let mut by_partition: BTreeMap<(String, String), (usize, u64)> = BTreeMap::new();
    for (key, size) in store.list(bucket, layout::TABLES_PREFIX).await? {
        if let Some(p) = layout::parse_part_key(&key) {
            let e = by_partition.entry((p.table.to_owned(), p.dt.to_owned())).or_default();
            e.0 += 1;
            e.1 += size;
        }
    }
    for ((table, dt), (files, bytes)) in &by_partition {
        println!("  tables/{table}/dt={dt}/  {files} file(s), {bytes} bytes");
    }

    println!("== manifests in s3://{bucket}/{}", layout::MANIFESTS_PREFIX);
    for (key, _) in store.list(bucket, layout::MANIFESTS_PREFIX).await? {
        let m = match Manifest::from_json(&store.get_bytes(bucket, &key).await?) {
            Ok(m) => m,
            Err(e) => {
                println!("  {key}: not a landfall manifest ({e})");
                continue;
            }
        };
        let cols: Vec<String> = m.schema.iter().map(|c| format!("{} {}", c.name, c.data_type)).collect();
        println!(
            "  {key}\n     {} -> {}: {:?}, {} row(s) in {} part(s), {} rejected{}",
            m.source.key,
            m.table,
            m.status,
            m.rows,
            m.parts.len(),
            m.rejected_rows,
            m.error.as_deref().map(|e| format!(", error: {e}")).unwrap_or_default()
        );
        if !cols.is_empty() {
            println!("     schema: {}", cols.join(", "));
        }
    }

    println!("== rejects in s3://{bucket}/{}", layout::REJECTS_PREFIX);
    for (key, _) in store.list(bucket, layout::REJECTS_PREFIX).await? {
        let rejects = match read_rejects(&store.get_bytes(bucket, &key).await?) {
            Ok(r) => r,
            Err(e) => {
                println!("  {key}: unreadable ({e})");
                continue;
            }
        };
        println!("  {key}: {} record(s)", rejects.len());
        for r in rejects.iter().take(5) {
            println!(
                "     {} line {}{}: {}",
                r.file.rsplit('/').next().unwrap_or(&r.file),
                r.line.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
                r.column.as_deref().map(|c| format!(" column {c}")).unwrap_or_default(),
                r.reason
            );
        }
        if rejects.len() > 5 {
            println!("     ... {} more", rejects.len() - 5);
        }
    }
    catalog_summary(stack).await
}
