//! The config's validation, line numbers and defaults.

use super::*;

const GOOD: &str = r#"
version: 1
feeds:
  orders:
    prefix: orders/
    table: Sales Orders
    format: csv
    csv: { delimiter: ";", header: true }
    encoding: windows-1252
    schema:
      - { name: order_id, type: int64, nullable: false }
      - { name: amount, type: "decimal(12,2)" }
      - { name: ordered_at, type: timestamptz }
    primary_key: [order_id]
    partition_column: ordered_at
    write_disposition: merge
  clicks:
    prefix: clicks/
  clicks_partner:
    prefix: clicks/partner-a/
    format: json
"#;

#[test]
fn a_valid_file_yields_normalised_feeds() {
    let cfg = Config::from_yaml(GOOD, "landfall.yaml").unwrap();
    let orders = cfg.feed("orders").unwrap();
    assert_eq!(orders.table, "sales_orders");
    assert_eq!(orders.read.csv.delimiter, Some(b';'));
    assert_eq!(orders.primary_key, vec!["order_id"]);
    assert_eq!(orders.partition_column.as_deref(), Some("ordered_at"));
    assert_eq!(orders.write_disposition, WriteDisposition::Merge);
    assert_eq!(orders.declared.len(), 3);
    assert_eq!(orders.line, 5, "the first line of the feed's definition");
    assert_eq!(cfg.feed("clicks").unwrap().table, "clicks");
}

#[test]
fn the_longest_prefix_wins() {
    let cfg = Config::from_yaml(GOOD, "x").unwrap();
    assert_eq!(cfg.feed_for_key("clicks/partner-a/1.json").unwrap().name, "clicks_partner");
    assert_eq!(cfg.feed_for_key("clicks/2026/1.json").unwrap().name, "clicks");
    assert!(cfg.feed_for_key("unknown/1.csv").is_none());
}

#[test]
fn the_warehouse_section_names_driver_url_secret_and_schema() {
    let yaml = "feeds: {}\nwarehouse:\n  driver: postgres\n  url: postgres://loader@db:5432/dw?sslmode=require\n  password_secret: prod/dw\n  schema: Raw Data\n";
    let cfg = Config::from_yaml(yaml, "x").unwrap();
    assert_eq!(cfg.warehouse.url.as_deref(), Some("postgres://loader@db:5432/dw?sslmode=require"));
    assert_eq!(cfg.warehouse.password_secret.as_deref(), Some("prod/dw"));
    assert_eq!(cfg.warehouse.schema, "raw_data");
    assert_eq!(Config::from_yaml("feeds: {}", "x").unwrap().warehouse, WarehouseConfig::default());
}

