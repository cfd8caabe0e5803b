//! monitor-feeds: the scheduled run that knows when a feed or a partner goes
//! quiet, and the forwarder of alarms to Slack.
//!
//! A scheduled invocation (any payload that is not an SNS event) evaluates
//! every feed with `expect:` at the current time: one `landfall.feed_stats`
//! query per feed, its findings reconciled with the feed's open alerts and
//! applied to `landfall.feed_alerts`, then a notice per alert opened or
//! resolved (so each fires once and resolves once). Then one digest of the
//! files refused or failed since the last one. Notices go to the feed's
//! channels (`notify:`), else the defaults: a Slack webhook and an SNS
//! topic. A notice that no channel takes is logged and counted; it never
//! fails the run. An SNS event (the alerts topic, where the CloudWatch
//! alarms publish) is forwarded to Slack, one message per alarm.

pub mod alarm;
pub mod messages;
pub mod notifier;
pub mod sns;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use landfall::config::{Channels, Config, Expectations, Feed};
use landfall::lambda::Deadline;
use landfall::monitor::{Reconciled, evaluate, reconcile};
use landfall::notify::AlertNotice;
use landfall::storage::ObjectStore;
use landfall::telemetry::Metrics;
use landfall::warehouse::bookkeeping::feed_alerts::{BadAlertRow, parse_open_alerts};
use landfall::warehouse::bookkeeping::feed_series::{BadRow, parse_series, window};
use landfall::warehouse::bookkeeping::file_digests::{BadDigestRow, FeedDigest, parse_digest};
use landfall::warehouse::stuck::stuck_per_feed;
use landfall::warehouse::{MAX_TRANSACTION_STATEMENTS, Warehouse, WarehouseError};
use serde_json::{Value, json};
use tracing::{Instrument, error, info, info_span, warn};

pub use notifier::{Delivery, Notifier};

