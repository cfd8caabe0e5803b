//! The one SQL builder both warehouse drivers use, with a dialect switch.
//!
//! Pure code: no connections, no AWS types. Every identifier goes through
//! [`quote_ident`] and comes from a normalised name; every literal through
//! [`Dialect::literal`]. Redshift's Data API `BatchExecuteStatement` takes no
//! bind parameters, so literals are escaped here for both dialects alike.

use std::fmt::{self, Write as _};

use crate::lineage::{FILE_COLUMN, FILE_URL_MAX_BYTES, LOADED_AT_COLUMN, PARTITION_KEY, ROW_COLUMN};
use crate::schema::LogicalType;

/// The session table a batch's rows are staged in before the disposition.
pub const STAGING: &str = "landfall_staging";
/// The staging column that orders the batch's files for merge ("the last file wins").
pub(crate) const SEQ_COLUMN: &str = "_landfall_seq";
/// Varchar sizes are in bytes on Redshift and at most this.
pub(crate) const MAX_VARCHAR: u32 = 65_535;
/// Text columns start at least this wide so short first files do not force early growth.
pub(crate) const MIN_VARCHAR: u32 = 32;
/// Enough for any non-text value written as text (a timestamptz is 32 bytes).
const SCALAR_AS_TEXT: u32 = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Redshift,
}

/// A schema-qualified table name; both parts are normalised identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    pub schema: String,
    pub table: String,
}

impl TableName {
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> Self {
        TableName { schema: schema.into(), table: table.into() }
    }

