//! Partner files that are merely unusual, dropped through the local stack
//! (parse-file, then load-warehouse into the stack's PostgreSQL): each gets
//! a recorded fate, and no file wedges its feed or moves values between
//! columns. The feeds are `e2e_hostile_*` in `events/config/e2e.yaml`.
//!
//! Needs the local stack: `infra/stack up` (the README's test command does it).

use landfall::layout;
use landfall::lineage::LEDGER_SCHEMA;
use landfall::manifest::FileStatus;
use landfall::warehouse::{Dialect, TableName};
use landfall_tests::Harness;

/// A table's rows, ledger and recorded column map forgotten, so each run starts from nothing.
async fn fresh(h: &Harness, table: &str) {
    h.reset_tables(&[table]).await;
    let key = layout::column_map_key(table);
    let _ = h.s3.delete_object().bucket(&h.stack.curated_bucket).key(&key).send().await;
    // An earlier run's failed loads of the table are not this run's.
    let d = Dialect::Postgres;
    h.sql(&format!("{}; {}", d.create_schema(LEDGER_SCHEMA), d.create_failures())).await;
    h.sql(&format!("DELETE FROM {} WHERE table_name = 'public.{table}'", TableName::failures())).await;
}

fn text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("NULL")
}

async fn statuses(h: &Harness, table: &str) -> Vec<(String, String)> {
    h.sql(&format!(
        "SELECT status, detail FROM landfall.load_ledger WHERE table_name = 'public.{table}' ORDER BY loaded_at, source_url"
    ))
    .await
    .iter()
    .map(|r| (text(&r[0]).to_owned(), text(&r[1]).to_owned()))
    .collect()
}

/// A survey question as a header: 69 bytes once normalised, past PostgreSQL's 63.
const QUESTION: &str = "How satisfied were you with the delivery of your order overall, 1 to 5?";

#[tokio::test]
async fn a_long_header_loads_into_a_fitted_column_and_a_later_file_lands_in_the_same_column() {
    let h = Harness::start_e2e().await;
    fresh(&h, "wh_hostile_names").await;
    let first = h.ingest("e2e/hostile-names/q1.csv", "wh_hostile_names", format!("id,\"{QUESTION}\"\n1,4\n")).await;
    let second = h.ingest("e2e/hostile-names/q2.csv", "wh_hostile_names", format!("\"{QUESTION}\",id\n5,2\n")).await;

    let column = first.schema.iter().find(|c| c.source_name == QUESTION).map(|c| c.name.clone()).unwrap();
    assert_eq!(column.len(), 63, "{column}");
    assert_eq!(second.schema.iter().find(|c| c.source_name == QUESTION).map(|c| &c.name), Some(&column));
    let rows = h.sql(&format!("SELECT id, \"{column}\" FROM public.wh_hostile_names ORDER BY id")).await;
    let rows: Vec<(&str, &str)> = rows.iter().map(|r| (text(&r[0]), text(&r[1]))).collect();
    assert_eq!(rows, vec![("1", "4"), ("2", "5")]);
    assert!(statuses(&h, "wh_hostile_names").await.iter().all(|(s, _)| s == "loaded"));
}

#[tokio::test]
async fn swapped_colliding_headers_land_in_the_same_columns_in_both_files() {
    let h = Harness::start_e2e().await;
    fresh(&h, "wh_hostile_names").await;
    h.ingest("e2e/hostile-names/p1.csv", "wh_hostile_names", "id,Phone,phone #\n1,HOME-1,MOBILE-1\n").await;
    h.ingest("e2e/hostile-names/p2.csv", "wh_hostile_names", "id,phone #,Phone\n2,MOBILE-2,HOME-2\n").await;

    let rows = h.sql("SELECT phone, phone_2 FROM public.wh_hostile_names ORDER BY id").await;
    let rows: Vec<(&str, &str)> = rows.iter().map(|r| (text(&r[0]), text(&r[1]))).collect();
    assert_eq!(rows, vec![("HOME-1", "MOBILE-1"), ("HOME-2", "MOBILE-2")]);
}

