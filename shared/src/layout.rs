//! Where things live in the curated bucket. Every output key is derived from
//! the source object's identity, so a retry or a duplicate event overwrites
//! the same keys instead of adding new ones.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

pub const TABLES_PREFIX: &str = "tables/";
pub const MANIFESTS_PREFIX: &str = "_manifests/";
pub const REJECTS_PREFIX: &str = "_rejects/";
pub const COLUMN_MAPS_PREFIX: &str = "_columns/";
/// Where parse-file writes a file's parts while it converts: no catalog
/// event, crawler or Athena query looks here; the parts move under
/// [`TABLES_PREFIX`] once the whole file is converted, just before its manifest.
pub const STAGING_PREFIX: &str = "_staging/";
pub const FAILURES_PREFIX: &str = "_failures/";
/// The rejects "feed" for landing keys that match no configured feed.
pub const UNMATCHED_FEED: &str = "_unmatched";

/// A stable id for one version of one source object: the same bytes at the
/// same key always map to the same id (so dropping a file again is a no-op
/// downstream), a changed file at the same key gets a new one.
///
/// The ETag is the content identity S3 gives every object; the version id is
/// only a fallback, because re-uploading identical bytes to a versioned bucket
/// creates a new version of the same content.
pub fn file_id(bucket: &str, key: &str, etag: Option<&str>, version_id: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(bucket.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    h.update([0]);
    match (etag, version_id) {
        (Some(etag), _) => {
            h.update(b"etag:");
            h.update(etag.trim_matches('"').as_bytes());
        }
        (None, Some(version)) => {
            h.update(b"version:");
            h.update(version.as_bytes());
        }
        (None, None) => {}
    }
    let digest = h.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

pub fn part_key(table: &str, dt: NaiveDate, file_id: &str, seq: u32) -> String {
    format!("{TABLES_PREFIX}{table}/dt={}/{file_id}-{seq}.parquet", dt.format("%Y-%m-%d"))
}

/// Where part `seq` of a file waits while the file converts (see [`STAGING_PREFIX`]).
pub fn staged_part_key(table: &str, dt: NaiveDate, file_id: &str, seq: u32) -> String {
    format!("{STAGING_PREFIX}{table}/{file_id}/dt={}/{file_id}-{seq}.parquet", dt.format("%Y-%m-%d"))
}

pub fn manifest_key(table: &str, file_id: &str) -> String {
    format!("{MANIFESTS_PREFIX}{table}/{file_id}.json")
}

/// A table's recorded map from source names to columns (`schema::ColumnMap`),
/// read and extended by parse-file so every file of the table names its
/// columns the same way.
pub fn column_map_key(table: &str) -> String {
    format!("{COLUMN_MAPS_PREFIX}{table}.json")
}

/// The last error parse-file met on a file (`parse_failures::ParseFailure`).
pub fn parse_failure_key(feed: &str, file_id: &str) -> String {
    format!("{FAILURES_PREFIX}{feed}/{file_id}.json")
}

pub fn rejects_key(feed: &str, file_id: &str) -> String {
    format!("{REJECTS_PREFIX}{feed}/{file_id}.jsonl.gz")
}

/// Rows and files the loader set aside in one load (deterministic per load,
/// so a retried load overwrites its own record).
pub(crate) fn load_rejects_key(feed: &str, load_id: &str) -> String {
    format!("{REJECTS_PREFIX}{feed}/load-{load_id}.jsonl.gz")
}

pub fn s3_url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// Splits `s3://bucket/key` into its parts.
pub fn parse_s3_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// A curated Parquet key split into table and partition, e.g. for
/// register-partitions: `tables/orders/dt=2026-11-01/abc-0.parquet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartKey<'a> {
    pub table: &'a str,
    pub dt: &'a str,
    pub file: &'a str,
}

pub fn parse_part_key(key: &str) -> Option<PartKey<'_>> {
    let rest = key.strip_prefix(TABLES_PREFIX)?;
    let mut it = rest.splitn(3, '/');
    let table = it.next().filter(|t| !t.is_empty())?;
    let dt = it.next()?.strip_prefix("dt=")?;
    let file = it.next().filter(|f| f.ends_with(".parquet") && !f.contains('/'))?;
    NaiveDate::parse_from_str(dt, "%Y-%m-%d").ok()?;
    Some(PartKey { table, dt, file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_id_is_stable_and_content_addressed() {
        let a = file_id("b", "k.csv", Some("\"abc\""), Some("v1"));
        assert_eq!(a, file_id("b", "k.csv", Some("abc"), Some("v2")), "same bytes re-uploaded: same id");
        assert_ne!(a, file_id("b", "k.csv", Some("abd"), Some("v1")), "changed bytes: new id");
        assert_ne!(a, file_id("b", "k2.csv", Some("abc"), None), "other key: new id");
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn file_id_falls_back_to_version_then_key() {
        assert_ne!(file_id("b", "k", None, Some("v1")), file_id("b", "k", None, Some("v2")));
        assert_eq!(file_id("b", "k", None, None), file_id("b", "k", None, None));
    }

    #[test]
    fn keys_follow_the_documented_layout() {
        let dt = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(part_key("orders", dt, "f00", 2), "tables/orders/dt=2026-11-01/f00-2.parquet");
        assert_eq!(manifest_key("orders", "f00"), "_manifests/orders/f00.json");
        assert_eq!(rejects_key("orders_feed", "f00"), "_rejects/orders_feed/f00.jsonl.gz");
    }

    #[test]
    fn part_keys_round_trip() {
        let k = parse_part_key("tables/orders/dt=2026-11-01/f00-2.parquet").unwrap();
        assert_eq!((k.table, k.dt, k.file), ("orders", "2026-11-01", "f00-2.parquet"));
        assert!(parse_part_key("tables/orders/dt=2026-13-01/x.parquet").is_none());
        assert!(parse_part_key("tables/orders/x.parquet").is_none());
        assert!(parse_part_key("_manifests/orders/x.json").is_none());
    }

    #[test]
    fn s3_urls_parse() {
        assert_eq!(parse_s3_url("s3://b/a/b.yaml"), Some(("b", "a/b.yaml")));
        assert_eq!(parse_s3_url("s3://b/"), None);
        assert_eq!(parse_s3_url("/etc/x"), None);
    }
}
