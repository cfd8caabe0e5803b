//! Real files load as a person would expect: each fixture in
//! tests/fixtures/real/ is one case of what exporters write (R's `NA`, a
//! header that disagrees with its rows, rows no column takes), parsed through
//! the handler with an in-memory store; the manifest tells the outcome.

use std::sync::Arc;

use landfall::config::Config;
use landfall::events::ObjectCreated;
use landfall::manifest::{FileStatus, Manifest};
use landfall::schema::{DateOrder, LogicalType};
use landfall::storage::memory::MemoryStore;
use landfall::telemetry::Metrics;
use landfall::threads::Threads;
use parse_file::{Outcome, ParseFile, Settings};

const CONFIG: &str = "feeds:
  any:
    prefix: any/
  orders:
    prefix: orders/
    schema:
      - { name: order_id, type: int64 }
      - { name: amount, type: \"decimal(12,2)\" }
  strict_nulls:
    prefix: strict_nulls/
    csv: { null_values: [\"\", \"NA\"] }
  short_years:
    prefix: short_years/
    dates: { order: day_first, two_digit_years: true }
  geo:
    prefix: geo/
    json: { records: features }
  tweets:
    prefix: tweets/
    json: { records: .statuses. }
  accounts:
    prefix: accounts/
    json: { keyed_by: id }
  misnamed:
    prefix: misnamed/
    json: { records: items }
";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/real/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parses the fixture `name` landed under `prefix`; returns the manifest it wrote.
async fn parse(prefix: &str, name: &str) -> Manifest {
    let store = Arc::new(MemoryStore::default());
    let key = format!("{prefix}/{name}");
    store.insert("landing", &key, &fixture(name));
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_yaml(CONFIG, "test").unwrap();
    let settings =
        Settings { curated_bucket: "curated".into(), work_dir: dir.path().to_path_buf(), threads: Threads::One };
    let handler = ParseFile::new(Arc::clone(&store) as _, Arc::new(config), settings, Metrics::new("test"));
    let Outcome::Written { manifest_key, .. } = handler.process(&ObjectCreated::put("landing", &key)).await.unwrap()
    else {
        panic!("{key}: expected a manifest")
    };
    Manifest::from_json(&store.read("curated", &manifest_key).unwrap()).unwrap()
}

fn columns(m: &Manifest) -> Vec<(&str, LogicalType)> {
    m.schema.iter().map(|c| (c.name.as_str(), c.data_type)).collect()
}

#[tokio::test]
async fn na_is_missing_in_number_columns_and_a_country_code_in_text_ones() {
    let m = parse("any", "flights_na.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 5, 0));
    let int = LogicalType::Int64;
    assert_eq!(
        columns(&m),
        vec![
            ("year", int),
            ("month", int),
            ("day", int),
            ("dep_time", int),
            ("dep_delay", int),
            ("arr_delay", int),
            ("carrier", LogicalType::String),
            ("tailnum", LogicalType::String),
            ("air_time", int),
            ("origin_country", LogicalType::String),
        ]
    );
}

#[tokio::test]
async fn a_feed_that_lists_its_null_values_gets_exactly_those_in_every_column() {
    let by_default = parse("any", "nulls_mixed.csv").await;
    assert_eq!((by_default.status, by_default.rows), (FileStatus::Parsed, 3));
    assert_eq!(
        columns(&by_default),
        vec![("id", LogicalType::Int64), ("score", LogicalType::Int64), ("label", LogicalType::String)]
    );
    // `null_values: ["", "NA"]`: `NULL` is a value like any other, so the
    // scores are text.
    let listed = parse("strict_nulls", "nulls_mixed.csv").await;
    assert_eq!((listed.status, listed.rows), (FileStatus::Parsed, 3));
    assert_eq!(
        columns(&listed),
        vec![("id", LogicalType::Int64), ("score", LogicalType::String), ("label", LogicalType::String)]
    );
}

#[tokio::test]
async fn rows_wider_than_the_header_load_with_the_extra_column_named() {
    let m = parse("any", "header_short.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(
        columns(&m),
        vec![
            ("id", LogicalType::Int64),
            ("name", LogicalType::String),
            // Whole numbers beside decimals: room for an int64's 19 digits.
            ("amount", LogicalType::Decimal { precision: 38, scale: 2 }),
            ("column_4", LogicalType::Date),
        ]
    );
    let notes = m.input.map(|i| i.notes).unwrap_or_default();
    assert_eq!(
        notes,
        vec!["the header names 3 columns but the rows hold 4: the extra columns are named column_4".to_owned()]
    );
}

#[tokio::test]
async fn rows_narrower_than_the_header_load_without_the_names_they_lack() {
    let m = parse("any", "header_long.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(columns(&m).iter().map(|c| c.0).collect::<Vec<_>>(), vec!["id", "name", "amount"]);
    let notes = m.input.map(|i| i.notes).unwrap_or_default();
    assert!(notes[0].ends_with("left out (no data): currency, note"), "{notes:?}");
}

#[tokio::test]
async fn rows_that_agree_on_no_width_are_refused_with_the_reason() {
    let m = parse("any", "header_ragged.csv").await;
    assert_eq!((m.status, m.rows), (FileStatus::Refused, 0));
    assert!(m.parts.is_empty());
    let error = m.error.unwrap_or_default();
    assert!(error.contains("the header has 5 fields and the rows agree on no width"), "{error}");
    assert!(error.contains("cannot be aligned"), "{error}");
}

#[tokio::test]
async fn a_file_whose_every_row_was_rejected_is_refused_not_parsed() {
    let m = parse("orders", "all_rejected.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Refused, 0, 3));
    let error = m.error.unwrap_or_default();
    assert!(error.starts_with("all 3 rows were rejected (the first: value \"one\" is not a valid int64"), "{error}");
}

#[tokio::test]
async fn a_day_over_12_makes_a_column_of_day_first_dates() {
    let m = parse("any", "dates_day_first.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert!(columns(&m).contains(&("booked", LogicalType::Date)), "{:?}", columns(&m));
    let input = m.input.unwrap();
    assert_eq!(input.date_order, Some(DateOrder::DayFirst));
    assert_eq!(input.notes, vec!["booked: dates read day-first (28/01/2018 has a day over 12)".to_owned()]);
}

#[tokio::test]
async fn a_second_part_over_12_makes_a_column_of_month_first_dates() {
    let m = parse("any", "dates_month_first.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert!(columns(&m).contains(&("booked", LogicalType::Date)), "{:?}", columns(&m));
    assert_eq!(m.input.unwrap().date_order, Some(DateOrder::MonthFirst));
}

#[tokio::test]
async fn two_digit_years_stay_text_unless_the_feed_allows_them() {
    let m = parse("any", "dates_two_digit.csv").await;
    assert_eq!((m.status, m.rows), (FileStatus::Parsed, 2));
    assert!(columns(&m).contains(&("booked", LogicalType::String)), "{:?}", columns(&m));
    let m = parse("short_years", "dates_two_digit.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 2, 0));
    assert!(columns(&m).contains(&("booked", LogicalType::Date)), "{:?}", columns(&m));
}

/// The manifest's dialect: delimiter, quote, lines skipped before the header, a space skipped after each delimiter.
fn dialect(m: &Manifest) -> (Option<String>, Option<String>, Option<usize>, Option<bool>) {
    let i = m.input.clone().unwrap();
    (i.delimiter, i.quote, i.skip_rows, i.skip_initial_space)
}

#[tokio::test]
async fn a_space_after_each_comma_is_no_part_of_the_fields() {
    let m = parse("any", "dialect_comma_space.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(dialect(&m), (Some(",".into()), None, None, Some(true)));
    assert_eq!(
        columns(&m),
        vec![
            ("id", LogicalType::Int64),
            ("name", LogicalType::String),
            ("score", LogicalType::Decimal { precision: 38, scale: 2 })
        ]
    );
}

#[tokio::test]
async fn space_delimited_columns_are_found() {
    let m = parse("any", "dialect_space.txt").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(dialect(&m), (Some(" ".into()), None, None, None));
    assert_eq!(
        columns(&m),
        vec![
            ("name", LogicalType::String),
            ("age", LogicalType::Int64),
            ("height", LogicalType::Decimal { precision: 18, scale: 2 })
        ]
    );
}

#[tokio::test]
async fn single_quotes_hold_the_delimiter() {
    let m = parse("any", "dialect_single_quote.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(dialect(&m), (Some(",".into()), Some("'".into()), None, None));
    assert_eq!(columns(&m).len(), 3);
}

#[tokio::test]
async fn title_lines_before_the_header_are_skipped() {
    let m = parse("any", "dialect_preamble.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(dialect(&m), (Some(";".into()), None, Some(2), None));
    assert_eq!(
        columns(&m),
        vec![
            ("region", LogicalType::String),
            ("units", LogicalType::Int64),
            ("revenue", LogicalType::Decimal { precision: 18, scale: 2 })
        ]
    );
}

fn format(m: &Manifest) -> String {
    m.input.as_ref().map(|i| i.format.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_feature_collection_loads_a_row_per_feature_at_its_records_path() {
    let m = parse("geo", "json_geojson.json").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(format(&m), "json_stream");
    assert_eq!(
        columns(&m),
        vec![
            ("type", LogicalType::String),
            ("properties__id", LogicalType::Int64),
            ("properties__name", LogicalType::String),
            ("properties__opened", LogicalType::Date),
            ("geometry__type", LogicalType::String),
            ("geometry__coordinates", LogicalType::Json),
        ]
    );
}

#[tokio::test]
async fn without_its_records_path_a_wrapper_is_one_row() {
    let m = parse("any", "json_geojson.json").await;
    assert_eq!((m.status, m.rows), (FileStatus::Parsed, 1));
    assert!(columns(&m).contains(&("features", LogicalType::Json)), "{:?}", columns(&m));
}

#[tokio::test]
async fn the_wrappers_other_values_are_skipped_before_and_after_the_records() {
    let m = parse("tweets", "json_statuses.json").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(
        columns(&m),
        vec![
            ("id", LogicalType::Int64),
            ("text", LogicalType::String),
            ("retweet_count", LogicalType::Int64),
            ("user__screen_name", LogicalType::String),
        ]
    );
}

#[tokio::test]
async fn a_records_path_the_file_does_not_have_refuses_it_with_the_path() {
    let m = parse("misnamed", "json_statuses.json").await;
    assert_eq!((m.status, m.rows), (FileStatus::Refused, 0));
    let error = m.error.unwrap_or_default();
    assert_eq!(error, "json.records \"items\" is in no top-level value of the file: nothing to load");
}

#[tokio::test]
async fn positional_arrays_under_a_header_line_load_as_columns() {
    let m = parse("any", "json_array_rows.jsonl").await;
    assert_eq!(format(&m), "ndjson_arrays");
    // The third row has two values for four names: rejected with its line.
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 1));
    assert_eq!(
        columns(&m),
        vec![
            ("asin", LogicalType::String),
            ("brand", LogicalType::String),
            ("price", LogicalType::Float64),
            ("tags", LogicalType::Json),
        ]
    );
}

#[tokio::test]
async fn objects_keyed_by_id_load_a_row_each_with_the_key_as_a_column() {
    let m = parse("accounts", "json_keyed.json").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(
        columns(&m),
        vec![
            // The keys are text in JSON; typed as the column's values are.
            ("id", LogicalType::Int64),
            ("name", LogicalType::String),
            ("plan", LogicalType::String),
            ("seats", LogicalType::Int64),
        ]
    );
}

#[tokio::test]
async fn a_header_of_three_rows_is_joined_into_names() {
    let m = parse("any", "header_three_rows.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(m.input.as_ref().and_then(|i| i.header_rows), Some(3));
    let dec = LogicalType::Decimal { precision: 18, scale: 1 };
    assert_eq!(
        columns(&m),
        vec![
            ("station", LogicalType::String),
            ("temperature_min_c", dec),
            ("temperature_max_c", dec),
            ("rain_total_mm", LogicalType::Int64),
        ]
    );
}

#[tokio::test]
async fn group_labels_over_repeated_sub_headers_name_each_column() {
    let m = parse("any", "header_two_rows.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(m.input.as_ref().and_then(|i| i.header_rows), Some(2));
    let names: Vec<&str> = columns(&m).iter().map(|c| c.0).collect();
    assert_eq!(names, vec!["region", "revenue_2019", "revenue_2020", "cost_2019", "cost_2020"]);
}

#[tokio::test]
async fn an_index_column_under_an_empty_name_is_data_not_a_second_header_row() {
    let m = parse("any", "header_index_column.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(m.input.as_ref().and_then(|i| i.header_rows), None);
    assert_eq!(columns(&m).iter().map(|c| c.1).collect::<Vec<_>>(), vec![LogicalType::Int64; 3]);
}

#[tokio::test]
async fn day_first_times_become_timestamps_and_named_months_dates() {
    let m = parse("any", "dates_day_first_times.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Parsed, 3, 0));
    assert_eq!(
        columns(&m),
        vec![("id", LogicalType::Int64), ("seen", LogicalType::Timestamp), ("born", LogicalType::Date)]
    );
    let input = m.input.unwrap();
    assert_eq!(input.date_order, Some(DateOrder::DayFirst));
    assert_eq!(
        input.notes,
        vec![
            "seen: timestamps read day-first (28/01/2018 14:05 has a day over 12)".to_owned(),
            "born: dates read by month name (Jan 1 2000)".to_owned(),
        ]
    );
}

#[tokio::test]
async fn an_empty_file_is_empty_not_failed_with_no_reject_and_no_error() {
    let m = parse("any", "empty.csv").await;
    assert_eq!((m.status, m.rows, m.rejected_rows), (FileStatus::Empty, 0, 0));
    assert_eq!((m.error, m.rejects_key, m.input), (None, None, None));
    assert!(m.parts.is_empty() && m.schema.is_empty());
}
