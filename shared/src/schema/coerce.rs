//! Coercion: a value checked against its column and turned into the cell
//! its builder takes, and values rendered as text for messages and rejects.

use std::fmt::Write as _;

use crate::record::{SinkError, Value};

use super::columns::{Column, MAX_COLUMNS, Status};
use super::dates::{DateRules, parse_ordered};
use super::nulls::NullTokens;
use super::parquet::ColBuilder;
use super::types::LogicalType;
use super::values::{
    MICROS_PER_DAY, f64_to_i64_exact, i64_to_decimal, infer_value, parse_bool, parse_bool_lenient, parse_date,
    parse_decimal, parse_f64_lenient, parse_f64_strict, parse_i64_lenient, parse_i64_strict, parse_timestamp,
};

/// A coerced value waiting to be appended; text stays in the caller's
/// record and is referenced by its position there.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell {
    Null,
    Bool(bool),
    I64(i64),
    F64(f64),
    Dec(i128),
    Src(u32),
}

/// What one value of a record means for its column.
pub(super) enum Checked {
    /// Null, dropped, or (while buffering) left for inference: a null cell.
    Cell(Cell),
    Reject {
        column: Option<String>,
        reason: String,
    },
    /// The value does not fit the column's type; this is the type it suggests.
    Widen(LogicalType),
}

/// How text becomes values beyond the fixed formats: the feed's null tokens
/// and day-month dates.
#[derive(Debug, Clone, Default)]
pub(super) struct TextRules {
    pub(super) nulls: NullTokens,
    pub(super) dates: DateRules,
}

/// Checks `v`, at `pos` in its record, against `col` without touching any
/// builder. `writing` is false while types are still being inferred; a null
/// token is missing unless the column holds text.
#[inline]
pub(super) fn check_value(
    col: &Column,
    v: &Value<'_>,
    pos: u32,
    writing: bool,
    rules: &TextRules,
    scratch: &mut String,
) -> Checked {
    let nulls = &rules.nulls;
    if let Value::Null = v {
        return Checked::Cell(Cell::Null);
    }
    match col.status {
        Status::Active => {}
        Status::Discarded => return Checked::Cell(Cell::Null),
        Status::Outside => {
            return Checked::Reject {
                column: Some(col.name.clone()),
                reason: format!("column {} is not in the declared schema", col.name),
            };
        }
        Status::Overflow => {
            return Checked::Reject {
                column: None,
                reason: format!("the file has more than {MAX_COLUMNS} distinct fields"),
            };
        }
    }
    if let Value::Text(text) | Value::Json(text) = v
        && let Some(at) = text.find('\0')
    {
        return Checked::Reject {
            column: Some(col.name.clone()),
            reason: format!(
                "column {} holds a NUL byte (at byte {at}), which no warehouse text column can store",
                col.name
            ),
        };
    }
    // While buffering, inferred columns take anything: their type is
    // the join of what they hold.
    let Some(ty) = col.ty.filter(|_| col.declared || writing) else {
        if writing
            && !nulls.matches(v)
            && let Some(t) = infer_value(v)
        {
            return Checked::Widen(t);
        }
        return Checked::Cell(Cell::Null);
    };
    if !ty.is_text() && nulls.matches(v) {
        return Checked::Cell(Cell::Null);
    }
    // A declared date column reads day-month dates in the feed's order.
    let order = col.date_order.or(rules.dates.order.filter(|_| col.declared));
    let dates = DayMonth { order, two_digit_years: rules.dates.two_digit_years };
    match coerce(v, ty, col.declared, pos, dates, scratch) {
        Some(c) => Checked::Cell(c),
        None if col.declared => {
            let ty = col.ty.map(|t| t.to_string()).unwrap_or_default();
            Checked::Reject {
                column: Some(col.name.clone()),
                reason: format!("value {} is not a valid {ty}", describe(v)),
            }
        }
        None => match infer_value(v) {
            Some(t) => Checked::Widen(t),
            None => Checked::Cell(Cell::Null),
        },
    }
}

pub(super) fn describe(v: &Value<'_>) -> String {
    const MAX: usize = 64;
    let text = match *v {
        Value::Null => return "null".to_string(),
        Value::Bool(b) => return b.to_string(),
        Value::Int(i) => return i.to_string(),
        Value::Float(f) => return f.to_string(),
        Value::Text(s) | Value::Json(s) => s,
    };
    if text.len() <= MAX {
        return format!("{text:?}");
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}...", &text[..end])
}

