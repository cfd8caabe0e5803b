//! The Glue Data Catalog as landfall keeps it: one external Parquet table per
//! curated table, partitioned by `dt`, its columns read from the parts'
//! footers.
//!
//! Everything here but [`GlueCatalog`] is pure code: the Hive type of a
//! Parquet column, the merge of a table's columns with a part's (append new
//! columns, widen types, never drop or reorder), and the table and partition
//! definitions. [`Catalog`] is the narrow set of catalog operations the
//! functions need; [`GlueCatalog`] implements it with aws-sdk-glue.

pub mod footer;
#[cfg(feature = "glue")]
mod glue;

use std::collections::BTreeMap;
use std::fmt;

use arrow_schema::{DataType, Field, Schema};
use async_trait::async_trait;
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};

#[cfg(feature = "glue")]
pub use glue::GlueCatalog;

use crate::lineage::PARTITION_KEY;
use crate::schema::parquet::META_TYPE;
use crate::schema::types::{LogicalType, MAX_DECIMAL_PRECISION, join};

/// Parquet's footer: metadata length (4 bytes, little endian) and "PAR1".
pub(crate) const FOOTER_TAIL_LEN: usize = 8;
/// BatchCreatePartition takes at most this many partitions per call.
pub const MAX_PARTITIONS_PER_CREATE: usize = 100;
/// BatchGetPartition takes at most this many partition values per call.
pub const MAX_PARTITIONS_PER_GET: usize = 1000;

pub const TABLE_TYPE: &str = "EXTERNAL_TABLE";
pub const INPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
pub const SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";

/// A column type as Glue, Athena and Redshift Spectrum spell it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HiveType {
    Boolean,
    Bigint,
    Double,
    Decimal {
        precision: u8,
        scale: i8,
    },
    Date,
    Timestamp,
    String,
    /// A type landfall does not write (set by hand, or `binary`); kept as is.
    Other(String),
}

impl HiveType {
    pub(crate) fn from_logical(t: LogicalType) -> HiveType {
        match t {
            LogicalType::Boolean => HiveType::Boolean,
            LogicalType::Int64 => HiveType::Bigint,
            LogicalType::Float64 => HiveType::Double,
            LogicalType::Decimal { precision, scale } => HiveType::Decimal { precision, scale },
            LogicalType::Date => HiveType::Date,
            // Hive's timestamp has no zone; landfall's timestamptz values are UTC.
            LogicalType::Timestamp | LogicalType::TimestampTz => HiveType::Timestamp,
            LogicalType::String | LogicalType::Json => HiveType::String,
        }
    }

    fn to_logical(&self) -> Option<LogicalType> {
        Some(match *self {
            HiveType::Boolean => LogicalType::Boolean,
            HiveType::Bigint => LogicalType::Int64,
            HiveType::Double => LogicalType::Float64,
            HiveType::Decimal { precision, scale } => LogicalType::Decimal { precision, scale },
            HiveType::Date => LogicalType::Date,
            HiveType::Timestamp => LogicalType::Timestamp,
            HiveType::String => LogicalType::String,
            HiveType::Other(_) => return None,
        })
    }

    /// The least type that holds both: the same lattice parse-file widens
    /// by (bigint -> decimal -> double -> string, date -> timestamp,
    /// anything else -> string).
    pub fn join(&self, other: &HiveType) -> HiveType {
        if self == other {
            return self.clone();
        }
        match (self.to_logical(), other.to_logical()) {
            (Some(a), Some(b)) => HiveType::from_logical(join(a, b)),
            _ => HiveType::String,
        }
    }

    /// The Hive type of an Arrow field as parse-file writes it: the
    /// `landfall.type` metadata when it names a type, else the Arrow type.
    pub(crate) fn of_field(field: &Field) -> Result<HiveType, FooterError> {
        if let Some(t) = field.metadata().get(META_TYPE).and_then(|t| t.parse::<LogicalType>().ok()) {
            return Ok(HiveType::from_logical(t));
        }
        Ok(match field.data_type() {
            DataType::Boolean => HiveType::Boolean,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => HiveType::Bigint,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => HiveType::Double,
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s)
                if *p <= MAX_DECIMAL_PRECISION && *s >= 0 =>
            {
                HiveType::Decimal { precision: *p, scale: *s }
            }
            DataType::Date32 | DataType::Date64 => HiveType::Date,
            DataType::Timestamp(_, _) => HiveType::Timestamp,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => HiveType::String,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => HiveType::Other("binary".into()),
            other => {
                return Err(FooterError::UnsupportedType {
                    column: field.name().clone(),
                    arrow_type: other.to_string(),
                });
            }
        })
    }
}

