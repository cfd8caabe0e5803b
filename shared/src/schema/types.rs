//! Logical column types, their Arrow mapping, and the widening lattice.

use std::fmt;
use std::str::FromStr;

use arrow_schema::{DataType, TimeUnit};

/// Decimal precision limit shared by Arrow's Decimal128, Redshift and Glue.
pub(crate) const MAX_DECIMAL_PRECISION: u8 = 38;
/// Inferred decimals with more fractional digits than this become float64.
pub(crate) const MAX_INFERRED_SCALE: i8 = 18;
/// Decimal digits any i64 may need.
const I64_DIGITS: u8 = 19;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogicalType {
    Boolean,
    Int64,
    Float64,
    Decimal { precision: u8, scale: i8 },
    Date,
    Timestamp,
    TimestampTz,
    String,
    Json,
}

impl LogicalType {
    pub(crate) fn arrow_type(&self) -> DataType {
        match *self {
            LogicalType::Boolean => DataType::Boolean,
            LogicalType::Int64 => DataType::Int64,
            LogicalType::Float64 => DataType::Float64,
            LogicalType::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
            LogicalType::Date => DataType::Date32,
            LogicalType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            LogicalType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            LogicalType::String | LogicalType::Json => DataType::Utf8,
        }
    }

    /// Whether `max_bytes` is tracked (the warehouse sizes VARCHAR from it).
    pub(crate) fn is_text(&self) -> bool {
        matches!(self, LogicalType::String | LogicalType::Json)
    }

    /// Decimal with `int_digits` before the point and `scale` after, or
    /// float64 when that needs more than 38 digits.
    pub(crate) fn decimal_or_float(int_digits: u32, scale: i8) -> LogicalType {
        let precision = int_digits + scale.max(0) as u32;
        if precision > MAX_DECIMAL_PRECISION as u32 {
            LogicalType::Float64
        } else {
            LogicalType::Decimal { precision: precision.max(1) as u8, scale }
        }
    }
}

fn int_digits(precision: u8, scale: i8) -> u32 {
    (precision as i32 - scale as i32).max(0) as u32
}

/// The least type that holds every value of `a` and of `b`.
pub fn join(a: LogicalType, b: LogicalType) -> LogicalType {
    use LogicalType::*;
    if a == b {
        return a;
    }
    match (a, b) {
        (Int64, Decimal { precision, scale }) | (Decimal { precision, scale }, Int64) => {
            LogicalType::decimal_or_float(int_digits(precision, scale).max(I64_DIGITS as u32), scale)
        }
        (Decimal { precision: p1, scale: s1 }, Decimal { precision: p2, scale: s2 }) => {
            let scale = s1.max(s2);
            LogicalType::decimal_or_float(int_digits(p1, s1).max(int_digits(p2, s2)), scale)
        }
        (Int64 | Decimal { .. }, Float64) | (Float64, Int64 | Decimal { .. }) => Float64,
        (Date, Timestamp) | (Timestamp, Date) => Timestamp,
        (Date, TimestampTz) | (TimestampTz, Date) => TimestampTz,
        _ => String,
    }
}

impl fmt::Display for LogicalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogicalType::Boolean => f.write_str("boolean"),
            LogicalType::Int64 => f.write_str("int64"),
            LogicalType::Float64 => f.write_str("float64"),
            LogicalType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            LogicalType::Date => f.write_str("date"),
            LogicalType::Timestamp => f.write_str("timestamp"),
            LogicalType::TimestampTz => f.write_str("timestamptz"),
            LogicalType::String => f.write_str("string"),
            LogicalType::Json => f.write_str("json"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown column type {0:?} (expected boolean, int64, float64, decimal(p,s), date, timestamp, timestamptz, string or json)"
)]
pub struct ParseTypeError(pub String);

impl FromStr for LogicalType {
    type Err = ParseTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseTypeError(s.to_string());
        let t = s.trim().to_ascii_lowercase();
        let simple = match t.as_str() {
            "boolean" | "bool" => Some(LogicalType::Boolean),
            "int64" | "int" | "integer" | "bigint" | "long" => Some(LogicalType::Int64),
            "float64" | "double" | "float" | "double precision" => Some(LogicalType::Float64),
            "date" => Some(LogicalType::Date),
            "timestamp" => Some(LogicalType::Timestamp),
            "timestamptz" | "timestamp_tz" => Some(LogicalType::TimestampTz),
            "string" | "text" | "varchar" => Some(LogicalType::String),
            "json" => Some(LogicalType::Json),
            _ => None,
        };
        if let Some(t) = simple {
            return Ok(t);
        }
        let (head, args) = t.split_once('(').ok_or_else(err)?;
        let args = args.strip_suffix(')').ok_or_else(err)?;
        match head.trim() {
            // The length of a declared varchar is the warehouse's business.
            "varchar" if args.trim().parse::<u32>().is_ok() => Ok(LogicalType::String),
            "decimal" | "numeric" => {
                let (p, s) = match args.split_once(',') {
                    Some((p, s)) => (p.trim(), s.trim()),
                    None => (args.trim(), "0"),
                };
                let precision: u8 = p.parse().map_err(|_| err())?;
                let scale: i8 = s.parse().map_err(|_| err())?;
                if precision == 0 || precision > MAX_DECIMAL_PRECISION || scale < 0 || scale as u8 > precision {
                    return Err(err());
                }
                Ok(LogicalType::Decimal { precision, scale })
            }
            _ => Err(err()),
        }
    }
}

