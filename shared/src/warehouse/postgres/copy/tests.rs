//! The COPY encoders: each type in binary and text, line mapping.

use std::sync::Arc;

use arrow_array::{Date32Array, Decimal128Array, Float64Array, Int64Array, TimestampMicrosecondArray};
use arrow_schema::{Field, Schema};

use super::*;

fn batch(columns: Vec<(&str, Arc<dyn Array>)>) -> RecordBatch {
    let fields: Vec<Field> = columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, a)| a).collect()).unwrap()
}

fn lineage(n: usize) -> Vec<(&'static str, Arc<dyn Array>)> {
    vec![
        (FILE_COLUMN, Arc::new(StringArray::from(vec!["s3://l/f.csv"; n])) as Arc<dyn Array>),
        (ROW_COLUMN, Arc::new(Int64Array::from((2..2 + n as i64).collect::<Vec<_>>()))),
    ]
}

fn encode(
    cols: &CopyColumns,
    b: &RecordBatch,
    excluded: &BTreeSet<u32>,
    required: &[usize],
) -> (Vec<u8>, Vec<SkippedRow>) {
    let ctx = PartContext {
        dt: "2026-11-01",
        loaded_at: "2026-11-22 10:00:00+00",
        loaded_at_micros: 1_795_341_600_000_000,
        seq: 3,
        excluded,
        required,
    };
    let mut enc = PartEncoder::new(cols, ctx);
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    enc.encode(b, &mut out, &mut skipped).unwrap();
    (out, skipped)
}

/// The binary stream's tuples, each a list of fields (None for NULL).
fn tuples(mut bytes: &[u8]) -> Vec<Vec<Option<Vec<u8>>>> {
    let mut out = Vec::new();
    while bytes.len() >= 2 {
        let n = i16::from_be_bytes([bytes[0], bytes[1]]);
        bytes = &bytes[2..];
        let mut fields = Vec::new();
        for _ in 0..n {
            let len = i32::from_be_bytes(bytes[..4].try_into().unwrap());
            bytes = &bytes[4..];
            if len < 0 {
                fields.push(None);
            } else {
                fields.push(Some(bytes[..len as usize].to_vec()));
                bytes = &bytes[len as usize..];
            }
        }
        out.push(fields);
    }
    out
}

#[test]
fn values_are_written_as_postgres_text_with_lineage() {
    let mut cols = vec![
        ("id", Arc::new(Int64Array::from(vec![Some(1), None])) as Arc<dyn Array>),
        ("score", Arc::new(Float64Array::from(vec![0.5, f64::NAN]))),
        ("amount", Arc::new(Decimal128Array::from(vec![-5, 123_456]).with_precision_and_scale(12, 2).unwrap())),
        ("day", Arc::new(Date32Array::from(vec![20_393, 0]))),
        ("at", Arc::new(TimestampMicrosecondArray::from(vec![1_762_000_000_123_456, -1]).with_timezone("UTC"))),
        ("note", Arc::new(StringArray::from(vec![Some("tab\there\nnew \\ line"), None]))),
    ];
    cols.extend(lineage(2));
    let b = batch(cols);
    // An analyst's `integer` column: the whole stream is text.
    let types = vec![
        SqlType::Other("integer".into()),
        SqlType::Double,
        SqlType::Numeric { precision: 12, scale: 2 },
        SqlType::Date,
        SqlType::TimestampTz,
        SqlType::Varchar(64),
        SqlType::Text,
    ];
    let columns = CopyColumns::new(
        ["id", "score", "amount", "day", "at", "note", "absent"].map(String::from).to_vec(),
        types,
        true,
    );
    assert!(!columns.binary());
    assert!(columns.statement("t").ends_with("FROM STDIN"));
    let (text, skipped) = encode(&columns, &b, &BTreeSet::new(), &[]);
    let text = String::from_utf8(text).unwrap();
    assert!(skipped.is_empty());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "1\t0.5\t-0.05\t2025-11-01\t2025-11-01 12:26:40.123456+00\ttab\\there\\nnew \\\\ line\t\\N\t2026-11-01\ts3://l/f.csv\t2\t2026-11-22 10:00:00+00\t3"
    );
    assert_eq!(
        lines[1],
        "\\N\tNaN\t1234.56\t1970-01-01\t1969-12-31 23:59:59.999999+00\t\\N\t\\N\t2026-11-01\ts3://l/f.csv\t3\t2026-11-22 10:00:00+00\t3"
    );
}

#[test]
fn excluded_rows_and_null_keys_are_left_out_with_their_source_line() {
    let mut cols = vec![("id", Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as Arc<dyn Array>)];
    cols.extend(lineage(3));
    let b = batch(cols);
    let columns = CopyColumns::new(vec!["id".into()], vec![SqlType::BigInt], false);
    assert!(columns.statement("t").ends_with("FROM STDIN WITH (FORMAT binary)"));
    let excluded = BTreeSet::from([2]);
    let (bytes, skipped) = encode(&columns, &b, &excluded, &[0]);
    let rows = tuples(&bytes);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0].as_deref(), Some(&1i64.to_be_bytes()[..]));
    assert_eq!(rows[0][2].as_deref(), Some(&b"s3://l/f.csv"[..]));
    assert_eq!(skipped.len(), 2);
    assert_eq!((skipped[0].position, skipped[0].line), (1, Some(3)));
    assert_eq!(skipped[0].reason.as_deref(), Some("primary key column id is null"));
    assert_eq!((skipped[1].position, skipped[1].line, skipped[1].reason.clone()), (2, Some(4), None));
    assert!(skipped[1].raw.starts_with("3\t2026-11-01"));
}

