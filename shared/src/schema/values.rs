//! Text → typed values. This is the per-value hot path, so the parsers are
//! hand-written for the fixed formats we accept: no regex, no chrono, no
//! allocation.

use crate::record::Value;

use super::types::{LogicalType, MAX_DECIMAL_PRECISION, MAX_INFERRED_SCALE};

pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;
pub(crate) const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// The type a single value suggests; `None` for null (no information).
pub(crate) fn infer_value(v: &Value<'_>) -> Option<LogicalType> {
    match *v {
        Value::Null => None,
        Value::Bool(_) => Some(LogicalType::Boolean),
        Value::Int(_) => Some(LogicalType::Int64),
        Value::Float(_) => Some(LogicalType::Float64),
        Value::Json(_) => Some(LogicalType::Json),
        Value::Text(s) => Some(infer_text(s)),
    }
}

/// The narrowest type whose strict parser accepts `s`.
pub fn infer_text(s: &str) -> LogicalType {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return LogicalType::String;
    };
    if parse_bool(s).is_some() {
        return LogicalType::Boolean;
    }
    if first.is_ascii_digit() && b.len() >= 10 && b[4] == b'-' {
        if parse_date(s).is_some() {
            return LogicalType::Date;
        }
        if let Some(ts) = parse_timestamp(s) {
            return if ts.offset_seconds.is_some() { LogicalType::TimestampTz } else { LogicalType::Timestamp };
        }
        return LogicalType::String;
    }
    match classify_number(s) {
        Number::Int => LogicalType::Int64,
        Number::Decimal { int_digits, scale } => {
            if scale > MAX_INFERRED_SCALE as u32 {
                LogicalType::Float64
            } else {
                LogicalType::decimal_or_float(int_digits, scale as i8)
            }
        }
        Number::Float => LogicalType::Float64,
        Number::None => LogicalType::String,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    /// Fits i64, no superfluous leading zero.
    Int,
    /// `[+-]?\d+(\.\d+)?` without a superfluous leading zero; integers that
    /// overflow i64 land here with scale 0.
    Decimal {
        int_digits: u32,
        scale: u32,
    },
    /// Anything else Rust's float parser takes: exponents, "NaN", "inf", ".5".
    Float,
    None,
}

fn classify_number(s: &str) -> Number {
    let b = s.as_bytes();
    let digits_start = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let body = &b[digits_start..];
    let int_len = body.iter().take_while(|c| c.is_ascii_digit()).count();
    let leading_zero = int_len > 1 && body.first() == Some(&b'0');
    if int_len > 0 && int_len == body.len() {
        if leading_zero {
            return Number::None;
        }
        if parse_i64_strict(s).is_some() {
            return Number::Int;
        }
        return Number::Decimal { int_digits: significant_int_digits(&body[..int_len]), scale: 0 };
    }
    if int_len > 0 && body.get(int_len) == Some(&b'.') {
        let frac = &body[int_len + 1..];
        if !frac.is_empty() && frac.iter().all(u8::is_ascii_digit) {
            if leading_zero {
                return Number::None;
            }
            return Number::Decimal { int_digits: significant_int_digits(&body[..int_len]), scale: frac.len() as u32 };
        }
    }
    if leading_zero {
        return Number::None;
    }
    // Rust's float grammar is a superset of what we want ("infinity", ".5");
    // anything it accepts that got here is a float-ish number.
    if looks_like_float(body) && s.parse::<f64>().is_ok() { Number::Float } else { Number::None }
}

fn looks_like_float(body: &[u8]) -> bool {
    match body.first() {
        Some(c) if c.is_ascii_digit() || *c == b'.' => true,
        Some(b'n' | b'N' | b'i' | b'I') => true,
        _ => false,
    }
}

fn significant_int_digits(digits: &[u8]) -> u32 {
    digits.iter().skip_while(|&&c| c == b'0').count() as u32
}