/// Coerces `v` (non-null) to `ty`. Inferred columns use the strict parsers,
/// which accept exactly what inference would have typed as `ty` or narrower;
/// declared columns (`lenient`) also take blanks, leading zeros and similar.
#[inline]
fn coerce(
    v: &Value<'_>,
    ty: LogicalType,
    lenient: bool,
    pos: u32,
    dates: DayMonth,
    scratch: &mut String,
) -> Option<Cell> {
    match ty {
        LogicalType::String => Some(Cell::Src(pos)),
        LogicalType::Int64 => match *v {
            Value::Int(i) => Some(Cell::I64(i)),
            Value::Text(s) => { if lenient { parse_i64_lenient(s) } else { parse_i64_strict(s) } }.map(Cell::I64),
            Value::Float(f) if lenient => f64_to_i64_exact(f).map(Cell::I64),
            _ => None,
        },
        LogicalType::Float64 => match *v {
            Value::Float(f) => Some(Cell::F64(f)),
            Value::Int(i) => Some(Cell::F64(i as f64)),
            Value::Text(s) => { if lenient { parse_f64_lenient(s) } else { parse_f64_strict(s) } }.map(Cell::F64),
            _ => None,
        },
        LogicalType::Decimal { precision, scale } => match *v {
            Value::Text(s) => parse_decimal(s, precision, scale, !lenient).map(Cell::Dec),
            Value::Int(i) => i64_to_decimal(i, precision, scale).map(Cell::Dec),
            Value::Float(f) if lenient && f.is_finite() => {
                scratch.clear();
                let _ = write!(scratch, "{f}");
                parse_decimal(scratch, precision, scale, false).map(Cell::Dec)
            }
            _ => None,
        },
        LogicalType::Boolean => match *v {
            Value::Bool(b) => Some(Cell::Bool(b)),
            Value::Text(s) => if lenient { parse_bool_lenient(s) } else { parse_bool(s) }.map(Cell::Bool),
            _ => None,
        },
        LogicalType::Date => match *v {
            Value::Text(s) => {
                let s = if lenient { s.trim() } else { s };
                parse_date(s).or_else(|| dates.date(s)).map(|d| Cell::I64(d as i64))
            }
            _ => None,
        },
        LogicalType::Timestamp | LogicalType::TimestampTz => {
            let Value::Text(s) = *v else { return None };
            let s = if lenient { s.trim() } else { s };
            if let Some(d) = parse_date(s) {
                return Some(Cell::I64(d as i64 * MICROS_PER_DAY));
            }
            // Zone-less, as people write them (`28/01/2018 14:05`).
            if let Some(micros) = dates.timestamp(s).filter(|_| lenient || ty == LogicalType::Timestamp) {
                return Some(Cell::I64(micros));
            }
            let ts = parse_timestamp(s)?;
            // Strict: a zone where none was before (or the reverse) is a
            // different type; declared columns take both, as UTC.
            let zoned = ty == LogicalType::TimestampTz;
            (lenient || ts.offset_seconds.is_some() == zoned).then_some(Cell::I64(ts.micros))
        }
        LogicalType::Json => match *v {
            Value::Json(_) => Some(Cell::Src(pos)),
            Value::Text(s) if lenient => {
                serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok().then_some(Cell::Src(pos))
            }
            Value::Int(_) | Value::Bool(_) if lenient => Some(Cell::Src(pos)),
            Value::Float(f) if lenient && f.is_finite() => Some(Cell::Src(pos)),
            _ => None,
        },
    }
}

/// The day-month order a date column reads its text in, if any.
#[derive(Debug, Clone, Copy)]
struct DayMonth {
    order: Option<super::dates::DateOrder>,
    two_digit_years: bool,
}

impl DayMonth {
    /// A date as people write it (no time of day: that is a timestamp).
    fn date(self, s: &str) -> Option<i32> {
        parse_ordered(s, self.order, self.two_digit_years).filter(|(_, t)| t.is_none()).map(|(d, _)| d)
    }

    fn timestamp(self, s: &str) -> Option<i64> {
        parse_ordered(s, self.order, self.two_digit_years).map(|(d, t)| d as i64 * MICROS_PER_DAY + t.unwrap_or(0))
    }
}

/// A buffered record rendered as a JSON object, for rejects after the fact.
pub(super) fn render_values(values: &[(usize, Value<'_>)], names: &[String]) -> String {
    let mut map = serde_json::Map::new();
    for &(idx, v) in values {
        let key = names.get(idx).cloned().unwrap_or_else(|| idx.to_string());
        let jv = match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Int(i) => serde_json::Value::from(i),
            Value::Float(f) => serde_json::Value::from(f),
            Value::Text(s) => serde_json::Value::String(s.to_string()),
            Value::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.to_string())),
        };
        map.insert(key, jv);
    }
    serde_json::Value::Object(map).to_string()
}