impl fmt::Display for HiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HiveType::Boolean => f.write_str("boolean"),
            HiveType::Bigint => f.write_str("bigint"),
            HiveType::Double => f.write_str("double"),
            HiveType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            HiveType::Date => f.write_str("date"),
            HiveType::Timestamp => f.write_str("timestamp"),
            HiveType::String => f.write_str("string"),
            HiveType::Other(t) => f.write_str(t),
        }
    }
}

impl From<&str> for HiveType {
    /// Reads a type back from the catalog; what landfall does not write stays `Other`.
    fn from(s: &str) -> HiveType {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "boolean" => HiveType::Boolean,
            "bigint" => HiveType::Bigint,
            "double" => HiveType::Double,
            "date" => HiveType::Date,
            "timestamp" => HiveType::Timestamp,
            "string" => HiveType::String,
            _ if t.starts_with("decimal(") => match t.parse::<LogicalType>() {
                Ok(LogicalType::Decimal { precision, scale }) => HiveType::Decimal { precision, scale },
                _ => HiveType::Other(t),
            },
            _ => HiveType::Other(t),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: HiveType,
    /// Kept from the catalog, so a comment someone wrote survives an update.
    pub comment: Option<String>,
}

impl Column {
    pub fn new(name: impl Into<String>, data_type: HiveType) -> Self {
        Self { name: name.into(), data_type, comment: None }
    }
}

/// A Parquet part that cannot be registered: deterministic, so retrying does
/// not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FooterError {
    #[error("not a Parquet file (no PAR1 footer): {0}")]
    NotParquet(String),
    #[error("the Parquet footer cannot be decoded: {0}")]
    BadMetadata(String),
    #[error("column {column} has Arrow type {arrow_type}, which has no Glue type here")]
    UnsupportedType { column: String, arrow_type: String },
}

/// The length of the metadata block from a file's last 8 bytes.
pub(crate) fn footer_metadata_len(tail: &[u8]) -> Result<usize, FooterError> {
    let last = tail.len().checked_sub(FOOTER_TAIL_LEN).and_then(|start| tail.get(start..)).ok_or_else(|| {
        FooterError::NotParquet(format!("{} bytes are fewer than the {FOOTER_TAIL_LEN}-byte footer", tail.len()))
    })?;
    let footer = FooterTail::try_from(last).map_err(|e| FooterError::NotParquet(e.to_string()))?;
    if footer.is_encrypted_footer() {
        return Err(FooterError::BadMetadata("encrypted footers are not supported".into()));
    }
    Ok(footer.metadata_length())
}

/// The columns of a part from its metadata block (the footer without the
/// trailing 8 bytes).
pub(crate) fn columns_from_metadata(metadata: &[u8]) -> Result<Vec<Column>, FooterError> {
    let meta = ParquetMetaDataReader::decode_metadata(metadata).map_err(|e| FooterError::BadMetadata(e.to_string()))?;
    let file = meta.file_metadata();
    let schema = parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
        .map_err(|e| FooterError::BadMetadata(e.to_string()))?;
    columns_from_arrow(&schema)
}

/// The table columns of an Arrow schema, in order. A `dt` column is left
/// out: it is the partition key, which Glue keeps apart from the columns.
pub(crate) fn columns_from_arrow(schema: &Schema) -> Result<Vec<Column>, FooterError> {
    schema
        .fields()
        .iter()
        .filter(|f| !f.name().eq_ignore_ascii_case(PARTITION_KEY))
        .map(|f| Ok(Column::new(f.name().to_ascii_lowercase(), HiveType::of_field(f)?)))
        .collect()
}

/// What merging a part's columns into a table changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merge {
    pub columns: Vec<Column>,
    pub added: Vec<String>,
    /// (column, from, to)
    pub widened: Vec<(String, HiveType, HiveType)>,
}

impl Merge {
    pub fn changed(&self) -> bool {
        !self.added.is_empty() || !self.widened.is_empty()
    }
}

/// The table's columns evolved to hold a part: new columns appended in the
/// part's order, types widened; nothing dropped or reordered. Names compare
/// case-insensitively, as Glue stores them lowercased.
pub fn merge_columns(table: &[Column], part: &[Column]) -> Merge {
    let mut merge = Merge { columns: table.to_vec(), ..Merge::default() };
    for col in part {
        match merge.columns.iter_mut().find(|c| c.name.eq_ignore_ascii_case(&col.name)) {
            Some(existing) => {
                let wider = existing.data_type.join(&col.data_type);
                if wider != existing.data_type {
                    merge.widened.push((existing.name.clone(), existing.data_type.clone(), wider.clone()));
                    existing.data_type = wider;
                }
            }
            None => {
                merge.added.push(col.name.clone());
                merge.columns.push(col.clone());
            }
        }
    }
    merge
}

