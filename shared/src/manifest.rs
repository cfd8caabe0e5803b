//! The manifest parse-file writes last for every source file: the contract
//! between parsing and loading. Its presence means every Parquet part it
//! lists is durable; load-warehouse and the catalog read nothing else to know
//! what a file produced.

use serde::{Deserialize, Serialize};

use crate::schema::ColumnSchema;

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Every record was read (some may have been rejected row by row).
    Parsed,
    /// Records up to a point were read, then the file became unreadable
    /// (e.g. malformed JSON mid-array); the rest is in the rejects.
    Partial,
    /// Nothing could be read; the reason is in the rejects and `error`.
    Failed,
    /// The file was read but nothing in it can be loaded: its rows cannot be
    /// aligned with its header, or every row was rejected. The reason is in
    /// `error`; the ledger records the file as `refused`.
    Refused,
    /// The file holds nothing (no bytes, or only whitespace): nothing to
    /// load and nothing wrong; no reject, no error.
    Empty,
}

impl FileStatus {
    /// The serialised name, also the `outcome` label of `files_processed`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Parsed => "parsed",
            FileStatus::Partial => "partial",
            FileStatus::Failed => "failed",
            FileStatus::Refused => "refused",
            FileStatus::Empty => "empty",
        }
    }

    /// The file has rows to load (all of them, or what could be read). A
    /// failed, refused or empty file loads nothing and changes no table.
    pub(crate) fn has_rows(self) -> bool {
        matches!(self, FileStatus::Parsed | FileStatus::Partial)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceObject {
    pub bucket: String,
    pub key: String,
    pub url: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedInput {
    /// csv, json_array, ndjson, json_stream, ndjson_arrays
    pub format: String,
    pub delimiter: Option<String>,
    pub compression: String,
    pub encoding: String,
    pub decoded_bytes: u64,
    /// The quote character, where it is not `"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Lines skipped before the header (a preamble), where there were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_rows: Option<usize>,
    /// Set where a space after each delimiter was skipped (`a, b, c`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_initial_space: Option<bool>,
    /// Records the header spanned, where it was more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_rows: Option<usize>,
    /// What the reader and the typing decided about the file (a header
    /// fitted to its rows, the order of day-month dates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The order day-month dates were read in, where a column held them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_order: Option<crate::schema::DateOrder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPart {
    pub key: String,
    pub url: String,
    /// The Hive partition value, YYYY-MM-DD.
    pub dt: String,
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub file_id: String,
    pub source: SourceObject,
    pub feed: String,
    pub table: String,
    pub status: FileStatus,
    pub error: Option<String>,
    pub input: Option<DetectedInput>,
    /// The widest schema of the file; each part's own Parquet schema may be
    /// narrower where a column widened mid-file.
    pub schema: Vec<ColumnSchema>,
    pub parts: Vec<ManifestPart>,
    pub rows: u64,
    pub rejected_rows: u64,
    pub rejects_key: Option<String>,
    pub widenings: Vec<String>,
    pub discarded_columns: Vec<String>,
    pub arrival_date: String,
    pub parsed_at: String,
    pub producer: String,
}

impl Manifest {
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data structures cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
