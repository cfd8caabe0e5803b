//! The load ledger, `landfall.load_ledger`: one row per (table, file) ever
//! loaded, refused or failed, written in the same transaction as the rows.
//! Both drivers record a file through [`LedgerRow`] and read it back through
//! [`LedgerStatus`]; the SQL that creates, fills and reads the ledger is
//! here, for both dialects.

use std::str::FromStr;

use serde::Serialize;

use crate::manifest::FileStatus;
use crate::warehouse::LoadFile;
use crate::warehouse::sql::{Dialect, TableName};

use crate::lineage::LEDGER_SCHEMA;
pub(crate) const LEDGER_TABLE: &str = "load_ledger";

impl TableName {
    pub fn ledger() -> Self {
        TableName::new(LEDGER_SCHEMA, LEDGER_TABLE)
    }
}

/// What the ledger says of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerStatus {
    /// Every row the manifest lists was loaded (less rows rejected at load).
    Loaded,
    /// The file was only partly readable; what was read is loaded.
    Partial,
    /// parse-file could not read it at all; nothing to load.
    Failed,
    /// The loader refused it (schema contract, or too many data errors).
    Refused,
    /// The file held nothing; nothing to load and nothing wrong.
    Empty,
}

impl LedgerStatus {
    /// A file's status from whether the loader refused it and how parse-file read it.
    pub fn of(refused: bool, parsed: FileStatus) -> LedgerStatus {
        match (refused, parsed) {
            (true, _) | (_, FileStatus::Refused) => LedgerStatus::Refused,
            (false, FileStatus::Failed) => LedgerStatus::Failed,
            (false, FileStatus::Partial) => LedgerStatus::Partial,
            (false, FileStatus::Parsed) => LedgerStatus::Loaded,
            (false, FileStatus::Empty) => LedgerStatus::Empty,
        }
    }

    /// Whether the ledger's row settles the file: its rows are in the table
    /// (all, or what could be read). A `failed`, `refused` or `empty` row does not: the
    /// file may come again (replayed after a fix to the feed or the table)
    /// and then replaces that row, in the load's transaction.
    pub fn settled(self) -> bool {
        matches!(self, LedgerStatus::Loaded | LedgerStatus::Partial)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerStatus::Loaded => "loaded",
            LedgerStatus::Partial => "partial",
            LedgerStatus::Failed => "failed",
            LedgerStatus::Refused => "refused",
            LedgerStatus::Empty => "empty",
        }
    }
}

/// A ledger status landfall never writes (the row was edited by hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ledger status {0:?}")]
pub struct UnknownLedgerStatus(pub String);

impl FromStr for LedgerStatus {
    type Err = UnknownLedgerStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "loaded" => LedgerStatus::Loaded,
            "partial" => LedgerStatus::Partial,
            "failed" => LedgerStatus::Failed,
            "refused" => LedgerStatus::Refused,
            "empty" => LedgerStatus::Empty,
            other => return Err(UnknownLedgerStatus(other.to_owned())),
        })
    }
}

/// The ledger's `detail` column: why a file's row says what it says.
#[derive(Debug, Serialize)]
struct LedgerDetail<'a> {
    /// Columns the load added and widened (as many as fit; see [`DETAIL_CHANGES_BYTES`]).
    changes: Vec<&'a str>,
    /// Why the file was refused, or why parse-file could not read it.
    reason: Option<&'a str>,
    rows_rejected_at_parse: u64,
    parse_status: &'static str,
    /// parse-file's rejects of this file.
    rejects: Option<&'a str>,
    /// Where this load writes the rows (and files) it set aside.
    load_rejects: Option<&'a str>,
}

/// The bytes of `detail` the change list may take: `detail` is a
/// varchar(65535) (Redshift's longest), and a file that adds 1,000 columns
/// of 63-byte names lists about 90,000 bytes of changes.
const DETAIL_CHANGES_BYTES: usize = 48 * 1024;
/// The bytes of `detail` a reason may take (a server's message can be long).
const DETAIL_REASON_BYTES: usize = 8 * 1024;

/// The leading changes whose JSON fits [`DETAIL_CHANGES_BYTES`].
fn fit_changes(changes: &[String]) -> Vec<&str> {
    let mut used = 0;
    let mut out = Vec::new();
    for c in changes {
        // Quotes, a comma and escapes: a change's JSON is at most twice its length and 3.
        used += 2 * c.len() + 3;
        if used > DETAIL_CHANGES_BYTES {
            break;
        }
        out.push(c.as_str());
    }
    out
}