/// Glue table names: what parse-file's identifiers produce.
pub fn valid_table_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `s3://<curated>/tables/<table>/`
pub fn table_location(curated_bucket: &str, table: &str) -> String {
    format!("s3://{curated_bucket}/{}{table}/", crate::layout::TABLES_PREFIX)
}

/// `<table location>dt=YYYY-MM-DD/`
pub(crate) fn partition_location(table_location: &str, dt: &str) -> String {
    let base = table_location.trim_end_matches('/');
    format!("{base}/{PARTITION_KEY}={dt}/")
}

/// One external Parquet table, as far as landfall manages it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub name: String,
    pub location: String,
    pub columns: Vec<Column>,
    pub partition_keys: Vec<String>,
    /// Table parameters; landfall sets classification and EXTERNAL, and
    /// keeps whatever else is there.
    pub parameters: BTreeMap<String, String>,
    pub description: Option<String>,
    /// The catalog's version of the table when it was read: an update
    /// made against an older version fails with ConcurrentModification
    /// instead of overwriting a concurrent writer's columns.
    pub version_id: Option<String>,
}

impl TableDef {
    pub fn new(name: &str, location: String, columns: Vec<Column>) -> Self {
        let parameters = [("classification", "parquet"), ("EXTERNAL", "TRUE")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        TableDef {
            name: name.to_owned(),
            location,
            columns,
            partition_keys: vec![PARTITION_KEY.to_owned()],
            parameters,
            description: Some("landfall curated table; columns evolve with the Parquet parts".into()),
            version_id: None,
        }
    }

    /// Whether partitions by `dt` alone can be added to it.
    pub fn partitioned_by_dt(&self) -> bool {
        matches!(self.partition_keys.as_slice(), [k] if k.eq_ignore_ascii_case(PARTITION_KEY))
    }

    /// A partition of this table: its location below the table's.
    pub fn partition(&self, dt: &str, columns: Vec<Column>) -> PartitionDef {
        PartitionDef { dt: dt.to_owned(), location: partition_location(&self.location, dt), columns }
    }
}

/// One `dt` partition. Its columns are those of the parts that created it
/// (see the README: Athena reads each partition with its own types and
/// casts them to the table's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDef {
    pub dt: String,
    pub location: String,
    pub columns: Vec<Column>,
}

/// The columns a new partition records: the join of its parts' types, in
/// the table's column order.
pub fn partition_columns<'a>(table: &[Column], parts: impl IntoIterator<Item = &'a [Column]>) -> Vec<Column> {
    let mut joined: Vec<Column> = Vec::new();
    for part in parts {
        joined = merge_columns(&joined, part).columns;
    }
    table
        .iter()
        .filter_map(|t| {
            let own = joined.iter().find(|c| c.name.eq_ignore_ascii_case(&t.name))?;
            Some(Column { name: t.name.clone(), data_type: own.data_type.clone(), comment: t.comment.clone() })
        })
        .collect()
}

/// Why a catalog call failed; the metric label `catalog_errors{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Throttled,
    Server,
    ConcurrentModification,
    Timeout,
    NotFound,
    AlreadyExists,
    InvalidInput,
    AccessDenied,
    /// The table exists but is not one landfall can manage (other partition keys).
    Conflict,
    Other,
}

impl ErrorKind {
    pub fn from_code(code: &str) -> ErrorKind {
        match code {
            "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
                ErrorKind::Throttled
            }
            "InternalServiceException" | "InternalFailure" | "ServiceUnavailable" | "ServiceUnavailableException" => {
                ErrorKind::Server
            }
            "ConcurrentModificationException" => ErrorKind::ConcurrentModification,
            "OperationTimeoutException" | "RequestTimeout" | "RequestTimeoutException" => ErrorKind::Timeout,
            "EntityNotFoundException" => ErrorKind::NotFound,
            "AlreadyExistsException" => ErrorKind::AlreadyExists,
            "InvalidInputException" | "ValidationException" => ErrorKind::InvalidInput,
            "AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException" => ErrorKind::AccessDenied,
            _ => ErrorKind::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::Server => "server",
            ErrorKind::ConcurrentModification => "concurrent_modification",
            ErrorKind::Timeout => "timeout",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Other => "other",
        }
    }

    /// Throttling, 5xx, concurrent updates and timeouts can succeed later.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled | ErrorKind::Server | ErrorKind::ConcurrentModification | ErrorKind::Timeout
        )
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("Glue {operation} {database}.{table}{}: {message}", partition.as_deref().map(|p| format!(" partition dt={p}")).unwrap_or_default())]
pub struct CatalogError {
    pub operation: &'static str,
    pub database: String,
    pub table: String,
    pub partition: Option<String>,
    pub kind: ErrorKind,
    pub message: String,
}

