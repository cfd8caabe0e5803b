//! `landfall replay`: re-run landing objects (a backfill, a fix shipped for
//! a refused feed, a partner's week to reload) by sending their
//! ObjectCreated notices to parse-file's queue, the way S3 sent them the
//! first time. What is already loaded re-parses to the same parts and
//! manifest, and the loader's ledger makes its load a no-op.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use landfall::events::{ObjectCreated, notification};
use landfall::layout;
use landfall::warehouse::LedgerStatus;
use landfall::warehouse::Warehouse;
use landfall::warehouse::bookkeeping::load_ledger::reads;
use serde::Serialize;

use super::output::emit;
use super::{CliError, Deployment, aws_error};

/// SendMessageBatch takes at most ten entries.
const BATCH: usize = 10;

#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["feed", "prefix"])))]
pub struct ReplayArgs {
    /// Every landing object of this feed.
    #[arg(long)]
    pub feed: Option<String>,
    /// Every landing object under this key prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Only objects that landed on or after this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Only objects that landed on or before this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Say what would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Notices sent per second at most, so parse-file's concurrency is not swamped.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Send without asking, however many objects match (or the whole bucket, `--prefix ""`).
    #[arg(long)]
    pub yes: bool,
    /// A replay of more objects than this needs `--yes`.
    #[arg(long, default_value_t = 1000)]
    pub ask_over: usize,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReplaySummary {
    pub prefix: String,
    pub matched: usize,
    /// Of those, files the ledger holds as loaded: their replay loads nothing again.
    pub already_loaded: usize,
    /// Files the ledger holds as refused or failed: what a replay after a fix is for.
    pub refused: usize,
    pub failed_before: usize,
    pub sent: usize,
    pub failed: usize,
    pub dry_run: bool,
    /// The first keys, for a look before a real run.
    pub sample: Vec<String>,
}

struct Landed {
    key: String,
    size: u64,
    etag: Option<String>,
    modified: Option<DateTime<Utc>>,
}

async fn list(d: &Deployment, prefix: &str, args: &ReplayArgs) -> Result<Vec<Landed>, CliError> {
    let s3 = aws_sdk_s3::Client::new(&d.sdk);
    let day = |t: Option<DateTime<Utc>>| t.map(|t| t.date_naive());
    let mut out = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(&d.landing_bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ListObjectsV2", e))?;
        for o in page.contents() {
            let modified = o.last_modified().and_then(|t| DateTime::from_timestamp(t.secs(), 0));
            let landed = day(modified);
            if args.from.is_some_and(|f| landed.is_some_and(|d| d < f))
                || args.to.is_some_and(|t| landed.is_some_and(|d| d > t))
            {
                continue;
            }
            out.push(Landed {
                key: o.key().unwrap_or_default().to_owned(),
                size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                etag: o.e_tag().map(|e| e.trim_matches('"').to_owned()),
                modified,
            });
        }
    }
    out.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.key.cmp(&b.key)));
    Ok(out)
}

/// What the ledger holds of these files: (loaded, refused, failed). A
/// file with a loaded row in any table counts as loaded.
async fn count_held(w: &dyn Warehouse, ids: &[String]) -> Result<(usize, usize, usize), CliError> {
    let d = w.dialect();
    let mut best: HashMap<String, LedgerStatus> = HashMap::new();
    for chunk in ids.chunks(500) {
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let sql = reads::held(d, &ids);
        let Some(rows) = w.query_if_present(&sql).await? else {
            return Ok((0, 0, 0));
        };
        for row in rows {
            let (Some(Some(id)), Some(Some(status))) = (row.first(), row.get(1)) else { continue };
            let status: LedgerStatus = status.parse().map_err(CliError::failed)?;
            let held = best.entry(id.clone()).or_insert(status);
            if rank(status) > rank(*held) {
                *held = status;
            }
        }
    }
    let count = |f: fn(LedgerStatus) -> bool| best.values().filter(|s| f(**s)).count();
    Ok((count(LedgerStatus::settled), count(|s| s == LedgerStatus::Refused), count(|s| s == LedgerStatus::Failed)))
}

/// Which of a file's ledger rows says most: loaded (or empty: all of
/// nothing) over refused over failed.
fn rank(s: LedgerStatus) -> u8 {
    match s {
        LedgerStatus::Loaded | LedgerStatus::Partial | LedgerStatus::Empty => 2,
        LedgerStatus::Refused => 1,
        LedgerStatus::Failed => 0,
    }
}

/// Why a replay must be confirmed with `--yes`, if it must.
fn needs_confirmation(prefix: &str, matched: usize, args: &ReplayArgs) -> Option<String> {
    if args.yes || args.dry_run {
        return None;
    }
    if prefix.is_empty() {
        return Some(format!("an empty prefix replays the whole landing bucket ({matched} objects)"));
    }
    (matched > args.ask_over).then(|| format!("{matched} objects match, more than --ask-over {}", args.ask_over))
}

