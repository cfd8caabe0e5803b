//! `landfall status`: is every feed arriving and loading, and is anything
//! stuck? Per feed from the load ledger and the manifests; per function from
//! its queues' attributes and CloudWatch's age of the oldest message.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Duration as Days, Utc};
use landfall::layout;
use landfall::warehouse::Warehouse;
use landfall::warehouse::bookkeeping::failures;
use landfall::warehouse::bookkeeping::load_ledger::reads;
use serde::Serialize;

use super::output::{Table, cell, emit};
use super::{CliError, Deployment, aws_error};

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Only these feeds (repeatable).
    #[arg(long = "feed", value_name = "FEED")]
    pub feeds: Vec<String>,
}

/// One feed's recent history.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FeedStatus {
    pub feed: String,
    pub table: String,
    /// When parse-file last wrote a manifest for the feed's table.
    pub last_file: Option<String>,
    /// When the warehouse last committed a file of the feed.
    pub last_load: Option<String>,
    pub files_today: u64,
    pub rows_today: u64,
    pub files_7d: u64,
    pub rows_7d: u64,
    pub rows_rejected_7d: u64,
    pub files_refused_7d: u64,
    pub files_failed_7d: u64,
    /// Files whose load failed (retrying or dead-lettered) and no load has settled since.
    pub files_stuck: u64,
}

/// One function's queues.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QueueStatus {
    pub function: String,
    /// Messages waiting.
    pub queued: u64,
    /// Messages being processed (received, not yet deleted).
    pub in_flight: u64,
    /// CloudWatch's ApproximateAgeOfOldestMessage over the last 10 minutes (none without data).
    pub oldest_age_seconds: Option<u64>,
    pub dead_letters: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub target: String,
    pub region: String,
    pub generated_at: String,
    pub feeds: Vec<FeedStatus>,
    pub queues: Vec<QueueStatus>,
}

pub async fn run(d: &Deployment, args: &StatusArgs, json: bool) -> Result<(), CliError> {
    let status = collect(d, args).await?;
    emit(json, &status, render)
}

/// Everything `status` shows.
pub async fn collect(d: &Deployment, args: &StatusArgs) -> Result<Status, CliError> {
    let config = d.config().await?;
    let now = Utc::now();
    let mut feeds: Vec<FeedStatus> = config
        .feeds
        .iter()
        .filter(|f| args.feeds.is_empty() || args.feeds.contains(&f.name))
        .map(|f| FeedStatus { feed: f.name.clone(), table: f.table.clone(), ..FeedStatus::default() })
        .collect();
    if let Some(unknown) = args.feeds.iter().find(|f| config.feed(f).is_none()) {
        return Err(CliError::NotFound(format!("no feed {unknown:?} in {}", d.config_url)));
    }
    let warehouse = d.warehouse(&config).await?;
    let ledger = ledger_stats(warehouse.as_ref(), now).await?;
    for f in &mut feeds {
        if let Some(s) = ledger.get(&f.feed) {
            let last_file = std::mem::take(&mut f.last_file);
            *f = FeedStatus { feed: f.feed.clone(), table: f.table.clone(), last_file, ..s.clone() };
        }
        f.last_file = newest_manifest(d, &f.table).await?;
    }
    let stuck = stuck_files(warehouse.as_ref()).await?;
    for f in &mut feeds {
        f.files_stuck = stuck.get(&f.feed).copied().unwrap_or(0);
    }
    let mut queues = Vec::new();
    for (function, binding) in &d.queues {
        queues.push(queue_status(d, function, binding).await?);
    }
    Ok(Status {
        target: format!("{:?}", d.kind).to_lowercase(),
        region: d.region.clone(),
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        feeds,
        queues,
    })
}

fn render(s: &Status) -> String {
    let mut feeds = Table::new(&[
        "feed",
        "last file",
        "last load",
        "files today",
        "rows today",
        "files 7d",
        "rows 7d",
        "rejected 7d",
        "refused 7d",
        "failed 7d",
        "stuck",
    ]);
    for f in &s.feeds {
        feeds.push(vec![
            f.feed.clone(),
            cell(&f.last_file),
            cell(&f.last_load),
            f.files_today.to_string(),
            f.rows_today.to_string(),
            f.files_7d.to_string(),
            f.rows_7d.to_string(),
            f.rows_rejected_7d.to_string(),
            f.files_refused_7d.to_string(),
            f.files_failed_7d.to_string(),
            f.files_stuck.to_string(),
        ]);
    }
    let mut queues = Table::new(&["function", "queued", "in flight", "oldest (s)", "dead letters"]);
    for q in &s.queues {
        queues.push(vec![
            q.function.clone(),
            q.queued.to_string(),
            q.in_flight.to_string(),
            cell(&q.oldest_age_seconds),
            q.dead_letters.to_string(),
        ]);
    }
    format!("target {} in {}, {}\n\n{}\n\n{}", s.target, s.region, s.generated_at, feeds.render(), queues.render())
}