    /// `schema.table` unquoted, as the ledger and logs name it.
    pub fn plain(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

impl fmt::Display for TableName {
    /// The quoted, qualified form for SQL text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

/// `"name"` with embedded quotes doubled: safe for any string, though the
/// callers only ever pass normalised names.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A warehouse column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlType {
    Boolean,
    BigInt,
    Double,
    Numeric {
        precision: u8,
        scale: u8,
    },
    Date,
    Timestamp,
    TimestampTz,
    /// Sized in bytes (Redshift) or characters (PostgreSQL, where bytes >= characters keeps it safe).
    Varchar(u32),
    /// Unbounded text (PostgreSQL `text`, an unsized `varchar`).
    Text,
    /// PostgreSQL `jsonb`, Redshift `SUPER`.
    Json,
    /// A type landfall did not create (an analyst changed the column); kept as it is.
    Other(String),
}

impl SqlType {
    /// The type a column of this logical type and longest value gets.
    pub(crate) fn for_column(dialect: Dialect, logical: LogicalType, max_bytes: Option<u32>) -> SqlType {
        match logical {
            LogicalType::Boolean => SqlType::Boolean,
            LogicalType::Int64 => SqlType::BigInt,
            LogicalType::Float64 => SqlType::Double,
            LogicalType::Decimal { precision, scale } => {
                SqlType::Numeric { precision: precision.clamp(1, 38), scale: u8::try_from(scale.max(0)).unwrap_or(0) }
            }
            LogicalType::Date => SqlType::Date,
            LogicalType::Timestamp => SqlType::Timestamp,
            LogicalType::TimestampTz => SqlType::TimestampTz,
            LogicalType::String => varchar_for(dialect, max_bytes.unwrap_or(0)),
            LogicalType::Json => SqlType::Json,
        }
    }

    /// Reads a type as PostgreSQL's `format_type` (and Redshift's `pg_table_def`) print it.
    pub fn parse(text: &str) -> SqlType {
        let t = text.trim().to_ascii_lowercase();
        let sized = |prefix: &str| -> Option<Vec<u32>> {
            let inner = t.strip_prefix(prefix)?.trim().strip_prefix('(')?.strip_suffix(')')?;
            inner.split(',').map(|p| p.trim().parse().ok()).collect()
        };
        match t.as_str() {
            "boolean" | "bool" => return SqlType::Boolean,
            "bigint" | "int8" => return SqlType::BigInt,
            "double precision" | "float8" => return SqlType::Double,
            "date" => return SqlType::Date,
            "timestamp without time zone" | "timestamp" => return SqlType::Timestamp,
            "timestamp with time zone" | "timestamptz" => return SqlType::TimestampTz,
            "text" | "character varying" | "varchar" => return SqlType::Text,
            "jsonb" | "super" => return SqlType::Json,
            _ => {}
        }
        for prefix in ["character varying", "varchar"] {
            if let Some(v) = sized(prefix)
                && let [n] = v[..]
            {
                return SqlType::Varchar(n);
            }
        }
        for prefix in ["numeric", "decimal"] {
            if let Some(v) = sized(prefix)
                && let [p, s] = v[..]
                && let (Ok(precision), Ok(scale)) = (u8::try_from(p), u8::try_from(s))
            {
                return SqlType::Numeric { precision, scale };
            }
        }
        SqlType::Other(text.trim().to_owned())
    }

    /// The logical type this column holds, for widening; `None` for types landfall does not manage.
    fn logical(&self) -> Option<LogicalType> {
        Some(match self {
            SqlType::Boolean => LogicalType::Boolean,
            SqlType::BigInt => LogicalType::Int64,
            SqlType::Double => LogicalType::Float64,
            SqlType::Numeric { precision, scale } => {
                LogicalType::Decimal { precision: *precision, scale: i8::try_from(*scale).unwrap_or(i8::MAX) }
            }
            SqlType::Date => LogicalType::Date,
            SqlType::Timestamp => LogicalType::Timestamp,
            SqlType::TimestampTz => LogicalType::TimestampTz,
            SqlType::Varchar(_) | SqlType::Text => LogicalType::String,
            SqlType::Json => LogicalType::Json,
            SqlType::Other(_) => return None,
        })
    }

    pub(crate) fn is_text(&self) -> bool {
        matches!(self, SqlType::Varchar(_) | SqlType::Text)
    }
}

/// A column's values as the wider type, on Redshift: SUPER becomes text
/// through JSON_SERIALIZE (a cast gives no text for an object or array), and
/// a boolean, which Redshift does not cast to a character type, through CASE
/// (<https://docs.aws.amazon.com/redshift/latest/dg/JSON_SERIALIZE.html>,
/// <https://docs.aws.amazon.com/redshift/latest/dg/r_CAST_function.html>).
fn redshift_widened(col: &str, from: &SqlType, to: &SqlType) -> String {
    let ty = Dialect::Redshift.type_sql(to);
    match (from, to.is_text()) {
        (SqlType::Json, true) => format!("JSON_SERIALIZE({col})"),
        (SqlType::Boolean, true) => format!("CASE WHEN {col} THEN 'true' WHEN NOT {col} THEN 'false' END"),
        _ => format!("CAST({col} AS {ty})"),
    }
}

fn varchar_for(dialect: Dialect, max_bytes: u32) -> SqlType {
    if max_bytes > MAX_VARCHAR && dialect == Dialect::Postgres {
        return SqlType::Text;
    }
    // Twice the longest value seen, rounded to a power of two: room for the
    // next files without growing the column on every load.
    let headroom = max_bytes.saturating_mul(2).max(MIN_VARCHAR).checked_next_power_of_two().unwrap_or(MAX_VARCHAR);
    SqlType::Varchar(headroom.min(MAX_VARCHAR).max(max_bytes.min(MAX_VARCHAR)))
}

/// What a batch needs of one column: its logical type and longest text value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnNeed {
    pub name: String,
    pub logical: LogicalType,
    pub max_bytes: Option<u32>,
}

/// The least common type of two, as the warehouse sees it: a naive and an
/// aware timestamp meet in `timestamptz` (naive values are taken as UTC),
/// where the lake's join would fall back to text.
pub(crate) fn join_logical(a: LogicalType, b: LogicalType) -> LogicalType {
    match (a, b) {
        (LogicalType::Timestamp, LogicalType::TimestampTz) | (LogicalType::TimestampTz, LogicalType::Timestamp) => {
            LogicalType::TimestampTz
        }
        _ => crate::schema::join(a, b),
    }
}

/// Whether a column of type `target` takes the batch's values as they are.
pub fn holds(target: &SqlType, need: &ColumnNeed) -> bool {
    match target {
        // Not ours to change; a value that does not fit is a row-level data error.
        SqlType::Other(_) => true,
        SqlType::Text => true,
        SqlType::Varchar(n) => *n >= text_bytes(need),
        _ => target.logical().is_some_and(|t| join_logical(t, need.logical) == t),
    }
}

fn text_bytes(need: &ColumnNeed) -> u32 {
    if need.logical.is_text() { need.max_bytes.unwrap_or(0) } else { SCALAR_AS_TEXT }
}

/// The type `target` must become to hold the batch's values, or `None` when
/// it already does (or is not a type landfall manages).
pub fn widened(dialect: Dialect, target: &SqlType, need: &ColumnNeed) -> Option<SqlType> {
    if holds(target, need) {
        return None;
    }
    let current = target.logical()?;
    let joined = join_logical(current, need.logical);
    let bytes = match target {
        SqlType::Varchar(n) => (*n).max(text_bytes(need)),
        _ => text_bytes(need).max(need.max_bytes.unwrap_or(0)),
    };
    let new = SqlType::for_column(dialect, joined, Some(bytes));
    // A varchar only ever grows; the headroom rule may round to the same size.
    match (&new, target) {
        (SqlType::Varchar(m), SqlType::Varchar(n)) if m <= n => None,
        _ => Some(new),
    }
}

/// One column of the target as the warehouse reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingColumn {
    pub name: String,
    pub sql_type: SqlType,
}

