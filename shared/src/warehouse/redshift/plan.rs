//! The staged load: the statement plan of a driver that cannot stream rows
//! into an open transaction (Redshift's Data API), as the design describes
//! it: stage the batch's rows in session tables, then apply them in one
//! short transaction.
//!
//! *Stage* (session-scoped temp tables, any number of Data API calls):
//! the batch's files go into `landfall_files` (id, URL, order, ledger
//! fields); each group of parts with one column layout and one `dt` is
//! COPYed from a manifest into a raw table shaped like the Parquet, then
//! converted into `landfall_staging` with the table's types, its `dt` and
//! its file's order.
//!
//! *Apply* (one transaction): lock the target; drop the files (and their
//! staged rows) the ledger already holds; set aside rows whose merge key is
//! null into `landfall.load_rejects`; apply the disposition; record every
//! file in the ledger with the rows it loaded and rejected, counted in SQL.
//! The apply statements do not grow with the batch: its size lives in the
//! staged tables, so the Data API's 100 KB statement limit is met by
//! splitting only the `landfall_files` insert.
//!
//! Pure code. The PostgreSQL dialect of the apply phase runs against a real
//! server in the tests, so the shared logic is proven on a real engine.

use std::fmt::Write as _;

use serde_json::json;

use crate::catalog::HiveType;
use crate::config::WriteDisposition;
use crate::lineage::{FILE_COLUMN, LOADED_AT_COLUMN, PARTITION_KEY, ROW_COLUMN};
use crate::warehouse::FeedRules;
use crate::warehouse::bookkeeping::feed_stats::StatsInsert;
use crate::warehouse::bookkeeping::load_ledger::{LEDGER_COLUMNS, LedgerRow};
use crate::warehouse::bookkeeping::load_rejects::load_rejects_table;
use crate::warehouse::sql::{
    Dialect, MAX_VARCHAR, MergeKey, SEQ_COLUMN, STAGING, SqlType, TableName, lineage_names, quote_ident,
};

/// The session table of the batch's files, as the ledger will record them.
pub const FILES: &str = "landfall_files";
/// Redshift: the session table of staged values JSON_PARSE would refuse
/// (file, line, column), set aside as rejected rows by the apply.
pub const BAD_VALUES: &str = "landfall_bad_values";
/// The Data API's limit on one statement's text.
pub const MAX_STATEMENT_BYTES: usize = 100_000;
/// The Data API's limit on statements in one BatchExecuteStatement.
pub const MAX_BATCH_STATEMENTS: usize = 40;
/// `landfall_files` inserts are cut at this size, well under the statement limit.
const FILES_CHUNK_BYTES: usize = 64 * 1024;

/// Parts with one column layout and one `dt`: one raw table, one COPY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawGroup {
    /// The part's columns in file order, with the types COPY reads them as.
    pub columns: Vec<(String, SqlType)>,
    pub dt: String,
    /// `s3://bucket/key` of the COPY manifest listing the group's parts.
    pub manifest_url: String,
}

/// Everything a staged load's statements depend on.
#[derive(Debug, Clone)]
pub struct StagedLoad<'a> {
    pub target: &'a TableName,
    /// The feed, as `landfall.feed_stats` records it.
    pub feed: &'a str,
    pub load_id: &'a str,
    /// RFC 3339, the `_landfall_loaded_at` of every row and the ledger's `loaded_at`.
    pub loaded_at: &'a str,
    /// The data columns staged, with the table's types.
    pub columns: &'a [(String, SqlType)],
    pub files: &'a [LedgerRow],
    pub groups: &'a [RawGroup],
    pub rules: &'a FeedRules,
    /// The IAM role Redshift assumes for COPY.
    pub copy_role_arn: &'a str,
}