/// Per feed, from the ledger: the last load, and today's and the last 7
/// days' files, rows, rejects, refusals and failures. One query; the
/// cut-offs are literals so the SQL is the same for both dialects.
async fn ledger_stats(w: &dyn Warehouse, now: DateTime<Utc>) -> Result<BTreeMap<String, FeedStatus>, CliError> {
    let d = w.dialect();
    let today = now.date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now);
    let week = now - Days::days(7);
    let ts = |t: DateTime<Utc>| d.timestamptz_literal(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let (today, week) = (ts(today), ts(week));
    let sql = reads::feed_totals(d, &today, &week);
    let Some(rows) = w.query_if_present(&sql).await? else {
        // A warehouse nothing was loaded into yet has no ledger.
        return Ok(BTreeMap::new());
    };
    let n = |r: &[Option<String>], i: usize| -> u64 {
        r.get(i).cloned().flatten().and_then(|v| v.parse::<f64>().ok()).map_or(0, |v| v as u64)
    };
    Ok(rows
        .iter()
        .filter_map(|r| {
            let feed = r.first().cloned().flatten()?;
            Some((
                feed.clone(),
                FeedStatus {
                    feed,
                    last_load: r.get(1).cloned().flatten().map(|t| instant(&t)),
                    files_today: n(r, 2),
                    rows_today: n(r, 3),
                    files_7d: n(r, 4),
                    rows_7d: n(r, 5),
                    rows_rejected_7d: n(r, 6),
                    files_refused_7d: n(r, 7),
                    files_failed_7d: n(r, 8),
                    ..FeedStatus::default()
                },
            ))
        })
        .collect())
}

/// Per feed: the files `landfall.failures` holds that no load settled since
/// (`landfall file` tells each one's error).
async fn stuck_files(w: &dyn Warehouse) -> Result<BTreeMap<String, u64>, CliError> {
    let Some(rows) = w.query_if_present(&failures::reads::stuck_per_feed()).await? else {
        // No load has failed on this warehouse yet.
        return Ok(BTreeMap::new());
    };
    Ok(rows
        .iter()
        .filter_map(|r| {
            let feed = r.first().cloned().flatten()?;
            let n = r.get(1).cloned().flatten()?.parse().ok()?;
            Some((feed, n))
        })
        .collect())
}

/// When the newest manifest of a table was written.
async fn newest_manifest(d: &Deployment, table: &str) -> Result<Option<String>, CliError> {
    let s3 = aws_sdk_s3::Client::new(&d.sdk);
    let prefix = format!("{}{table}/", layout::MANIFESTS_PREFIX);
    let mut pages = s3.list_objects_v2().bucket(&d.curated_bucket).prefix(&prefix).into_paginator().send();
    let mut newest: Option<aws_sdk_s3::primitives::DateTime> = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ListObjectsV2", e))?;
        for o in page.contents() {
            if let Some(t) = o.last_modified()
                && newest.as_ref().is_none_or(|n| t.secs() > n.secs())
            {
                newest = Some(*t);
            }
        }
    }
    Ok(newest.and_then(|t| DateTime::from_timestamp(t.secs(), 0)).map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string()))
}

async fn queue_status(
    d: &Deployment,
    function: &str,
    q: &landfall_infra::QueueBinding,
) -> Result<QueueStatus, CliError> {
    let sqs = aws_sdk_sqs::Client::new(&d.sdk);
    let (queued, in_flight) = queue_counts(&sqs, &q.url).await?;
    let (dead, dead_in_flight) = queue_counts(&sqs, &q.dlq_url).await?;
    Ok(QueueStatus {
        function: function.to_owned(),
        queued,
        in_flight,
        oldest_age_seconds: oldest_age(d, &q.url).await,
        dead_letters: dead + dead_in_flight,
    })
}

/// A queue's (waiting, in flight) message counts.
pub async fn queue_counts(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<(u64, u64), CliError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| aws_error("GetQueueAttributes", e))?;
    let get = |a: QueueAttributeName| -> u64 {
        out.attributes().and_then(|m| m.get(&a)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    Ok((
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

/// The queue's ApproximateAgeOfOldestMessage (SQS publishes it to
/// CloudWatch; no queue attribute holds it). `None` where there is no data
/// (a quiet queue, an emulator) or the caller may not read metrics.
async fn oldest_age(d: &Deployment, queue_url: &str) -> Option<u64> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let name = queue_url.rsplit('/').next()?;
    let cw = aws_sdk_cloudwatch::Client::new(&d.sdk);
    let now = Utc::now();
    let metric = Metric::builder()
        .namespace("AWS/SQS")
        .metric_name("ApproximateAgeOfOldestMessage")
        .dimensions(Dimension::builder().name("QueueName").value(name).build())
        .build();
    let query = MetricDataQuery::builder()
        .id("age")
        .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Maximum").build())
        .build();
    let out = cw
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs((now - Days::minutes(10)).timestamp()))
        .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(now.timestamp()))
        .send()
        .await
        .ok()?;
    let result = out.metric_data_results().first()?;
    // Newest first (the default ScanBy is TimestampDescending).
    result.values().first().map(|v| *v as u64)
}

/// A warehouse timestamp (`2026-12-01 22:04:56.009326+00`, as either
/// dialect prints a timestamptz) as `2026-12-01 22:04:56Z`; other text as it is.
pub fn instant(text: &str) -> String {
    let t = text.trim();
    let parsed = DateTime::parse_from_str(&format!("{t}00"), "%Y-%m-%d %H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .or_else(|_| DateTime::parse_from_rfc3339(t));
    match parsed {
        Ok(p) => p.to_utc().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        Err(_) => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warehouse_timestamps_read_as_utc_seconds() {
        assert_eq!(instant("2026-12-01 22:04:56.009326+00"), "2026-12-01 22:04:56Z");
        assert_eq!(instant("2026-12-01 23:04:56+01"), "2026-12-01 22:04:56Z");
        assert_eq!(instant("2026-12-01T22:04:56Z"), "2026-12-01 22:04:56Z");
        assert_eq!(instant("soon"), "soon");
    }
}
