//! The staged load's SQL (the plan the Redshift driver runs) in its
//! PostgreSQL dialect, on the local stack's real PostgreSQL: the ledger
//! filter, the null-key rejects, the three dispositions and the ledger's
//! counts are proven on a real engine. Only COPY differs on Redshift (the
//! raw tables are filled here by INSERT); its text is pinned by the golden
//! files in `events/redshift/`.
//!
//! Needs the local stack: `infra/stack up` (the README's test command does it).

use landfall::config::WriteDisposition;
use landfall::warehouse::LedgerRow;
use landfall::warehouse::redshift::plan::{RawGroup, StagedLoad};
use landfall::warehouse::sql::{Dialect, SqlType, TableName};
use landfall::warehouse::{FeedRules, LedgerStatus, StatsRules};
use landfall_infra::LocalStack;

const LOADED_AT: &str = "2026-11-22T10:00:00Z";

fn file(n: u32, parse_rejected: u64) -> LedgerRow {
    LedgerRow {
        file_id: format!("staged-file-{n}"),
        source_url: format!("s3://landing/staged/{n}.csv"),
        seq: n,
        feed: "staged".into(),
        etag: Some(format!("e{n}")),
        manifest_key: format!("_manifests/staged/{n}.json"),
        status: LedgerStatus::Loaded,
        rows_rejected_at_parse: parse_rejected,
        detail: "{}".into(),
    }
}

fn columns() -> Vec<(String, SqlType)> {
    vec![
        ("id".to_owned(), SqlType::BigInt),
        ("amount".to_owned(), SqlType::Numeric { precision: 18, scale: 2 }),
        ("attrs".to_owned(), SqlType::Json),
    ]
}

/// One raw group per file, shaped as its Parquet part: (id, amount as
/// bigint, attrs as text, lineage).
fn groups(dt: &str, files: usize) -> Vec<RawGroup> {
    (0..files)
        .map(|_| RawGroup {
            columns: vec![
                ("id".into(), SqlType::BigInt),
                ("amount".into(), SqlType::BigInt),
                ("attrs".into(), SqlType::Varchar(65535)),
                ("_landfall_file".into(), SqlType::Varchar(65535)),
                ("_landfall_row".into(), SqlType::BigInt),
            ],
            dt: dt.into(),
            manifest_url: String::new(),
        })
        .collect()
}

struct Db {
    client: tokio_postgres::Client,
}

impl Db {
    async fn connect() -> Db {
        let stack = LocalStack::discover().unwrap_or_else(|e| panic!("{e}"));
        Db { client: landfall_tests::warehouse(&stack).await }
    }

    async fn exec(&self, sql: &str) {
        self.client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let msgs = self.client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        msgs.into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).unwrap_or("NULL").to_owned()).collect())
                }
                _ => None,
            })
            .collect()
    }

    /// A fresh target and no ledger or rejects rows for it.
    async fn reset(&self, target: &TableName, rules: &FeedRules) {
        let d = Dialect::Postgres;
        // The tests run at once; concurrent CREATE ... IF NOT EXISTS can collide in PostgreSQL's catalog.
        self.exec("BEGIN; SELECT pg_advisory_xact_lock(7)").await;
        for s in [d.create_schema("landfall"), d.create_ledger(), d.create_load_rejects()] {
            self.exec(&s).await;
        }
        for s in d.create_feed_stats() {
            self.exec(&s).await;
        }
        self.exec("COMMIT").await;
        self.exec(&format!("DROP TABLE IF EXISTS {target}")).await;
        self.exec(&d.create_table_keyed(target, &columns(), rules)).await;
        let name = d.literal(&target.plain());
        self.exec(&format!("DELETE FROM landfall.load_ledger WHERE table_name = {name}")).await;
        self.exec(&format!("DELETE FROM landfall.load_rejects WHERE table_name = {name}")).await;
        self.exec(&format!("DELETE FROM landfall.feed_stats WHERE table_name = {name}")).await;
    }

    /// Runs the whole plan in one transaction, each raw table filled with
    /// `raw_rows[i]` (`(id, amount, attrs)`; `None` id for a null key).
    async fn load(&self, staged: &StagedLoad<'_>, raw_rows: &[Vec<(Option<i64>, i64, &str)>]) {
        let d = Dialect::Postgres;
        self.exec("BEGIN").await;
        for s in staged.setup_statements(d) {
            self.exec(&s).await;
        }
        for (i, group) in staged.groups.iter().enumerate() {
            let statements = staged.group_statements(d, i, group);
            let (create, rest) = statements.split_first().unwrap();
            self.exec(create).await;
            let url = &staged.files[i].source_url;
            for (row, (id, amount, attrs)) in raw_rows[i].iter().enumerate() {
                let id = id.map_or("NULL".to_owned(), |v| v.to_string());
                self.exec(&format!(
                    "INSERT INTO landfall_raw_{i} VALUES ({id}, {amount}, {}, {}, {})",
                    d.literal(attrs),
                    d.literal(url),
                    row + 2
                ))
                .await;
            }
            for s in rest {
                self.exec(s).await;
            }
        }
        for s in staged.apply_statements(d) {
            self.exec(&s).await;
        }
        self.exec("COMMIT").await;
    }
}

