//! `landfall.feed_alerts`: one row per alert, open until its series is
//! back to normal, then resolved and kept as history. The monitor reads the
//! feed's open alerts, reconciles them with its findings
//! ([`reconcile`](super::reconcile)) and applies the result with the
//! statements here, in one transaction.

use chrono::{DateTime, Utc};

use crate::lineage::LEDGER_SCHEMA;
use crate::monitor::evaluate::{AlertKind, OpenAlert, Reconciled};
use crate::warehouse::sql::{Dialect, MAX_VARCHAR, TableName};

pub(crate) const FEED_ALERTS_TABLE: &str = "feed_alerts";

impl TableName {
    pub fn feed_alerts() -> Self {
        TableName::new(LEDGER_SCHEMA, FEED_ALERTS_TABLE)
    }
}

impl AlertKind {
    /// The kind as `feed_alerts.kind` holds it; `None` for a value landfall never writes.
    pub fn parse(text: &str) -> Option<AlertKind> {
        [AlertKind::Quiet, AlertKind::LowVolume, AlertKind::VolumeDrop, AlertKind::Rejects]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// An open-alerts row the monitor cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("feed_alerts row {row}: {message}")]
pub struct BadAlertRow {
    pub row: usize,
    pub message: String,
}

fn at(d: Dialect, t: DateTime<Utc>) -> String {
    d.timestamptz_literal(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

impl Dialect {
    /// The alerts table (PostgreSQL: one open alert per feed, series and kind,
    /// enforced, so two monitor runs racing cannot open it twice).
    pub fn create_feed_alerts(self) -> Vec<String> {
        let t = TableName::feed_alerts();
        let mut out = vec![format!(
            "CREATE TABLE IF NOT EXISTS {t} (\n  feed varchar(256) NOT NULL,\n  dims varchar({MAX_VARCHAR}) NOT NULL,\n  \
             kind varchar(32) NOT NULL,\n  state varchar(16) NOT NULL,\n  detail varchar(4096) NOT NULL,\n  \
             first_seen timestamptz NOT NULL,\n  last_seen timestamptz NOT NULL,\n  resolved_at timestamptz\n)"
        )];
        if self == Dialect::Postgres {
            out.push(format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS feed_alerts_open ON {t} (feed, kind, md5(dims)) WHERE state = 'open'"
            ));
        }
        out
    }

    /// The feed's open alerts: dims, kind, first seen (epoch seconds).
    pub fn select_open_alerts(self, feed: &str) -> String {
        format!(
            "SELECT dims, kind, EXTRACT(EPOCH FROM first_seen) FROM {} WHERE feed = {} AND state = 'open' ORDER BY dims, kind",
            TableName::feed_alerts(),
            self.literal(feed)
        )
    }

    /// What a run changes, as statements for one transaction: opened alerts
    /// inserted (unless already open), found-again ones touched, resolved
    /// ones closed.
    pub fn apply_reconciled(self, feed: &str, r: &Reconciled, now: DateTime<Utc>) -> Vec<String> {
        let t = TableName::feed_alerts();
        let feed_lit = self.literal(feed);
        let now = at(self, now);
        let key = |dims: &str, kind: AlertKind| {
            format!("(dims = {} AND kind = {})", self.literal(dims), self.literal(kind.as_str()))
        };
        let mut out = Vec::new();
        for f in &r.opened {
            let detail: String = f.detail.chars().take(4096).collect();
            out.push(format!(
                "INSERT INTO {t} (feed, dims, kind, state, detail, first_seen, last_seen, resolved_at) \
                 SELECT {feed_lit}, {dims}, {kind}, 'open', {detail}, {now}, {now}, NULL \
                 WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE feed = {feed_lit} AND state = 'open' AND {k})",
                dims = self.literal(&f.dims),
                kind = self.literal(f.kind.as_str()),
                detail = self.literal(&detail),
                k = key(&f.dims, f.kind),
            ));
        }
        let update = |pairs: Vec<String>, set: &str| {
            format!("UPDATE {t} SET {set} WHERE feed = {feed_lit} AND state = 'open' AND ({})", pairs.join(" OR "))
        };
        if !r.still_open.is_empty() {
            let pairs = r.still_open.iter().map(|(d, k)| key(d, *k)).collect();
            out.push(update(pairs, &format!("last_seen = {now}")));
        }
        if !r.resolved.is_empty() {
            let pairs = r.resolved.iter().map(|a| key(&a.dims, a.kind)).collect();
            out.push(update(pairs, &format!("state = 'resolved', resolved_at = {now}, last_seen = {now}")));
        }
        out
    }
}

/// The open-alerts query's rows.
pub fn parse_open_alerts(rows: &[Vec<Option<String>>]) -> Result<Vec<OpenAlert>, BadAlertRow> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let bad = |message: String| BadAlertRow { row: i, message };
            let text = |c: usize| row.get(c).cloned().flatten().ok_or_else(|| bad(format!("column {c} is missing")));
            let kind_text = text(1)?;
            let kind = AlertKind::parse(&kind_text).ok_or_else(|| bad(format!("unknown kind {kind_text:?}")))?;
            let epoch = text(2)?;
            let seconds: f64 = epoch.parse().map_err(|e| bad(format!("first_seen {epoch:?}: {e}")))?;
            let first_seen = DateTime::from_timestamp_micros((seconds * 1e6).round() as i64)
                .ok_or_else(|| bad(format!("first_seen {epoch} is out of range")))?;
            Ok(OpenAlert { dims: text(0)?, kind, first_seen })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Finding;
    use chrono::TimeZone;

    #[test]
    fn every_kind_reads_back_and_an_unknown_one_is_refused() {
        for k in [AlertKind::Quiet, AlertKind::LowVolume, AlertKind::VolumeDrop, AlertKind::Rejects] {
            assert_eq!(AlertKind::parse(k.as_str()), Some(k));
        }
        let rows = vec![vec![Some("a".into()), Some("late".into()), Some("0".into())]];
        assert!(parse_open_alerts(&rows).unwrap_err().message.contains("unknown kind"));
    }

    #[test]
    fn a_run_without_changes_writes_nothing() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        assert!(Dialect::Postgres.apply_reconciled("f", &Reconciled::default(), now).is_empty());
    }

    #[test]
    fn an_opened_alert_is_inserted_only_if_none_is_open_for_its_series_and_kind() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let r = Reconciled {
            opened: vec![Finding { dims: "partner_id=o'hara".into(), kind: AlertKind::Quiet, detail: "x".into() }],
            ..Reconciled::default()
        };
        let sql = Dialect::Redshift.apply_reconciled("f", &r, now);
        assert_eq!(sql.len(), 1);
        assert!(sql[0].contains("WHERE NOT EXISTS"), "{}", sql[0]);
        assert!(sql[0].contains("'partner_id=o''hara'"), "{}", sql[0]);
    }
}