impl CatalogError {
    pub fn retryable(&self) -> bool {
        self.kind.retryable()
    }
}

/// What a catalog needs to do for landfall. Batch calls take at most
/// [`MAX_PARTITIONS_PER_GET`] or [`MAX_PARTITIONS_PER_CREATE`] entries.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// The table, or None if it does not exist.
    async fn get_table(&self, table: &str) -> Result<Option<TableDef>, CatalogError>;
    /// Fails with [`ErrorKind::AlreadyExists`] if someone created it first.
    async fn create_table(&self, table: &TableDef) -> Result<(), CatalogError>;
    async fn update_table(&self, table: &TableDef) -> Result<(), CatalogError>;
    /// Which of these `dt` values the table has partitions for.
    async fn batch_get_partitions(&self, table: &str, dts: &[String]) -> Result<Vec<String>, CatalogError>;
    /// Creates partitions; the per-entry failures come back, one per
    /// partition that was not created (AlreadyExists included, for the
    /// caller to count as success).
    async fn batch_create_partitions(
        &self,
        table: &TableDef,
        partitions: &[PartitionDef],
    ) -> Result<Vec<CatalogError>, CatalogError>;
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::HiveType::*;
    use super::*;

    fn dec(precision: u8, scale: i8) -> HiveType {
        Decimal { precision, scale }
    }

    fn cols(spec: &[(&str, HiveType)]) -> Vec<Column> {
        spec.iter().map(|(n, t)| Column::new(*n, t.clone())).collect()
    }

    #[test]
    fn landfall_types_map_to_hive_types() {
        let cases = [
            (LogicalType::Int64, "bigint"),
            (LogicalType::Float64, "double"),
            (LogicalType::Decimal { precision: 12, scale: 2 }, "decimal(12,2)"),
            (LogicalType::Boolean, "boolean"),
            (LogicalType::Date, "date"),
            (LogicalType::Timestamp, "timestamp"),
            (LogicalType::TimestampTz, "timestamp"),
            (LogicalType::String, "string"),
            (LogicalType::Json, "string"),
        ];
        for (logical, hive) in cases {
            assert_eq!(HiveType::from_logical(logical).to_string(), hive, "{logical}");
            assert_eq!(HiveType::from(hive), HiveType::from_logical(logical), "{hive} reads back");
        }
        assert_eq!(HiveType::from("DECIMAL(38,0)"), dec(38, 0));
        assert_eq!(HiveType::from("array<string>"), Other("array<string>".into()));
    }

    #[test]
    fn widening_follows_the_lattice_and_never_narrows() {
        let cases = [
            (Bigint, Double, Double),
            (Double, String, String),
            (Bigint, dec(12, 2), dec(21, 2)),
            (dec(12, 2), dec(14, 4), dec(14, 4)),
            (dec(10, 0), dec(3, 3), dec(13, 3)),
            (dec(12, 2), Double, Double),
            (Date, Timestamp, Timestamp),
            (Boolean, Bigint, String),
            (Timestamp, Bigint, String),
            (Other("int".into()), Bigint, String),
            (Other("int".into()), Other("int".into()), Other("int".into())),
        ];
        for (a, b, want) in cases {
            assert_eq!(a.join(&b), want, "{a} ⊔ {b}");
            assert_eq!(b.join(&a), want, "{b} ⊔ {a}");
            assert_eq!(want.join(&a), want, "{a} ⊑ {want}");
        }
    }

    #[test]
    fn arrow_fields_map_by_type_and_by_landfall_metadata() {
        let json = Field::new("tags", DataType::Utf8, true)
            .with_metadata(HashMap::from([(META_TYPE.to_string(), "json".to_string())]));
        let declared = Field::new("amount", DataType::Decimal128(12, 2), true)
            .with_metadata(HashMap::from([(META_TYPE.to_string(), "decimal(12,2)".to_string())]));
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("score", DataType::Float64, true),
            declared,
            Field::new("ok", DataType::Boolean, true),
            Field::new("day", DataType::Date32, true),
            Field::new("at", DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some(Arc::from("UTC"))), true),
            json,
            Field::new("_landfall_file", DataType::Utf8, false),
            Field::new("_landfall_row", DataType::Int64, false),
            Field::new("dt", DataType::Utf8, true),
        ]);
        let got: Vec<std::string::String> =
            columns_from_arrow(&schema).unwrap().iter().map(|c| format!("{} {}", c.name, c.data_type)).collect();
        assert_eq!(
            got,
            [
                "id bigint",
                "score double",
                "amount decimal(12,2)",
                "ok boolean",
                "day date",
                "at timestamp",
                "tags string",
                "_landfall_file string",
                "_landfall_row bigint",
            ],
            "dt is the partition key, never a column"
        );
    }

    #[test]
    fn nested_arrow_types_are_refused_with_the_column_name() {
        let schema = Schema::new(vec![Field::new(
            "xs",
            DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
            true,
        )]);
        let err = columns_from_arrow(&schema).unwrap_err();
        assert!(matches!(&err, FooterError::UnsupportedType { column, .. } if column == "xs"), "{err}");
    }

    #[test]
    fn merge_appends_new_columns_and_widens_without_reordering() {
        let table = cols(&[("id", Bigint), ("amount", dec(12, 2)), ("_landfall_file", String)]);
        let part = cols(&[("coupon", String), ("amount", Double), ("id", Bigint)]);
        let m = merge_columns(&table, &part);
        let names: Vec<&str> = m.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "amount", "_landfall_file", "coupon"]);
        assert_eq!(m.added, ["coupon"]);
        assert_eq!(m.widened, vec![("amount".into(), dec(12, 2), Double)]);
        assert!(m.changed());
    }

    #[test]
    fn merge_keeps_columns_a_part_lacks_and_narrower_parts_change_nothing() {
        let table = cols(&[("id", Double), ("note", String)]);
        let m = merge_columns(&table, &cols(&[("ID", Bigint)]));
        assert_eq!(m.columns, table);
        assert!(!m.changed());
    }

    #[test]
    fn partition_columns_join_their_parts_in_table_order() {
        let table = cols(&[("id", Double), ("note", String), ("extra", Bigint)]);
        let p1 = cols(&[("note", String), ("id", Bigint)]);
        let p2 = cols(&[("id", Bigint)]);
        let got = partition_columns(&table, [p1.as_slice(), p2.as_slice()]);
        assert_eq!(got, cols(&[("id", Bigint), ("note", String)]), "the parts' own types, not the table's");
    }

    #[test]
    fn locations_follow_the_curated_layout() {
        let t = TableDef::new("orders", table_location("cur", "orders"), vec![]);
        assert_eq!(t.location, "s3://cur/tables/orders/");
        assert_eq!(t.partition("2026-11-01", vec![]).location, "s3://cur/tables/orders/dt=2026-11-01/");
        assert!(t.partitioned_by_dt());
        assert_eq!(t.parameters.get("classification").map(std::string::String::as_str), Some("parquet"));
    }

    #[test]
    fn table_names_must_be_glue_identifiers() {
        assert!(valid_table_name("partner_clicks_2"));
        for bad in ["", "Orders", "a-b", "a b", "ä"] {
            assert!(!valid_table_name(bad), "{bad}");
        }
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        for code in ["ThrottlingException", "InternalServiceException", "ConcurrentModificationException"] {
            assert!(ErrorKind::from_code(code).retryable(), "{code}");
        }
        for code in ["EntityNotFoundException", "InvalidInputException", "AccessDeniedException", "Whatever"] {
            assert!(!ErrorKind::from_code(code).retryable(), "{code}");
        }
    }

    #[test]
    fn footers_are_read_from_real_parquet_bytes() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let batch = arrow_array::RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(arrow_array::Int64Array::from(vec![1, 2]))],
        )
        .unwrap();
        let mut bytes = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let len = footer_metadata_len(&bytes).unwrap();
        let end = bytes.len() - FOOTER_TAIL_LEN;
        let cols = columns_from_metadata(&bytes[end - len..end]).unwrap();
        assert_eq!(cols, vec![Column::new("id", Bigint)]);
        assert!(matches!(footer_metadata_len(b"PAR"), Err(FooterError::NotParquet(_))));
        assert!(matches!(footer_metadata_len(b"12345678"), Err(FooterError::NotParquet(_))));
        assert!(columns_from_metadata(b"garbage").is_err());
    }
}
