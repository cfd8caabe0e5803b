//! The commands that work on this machine: the local stack's own (demo,
//! pump, drop, summary) and the ones that need no stack at all (infer,
//! preview, validate-config).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use chrono::Utc;
use landfall::config::{Config, Feed};
use landfall::convert::{ConvertRequest, NameRules, convert};
use landfall::formats::JsonLayout;
use landfall::lambda::Deadline;
use landfall::layout;
use landfall::manifest::{DetectedInput, FileStatus, Manifest};
use landfall::rejects::{Reject, read_rejects};
use landfall::schema::{ColumnSchema, LogicalType};
use landfall::storage::{ObjectStore, S3Store, s3_client};
use landfall::threads::Threads;
use landfall_infra::{LocalStack, local};
use serde::Serialize;

use super::output::{Table, emit};
use super::{CliError, checkout_root};

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// The checkout the local stack's commands read samples and the config from.
fn checkout() -> Result<PathBuf, CliError> {
    checkout_root().ok_or_else(|| {
        CliError::Usage(
            "run this from a landfall checkout (a directory with config/landfall.yaml and infra/stack)".into(),
        )
    })
}

fn boxed(r: CliResult) -> Result<(), CliError> {
    r.map_err(|e| match e.downcast::<CliError>() {
        Ok(e) => *e,
        Err(e) => CliError::Failed(e.to_string()),
    })
}

