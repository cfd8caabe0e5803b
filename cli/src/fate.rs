//! `landfall files`, `landfall file` and `landfall rejects`: what happened
//! to a partner's file, from the landing object through parse-file's
//! manifest and parts to the load ledger, in one answer.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt;
use landfall::config::Config;
use landfall::layout;
use landfall::manifest::Manifest;
use landfall::parse_failures;
use landfall::rejects::{Reject, read_rejects};
use landfall::storage::{ObjectStore, StorageError};
use landfall::warehouse::Warehouse;
use landfall::warehouse::bookkeeping::failures;
use landfall::warehouse::bookkeeping::load_ledger::reads;
use serde::Serialize;

use super::output::{Table, cell, emit};
use super::{CliError, Deployment, aws_error};

/// Manifests and parts looked up at once.
const CONCURRENCY: usize = 16;
/// File ids per ledger query (keeps the statement small).
const LEDGER_CHUNK: usize = 500;

#[derive(Debug, Clone, clap::Args)]
pub struct FilesArgs {
    /// Only this feed's files (default: every feed).
    #[arg(long)]
    pub feed: Option<String>,
    /// Only files that landed since: a date (2026-11-24), an RFC 3339 time, or an age (36h, 7d).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Only files in this state: loaded, partial, failed, refused, empty, parsed (waiting for the load),
    /// pending (not parsed yet), unmatched (no feed claims the key), stuck (a message of it failed
    /// in parse-file or the load: retrying or dead-lettered).
    #[arg(long)]
    pub status: Option<String>,
    /// At most this many files, newest first.
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FileArgs {
    /// A landing object: s3://bucket/key, or a key of the landing bucket.
    pub object: String,
    /// An earlier version of the object (the landing bucket is versioned;
    /// default: the current one). An older version loaded after a newer
    /// one shows as `superseded`.
    #[arg(long)]
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RejectsArgs {
    /// A landing object: s3://bucket/key, or a key of the landing bucket.
    pub object: String,
    /// At most this many rejected rows.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `--since`: a date, an RFC 3339 instant, or an age such as `36h` or `7d`.
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or_else(|| format!("{text:?} is not a date"));
    }
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 =
        n.parse().map_err(|_| format!("{text:?}: expected a date, an RFC 3339 time or an age like 36h or 7d"))?;
    let age = match unit {
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(format!("{text:?}: an age ends in m, h or d")),
    };
    Ok(Utc::now() - age)
}

/// A landing object as S3 lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Landed {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What parse-file recorded of a file.
#[derive(Debug, Clone, Serialize)]
pub struct Parsed {
    pub manifest_key: String,
    pub status: String,
    pub rows: u64,
    pub rejected_rows: u64,
    pub parts: usize,
    pub rejects_key: Option<String>,
    pub error: Option<String>,
    pub parsed_at: String,
}

/// What the warehouse's ledger holds of a file.
#[derive(Debug, Clone, Serialize)]
pub struct Ledgered {
    pub table: String,
    pub status: String,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    pub load_id: String,
    pub loaded_at: String,
    /// The ledger's JSON detail (changes, reason, rejects keys).
    pub detail: Option<serde_json::Value>,
}

/// The last failure of a file while nothing has settled it: a parse-file
/// message (`_failures/` in the curated bucket, until the file has a
/// manifest) or a load (`landfall.failures`, until the ledger holds it).
#[derive(Debug, Clone, Serialize)]
pub struct LoadFailure {
    /// The function whose message failed: parse-file or load-warehouse.
    pub stage: String,
    pub table: String,
    /// retry or dead_letter: where the message went.
    pub disposition: String,
    pub error: String,
    pub attempts: u64,
    pub failed_at: String,
}

/// One file's fate.
#[derive(Debug, Clone, Serialize)]
pub struct Fate {
    pub object: Landed,
    pub feed: Option<String>,
    pub table: Option<String>,
    pub file_id: String,
    /// loaded, partial, failed, refused, empty (the ledger's word, or what
    /// parse-file said before any load); parsed (a
    /// manifest, no ledger row yet); pending (no manifest yet); unmatched.
    pub state: String,
    pub parsed: Option<Parsed>,
    pub ledger: Option<Ledgered>,
    /// Set when the file's load failed and nothing settled it since (state `stuck`).
    pub failure: Option<LoadFailure>,
}

impl Fate {
    fn of(object: Landed, config: &Config) -> Fate {
        let feed = config.feed_for_key(&object.key);
        let file_id = layout::file_id(&object.bucket, &object.key, object.etag.as_deref(), None);
        Fate {
            feed: feed.map(|f| f.name.clone()),
            table: feed.map(|f| f.table.clone()),
            state: if feed.is_some() { "pending" } else { "unmatched" }.into(),
            file_id,
            object,
            parsed: None,
            ledger: None,
            failure: None,
        }
    }