/// The type COPY reads a Parquet column as (Redshift maps Parquet types by
/// position; the conversion to the table's type happens in SQL).
pub(crate) fn raw_type(t: &HiveType) -> SqlType {
    match t {
        HiveType::Boolean => SqlType::Boolean,
        HiveType::Bigint => SqlType::BigInt,
        HiveType::Double => SqlType::Double,
        HiveType::Decimal { precision, scale } => {
            SqlType::Numeric { precision: *precision, scale: u8::try_from(*scale).unwrap_or(0) }
        }
        HiveType::Date => SqlType::Date,
        HiveType::Timestamp => SqlType::Timestamp,
        HiveType::String | HiveType::Other(_) => SqlType::Varchar(MAX_VARCHAR),
    }
}

/// A Redshift COPY manifest: every part mandatory, with its length (which
/// COPY from Parquet requires).
pub(crate) fn copy_manifest(parts: &[(String, u64)]) -> String {
    let entries: Vec<_> = parts
        .iter()
        .map(|(url, len)| json!({"url": url, "mandatory": true, "meta": {"content_length": len}}))
        .collect();
    json!({ "entries": entries }).to_string()
}

impl Dialect {
    /// The target with the feed's Redshift keys: `DISTKEY` when the feed
    /// names one, a compound `SORTKEY` (the feed's, else `dt`). Keys that
    /// are not columns are left out.
    pub fn create_table_keyed(self, target: &TableName, columns: &[(String, SqlType)], rules: &FeedRules) -> String {
        let mut sql = self.create_table(target, columns);
        if self != Dialect::Redshift {
            return sql;
        }
        let known = |c: &str| columns.iter().any(|(n, _)| n == c) || lineage_names().contains(&c);
        if let Some(d) = rules.distkey.as_deref().filter(|d| known(d)) {
            let _ = write!(sql, "\nDISTSTYLE KEY DISTKEY({})", quote_ident(d));
        }
        let sort: Vec<String> = if rules.sortkey.is_empty() {
            vec![PARTITION_KEY.to_owned()]
        } else {
            rules.sortkey.iter().filter(|c| known(c)).cloned().collect()
        };
        if !sort.is_empty() {
            let _ = write!(
                sql,
                "\nCOMPOUND SORTKEY({})",
                sort.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ")
            );
        }
        sql
    }
}

