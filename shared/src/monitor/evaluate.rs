//! Evaluating a feed's expectations, pure: per series (one `monitor_by`
//! value, or the whole feed) the figures the monitor read from
//! `landfall.feed_stats`, against the feed's [`Expectations`]; then the
//! findings reconciled with the alerts already open, so an alert fires once
//! and resolves once, not on every run.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Expectations;

/// Days of history the volume baseline takes its median over: the same
/// window (same hour) on each of the previous 7 days.
pub(crate) const BASELINE_DAYS: usize = 7;

/// One series' figures, as of the evaluation time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The stats key (`partner_id=p7`, `''` for the whole feed).
    pub dims: String,
    /// When its data last loaded.
    pub last_loaded_at: DateTime<Utc>,
    /// Rows loaded and rejected in the last `every` window.
    pub rows: u64,
    pub rejected: u64,
    /// Rows loaded in the same window 1..=7 days earlier (index 0: yesterday).
    pub baseline: Vec<u64>,
}

/// What is wrong with a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertKind {
    /// No data for longer than `every`.
    Quiet,
    /// Fewer rows than `min_rows` in the last window.
    LowVolume,
    /// The last window's rows fell by `volume_drop` or more from the baseline median.
    VolumeDrop,
    /// More rejected rows than `max_reject_ratio` in the last window.
    Rejects,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Quiet => "quiet",
            AlertKind::LowVolume => "low_volume",
            AlertKind::VolumeDrop => "volume_drop",
            AlertKind::Rejects => "rejects",
        }
    }
}

/// One expectation a series does not meet.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub dims: String,
    pub kind: AlertKind,
    /// What is wrong, in words with the figures (for the message).
    pub detail: String,
}

/// The median of the baseline days (the mean of the middle two for an even count).
fn median(values: &[u64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    let mid = |i: usize| v.get(i).map(|x| *x as f64);
    match n {
        0 => None,
        _ if n % 2 == 1 => mid(n / 2),
        _ => Some((mid(n / 2 - 1)? + mid(n / 2)?) / 2.0),
    }
}

fn minutes(d: Duration) -> u64 {
    d.as_secs() / 60
}

/// The expectations `series` does not meet at `now`. A quiet series reports
/// only that (its volume is zero for the same reason); the reject ratio is
/// judged on its own.
pub fn evaluate(expect: &Expectations, now: DateTime<Utc>, series: &Series) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |kind, detail: String| Finding { dims: series.dims.clone(), kind, detail };
    let silent = now.signed_duration_since(series.last_loaded_at).to_std().unwrap_or_default();
    let quiet = expect.every.is_some_and(|every| silent > every);
    if let (true, Some(every)) = (quiet, expect.every) {
        out.push(finding(
            AlertKind::Quiet,
            format!("no data for {} min (expected every {} min)", minutes(silent), minutes(every)),
        ));
    }
    if !quiet {
        if let Some(min) = expect.min_rows.filter(|m| series.rows < *m) {
            out.push(finding(
                AlertKind::LowVolume,
                format!("{} rows in the last window, expected at least {min}", series.rows),
            ));
        } else if let (Some(drop), Some(m)) = (expect.volume_drop, median(&series.baseline))
            && m > 0.0
            && (series.rows as f64) <= (1.0 - drop) * m
        {
            let pct = 100.0 * (1.0 - series.rows as f64 / m);
            out.push(finding(
                AlertKind::VolumeDrop,
                format!(
                    "{} rows in the last window, {pct:.0}% below the {BASELINE_DAYS}-day median of {m:.0}",
                    series.rows
                ),
            ));
        }
    }
    let total = series.rows + series.rejected;
    if let Some(max) = expect.max_reject_ratio
        && total > 0
    {
        let ratio = series.rejected as f64 / total as f64;
        if ratio > max {
            out.push(finding(
                AlertKind::Rejects,
                format!(
                    "{} of {total} rows rejected ({:.1}%, at most {:.1}% expected)",
                    series.rejected,
                    100.0 * ratio,
                    100.0 * max
                ),
            ));
        }
    }
    out
}

/// An alert as `landfall.feed_alerts` holds it while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlert {
    pub dims: String,
    pub kind: AlertKind,
    pub first_seen: DateTime<Utc>,
}

/// What one run changes in the alerts of a feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciled {
    /// New findings: open an alert and notify.
    pub opened: Vec<Finding>,
    /// Open alerts found again: only `last_seen` moves, nobody is told.
    pub still_open: Vec<(String, AlertKind)>,
    /// Open alerts whose series is back to normal: resolve and notify.
    pub resolved: Vec<OpenAlert>,
}