#[inline]
pub(super) fn append_cell(
    builder: &mut ColBuilder,
    cell: Cell,
    values: &[(usize, Value<'_>)],
    max_bytes: &mut Option<u32>,
) -> Result<usize, SinkError> {
    match (builder, cell) {
        (b, Cell::Null) => b.append_null(),
        (ColBuilder::Str(b), Cell::Src(pos)) => {
            let len = match values.get(pos as usize).map(|(_, v)| *v) {
                Some(Value::Text(s) | Value::Json(s)) => {
                    b.append_value(s);
                    s.len()
                }
                Some(Value::Int(i)) => {
                    let before = b.values_slice().len();
                    let _ = write!(b, "{i}");
                    let len = b.values_slice().len() - before;
                    b.append_value("");
                    len
                }
                Some(Value::Float(f)) => {
                    let before = b.values_slice().len();
                    let _ = write!(b, "{f}");
                    let len = b.values_slice().len() - before;
                    b.append_value("");
                    len
                }
                Some(Value::Bool(v)) => {
                    let s = if v { "true" } else { "false" };
                    b.append_value(s);
                    s.len()
                }
                Some(Value::Null) | None => {
                    b.append_null();
                    return Ok(0);
                }
            };
            let len32 = u32::try_from(len).unwrap_or(u32::MAX);
            if max_bytes.is_none_or(|m| len32 > m) {
                *max_bytes = Some(len32);
            }
            return Ok(len);
        }
        (ColBuilder::I64(b), Cell::I64(v)) => b.append_value(v),
        (ColBuilder::Ts(b), Cell::I64(v)) => b.append_value(v),
        (ColBuilder::Date(b), Cell::I64(v)) => b.append_value(i32::try_from(v).unwrap_or_default()),
        (ColBuilder::F64(b), Cell::F64(v)) => b.append_value(v),
        (ColBuilder::Dec(b), Cell::Dec(v)) => b.append_value(v),
        (ColBuilder::Bool(b), Cell::Bool(v)) => b.append_value(v),
        (_, cell) => {
            return Err(SinkError::fatal(format!("internal: value {cell:?} does not match its column builder")));
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordSink;
    use crate::schema::DeclaredColumn;
    use crate::schema::test_support::{harness, read};

    #[test]
    fn max_bytes_counts_utf8_bytes() {
        let mut h = harness(|_| {});
        h.csv(&["city"], &[&["Zürich"], &["日本語"], &["Rome"]]);
        let (summary, parts, _, _dir, _) = h.finish();
        assert_eq!(summary.columns[0].max_bytes, Some(9));
        assert_eq!(parts[0].columns[0].max_bytes, Some(9));
    }

    #[test]
    fn hostile_values_never_panic() {
        let mut h = harness(|o| {
            o.infer_rows = 3;
            o.batch_rows = 4;
            o.partition_column = Some("when".into());
            o.declared = vec![
                DeclaredColumn { name: "n".into(), data_type: LogicalType::Int64, nullable: true },
                DeclaredColumn { name: "d".into(), data_type: "decimal(5,2)".parse().unwrap(), nullable: true },
                DeclaredColumn { name: "j".into(), data_type: LogicalType::Json, nullable: true },
            ];
        });
        let samples = [
            "",
            "-",
            "+",
            ".",
            "0",
            "-0",
            "9999999999999999999999999999999999999999999",
            "1e400",
            "-inf",
            "NaN",
            "2026-02-30",
            "2026-01-01T",
            "2026-01-01T10:00:00.",
            "2026-01-01T10:00:00+99",
            "9999-12-31T23:59:59.999999999-23:59",
            "0000-01-01T00:00:00+23:59",
            "\u{0}",
            "日本",
            "{\"a\":1}",
            "[",
            "true",
            "1.2.3",
            "١٢٣",
        ];
        h.writer.header(&["n", "d", "j", "when", "free"]).unwrap();
        let mut line = 1;
        for a in samples {
            for b in samples {
                line += 1;
                let row = [a, b, a, b, a];
                h.row(line, &row);
            }
        }
        let (summary, parts, _, _dir, records) = h.finish();
        assert_eq!(summary.rows_written + summary.rows_rejected, records);
        let total: u64 = parts.iter().map(|p| p.rows).sum();
        assert_eq!(total, summary.rows_written);
        for p in &parts {
            let (_, b) = read(&p.path);
            assert_eq!(b.num_rows() as u64, p.rows);
        }
    }
}