/// 1,000 values of 10 bytes take 11,000 bytes of a page that holds 8,160;
/// long values would be TOASTed to 18 bytes each, so 300 of them fit.
#[test]
fn a_row_no_postgresql_page_can_hold_is_left_out_with_its_line_and_why() {
    let rows = |columns: usize, value: &str| {
        let names: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
        let mut cols: Vec<(&str, Arc<dyn Array>)> = names
            .iter()
            .map(|n| (n.as_str(), Arc::new(StringArray::from(vec![Some(value), None, None])) as Arc<dyn Array>))
            .collect();
        cols[0].1 = Arc::new(StringArray::from(vec![Some(value); 3]));
        cols.extend(lineage(3));
        let columns = CopyColumns::new(names.clone(), vec![SqlType::Text; columns], false);
        let (_, skipped) = encode(&columns, &batch(cols), &BTreeSet::new(), &[]);
        skipped
    };
    let skipped = rows(1_000, "abcdefghij");
    assert_eq!(skipped.len(), 1, "only the full row");
    assert_eq!(skipped[0].line, Some(2));
    let reason = skipped[0].reason.as_deref().unwrap_or_default();
    assert!(reason.starts_with("row is too big for PostgreSQL: at least 11"), "{reason}");
    assert!(rows(300, &"x".repeat(200)).is_empty());
    assert_eq!(rows(500, &"x".repeat(200)).len(), 1);
}

#[test]
fn binary_values_are_converted_to_their_column_types() {
    let mut cols = vec![
        ("n", Arc::new(Int64Array::from(vec![Some(7), None])) as Arc<dyn Array>),
        ("day", Arc::new(Date32Array::from(vec![10_958, 0]))),
        ("tags", Arc::new(StringArray::from(vec!["[1]", "[]"]))),
    ];
    cols.extend(lineage(2));
    let b = batch(cols);
    // n was widened to double, day to timestamptz; tags are jsonb.
    let columns = CopyColumns::new(
        ["n", "day", "tags"].map(String::from).to_vec(),
        vec![SqlType::Double, SqlType::TimestampTz, SqlType::Json],
        true,
    );
    let (bytes, _) = encode(&columns, &b, &BTreeSet::new(), &[]);
    let rows = tuples(&bytes);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].len(), 8, "3 data, 4 lineage, the sequence");
    assert_eq!(rows[0][0].as_deref(), Some(&7f64.to_be_bytes()[..]));
    assert_eq!(rows[1][0], None);
    assert_eq!(
        rows[0][1].as_deref(),
        Some(&86_400_000_000i64.to_be_bytes()[..]),
        "2000-01-02, PostgreSQL epoch + 1 day"
    );
    assert_eq!(rows[0][2].as_deref(), Some(&b"\x01[1]"[..]));
    assert_eq!(rows[0][3].as_deref(), Some(&(20_758i32 - 10_957).to_be_bytes()[..]), "dt 2026-11-01");
    assert_eq!(rows[0][7].as_deref(), Some(&3i64.to_be_bytes()[..]));
}

#[test]
fn numerics_are_base_10000_digits_with_weight_sign_and_scale() {
    let enc = |v, scale| {
        let mut out = Vec::new();
        write_numeric(v, scale, &mut out);
        out.chunks(2).map(|c| i16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>()
    };
    // ndigits, weight, sign, dscale, digits...
    assert_eq!(enc(123_456, 2), vec![2, 0, 0, 2, 1234, 5600]);
    assert_eq!(enc(-5, 2), vec![1, -1, 0x4000, 2, 500]);
    assert_eq!(enc(100_000_000, 0), vec![1, 2, 0, 0, 1]);
    assert_eq!(enc(0, 3), vec![0, 0, 0, 3]);
    assert_eq!(enc(12_345_678_901, 4), vec![3, 1, 0, 4, 123, 4567, 8901]);
    let max = 10i128.pow(38) - 1;
    assert_eq!(enc(max, 38)[..4], [10, -1, 0, 38]);
}

#[test]
fn copy_lines_trace_back_to_their_part_and_row() {
    let mut map = LineMap::default();
    map.push(0, 3);
    map.push(1, 0);
    map.push(2, 5);
    assert_eq!(map.locate(1), Some((0, 0)));
    assert_eq!(map.locate(3), Some((0, 2)));
    assert_eq!(map.locate(4), Some((2, 0)));
    assert_eq!(map.locate(8), Some((2, 4)));
    assert_eq!(map.locate(9), None);
    assert_eq!(map.locate(0), None);
    // Rows 1 and 2 of the part were left out: the third emitted row is position 4.
    assert_eq!(position_of(2, &BTreeSet::from([1, 2])), 4);
    assert_eq!(position_of(0, &BTreeSet::from([1, 2])), 0);
}

#[test]
fn dates_cover_leap_years_and_the_far_past() {
    let mut out = Vec::new();
    write_date(-719_528, &mut out); // 0000-01-01
    out.push(b' ');
    write_date(11_016, &mut out); // 2000-02-29
    assert_eq!(String::from_utf8(out).unwrap(), "0000-01-01 2000-02-29");
}

#[test]
fn decimals_keep_their_scale() {
    let s = |v, scale| {
        let mut out = Vec::new();
        write_decimal(v, scale, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(s(5, 3), "0.005");
    assert_eq!(s(-12_345, 2), "-123.45");
    assert_eq!(s(7, 0), "7");
    assert_eq!(s(7, -2), "700");
}