#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The config file (default: config/landfall.yaml of this checkout).
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PumpArgs {
    /// Give up when the queues are not empty after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DropArgs {
    /// The local file.
    pub file: PathBuf,
    /// The landing key (default: the file's name).
    pub key: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InferArgs {
    /// A local CSV or JSON file (gzip and zstd are detected).
    pub file: PathBuf,
    /// The feed name for the block to paste (default: from the file name).
    #[arg(long)]
    pub feed_name: Option<String>,
    /// Typed rows to show.
    #[arg(long, default_value_t = 5)]
    pub rows: usize,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PreviewArgs {
    /// A local CSV or JSON file.
    pub file: PathBuf,
    /// The configured feed to read it as.
    #[arg(long)]
    pub feed: String,
    /// The config file (default: config/landfall.yaml of this checkout).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Typed rows to show.
    #[arg(long, default_value_t = 5)]
    pub rows: usize,
}

#[derive(Debug, Clone, Serialize)]
struct FeedLine {
    name: String,
    prefix: String,
    table: String,
    write_disposition: String,
    partition_column: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Validated {
    path: String,
    feeds: Vec<FeedLine>,
    sources: usize,
}

pub fn validate_config(args: &ValidateArgs, json: bool) -> Result<(), CliError> {
    let path = match &args.path {
        Some(p) => p.clone(),
        None => checkout()?.join("config/landfall.yaml"),
    };
    let config = Config::from_path(&path)?;
    let v = Validated {
        path: path.display().to_string(),
        feeds: config
            .feeds
            .iter()
            .map(|f| FeedLine {
                name: f.name.clone(),
                prefix: f.prefix.clone(),
                table: f.table.clone(),
                write_disposition: format!("{:?}", f.write_disposition).to_lowercase(),
                partition_column: f.partition_column.clone(),
            })
            .collect(),
        sources: config.sources.len() + config.databases.len(),
    };
    emit(json, &v, |v| {
        let mut t = Table::new(&["feed", "prefix", "table", "disposition", "partitioned by"]);
        for f in &v.feeds {
            t.push(vec![
                f.name.clone(),
                f.prefix.clone(),
                f.table.clone(),
                f.write_disposition.clone(),
                f.partition_column.clone().unwrap_or_default(),
            ]);
        }
        format!("{}: valid, {} feed(s), {} source(s)\n{}", v.path, v.feeds.len(), v.sources, t.render())
    })
}

pub async fn pump(args: &PumpArgs) -> Result<(), CliError> {
    let stack = LocalStack::discover()?;
    let functions = local::functions(&stack).await.map_err(CliError::failed)?;
    let report = local::drain(&stack, &functions, Duration::from_secs(args.timeout)).await.map_err(CliError::failed)?;
    for (f, r) in &report.functions {
        println!(
            "{f}: {} invocation(s), {} message(s), {} redelivered, {} failed, {} deleted",
            r.invocations, r.messages, r.redelivered, r.failures, r.deleted
        );
    }
    if !report.drained {
        return Err(CliError::Failed(format!("queues not empty after {}s", args.timeout)));
    }
    Ok(())
}

pub async fn drop_file(args: &DropArgs) -> Result<(), CliError> {
    let stack = LocalStack::discover()?;
    let key = args
        .key
        .clone()
        .unwrap_or_else(|| args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let s3 = s3_client(&stack.sdk_config().await);
    boxed(upload(&s3, &stack.landing_bucket, &key, &args.file).await)?;
    println!("uploaded {} to s3://{}/{key}", args.file.display(), stack.landing_bucket);
    Ok(())
}

pub async fn demo() -> Result<(), CliError> {
    boxed(demo_run().await)
}

pub async fn summary() -> Result<(), CliError> {
    boxed(summary_run().await)
}

/// What parse-file made of a local file.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub file: String,
    pub feed: String,
    pub status: String,
    pub error: Option<String>,
    pub input: Option<DetectedInput>,
    pub rows: u64,
    pub rejected: u64,
    /// dt -> rows.
    pub partitions: BTreeMap<String, u64>,
    pub schema: Vec<ColumnSchema>,
    pub widenings: Vec<String>,
    /// The first typed rows, each value as JSON: numbers, booleans, nulls,
    /// strings, and a json column's value as its JSON.
    pub sample: Vec<BTreeMap<String, serde_json::Value>>,
    pub rejects: Vec<Reject>,
    /// infer only: a feed block for config/landfall.yaml.
    pub feed_block: Option<String>,
    /// infer only: where a JSON file read as one row keeps its records
    /// (`{ records: features }`, `{ keyed_by: id }`), applied and pinned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
}

/// Runs the parse pipeline on a local file for a feed, into a scratch
/// directory: no AWS, no stack.
fn inspect(path: &Path, feed: &Feed, names: NameRules, sample_rows: usize) -> Result<Inspection, CliError> {
    let file = std::fs::File::open(path).map_err(|e| CliError::NotFound(format!("{}: {e}", path.display())))?;
    let scratch = tempfile::tempdir().map_err(CliError::failed)?;
    let url = format!("file://{}", path.display());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parts: std::sync::Arc<std::sync::Mutex<Vec<landfall::schema::FinishedPart>>> = Default::default();
    let on_part = {
        let parts = std::sync::Arc::clone(&parts);
        Box::new(move |p: landfall::schema::FinishedPart| -> Result<(), landfall::record::SinkError> {
            if let Ok(mut v) = parts.lock() {
                v.push(p);
            }
            Ok(())
        })
    };
    let req = ConvertRequest {
        feed,
        source_url: &url,
        name: &name,
        arrival_date: Utc::now().date_naive(),
        work_dir: scratch.path(),
        threads: Threads::available(),
        names,
    };
    let outcome = convert(file, &req, on_part).map_err(CliError::failed)?;
    let parts = std::mem::take(&mut *parts.lock().map_err(|_| CliError::failed("parts lock poisoned"))?);
    let mut partitions = BTreeMap::new();
    let mut sample = Vec::new();
    for p in &parts {
        *partitions.entry(p.dt.format("%Y-%m-%d").to_string()).or_insert(0) += p.rows;
        if sample.len() < sample_rows {
            sample.extend(first_rows(&p.path, &outcome.write.columns, sample_rows - sample.len())?);
        }
    }
    let rejects = match &outcome.rejects_file {
        Some(path) => read_rejects(&std::fs::read(path).map_err(CliError::failed)?).map_err(CliError::failed)?,
        None => Vec::new(),
    };
    Ok(Inspection {
        file: path.display().to_string(),
        feed: feed.name.clone(),
        status: outcome.status.as_str().to_owned(),
        error: outcome.error.clone(),
        input: outcome.input.clone(),
        rows: outcome.write.rows_written,
        rejected: outcome.rejected,
        partitions,
        schema: outcome.write.columns.clone(),
        widenings: outcome.write.widenings.clone(),
        sample,
        rejects,
        feed_block: None,
        json: None,
    })
}

/// The first rows of a Parquet part, lineage columns left out, as JSON values.
fn first_rows(
    path: &Path,
    schema: &[ColumnSchema],
    n: usize,
) -> Result<Vec<BTreeMap<String, serde_json::Value>>, CliError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).map_err(CliError::failed)?;
    let reader = SerializedFileReader::new(file).map_err(CliError::failed)?;
    let json_columns: Vec<&str> =
        schema.iter().filter(|c| c.data_type == LogicalType::Json).map(|c| c.name.as_str()).collect();
    let mut out = Vec::new();
    for row in reader.get_row_iter(None).map_err(CliError::failed)?.take(n) {
        let row = row.map_err(CliError::failed)?;
        out.push(
            row.get_column_iter()
                .filter(|(name, _)| !name.starts_with("_landfall"))
                .map(|(name, v)| (name.clone(), json_value(v, json_columns.contains(&name.as_str()))))
                .collect(),
        );
    }
    Ok(out)
}

/// A Parquet value as JSON: numbers and booleans as themselves, a json
/// column's text as the JSON it holds, decimals, dates and timestamps as
/// their text (exact, where a JSON number would round).
fn json_value(field: &parquet::record::Field, is_json: bool) -> serde_json::Value {
    use parquet::record::Field;
    use serde_json::Value;
    match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(n) => Value::from(*n),
        Field::Short(n) => Value::from(*n),
        Field::Int(n) => Value::from(*n),
        Field::Long(n) => Value::from(*n),
        Field::UByte(n) => Value::from(*n),
        Field::UShort(n) => Value::from(*n),
        Field::UInt(n) => Value::from(*n),
        Field::ULong(n) => Value::from(*n),
        Field::Float(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        Field::Double(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Field::Str(s) if is_json => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        Field::Str(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

/// A sample value as the text table shows it: strings without JSON quotes.
fn display_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A feed block to paste into config/landfall.yaml: what was detected, and
/// the inferred columns declared (so later files are held to them).
fn feed_block(name: &str, i: &Inspection) -> String {
    let mut out = format!("  {name}:\n    prefix: {name}/\n");
    if let Some(input) = &i.input {
        let format = if input.format == "csv" { "csv" } else { "json" };
        out.push_str(&format!("    format: {format}\n"));
        // The detected dialect is pinned, so a later file is read the same way.
        let mut csv = Vec::new();
        if let Some(d) = input.delimiter.as_deref().filter(|d| *d != ",") {
            csv.push(format!("delimiter: {}", if d == "\t" { "\"\\t\"".to_owned() } else { format!("{d:?}") }));
        }
        if let Some(q) = &input.quote {
            csv.push(format!("quote: {q:?}"));
        }
        if let Some(n) = input.skip_rows {
            csv.push(format!("skip_rows: {n}"));
        }
        if let Some(n) = input.header_rows {
            csv.push(format!("header_rows: {n}"));
        }
        if input.skip_initial_space == Some(true) {
            csv.push("skip_initial_space: true".to_owned());
        }
        if !csv.is_empty() {
            out.push_str(&format!("    csv: {{ {} }}\n", csv.join(", ")));
        }
        if let Some(json) = &i.json {
            out.push_str(&format!("    json: {json}\n"));
        }
        if !input.encoding.eq_ignore_ascii_case("utf-8") {
            out.push_str(&format!("    encoding: {}\n", input.encoding));
        }
        // Pinned, so a later file whose dates happen to be ambiguous is read the same way.
        if let Some(order) = input.date_order {
            out.push_str(&format!("    dates: {{ order: {} }}\n", order.as_str()));
        }
    }
    // Only a column the config can name: a nested JSON path's `a__b` normalizes to `a_b`.
    if let Some(c) = i.schema.iter().find(|c| {
        landfall::schema::normalize_identifier(&c.name) == c.name
            && matches!(
                c.data_type,
                landfall::schema::LogicalType::Date
                    | landfall::schema::LogicalType::Timestamp
                    | landfall::schema::LogicalType::TimestampTz
            )
    }) {
        out.push_str(&format!("    partition_column: {}\n", c.name));
    }
    out.push_str("    schema:\n");
    for c in &i.schema {
        out.push_str(&format!(
            "      - {{ name: {:?}, type: \"{}\"{} }}\n",
            c.source_name,
            c.data_type,
            if c.nullable { "" } else { ", nullable: false" }
        ));
    }
    out
}

fn render_inspection(i: &Inspection) -> String {
    let mut out = format!("{} as feed {}: {}", i.file, i.feed, i.status);
    if let Some(e) = &i.error {
        out.push_str(&format!(" ({e})"));
    }
    if let Some(input) = &i.input {
        out.push_str(&format!(
            "\ndetected: {}{}{}{}{}{}, {} compression, {} encoding, {} bytes decoded",
            input.format,
            input.delimiter.as_deref().map(|d| format!(" delimited by {d:?}")).unwrap_or_default(),
            input.skip_initial_space.map(|_| " (a space after each skipped)").unwrap_or_default(),
            input.quote.as_deref().map(|q| format!(", quoted with {q:?}")).unwrap_or_default(),
            input.skip_rows.map(|n| format!(", {n} line(s) before the header skipped")).unwrap_or_default(),
            input.header_rows.map(|n| format!(", a header of {n} rows joined into names")).unwrap_or_default(),
            input.compression,
            input.encoding,
            input.decoded_bytes
        ));
        for note in &input.notes {
            out.push_str(&format!("\ndecided: {note}"));
        }
    }
    out.push_str(&format!("\n{} row(s), {} rejected", i.rows, i.rejected));
    for (dt, rows) in &i.partitions {
        out.push_str(&format!("\n  dt={dt}: {rows} row(s)"));
    }
    let mut schema = Table::new(&["column", "source", "type", "nullable"]);
    for c in &i.schema {
        schema.push(vec![c.name.clone(), c.source_name.clone(), c.data_type.to_string(), c.nullable.to_string()]);
    }
    out.push_str(&format!("\n\nschema\n{}", schema.render()));
    if !i.sample.is_empty() {
        let columns: Vec<&str> = i.schema.iter().map(|c| c.name.as_str()).collect();
        let mut rows = Table::new(&columns);
        for r in &i.sample {
            rows.push(columns.iter().map(|c| r.get(*c).map(display_value).unwrap_or_default()).collect());
        }
        out.push_str(&format!("\n\nfirst rows\n{}", rows.render()));
    }
    if !i.rejects.is_empty() {
        let mut t = Table::new(&["line", "column", "reason"]);
        for r in i.rejects.iter().take(20) {
            t.push(vec![super::output::cell(&r.line), super::output::cell(&r.column), r.reason.clone()]);
        }
        out.push_str(&format!("\n\nrejects\n{}", t.render()));
    }
    if let Some(block) = &i.feed_block {
        out.push_str(&format!("\n\nfeed block for config/landfall.yaml (under feeds:)\n{block}"));
    }
    out
}

/// A one-feed config for `infer`: `extra` is YAML under the feed (an
/// encoding, a json block).
fn infer_config(name: &str, extra: &str) -> Result<Config, CliError> {
    Ok(Config::from_yaml(&format!("version: 1\nfeeds:\n  {name}:\n    prefix: {name}/\n{extra}"), "infer")?)
}

fn inspect_as(path: &Path, name: &str, extra: &str, rows: usize) -> Result<Inspection, CliError> {
    let config = infer_config(name, extra)?;
    let feed = config.feeds.first().ok_or_else(|| CliError::failed("no feed"))?;
    inspect(path, feed, NameRules::fresh(config.warehouse.driver), rows)
}

/// A JSON file that read as one row is most often a wrapper of records
/// (`{"features": [...]}`) or an object of them keyed by id: the layout its
/// one row suggests, as the feed's `json:` block.
fn json_layout(i: &Inspection) -> Option<String> {
    let json = i.input.as_ref().is_some_and(|input| input.format != "csv");
    let row = i.sample.first().filter(|_| json && i.rows == 1)?;
    let columns = i.schema.iter().map(|c| (c.source_name.as_str(), row.get(&c.name)));
    Some(match JsonLayout::suggest(columns)? {
        JsonLayout::Records(path) => format!("{{ records: {path:?} }}"),
        JsonLayout::KeyedById => "{ keyed_by: id }".to_owned(),
    })
}

pub fn infer(args: &InferArgs, json: bool) -> Result<(), CliError> {
    let stem = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "feed".into());
    let stem = stem.split('.').next().unwrap_or("feed").to_owned();
    let name = args.feed_name.clone().unwrap_or_else(|| landfall::schema::normalize_identifier(&stem));
    let mut i = inspect_as(&args.file, &name, "", args.rows)?;
    // Text that is not UTF-8 is, in practice, almost always Windows-1252
    // (the legacy exports this is for); try it before giving up.
    if i.status == FileStatus::Failed.as_str() && i.error.as_deref().is_some_and(|e| e.contains("not valid UTF-8")) {
        i = inspect_as(&args.file, &name, "    encoding: windows-1252\n", args.rows)?;
    }
    if let Some(layout) = json_layout(&i) {
        let mut wrapped = inspect_as(&args.file, &name, &format!("    json: {layout}\n"), args.rows)?;
        if let Some(input) = &mut wrapped.input {
            input.notes.insert(0, format!("the file read as one row: its records are read with json: {layout}"));
        }
        wrapped.json = Some(layout);
        i = wrapped;
    }
    i.feed_block = Some(feed_block(&name, &i));
    emit(json, &i, render_inspection)
}

pub fn preview(args: &PreviewArgs, json: bool) -> Result<(), CliError> {
    let path = match &args.config {
        Some(p) => p.clone(),
        None => checkout()?.join("config/landfall.yaml"),
    };
    let config = Config::from_path(&path)?;
    let feed = config.feed(&args.feed).ok_or_else(|| {
        CliError::NotFound(format!(
            "no feed {:?} in {}; feeds: {}",
            args.feed,
            path.display(),
            config.feeds.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let i = inspect(&args.file, feed, NameRules::fresh(config.warehouse.driver), args.rows)?;
    emit(json, &i, render_inspection)
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
    let (mut server, base) = serve_directory(&checkout()?.join("events/api/demo"))?;
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

async fn demo_run() -> CliResult {
    let stack = LocalStack::discover()?;
    let s3 = s3_client(&stack.sdk_config().await);
    let samples = checkout()?.join("events/samples");
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
    let report_csv = super::jobs::demo(&stack, &functions.config).await?;
    warehouse_summary(&stack, &functions.config.warehouse.schema).await?;
    println!("{report_csv}");
    let dead = local::pump(&stack, &functions)?.dead_letters().await?;
    println!("== dead-letter queues: {dead:?}");
    if !report.drained {
        return Err("the queues did not drain within 180s".into());
    }
    Ok(())
}

async fn summary_run() -> CliResult {
    let stack = LocalStack::discover()?;
    summary_of(&stack).await?;
    let config = landfall::config::Config::from_path(&checkout()?.join("config/landfall.yaml"))?;
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
        // Job outputs (roll-ups, views) have no lineage columns to order by.
        let lineage = format!(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = {} AND table_name = {} AND column_name = '_landfall_row'",
            landfall::warehouse::Dialect::Postgres.literal(schema),
            landfall::warehouse::Dialect::Postgres.literal(&table)
        );
        let order = if rows(client.simple_query(&lineage).await?).is_empty() {
            ""
        } else {
            " ORDER BY _landfall_file, _landfall_row"
        };
        let sample = client.simple_query(&format!("SELECT * FROM {name}{order} LIMIT 3")).await?;
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
    let ledger = client.simple_query(&landfall::warehouse::bookkeeping::load_ledger::reads::table_totals()).await;
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
