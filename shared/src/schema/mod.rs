//! Typed tables from loosely typed records: column naming, type inference
//! and widening, coercion, Hive-style date partitioning and Parquet output.

mod coerce;
pub mod column_map;
mod columns;
pub mod contract;
pub mod dates;
mod encoder;
mod held;
mod infer;
pub mod naming;
pub mod nulls;
pub mod parquet;
mod parts;
mod spill;
#[cfg(test)]
mod test_support;
pub mod types;
pub mod values;
pub mod writer;

pub use coerce::Oversize;
pub use column_map::{ColumnMap, MapConflict};
pub use columns::ColumnSchema;
pub(crate) use columns::MAX_COLUMNS;
pub use contract::{DeclaredColumn, SchemaContract};
pub use dates::{DateOrder, DateRules};
pub use naming::{NameRegistry, NamingError, fit_identifier, normalize_identifier};
pub use nulls::{DEFAULT_NULL_TOKENS, NullTokens};
pub use parquet::ParquetCompression;
pub use parts::{FinishedPart, PartSummary};
pub use types::{LogicalType, join};
pub use writer::{DEFAULT_MAX_PARTITIONS, RejectedRow, TableWriter, WriteSummary, WriterOptions};