/// One file as the ledger records it. The rows it loaded and rejected at
/// load are counted by the driver ([`Counted`]) or, in the staged plan, in
/// SQL from the staged rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub file_id: String,
    /// The source URL: the `_landfall_file` value of its rows.
    pub source_url: String,
    /// Batch order: the later file wins a merge tie.
    pub seq: u32,
    pub feed: String,
    pub etag: Option<String>,
    pub manifest_key: String,
    pub status: LedgerStatus,
    /// Rows parse-file set aside (the ledger's `rows_rejected` adds those set aside at load).
    pub rows_rejected_at_parse: u64,
    /// JSON, see [`LedgerDetail`].
    pub detail: String,
}

impl LedgerRow {
    /// The row of one file of a load: `refused` says why the loader refused
    /// it, `changes` what the load did to the table, `load_rejects` where
    /// the load's rejects go.
    pub fn new(file: &LoadFile, refused: Option<&str>, changes: &[String], load_rejects: Option<&str>) -> LedgerRow {
        let m = &file.manifest;
        let reason = Self::reason(file, refused);
        let reason = reason.as_deref().map(|r| crate::record::truncate(r, DETAIL_REASON_BYTES));
        let more;
        let mut listed = fit_changes(changes);
        if listed.len() < changes.len() {
            more = format!("... and {} more changes", changes.len() - listed.len());
            listed.push(&more);
        }
        let detail = LedgerDetail {
            changes: listed,
            reason,
            rows_rejected_at_parse: m.rejected_rows,
            parse_status: m.status.as_str(),
            rejects: m.rejects_key.as_deref(),
            load_rejects,
        };
        LedgerRow {
            file_id: m.file_id.clone(),
            source_url: m.source.url.clone(),
            seq: file.seq,
            feed: m.feed.clone(),
            etag: m.source.etag.clone(),
            manifest_key: file.manifest_key.clone(),
            status: LedgerStatus::of(refused.is_some(), m.status),
            rows_rejected_at_parse: m.rejected_rows,
            detail: serde_json::to_string(&detail).unwrap_or_else(|_| "{}".into()),
        }
    }

    /// Why the file loaded nothing: the loader's refusal, else parse-file's error.
    pub fn reason(file: &LoadFile, refused: Option<&str>) -> Option<String> {
        refused.map(str::to_owned).or_else(|| file.manifest.error.clone())
    }
}

/// What a driver that counts rows itself (PostgreSQL) adds to a [`LedgerRow`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub rows_loaded: u64,
    pub rows_rejected_at_load: u64,
}

/// One file's outcome in a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileResult {
    pub file_id: String,
    pub manifest_key: String,
    pub status: LedgerStatus,
    pub rows_loaded: u64,
    /// Rejected by parse-file plus rejected at load.
    pub rows_rejected: u64,
    pub reason: Option<String>,
}

/// What a committed load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub load_id: String,
    pub table: String,
    /// Files recorded by this load.
    pub files: Vec<FileResult>,
    /// Files the ledger already held (duplicate deliveries, retries after a commit).
    pub already_loaded: Vec<String>,
    /// Columns added and widened, as the ledger says them.
    pub changes: Vec<String>,
    pub rows_loaded: u64,
    pub rows_rejected_at_load: u64,
    /// Where rows rejected at load (and refused files) are described.
    pub rejects_key: Option<String>,
    /// COPY attempts (more than one when rows had to be set aside).
    pub attempts: u32,
}

/// The ledger's columns, in insert order.
pub const LEDGER_COLUMNS: &str = "table_name, file_id, feed, source_url, etag, manifest_key, status, rows_loaded, \
                                  rows_rejected, load_id, loaded_at, detail";

