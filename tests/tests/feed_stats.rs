//! `landfall.feed_stats` end to end: monitored feeds (`monitor_by` in
//! `events/config/e2e.yaml`) loaded through parse-file and load-warehouse
//! into the local stack's PostgreSQL, the stats read back per partner.
//! Replays, duplicates and racing loaders add nothing twice.
//!
//! Needs the local stack: `infra/stack up` (the README's test command does it).

use landfall::lambda::Deadline;
use landfall_tests::Harness;

/// (dt, dims, rows, files, rejected, first event, last event), in order.
async fn stats(h: &Harness, table: &str) -> Vec<Vec<String>> {
    h.sql(&format!(
        "SELECT dt::text, dims, sum(rows_loaded)::text, sum(files)::text, sum(rows_rejected)::text, \
         min(first_event)::date::text, max(last_event)::date::text \
         FROM landfall.feed_stats WHERE table_name = 'public.{table}' GROUP BY dt, dims ORDER BY dt, dims"
    ))
    .await
    .into_iter()
    .map(|r| r.into_iter().map(|v| v.unwrap_or_else(|| "NULL".into())).collect())
    .collect()
}

fn row(values: [&str; 7]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// Partner p1's file: two rows on the 20th, one on the 21st, one bad amount.
const P1: &str = "partner_id,amount,day\np1,10,2026-11-20\np1,11,2026-11-20\np1,12,2026-11-21\np1,oops,2026-11-20\n";
/// Partner p2's file, and a row without a partner.
const P2: &str = "partner_id,amount,day\np2,20,2026-11-20\n,21,2026-11-20\n";

#[tokio::test]
async fn a_monitored_append_records_rows_files_rejects_and_event_times_per_partner_and_day() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_stats"]).await;
    h.ingest("e2e/stats/p1.csv", "wh_stats", P1).await;
    h.ingest("e2e/stats/p2.csv", "wh_stats", P2).await;

    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_stats").await, "5", "the append still lands every row");
    assert_eq!(
        stats(&h, "wh_stats").await,
        vec![
            // A file's rejects count on the group holding most of its rows.
            row(["2026-11-20", "partner_id", "1", "1", "0", "2026-11-20", "2026-11-20"]),
            row(["2026-11-20", "partner_id=p1", "2", "1", "1", "2026-11-20", "2026-11-20"]),
            row(["2026-11-20", "partner_id=p2", "1", "1", "0", "2026-11-20", "2026-11-20"]),
            row(["2026-11-21", "partner_id=p1", "1", "1", "0", "2026-11-21", "2026-11-21"]),
        ]
    );
}

#[tokio::test]
async fn a_replayed_manifest_and_the_same_bytes_dropped_again_add_no_stats() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_stats_replay"]).await;
    let m = h.ingest("e2e/stats-replay/replay.csv", "wh_stats_replay", P1).await;
    let before = stats(&h, "wh_stats_replay").await;
    assert_eq!(before.len(), 2);

    let keys = vec![(h.stack.curated_bucket.clone(), landfall::layout::manifest_key("wh_stats_replay", &m.file_id))];
    let outcome = h.functions.load_warehouse.load_manifests(&keys, Deadline::never()).await;
    assert_eq!(outcome.first_error(), None);
    h.ingest("e2e/stats-replay/replay.csv", "wh_stats_replay", P1).await;

    assert_eq!(stats(&h, "wh_stats_replay").await, before);
    assert_eq!(
        h.scalar("SELECT count(DISTINCT load_id) FROM landfall.feed_stats WHERE table_name = 'public.wh_stats_replay'")
            .await,
        "1"
    );
}

#[tokio::test]
async fn racing_loaders_record_each_files_stats_once() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_stats_race"]).await;
    h.put("e2e/stats-race/race-1.csv", P1).await;
    h.put("e2e/stats-race/race-2.csv", P2).await;
    h.drain_only(&["parse-file"]).await;
    let keys: Vec<(String, String)> = h
        .curated_keys("_manifests/wh_stats_race/")
        .await
        .into_iter()
        .map(|k| (h.stack.curated_bucket.clone(), k))
        .collect();
    assert_eq!(keys.len(), 2);

    h.race_three_loaders(&keys).await;
    h.drain().await;
    let totals = h
        .sql("SELECT sum(rows_loaded)::text, sum(files)::text, sum(rows_rejected)::text FROM landfall.feed_stats WHERE table_name = 'public.wh_stats_race'")
        .await;
    let totals: Vec<String> = totals[0].iter().map(|v| v.clone().unwrap_or_default()).collect();
    // 5 rows from 2 files, each file in the two (day, partner) groups it
    // spans: once each, not once per loader.
    assert_eq!(totals, vec!["5", "4", "1"]);
}

#[tokio::test]
async fn a_monitored_merge_counts_the_rows_it_received_per_partner_and_domain() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_stats_merge"]).await;
    h.ingest("e2e/stats-merge/a.csv", "wh_stats_merge", "id,partner_id,domain\n1,p1,a.com\n2,p1,a.com\n3,p2,b=c.org\n")
        .await;
    h.ingest("e2e/stats-merge/b.csv", "wh_stats_merge", "id,partner_id,domain\n1,p1,a.com\n").await;

    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_stats_merge").await, "3", "the merge keeps one row per id");
    let got: Vec<(String, String)> =
        stats(&h, "wh_stats_merge").await.into_iter().map(|r| (r[1].clone(), r[2].clone())).collect();
    assert_eq!(
        got,
        vec![
            ("partner_id=p1,domain=a.com".to_owned(), "3".to_owned()),
            ("partner_id=p2,domain=b%3Dc.org".to_owned(), "1".to_owned()),
        ]
    );
}