fn files_columns() -> [(&'static str, SqlType); 9] {
    [
        ("file_id", SqlType::Varchar(64)),
        ("url", SqlType::Varchar(2048)),
        ("seq", SqlType::BigInt),
        ("feed", SqlType::Varchar(256)),
        ("etag", SqlType::Varchar(256)),
        ("manifest_key", SqlType::Varchar(1024)),
        ("status", SqlType::Varchar(32)),
        ("rows_rejected", SqlType::BigInt),
        ("detail", SqlType::Varchar(MAX_VARCHAR)),
    ]
}

fn raw_table(i: usize) -> String {
    format!("landfall_raw_{i}")
}

/// `null_condition` of the merge key: `"a" IS NULL OR "b" IS NULL`.
fn null_key_condition(key: &[String]) -> String {
    key.iter().map(|k| format!("{} IS NULL", quote_ident(k))).collect::<Vec<_>>().join(" OR ")
}

impl StagedLoad<'_> {
    fn loaded_at_sql(&self, d: Dialect) -> String {
        d.timestamptz_literal(self.loaded_at)
    }

    /// The session tables and the `landfall_files` rows.
    pub fn setup_statements(&self, d: Dialect) -> Vec<String> {
        let mut out = vec![d.create_staging(STAGING, self.columns)];
        let body = files_columns()
            .iter()
            .map(|(n, t)| format!("{} {}", quote_ident(n), d.type_sql(t)))
            .collect::<Vec<_>>()
            .join(", ");
        let on_commit = if d == Dialect::Postgres { " ON COMMIT DROP" } else { "" };
        out.push(format!("CREATE TEMP TABLE {} ({body}){on_commit}", quote_ident(FILES)));
        if self.guards_json(d) {
            out.push(format!(
                "CREATE TEMP TABLE {} (file_url varchar({MAX_VARCHAR}), line bigint, column_name varchar(256), \
                 reason varchar(1024))",
                quote_ident(BAD_VALUES)
            ));
        }
        let head = format!("INSERT INTO {} VALUES ", quote_ident(FILES));
        let mut current = String::new();
        for f in self.files {
            let row = format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, {})",
                d.literal(&f.file_id),
                d.literal(&f.source_url),
                f.seq,
                d.literal(&f.feed),
                d.opt_literal(f.etag.as_deref()),
                d.literal(&f.manifest_key),
                d.literal(f.status.as_str()),
                f.rows_rejected_at_parse,
                d.literal(&f.detail),
            );
            if !current.is_empty() && current.len() + row.len() + 2 > FILES_CHUNK_BYTES {
                out.push(std::mem::take(&mut current));
            }
            if current.is_empty() {
                current.push_str(&head);
            } else {
                current.push_str(", ");
            }
            current.push_str(&row);
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }

    /// The statements that fill staging from one raw group. `copy` is the
    /// COPY (Redshift) or whatever else fills the raw table (tests).
    pub fn group_statements(&self, d: Dialect, i: usize, group: &RawGroup) -> Vec<String> {
        let raw = quote_ident(&raw_table(i));
        let body = group
            .columns
            .iter()
            .map(|(n, t)| format!("{} {}", quote_ident(n), d.type_sql(t)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut out = vec![format!("CREATE TEMP TABLE {raw} ({body})")];
        if d == Dialect::Redshift {
            out.push(format!(
                "COPY {raw} FROM {} IAM_ROLE {} FORMAT AS PARQUET MANIFEST",
                d.literal(&group.manifest_url),
                d.literal(self.copy_role_arn)
            ));
        }
        out.extend(self.note_bad_json(d, &raw, group));
        out.push(self.insert_group(d, &raw, group));
        out.push(format!("DROP TABLE {raw}"));
        out
    }

    /// Whether the load parses JSON text into SUPER, and so guards it.
    fn guards_json(&self, d: Dialect) -> bool {
        d == Dialect::Redshift && self.columns.iter().any(|(_, t)| *t == SqlType::Json)
    }

    /// Redshift: the group's raw columns JSON_PARSE will read, as `r."name"`.
    fn parsed_json(&self, d: Dialect, group: &RawGroup) -> Vec<(String, String)> {
        if !self.guards_json(d) {
            return Vec::new();
        }
        self.columns
            .iter()
            .filter(|(name, ty)| {
                *ty == SqlType::Json && group.columns.iter().any(|(n, raw)| n == name && *raw != SqlType::Json)
            })
            .map(|(name, _)| (name.clone(), format!("r.{}", quote_ident(name))))
            .collect()
    }

    /// Redshift: a value JSON_PARSE would refuse fails the whole statement,
    /// so such rows are noted (CAN_JSON_PARSE is false for text that is not
    /// JSON and for an empty string, NULL for NULL:
    /// <https://docs.aws.amazon.com/redshift/latest/dg/CAN_JSON_PARSE.html>)
    /// and left out of staging: each costs its row, not the batch.
    fn note_bad_json(&self, d: Dialect, raw: &str, group: &RawGroup) -> Option<String> {
        let parsed = self.parsed_json(d, group);
        if parsed.is_empty() {
            return None;
        }
        let selects: Vec<String> = parsed
            .iter()
            .map(|(name, col)| {
                format!(
                    "SELECT r.{}, r.{}, {}, {} FROM {raw} r WHERE {col} IS NOT NULL AND CAN_JSON_PARSE({col}) IS NOT TRUE",
                    quote_ident(FILE_COLUMN),
                    quote_ident(ROW_COLUMN),
                    d.literal(name),
                    d.literal("the value is not JSON"),
                )
            })
            .collect();
        Some(format!("INSERT INTO {} {}", quote_ident(BAD_VALUES), selects.join(" UNION ALL ")))
    }

    /// Raw rows into staging: the table's types, the group's `dt`, the file's order.
    fn insert_group(&self, d: Dialect, raw: &str, group: &RawGroup) -> String {
        let mut targets = Vec::new();
        let mut values = Vec::new();
        for (name, ty) in self.columns {
            let Some((_, raw_ty)) = group.columns.iter().find(|(n, _)| n == name) else { continue };
            targets.push(quote_ident(name));
            values.push(convert(d, &format!("r.{}", quote_ident(name)), raw_ty, ty));
        }
        let parsable: Vec<String> = self
            .parsed_json(d, group)
            .iter()
            .map(|(_, col)| format!("({col} IS NULL OR CAN_JSON_PARSE({col}))"))
            .collect();
        let guard = if parsable.is_empty() { String::new() } else { format!(" WHERE {}", parsable.join(" AND ")) };
        targets.extend([PARTITION_KEY, FILE_COLUMN, ROW_COLUMN, LOADED_AT_COLUMN, SEQ_COLUMN].map(quote_ident));
        values.push(format!("CAST({} AS date)", d.literal(&group.dt)));
        values.push(format!("r.{}", quote_ident(FILE_COLUMN)));
        values.push(format!("r.{}", quote_ident(ROW_COLUMN)));
        values.push(self.loaded_at_sql(d));
        values.push("f.seq".into());
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM {raw} r JOIN {} f ON f.url = r.{}{guard}",
            quote_ident(STAGING),
            targets.join(", "),
            values.join(", "),
            quote_ident(FILES),
            quote_ident(FILE_COLUMN),
        )
    }

    /// Everything before the apply transaction, in order.
    pub(crate) fn stage_statements(&self, d: Dialect) -> Vec<String> {
        let mut out = self.setup_statements(d);
        for (i, g) in self.groups.iter().enumerate() {
            out.extend(self.group_statements(d, i, g));
        }
        out
    }

    /// The apply transaction: lock, ledger filter, null keys, disposition, ledger.
    pub fn apply_statements(&self, d: Dialect) -> Vec<String> {
        let t = self.target;
        let table = d.literal(&t.plain());
        let ledger = TableName::ledger();
        let stg = quote_ident(STAGING);
        let files = quote_ident(FILES);
        let file_col = quote_ident(FILE_COLUMN);
        let load_id = d.literal(self.load_id);
        let mut out = vec![d.lock(t)];
        // A racing loader (or an earlier attempt) may have committed some
        // files since the batch was planned: the lock makes this final.
        let settled = d.settled_condition("l");
        out.push(format!(
            "DELETE FROM {stg} USING {files} f, {ledger} l \
             WHERE {stg}.{file_col} = f.url AND l.table_name = {table} AND l.file_id = f.file_id AND {settled}"
        ));
        out.push(format!(
            "DELETE FROM {files} USING {ledger} l WHERE l.table_name = {table} AND l.file_id = {files}.file_id AND {settled}"
        ));
        if self.guards_json(d) {
            out.push(format!(
                "INSERT INTO {} (table_name, load_id, file_url, line, column_name, reason, rejected_at) \
                 SELECT {table}, {load_id}, b.file_url, b.line, b.column_name, b.reason, {} FROM {} b \
                 JOIN {files} f ON f.url = b.file_url",
                load_rejects_table(),
                self.loaded_at_sql(d),
                quote_ident(BAD_VALUES),
            ));
        }
        // What the ledger still holds of the batch's files is failed or
        // refused: this load's outcome replaces it.
        out.push(format!(
            "DELETE FROM {ledger} USING {files} f WHERE {ledger}.table_name = {table} AND {ledger}.file_id = f.file_id"
        ));
        let columns: Vec<String> = self.columns.iter().map(|(n, _)| n.clone()).collect();
        match self.rules.disposition {
            WriteDisposition::Append => out.push(d.insert_from_staging(t, STAGING, &columns)),
            WriteDisposition::ReplacePartition => out.extend(d.replace_partitions(t, STAGING, &columns)),
            WriteDisposition::Merge => {
                let key = &self.rules.primary_key;
                if !key.is_empty() {
                    let cond = null_key_condition(key);
                    let reason = d.literal(&format!("the merge key ({}) is null", key.join(", ")));
                    out.push(format!(
                        "INSERT INTO {} (table_name, load_id, file_url, line, column_name, reason, rejected_at) \
                         SELECT {table}, {load_id}, {file_col}, {}, NULL, {reason}, {} FROM {stg} WHERE {cond}",
                        load_rejects_table(),
                        quote_ident(ROW_COLUMN),
                        self.loaded_at_sql(d),
                    ));
                    out.push(format!("DELETE FROM {stg} WHERE {cond}"));
                }
                let merge = MergeKey { key, order_by: self.rules.order_by.as_deref() };
                out.extend(d.merge(t, STAGING, &columns, merge));
            }
        }
        out.push(format!(
            "INSERT INTO {ledger} ({LEDGER_COLUMNS})\n\
             SELECT {table}, f.file_id, f.feed, f.url, f.etag, f.manifest_key, f.status, COALESCE(c.n, 0), \
             f.rows_rejected + COALESCE(r.n, 0), {load_id}, {at}, f.detail\n\
             FROM {files} f\n\
             LEFT JOIN (SELECT {file_col} AS url, COUNT(*) AS n FROM {stg} GROUP BY {file_col}) c ON c.url = f.url\n\
             LEFT JOIN (SELECT file_url AS url, COUNT(*) AS n FROM {rejects} WHERE table_name = {table} AND load_id = {load_id} \
             GROUP BY file_url) r ON r.url = f.url\n\
             WHERE NOT EXISTS (SELECT 1 FROM {ledger} l WHERE l.table_name = {table} AND l.file_id = f.file_id)",
            at = self.loaded_at_sql(d),
            rejects = load_rejects_table(),
        ));
        if let Some(rules) = &self.rules.stats {
            out.push(d.insert_feed_stats(StatsInsert {
                target: t,
                feed: self.feed,
                load_id: self.load_id,
                loaded_at: self.loaded_at,
                rows_from: STAGING,
                columns: self.columns,
                rules,
            }));
        }
        out
    }
}

