//! One open part file: Arrow builders for the rows not yet handed over, and
//! the Parquet writer holding the in-progress row group.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{Field, Schema, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

use crate::record::SinkError;

use super::columns::ColumnSchema;
use super::encoder::Encoder;
use super::types::LogicalType;
use crate::lineage::{FILE_COLUMN, ROW_COLUMN};

/// Field metadata keys the loader and the catalog registrar read back.
pub(crate) const META_SOURCE_NAME: &str = "landfall.source_name";
pub(crate) const META_TYPE: &str = "landfall.type";

const DICTIONARY_PAGE_BYTES: usize = 128 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParquetCompression {
    /// zstd at the given level (1 is fast and already much smaller than snappy).
    Zstd(i32),
    Snappy,
    None,
}

impl Default for ParquetCompression {
    fn default() -> Self {
        ParquetCompression::Zstd(1)
    }
}

pub(crate) fn writer_properties(
    compression: ParquetCompression,
    row_group_rows: usize,
    row_group_bytes: usize,
) -> Result<WriterProperties, SinkError> {
    let compression = match compression {
        ParquetCompression::Zstd(level) => Compression::ZSTD(
            ZstdLevel::try_new(level).map_err(|e| SinkError::fatal(format!("invalid zstd level {level}: {e}")))?,
        ),
        ParquetCompression::Snappy => Compression::SNAPPY,
        ParquetCompression::None => Compression::UNCOMPRESSED,
    };
    Ok(WriterProperties::builder()
        // Redshift COPY and Spectrum read v1 data pages most reliably.
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(compression)
        .set_dictionary_enabled(true)
        // A small dictionary gives up early on high-cardinality columns (ids,
        // timestamps as text), whose plain pages zstd compresses better anyway:
        // measured ~40% faster and ~20% smaller than the 1 MiB default on
        // clickstream data, while low-cardinality columns stay dictionary-encoded.
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .set_max_row_group_bytes(Some(row_group_bytes.max(1)))
        .set_created_by("landfall".to_string())
        .build())
}

/// The Arrow field of a column, carrying its source name (and "json" for
/// JSON text) so readers of the lake can recover both.
pub(crate) fn arrow_field(col: &ColumnSchema) -> Field {
    let mut meta = HashMap::with_capacity(2);
    meta.insert(META_SOURCE_NAME.to_string(), col.source_name.clone());
    if col.data_type == LogicalType::Json {
        meta.insert(META_TYPE.to_string(), "json".to_string());
    }
    Field::new(&col.name, col.data_type.arrow_type(), col.nullable).with_metadata(meta)
}

pub(crate) fn arrow_schema(cols: &[ColumnSchema]) -> SchemaRef {
    let mut fields: Vec<Field> = cols.iter().map(arrow_field).collect();
    fields.push(Field::new(FILE_COLUMN, arrow_schema::DataType::Utf8, false));
    fields.push(Field::new(ROW_COLUMN, arrow_schema::DataType::Int64, false));
    Arc::new(Schema::new(fields))
}

pub(crate) enum ColBuilder {
    Bool(BooleanBuilder),
    I64(Int64Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    Str(StringBuilder),
}

impl ColBuilder {
    fn new(ty: LogicalType, rows: usize) -> Result<Self, SinkError> {
        Ok(match ty {
            LogicalType::Boolean => ColBuilder::Bool(BooleanBuilder::with_capacity(rows)),
            LogicalType::Int64 => ColBuilder::I64(Int64Builder::with_capacity(rows)),
            LogicalType::Float64 => ColBuilder::F64(Float64Builder::with_capacity(rows)),
            LogicalType::Decimal { precision, scale } => ColBuilder::Dec(
                Decimal128Builder::with_capacity(rows)
                    .with_precision_and_scale(precision, scale)
                    .map_err(|e| SinkError::fatal(format!("decimal({precision},{scale}): {e}")))?,
            ),
            LogicalType::Date => ColBuilder::Date(Date32Builder::with_capacity(rows)),
            LogicalType::Timestamp => ColBuilder::Ts(TimestampMicrosecondBuilder::with_capacity(rows)),
            LogicalType::TimestampTz => {
                ColBuilder::Ts(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"))
            }
            LogicalType::String | LogicalType::Json => {
                ColBuilder::Str(StringBuilder::with_capacity(rows, rows.saturating_mul(16)))
            }
        })
    }

    pub(crate) fn append_null(&mut self) {
        match self {
            ColBuilder::Bool(b) => b.append_null(),
            ColBuilder::I64(b) => b.append_null(),
            ColBuilder::F64(b) => b.append_null(),
            ColBuilder::Dec(b) => b.append_null(),
            ColBuilder::Date(b) => b.append_null(),
            ColBuilder::Ts(b) => b.append_null(),
            ColBuilder::Str(b) => b.append_null(),
        }
    }

    /// The batch so far as an array. The builder starts again with room for
    /// a batch like this one: arrow's builders restart empty and would grow
    /// by doubling, copying each value several times into fresh pages
    /// (measured: most of a conversion's page faults).
    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::I64(b) => finish_reserved(b),
            ColBuilder::F64(b) => finish_reserved(b),
            ColBuilder::Dec(b) => finish_reserved(b),
            ColBuilder::Date(b) => finish_reserved(b),
            ColBuilder::Ts(b) => finish_reserved(b),
            ColBuilder::Str(b) => {
                let array = b.finish();
                *b = StringBuilder::with_capacity(array.len(), array.value_data().len());
                Arc::new(array)
            }
        }
    }
}