fn staged<'a>(
    target: &'a TableName,
    load_id: &'a str,
    columns: &'a [(String, SqlType)],
    files: &'a [LedgerRow],
    groups: &'a [RawGroup],
    rules: &'a FeedRules,
) -> StagedLoad<'a> {
    StagedLoad {
        target,
        feed: "orders",
        load_id,
        loaded_at: LOADED_AT,
        columns,
        files,
        groups,
        rules,
        copy_role_arn: "",
    }
}

#[tokio::test]
async fn an_append_loads_every_row_once_and_the_ledger_counts_them_per_file() {
    let db = Db::connect().await;
    let target = TableName::new("public", "staged_append");
    let rules = FeedRules::default();
    db.reset(&target, &rules).await;
    let (cols, files, groups) = (columns(), vec![file(0, 2), file(1, 0)], groups("2026-11-20", 2));
    let plan = staged(&target, "L-append", &cols, &files, &groups, &rules);
    let rows = [vec![(Some(1), 10, "{\"a\":1}"), (Some(2), 20, "[]")], vec![(Some(3), 30, "{}")]];
    db.load(&plan, &rows).await;
    // The same batch again (a duplicate delivery): the ledger filter leaves nothing to add.
    db.load(&plan, &rows).await;

    assert_eq!(db.rows("SELECT count(*) FROM staged_append").await, vec![vec!["3"]]);
    assert_eq!(
        db.rows("SELECT attrs->>'a', amount::text, dt::text FROM staged_append WHERE id = 1").await,
        vec![vec!["1", "10.00", "2026-11-20"]],
        "JSON text became jsonb, bigint became numeric, the group's dt was set"
    );
    assert_eq!(
        db.rows(
            "SELECT source_url, status, rows_loaded, rows_rejected, load_id FROM landfall.load_ledger \
             WHERE table_name = 'public.staged_append' ORDER BY source_url"
        )
        .await,
        vec![
            vec!["s3://landing/staged/0.csv", "loaded", "2", "2", "L-append"],
            vec!["s3://landing/staged/1.csv", "loaded", "1", "0", "L-append"],
        ]
    );
}

