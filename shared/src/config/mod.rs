//! The one configuration file data engineers edit: feeds (and, later,
//! sources and the warehouse). Read once per cold start from a path or an
//! `s3://` URL; an invalid file is refused with its line and the reason.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::formats::{CompressionChoice, CsvOptions, FormatChoice, ReadOptions, encoding_for_label};
use crate::schema::{DeclaredColumn, LogicalType, SchemaContract, normalize_identifier};

mod channels;
mod expect;
mod postgres_url;
mod warehouse;

pub use channels::Channels;
pub use expect::Expectations;
pub use postgres_url::{SECRET_ENV, URL_ENV};
#[cfg(feature = "postgres")]
pub(crate) use postgres_url::{UrlError, names_option};
use warehouse::{RawWarehouse, validate_warehouse};
pub use warehouse::{RedshiftConfig, RedshiftEndpoint, WarehouseConfig, WarehouseDriver};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}:{line}:{column}: {message}")]
    Syntax { origin: String, line: u64, column: u64, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("{origin}:{line}: feed {feed:?}: {message}")]
    Feed { origin: String, line: u64, feed: String, message: String },
    #[error("{origin}:{line}: source {name:?}: {message}")]
    Source { origin: String, line: u64, name: String, message: String },
    #[error("{origin}:{line}: job {name:?}: {message}")]
    Job { origin: String, line: u64, name: String, message: String },
    #[error("reading {origin}: {message}")]
    Read { origin: String, message: String, retryable: bool },
}

impl ConfigError {
    pub fn retryable(&self) -> bool {
        matches!(self, ConfigError::Read { retryable: true, .. })
    }
}

/// How a feed's rows are applied to its warehouse table (used by load-warehouse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WriteDisposition {
    #[default]
    Append,
    /// Upsert on the primary key; the latest row (by `order_by`, else the last file and row) wins.
    Merge,
    /// Replace the `dt` partitions present in the batch.
    ReplacePartition,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_version")]
    version: u32,
    /// Landing-bucket prefixes and how their files become tables.
    #[serde(default)]
    #[cfg_attr(feature = "json-schema", schemars(with = "BTreeMap<String, RawFeed>"))]
    feeds: BTreeMap<String, Spanned<RawFeed>>,
    #[serde(default)]
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<RawWarehouse>"))]
    warehouse: Option<Spanned<RawWarehouse>>,
    #[serde(default)]
    /// HTTP sources and database sources (`kind: postgres | mysql`).
    #[cfg_attr(feature = "json-schema", schemars(with = "BTreeMap<String, crate::fetch::kind::RawAnySource>"))]
    sources: BTreeMap<crate::fetch::kind::SourceName, Spanned<crate::fetch::kind::RawAnySource>>,
    /// Scheduled roll-ups, exports and archives.
    #[serde(default)]
    #[cfg_attr(feature = "json-schema", schemars(with = "BTreeMap<String, crate::jobs::RawJob>"))]
    jobs: BTreeMap<String, Spanned<crate::jobs::RawJob>>,
}

fn default_version() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawFeed {
    prefix: String,
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    format: FormatChoice,
    #[serde(default)]
    compression: CompressionChoice,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    csv: RawCsv,
    /// `{ map_keys: N }`: nested objects with more distinct keys are one JSON column.
    #[serde(default)]
    json: RawJson,
    /// Day-month dates: `{ order: day_first | month_first, two_digit_years: true }`.
    #[serde(default)]
    dates: crate::schema::DateRules,
    #[serde(default)]
    schema: Vec<RawColumn>,
    #[serde(default)]
    primary_key: Vec<String>,
    #[serde(default)]
    partition_column: Option<String>,
    #[serde(default)]
    write_disposition: WriteDisposition,
    #[serde(default)]
    order_by: Option<String>,
    #[serde(default)]
    schema_contract: SchemaContract,
    #[serde(default)]
    parquet: RawParquet,
    /// Redshift's distribution key (a column of the feed); others ignore it.
    #[serde(default)]
    distkey: Option<String>,
    /// Redshift's compound sort key; `dt` when unset.
    #[serde(default)]
    sortkey: Vec<String>,
    /// What one file may decompress to, in MiB (a compression bomb's bound).
    #[serde(default)]
    max_decompressed_mb: Option<u64>,
    /// Distinct days one file may write (default 1000); rows of later days are rejected.
    #[serde(default)]
    max_partitions: Option<usize>,
    /// Columns whose values are monitored one by one (`[partner_id, domain]`).
    #[serde(default)]
    monitor_by: Vec<String>,
    #[serde(default)]
    expect: Option<expect::RawExpect>,
    /// This feed's own Slack webhook secret and SNS topic, instead of the defaults.
    #[serde(default)]
    notify: Option<channels::RawChannels>,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawJson {
    #[serde(default)]
    map_keys: Option<usize>,
    /// Dotted path to the records in each top-level value (`features`, `data.items`).
    #[serde(default)]
    records: Option<String>,
    /// The records are an object's values; its keys go to this column.
    #[serde(default)]
    keyed_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawCsv {
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default = "yes")]
    header: bool,
    #[serde(default)]
    quote: Option<String>,
    #[serde(default)]
    null_values: Option<Vec<String>>,
    #[serde(default)]
    decimal_separator: Option<String>,
    /// Lines before the header (a title, notes); detected when unset.
    #[serde(default)]
    skip_rows: Option<usize>,
    /// Records the header spans, joined into names; detected when unset.
    #[serde(default)]
    header_rows: Option<usize>,
    /// Whether a space after each delimiter is no part of a field; detected when unset.
    #[serde(default)]
    skip_initial_space: Option<bool>,
}