#[test]
fn a_password_in_the_warehouse_url_is_refused() {
    let e = err("warehouse:\n  driver: postgres\n  url: postgres://u:hunter2@db/dw\n");
    assert!(e.contains("carries a password"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    let e = err("warehouse:\n  driver: postgres\n  url: host=db user=u password=hunter2\n");
    assert!(e.contains("carries a password") && !e.contains("hunter2"), "{e}");
}

#[test]
fn driver_redshift_names_a_workgroup_database_and_copy_role() {
    let yaml = "feeds: {}\nwarehouse:\n  driver: redshift\n  workgroup: analytics\n  database: dev\n  copy_role_arn: arn:aws:iam::123456789012:role/copy\n";
    let cfg = Config::from_yaml(yaml, "x").unwrap();
    assert_eq!(cfg.warehouse.driver, WarehouseDriver::Redshift);
    let rs = cfg.warehouse.redshift.unwrap();
    assert_eq!(rs.endpoint, RedshiftEndpoint::Workgroup("analytics".into()));
    assert_eq!(rs.database, "dev");
    assert_eq!(rs.secret_arn, None);
}

#[test]
fn driver_redshift_settings_are_checked() {
    let base = "warehouse:\n  driver: redshift\n  database: dev\n  copy_role_arn: arn:aws:iam::1:role/c\n";
    assert!(err(base).contains("exactly one of warehouse.workgroup"));
    assert!(err(&format!("{base}  workgroup: w\n  cluster: c\n")).contains("exactly one"));
    assert!(err(&format!("{base}  cluster: c\n")).contains("needs warehouse.secret_arn or warehouse.db_user"));
    assert!(err(&format!("{base}  workgroup: w\n  url: postgres://a@b/c\n")).contains("belongs to driver: postgres"));
    let no_role = "warehouse:\n  driver: redshift\n  workgroup: w\n  database: dev\n";
    assert!(err(no_role).contains("copy_role_arn"));
    assert!(err("warehouse:\n  driver: postgres\n  workgroup: w\n").contains("belongs to driver: redshift"));
}

#[test]
fn an_export_whose_query_ends_in_a_limit_is_refused_on_redshift_only() {
    let jobs = "jobs:\n  top:\n    kind: export\n    schedule: rate(1 day)\n    sql: SELECT * FROM t ORDER BY n DESC LIMIT 10\n";
    let redshift = format!(
        "warehouse:\n  driver: redshift\n  workgroup: w\n  database: dev\n  copy_role_arn: arn:aws:iam::1:role/c\n{jobs}"
    );
    let e = err(&redshift);
    assert!(e.contains("landfall.yaml:8") && e.contains("\"top\"") && e.contains("LIMIT"), "{e}");
    assert!(Config::from_yaml(&format!("warehouse:\n  driver: postgres\n{jobs}"), "x").is_ok());
}

#[test]
fn redshift_table_hints_name_feed_columns() {
    let yaml = "feeds:\n  clicks:\n    prefix: c/\n    distkey: User Id\n    sortkey: [dt, Event Time]\n";
    let feed = &Config::from_yaml(yaml, "x").unwrap().feeds[0];
    assert_eq!(feed.distkey.as_deref(), Some("user_id"));
    assert_eq!(feed.sortkey, vec!["dt".to_owned(), "event_time".to_owned()]);
}

fn err(yaml: &str) -> String {
    Config::from_yaml(yaml, "landfall.yaml").unwrap_err().to_string()
}

#[test]
fn a_syntax_error_names_its_line() {
    let e = err("feeds:\n  orders:\n    prefix: [unclosed\n");
    assert!(e.starts_with("landfall.yaml:"), "{e}");
    assert!(e.contains(":3:") || e.contains(":4:"), "{e}");
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let e = err("feeds:\n  orders:\n    prefix: orders/\n    primery_key: [id]\n");
    assert!(e.contains("landfall.yaml:4"), "{e}");
    assert!(e.contains("primery_key"), "{e}");
}

#[test]
fn a_wrong_type_is_refused_with_its_line() {
    let e = err("feeds:\n  orders:\n    prefix: orders/\n    csv:\n      header: maybe\n");
    assert!(e.contains("landfall.yaml:5"), "{e}");
}

#[test]
fn oversize_is_reject_unless_the_feed_says_truncate_and_anything_else_is_refused_with_its_line() {
    let yaml = "feeds:\n  a:\n    prefix: a/\n  b:\n    prefix: b/\n    oversize: truncate\n";
    let cfg = Config::from_yaml(yaml, "landfall.yaml").unwrap();
    let oversize: Vec<Oversize> = cfg.feeds.iter().map(|f| f.oversize).collect();
    assert_eq!(oversize, vec![Oversize::Reject, Oversize::Truncate]);
    let e = err("feeds:\n  a:\n    prefix: a/\n    oversize: json\n");
    assert!(e.contains("landfall.yaml:4") && e.contains("reject") && e.contains("truncate"), "{e}");
}

/// 69 bytes: PostgreSQL keeps 63, Redshift 127.
const LONG: &str = "how_satisfied_were_you_with_the_delivery_of_your_order_overall_1_to_5";

#[test]
fn a_config_name_past_the_warehouses_limit_is_refused_with_its_line_and_the_fitted_name() {
    let column = format!(
        "feeds:\n  a:\n    prefix: a/\n  b:\n    prefix: b/\n    schema:\n      - {{ name: {LONG}, type: int64 }}\n"
    );
    let e = err(&column);
    assert!(e.starts_with("landfall.yaml:5: feed \"b\": declared column"), "{e}");
    let fitted = crate::schema::fit_identifier(LONG, 63);
    assert!(e.contains("69 bytes") && e.contains(&format!("{fitted:?}")), "{e}");
    let table = format!("feeds:\n  a:\n    prefix: a/\n    table: {LONG}\n");
    assert!(err(&table).contains("table \"how_satisfied"), "{}", err(&table));
    let redshift = format!(
        "{column}warehouse:\n  driver: redshift\n  workgroup: wg\n  database: dev\n  copy_role_arn: arn:aws:iam::123456789012:role/copy\n"
    );
    assert!(Config::from_yaml(&redshift, "landfall.yaml").is_ok(), "Redshift keeps 127 bytes");
}

#[test]
fn semantic_errors_name_the_feed_and_its_line() {
    let e = err("feeds:\n  a:\n    prefix: x/\n  b:\n    prefix: y/\n    write_disposition: merge\n");
    assert_eq!(e, "landfall.yaml:5: feed \"b\": write_disposition merge needs a primary_key");
}

#[test]
fn duplicate_prefixes_are_refused() {
    let e = err("feeds:\n  a:\n    prefix: x/\n  b:\n    prefix: x/\n");
    assert!(e.contains("already used by feed \"a\""), "{e}");
}

#[test]
fn bad_values_are_explained() {
    for (yaml, needle) in [
        ("feeds:\n  a:\n    prefix: x/\n    encoding: klingon\n", "encoding \"klingon\" is unknown"),
        ("feeds:\n  a:\n    prefix: x/\n    csv: { delimiter: ';;' }\n", "one ASCII character"),
        ("feeds:\n  a:\n    prefix: x/\n    schema: [{name: a, type: blob}]\n", "type \"blob\" is unknown"),
        ("feeds:\n  a:\n    prefix: x/\n    schema: [{name: a, type: int64}]\n    primary_key: [b]\n", "not a column"),
        (
            "feeds:\n  a:\n    prefix: x/\n    schema: [{name: a, type: int64}]\n    partition_column: a\n",
            "has no date",
        ),
        ("feeds:\n  a:\n    prefix: /x/\n", "must not start with '/'"),
        ("feeds:\n  a:\n    prefix: x/\n    csv: { decimal_separator: ';' }\n", "must be \".\" or \",\""),
        ("feeds:\n  a:\n    prefix: x/\n    csv: { delimiter: ',', decimal_separator: ',' }\n", "another delimiter"),
        ("feeds:\n  a:\n    prefix: x/\n    format: xml\n", "xml"),
        ("version: 2\nfeeds: {}\n", "version 2"),
    ] {
        let e = err(yaml);
        assert!(e.contains(needle), "{yaml}: {e}");
    }
}

#[test]
fn sources_are_validated_with_their_line() {
    let feeds = "feeds:\n  mc:\n    prefix: api/mc/\nsources:\n";
    let ok = format!(
        "{feeds}  mailchimp:\n    feed: mc\n    base_url: https://x/3.0\n    paginator: {{ type: offset, offset_param: offset, limit_param: count, limit: 10, total_path: total_items }}\n"
    );
    let cfg = Config::from_yaml(&ok, "x").unwrap();
    assert_eq!(cfg.source("mailchimp").unwrap().line, 6, "the first line of the source's definition");
    for (src, needle) in [
        (
            "  s:\n    feed: nope\n    base_url: https://x\n",
            "landfall.yaml:6: source \"s\": feed \"nope\" is not a configured feed",
        ),
        ("  s:\n    feed: mc\n    base_url: https://x\n    paginator: { type: telepathy }\n", "landfall.yaml:8"),
        (
            "  s:\n    feed: mc\n    base_url: https://x\n    query: { since: \"{yesterday}\" }\n",
            "{yesterday} is not a template variable",
        ),
        ("  s:\n    feed: mc\n    base_url: https://x\n    auth: { type: bearer }\n", "token_secret"),
        (
            "  s:\n    feed: mc\n    base_url: https://x\n    headers: { Authorization: Bearer abc }\n",
            "must not set Authorization",
        ),
        (
            "  s:\n    feed: mc\n    base_url: https://x\n    auth: { type: api_key, secret: k }\n",
            "exactly one of header",
        ),
    ] {
        let e = err(&format!("{feeds}{src}"));
        assert!(e.contains(needle), "{src}: {e}");
    }
}

#[test]
fn database_sources_share_sources_with_http_ones_and_keep_their_lines() {
    let feeds = "feeds:\n  mc:\n    prefix: api/mc/\n  orders:\n    prefix: db/orders/\nsources:\n";
    let ok = format!(
        "{feeds}  mailchimp:\n    kind: http\n    feed: mc\n    base_url: https://x/3.0\n  shop:\n    kind: mysql\n    feed: orders\n    url: mysql://reader@db/shop\n    table: orders\n    cursor: {{ column: updated_at, key: [id] }}\n"
    );
    let cfg = Config::from_yaml(&ok, "x").unwrap();
    assert_eq!(cfg.source("mailchimp").unwrap().feed, "mc");
    let shop = cfg.database("shop").unwrap();
    assert_eq!((shop.kind, shop.line), (crate::fetch::DatabaseKind::Mysql, 12));
    let typo = format!(
        "{feeds}  shop:\n    kind: postgres\n    feed: orders\n    url: postgres://r@db/shop\n    table: orders\n    cursor: {{ column: updated_at, keys: [id] }}\n"
    );
    assert!(err(&typo).contains("landfall.yaml:12:"), "{}", err(&typo));
    let unknown = format!("{feeds}  shop:\n    kind: oracle\n    feed: orders\n");
    assert!(err(&unknown).contains("oracle"), "{}", err(&unknown));
}

#[test]
fn the_shipped_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/landfall.yaml");
    let cfg = Config::from_path(&path).unwrap();
    assert!(!cfg.feeds.is_empty());
}