/// A raw column as the table's type: JSON text is parsed, other types cast.
fn convert(d: Dialect, expr: &str, from: &SqlType, to: &SqlType) -> String {
    if from == to {
        return expr.to_owned();
    }
    match (d, to) {
        (Dialect::Redshift, SqlType::Json) => format!("JSON_PARSE({expr})"),
        _ => format!("CAST({expr} AS {})", d.type_sql(to)),
    }
}

/// A statement the Data API would refuse for its size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a statement of {bytes} bytes exceeds the Data API's {MAX_STATEMENT_BYTES}-byte limit: {head}…")]
pub struct StatementTooLarge {
    pub bytes: usize,
    pub head: String,
}

/// Statements cut into BatchExecuteStatement calls: at most
/// [`MAX_BATCH_STATEMENTS`] each. A statement over [`MAX_STATEMENT_BYTES`]
/// is an error, never truncated.
pub fn batches(statements: Vec<String>) -> Result<Vec<Vec<String>>, StatementTooLarge> {
    if let Some(s) = statements.iter().find(|s| s.len() > MAX_STATEMENT_BYTES) {
        return Err(StatementTooLarge { bytes: s.len(), head: s.chars().take(80).collect() });
    }
    Ok(statements.chunks(MAX_BATCH_STATEMENTS).map(<[String]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::LEDGER_SCHEMA;
    use crate::warehouse::LedgerStatus;
    use crate::warehouse::StatsRules;

    fn file(i: u32) -> LedgerRow {
        LedgerRow {
            file_id: format!("{i:064x}"),
            source_url: format!("s3://landing/partner/o'brien-{i}.csv"),
            seq: i,
            feed: "orders".into(),
            etag: Some(format!("\"etag-{i}\"")),
            manifest_key: format!("_manifests/orders/{i}.json"),
            status: LedgerStatus::Loaded,
            rows_rejected_at_parse: 1,
            detail: r#"{"changes":[],"reason":null,"parse_status":"parsed"}"#.into(),
        }
    }

    #[test]
    fn the_copy_manifest_lists_every_part_as_mandatory_with_its_length() {
        let m: serde_json::Value =
            serde_json::from_str(&copy_manifest(&[("s3://c/tables/t/dt=2026-11-01/a.parquet".into(), 1234)])).unwrap();
        assert_eq!(m["entries"][0]["url"], "s3://c/tables/t/dt=2026-11-01/a.parquet");
        assert_eq!(m["entries"][0]["mandatory"], true);
        assert_eq!(m["entries"][0]["meta"]["content_length"], 1234);
    }

    #[test]
    fn the_files_insert_is_split_to_stay_under_the_statement_limit() {
        let files: Vec<LedgerRow> = (0..1000).map(file).collect();
        let target = TableName::new("public", "orders");
        let rules = FeedRules::default();
        let load = StagedLoad {
            target: &target,
            feed: "orders",
            load_id: "L",
            loaded_at: "2026-11-22T10:00:00Z",
            columns: &[],
            files: &files,
            groups: &[],
            rules: &rules,
            copy_role_arn: "arn:aws:iam::1:role/copy",
        };
        let setup = load.setup_statements(Dialect::Redshift);
        let inserts: Vec<&String> = setup.iter().filter(|s| s.starts_with("INSERT INTO \"landfall_files\"")).collect();
        let total: usize = inserts.iter().map(|s| s.len()).sum();
        assert!(inserts.len() >= total.div_ceil(FILES_CHUNK_BYTES), "{total} bytes in {} inserts", inserts.len());
        assert!(inserts.len() >= 4, "1000 files need several inserts, got {}", inserts.len());
        assert!(inserts.iter().all(|s| s.len() <= FILES_CHUNK_BYTES), "every insert under the chunk size");
        let rows: usize = inserts.iter().map(|s| s.matches("_manifests/orders/").count()).sum();
        assert_eq!(rows, 1000, "no file lost or repeated across chunks");
        assert!(setup.iter().all(|s| !s.contains("o'brien")), "quotes are escaped");
    }

    #[test]
    fn on_redshift_a_value_that_is_not_json_costs_its_row_not_the_batch() {
        let target = TableName::new("public", "orders");
        let rules = FeedRules::default();
        let columns = vec![("attrs".to_owned(), SqlType::Json)];
        let raw = vec![
            ("attrs".to_owned(), SqlType::Varchar(65535)),
            (FILE_COLUMN.to_owned(), SqlType::Varchar(65535)),
            (ROW_COLUMN.to_owned(), SqlType::BigInt),
        ];
        let groups = [RawGroup { columns: raw, dt: "2026-11-20".into(), manifest_url: "s3://c/m".into() }];
        let files = [file(0)];
        let load = StagedLoad {
            target: &target,
            feed: "orders",
            load_id: "L",
            loaded_at: "2026-11-22T10:00:00Z",
            columns: &columns,
            files: &files,
            groups: &groups,
            rules: &rules,
            copy_role_arn: "arn:aws:iam::1:role/copy",
        };
        let stage = load.stage_statements(Dialect::Redshift);
        let noted = stage.iter().find(|s| s.starts_with("INSERT INTO \"landfall_bad_values\"")).unwrap();
        assert!(noted.contains("WHERE r.\"attrs\" IS NOT NULL AND CAN_JSON_PARSE(r.\"attrs\") IS NOT TRUE"), "{noted}");
        let staged = stage.iter().find(|s| s.starts_with("INSERT INTO \"landfall_staging\"")).unwrap();
        assert!(staged.ends_with(" WHERE (r.\"attrs\" IS NULL OR CAN_JSON_PARSE(r.\"attrs\"))"), "{staged}");
        let apply = load.apply_statements(Dialect::Redshift);
        assert!(
            apply.iter().any(|s| s.contains("FROM \"landfall_bad_values\" b JOIN \"landfall_files\" f")),
            "{apply:?}"
        );
        assert!(!load.stage_statements(Dialect::Postgres).iter().any(|s| s.contains("landfall_bad_values")));
    }

    #[test]
    fn batches_hold_at_most_forty_statements_and_refuse_an_oversized_one() {
        let b = batches((0..85).map(|i| format!("SELECT {i}")).collect()).unwrap();
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![40, 40, 5]);
        let e = batches(vec!["x".repeat(MAX_STATEMENT_BYTES + 1)]).unwrap_err();
        assert!(e.to_string().contains("100000-byte limit"), "{e}");
    }

    #[test]
    fn raw_columns_are_converted_to_the_table_types() {
        assert_eq!(convert(Dialect::Redshift, "r.\"a\"", &SqlType::BigInt, &SqlType::BigInt), "r.\"a\"");
        assert_eq!(
            convert(Dialect::Redshift, "r.\"a\"", &SqlType::BigInt, &SqlType::Double),
            "CAST(r.\"a\" AS double precision)"
        );
        assert_eq!(
            convert(Dialect::Redshift, "r.\"j\"", &SqlType::Varchar(65535), &SqlType::Json),
            "JSON_PARSE(r.\"j\")"
        );
        assert_eq!(
            convert(Dialect::Postgres, "r.\"j\"", &SqlType::Varchar(65535), &SqlType::Json),
            "CAST(r.\"j\" AS jsonb)"
        );
    }

    #[test]
    fn redshift_tables_take_the_feeds_keys_and_sort_on_dt_by_default() {
        let t = TableName::new("public", "clicks");
        let cols = vec![("user_id".to_owned(), SqlType::BigInt)];
        let plain = Dialect::Redshift.create_table_keyed(&t, &cols, &FeedRules::default());
        assert!(plain.ends_with("\n)\nCOMPOUND SORTKEY(\"dt\")"), "{plain}");
        let rules = FeedRules {
            distkey: Some("user_id".into()),
            sortkey: vec!["user_id".into(), "nope".into()],
            ..FeedRules::default()
        };
        let keyed = Dialect::Redshift.create_table_keyed(&t, &cols, &rules);
        assert!(keyed.contains("DISTSTYLE KEY DISTKEY(\"user_id\")"), "{keyed}");
        assert!(keyed.ends_with("COMPOUND SORTKEY(\"user_id\")"), "unknown columns are left out: {keyed}");
        assert!(!Dialect::Postgres.create_table_keyed(&t, &cols, &rules).contains("DISTKEY"));
    }

    /// A fixed two-file load with two column layouts (the second file added
    /// a column and widened another), as every golden file uses it.
    /// (stage statements, apply transaction).
    fn golden_sql(rules: &FeedRules) -> (String, String) {
        let target = TableName::new("analytics", "orders");
        let columns = vec![
            ("order_id".to_owned(), SqlType::BigInt),
            ("amount".to_owned(), SqlType::Numeric { precision: 18, scale: 2 }),
            ("note".to_owned(), SqlType::Varchar(64)),
            ("attrs".to_owned(), SqlType::Json),
            ("ordered_at".to_owned(), SqlType::TimestampTz),
        ];
        let files = vec![file(0), file(1)];
        let raw = |extra: bool| {
            let mut c = vec![
                ("order_id".to_owned(), SqlType::BigInt),
                (
                    "amount".to_owned(),
                    if extra { SqlType::Numeric { precision: 18, scale: 2 } } else { SqlType::BigInt },
                ),
                ("note".to_owned(), SqlType::Varchar(65535)),
                ("attrs".to_owned(), SqlType::Varchar(65535)),
            ];
            if extra {
                c.push(("ordered_at".to_owned(), SqlType::Timestamp));
            }
            c.push((FILE_COLUMN.to_owned(), SqlType::Varchar(65535)));
            c.push((ROW_COLUMN.to_owned(), SqlType::BigInt));
            c
        };
        let groups = vec![
            RawGroup {
                columns: raw(false),
                dt: "2026-11-20".into(),
                manifest_url: "s3://curated/_copy/orders/L1/0.manifest".into(),
            },
            RawGroup {
                columns: raw(true),
                dt: "2026-11-21".into(),
                manifest_url: "s3://curated/_copy/orders/L1/1.manifest".into(),
            },
        ];
        let load = StagedLoad {
            target: &target,
            feed: "orders",
            load_id: "0123456789abcdef0123",
            loaded_at: "2026-11-22T10:00:00.000000Z",
            columns: &columns,
            files: &files,
            groups: &groups,
            rules,
            copy_role_arn: "arn:aws:iam::123456789012:role/landfall-copy",
        };
        let d = Dialect::Redshift;
        let join = |statements: Vec<String>| statements.iter().map(|s| format!("{s};\n\n")).collect::<String>();
        (join(load.stage_statements(d)), join(load.apply_statements(d)))
    }

    /// Compares with `events/redshift/<name>.sql`; `LANDFALL_UPDATE_GOLDEN=1` rewrites it.
    fn assert_golden(name: &str, sql: &str) {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/redshift").join(format!("{name}.sql"));
        if std::env::var_os("LANDFALL_UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, sql).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (LANDFALL_UPDATE_GOLDEN=1 writes it)", path.display()));
        assert!(want == sql, "{} differs from the generated SQL:\n{sql}", path.display());
    }

    #[test]
    fn redshift_staging_sql_matches_its_golden_file() {
        assert_golden("stage", &golden_sql(&FeedRules::default()).0);
    }

    #[test]
    fn redshift_sql_of_an_append_matches_its_golden_file() {
        assert_golden("append", &golden_sql(&FeedRules::default()).1);
    }

    #[test]
    fn redshift_sql_of_a_monitored_append_records_feed_stats_after_the_ledger() {
        let rules = FeedRules {
            stats: Some(StatsRules {
                dims: vec!["note".into(), "attrs".into()],
                event_column: Some("ordered_at".into()),
            }),
            ..FeedRules::default()
        };
        let sql = golden_sql(&rules).1;
        let ledger = sql.find("INSERT INTO \"landfall\".\"load_ledger\"").unwrap();
        let stats = sql.find("INSERT INTO \"landfall\".\"feed_stats\"").unwrap();
        assert!(stats > ledger, "stats join the ledger rows this load wrote");
        assert_golden("append_monitored", &sql);
    }

    #[test]
    fn redshift_sql_of_a_merge_matches_its_golden_file() {
        let rules = FeedRules {
            disposition: WriteDisposition::Merge,
            primary_key: vec!["order_id".into()],
            order_by: Some("ordered_at".into()),
            ..FeedRules::default()
        };
        assert_golden("merge", &golden_sql(&rules).1);
    }

    #[test]
    fn redshift_sql_of_a_replace_partition_matches_its_golden_file() {
        let rules = FeedRules { disposition: WriteDisposition::ReplacePartition, ..FeedRules::default() };
        assert_golden("replace_partition", &golden_sql(&rules).1);
    }

    #[test]
    fn redshift_sql_of_table_creation_and_evolution_matches_its_golden_file() {
        use crate::warehouse::sql::Change;
        let d = Dialect::Redshift;
        let t = TableName::new("analytics", "orders");
        let rules = FeedRules {
            distkey: Some("customer_id".into()),
            sortkey: vec!["dt".into(), "ordered_at".into()],
            ..FeedRules::default()
        };
        let columns = vec![
            ("customer_id".to_owned(), SqlType::BigInt),
            ("ordered_at".to_owned(), SqlType::TimestampTz),
            ("tags".to_owned(), SqlType::Json),
        ];
        let mut statements = vec![d.create_schema(LEDGER_SCHEMA), d.create_ledger(), d.create_load_rejects()];
        statements.extend(d.create_feed_stats());
        statements.extend([d.create_schema("analytics"), d.create_table_keyed(&t, &columns, &rules)]);
        for change in [
            Change::Add { column: "coupon".into(), sql_type: SqlType::Varchar(32) },
            Change::Widen { column: "note".into(), from: SqlType::Varchar(64), to: SqlType::Varchar(256) },
            Change::Widen {
                column: "amount".into(),
                from: SqlType::BigInt,
                to: SqlType::Numeric { precision: 38, scale: 2 },
            },
        ] {
            statements.push(format!("-- {}", change.describe(d)));
            statements.extend(d.apply_change(&t, &change));
        }
        let sql: String = statements
            .iter()
            .map(|s| if s.starts_with("--") { format!("{s}\n") } else { format!("{s};\n\n") })
            .collect();
        assert_golden("create_and_evolve", &sql);
    }
}
