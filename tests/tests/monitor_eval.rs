//! The monitor's evaluation on the local stack's real PostgreSQL: a week of
//! hourly `landfall.feed_stats` for 50 partners, read with the one query per
//! feed, evaluated and reconciled with the open alerts. One partner stops,
//! one halves, one sends 10% rejects: exactly three alerts, each resolved
//! once its data is back.
//!
//! Needs the local stack: `infra/stack up` (the README's test command does it).

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use landfall::config::Expectations;
use landfall::monitor::{AlertKind, OpenAlert, evaluate, reconcile};
use landfall::warehouse::Dialect;
use landfall::warehouse::bookkeeping::feed_alerts::parse_open_alerts;
use landfall::warehouse::bookkeeping::feed_series::{parse_series, window};
use landfall::warehouse::postgres::text_rows;
use landfall_infra::LocalStack;

const FEED: &str = "monitor_scenario";
/// The alerts test's own feed (the tests run at once).
const ALERTS_FEED: &str = "monitor_alerts";

fn expect() -> Expectations {
    Expectations {
        every: Some(Duration::from_secs(3600)),
        min_rows: None,
        max_reject_ratio: Some(0.02),
        volume_drop: Some(0.5),
    }
}

async fn client() -> tokio_postgres::Client {
    let stack = LocalStack::discover().unwrap_or_else(|e| panic!("{e}"));
    let client = landfall_tests::warehouse(&stack).await;
    let d = Dialect::Postgres;
    let mut ddl = vec!["BEGIN; SELECT pg_advisory_xact_lock(7)".to_owned(), d.create_schema("landfall")];
    ddl.extend(d.create_feed_stats());
    ddl.extend(d.create_feed_alerts());
    ddl.push("COMMIT".into());
    for s in ddl {
        client.batch_execute(&s).await.unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }
    client
}