impl Default for RawCsv {
    fn default() -> Self {
        Self {
            delimiter: None,
            header: true,
            quote: None,
            null_values: None,
            decimal_separator: None,
            skip_rows: None,
            header_rows: None,
            skip_initial_space: None,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
    #[serde(default = "yes")]
    nullable: bool,
}

#[derive(Debug, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawParquet {
    #[serde(default)]
    compression: Option<ParquetCodec>,
    #[serde(default)]
    zstd_level: Option<i32>,
    #[serde(default)]
    row_group_rows: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ParquetCodec {
    #[default]
    Zstd,
    Snappy,
}

/// A validated feed: where its files land and how they become a table.
#[derive(Debug, Clone)]
pub struct Feed {
    pub name: String,
    pub prefix: String,
    /// Normalised table name (safe as an identifier).
    pub table: String,
    pub read: ReadOptions,
    pub declared: Vec<DeclaredColumn>,
    pub contract: SchemaContract,
    /// Normalised names.
    pub primary_key: Vec<String>,
    pub partition_column: Option<String>,
    pub order_by: Option<String>,
    pub write_disposition: WriteDisposition,
    /// Redshift table hints (normalised names); empty sort key means `dt`.
    pub distkey: Option<String>,
    pub sortkey: Vec<String>,
    pub parquet_codec: ParquetCodec,
    pub zstd_level: i32,
    pub row_group_rows: usize,
    /// Distinct days (parts) one file may write; rows of a day past them are rejected.
    pub max_partitions: usize,
    /// Columns whose values are monitored one by one (normalised names).
    pub monitor_by: Vec<String>,
    /// What a healthy feed looks like; `None`: not monitored.
    pub expect: Option<Expectations>,
    /// Where this feed's alerts and digests go instead of the defaults (`notify:`).
    pub notify: Channels,
    /// Line of the feed's definition in the config file.
    pub line: u64,
}

impl Feed {
    /// Whether load-warehouse records `landfall.feed_stats` for this feed.
    pub fn monitored(&self) -> bool {
        !self.monitor_by.is_empty() || self.expect.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub version: u32,
    pub feeds: Vec<Feed>,
    pub warehouse: WarehouseConfig,
    /// Third-party APIs fetch-api pulls into feeds.
    pub sources: Vec<crate::fetch::Source>,
    /// Operational databases fetch-api reads incrementally into feeds.
    pub databases: Vec<crate::fetch::DatabaseSource>,
    /// Scheduled warehouse jobs run-job runs.
    pub jobs: Vec<crate::jobs::Job>,
    /// Where the config came from (path or URL), for messages.
    pub origin: String,
}

impl Config {
    /// Parses and validates a config document. `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = crate::fetch::kind::with_kinds(text, || serde_saphyr::from_str(text)).map_err(|e| {
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
            ConfigError::Syntax { origin: origin.to_owned(), line, column, message: first_line(&e.to_string()) }
        })?;
        if raw.version != 1 {
            return Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                message: format!("version {} is not supported (this build reads version 1)", raw.version),
            });
        }
        let mut feeds = Vec::with_capacity(raw.feeds.len());
        for (name, spanned) in raw.feeds {
            let line = spanned.referenced.line();
            feeds.push(validate_feed(&name, spanned.value, line, origin)?);
        }
        for (i, a) in feeds.iter().enumerate() {
            if let Some(b) = feeds.iter().skip(i + 1).find(|b| b.prefix == a.prefix) {
                return Err(ConfigError::Feed {
                    origin: origin.to_owned(),
                    line: b.line,
                    feed: b.name.clone(),
                    message: format!("prefix {:?} is already used by feed {:?} (line {})", b.prefix, a.name, a.line),
                });
            }
        }
        let warehouse = match raw.warehouse {
            None => WarehouseConfig::default(),
            Some(w) => validate_warehouse(w.value, w.referenced.line(), origin)?,
        };
        let feed_names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
        let mut sources = Vec::with_capacity(raw.sources.len());
        let mut databases = Vec::new();
        for (crate::fetch::kind::SourceName(name), spanned) in raw.sources {
            let line = spanned.referenced.line();
            let bad = |message| ConfigError::Source { origin: origin.to_owned(), line, name: name.clone(), message };
            match spanned.value {
                crate::fetch::kind::RawAnySource::Http(raw) => {
                    let source = crate::fetch::source::validate(&name, *raw, &feed_names).map_err(bad)?;
                    sources.push(crate::fetch::Source { line, ..source });
                }
                crate::fetch::kind::RawAnySource::Database(raw) => {
                    let source = crate::fetch::database::validate(&name, *raw, &feed_names).map_err(bad)?;
                    databases.push(crate::fetch::DatabaseSource { line, ..source });
                }
            }
        }
        let mut jobs = Vec::with_capacity(raw.jobs.len());
        for (name, spanned) in raw.jobs {
            let line = spanned.referenced.line();
            let job = crate::jobs::validate(&name, spanned.value, line).map_err(|message| ConfigError::Job {
                origin: origin.to_owned(),
                line,
                name: name.clone(),
                message,
            })?;
            jobs.push(job);
        }
        crate::jobs::check_graph(&jobs).map_err(|(name, line, message)| ConfigError::Job {
            origin: origin.to_owned(),
            line,
            name,
            message,
        })?;
        if warehouse.driver == WarehouseDriver::Redshift {
            crate::jobs::check_unloads(&jobs).map_err(|(name, line, message)| ConfigError::Job {
                origin: origin.to_owned(),
                line,
                name,
                message,
            })?;
        }
        Ok(Config { version: raw.version, feeds, warehouse, sources, databases, jobs, origin: origin.to_owned() })
    }

    /// Reads a config from a local path.
    pub fn from_path(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            origin: origin.clone(),
            message: e.to_string(),
            retryable: false,
        })?;
        Config::from_yaml(&text, &origin)
    }

    /// The feed whose prefix is the longest match for a landing key.
    pub fn feed_for_key(&self, key: &str) -> Option<&Feed> {
        self.feeds.iter().filter(|f| key.starts_with(&f.prefix)).max_by_key(|f| f.prefix.len())
    }

    pub fn feed(&self, name: &str) -> Option<&Feed> {
        self.feeds.iter().find(|f| f.name == name)
    }

    pub fn source(&self, name: &str) -> Option<&crate::fetch::Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// A database source by name (sources of both kinds share one namespace).
    pub fn database(&self, name: &str) -> Option<&crate::fetch::DatabaseSource> {
        self.databases.iter().find(|s| s.name == name)
    }

    pub fn job(&self, name: &str) -> Option<&crate::jobs::Job> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// Loads the config named by `LANDFALL_CONFIG` at cold start; a missing