/// A change the batch needs of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Add { column: String, sql_type: SqlType },
    Widen { column: String, from: SqlType, to: SqlType },
}

impl Change {
    pub fn column(&self) -> &str {
        match self {
            Change::Add { column, .. } | Change::Widen { column, .. } => column,
        }
    }

    /// Whether the feed's schema contract allows it: `freeze` allows only
    /// varchar growth (a size, not a type); `discard_columns` allows widening.
    pub(crate) fn is_type_change(&self) -> bool {
        match self {
            Change::Add { .. } => true,
            Change::Widen { from, to, .. } => !(from.is_text() && to.is_text()),
        }
    }

    /// How the ledger and logs say it.
    pub fn describe(&self, dialect: Dialect) -> String {
        match self {
            Change::Add { column, sql_type } => format!("added {column} {}", dialect.type_sql(sql_type)),
            Change::Widen { column, from, to } => {
                format!("widened {column} {} -> {}", dialect.type_sql(from), dialect.type_sql(to))
            }
        }
    }
}

/// The changes that make `existing` hold every column of `needs`, in the
/// order of `needs`. Never drops or reorders a column.
pub fn changes(dialect: Dialect, existing: &[ExistingColumn], needs: &[ColumnNeed]) -> Vec<Change> {
    let mut out = Vec::new();
    for need in needs {
        match existing.iter().find(|c| c.name == need.name) {
            None => out.push(Change::Add {
                column: need.name.clone(),
                sql_type: SqlType::for_column(dialect, need.logical, need.max_bytes),
            }),
            Some(col) => {
                if let Some(to) = widened(dialect, &col.sql_type, need) {
                    out.push(Change::Widen { column: need.name.clone(), from: col.sql_type.clone(), to });
                }
            }
        }
    }
    out
}

/// The lineage columns every warehouse table carries after its data columns.
pub(crate) fn lineage_columns() -> [(&'static str, SqlType); 4] {
    [
        (PARTITION_KEY, SqlType::Date),
        (FILE_COLUMN, SqlType::Varchar(FILE_URL_MAX_BYTES)),
        (ROW_COLUMN, SqlType::BigInt),
        (LOADED_AT_COLUMN, SqlType::TimestampTz),
    ]
}

/// Names of the lineage columns, in table order.
pub(crate) fn lineage_names() -> [&'static str; 4] {
    [PARTITION_KEY, FILE_COLUMN, ROW_COLUMN, LOADED_AT_COLUMN]
}

/// How a merge picks the surviving row per key.
#[derive(Debug, Clone, Copy)]
pub struct MergeKey<'a> {
    pub key: &'a [String],
    /// The column whose latest value wins, across the batch and against the table.
    pub order_by: Option<&'a str>,
}

impl Dialect {
    /// The most columns a table may have: PostgreSQL's MaxHeapAttributeNumber
    /// (1,600) and Redshift's documented limit of 1,600 columns per table.
    pub fn max_columns(self) -> usize {
        1600
    }