impl Dialect {
    /// The ledger: one row per (table, file) ever loaded, refused or failed.
    pub fn create_ledger(self) -> String {
        let pk = match self {
            Dialect::Postgres => ",\n  PRIMARY KEY (table_name, file_id)",
            // Redshift does not enforce keys; the loader's NOT EXISTS does.
            Dialect::Redshift => "",
        };
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n  table_name varchar(512) NOT NULL,\n  file_id varchar(64) NOT NULL,\n  \
             feed varchar(256) NOT NULL,\n  source_url varchar(2048) NOT NULL,\n  etag varchar(256),\n  \
             manifest_key varchar(1024) NOT NULL,\n  status varchar(32) NOT NULL,\n  rows_loaded bigint NOT NULL,\n  \
             rows_rejected bigint NOT NULL,\n  load_id varchar(64) NOT NULL,\n  loaded_at timestamptz NOT NULL,\n  \
             detail varchar({}){pk}\n)",
            TableName::ledger(),
            crate::warehouse::sql::MAX_VARCHAR,
        )
    }

    /// Records files whose rows the driver counted; a file already recorded
    /// for this table is left as it is (a duplicate delivery racing this load).
    pub fn insert_ledger(
        self,
        target: &TableName,
        load_id: &str,
        loaded_at_rfc3339: &str,
        rows: &[(LedgerRow, Counted)],
    ) -> Option<String> {
        if rows.is_empty() {
            return None;
        }
        let table = self.literal(&target.plain());
        let at = self.timestamptz_literal(loaded_at_rfc3339);
        let load_id = self.literal(load_id);
        let rows = rows
            .iter()
            .map(|(r, c)| {
                format!(
                    "SELECT {table} AS table_name, {} AS file_id, {} AS feed, {} AS source_url, {} AS etag, {} AS manifest_key, \
                     {} AS status, {} AS rows_loaded, {} AS rows_rejected, {load_id} AS load_id, {at} AS loaded_at, {} AS detail",
                    self.literal(&r.file_id),
                    self.literal(&r.feed),
                    self.literal(&r.source_url),
                    self.opt_literal(r.etag.as_deref()),
                    self.literal(&r.manifest_key),
                    self.literal(r.status.as_str()),
                    c.rows_loaded,
                    r.rows_rejected_at_parse + c.rows_rejected_at_load,
                    self.literal(&r.detail),
                )
            })
            .collect::<Vec<_>>()
            .join("\n  UNION ALL ");
        let ledger = TableName::ledger();
        Some(format!(
            "INSERT INTO {ledger} ({LEDGER_COLUMNS})\nSELECT * FROM (\n  {rows}\n) n\nWHERE NOT EXISTS \
             (SELECT 1 FROM {ledger} l WHERE l.table_name = n.table_name AND l.file_id = n.file_id)"
        ))
    }

    /// The ids among `file_ids` whose rows the table holds (settled ledger rows).
    pub fn select_loaded(self, target: &TableName, file_ids: &[&str]) -> String {
        format!("{} AND {}", self.select_ledger(target, file_ids, "file_id"), self.settled_condition(""))
    }

    /// `status IN ('loaded', 'partial')`, of the ledger aliased `alias` (or unqualified).
    pub fn settled_condition(self, alias: &str) -> String {
        let col = if alias.is_empty() { "status".to_owned() } else { format!("{alias}.status") };
        format!(
            "{col} IN ({}, {})",
            self.literal(LedgerStatus::Loaded.as_str()),
            self.literal(LedgerStatus::Partial.as_str())
        )
    }

    /// Removes the `failed` and `refused` rows of files this load records
    /// again, so their new outcome replaces the old one.
    pub fn delete_superseded(self, target: &TableName, file_ids: &[&str]) -> Option<String> {
        if file_ids.is_empty() {
            return None;
        }
        let ids = self.literal_list(file_ids);
        Some(format!(
            "DELETE FROM {} WHERE table_name = {} AND file_id IN ({ids}) AND NOT ({})",
            TableName::ledger(),
            self.literal(&target.plain()),
            self.settled_condition("")
        ))
    }

    /// `columns` of the ledger rows of these files of this table.
    pub fn select_ledger(self, target: &TableName, file_ids: &[&str], columns: &str) -> String {
        let ids = self.literal_list(file_ids);
        format!(
            "SELECT {columns} FROM {} WHERE table_name = {} AND file_id IN ({ids})",
            TableName::ledger(),
            self.literal(&target.plain())
        )
    }
}

/// What the operator CLI reads of the ledger: each file's rows
/// (`landfall file`), which files it holds (`replay`), each feed's recent
/// totals (`status`) and each table's (the local stack's summary).
pub mod reads {
    use super::*;

    /// The columns [`files`] selects, in order.
    pub(crate) const FILE_COLUMNS: &str =
        "table_name, file_id, status, rows_loaded, rows_rejected, load_id, loaded_at, detail";

    /// The ledger rows of these files (at most a few hundred ids per statement).
    pub fn files(d: Dialect, file_ids: &[&str]) -> String {
        format!("SELECT {FILE_COLUMNS} FROM {} WHERE file_id IN ({})", TableName::ledger(), in_list(d, file_ids))
    }

    /// Which of these files the ledger holds, with each row's status
    /// (`file_id, status`; a file loaded into several tables has a row each).
    pub fn held(d: Dialect, file_ids: &[&str]) -> String {
        format!(
            "SELECT DISTINCT file_id, status FROM {} WHERE file_id IN ({})",
            TableName::ledger(),
            in_list(d, file_ids)
        )
    }