/// JSON records spell one key two ways (`Phone`, `phone `: both `phone`
/// once normalised), in one order in the first file and the other in the
/// second: the recorded map puts each spelling's values in its own column
/// in both files.
#[tokio::test]
async fn two_spellings_of_a_json_key_keep_their_columns_whatever_order_the_records_bring_them() {
    let h = Harness::start_e2e().await;
    fresh(&h, "wh_hostile_names").await;
    let first = "{\"id\": 1, \"phone \": \"MOBILE-1\"}\n{\"id\": 2, \"Phone\": \"HOME-2\"}\n";
    let second = "{\"id\": 3, \"Phone\": \"HOME-3\"}\n{\"id\": 4, \"phone \": \"MOBILE-4\"}\n";
    let m1 = h.ingest("e2e/hostile-names/j1.json", "wh_hostile_names", first).await;
    let m2 = h.ingest("e2e/hostile-names/j2.json", "wh_hostile_names", second).await;

    let column_of = |m: &landfall::manifest::Manifest, source: &str| {
        m.schema.iter().find(|c| c.source_name == source).map(|c| c.name.clone()).unwrap_or_default()
    };
    let (mobile, home) = (column_of(&m1, "phone "), column_of(&m1, "Phone"));
    assert_ne!(mobile, home);
    assert_eq!((column_of(&m2, "phone "), column_of(&m2, "Phone")), (mobile.clone(), home.clone()));
    let q = |c: &str| format!("SELECT {c} FROM public.wh_hostile_names WHERE {c} IS NOT NULL ORDER BY id");
    assert_eq!(h.column(&q(&mobile)).await, vec!["MOBILE-1", "MOBILE-4"]);
    assert_eq!(h.column(&q(&home)).await, vec!["HOME-2", "HOME-3"]);
}

#[tokio::test]
async fn a_header_that_cannot_be_mapped_without_guessing_refuses_its_file() {
    let h = Harness::start_e2e().await;
    fresh(&h, "wh_hostile_names").await;
    h.ingest("e2e/hostile-names/r1.csv", "wh_hostile_names", "id,Phone\n1,HOME-1\n").await;
    let m = h.ingest("e2e/hostile-names/r2.csv", "wh_hostile_names", "id,PHONE,phone #\n2,A,B\n").await;

    assert_eq!(m.status, FileStatus::Refused);
    assert!(m.error.as_deref().unwrap_or_default().contains("both map to column phone"), "{:?}", m.error);
    let ledger = statuses(&h, "wh_hostile_names").await;
    assert_eq!(ledger.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), vec!["loaded", "refused"]);
}

/// One row of booleans: a byte each, so 1,503 of them fit PostgreSQL's
/// 8,160-byte row (1,503 short strings do not: the next test).
fn wide_csv(prefix: &str, columns: usize) -> String {
    let header: Vec<String> = (0..columns).map(|i| format!("{prefix}{i}")).collect();
    format!("{}\n{}\n", header.join(","), vec!["true"; columns].join(","))
}

#[tokio::test]
async fn a_file_past_the_column_limit_is_refused_and_a_normal_file_of_the_feed_loads_after_it() {
    let h = Harness::start_e2e().await;
    fresh(&h, "wh_hostile_wide").await;
    h.ingest("e2e/hostile-wide/1503.csv", "wh_hostile_wide", wide_csv("a", 1503)).await;
    h.ingest("e2e/hostile-wide/200-more.csv", "wh_hostile_wide", wide_csv("b", 200)).await;
    let alone = h.ingest("e2e/hostile-wide/1700.csv", "wh_hostile_wide", wide_csv("c", 1700)).await;
    h.ingest("e2e/hostile-wide/normal.csv", "wh_hostile_wide", "a0,a1\nfalse,true\n").await;

    assert_eq!(alone.status, FileStatus::Refused, "{:?}", alone.error);
    let ledger = statuses(&h, "wh_hostile_wide").await;
    let states: Vec<&str> = ledger.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(states, vec!["loaded", "refused", "refused", "loaded"]);
    assert!(ledger[1].1.contains("200 new columns"), "{}", ledger[1].1);
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_hostile_wide").await, "2");
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_hostile_wide WHERE NOT a0").await, "1");
    let failed = h.scalar("SELECT count(*) FROM landfall.failures WHERE table_name = 'public.wh_hostile_wide'");
    assert_eq!(failed.await, "0", "no load of the feed failed");
}

