//! What a failed statement means: COPY's load errors (from
//! `sys_load_error_detail` / `stl_load_errors`), which file a COPY failure
//! blames, and which statement errors pass with time.

use super::PartLayout;

/// A load error row from `sys_load_error_detail` / `stl_load_errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrorDetail {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<String>,
    pub column_type: Option<String>,
    pub reason: String,
}

impl LoadErrorDetail {
    pub fn describe(&self) -> String {
        let mut s = format!("COPY refused {}", self.file);
        if let Some(l) = self.line {
            s.push_str(&format!(" row {l}"));
        }
        if let Some(c) = &self.column {
            s.push_str(&format!(" column {c}"));
        }
        if let Some(t) = &self.column_type {
            s.push_str(&format!(" ({t})"));
        }
        s.push_str(&format!(": {}", self.reason));
        s
    }
}

/// Whether a failed statement's error passes with time: serializable
/// isolation conflicts (Redshift error 1023), deadlocks, a concurrent
/// creator of the same table or column, lost connections.
pub fn retryable_statement_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "serializable isolation violation",
        "deadlock",
        "concurrent transaction",
        "already exists",
        "connection",
        "timeout",
        "timed out",
        "out of memory",
        "disk full",
        "please retry",
        "temporarily unavailable",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// The SQLSTATE a failed statement's message stands for, where a reader
/// acts on it. DescribeStatement's `Error` carries the server's message
/// only ("ERROR: relation \"sales\" does not exist"), not its SQLSTATE:
/// https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_DescribeStatement.html
pub fn sqlstate_of(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    let relation = m.find("relation \"").map(|at| &m[at..]);
    relation.filter(|r| r.contains("\" does not exist")).map(|_| crate::warehouse::error::UNDEFINED_TABLE)
}

/// Whether a failed statement is a COPY that refused data (rather than SQL or a fault).
pub fn is_load_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "load into table",
        "stl_load_errors",
        "sys_load_error_detail",
        "spectrum scan error",
        "incompatible parquet schema",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// The file a COPY failure is about: the part a load error names, else a
/// part whose name the error message carries.
pub(super) fn blame(details: &[LoadErrorDetail], message: &str, parts: &[&PartLayout]) -> Option<(usize, String)> {
    let same = |named: &str, url: &str| {
        let named = named.trim().trim_start_matches("s3://");
        !named.is_empty() && (named.contains(url.trim_start_matches("s3://")) || url.contains(named))
    };
    details.iter().find_map(|e| parts.iter().find(|p| same(&e.file, &p.url)).map(|p| (p.file, e.describe()))).or_else(
        || {
            parts
                .iter()
                .find(|p| p.url.rsplit('/').next().is_some_and(|name| message.contains(name)))
                .map(|p| (p.file, message.to_owned()))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_errors_are_classified() {
        assert!(retryable_statement_error("ERROR: 1023 DETAIL: Serializable isolation violation on table"));
        assert!(retryable_statement_error("ERROR: relation \"orders\" already exists"));
        assert!(!retryable_statement_error("ERROR: column \"x\" does not exist in orders"));
        assert!(is_load_error("Load into table 'landfall_raw_0' failed. Check 'sys_load_error_detail'"));
        assert!(!is_load_error("syntax error at or near"));
    }

    #[test]
    fn a_missing_relation_is_undefined_table_and_a_missing_column_is_not() {
        assert_eq!(sqlstate_of("ERROR: relation \"landfall.failures\" does not exist"), Some("42P01"));
        assert_eq!(sqlstate_of("ERROR: column \"x\" does not exist in orders"), None);
        assert_eq!(sqlstate_of("ERROR: syntax error at or near \"LOCKX\""), None);
    }
}