    /// Per feed: the last load, then files and rows since `today`, then
    /// files, rows, rejected rows, refused and failed files since `week`
    /// (both timestamptz literals).
    pub fn feed_totals(d: Dialect, today: &str, week: &str) -> String {
        let recent = |expr: &str, since: &str| format!("SUM(CASE WHEN loaded_at >= {since} THEN {expr} ELSE 0 END)");
        let status = |s: LedgerStatus| format!("CASE WHEN status = {} THEN 1 ELSE 0 END", d.literal(s.as_str()));
        format!(
            "SELECT feed, MAX(loaded_at), {}, {}, {}, {}, {}, {}, {} FROM {} GROUP BY feed",
            recent("1", today),
            recent("rows_loaded", today),
            recent("1", week),
            recent("rows_loaded", week),
            recent("rows_rejected", week),
            recent(&status(LedgerStatus::Refused), week),
            recent(&status(LedgerStatus::Failed), week),
            TableName::ledger(),
        )
    }

    /// Per table and status: files, rows loaded, rows rejected.
    pub fn table_totals() -> String {
        format!(
            "SELECT table_name, status, count(*), sum(rows_loaded), sum(rows_rejected) FROM {} GROUP BY 1, 2 ORDER BY 1, 2",
            TableName::ledger()
        )
    }

    fn in_list(d: Dialect, values: &[&str]) -> String {
        values.iter().map(|v| d.literal(v)).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> LedgerRow {
        LedgerRow {
            file_id: "abc".into(),
            source_url: "s3://b/o'brien.csv".into(),
            seq: 0,
            feed: "orders".into(),
            etag: None,
            manifest_key: "_manifests/orders/abc.json".into(),
            status: LedgerStatus::Loaded,
            rows_rejected_at_parse: 1,
            detail: "{}".into(),
        }
    }

    #[test]
    fn the_ledger_insert_skips_files_already_recorded() {
        let counted = Counted { rows_loaded: 3, rows_rejected_at_load: 0 };
        let sql = Dialect::Postgres
            .insert_ledger(&TableName::new("public", "orders"), "L1", "2026-11-22T10:00:00Z", &[(row(), counted)])
            .unwrap();
        assert!(sql.contains("'s3://b/o''brien.csv'"));
        assert!(sql.contains("NULL AS etag"));
        assert!(sql.contains("3 AS rows_loaded, 1 AS rows_rejected"));
        assert!(sql.contains("WHERE NOT EXISTS"));
        assert!(Dialect::Postgres.insert_ledger(&TableName::new("a", "b"), "L", "2026-01-01T00:00:00Z", &[]).is_none());
    }

    #[test]
    fn only_loaded_and_partial_rows_settle_a_file() {
        let sql = Dialect::Postgres.select_loaded(&TableName::new("public", "orders"), &["a"]);
        assert!(sql.ends_with("AND status IN ('loaded', 'partial')"), "{sql}");
        let del = Dialect::Postgres.delete_superseded(&TableName::new("public", "orders"), &["a"]).unwrap();
        assert!(del.contains("file_id IN ('a') AND NOT (status IN ('loaded', 'partial'))"), "{del}");
        assert!(LedgerStatus::Partial.settled() && !LedgerStatus::Refused.settled() && !LedgerStatus::Failed.settled());
    }

    #[test]
    fn an_empty_file_is_recorded_empty_unless_the_loader_refused_it() {
        assert_eq!(LedgerStatus::of(false, FileStatus::Empty), LedgerStatus::Empty);
        assert_eq!(LedgerStatus::of(true, FileStatus::Empty), LedgerStatus::Refused);
    }

    #[test]
    fn every_status_the_ledger_holds_reads_back_and_an_unknown_one_is_an_error() {
        for s in [
            LedgerStatus::Loaded,
            LedgerStatus::Partial,
            LedgerStatus::Failed,
            LedgerStatus::Refused,
            LedgerStatus::Empty,
        ] {
            assert_eq!(s.as_str().parse::<LedgerStatus>(), Ok(s));
        }
        assert_eq!("done".parse::<LedgerStatus>(), Err(UnknownLedgerStatus("done".into())));
    }

    #[test]
    fn a_thousand_new_columns_fit_the_detail_with_a_count_of_the_rest() {
        let changes: Vec<String> =
            (0..1000).map(|i| format!("add column \"{}{i:04}\" varchar(32)", "q".repeat(59))).collect();
        let listed = fit_changes(&changes);
        assert!(listed.len() > 100 && listed.len() < 1000, "{}", listed.len());
        let json = serde_json::to_string(&listed).unwrap();
        assert!(json.len() <= DETAIL_CHANGES_BYTES, "{}", json.len());
    }
}