/// 1,200 short strings (13 KB) in one row, more than a PostgreSQL page
/// holds: that row is rejected with its line and why, the file's narrow
/// rows load, and nothing is dead-lettered.
#[tokio::test]
async fn a_row_wider_than_a_postgresql_page_is_rejected_and_the_rest_of_its_file_loads() {
    let h = Harness::start_e2e().await;
    fresh(&h, "wh_hostile_wide").await;
    let header: Vec<String> = (0..1200).map(|i| format!("w{i}")).collect();
    let full = vec!["abcdefghij"; 1200].join(",");
    let narrow = |v: &str| format!("{v}{}", ",".repeat(1199));
    let csv = format!("{}\n{}\n{full}\n{}\n", header.join(","), narrow("one"), narrow("three"));
    h.ingest("e2e/hostile-wide/too-wide.csv", "wh_hostile_wide", csv).await;

    let ledger = statuses(&h, "wh_hostile_wide").await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(h.column("SELECT w0 FROM public.wh_hostile_wide ORDER BY _landfall_row").await, vec!["one", "three"]);
    let detail: serde_json::Value = serde_json::from_str(&ledger[0].1).unwrap_or_default();
    let rejects = h.rejects(detail["load_rejects"].as_str().unwrap_or_default()).await;
    assert_eq!(rejects.iter().map(|r| r.line).collect::<Vec<_>>(), vec![Some(3)], "{detail}");
    assert!(rejects[0].reason.contains("row is too big for PostgreSQL"), "{}", rejects[0].reason);
    let failed = h.scalar("SELECT count(*) FROM landfall.failures WHERE table_name = 'public.wh_hostile_wide'");
    assert_eq!(failed.await, "0", "the load did not fail");
}

#[tokio::test]
async fn a_file_under_a_1019_byte_key_loads_its_rows() {
    let h = Harness::start_e2e().await;
    fresh(&h, "wh_hostile_values").await;
    let prefix = "e2e/hostile-values/";
    let key = format!("{prefix}{}.csv", "k".repeat(1019 - prefix.len() - 4));
    assert_eq!(key.len(), 1019);
    h.ingest(&key, "wh_hostile_values", "id,name\n1,x\n2,y\n").await;

    let url = format!("s3://{}/{key}", h.stack.landing_bucket);
    let files = h.column("SELECT _landfall_file FROM public.wh_hostile_values").await;
    assert_eq!(files, vec![url.clone(), url]);
}

#[tokio::test]
async fn a_csv_with_nul_bytes_in_3_of_20_rows_loads_17_and_rejects_3() {
    let h = Harness::start_e2e().await;
    fresh(&h, "wh_hostile_values").await;
    let mut csv = String::from("id,name\n");
    for i in 0..20 {
        let name = if i % 7 == 3 { format!("pad\0{i}") } else { format!("name{i}") };
        csv.push_str(&format!("{i},{name}\n"));
    }
    let m = h.ingest("e2e/hostile-values/nul.csv", "wh_hostile_values", csv).await;

    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 17, 3));
    assert_eq!(h.scalar("SELECT count(*) FROM public.wh_hostile_values").await, "17");
    let rejects = h.rejects(m.rejects_key.as_deref().unwrap_or_default()).await;
    let lines: Vec<Option<u64>> = rejects.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![Some(5), Some(12), Some(19)]);
    assert!(rejects.iter().all(|r| r.column.as_deref() == Some("name") && r.reason.contains("NUL byte")));
}
