//! Null tokens: the words exporters write for a missing value (`NA` from R,
//! `NULL` from databases, `#N/A` from spreadsheets). They are read as
//! missing only in a column whose other values are numbers, dates, times or
//! booleans; in a text column they stay values, because there they are as
//! likely data (`NA` is Namibia's country code and a league's code).

use crate::record::Value;

/// The tokens read as missing in typed columns unless a feed sets
/// `csv.null_values` (pandas' and pyarrow's defaults, less the rare ones).
pub const DEFAULT_NULL_TOKENS: [&str; 9] = ["NA", "N/A", "NULL", "null", "None", "#N/A", "NaN", "nan", "-"];

/// A set of null tokens, checked on the hot path: most values are longer
/// than any token and are told apart by their length alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NullTokens {
    tokens: Vec<String>,
    longest: usize,
}

impl NullTokens {
    pub fn new(tokens: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let tokens: Vec<String> = tokens.into_iter().map(Into::into).filter(|t: &String| !t.is_empty()).collect();
        let longest = tokens.iter().map(String::len).max().unwrap_or(0);
        Self { tokens, longest }
    }

    /// [`DEFAULT_NULL_TOKENS`].
    pub fn defaults() -> Self {
        Self::new(DEFAULT_NULL_TOKENS)
    }

    /// `v` is one of the tokens (text only: a JSON `null` is null anyway).
    #[inline]
    pub fn matches(&self, v: &Value<'_>) -> bool {
        match *v {
            Value::Text(s) => s.len() <= self.longest && self.tokens.iter().any(|t| t == s),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::LogicalType;
    use crate::schema::test_support::{harness, ints, read, strings};

    #[test]
    fn only_text_equal_to_a_token_matches() {
        let n = NullTokens::defaults();
        for token in DEFAULT_NULL_TOKENS {
            assert!(n.matches(&Value::Text(token)), "{token}");
        }
        for other in ["na", "NAN", "Namibia", "--", "0", ""] {
            assert!(!n.matches(&Value::Text(other)), "{other}");
        }
        assert!(!n.matches(&Value::Json("\"NA\"")));
        assert!(!NullTokens::default().matches(&Value::Text("NA")));
    }

    #[test]
    fn tokens_are_missing_in_typed_columns_and_values_in_text_ones() {
        let mut h = harness(|o| o.infer_rows = 2);
        // The third row comes after types are decided, the fourth is a token
        // in a column that has seen only tokens so far.
        h.csv(
            &["delay", "country", "late"],
            &[&["NA", "US", "NA"], &["12", "NA", "NULL"], &["#N/A", "NA", "N/A"], &["-", "CA", "NaN"]],
        );
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert!(rejects.is_empty(), "{rejects:?}");
        let types: Vec<LogicalType> = summary.columns.iter().map(|c| c.data_type).collect();
        assert_eq!(types, vec![LogicalType::Int64, LogicalType::String, LogicalType::String]);
        let (_, batch) = read(&parts[0].path);
        assert_eq!(ints(&batch, "delay"), vec![None, Some(12), None, None]);
        let country: Vec<Option<String>> = ["US", "NA", "NA", "CA"].map(|s| Some(s.to_owned())).into();
        assert_eq!(strings(&batch, "country"), country);
        // A column of nothing but tokens has no other values to say it is typed.
        assert_eq!(strings(&batch, "late")[0].as_deref(), Some("NA"));
    }

    #[test]
    fn without_tokens_a_token_is_text() {
        let mut h = harness(|o| o.null_tokens = NullTokens::default());
        h.csv(&["delay"], &[&["NA"], &["12"]]);
        let (summary, ..) = h.finish();
        assert_eq!(summary.columns[0].data_type, LogicalType::String);
    }
}