    fn settle(&mut self) {
        if let Some(l) = &self.ledger {
            self.state = l.status.clone();
        } else if self.failure.is_some() {
            self.state = "stuck".into();
        } else if let Some(p) = &self.parsed {
            // A file parse-file refused, or found empty, loads nothing; waiting for the loader would mislead.
            self.state =
                if matches!(p.status.as_str(), "refused" | "empty") { p.status.as_str() } else { "parsed" }.into();
        }
    }
}

fn s3_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<String> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), 0)).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The landing objects under `prefix` (newest first), landed since `since`.
async fn list_landing(d: &Deployment, prefix: &str, since: Option<DateTime<Utc>>) -> Result<Vec<Landed>, CliError> {
    let s3 = aws_sdk_s3::Client::new(&d.sdk);
    let mut out = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(&d.landing_bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ListObjectsV2", e))?;
        for o in page.contents() {
            let modified = o.last_modified().map(|t| t.secs());
            if since.is_some_and(|s| modified.is_some_and(|m| m < s.timestamp())) {
                continue;
            }
            out.push(Landed {
                bucket: d.landing_bucket.clone(),
                key: o.key().unwrap_or_default().to_owned(),
                size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                etag: o.e_tag().map(|e| e.trim_matches('"').to_owned()),
                last_modified: s3_time(o.last_modified()),
            });
        }
    }
    out.sort_by(|a, b| b.last_modified.cmp(&a.last_modified).then(a.key.cmp(&b.key)));
    Ok(out)
}