    /// The warehouse's name, for reasons and messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Redshift => "Redshift",
        }
    }

    pub(crate) fn type_sql(self, t: &SqlType) -> String {
        match (self, t) {
            (_, SqlType::Boolean) => "boolean".into(),
            (_, SqlType::BigInt) => "bigint".into(),
            (_, SqlType::Double) => "double precision".into(),
            (_, SqlType::Numeric { precision, scale }) => format!("numeric({precision},{scale})"),
            (_, SqlType::Date) => "date".into(),
            (_, SqlType::Timestamp) => "timestamp".into(),
            (_, SqlType::TimestampTz) => "timestamptz".into(),
            (_, SqlType::Varchar(n)) => format!("varchar({n})"),
            (Dialect::Postgres, SqlType::Text) => "text".into(),
            (Dialect::Redshift, SqlType::Text) => format!("varchar({MAX_VARCHAR})"),
            (Dialect::Postgres, SqlType::Json) => "jsonb".into(),
            (Dialect::Redshift, SqlType::Json) => "super".into(),
            (_, SqlType::Other(text)) => text.clone(),
        }
    }

    /// A string literal. Redshift reads backslashes in literals as escapes,
    /// so they are doubled there; PostgreSQL gets an `E''` literal only when
    /// one is present, so the result does not depend on
    /// `standard_conforming_strings`.
    pub fn literal(self, value: &str) -> String {
        let has_backslash = value.contains('\\');
        let mut out = String::with_capacity(value.len() + 3);
        if has_backslash && self == Dialect::Postgres {
            out.push('E');
        }
        out.push('\'');
        for c in value.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' => out.push_str("\\\\"),
                '\0' => {}
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    }

    /// The items of an `IN (...)` list: literals, or `NULL` (which matches
    /// nothing) for an empty list.
    pub(crate) fn literal_list(self, values: &[&str]) -> String {
        if values.is_empty() {
            return "NULL".to_owned();
        }
        values.iter().map(|v| self.literal(v)).collect::<Vec<_>>().join(", ")
    }

    pub fn opt_literal(self, value: Option<&str>) -> String {
        value.map_or_else(|| "NULL".to_owned(), |v| self.literal(v))
    }

    /// An RFC 3339 instant as a `timestamptz` literal.
    pub fn timestamptz_literal(self, rfc3339: &str) -> String {
        format!("CAST({} AS timestamptz)", self.literal(rfc3339))
    }

    pub fn create_schema(self, schema: &str) -> String {
        format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema))
    }

    /// The target with the batch's columns, then the lineage columns.
    pub fn create_table(self, target: &TableName, columns: &[(String, SqlType)]) -> String {
        let mut sql = format!("CREATE TABLE IF NOT EXISTS {target} (");
        let lineage = lineage_columns();
        let all = columns.iter().map(|(n, t)| (n.as_str(), t)).chain(lineage.iter().map(|(n, t)| (*n, t)));
        for (i, (name, ty)) in all.enumerate() {
            let sep = if i == 0 { "\n  " } else { ",\n  " };
            let _ = write!(sql, "{sep}{} {}", quote_ident(name), self.type_sql(ty));
        }
        sql.push_str("\n)");
        sql
    }

    /// A session-local staging table for the batch: the data columns with
    /// the target's types, the lineage columns and the file sequence.
    pub fn create_staging(self, staging: &str, columns: &[(String, SqlType)]) -> String {
        let mut cols: Vec<(String, SqlType)> = columns.to_vec();
        cols.extend(lineage_columns().into_iter().map(|(n, t)| (n.to_owned(), t)));
        cols.push((SEQ_COLUMN.to_owned(), SqlType::BigInt));
        let body =
            cols.iter().map(|(n, t)| format!("{} {}", quote_ident(n), self.type_sql(t))).collect::<Vec<_>>().join(", ");
        let on_commit = if self == Dialect::Postgres { " ON COMMIT DROP" } else { "" };
        format!("CREATE TEMP TABLE {} ({body}){on_commit}", quote_ident(staging))
    }

    /// Serialises loaders of one table. On PostgreSQL readers are not
    /// blocked; Redshift's LOCK is ACCESS EXCLUSIVE, so reads of the table
    /// wait too (<https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html>),
    /// which is why its locked transactions hold only the apply or the delete.
    pub fn lock(self, target: &TableName) -> String {
        match self {
            Dialect::Postgres => format!("LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE"),
            Dialect::Redshift => format!("LOCK {target}"),
        }
    }

    /// The statements that apply one change. PostgreSQL changes a type in
    /// place; Redshift can only grow a varchar in place, so other widenings
    /// go through a new column.
    pub fn apply_change(self, target: &TableName, change: &Change) -> Vec<String> {
        match change {
            Change::Add { column, sql_type } => {
                vec![format!("ALTER TABLE {target} ADD COLUMN {} {}", quote_ident(column), self.type_sql(sql_type))]
            }
            Change::Widen { column, from, to } => {
                let col = quote_ident(column);
                let ty = self.type_sql(to);
                match self {
                    Dialect::Postgres => {
                        vec![format!("ALTER TABLE {target} ALTER COLUMN {col} TYPE {ty} USING {col}::{ty}")]
                    }
                    Dialect::Redshift if from.is_text() && to.is_text() => {
                        vec![format!("ALTER TABLE {target} ALTER COLUMN {col} TYPE {ty}")]
                    }
                    Dialect::Redshift => {
                        let tmp = quote_ident(&format!("{column}__landfall_widen"));
                        vec![
                            format!("ALTER TABLE {target} ADD COLUMN {tmp} {ty}"),
                            format!("UPDATE {target} SET {tmp} = {}", redshift_widened(&col, from, to)),
                            format!("ALTER TABLE {target} DROP COLUMN {col}"),
                            format!("ALTER TABLE {target} RENAME COLUMN {tmp} TO {col}"),
                        ]
                    }
                }
            }
        }
    }

    /// Append: every staged row.
    pub fn insert_from_staging(self, target: &TableName, staging: &str, columns: &[String]) -> String {
        let cols = insert_columns(columns);
        format!("INSERT INTO {target} ({cols}) SELECT {cols} FROM {}", quote_ident(staging))
    }

    /// Replace partition: the batch's `dt` partitions are replaced by its rows.
    pub fn replace_partitions(self, target: &TableName, staging: &str, columns: &[String]) -> Vec<String> {
        let dt = quote_ident(PARTITION_KEY);
        vec![
            format!("DELETE FROM {target} WHERE {dt} IN (SELECT DISTINCT {dt} FROM {})", quote_ident(staging)),
            self.insert_from_staging(target, staging, columns),
        ]
    }

    /// Merge: the latest staged row per key (by `order_by`, then the last
    /// file, then the last row) replaces the table's row with that key,
    /// unless the table's row is newer by `order_by`. A null `order_by`
    /// counts as oldest.
    pub fn merge(self, target: &TableName, staging: &str, columns: &[String], merge: MergeKey<'_>) -> Vec<String> {
        let latest = quote_ident(&format!("{staging}_latest"));
        let cols = insert_columns(columns);
        let partition = merge.key.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", ");
        let mut order = Vec::new();
        if let Some(o) = merge.order_by {
            order.push(format!("{} DESC NULLS LAST", quote_ident(o)));
        }
        order.push(format!("{} DESC", quote_ident(SEQ_COLUMN)));
        order.push(format!("{} DESC", quote_ident(ROW_COLUMN)));
        let key_match = |left: &str, right: &str| {
            merge
                .key
                .iter()
                .map(|k| format!("{left}.{q} = {right}.{q}", q = quote_ident(k)))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let t = target.to_string();
        let mut delete = format!("DELETE FROM {t} USING {latest} s WHERE {}", key_match(&t, "s"));
        let mut insert = format!("INSERT INTO {t} ({cols}) SELECT {cols} FROM {latest} s");
        if let Some(o) = merge.order_by {
            let o = quote_ident(o);
            let _ = write!(delete, " AND ({t}.{o} IS NULL OR (s.{o} IS NOT NULL AND s.{o} >= {t}.{o}))");
            // What survived the delete with the same key is newer than the batch's row.
            let _ = write!(insert, " WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE {})", key_match("t", "s"));
        }
        vec![
            format!("DROP TABLE IF EXISTS {latest}"),
            format!(
                "CREATE TEMP TABLE {latest} AS SELECT {cols} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {partition} \
                 ORDER BY {}) AS \"_landfall_rank\" FROM {}) ranked WHERE \"_landfall_rank\" = 1",
                order.join(", "),
                quote_ident(staging)
            ),
            delete,
            insert,
            format!("DROP TABLE {latest}"),
        ]
    }
}