/// Feeds are not started with less than this left of the invocation.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("warehouse: {0}")]
    Warehouse(#[from] WarehouseError),
    #[error("feed {feed}: {source}")]
    Series { feed: String, source: BadRow },
    #[error("feed {feed}: {source}")]
    Alerts { feed: String, source: BadAlertRow },
    #[error("digest: {0}")]
    Digest(#[from] BadDigestRow),
    #[error("{} of {total} feeds could not be evaluated: {}", failed.len(), failed.join("; "))]
    Feeds { total: usize, failed: Vec<String> },
    #[error("payload: {0}")]
    Payload(#[from] alarm::EventError),
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub feeds: usize,
    pub series: usize,
    pub opened: usize,
    pub still_open: usize,
    pub resolved: usize,
    /// Refused and failed files in this run's digest.
    pub digested: u64,
    pub delivery: Delivery,
    /// Feeds not evaluated: the invocation's deadline was near.
    pub deferred: usize,
}

/// One feed's part of a run.
#[derive(Debug, Default)]
struct FeedOutcome {
    series: usize,
    reconciled: Reconciled,
    delivery: Delivery,
}

/// Where parse-file records its failures (`landfall::parse_failures`), so
/// the digest counts the files stuck there as well as in the warehouse.
pub struct Curated {
    pub store: Arc<dyn ObjectStore>,
    pub bucket: String,
}

pub struct MonitorFeeds {
    config: Arc<Config>,
    warehouse: Arc<dyn Warehouse>,
    curated: Curated,
    notifier: Notifier,
    /// Where notices go unless a feed names its own (`notify:`).
    defaults: Channels,
    metrics: Metrics,
}

fn run_id(now: DateTime<Utc>) -> String {
    let mut jitter = landfall::retry::Jitter::from_clock();
    let suffix = (jitter.next_unit() * f64::from(u32::MAX)) as u32;
    format!("{}-{suffix:08x}", now.format("%Y%m%dT%H%M%S%.6fZ"))
}

impl MonitorFeeds {
    pub fn new(
        config: Arc<Config>,
        warehouse: Arc<dyn Warehouse>,
        curated: Curated,
        notifier: Notifier,
        defaults: Channels,
        metrics: Metrics,
    ) -> Self {
        MonitorFeeds { config, warehouse, curated, notifier, defaults, metrics }
    }

    /// The Lambda entry point: an SNS event is forwarded, anything else (the
    /// schedule's payload) is a run at the current time. A run that could not
    /// read or record a feed fails the invocation, after the other feeds.
    pub async fn handle(&self, payload: Value, deadline: Deadline) -> Result<Value, lambda_runtime::Error> {
        if alarm::is_sns_event(&payload) {
            let d = self.forward_alarms(&payload).await?;
            return Ok(json!({"alarms_forwarded": d.sent, "alarms_failed": d.failed}));
        }
        let r = self.run(Utc::now(), deadline).await?;
        Ok(json!({
            "feeds": r.feeds, "series": r.series, "opened": r.opened, "still_open": r.still_open,
            "resolved": r.resolved, "digested": r.digested, "deferred": r.deferred,
            "notifications_sent": r.delivery.sent, "notifications_failed": r.delivery.failed,
        }))
    }

    fn channels(&self, feed: Option<&Feed>) -> Channels {
        feed.map(|f| f.notify.or(&self.defaults)).unwrap_or_else(|| self.defaults.clone())
    }

    /// One run as of `now`: every monitored feed, then the digest.
    pub async fn run(&self, now: DateTime<Utc>, deadline: Deadline) -> Result<RunReport, MonitorError> {
        self.warehouse.execute(self.warehouse.dialect().create_monitor_tables()).await?;
        let mut report = RunReport::default();
        let feeds: Vec<(&Feed, &Expectations)> =
            self.config.feeds.iter().filter_map(|f| f.expect.as_ref().map(|e| (f, e))).collect();
        let mut failed = Vec::new();
        for (feed, expect) in &feeds {
            if deadline.within(DEADLINE_MARGIN) {
                warn!(feed = %feed.name, "the invocation's deadline is near; feed left for the next run");
                landfall::telemetry::catalog::FeedDeferred.emit(&self.metrics);
                report.deferred += 1;
                continue;
            }
            let started = Instant::now();
            let span = info_span!("feed", feed = %feed.name);
            match self.feed(feed, expect, now).instrument(span).await {
                Ok(o) => {
                    landfall::telemetry::catalog::FeedEvaluated { ok: true, elapsed: started.elapsed() }
                        .emit(&self.metrics);
                    report.feeds += 1;
                    report.series += o.series;
                    report.opened += o.reconciled.opened.len();
                    report.still_open += o.reconciled.still_open.len();
                    report.resolved += o.reconciled.resolved.len();
                    report.delivery += o.delivery;
                }
                Err(e) => {
                    error!(feed = %feed.name, error = %e, "feed not evaluated");
                    landfall::telemetry::catalog::FeedEvaluated { ok: false, elapsed: started.elapsed() }
                        .emit(&self.metrics);
                    failed.push(format!("{}: {e}", feed.name));
                }
            }
        }
        let (digested, delivery) = self.digest(now).instrument(info_span!("digest")).await?;
        report.digested = digested;
        report.delivery += delivery;
        info!(
            feeds = report.feeds,
            series = report.series,
            opened = report.opened,
            resolved = report.resolved,
            still_open = report.still_open,
            digested = report.digested,
            sent = report.delivery.sent,
            failed = report.delivery.failed,
            "monitor run done"
        );
        if !failed.is_empty() {
            return Err(MonitorError::Feeds { total: feeds.len(), failed });
        }
        Ok(report)
    }

    /// One feed: its series read, evaluated, reconciled with its open
    /// alerts and recorded; then the changes notified (after the commit, so
    /// a run that fails to record tells nobody and the next run tells them).
    async fn feed(&self, feed: &Feed, expect: &Expectations, now: DateTime<Utc>) -> Result<FeedOutcome, MonitorError> {
        let d = self.warehouse.dialect();
        let rows = self.warehouse.query(&d.feed_series_query(&feed.name, window(expect), now)).await?;
        let series = parse_series(&rows).map_err(|source| MonitorError::Series { feed: feed.name.clone(), source })?;
        let open_rows = self.warehouse.query(&d.select_open_alerts(&feed.name)).await?;
        let open =
            parse_open_alerts(&open_rows).map_err(|source| MonitorError::Alerts { feed: feed.name.clone(), source })?;
        let evaluated: BTreeSet<String> = series.iter().map(|s| s.dims.clone()).collect();
        let findings = series.iter().flat_map(|s| evaluate(expect, now, s)).collect();
        let reconciled = reconcile(&open, &evaluated, findings);
        // Each statement is idempotent (insert unless open, touch, resolve), so a
        // feed with more changes than one transaction takes converges on a retry.
        for chunk in d.apply_reconciled(&feed.name, &reconciled, now).chunks(MAX_TRANSACTION_STATEMENTS) {
            self.warehouse.execute(chunk.to_vec()).await?;
        }
        landfall::telemetry::catalog::SeriesEvaluated { feed: &feed.name, series: series.len() }.emit(&self.metrics);
        let channels = self.channels(Some(feed));
        let opened = reconciled.opened.iter().map(|f| {
            info!(series = %f.dims, kind = f.kind.as_str(), detail = %f.detail, "alert opened");
            (
                landfall::telemetry::catalog::AlertChange::Opened,
                AlertNotice {
                    feed: &feed.name,
                    dims: &f.dims,
                    kind: f.kind,
                    detail: &f.detail,
                    since: now,
                    resolved_at: None,
                },
            )
        });
        let resolved = reconciled.resolved.iter().map(|a| {
            info!(series = %a.dims, kind = a.kind.as_str(), since = %a.first_seen, "alert resolved");
            let detail = "back within the feed's expectations";
            (
                landfall::telemetry::catalog::AlertChange::Resolved,
                AlertNotice {
                    feed: &feed.name,
                    dims: &a.dims,
                    kind: a.kind,
                    detail,
                    since: a.first_seen,
                    resolved_at: Some(now),
                },
            )
        });
        let mut delivery = Delivery::default();
        for (metric, notice) in opened.chain(resolved).collect::<Vec<_>>() {
            landfall::telemetry::catalog::AlertChanged { change: metric, feed: &feed.name, kind: notice.kind.as_str() }
                .emit(&self.metrics);
            delivery += self.notifier.send(&channels, &messages::alert(&notice)).await;
        }
        Ok(FeedOutcome { series: series.len(), reconciled, delivery })
    }

    /// The digest: files refused or failed since the last one, marked for
    /// this run, read back and sent as one message per set of channels. A
    /// digest no channel took is unmarked, so the next run sends it again.
    async fn digest(&self, now: DateTime<Utc>) -> Result<(u64, Delivery), MonitorError> {
        let d = self.warehouse.dialect();
        let run = run_id(now);
        self.warehouse.execute(vec![d.mark_digest(&run, now)]).await?;
        let counts = self.warehouse.query(&d.digest_counts(&run)).await?;
        if counts.is_empty() {
            return Ok((0, Delivery::default()));
        }
        let samples = self.warehouse.query(&d.digest_samples(&run)).await?;
        let mut feeds = parse_digest(&counts, &samples)?;
        // The stuck counts ride along; a digest that cannot read them still goes out.
        match stuck_per_feed(self.warehouse.as_ref(), self.curated.store.as_ref(), &self.curated.bucket).await {
            Ok(stuck) => FeedDigest::add_stuck(&mut feeds, &stuck),
            Err(e) => warn!(error = %e, "the digest goes without its stuck files"),
        }
        let mut groups: BTreeMap<Channels, Vec<FeedDigest>> = BTreeMap::new();
        for f in feeds {
            for (status, n) in [("refused", f.refused), ("failed", f.failed)] {
                if n > 0 {
                    landfall::telemetry::catalog::FilesDigested { feed: &f.feed, status, files: n }.emit(&self.metrics);
                }
            }
            groups.entry(self.channels(self.config.feed(&f.feed))).or_default().push(f);
        }
        let mut total = 0;
        let mut delivery = Delivery::default();
        for (channels, feeds) in groups {
            let files: u64 = feeds.iter().map(FeedDigest::files).sum();
            total += files;
            let sent = self.notifier.send(&channels, &messages::digest(&feeds)).await;
            if sent.lost() {
                let names: Vec<&str> = feeds.iter().map(|f| f.feed.as_str()).collect();
                warn!(files, feeds = ?names, "digest reached no channel; the next run sends it again");
                self.warehouse.execute(vec![d.unmark_digest(&run, &names)]).await?;
            } else {
                info!(files, feeds = feeds.len(), "digest sent");
            }
            delivery += sent;
        }
        Ok((total, delivery))
    }

    /// Forwards each CloudWatch alarm of an SNS event to the default Slack
    /// webhook (the topic's email subscribers have it already). A message
    /// this function published itself is skipped.
    pub async fn forward_alarms(&self, payload: &Value) -> Result<Delivery, MonitorError> {
        let mut delivery = Delivery::default();
        let slack_only = Channels { slack_secret: self.defaults.slack_secret.clone(), sns_topic: None };
        for record in alarm::parse_event(payload)? {
            match record {
                alarm::Record::Alarm(a) => {
                    info!(alarm = %a.name, state = %a.state, "alarm forwarded");
                    landfall::telemetry::catalog::AlarmForwarded { state: &a.state }.emit(&self.metrics);
                    delivery += self.notifier.send(&slack_only, &messages::alarm(&a)).await;
                }
                alarm::Record::Own => {
                    landfall::telemetry::catalog::SnsRecordSkipped { reason: "own_message" }.emit(&self.metrics)
                }
                alarm::Record::Other(reason) => {
                    warn!(reason, "SNS record is not a CloudWatch alarm; skipped");
                    landfall::telemetry::catalog::SnsRecordSkipped { reason }.emit(&self.metrics);
                }
            }
        }
        Ok(delivery)
    }
}