fn finish_reserved<T: arrow_array::ArrowPrimitiveType>(b: &mut arrow_array::builder::PrimitiveBuilder<T>) -> ArrayRef {
    let array = b.finish();
    // The data type carries a decimal's precision and scale or a timestamp's zone.
    *b = arrow_array::builder::PrimitiveBuilder::with_capacity(array.len()).with_data_type(array.data_type().clone());
    Arc::new(array)
}

/// `_landfall_file` repeats one value; one array of the full batch length
/// is built once and sliced (zero-copy) for every batch.
pub(crate) fn constant_string_array(value: &str, len: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(value, len)))
}

pub(crate) struct PartFile {
    pub seq: u32,
    pub day: i32,
    pub dt: chrono::NaiveDate,
    pub path: PathBuf,
    /// That part's schema.
    pub columns: Vec<ColumnSchema>,
    pub builders: Vec<ColBuilder>,
    /// Longest text per column in this part, merged into `columns` on close.
    pub max_bytes: Vec<Option<u32>>,
    pub lines: Int64Builder,
    pub batch_len: usize,
    /// Text bytes appended since the last batch.
    pub batch_bytes: usize,
    pub rows: u64,
    pub last_used: u64,
    schema: SchemaRef,
    encoder: Encoder,
}

/// How a part is written, the same for every part of a file.
#[derive(Clone)]
pub(crate) struct PartFormat {
    pub props: WriterProperties,
    pub batch_rows: usize,
    pub row_group_bytes: usize,
    /// Encode on a thread of the part's own.
    pub threaded: bool,
}

impl PartFile {
    pub(crate) fn create(
        path: PathBuf,
        seq: u32,
        day: i32,
        dt: chrono::NaiveDate,
        columns: Vec<ColumnSchema>,
        format: &PartFormat,
    ) -> Result<Self, SinkError> {
        let batch_rows = format.batch_rows;
        let schema = arrow_schema(&columns);
        let builders =
            columns.iter().map(|c| ColBuilder::new(c.data_type, batch_rows)).collect::<Result<Vec<_>, _>>()?;
        let encoder = Encoder::create(
            path.clone(),
            schema.clone(),
            format.props.clone(),
            format.row_group_bytes,
            format.threaded,
        )?;
        Ok(PartFile {
            seq,
            day,
            dt,
            path,
            max_bytes: vec![None; columns.len()],
            columns,
            builders,
            lines: Int64Builder::with_capacity(batch_rows),
            batch_len: 0,
            batch_bytes: 0,
            rows: 0,
            last_used: 0,
            schema,
            encoder,
        })
    }

    /// Hands the buffered rows to the Parquet writer as one RecordBatch.
    pub(crate) fn flush_batch(&mut self, file_column: &ArrayRef) -> Result<(), SinkError> {
        if self.batch_len == 0 {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.builders.len() + 2);
        arrays.extend(self.builders.iter_mut().map(ColBuilder::finish));
        let file_array = if file_column.len() == self.batch_len {
            file_column.clone()
        } else if file_column.len() > self.batch_len {
            file_column.slice(0, self.batch_len)
        } else {
            // Only when batch_rows changed under us; never on the hot path.
            let value = file_column
                .as_any()
                .downcast_ref::<StringArray>()
                .filter(|a| !a.is_empty())
                .map(|a| a.value(0).to_string())
                .unwrap_or_default();
            constant_string_array(&value, self.batch_len)
        };
        arrays.push(file_array);
        arrays.push(Arc::new(self.lines.finish()));
        self.batch_len = 0;
        self.batch_bytes = 0;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| SinkError::fatal(format!("building a record batch for {}: {e}", self.path.display())))?;
        self.encoder.write(batch)
    }

    pub(crate) fn flush_row_group(&mut self) -> Result<(), SinkError> {
        self.encoder.flush_row_group()
    }

    /// Memory held by the in-progress row group.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.encoder.buffered_bytes()
    }

    /// Flushes everything and closes the file; returns its size in bytes.
    pub(crate) fn close(mut self, file_column: &ArrayRef) -> Result<ClosedPart, SinkError> {
        self.flush_batch(file_column)?;
        let bytes = self.encoder.close()?;
        for (col, max) in self.columns.iter_mut().zip(self.max_bytes) {
            col.max_bytes = max.filter(|_| col.data_type.is_text());
        }
        Ok(ClosedPart { seq: self.seq, dt: self.dt, path: self.path, rows: self.rows, bytes, columns: self.columns })
    }
}

pub(crate) struct ClosedPart {
    pub seq: u32,
    pub dt: chrono::NaiveDate,
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    pub columns: Vec<ColumnSchema>,
}
