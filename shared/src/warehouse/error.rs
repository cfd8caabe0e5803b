//! What went wrong in a load, with the table and statement it concerns, and
//! what that means for the messages that carried it.

use std::time::Duration;

use crate::disposition::Disposition;
use crate::storage::StorageError;

/// SQLSTATE of a statement naming a table or view that does not exist
/// (PostgreSQL's `undefined_table`; Redshift reports the same condition).
pub const UNDEFINED_TABLE: &str = "42P01";

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The deployment's settings are wrong (a URL, a secret's shape).
    #[error("warehouse configuration: {message}")]
    Config { message: String },
    /// Something landfall itself guarantees did not hold: a bug to report.
    #[error("{table}: internal error: {message}")]
    Invariant { table: String, message: String },
    #[error("reading secret {name}: {message}")]
    Secret { name: String, message: String, retryable: bool },
    #[error("connecting to the warehouse: {message}")]
    Connect { message: String, retryable: bool },
    /// The warehouse ran a statement and refused it or failed it.
    #[error("{table}: {statement}: {message}")]
    Sql { table: String, statement: String, code: Option<String>, message: String, retryable: bool },
    /// A Redshift Data API call itself failed (transport, throttling, a
    /// refused request), before any statement ran.
    #[error("{table}: Data API {operation}: {message}")]
    DataApi { table: String, operation: String, code: Option<String>, message: String, retryable: bool },
    /// A statement still running when the driver stopped waiting.
    #[error("{table}: statement {statement} still running after {waited:?}")]
    Timeout { table: String, statement: String, waited: Duration },
    /// COPY refused so many files' data that the batch is given up.
    #[error("{table}: more than {limit} files refused by COPY; the last: {last}")]
    TooManyRefusals { table: String, limit: usize, last: String },
    #[error("{table}: reading {key}: {source}")]
    Part { table: String, key: String, source: Box<StorageError> },
    #[error("{table}: writing the load rejects: {source}")]
    Rejects { table: String, source: Box<StorageError> },
    #[error("{table}: part {key} cannot be loaded: {message}")]
    Encode { table: String, key: String, message: String },
    #[error("{table}: scratch space: {source}")]
    Scratch { table: String, source: std::io::Error },
}

impl WarehouseError {
    /// Connection faults, serialization failures, deadlocks, throttling and
    /// timeouts are retried; refused SQL, bad settings and broken
    /// invariants go to the dead-letter queue.
    pub fn disposition(&self) -> Disposition {
        match self {
            WarehouseError::Config { .. }
            | WarehouseError::Invariant { .. }
            | WarehouseError::Encode { .. }
            | WarehouseError::TooManyRefusals { .. } => Disposition::DeadLetter,
            WarehouseError::Secret { retryable, .. }
            | WarehouseError::Connect { retryable, .. }
            | WarehouseError::Sql { retryable, .. }
            | WarehouseError::DataApi { retryable, .. } => Disposition::of_fault(*retryable),
            WarehouseError::Part { source, .. } | WarehouseError::Rejects { source, .. } => {
                Disposition::of_fault(source.retryable())
            }
            WarehouseError::Timeout { .. } | WarehouseError::Scratch { .. } => Disposition::Retry,
        }
    }

    /// Whether the statement named a table that does not exist: on a
    /// warehouse nothing was loaded into yet, landfall's own tables are
    /// absent, which readers take as "nothing recorded".
    pub fn is_undefined_table(&self) -> bool {
        matches!(self, WarehouseError::Sql { code: Some(c), .. } if c == UNDEFINED_TABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_left_running_is_retried_and_a_broken_invariant_dead_lettered() {
        let timeout = WarehouseError::Timeout {
            table: "public.orders".into(),
            statement: "st-1".into(),
            waited: Duration::from_secs(840),
        };
        assert_eq!(timeout.disposition(), Disposition::Retry);
        assert!(timeout.to_string().contains("still running after 840s"), "{timeout}");
        let bug = WarehouseError::Invariant { table: "public.orders".into(), message: "x".into() };
        assert_eq!(bug.disposition(), Disposition::DeadLetter);
    }

    #[test]
    fn a_data_api_fault_says_which_call_failed() {
        let e = WarehouseError::DataApi {
            table: "public.orders".into(),
            operation: "ListStatements".into(),
            code: Some("ThrottlingException".into()),
            message: "slow down".into(),
            retryable: true,
        };
        assert_eq!(e.to_string(), "public.orders: Data API ListStatements: slow down");
        assert_eq!(e.disposition(), Disposition::Retry);
    }
}
