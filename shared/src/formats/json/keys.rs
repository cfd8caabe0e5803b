//! How far the JSON reader's key registry may grow, and which objects are
//! data rather than schema. A file's keys are the partner's: one new key
//! per line (ids or dates as keys, `{"tier_and_details": {"<id>": ...}}`)
//! would otherwise add a node, a column and a Parquet column chunk per line.
//!
//! Two bounds hold the registry to the file's column cap:
//! - an object below the record whose key looks like an id or a date, or
//!   that reaches `json.map_keys` distinct keys (DuckDB's
//!   `map_inference_threshold` does the same), is a map: from then on its
//!   whole value is one JSON column (noted in the manifest, which
//!   `landfall infer` shows);
//! - past [`MAX_KEYS`] keys in the whole file, or past [`MAX_LATE_KEYS`]
//!   top-level keys first seen after record [`LATE_AFTER`], a record
//!   bringing a new key is rejected with the key and the reason (the record
//!   itself cannot be a map: its keys are the columns). A column that
//!   appears after the writer has decided the types closes every open part,
//!   so keys that keep appearing would make a part per key, each as wide as
//!   the table: the late bound keeps that to a few dozen.

/// Keys one file's registry holds at most: twice the columns a table can
/// have (interior objects take keys but no column), so the writer's cap
/// is met before this one on a flat file.
pub(crate) const MAX_KEYS: usize = 2 * crate::schema::MAX_COLUMNS;

/// Records after which a new top-level key is late: the writer has
/// decided the types (`WriterOptions::infer_rows`) and each new column costs
/// a part.
pub(crate) const LATE_AFTER: u64 = 1000;

/// Late top-level keys one file may bring.
pub(crate) const MAX_LATE_KEYS: usize = 64;

/// Why the registry refused a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PastReason {
    /// The registry holds [`MAX_KEYS`].
    Registry,
    /// A top-level key new at this record, past [`MAX_LATE_KEYS`].
    Late(u64),
}

impl PastReason {
    pub(super) fn explain(self, key: &str) -> String {
        let key: String = key.chars().take(64).collect();
        match self {
            PastReason::Registry => format!("key {key:?} is new past the {MAX_KEYS} distinct keys one file may have"),
            PastReason::Late(n) => format!(
                "key {key:?} is new at record {n}, after {MAX_LATE_KEYS} other keys appeared past record {LATE_AFTER}: \
                 keys that keep appearing are data; nest them in an object (read as one JSON column) or declare the schema"
            ),
        }
    }
}

/// Distinct keys past which a nested object is read as a map, unless the
/// feed sets `json.map_keys`.
pub const DEFAULT_MAP_KEYS: usize = 200;

/// Why a nested object became one JSON column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MapReason {
    /// A key that looks like an id or a date.
    DataKey(Box<str>),
    /// More distinct keys than the feed's `json.map_keys`.
    ManyKeys(usize),
}

impl MapReason {
    pub(super) fn explain(&self) -> String {
        match self {
            MapReason::DataKey(k) => {
                format!("its key {:?} looks like an id or a date", k.chars().take(64).collect::<String>())
            }
            MapReason::ManyKeys(n) => format!("it has more than {n} distinct keys (json.map_keys)"),
        }
    }
}

/// Whether a key names a value rather than a field: a number, a UUID, 16
/// or more hex digits with at least one digit (MongoDB ObjectIds, hashes),
/// or an ISO date (`2026-12-01`, with or without a time).
pub(super) fn looks_like_data(key: &str) -> bool {
    let b = key.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    let iso_date = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit);
    if iso_date {
        return true;
    }
    let hex = key.replace('-', "");
    let dashes = key.len() - hex.len();
    let all_hex = hex.bytes().all(|c| c.is_ascii_hexdigit());
    let uuid = dashes == 4 && hex.len() == 32 && all_hex;
    let hash = dashes == 0 && hex.len() >= 16 && all_hex && hex.bytes().any(|c| c.is_ascii_digit());
    uuid || hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_hashes_uuids_and_dates_are_data() {
        for k in [
            "12345",
            "5ca4bbc1a2dd94ee58161cb1",
            "d41d8cd98f00b204e9800998ecf8427e",
            "123e4567-e89b-12d3-a456-426614174000",
            "2026-12-01",
            "2026-12-01T10:00:00Z",
        ] {
            assert!(looks_like_data(k), "{k}");
        }
    }

    #[test]
    fn field_names_are_not() {
        for k in ["name", "address_line1", "tier", "deadbeefdeadbeef", "k12", "a-b-c-d-e", "2026-1-1", ""] {
            assert!(!looks_like_data(k), "{k}");
        }
    }
}