/// variable or an invalid file stops the function with the reason.
pub async fn from_env(store: &dyn crate::storage::ObjectStore) -> Result<(String, Config), crate::env::EnvError> {
    let location = crate::env::required("LANDFALL_CONFIG")?;
    let config = load(&location, store)
        .await
        .map_err(|e| crate::env::EnvError::Invalid { name: "LANDFALL_CONFIG", message: e.to_string() })?;
    Ok((location, config))
}

/// Loads the config from a local path or an `s3://bucket/key` URL.
pub async fn load(location: &str, store: &dyn crate::storage::ObjectStore) -> Result<Config, ConfigError> {
    match crate::layout::parse_s3_url(location) {
        Some((bucket, key)) => {
            let bytes = store.get_bytes(bucket, key).await.map_err(|e| ConfigError::Read {
                origin: location.to_owned(),
                retryable: e.retryable(),
                message: e.to_string(),
            })?;
            let text = String::from_utf8(bytes).map_err(|e| ConfigError::Read {
                origin: location.to_owned(),
                message: format!("not UTF-8: {e}"),
                retryable: false,
            })?;
            Config::from_yaml(&text, location)
        }
        None => Config::from_path(Path::new(location)),
    }
}

/// The parser's message without its own location prefix (we print ours).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line.split_once(": ") {
        Some((location, rest)) if location.starts_with("line ") && location.contains(" column ") => rest.to_owned(),
        _ => line.to_owned(),
    }
}