/// The data columns then the lineage columns, quoted, comma-separated.
fn insert_columns(columns: &[String]) -> String {
    columns.iter().map(String::as_str).chain(lineage_names()).map(quote_ident).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(name: &str, logical: LogicalType, max_bytes: Option<u32>) -> ColumnNeed {
        ColumnNeed { name: name.into(), logical, max_bytes }
    }

    fn existing(name: &str, t: SqlType) -> ExistingColumn {
        ExistingColumn { name: name.into(), sql_type: t }
    }

    #[test]
    fn identifiers_are_quoted_with_embedded_quotes_doubled() {
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(TableName::new("public", "order").to_string(), "\"public\".\"order\"");
    }

    #[test]
    fn literals_escape_quotes_and_backslashes_per_dialect() {
        assert_eq!(Dialect::Postgres.literal("it's"), "'it''s'");
        assert_eq!(Dialect::Postgres.literal("a\\b"), "E'a\\\\b'");
        assert_eq!(Dialect::Redshift.literal("a\\b'c"), "'a\\\\b''c'");
        assert_eq!(Dialect::Redshift.literal("nul\0byte"), "'nulbyte'");
    }

    #[test]
    fn logical_types_map_to_warehouse_types() {
        let pg = |l, b| Dialect::Postgres.type_sql(&SqlType::for_column(Dialect::Postgres, l, b));
        let rs = |l, b| Dialect::Redshift.type_sql(&SqlType::for_column(Dialect::Redshift, l, b));
        assert_eq!(pg(LogicalType::Int64, None), "bigint");
        assert_eq!(pg(LogicalType::Float64, None), "double precision");
        assert_eq!(pg(LogicalType::Decimal { precision: 12, scale: 2 }, None), "numeric(12,2)");
        assert_eq!(pg(LogicalType::TimestampTz, None), "timestamptz");
        assert_eq!(pg(LogicalType::Json, None), "jsonb");
        assert_eq!(rs(LogicalType::Json, None), "super");
        assert_eq!(pg(LogicalType::String, Some(5)), "varchar(32)", "at least MIN_VARCHAR");
        assert_eq!(pg(LogicalType::String, Some(100)), "varchar(256)", "twice, rounded up to a power of two");
        assert_eq!(pg(LogicalType::String, Some(40_000)), "varchar(65535)");
        assert_eq!(pg(LogicalType::String, Some(70_000)), "text");
        assert_eq!(rs(LogicalType::String, Some(70_000)), "varchar(65535)");
    }

    #[test]
    fn warehouse_type_names_parse_back() {
        assert_eq!(SqlType::parse("character varying(64)"), SqlType::Varchar(64));
        assert_eq!(SqlType::parse("numeric(12,2)"), SqlType::Numeric { precision: 12, scale: 2 });
        assert_eq!(SqlType::parse("timestamp with time zone"), SqlType::TimestampTz);
        assert_eq!(SqlType::parse("timestamp without time zone"), SqlType::Timestamp);
        assert_eq!(SqlType::parse("jsonb"), SqlType::Json);
        assert_eq!(SqlType::parse("integer"), SqlType::Other("integer".into()));
    }

    #[test]
    fn new_columns_are_added_and_narrower_types_widened() {
        let table = [existing("id", SqlType::BigInt), existing("name", SqlType::Varchar(32))];
        let needs = [
            need("id", LogicalType::Float64, None),
            need("name", LogicalType::String, Some(100)),
            need("city", LogicalType::String, Some(10)),
        ];
        let c = changes(Dialect::Postgres, &table, &needs);
        assert_eq!(
            c,
            vec![
                Change::Widen { column: "id".into(), from: SqlType::BigInt, to: SqlType::Double },
                Change::Widen { column: "name".into(), from: SqlType::Varchar(32), to: SqlType::Varchar(256) },
                Change::Add { column: "city".into(), sql_type: SqlType::Varchar(32) },
            ]
        );
        assert!(c[0].is_type_change() && !c[1].is_type_change() && c[2].is_type_change());
    }

    #[test]
    fn a_wider_table_holds_narrower_batches() {
        let table = [
            existing("amount", SqlType::Double),
            existing("code", SqlType::Varchar(64)),
            existing("at", SqlType::TimestampTz),
            existing("custom", SqlType::Other("integer".into())),
        ];
        let needs = [
            need("amount", LogicalType::Int64, None),
            need("code", LogicalType::Int64, None),
            need("at", LogicalType::Date, None),
            need("custom", LogicalType::Int64, None),
        ];
        assert!(changes(Dialect::Postgres, &table, &needs).is_empty());
    }

    #[test]
    fn decimals_widen_to_hold_both_ranges() {
        let table = [existing("amount", SqlType::Numeric { precision: 12, scale: 2 })];
        let c = changes(
            Dialect::Postgres,
            &table,
            &[need("amount", LogicalType::Decimal { precision: 18, scale: 4 }, None)],
        );
        assert_eq!(c.len(), 1);
        assert_eq!(
            Dialect::Postgres.type_sql(match &c[0] {
                Change::Widen { to, .. } => to,
                other => panic!("{other:?}"),
            }),
            "numeric(18,4)"
        );
    }

    #[test]
    fn redshift_widens_a_non_text_type_through_a_new_column() {
        let t = TableName::new("public", "t");
        let change = Change::Widen { column: "n".into(), from: SqlType::BigInt, to: SqlType::Varchar(64) };
        let sql = Dialect::Redshift.apply_change(&t, &change);
        assert_eq!(sql.len(), 4);
        assert!(sql[1].starts_with("UPDATE \"public\".\"t\" SET \"n__landfall_widen\" = CAST(\"n\" AS varchar(64))"));
        let json = Change::Widen { column: "j".into(), from: SqlType::Json, to: SqlType::Varchar(65535) };
        assert!(Dialect::Redshift.apply_change(&t, &json)[1].ends_with("= JSON_SERIALIZE(\"j\")"));
        let flag = Change::Widen { column: "b".into(), from: SqlType::Boolean, to: SqlType::Varchar(64) };
        assert!(
            Dialect::Redshift.apply_change(&t, &flag)[1]
                .ends_with("= CASE WHEN \"b\" THEN 'true' WHEN NOT \"b\" THEN 'false' END")
        );
        let grow = Change::Widen { column: "s".into(), from: SqlType::Varchar(32), to: SqlType::Varchar(64) };
        assert_eq!(
            Dialect::Redshift.apply_change(&t, &grow),
            vec!["ALTER TABLE \"public\".\"t\" ALTER COLUMN \"s\" TYPE varchar(64)".to_owned()]
        );
    }

    #[test]
    fn merge_keeps_the_latest_row_per_key_and_does_not_clobber_newer_rows() {
        let t = TableName::new("public", "orders");
        let key = vec!["order_id".to_owned()];
        let sql = Dialect::Postgres.merge(
            &t,
            "stage",
            &["order_id".into(), "amount".into()],
            MergeKey { key: &key, order_by: Some("ordered_at") },
        );
        assert!(sql[1].contains(
            "PARTITION BY \"order_id\" ORDER BY \"ordered_at\" DESC NULLS LAST, \"_landfall_seq\" DESC, \"_landfall_row\" DESC"
        ));
        assert!(sql[2].contains("\"public\".\"orders\".\"order_id\" = s.\"order_id\""));
        assert!(sql[2].contains("s.\"ordered_at\" >= \"public\".\"orders\".\"ordered_at\""));
        assert!(sql[3].contains("WHERE NOT EXISTS"));
        let plain = Dialect::Postgres.merge(&t, "stage", &["order_id".into()], MergeKey { key: &key, order_by: None });
        assert!(!plain[3].contains("NOT EXISTS"), "without order_by the batch always wins");
    }
}