/// Reconciles a run's findings with the open alerts. An alert resolves only
/// when its series was evaluated and no longer shows the problem: a series
/// missing from this run (quiet past the stats the monitor reads) keeps its
/// alert open.
pub fn reconcile(open: &[OpenAlert], evaluated: &BTreeSet<String>, findings: Vec<Finding>) -> Reconciled {
    let mut out = Reconciled::default();
    let found: BTreeSet<(String, AlertKind)> = findings.iter().map(|f| (f.dims.clone(), f.kind)).collect();
    for f in findings {
        if open.iter().any(|a| a.dims == f.dims && a.kind == f.kind) {
            out.still_open.push((f.dims, f.kind));
        } else {
            out.opened.push(f);
        }
    }
    for a in open {
        if evaluated.contains(&a.dims) && !found.contains(&(a.dims.clone(), a.kind)) {
            out.resolved.push(a.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn hourly() -> Expectations {
        Expectations {
            every: Some(Duration::from_secs(3600)),
            min_rows: None,
            max_reject_ratio: Some(0.02),
            volume_drop: Some(0.5),
        }
    }

    fn series(minutes_ago: i64, rows: u64, rejected: u64) -> Series {
        Series {
            dims: "partner_id=p1".into(),
            last_loaded_at: now() - chrono::Duration::minutes(minutes_ago),
            rows,
            rejected,
            baseline: vec![100; BASELINE_DAYS],
        }
    }

    fn kinds(findings: &[Finding]) -> Vec<AlertKind> {
        findings.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_series_that_meets_every_expectation_has_no_findings() {
        assert!(evaluate(&hourly(), now(), &series(10, 100, 1)).is_empty());
    }

    #[test]
    fn a_series_without_data_for_longer_than_every_is_quiet_and_only_that() {
        let f = evaluate(&hourly(), now(), &series(61, 0, 0));
        assert_eq!(kinds(&f), vec![AlertKind::Quiet]);
        assert_eq!(f[0].detail, "no data for 61 min (expected every 60 min)");
    }

    #[test]
    fn half_the_usual_volume_is_a_drop_and_a_bit_less_than_usual_is_not() {
        assert_eq!(kinds(&evaluate(&hourly(), now(), &series(5, 50, 0))), vec![AlertKind::VolumeDrop]);
        assert!(evaluate(&hourly(), now(), &series(5, 51, 0)).is_empty());
    }

    #[test]
    fn the_baseline_is_the_median_so_one_odd_day_does_not_move_it() {
        let mut s = series(5, 50, 0);
        s.baseline = vec![100, 100, 100, 10_000, 100, 0, 100];
        let f = evaluate(&hourly(), now(), &s);
        assert_eq!(f[0].detail, "50 rows in the last window, 50% below the 7-day median of 100");
    }

    #[test]
    fn a_new_series_without_history_is_not_judged_on_volume() {
        let mut s = series(5, 1, 0);
        s.baseline = vec![0; BASELINE_DAYS];
        assert!(evaluate(&hourly(), now(), &s).is_empty());
    }

    #[test]
    fn too_few_rows_is_low_volume_before_it_is_a_drop() {
        let expect = Expectations { min_rows: Some(1000), ..hourly() };
        assert_eq!(kinds(&evaluate(&expect, now(), &series(5, 10, 0))), vec![AlertKind::LowVolume]);
    }

    #[test]
    fn ten_percent_rejects_exceed_a_two_percent_limit() {
        let f = evaluate(&hourly(), now(), &series(5, 90, 10));
        assert_eq!(kinds(&f), vec![AlertKind::Rejects]);
        assert_eq!(f[0].detail, "10 of 100 rows rejected (10.0%, at most 2.0% expected)");
    }

    fn open(dims: &str, kind: AlertKind) -> OpenAlert {
        OpenAlert { dims: dims.into(), kind, first_seen: now() }
    }

    fn finding(dims: &str, kind: AlertKind) -> Finding {
        Finding { dims: dims.into(), kind, detail: String::new() }
    }

    fn evaluated(dims: &[&str]) -> BTreeSet<String> {
        dims.iter().map(|d| (*d).to_owned()).collect()
    }

    #[test]
    fn a_new_finding_opens_an_alert_and_the_same_finding_next_run_does_not() {
        let first = reconcile(&[], &evaluated(&["a"]), vec![finding("a", AlertKind::Quiet)]);
        assert_eq!(first.opened.len(), 1);
        let next = reconcile(&[open("a", AlertKind::Quiet)], &evaluated(&["a"]), vec![finding("a", AlertKind::Quiet)]);
        assert!(next.opened.is_empty() && next.resolved.is_empty());
        assert_eq!(next.still_open, vec![("a".to_owned(), AlertKind::Quiet)]);
    }

    #[test]
    fn an_open_alert_resolves_once_its_series_is_back_to_normal() {
        let r = reconcile(&[open("a", AlertKind::Rejects)], &evaluated(&["a"]), vec![]);
        assert_eq!(r.resolved, vec![open("a", AlertKind::Rejects)]);
        let after = reconcile(&[], &evaluated(&["a"]), vec![]);
        assert_eq!(after, Reconciled::default(), "nothing left to resolve");
    }

    #[test]
    fn a_series_missing_from_the_run_keeps_its_alert_open() {
        let r = reconcile(&[open("gone", AlertKind::Quiet)], &evaluated(&["a"]), vec![]);
        assert!(r.resolved.is_empty());
    }

    #[test]
    fn one_series_can_hold_two_alerts_that_resolve_separately() {
        let alerts = [open("a", AlertKind::Rejects), open("a", AlertKind::VolumeDrop)];
        let r = reconcile(&alerts, &evaluated(&["a"]), vec![finding("a", AlertKind::Rejects)]);
        assert_eq!(r.resolved, vec![open("a", AlertKind::VolumeDrop)]);
        assert_eq!(r.still_open, vec![("a".to_owned(), AlertKind::Rejects)]);
    }
}