/// Reads the fates' manifests and ledger rows.
async fn settle(d: &Deployment, warehouse: &dyn Warehouse, fates: &mut [Fate]) -> Result<(), CliError> {
    let store = d.store();
    let bucket = &d.curated_bucket;
    let keys: Vec<Option<String>> =
        fates.iter().map(|f| f.table.as_ref().map(|t| layout::manifest_key(t, &f.file_id))).collect();
    let manifests: Vec<Result<Option<(String, Manifest)>, CliError>> = futures_util::stream::iter(keys)
        .map(|key| {
            let store = &store;
            async move {
                let Some(key) = key else { return Ok(None) };
                let bytes = store.get_bytes_if_present(bucket, &key).await?;
                Ok(bytes.and_then(|bytes| Manifest::from_json(&bytes).ok()).map(|m| (key, m)))
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    for (fate, m) in fates.iter_mut().zip(manifests) {
        fate.parsed = m?.map(|(key, m)| Parsed {
            manifest_key: key,
            status: m.status.as_str().to_owned(),
            rows: m.rows,
            rejected_rows: m.rejected_rows,
            parts: m.parts.len(),
            rejects_key: m.rejects_key.clone(),
            error: m.error.clone(),
            parsed_at: m.parsed_at.clone(),
        });
    }
    let ids: Vec<&str> = fates.iter().filter(|f| f.parsed.is_some()).map(|f| f.file_id.as_str()).collect();
    let ledger = ledger_rows(warehouse, &ids).await?;
    let failed = failure_rows(warehouse, &ids).await?;
    for fate in fates.iter_mut() {
        if let Some(table) = &fate.table {
            let suffix = format!(".{table}");
            fate.ledger =
                ledger.get(&fate.file_id).and_then(|rows| rows.iter().find(|l| l.table.ends_with(&suffix))).cloned();
            let failure = failed.get(&fate.file_id).and_then(|rows| rows.iter().find(|f| f.table.ends_with(&suffix)));
            // A failure a later load settled is history, not the file's state.
            fate.failure = failure.filter(|_| fate.ledger.is_none()).cloned();
        }
    }
    parse_failures_of(d, fates).await?;
    for fate in fates.iter_mut() {
        fate.settle();
    }
    Ok(())
}

/// parse-file's failures of the files it has not parsed since (no manifest).
async fn parse_failures_of(d: &Deployment, fates: &mut [Fate]) -> Result<(), CliError> {
    let store = d.store();
    let bucket = &d.curated_bucket;
    let read: Vec<Result<Option<parse_failures::ParseFailure>, StorageError>> =
        futures_util::stream::iter(fates.iter())
            .map(|f| {
                let store = &store;
                let feed = f.feed.as_deref().unwrap_or(layout::UNMATCHED_FEED);
                async move {
                    if f.parsed.is_some() {
                        return Ok(None);
                    }
                    parse_failures::read(store, bucket, feed, &f.file_id).await
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
    for (fate, failure) in fates.iter_mut().zip(read) {
        if let Some(p) = failure? {
            fate.failure = Some(LoadFailure {
                stage: parse_failures::PARSE_FILE.to_owned(),
                table: p.table,
                disposition: p.disposition,
                error: p.error,
                attempts: p.attempts,
                failed_at: p.failed_at,
            });
        }
    }
    Ok(())
}

/// The ledger rows of these files: file id -> its rows (one per table it was loaded into).
async fn ledger_rows(w: &dyn Warehouse, ids: &[&str]) -> Result<BTreeMap<String, Vec<Ledgered>>, CliError> {
    let d = w.dialect();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(LEDGER_CHUNK) {
        let sql = reads::files(d, chunk);
        let Some(rows) = w.query_if_present(&sql).await? else {
            return Ok(out);
        };
        for r in rows {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            out.entry(text(1)).or_insert_with(Vec::new).push(Ledgered {
                table: text(0),
                status: text(2),
                rows_loaded: text(3).parse().unwrap_or(0),
                rows_rejected: text(4).parse().unwrap_or(0),
                load_id: text(5),
                loaded_at: text(6),
                detail: serde_json::from_str(&text(7)).ok(),
            });
        }
    }
    Ok(out)
}

/// The failed loads of these files: file id -> its rows (one per table).
async fn failure_rows(w: &dyn Warehouse, ids: &[&str]) -> Result<BTreeMap<String, Vec<LoadFailure>>, CliError> {
    let mut out: BTreeMap<String, Vec<LoadFailure>> = BTreeMap::new();
    for chunk in ids.chunks(LEDGER_CHUNK) {
        let Some(rows) = w.query_if_present(&failures::reads::files(w.dialect(), chunk)).await? else {
            // No load has failed on this warehouse yet.
            return Ok(out);
        };
        for r in rows {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            out.entry(text(1)).or_default().push(LoadFailure {
                stage: "load-warehouse".to_owned(),
                table: text(0),
                disposition: text(2),
                error: text(3),
                attempts: text(4).parse().unwrap_or(0),
                failed_at: text(5),
            });
        }
    }
    Ok(out)
}

pub async fn files(d: &Deployment, args: &FilesArgs, json: bool) -> Result<(), CliError> {
    let config = d.config().await?;
    let prefixes: Vec<String> = match &args.feed {
        Some(name) => {
            let feed =
                config.feed(name).ok_or_else(|| CliError::NotFound(format!("no feed {name:?} in {}", d.config_url)))?;
            vec![feed.prefix.clone()]
        }
        None => vec![String::new()],
    };
    let mut landed = Vec::new();
    for p in &prefixes {
        landed.extend(list_landing(d, p, args.since).await?);
    }
    let mut fates: Vec<Fate> = landed.into_iter().map(|o| Fate::of(o, &config)).collect();
    if let Some(feed) = &args.feed {
        fates.retain(|f| f.feed.as_ref() == Some(feed));
    }
    let warehouse = d.warehouse(&config).await?;
    settle(d, warehouse.as_ref(), &mut fates).await?;
    if let Some(state) = &args.status {
        fates.retain(|f| &f.state == state);
    }
    fates.truncate(args.limit);
    emit(json, &fates, |fates| {
        let mut t = Table::new(&["landed", "key", "feed", "state", "rows", "rejected", "parts"]);
        for f in fates {
            let rows = f.ledger.as_ref().map(|l| l.rows_loaded).or(f.parsed.as_ref().map(|p| p.rows));
            let rejected = f.ledger.as_ref().map(|l| l.rows_rejected).or(f.parsed.as_ref().map(|p| p.rejected_rows));
            t.push(vec![
                cell(&f.object.last_modified),
                f.object.key.clone(),
                cell(&f.feed),
                f.state.clone(),
                cell(&rows),
                cell(&rejected),
                cell(&f.parsed.as_ref().map(|p| p.parts)),
            ]);
        }
        if t.is_empty() { "no files".into() } else { t.render() }
    })
}

/// A landing object named by `s3://bucket/key`, or by a key of the landing bucket.
fn locate(d: &Deployment, object: &str) -> (String, String) {
    match layout::parse_s3_url(object) {
        Some((bucket, key)) => (bucket.to_owned(), key.to_owned()),
        None => (d.landing_bucket.clone(), object.trim_start_matches('/').to_owned()),
    }
}

/// One landing object (the version named, else the current one), as HEAD sees it.
async fn head(d: &Deployment, bucket: &str, key: &str, version_id: Option<&str>) -> Result<Landed, CliError> {
    let s3 = aws_sdk_s3::Client::new(&d.sdk);
    match s3.head_object().bucket(bucket).key(key).set_version_id(version_id.map(str::to_owned)).send().await {
        Ok(o) => Ok(Landed {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: o.content_length().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            etag: o.e_tag().map(|e| e.trim_matches('"').to_owned()),
            last_modified: s3_time(o.last_modified()),
        }),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Err(CliError::NotFound(format!(
            "s3://{bucket}/{key} does not exist: a typo, or deleted since (`landfall files --feed FEED` lists what landed)"
        ))),
        Err(e) => Err(aws_error("HeadObject", e)),
    }
}

/// A part the manifest lists, and whether it is in the lake.
#[derive(Debug, Clone, Serialize)]
pub struct PartState {
    pub key: String,
    pub dt: String,
    pub rows: u64,
    pub bytes: u64,
    pub present: bool,
}

/// `landfall file`: the whole chain.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    #[serde(flatten)]
    pub fate: Fate,
    pub parts: Vec<PartState>,
    /// Where this file's bad rows are described.
    pub rejects_keys: Vec<String>,
    /// One sentence: what happened and what to do.
    pub verdict: String,
}

async fn report(d: &Deployment, object: &str, version_id: Option<&str>) -> Result<FileReport, CliError> {
    let (bucket, key) = locate(d, object);
    let landed = head(d, &bucket, &key, version_id).await?;
    let config = d.config().await?;
    let mut fates = vec![Fate::of(landed, &config)];
    let warehouse = d.warehouse(&config).await?;
    settle(d, warehouse.as_ref(), &mut fates).await?;
    let Some(fate) = fates.pop() else { return Err(CliError::failed("no fate")) };
    let store = d.store();
    let mut parts = Vec::new();
    if let Some(p) = &fate.parsed {
        let m = Manifest::from_json(&store.get_bytes(&d.curated_bucket, &p.manifest_key).await?)
            .map_err(|e| CliError::failed(format!("{}: {e}", p.manifest_key)))?;
        let s3 = aws_sdk_s3::Client::new(&d.sdk);
        for part in &m.parts {
            let present = s3.head_object().bucket(&d.curated_bucket).key(&part.key).send().await.is_ok();
            parts.push(PartState {
                key: part.key.clone(),
                dt: part.dt.clone(),
                rows: part.rows,
                bytes: part.bytes,
                present,
            });
        }
    }
    let mut rejects_keys: Vec<String> = Vec::new();
    if fate.state == "unmatched" {
        rejects_keys.push(layout::rejects_key(layout::UNMATCHED_FEED, &fate.file_id));
    }
    rejects_keys.extend(fate.parsed.as_ref().and_then(|p| p.rejects_key.clone()));
    let load_rejects = fate.ledger.as_ref().and_then(|l| l.detail.as_ref()).and_then(|v| v["load_rejects"].as_str());
    rejects_keys.extend(load_rejects.map(str::to_owned));
    let verdict = verdict(d, &fate, &parts).await;
    Ok(FileReport { fate, parts, rejects_keys, verdict })
}

async fn verdict(d: &Deployment, f: &Fate, parts: &[PartState]) -> String {
    let missing = parts.iter().filter(|p| !p.present).count();
    let reason =
        f.ledger.as_ref().and_then(|l| l.detail.as_ref()).and_then(|v| v["reason"].as_str().map(str::to_owned));
    // The key is the partner's: quoted, so the suggestion stays one command.
    let replay = landfall::escape::command("landfall replay", &["--prefix", &f.object.key]);
    match (f.state.as_str(), &f.ledger, &f.parsed) {
        ("loaded" | "partial", Some(l), _) => format!(
            "{} into {}: {} row(s), {} rejected, by load {} at {}{}",
            if f.state == "loaded" { "loaded" } else { "partly readable; what was read is loaded" },
            l.table,
            l.rows_loaded,
            l.rows_rejected,
            l.load_id,
            l.loaded_at,
            if l.rows_rejected > 0 { "; `landfall rejects` shows the bad rows" } else { "" }
        ),
        ("empty", _, _) => {
            "empty: the file holds no data (no bytes, or only whitespace); nothing to load and nothing wrong".into()
        }
        ("refused", _, Some(p)) if p.status == "refused" => format!(
            "refused by parse-file, nothing of it loads: {}; fix the file or the feed, then `{}`",
            p.error.clone().or(reason).unwrap_or_else(|| "see the rejects".into()),
            replay
        ),
        ("refused", Some(l), _) => format!(
            "refused by the loader for {}: {}; fix the cause, then `{}`",
            l.table,
            reason.unwrap_or_else(|| "see the ledger detail".into()),
            replay
        ),
        ("superseded", Some(l), _) => format!(
            "superseded in {}: {}; nothing to do, the newer version's rows are the table's",
            l.table,
            reason.unwrap_or_else(|| "a newer version of the object was loaded first".into())
        ),
        ("failed", _, p) => format!(
            "parse-file could not read it: {}; fix the feed (its encoding, format or limits), then `{}`",
            p.as_ref().and_then(|p| p.error.clone()).or(reason).unwrap_or_else(|| "see the rejects".into()),
            replay
        ),
        ("stuck", _, _) => match &f.failure {
            Some(fail) => format!(
                "{} failed {} time(s), last at {} ({}): {}; fix the cause, then `landfall redrive {}`{}",
                if fail.stage == parse_failures::PARSE_FILE {
                    "parse-file".to_owned()
                } else {
                    format!("its load into {}", fail.table)
                },
                fail.attempts,
                fail.failed_at,
                if fail.disposition == "retry" { "retrying" } else { "dead-lettered" },
                fail.error,
                fail.stage,
                if fail.disposition == "retry" { " if it stays stuck" } else { "" }
            ),
            None => "it failed".into(),
        },
        ("parsed", _, Some(p)) if missing > 0 => format!(
            "parsed at {} but {missing} of {} part(s) are missing from the lake: `{}` writes them again",
            p.parsed_at,
            parts.len(),
            replay
        ),
        ("parsed", _, Some(p)) => format!(
            "parsed at {}, not loaded yet: load-warehouse's queue {}",
            p.parsed_at,
            queue_hint(d, "load-warehouse").await
        ),
        ("unmatched", _, _) => {
            "no feed's prefix matches this key: fix the key or add a feed to the config, then replay it".into()
        }
        _ => format!("not parsed yet: parse-file's queue {}", queue_hint(d, "parse-file").await),
    }
}

/// "holds 3 message(s), 1 dead-lettered (`landfall redrive parse-file`)".
async fn queue_hint(d: &Deployment, function: &str) -> String {
    let Ok(q) = d.queue(function) else { return "is not in the outputs".into() };
    let sqs = aws_sdk_sqs::Client::new(&d.sdk);
    let count = |url: &str| {
        let sqs = sqs.clone();
        let url = url.to_owned();
        // A hint is worth nothing if it fails the command: unknown counts read as 0.
        async move { super::status::queue_counts(&sqs, &url).await.map(|(waiting, _)| waiting).unwrap_or(0) }
    };
    let (queued, dead) = (count(&q.url).await, count(&q.dlq_url).await);
    if dead > 0 {
        format!("holds {queued} message(s), {dead} dead-lettered (`landfall redrive {function}` moves them back)")
    } else {
        format!("holds {queued} message(s)")
    }
}

pub async fn file(d: &Deployment, args: &FileArgs, json: bool) -> Result<(), CliError> {
    let r = report(d, &args.object, args.version_id.as_deref()).await?;
    emit(json, &r, |r| {
        let f = &r.fate;
        let mut out = format!("s3://{}/{}\n", f.object.bucket, f.object.key);
        out.push_str(&format!(
            "  landed    {} ({} bytes, etag {})\n",
            cell(&f.object.last_modified),
            f.object.size,
            cell(&f.object.etag)
        ));
        out.push_str(&format!("  feed      {} -> table {}\n", cell(&f.feed), cell(&f.table)));
        out.push_str(&format!("  file id   {}\n", f.file_id));
        match &f.parsed {
            Some(p) => out.push_str(&format!(
                "  parsed    {} at {}: {} row(s), {} rejected, {} part(s) ({})\n",
                p.status, p.parsed_at, p.rows, p.rejected_rows, p.parts, p.manifest_key
            )),
            None => out.push_str("  parsed    no manifest\n"),
        }
        for p in &r.parts {
            out.push_str(&format!("    {} {} row(s) {}\n", p.key, p.rows, if p.present { "" } else { "MISSING" }));
        }
        match &f.ledger {
            Some(l) => out.push_str(&format!(
                "  ledger    {} in {}: {} row(s) loaded, {} rejected (load {}, {})\n",
                l.status, l.table, l.rows_loaded, l.rows_rejected, l.load_id, l.loaded_at
            )),
            None => out.push_str("  ledger    no row\n"),
        }
        for k in &r.rejects_keys {
            out.push_str(&format!("  rejects   s3://{}/{k}\n", d.curated_bucket));
        }
        out.push_str(&format!("  => {}", r.verdict));
        out
    })
}

/// `landfall rejects`: one file's bad rows.
#[derive(Debug, Clone, Serialize)]
pub struct RejectsReport {
    pub object: String,
    pub total: usize,
    pub rejects: Vec<Reject>,
}

pub async fn rejects(d: &Deployment, args: &RejectsArgs, json: bool) -> Result<(), CliError> {
    let r = report(d, &args.object, None).await?;
    let url = format!("s3://{}/{}", r.fate.object.bucket, r.fate.object.key);
    let store = d.store();
    let mut all = Vec::new();
    for key in &r.rejects_keys {
        let Some(bytes) = store.get_bytes_if_present(&d.curated_bucket, key).await? else { continue };
        let rows = read_rejects(&bytes).map_err(|e| CliError::failed(format!("{key}: {e}")))?;
        // A load's rejects object covers every file of the load.
        all.extend(rows.into_iter().filter(|x| x.file == url));
    }
    let total = all.len();
    all.truncate(args.limit);
    let report = RejectsReport { object: url, total, rejects: all };
    emit(json, &report, |r| {
        if r.rejects.is_empty() {
            return format!("{}: no rejected rows", r.object);
        }
        let mut t = Table::new(&["line", "column", "reason", "raw"]);
        for x in &r.rejects {
            let raw: String = x.raw.as_deref().unwrap_or("").chars().take(60).collect();
            t.push(vec![cell(&x.line), cell(&x.column), x.reason.clone(), raw]);
        }
        let more = if r.total > r.rejects.len() {
            format!("\n... {} more (--limit)", r.total - r.rejects.len())
        } else {
            String::new()
        };
        format!("{}: {} rejected\n{}{more}", r.object, r.total, t.render())
    })
}