impl serde::Serialize for LogicalType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for LogicalType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::LogicalType::*;
    use super::*;

    fn dec(precision: u8, scale: i8) -> LogicalType {
        Decimal { precision, scale }
    }

    #[test]
    fn join_table() {
        let cases = [
            (Int64, Int64, Int64),
            (Boolean, Boolean, Boolean),
            (Int64, dec(5, 2), dec(21, 2)),
            (dec(5, 2), Int64, dec(21, 2)),
            (Int64, dec(30, 0), dec(30, 0)),
            (dec(5, 2), dec(4, 3), dec(6, 3)),
            (dec(10, 0), dec(3, 3), dec(13, 3)),
            (dec(38, 2), dec(4, 3), Float64),
            (dec(38, 0), Int64, dec(38, 0)),
            (Int64, Float64, Float64),
            (Float64, dec(5, 2), Float64),
            (Date, Timestamp, Timestamp),
            (Timestamp, Date, Timestamp),
            (Date, TimestampTz, TimestampTz),
            (TimestampTz, Date, TimestampTz),
            (Timestamp, TimestampTz, String),
            (Json, Json, Json),
            (Json, Int64, String),
            (String, Json, String),
            (Boolean, Int64, String),
            (Int64, Date, String),
            (Float64, Boolean, String),
            (String, Int64, String),
            (Date, Float64, String),
        ];
        for (a, b, want) in cases {
            assert_eq!(join(a, b), want, "{a} ⊔ {b}");
            assert_eq!(join(b, a), want, "{b} ⊔ {a} (commutative)");
        }
    }

    #[test]
    fn join_is_an_upper_bound_and_associative() {
        let all =
            [Boolean, Int64, Float64, dec(5, 2), dec(20, 0), dec(38, 10), Date, Timestamp, TimestampTz, String, Json];
        for a in all {
            for b in all {
                for c in all {
                    assert_eq!(join(join(a, b), c), join(a, join(b, c)), "{a} {b} {c}");
                }
                let j = join(a, b);
                assert_eq!(join(j, a), j, "{a} ⊑ {j}");
            }
        }
    }

    #[test]
    fn display_and_parse() {
        let cases = [
            ("boolean", Boolean),
            ("int64", Int64),
            ("float64", Float64),
            ("decimal(18,2)", dec(18, 2)),
            ("date", Date),
            ("timestamp", Timestamp),
            ("timestamptz", TimestampTz),
            ("string", String),
            ("json", Json),
        ];
        for (s, t) in cases {
            assert_eq!(t.to_string(), s);
            assert_eq!(s.parse::<LogicalType>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<LogicalType>(&json).unwrap(), t);
        }
        let aliases = [
            ("bool", Boolean),
            ("INT", Int64),
            ("integer", Int64),
            ("bigint", Int64),
            ("double", Float64),
            ("float", Float64),
            ("text", String),
            ("varchar", String),
            ("varchar(256)", String),
            ("timestamp_tz", TimestampTz),
            ("numeric(10, 3)", dec(10, 3)),
            ("NUMERIC(12)", dec(12, 0)),
            (" Decimal(38,0) ", dec(38, 0)),
        ];
        for (s, t) in aliases {
            assert_eq!(s.parse::<LogicalType>().unwrap(), t, "{s}");
        }
        for bad in [
            "",
            "decimal",
            "decimal(0,0)",
            "decimal(39,2)",
            "decimal(5,6)",
            "decimal(5,-1)",
            "decimal(5,2",
            "uuid",
            "numeric(a,b)",
        ] {
            assert!(bad.parse::<LogicalType>().is_err(), "{bad}");
        }
    }

    #[test]
    fn arrow_mapping() {
        assert_eq!(dec(18, 2).arrow_type(), DataType::Decimal128(18, 2));
        assert_eq!(TimestampTz.arrow_type(), DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
        assert_eq!(Json.arrow_type(), DataType::Utf8);
        assert_eq!(Date.arrow_type(), DataType::Date32);
    }
}