/// "true" / "false", any case.
#[inline]
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.len() {
        4 if s.eq_ignore_ascii_case("true") => Some(true),
        5 if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Declared boolean columns also take the usual spreadsheet spellings.
pub fn parse_bool_lenient(s: &str) -> Option<bool> {
    let s = s.trim();
    if let Some(b) = parse_bool(s) {
        return Some(b);
    }
    match s.len() {
        1 => match s.as_bytes()[0] {
            b't' | b'T' | b'y' | b'Y' | b'1' => Some(true),
            b'f' | b'F' | b'n' | b'N' | b'0' => Some(false),
            _ => None,
        },
        2 if s.eq_ignore_ascii_case("no") => Some(false),
        3 if s.eq_ignore_ascii_case("yes") => Some(true),
        _ => None,
    }
}

/// `[+-]?\d+` fitting i64, with no leading zero unless the number is "0":
/// "007" is an identifier (a zip code), not seven.
#[inline]
pub fn parse_i64_strict(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    // Accumulate negatively so i64::MIN parses without overflow.
    let mut acc: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        acc = acc.checked_mul(10)?.checked_sub(d as i64)?;
    }
    if neg { Some(acc) } else { acc.checked_neg() }
}

/// Declared int64 columns accept leading zeros, surrounding blanks and
/// integral floats ("12.0").
pub fn parse_i64_lenient(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        let start = digits.iter().take_while(|&&c| c == b'0').count();
        let trimmed = &digits[start..];
        if trimmed.is_empty() {
            return Some(0);
        }
        let text = std::str::from_utf8(trimmed).ok()?;
        if let Some(v) = parse_i64_strict(text) {
            return Some(if neg { -v } else { v });
        }
        // i64::MIN has no positive counterpart.
        if neg && text == "9223372036854775808" {
            return Some(i64::MIN);
        }
        return None;
    }
    let f: f64 = s.parse().ok()?;
    f64_to_i64_exact(f)
}

