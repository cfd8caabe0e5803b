//! The columns landfall adds to every table, in the lake and the warehouse.
//! One place names them: the writer stamps them, the catalog partitions on
//! `dt`, the warehouse carries them through staging and the ledger joins on
//! `_landfall_file`. Also the other names landfall reserves in a warehouse:
//! the schema of its bookkeeping tables and its DDL lock, here so that the
//! config can refuse them without reaching into a driver.

/// The source object's `s3://` URL.
pub const FILE_COLUMN: &str = "_landfall_file";
/// The row's line in the source (or its record number in a JSON array).
pub const ROW_COLUMN: &str = "_landfall_row";
/// When the warehouse committed the row.
pub const LOADED_AT_COLUMN: &str = "_landfall_loaded_at";
/// The Hive partition key.
pub const PARTITION_KEY: &str = "dt";
/// Names a source column can never take.
pub const RESERVED_NAMES: [&str; 4] = [FILE_COLUMN, ROW_COLUMN, LOADED_AT_COLUMN, PARTITION_KEY];

/// Schema of landfall's bookkeeping tables (the ledger, `load_rejects`, the
/// stats, alerts, digests and job runs); no feed's warehouse schema.
pub const LEDGER_SCHEMA: &str = "landfall";