/// One stats row per partner and hour, loaded 10 minutes before each of
/// `hours` hours ending at `now`: 100 rows, unless `odd` says otherwise:
/// (partner, hours back, rows, rejected), a negative row count for no file.
async fn hourly(
    client: &tokio_postgres::Client,
    feed: &str,
    now: DateTime<Utc>,
    hours: std::ops::Range<i64>,
    odd: &[(i64, i64, i64, i64)],
) {
    let odd = if odd.is_empty() {
        "(NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint)".to_owned()
    } else {
        odd.iter().map(|(p, h, r, x)| format!("({p}, {h}, {r}, {x})")).collect::<Vec<_>>().join(", ")
    };
    let sql = format!(
        "INSERT INTO landfall.feed_stats (table_name, feed, dt, dims, rows_loaded, files, rows_rejected, first_event, \
         last_event, load_id, loaded_at) \
         SELECT 'public.{feed}', '{feed}', (t.at)::date, 'partner_id=p' || lpad(p::text, 2, '0'), \
                COALESCE(o.rows_loaded, 100), 1, COALESCE(o.rows_rejected, 0), NULL, NULL, 'L', t.at \
         FROM generate_series(0, 49) p CROSS JOIN generate_series({}, {}) h \
         CROSS JOIN LATERAL (SELECT TIMESTAMPTZ '{}' - (h * 3600 + 600) * INTERVAL '1 second' AS at) t \
         LEFT JOIN (VALUES {odd}) o(partner, back, rows_loaded, rows_rejected) ON o.partner = p AND o.back = h \
         WHERE o.rows_loaded IS NULL OR o.rows_loaded >= 0",
        hours.start,
        hours.end - 1,
        now.to_rfc3339(),
    );
    client.batch_execute(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// One monitor run: one query for the feed, then evaluation and reconciliation.
async fn run(
    client: &tokio_postgres::Client,
    feed: &str,
    now: DateTime<Utc>,
    open: &[OpenAlert],
) -> landfall::monitor::Reconciled {
    let sql = Dialect::Postgres.feed_series_query(feed, window(&expect()), now);
    let rows: Vec<Vec<Option<String>>> = text_rows(client, &sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    let series = parse_series(&rows).unwrap();
    assert_eq!(series.len(), 50, "every partner is a series");
    let evaluated: BTreeSet<String> = series.iter().map(|s| s.dims.clone()).collect();
    let findings = series.iter().flat_map(|s| evaluate(&expect(), now, s)).collect();
    reconcile(open, &evaluated, findings)
}

#[tokio::test]
async fn one_partner_stops_one_halves_one_sends_rejects_three_alerts_each_resolved_when_data_returns() {
    let client = client().await;
    client.batch_execute(&format!("DELETE FROM landfall.feed_stats WHERE feed = '{FEED}'")).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    // p00 sent nothing for the last two hours, p01 half its usual volume, p02 10% rejects.
    hourly(&client, FEED, now, 0..8 * 24, &[(0, 0, -1, 0), (0, 1, -1, 0), (1, 0, 50, 0), (2, 0, 90, 10)]).await;

    let first = run(&client, FEED, now, &[]).await;
    let mut opened: Vec<(String, AlertKind)> = first.opened.iter().map(|f| (f.dims.clone(), f.kind)).collect();
    opened.sort();
    assert_eq!(
        opened,
        vec![
            ("partner_id=p00".to_owned(), AlertKind::Quiet),
            ("partner_id=p01".to_owned(), AlertKind::VolumeDrop),
            ("partner_id=p02".to_owned(), AlertKind::Rejects),
        ]
    );
    let open: Vec<OpenAlert> =
        first.opened.iter().map(|f| OpenAlert { dims: f.dims.clone(), kind: f.kind, first_seen: now }).collect();

    // Fifteen minutes later nothing changed: the alerts stay open, none fires again.
    let again = run(&client, FEED, now + chrono::Duration::minutes(15), &open).await;
    assert!(again.opened.is_empty() && again.resolved.is_empty(), "{again:?}");
    assert_eq!(again.still_open.len(), 3);

    // An hour later every partner sent its usual file: all three resolve.
    let later = now + chrono::Duration::hours(1);
    hourly(&client, FEED, later, 0..1, &[]).await;
    let back = run(&client, FEED, later, &open).await;
    assert!(back.opened.is_empty(), "{:?}", back.opened);
    assert_eq!(back.resolved.len(), 3);
}

/// A run that records its result: open alerts read from feed_alerts, the
/// reconciliation applied in one transaction.
async fn recorded_run(
    client: &tokio_postgres::Client,
    feed: &str,
    now: DateTime<Utc>,
) -> landfall::monitor::Reconciled {
    let d = Dialect::Postgres;
    let sql = d.select_open_alerts(feed);
    let open = parse_open_alerts(&text_rows(client, &sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"))).unwrap();
    let r = run(client, feed, now, &open).await;
    let mut txn = vec!["BEGIN".to_owned()];
    txn.extend(d.apply_reconciled(feed, &r, now));
    txn.push("COMMIT".into());
    client.batch_execute(&txn.join(";\n")).await.unwrap_or_else(|e| panic!("{txn:?}: {e:?}"));
    r
}

#[tokio::test]
async fn feed_alerts_hold_each_alert_open_once_then_resolved_with_first_and_last_seen() {
    let client = client().await;
    let feed_rows = format!(
        "DELETE FROM landfall.feed_stats WHERE feed = '{ALERTS_FEED}'; DELETE FROM landfall.feed_alerts WHERE feed = '{ALERTS_FEED}'"
    );
    client.batch_execute(&feed_rows).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap();
    hourly(&client, ALERTS_FEED, now, 0..8 * 24, &[(0, 0, -1, 0), (0, 1, -1, 0), (2, 0, 90, 10)]).await;

    assert_eq!(recorded_run(&client, ALERTS_FEED, now).await.opened.len(), 2);
    let again = recorded_run(&client, ALERTS_FEED, now + chrono::Duration::minutes(15)).await;
    assert!(again.opened.is_empty(), "found again: not opened twice");
    let later = now + chrono::Duration::hours(1);
    hourly(&client, ALERTS_FEED, later, 0..1, &[]).await;
    assert_eq!(recorded_run(&client, ALERTS_FEED, later).await.resolved.len(), 2);

    let alerts = text_rows(
        &client,
        &format!(
            "SELECT dims, kind, state, first_seen::text, last_seen::text FROM landfall.feed_alerts \
             WHERE feed = '{ALERTS_FEED}' ORDER BY dims"
        ),
    )
    .await
    .unwrap();
    let alerts: Vec<Vec<String>> =
        alerts.into_iter().map(|r| r.into_iter().map(Option::unwrap_or_default).collect()).collect();
    assert_eq!(
        alerts,
        vec![
            vec!["partner_id=p00", "quiet", "resolved", "2026-12-02 12:00:00+00", "2026-12-02 13:00:00+00"],
            vec!["partner_id=p02", "rejects", "resolved", "2026-12-02 12:00:00+00", "2026-12-02 13:00:00+00"],
        ]
    );
}