/// A one-byte CSV option: one ASCII character, or "tab".
fn single_byte(value: &str) -> Option<u8> {
    match value {
        "\\t" | "tab" | "TAB" | "\t" => Some(b'\t'),
        v if v.len() == 1 && v.is_ascii() => v.bytes().next(),
        _ => None,
    }
}

fn one_char(option: &str, value: &str) -> String {
    format!("csv.{option} must be one ASCII character (or \"tab\"), got {value:?}")
}

fn validate_feed(name: &str, raw: RawFeed, line: u64, origin: &str) -> Result<Feed, ConfigError> {
    let bad = |message: String| ConfigError::Feed { origin: origin.to_owned(), line, feed: name.to_owned(), message };
    if name.trim().is_empty() {
        return Err(bad("feed names must not be empty".into()));
    }
    let prefix = raw.prefix.trim().to_owned();
    if prefix.is_empty() {
        return Err(bad("prefix must not be empty (it selects the landing keys of this feed)".into()));
    }
    if prefix.starts_with('/') {
        return Err(bad(format!("prefix {prefix:?} must not start with '/': S3 keys have no leading slash")));
    }
    let table = normalize_identifier(raw.table.as_deref().unwrap_or(name));

    let encoding = match raw.encoding.as_deref() {
        None => None,
        Some(label) => Some(
            encoding_for_label(label)
                .ok_or_else(|| bad(format!("encoding {label:?} is unknown (try utf-8, windows-1252, iso-8859-1)")))?,
        ),
    };
    let mut csv = CsvOptions::default();
    if let Some(d) = raw.csv.delimiter.as_deref() {
        csv.delimiter = Some(single_byte(d).ok_or_else(|| bad(one_char("delimiter", d)))?);
    }
    if let Some(q) = raw.csv.quote.as_deref() {
        csv.quote = Some(single_byte(q).ok_or_else(|| bad(one_char("quote", q)))?);
    }
    csv.header = raw.csv.header;
    csv.skip_rows = raw.csv.skip_rows;
    csv.skip_initial_space = raw.csv.skip_initial_space;
    csv.header_rows = match raw.csv.header_rows {
        Some(0) => {
            return Err(bad("csv.header_rows must be at least 1 (csv.header: false reads a file without one)".into()));
        }
        rows => rows,
    };
    if let Some(nulls) = raw.csv.null_values {
        csv.null_values = nulls;
        csv.null_tokens = crate::schema::NullTokens::default();
    }
    csv.decimal_comma = match raw.csv.decimal_separator.as_deref() {
        None | Some(".") => false,
        Some(",") if csv.delimiter == Some(b',') => {
            return Err(bad("csv.decimal_separator \",\" needs another delimiter than \",\"".into()));
        }
        Some(",") => true,
        Some(other) => return Err(bad(format!("csv.decimal_separator must be \".\" or \",\", got {other:?}"))),
    };
    let max_decompressed_bytes = match raw.max_decompressed_mb {
        Some(0) => return Err(bad("max_decompressed_mb must be at least 1".into())),
        Some(mb) => Some(mb.saturating_mul(1 << 20)),
        None => None,
    };
    let mut json = crate::formats::JsonOptions::default();
    match raw.json.map_keys {
        Some(0) => return Err(bad("json.map_keys must be at least 1".into())),
        Some(map_keys) => json.map_keys = map_keys,
        None => {}
    }
    json.records = crate::formats::normalize_path(raw.json.records.as_deref().unwrap_or_default());
    json.keyed_by = match raw.json.keyed_by.map(|k| k.trim().to_owned()) {
        Some(k) if k.is_empty() => return Err(bad("json.keyed_by must name the column the keys go to".into())),
        k => k,
    };
    let read = ReadOptions {
        format: raw.format,
        compression: raw.compression,
        max_decompressed_bytes,
        encoding,
        csv,
        json,
        dates: raw.dates,
    };

    let mut declared = Vec::with_capacity(raw.schema.len());
    for col in raw.schema {
        let data_type: LogicalType = col
            .data_type
            .parse()
            .map_err(|_| bad(format!("column {:?}: type {:?} is unknown", col.name, col.data_type)))?;
        if declared.iter().any(|d: &DeclaredColumn| d.name == col.name) {
            return Err(bad(format!("column {:?} is declared twice", col.name)));
        }
        declared.push(DeclaredColumn { name: col.name, data_type, nullable: col.nullable });
    }
    let declared_names: Vec<String> = declared.iter().map(|d| normalize_identifier(&d.name)).collect();
    let check_known = |what: &str, col: &str| -> Result<String, ConfigError> {
        let n = normalize_identifier(col);
        if !declared.is_empty() && !declared_names.contains(&n) {
            return Err(bad(format!("{what} {col:?} is not a column of the declared schema")));
        }
        Ok(n)
    };
    let primary_key =
        raw.primary_key.iter().map(|c| check_known("primary_key column", c)).collect::<Result<Vec<_>, _>>()?;
    let partition_column = raw.partition_column.as_deref().map(|c| check_known("partition_column", c)).transpose()?;
    let order_by = raw.order_by.as_deref().map(|c| check_known("order_by", c)).transpose()?;
    let distkey = raw.distkey.as_deref().map(|c| check_known("distkey", c)).transpose()?;
    let sortkey = raw.sortkey.iter().map(|c| check_known("sortkey column", c)).collect::<Result<Vec<_>, _>>()?;
    let monitor_by =
        raw.monitor_by.iter().map(|c| check_known("monitor_by column", c)).collect::<Result<Vec<_>, _>>()?;
    expect::validate_monitor_by(&monitor_by).map_err(&bad)?;
    let expect = raw.expect.map(expect::validate_expect).transpose().map_err(&bad)?;
    let notify = raw.notify.map(channels::validate_channels).transpose().map_err(&bad)?.unwrap_or_default();
    if raw.write_disposition == WriteDisposition::Merge && primary_key.is_empty() {
        return Err(bad("write_disposition merge needs a primary_key".into()));
    }
    if let (Some(p), false) = (&partition_column, declared.is_empty()) {
        let ty = declared.iter().zip(&declared_names).find(|(_, n)| *n == p).map(|(d, _)| d.data_type);
        if let Some(ty) = ty
            && !matches!(
                ty,
                LogicalType::Date | LogicalType::Timestamp | LogicalType::TimestampTz | LogicalType::String
            )
        {
            return Err(bad(format!("partition_column {p:?} is declared as {ty}, which has no date")));
        }
    }
    if matches!(raw.parquet.zstd_level, Some(l) if !(1..=22).contains(&l)) {
        return Err(bad("parquet.zstd_level must be between 1 and 22".into()));
    }
    if matches!(raw.parquet.row_group_rows, Some(r) if r < 1024) {
        return Err(bad("parquet.row_group_rows must be at least 1024".into()));
    }
    Ok(Feed {
        name: name.to_owned(),
        prefix,
        table,
        read,
        declared,
        contract: raw.schema_contract,
        primary_key,
        partition_column,
        order_by,
        write_disposition: raw.write_disposition,
        distkey,
        sortkey,
        parquet_codec: raw.parquet.compression.unwrap_or_default(),
        zstd_level: raw.parquet.zstd_level.unwrap_or(1),
        row_group_rows: raw.parquet.row_group_rows.unwrap_or(122_880),
        max_partitions: match raw.max_partitions {
            Some(0) => return Err(bad("max_partitions must be at least 1".into())),
            Some(n) => n,
            None => crate::schema::DEFAULT_MAX_PARTITIONS,
        },
        monitor_by,
        expect,
        notify,
        line,
    })
}

#[cfg(test)]
mod tests;

/// The JSON Schema of `landfall.yaml`, from the very types the config is
/// read into, so editors flag what `validate-config` would refuse
/// (`config/landfall.schema.json`; `landfall config-schema` prints it).
#[cfg(feature = "json-schema")]
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(RawConfig);
    schema.insert("title".into(), "landfall.yaml".into());
    schema.to_value()
}