pub async fn run(d: &Deployment, args: &ReplayArgs, json: bool) -> Result<(), CliError> {
    if args.rate <= 0.0 {
        return Err(CliError::Usage("--rate must be above 0".into()));
    }
    let config = d.config().await?;
    let prefix = match (&args.feed, &args.prefix) {
        (Some(f), _) => config
            .feed(f)
            .ok_or_else(|| CliError::NotFound(format!("no feed {f:?} in {}", d.config_url)))?
            .prefix
            .clone(),
        (None, Some(p)) => p.clone(),
        (None, None) => return Err(CliError::Usage("replay needs --feed or --prefix".into())),
    };
    let objects = list(d, &prefix, args).await?;
    let ids: Vec<String> =
        objects.iter().map(|o| layout::file_id(&d.landing_bucket, &o.key, o.etag.as_deref(), None)).collect();
    if let Some(why) = needs_confirmation(&prefix, objects.len(), args) {
        return Err(CliError::Usage(format!("{why}: look first with --dry-run, then pass --yes to send them")));
    }
    let warehouse = d.warehouse(&config).await?;
    let (already_loaded, refused, failed_before) = count_held(warehouse.as_ref(), &ids).await?;
    let mut summary = ReplaySummary {
        prefix: prefix.clone(),
        matched: objects.len(),
        already_loaded,
        refused,
        failed_before,
        dry_run: args.dry_run,
        sample: objects.iter().take(5).map(|o| o.key.clone()).collect(),
        ..ReplaySummary::default()
    };
    if !args.dry_run && !objects.is_empty() {
        let (sent, failed) = send(d, &objects, args.rate, json).await?;
        summary.sent = sent;
        summary.failed = failed;
    }
    let failed = summary.failed;
    emit(json, &summary, |s| {
        let verb = if s.dry_run { "would send" } else { "sent" };
        let n = if s.dry_run { s.matched } else { s.sent };
        let mut out = format!(
            "{} object(s) under s3://{}/{}: {verb} {n} notice(s) to parse-file's queue",
            s.matched, d.landing_bucket, s.prefix
        );
        if s.failed > 0 {
            out.push_str(&format!(", {} failed", s.failed));
        }
        if s.already_loaded > 0 {
            out.push_str(&format!(
                "\n{} of them are already loaded: they re-parse to the same parts and the ledger keeps their load a no-op",
                s.already_loaded
            ));
        }
        if s.refused + s.failed_before > 0 {
            out.push_str(&format!(
                "\n{} refused and {} failed before: these are the files a replay after a fix loads",
                s.refused, s.failed_before
            ));
        }
        for k in &s.sample {
            out.push_str(&format!("\n  {k}"));
        }
        if s.matched > s.sample.len() {
            out.push_str(&format!("\n  ... {} more", s.matched - s.sample.len()));
        }
        out
    })?;
    if failed > 0 {
        return Err(CliError::Failed(format!("{failed} notice(s) could not be sent; run the replay again")));
    }
    Ok(())
}

/// Sends the notices in batches of ten at `rate` per second, retrying a
/// batch's failed entries once. Returns (sent, failed).
async fn send(d: &Deployment, objects: &[Landed], rate: f64, quiet: bool) -> Result<(usize, usize), CliError> {
    let queue = d.queue("parse-file")?;
    let sqs = aws_sdk_sqs::Client::new(&d.sdk);
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(objects.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} replay [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let (mut sent, mut failed) = (0usize, 0usize);
    for (n, chunk) in objects.chunks(BATCH).enumerate() {
        // Pace: batch n may start once n * BATCH notices' worth of time has passed.
        let due = Duration::from_secs_f64((n * BATCH) as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let mut entries: Vec<SendMessageBatchRequestEntry> = Vec::new();
        for (i, o) in chunk.iter().enumerate() {
            let mut created = ObjectCreated::put(&d.landing_bucket, &o.key);
            created.size = Some(o.size);
            created.etag = o.etag.clone();
            created.event_time = o.modified;
            let entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(notification(&[created]))
                .build()
                .map_err(CliError::failed)?;
            entries.push(entry);
        }
        for attempt in 0..2 {
            let out = sqs
                .send_message_batch()
                .queue_url(&queue.url)
                .set_entries(Some(entries.clone()))
                .send()
                .await
                .map_err(|e| aws_error("SendMessageBatch", e))?;
            sent += out.successful().len();
            let failed_ids: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
            entries.retain(|e| failed_ids.contains(&e.id()));
            if entries.is_empty() {
                break;
            }
            if attempt == 1 {
                failed += entries.len();
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok((sent, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(yes: bool, dry_run: bool) -> ReplayArgs {
        ReplayArgs { feed: None, prefix: None, from: None, to: None, dry_run, rate: 50.0, yes, ask_over: 1000 }
    }

    #[test]
    fn more_objects_than_ask_over_or_an_empty_prefix_need_yes() {
        assert_eq!(needs_confirmation("crm/", 1000, &args(false, false)), None);
        let many = needs_confirmation("crm/", 1001, &args(false, false)).unwrap_or_default();
        assert_eq!(many, "1001 objects match, more than --ask-over 1000");
        let all = needs_confirmation("", 3, &args(false, false)).unwrap_or_default();
        assert!(all.starts_with("an empty prefix replays the whole landing bucket"), "{all}");
        assert_eq!(needs_confirmation("", 5000, &args(true, false)), None);
        assert_eq!(needs_confirmation("", 5000, &args(false, true)), None, "a dry run sends nothing");
    }

    #[test]
    fn a_file_loaded_into_one_table_and_refused_by_another_counts_as_loaded() {
        assert!(rank(LedgerStatus::Partial) > rank(LedgerStatus::Refused));
        assert!(rank(LedgerStatus::Refused) > rank(LedgerStatus::Failed));
    }
}
