//! Typed tables from loosely typed records: column naming, type inference
//! and widening, coercion, Hive-style date partitioning and Parquet output.

pub mod naming;
pub mod parquet;
pub mod types;
pub mod values;
pub mod writer;

pub use naming::{NameRegistry, normalize_identifier};
pub use parquet::ParquetCompression;
pub use types::{LogicalType, join};
pub use writer::{
    ColumnSchema, DeclaredColumn, FinishedPart, PartSummary, RejectedRow, SchemaContract, TableWriter, WriteSummary,
    WriterOptions,
};