pub(crate) fn f64_to_i64_exact(f: f64) -> Option<i64> {
    // ±2^63: every integral f64 inside converts exactly.
    const LIMIT: f64 = 9.223_372_036_854_776e18;
    (f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
}

/// Plain float parse, minus the leading-zero integers that inference keeps
/// as strings, so a float64 column treats "007" the way inference would.
#[inline]
pub fn parse_f64_strict(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let body = match b.first()? {
        b'+' | b'-' => &b[1..],
        _ => b,
    };
    if body.len() > 1 && body[0] == b'0' && body[1].is_ascii_digit() {
        return None;
    }
    if !looks_like_float(body) {
        return None;
    }
    s.parse().ok()
}

pub fn parse_f64_lenient(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

pub(crate) const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Parses `[+-]?\d+(\.\d+)?` into the unscaled i128 of a decimal(precision, scale).
/// Strict mode (inferred columns) refuses leading zeros and any fractional
/// digit beyond `scale`, so the caller widens the column instead; lenient
/// mode (declared columns) also takes blanks, ".5", "5." and drops excess
/// fractional zeros ("1.230" into scale 2), but never rounds.
#[inline]
pub fn parse_decimal(s: &str, precision: u8, scale: i8, strict: bool) -> Option<i128> {
    let s = if strict { s } else { s.trim() };
    let b = s.as_bytes();
    let (neg, body) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if strict && !body.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let scale = scale.max(0) as usize;
    let mut mantissa: i128 = 0;
    let mut sig_digits: usize = 0;
    let mut int_len = 0usize;
    let mut i = 0;
    while i < body.len() {
        let d = body[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        push_digit(&mut mantissa, &mut sig_digits, d)?;
        int_len += 1;
        i += 1;
    }
    if strict && int_len > 1 && body[0] == b'0' {
        return None;
    }
    let mut frac_len = 0usize;
    if i < body.len() {
        if body[i] != b'.' {
            return None;
        }
        i += 1;
        let frac = &body[i..];
        if frac.is_empty() && (strict || int_len == 0) {
            return None;
        }
        for &c in frac {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            if frac_len < scale {
                push_digit(&mut mantissa, &mut sig_digits, d)?;
                frac_len += 1;
            } else if strict || d != 0 {
                // Digits the column cannot hold: widen (strict) or reject.
                return None;
            }
        }
    } else if int_len == 0 {
        return None;
    }
    let shift = scale - frac_len;
    let mantissa = mantissa.checked_mul(*POW10.get(shift)?)?;
    if mantissa >= *POW10.get(precision as usize)? {
        return None;
    }
    Some(if neg { -mantissa } else { mantissa })
}

/// Appends one digit to a decimal's mantissa; `None` once it has more
/// significant digits than any decimal holds (which also keeps i128 from overflowing).
#[inline]
fn push_digit(mantissa: &mut i128, sig_digits: &mut usize, d: u8) -> Option<()> {
    if *sig_digits > 0 || d != 0 {
        *sig_digits += 1;
        if *sig_digits > MAX_DECIMAL_PRECISION as usize {
            return None;
        }
    }
    *mantissa = *mantissa * 10 + i128::from(d);
    Some(())
}

/// i64 into decimal(precision, scale), if it fits.
#[inline]
pub(crate) fn i64_to_decimal(v: i64, precision: u8, scale: i8) -> Option<i128> {
    let m = (v as i128).checked_mul(*POW10.get(scale.max(0) as usize)?)?;
    (m.unsigned_abs() < POW10.get(precision as usize)?.unsigned_abs()).then_some(m)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
#[inline]
pub(crate) fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 } as i32;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[inline]
fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

#[inline]
pub(super) fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

#[inline]
fn digits2(b: &[u8], at: usize) -> Option<u32> {
    let hi = b.get(at)?.wrapping_sub(b'0');
    let lo = b.get(at + 1)?.wrapping_sub(b'0');
    (hi <= 9 && lo <= 9).then_some(hi as u32 * 10 + lo as u32)
}

/// Validated "YYYY-MM-DD" at the start of `b`, as days since the epoch.
#[inline]
fn date_prefix(b: &[u8]) -> Option<i32> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits2(b, 0)? * 100 + digits2(b, 2)?;
    let m = digits2(b, 5)?;
    let d = digits2(b, 8)?;
    if d == 0 || d > days_in_month(y as i32, m) {
        return None;
    }
    Some(days_from_civil(y as i32, m, d))
}

/// "YYYY-MM-DD" (exactly) as days since the epoch; "2026-02-30" is not a date.
#[inline]
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 {
        return None;
    }
    date_prefix(b)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedTimestamp {
    /// Microseconds since the epoch, already shifted to UTC when an offset was given.
    pub micros: i64,
    /// The offset that was written, if any ("Z" is 0).
    pub offset_seconds: Option<i32>,
}

/// ISO-8601 "YYYY-MM-DD[T ]HH:MM[:SS[.f{1,9}]]" with an optional "Z",
/// "±HH:MM", "±HHMM" or "±HH". Fractions beyond microseconds are truncated.
pub fn parse_timestamp(s: &str) -> Option<ParsedTimestamp> {
    let b = s.as_bytes();
    if b.len() < 16 {
        return None;
    }
    let days = date_prefix(b)?;
    if !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let hh = digits2(b, 11)?;
    let mi = digits2(b, 14)?;
    if hh > 23 || mi > 59 {
        return None;
    }
    let mut i = 16;
    let mut ss = 0;
    let mut micros: i64 = 0;
    if b.get(i) == Some(&b':') {
        ss = digits2(b, i + 1)?;
        if ss > 59 {
            return None;
        }
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 6 {
                    micros = micros * 10 + (b[i] - b'0') as i64;
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 || n > 9 {
                return None;
            }
            if n < 6 {
                micros *= POW10[6 - n] as i64;
            }
        }
    }
    let offset_seconds = match b.get(i) {
        None => None,
        Some(b'Z' | b'z') if i + 1 == b.len() => Some(0),
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits2(b, i + 1)?;
            let om = match b.len() - i {
                3 => 0,
                5 => digits2(b, i + 3)?,
                6 if b[i + 3] == b':' => digits2(b, i + 4)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = (oh * 3600 + om * 60) as i32;
            Some(if sign == b'-' { -secs } else { secs })
        }
        _ => return None,
    };
    let local =
        days as i64 * MICROS_PER_DAY + (hh as i64 * 3600 + mi as i64 * 60 + ss as i64) * MICROS_PER_SECOND + micros;
    let micros = local - offset_seconds.unwrap_or(0) as i64 * MICROS_PER_SECOND;
    Some(ParsedTimestamp { micros, offset_seconds })
}

/// Day (since the epoch) a partition value falls on: a date, or the date of
/// a timestamp (UTC when it has an offset).
pub fn parse_partition_day(s: &str) -> Option<i32> {
    if let Some(d) = parse_date(s) {
        return Some(d);
    }
    parse_timestamp(s).map(|t| t.micros.div_euclid(MICROS_PER_DAY) as i32)
}

/// Writes the unscaled decimal `m` with `scale` fractional digits.
pub fn format_decimal(m: i128, scale: i8) -> String {
    let digits = m.unsigned_abs().to_string();
    let scale = scale.max(0) as usize;
    let mut out = String::with_capacity(digits.len() + 3);
    if m < 0 {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(&digits);
    } else if digits.len() > scale {
        let (i, f) = digits.split_at(digits.len() - scale);
        out.push_str(i);
        out.push('.');
        out.push_str(f);
    } else {
        out.push_str("0.");
        out.push_str(&"0".repeat(scale - digits.len()));
        out.push_str(&digits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::LogicalType::*;
    use super::*;

    fn dec(precision: u8, scale: i8) -> LogicalType {
        Decimal { precision, scale }
    }

    #[test]
    fn infer_table() {
        let cases: &[(&str, LogicalType)] = &[
            ("true", Boolean),
            ("FALSE", Boolean),
            ("True", Boolean),
            ("yes", String),
            ("0", Int64),
            ("42", Int64),
            ("-42", Int64),
            ("+42", Int64),
            ("007", String),
            ("-007", String),
            ("00", String),
            ("9223372036854775807", Int64),
            ("-9223372036854775808", Int64),
            ("9223372036854775808", dec(19, 0)),
            ("-99999999999999999999", dec(20, 0)),
            (&"9".repeat(38), dec(38, 0)),
            (&"9".repeat(39), Float64),
            ("12.50", dec(4, 2)),
            ("-0.5", dec(1, 1)),
            ("0.05", dec(2, 2)),
            ("+3.14159", dec(6, 5)),
            ("00.5", String),
            ("1.", Float64),
            (".5", Float64),
            ("1.0000000000000000001", Float64),
            ("1e10", Float64),
            ("-2.5E-3", Float64),
            ("NaN", Float64),
            ("inf", Float64),
            ("-Infinity", Float64),
            ("1,5", String),
            ("1 000", String),
            (" 42", String),
            ("", String),
            ("-", String),
            ("e5", String),
            ("2024-02-29", Date),
            ("2023-02-29", String),
            ("2026-02-30", String),
            ("2026-13-01", String),
            ("2026-1-01", String),
            ("2026-01-01T10:00", Timestamp),
            ("2026-01-01 10:00:59", Timestamp),
            ("2026-01-01T10:00:00.123456789", Timestamp),
            ("2026-01-01T10:00:00Z", TimestampTz),
            ("2026-01-01T10:00:00.5+02:00", TimestampTz),
            ("2026-01-01T10:00:00-0530", TimestampTz),
            ("2026-01-01T10:00:00+01", TimestampTz),
            ("2026-01-01T24:00:00", String),
            ("2026-01-01T10:00:00.1234567890", String),
            ("2026-01-01T10:00:00+1", String),
            ("2026-01-01T10:00:00 UTC", String),
            ("2026-01-01x", String),
            ("hello", String),
            ("🎉", String),
        ];
        for (s, want) in cases {
            assert_eq!(infer_text(s), *want, "{s:?}");
        }
        assert_eq!(infer_value(&Value::Null), None);
        assert_eq!(infer_value(&Value::Int(3)), Some(Int64));
        assert_eq!(infer_value(&Value::Float(3.5)), Some(Float64));
        assert_eq!(infer_value(&Value::Bool(true)), Some(Boolean));
        assert_eq!(infer_value(&Value::Json("[1]")), Some(Json));
    }

    #[test]
    fn ints() {
        let strict: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("-0", Some(0)),
            ("+17", Some(17)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("99999999999999999999", None),
            ("007", None),
            ("", None),
            ("-", None),
            ("1a", None),
            ("1.0", None),
        ];
        for (s, want) in strict {
            assert_eq!(parse_i64_strict(s), *want, "{s:?}");
        }
        let lenient: &[(&str, Option<i64>)] = &[
            ("007", Some(7)),
            (" 42 ", Some(42)),
            ("-007", Some(-7)),
            ("000", Some(0)),
            ("12.0", Some(12)),
            ("12.5", None),
            ("-9223372036854775808", Some(i64::MIN)),
            ("abc", None),
            ("+-5", None),
            ("--5", None),
            ("1e3", Some(1000)),
        ];
        for (s, want) in lenient {
            assert_eq!(parse_i64_lenient(s), *want, "{s:?}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64_strict("1.5"), Some(1.5));
        assert_eq!(parse_f64_strict("-1e3"), Some(-1000.0));
        assert_eq!(parse_f64_strict("007"), None);
        assert!(parse_f64_strict("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_f64_strict("abc"), None);
        assert_eq!(parse_f64_strict("+"), None);
        assert_eq!(parse_f64_lenient(" 007 "), Some(7.0));
    }

    #[test]
    fn decimals() {
        let cases: &[(&str, u8, i8, bool, Option<i128>)] = &[
            ("12.34", 18, 2, true, Some(1234)),
            ("-12.34", 18, 2, true, Some(-1234)),
            ("+12.3", 18, 2, true, Some(1230)),
            ("12", 18, 2, true, Some(1200)),
            ("0.05", 18, 2, true, Some(5)),
            ("12.345", 18, 2, true, None),
            ("12.340", 18, 2, true, None),
            ("12.340", 18, 2, false, Some(1234)),
            ("12.345", 18, 2, false, None),
            ("012.3", 18, 2, true, None),
            ("012.3", 18, 2, false, Some(1230)),
            (".5", 18, 2, false, Some(50)),
            (".5", 18, 2, true, None),
            ("5.", 18, 2, true, None),
            ("1234", 5, 2, true, None),
            ("999.99", 5, 2, true, Some(99999)),
            ("1e3", 18, 2, true, None),
            ("", 18, 2, true, None),
            ("-", 18, 2, true, None),
            (".", 18, 2, false, None),
            ("1.2.3", 18, 2, true, None),
            (&"9".repeat(38), 38, 0, true, Some(POW10[38] - 1)),
            (&"9".repeat(39), 38, 0, true, None),
            ("0.000000000000000000000000000000000000001", 38, 38, true, None),
        ];
        for &(s, p, sc, strict, want) in cases {
            assert_eq!(parse_decimal(s, p, sc, strict), want, "{s:?} into decimal({p},{sc}) strict={strict}");
        }
        assert_eq!(i64_to_decimal(5, 18, 2), Some(500));
        assert_eq!(i64_to_decimal(i64::MAX, 18, 0), None);
        assert_eq!(i64_to_decimal(i64::MIN, 19, 0), Some(i64::MIN as i128));
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(12345, 2), "123.45");
        assert_eq!(format_decimal(7, 0), "7");
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("2000-02-29"), Some(11_016));
        assert_eq!(parse_date("1900-02-29"), None);
        assert!(parse_date("2024-02-29").is_some());
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-04-31"), None);
        assert_eq!(parse_date("2026-00-10"), None);
        assert_eq!(parse_date("2026-01-00"), None);
        assert_eq!(parse_date("2026-01-01 "), None);
        assert_eq!(parse_date("2026/01/01"), None);
        // Cross-check against chrono across a wide range.
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let mut d = chrono::NaiveDate::from_ymd_opt(1, 1, 1).unwrap();
        while d.year_ce().1 < 9999 {
            let s = d.format("%Y-%m-%d").to_string();
            assert_eq!(parse_date(&s), Some((d - epoch).num_days() as i32), "{s}");
            d = d + chrono::Days::new(97);
        }
    }

    use chrono::Datelike;

    #[test]
    fn timestamps() {
        let base = 1_767_225_600i64 * MICROS_PER_SECOND; // 2026-01-01T00:00:00Z
        let ten = base + 10 * 3600 * MICROS_PER_SECOND;
        type Case<'a> = (&'a str, Option<(i64, Option<i32>)>);
        let cases: &[Case] = &[
            ("2026-01-01T00:00", Some((base, None))),
            ("2026-01-01T10:00:00", Some((ten, None))),
            ("2026-01-01 10:00:00", Some((ten, None))),
            ("2026-01-01t10:00:00", Some((ten, None))),
            ("2026-01-01T10:00:00Z", Some((ten, Some(0)))),
            ("2026-01-01T10:00:00z", Some((ten, Some(0)))),
            ("2026-01-01T10:00:00.1", Some((ten + 100_000, None))),
            ("2026-01-01T10:00:00.12", Some((ten + 120_000, None))),
            ("2026-01-01T10:00:00.123", Some((ten + 123_000, None))),
            ("2026-01-01T10:00:00.1234", Some((ten + 123_400, None))),
            ("2026-01-01T10:00:00.12345", Some((ten + 123_450, None))),
            ("2026-01-01T10:00:00.123456", Some((ten + 123_456, None))),
            ("2026-01-01T10:00:00.1234567", Some((ten + 123_456, None))),
            ("2026-01-01T10:00:00.12345678", Some((ten + 123_456, None))),
            ("2026-01-01T10:00:00.123456789Z", Some((ten + 123_456, Some(0)))),
            ("2026-01-01T10:00:00+02:00", Some((ten - 7_200_000_000, Some(7200)))),
            ("2026-01-01T10:00:00+0200", Some((ten - 7_200_000_000, Some(7200)))),
            ("2026-01-01T10:00:00+02", Some((ten - 7_200_000_000, Some(7200)))),
            ("2026-01-01T10:00:00-05:30", Some((ten + 19_800_000_000, Some(-19_800)))),
            ("2026-01-01T10:00-05:30", Some((ten + 19_800_000_000, Some(-19_800)))),
            ("2024-02-29T23:59:59.999999", Some((1_709_251_199_999_999, None))),
            ("2026-02-29T10:00:00", None),
            ("2026-01-01T10:00:60", None),
            ("2026-01-01T10:60", None),
            ("2026-01-01T10", None),
            ("2026-01-01T10:00:00.", None),
            ("2026-01-01T10:00:00Zjunk", None),
            ("2026-01-01T10:00:00+2:00", None),
            ("2026-01-01T10:00:00+02:0", None),
            ("2026-01-01T10:00:00+24:00", None),
            ("2026-01-01T10:00:00+02:00:00", None),
            ("2026-01-01X10:00:00", None),
            ("2026-01-01", None),
        ];
        for (s, want) in cases {
            let got = parse_timestamp(s).map(|t| (t.micros, t.offset_seconds));
            assert_eq!(got, *want, "{s:?}");
        }
    }

    #[test]
    fn partition_days() {
        let d = parse_date("2026-01-02").unwrap();
        assert_eq!(parse_partition_day("2026-01-02"), Some(d));
        assert_eq!(parse_partition_day("2026-01-02T23:30:00"), Some(d));
        // 23:30 at -01:00 is the next UTC day.
        assert_eq!(parse_partition_day("2026-01-01T23:30:00-01:00"), Some(d));
        assert_eq!(parse_partition_day("1969-12-31T23:00:00Z"), Some(-1));
        assert_eq!(parse_partition_day("soon"), None);
    }

    #[test]
    fn bools() {
        assert_eq!(parse_bool("TrUe"), Some(true));
        assert_eq!(parse_bool("f"), None);
        assert_eq!(parse_bool_lenient("f"), Some(false));
        assert_eq!(parse_bool_lenient(" yes "), Some(true));
        assert_eq!(parse_bool_lenient("maybe"), None);
    }
}