#[tokio::test]
async fn a_merge_keeps_the_latest_row_per_key_and_sets_aside_null_keys_with_their_line() {
    let db = Db::connect().await;
    let target = TableName::new("public", "staged_merge");
    let rules =
        FeedRules { disposition: WriteDisposition::Merge, primary_key: vec!["id".into()], ..FeedRules::default() };
    db.reset(&target, &rules).await;
    let cols = columns();
    let first = [file(0, 0)];
    let g1 = groups("2026-11-20", 1);
    db.load(&staged(&target, "L-m1", &cols, &first, &g1, &rules), &[vec![(Some(1), 10, "{}"), (Some(2), 20, "{}")]])
        .await;
    // The second batch: key 1 twice (the later file wins), a null key on line 3.
    let second = [file(1, 0), file(2, 0)];
    let g2 = groups("2026-11-21", 2);
    db.load(
        &staged(&target, "L-m2", &cols, &second, &g2, &rules),
        &[vec![(Some(1), 11, "{}"), (None, 99, "{}")], vec![(Some(1), 12, "{}"), (Some(3), 30, "{}")]],
    )
    .await;

    assert_eq!(
        db.rows("SELECT id::text, amount::text FROM staged_merge ORDER BY id").await,
        vec![vec!["1", "12.00"], vec!["2", "20.00"], vec!["3", "30.00"]]
    );
    assert_eq!(
        db.rows(
            "SELECT file_url, line::text, reason FROM landfall.load_rejects WHERE table_name = 'public.staged_merge'"
        )
        .await,
        vec![vec!["s3://landing/staged/1.csv", "3", "the merge key (id) is null"]]
    );
    assert_eq!(
        db.rows(
            "SELECT source_url, rows_loaded, rows_rejected FROM landfall.load_ledger \
             WHERE table_name = 'public.staged_merge' AND load_id = 'L-m2' ORDER BY source_url"
        )
        .await,
        vec![vec!["s3://landing/staged/1.csv", "1", "1"], vec!["s3://landing/staged/2.csv", "2", "0"]]
    );
}

#[tokio::test]
async fn a_replace_partition_replaces_only_the_batchs_partitions() {
    let db = Db::connect().await;
    let target = TableName::new("public", "staged_replace");
    let rules = FeedRules { disposition: WriteDisposition::ReplacePartition, ..FeedRules::default() };
    db.reset(&target, &rules).await;
    let cols = columns();
    let day1 = [file(0, 0)];
    let g_day1 = groups("2026-11-20", 1);
    db.load(&staged(&target, "L-r1", &cols, &day1, &g_day1, &rules), &[vec![(Some(1), 1, "{}"), (Some(2), 2, "{}")]])
        .await;
    let day2 = [file(1, 0)];
    let g_day2 = groups("2026-11-21", 1);
    db.load(&staged(&target, "L-r2", &cols, &day2, &g_day2, &rules), &[vec![(Some(5), 5, "{}")]]).await;
    // A corrected file for the first day replaces that day only.
    let again = [file(2, 0)];
    db.load(&staged(&target, "L-r3", &cols, &again, &g_day1, &rules), &[vec![(Some(9), 9, "{}")]]).await;

    assert_eq!(
        db.rows("SELECT dt::text, id::text FROM staged_replace ORDER BY dt, id").await,
        vec![vec!["2026-11-20", "9"], vec!["2026-11-21", "5"]]
    );
}

#[tokio::test]
async fn a_monitored_merge_records_stats_per_value_once_with_null_key_rejects_on_their_file() {
    let db = Db::connect().await;
    let target = TableName::new("public", "staged_stats");
    let rules = FeedRules {
        disposition: WriteDisposition::Merge,
        primary_key: vec!["id".into()],
        stats: Some(StatsRules { dims: vec!["attrs".into()], event_column: None }),
        ..FeedRules::default()
    };
    db.reset(&target, &rules).await;
    let (cols, files, groups) = (columns(), vec![file(0, 2), file(1, 0)], groups("2026-11-20", 2));
    let plan = staged(&target, "L-stats", &cols, &files, &groups, &rules);
    let rows = [
        vec![(Some(1), 10, "{\"p\":1}"), (Some(2), 20, "{\"p\":1}"), (Some(3), 30, "{\"p\":2}")],
        vec![(Some(4), 40, "{\"p\":2}"), (None, 50, "{\"p\":2}")],
    ];
    db.load(&plan, &rows).await;
    // A duplicate delivery of the batch: the ledger holds both files, so no stats either.
    db.load(&plan, &rows).await;

    assert_eq!(
        db.rows(
            "SELECT dims, rows_loaded::text, files::text, rows_rejected::text FROM landfall.feed_stats \
             WHERE table_name = 'public.staged_stats' ORDER BY dims"
        )
        .await,
        vec![
            // File 0's two parse rejects count where most of its rows are; file 1's null key on its only group.
            vec!["attrs={\"p\": 1}", "2", "1", "2"],
            vec!["attrs={\"p\": 2}", "2", "2", "1"],
        ]
    );
}
