//! The statements jobs run, for both dialects (pure). Each transform is one
//! list of statements run as one transaction, the job ledger's update last,
//! so a run's rows and its ledger row commit together; Redshift's UNLOADs
//! for exports and archives are pinned by golden files in `events/redshift/`.

use std::fmt::Write as _;

use crate::warehouse::bookkeeping::job_runs::RUNS;
use crate::warehouse::sql::{Dialect, TableName, quote_ident};

/// The temporary table an incremental run selects its new rows into.
pub(crate) const NEW_ROWS: &str = "landfall_job_rows";

/// What the ledger row of a finishing run gets, in the run's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish<'a> {
    pub run_id: &'a str,
    /// RFC 3339, when the statements were built.
    pub finished: &'a str,
    /// SQL for the rows written (a subquery), or `NULL`.
    pub rows_sql: String,
    /// SQL for the new watermark (a subquery), or `NULL`.
    pub watermark_sql: String,
    /// The newest load of the job's `after` tables this run saw.
    pub after_mark: Option<&'a str>,
}

impl Finish<'_> {
    pub fn statement(&self, d: Dialect) -> String {
        format!(
            "UPDATE {RUNS} SET status = 'succeeded', finished = {}, rows_written = {}, watermark = {}, after_mark = {} \
             WHERE run_id = {}",
            d.timestamptz_literal(self.finished),
            self.rows_sql,
            self.watermark_sql,
            self.after_mark.map_or_else(|| "NULL".to_owned(), |m| d.literal(m)),
            d.literal(self.run_id)
        )
    }
}

fn suffixed(target: &TableName, suffix: &str) -> TableName {
    TableName::new(target.schema.clone(), format!("{}{suffix}", target.table))
}

/// One privilege someone other than the owner holds on a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableGrant {
    /// `SELECT`, `INSERT`, ...
    pub privilege: String,
    /// The user, group or role; `PUBLIC` for everyone.
    pub grantee: String,
    /// `user`, `group` or `role` (Redshift's `identity_type`; `user` on PostgreSQL).
    pub kind: String,
}

impl TableGrant {
    fn statement(&self, target: &TableName) -> String {
        let who = match (self.kind.as_str(), self.grantee.as_str()) {
            (_, "PUBLIC") | (_, "public") => "PUBLIC".to_owned(),
            ("group", g) => format!("GROUP {}", quote_ident(g)),
            ("role", r) => format!("ROLE {}", quote_ident(r)),
            (_, u) => quote_ident(u),
        };
        format!("GRANT {} ON {target} TO {who}", self.privilege)
    }
}

/// The table's grants to others than its owner, as rows of (privilege,
/// grantee, kind) for [`TableGrant`]: a swapped-in table is a new table, so
/// what was granted on the old one is granted again in the swap's
/// transaction. Redshift lists them in `SVV_RELATION_PRIVILEGES`
/// (<https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_RELATION_PRIVILEGES.html>),
/// PostgreSQL in `information_schema.table_privileges`.
pub fn table_grants_query(d: Dialect, target: &TableName) -> String {
    let (s, t) = (d.literal(&target.schema), d.literal(&target.table));
    let owner = format!("(SELECT tableowner FROM pg_tables WHERE schemaname = {s} AND tablename = {t})");
    match d {
        Dialect::Postgres => format!(
            "SELECT privilege_type, grantee, 'user' FROM information_schema.table_privileges \
             WHERE table_schema = {s} AND table_name = {t} AND grantee <> {owner} ORDER BY 2, 1"
        ),
        Dialect::Redshift => format!(
            "SELECT privilege_type, identity_name, identity_type FROM svv_relation_privileges \
             WHERE namespace_name = {s} AND relation_name = {t} AND identity_name <> {owner} ORDER BY 2, 1"
        ),
    }
}

/// The views bound to the table (`schema.view`). Renaming a table takes such
/// a view along, and dropping it then fails ("other objects depend on it"),
/// so a swap under one cannot finish; a Redshift view made `WITH NO SCHEMA
/// BINDING` records no dependency and does not block it
/// (<https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html>).
pub fn dependent_views_query(d: Dialect, target: &TableName) -> String {
    format!(
        "SELECT DISTINCT vn.nspname || '.' || v.relname FROM pg_depend dep \
         JOIN pg_rewrite r ON dep.objid = r.oid JOIN pg_class v ON r.ev_class = v.oid \
         JOIN pg_namespace vn ON vn.oid = v.relnamespace JOIN pg_class t ON dep.refobjid = t.oid \
         JOIN pg_namespace tn ON tn.oid = t.relnamespace \
         WHERE tn.nspname = {} AND t.relname = {} AND v.oid <> t.oid ORDER BY 1",
        d.literal(&target.schema),
        d.literal(&target.table)
    )
}

/// `materialize: table`: build into `<target>__landfall_new`, then rename it
/// over the target in the same transaction (the old table is dropped), so a
/// reader sees the old rows or the new ones, never none; the old table's
/// `grants` are made again on the new one before the commit.
pub fn table_swap(
    d: Dialect,
    target: &TableName,
    sql: &str,
    exists: bool,
    grants: &[TableGrant],
    finish: &Finish<'_>,
) -> Vec<String> {
    let new = suffixed(target, "__landfall_new");
    let old = suffixed(target, "__landfall_old");
    let mut out =
        vec![format!("DROP TABLE IF EXISTS {new}"), format!("CREATE TABLE {new} AS SELECT * FROM (\n{sql}\n) AS q")];
    if exists {
        out.push(format!("DROP TABLE IF EXISTS {old}"));
        out.push(format!("ALTER TABLE {target} RENAME TO {}", quote_ident(&old.table)));
    }
    out.push(format!("ALTER TABLE {new} RENAME TO {}", quote_ident(&target.table)));
    out.extend(grants.iter().map(|g| g.statement(target)));
    if exists {
        out.push(format!("DROP TABLE {old}"));
    }
    out.push(Finish { rows_sql: format!("(SELECT count(*) FROM {target})"), ..finish.clone() }.statement(d));
    out
}

/// `materialize: view`.
pub fn view(d: Dialect, target: &TableName, sql: &str, finish: &Finish<'_>) -> Vec<String> {
    vec![format!("CREATE OR REPLACE VIEW {target} AS\n{sql}"), finish.statement(d)]
}

/// A backfill window for an incremental run: `from <= watermark < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

/// `materialize: incremental`. A first run creates the target from the
/// query. Later runs lock the target, select the query's rows past the
/// target's highest watermark (or inside the window) into a temporary
/// table, delete the target's rows with those keys (when there is a
/// `primary_key`), insert the rows, and record the target's new highest
/// watermark in the ledger: all one transaction, so the watermark and the
/// rows it covers commit together, and a racing run waits at the lock and
/// then sees the first one's watermark.
#[allow(clippy::too_many_arguments)]
pub fn incremental(
    d: Dialect,
    target: &TableName,
    sql: &str,
    watermark: &str,
    primary_key: &[String],
    window: Window<'_>,
    exists: bool,
    finish: &Finish<'_>,
) -> Vec<String> {
    let wm = quote_ident(watermark);
    let watermark_sql = format!("(SELECT CAST(max({wm}) AS varchar(256)) FROM {target})");
    if !exists {
        return vec![
            format!("CREATE TABLE {target} AS SELECT * FROM (\n{sql}\n) AS q"),
            Finish { rows_sql: format!("(SELECT count(*) FROM {target})"), watermark_sql, ..finish.clone() }
                .statement(d),
        ];
    }
    let mut filter = Vec::new();
    if let Some(from) = window.from {
        filter.push(format!("q.{wm} >= {}", d.literal(from)));
    }
    if let Some(to) = window.to {
        filter.push(format!("q.{wm} < {}", d.literal(to)));
    }
    if filter.is_empty() {
        let high = format!("(SELECT max({wm}) FROM {target})");
        filter.push(format!("({high} IS NULL OR q.{wm} > {high})"));
    }
    let on_commit = if d == Dialect::Postgres { " ON COMMIT DROP" } else { "" };
    let mut out = vec![
        d.lock(target),
        format!("DROP TABLE IF EXISTS {NEW_ROWS}"),
        format!(
            "CREATE TEMP TABLE {NEW_ROWS}{on_commit} AS SELECT * FROM (\n{sql}\n) AS q WHERE {}",
            filter.join(" AND ")
        ),
    ];
    if !primary_key.is_empty() {
        let mut on = String::new();
        for (i, k) in primary_key.iter().enumerate() {
            let k = quote_ident(k);
            let _ = write!(on, "{}{target}.{k} = n.{k}", if i == 0 { "" } else { " AND " });
        }
        out.push(format!("DELETE FROM {target} USING {NEW_ROWS} n WHERE {on}"));
    }
    out.push(format!("INSERT INTO {target} SELECT * FROM {NEW_ROWS}"));
    out.push(
        Finish { rows_sql: format!("(SELECT count(*) FROM {NEW_ROWS})"), watermark_sql, ..finish.clone() }.statement(d),
    );
    out.push(format!("DROP TABLE {NEW_ROWS}"));
    out
}

/// The query's text inside UNLOAD's quotes: `\` and `'` backslash-escaped.
pub(crate) fn unload_quoted(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 2);
    out.push('\'');
    for c in sql.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Redshift: an export's UNLOAD to `<prefix>` (`s3://.../<run-id>_`), gzipped
/// CSV with a header row and a verbose manifest (rows and bytes per file);
/// one file (`PARALLEL OFF`, up to 6.2 GB each) unless asked otherwise.
pub fn unload_export(sql: &str, prefix_url: &str, role: &str, parallel: bool) -> String {
    let d = Dialect::Redshift;
    format!(
        "UNLOAD ({})\nTO {}\nIAM_ROLE {}\nFORMAT AS CSV HEADER GZIP\nMANIFEST VERBOSE\nPARALLEL {}",
        unload_quoted(sql),
        d.literal(prefix_url),
        d.literal(role),
        if parallel { "ON" } else { "OFF" }
    )
}

/// The condition an archive's rows meet, fixed when the run is recorded
/// (`cutoff` is a date or timestamp literal's text).
pub fn archive_condition(d: Dialect, column: &str, cutoff: &str) -> String {
    format!("{} < {}", quote_ident(column), d.literal(cutoff))
}

/// The rows an archive moves, as a query.
pub(crate) fn archive_select(table: &TableName, condition: &str) -> String {
    format!("SELECT * FROM {table} WHERE {condition}")
}

/// An archive's condition on Redshift, where the UNLOAD and the DELETE are
/// two statements apart in time: for a table landfall loads, only the rows
/// loaded before the run was recorded (`started`, from the job ledger), so
/// rows loaded later, or before a late resume, are neither archived nor
/// deleted.
pub fn archive_bounded(d: Dialect, condition: &str, started: Option<&str>) -> String {
    match started {
        Some(at) => format!(
            "{condition} AND {} <= {}",
            quote_ident(crate::lineage::LOADED_AT_COLUMN),
            d.timestamptz_literal(at)
        ),
        None => condition.to_owned(),
    }
}

/// Whether `table` has `column` (one row when it does).
pub fn column_exists(d: Dialect, table: &TableName, column: &str) -> String {
    format!(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = {} AND table_name = {} AND column_name = {}",
        d.literal(&table.schema),
        d.literal(&table.table),
        d.literal(column)
    )
}

/// The folder a Redshift archive run unloads into: its own, so that CLEANPATH
/// (and the run's own clearing before a repeated UNLOAD) can only ever
/// remove files of this run, whose rows are still in the warehouse.
/// `PARTITION BY` would append the `/` anyway and put the manifest in it
/// (UNLOAD, `TO`: <https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html>).
pub fn archive_unload_prefix(table: &str, run_id: &str) -> String {
    format!("archive/{table}/{run_id}/")
}

/// Redshift: an archive's UNLOAD, Parquet partitioned by `dt`, with a
/// verbose manifest the run reads the files and counts from. CLEANPATH: a
/// repeated UNLOAD of the same run replaces what an earlier attempt left in
/// the run's folder instead of failing on a prefix that is not empty.
pub fn unload_archive(table: &TableName, condition: &str, prefix_url: &str, role: &str) -> String {
    let d = Dialect::Redshift;
    format!(
        "UNLOAD ({})\nTO {}\nIAM_ROLE {}\nFORMAT AS PARQUET\nPARTITION BY ({})\nMANIFEST VERBOSE\nCLEANPATH",
        unload_quoted(&archive_select(table, condition)),
        d.literal(prefix_url),
        d.literal(role),
        quote_ident(crate::lineage::PARTITION_KEY)
    )
}

/// The statement that fails the delete's transaction (division by zero)
/// unless exactly `archived` rows meet the condition under the lock: the
/// rows deleted are the rows the UNLOAD wrote, or nothing is deleted.
pub fn archive_check(table: &TableName, condition: &str, archived: u64) -> String {
    format!("SELECT 1 / CASE WHEN count(*) = {archived} THEN 1 ELSE 0 END FROM {table} WHERE {condition}")
}

/// The rows meeting an archive's condition now (after a refused delete).
pub fn archive_count(table: &TableName, condition: &str) -> String {
    format!("SELECT count(*) FROM {table} WHERE {condition}")
}

/// An archive's delete, to run with its ledger row in one transaction once
/// the files and the catalog entry are durable; `archived` is the rows the
/// files hold, checked under the lock before anything is deleted.
pub fn archive_delete(d: Dialect, table: &TableName, condition: &str, archived: u64) -> Vec<String> {
    vec![d.lock(table), archive_check(table, condition, archived), format!("DELETE FROM {table} WHERE {condition}")]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish() -> Finish<'static> {
        Finish {
            run_id: "20261201T000000Z-0000abcd",
            finished: "2026-12-01T00:00:05Z",
            rows_sql: "NULL".into(),
            watermark_sql: "NULL".into(),
            after_mark: Some("2026-12-01 00:00:00+00"),
        }
    }

    #[test]
    fn a_swap_builds_aside_and_renames_in_one_list() {
        let t = TableName::new("public", "clicks_daily");
        let s = table_swap(Dialect::Postgres, &t, "SELECT 1 AS n", true, &[], &finish());
        assert_eq!(s[0], r#"DROP TABLE IF EXISTS "public"."clicks_daily__landfall_new""#);
        assert!(s[3].starts_with(r#"ALTER TABLE "public"."clicks_daily" RENAME TO "clicks_daily__landfall_old""#));
        assert!(s.last().unwrap().contains("rows_written = (SELECT count(*) FROM \"public\".\"clicks_daily\")"));
        assert_eq!(table_swap(Dialect::Postgres, &t, "SELECT 1", false, &[], &finish()).len(), 4);
    }

    #[test]
    fn a_swap_grants_again_what_the_old_table_had_before_dropping_it() {
        let t = TableName::new("public", "daily");
        let grants = [
            TableGrant { privilege: "SELECT".into(), grantee: "analysts".into(), kind: "group".into() },
            TableGrant { privilege: "SELECT".into(), grantee: "IAMR:bi".into(), kind: "user".into() },
        ];
        let s = table_swap(Dialect::Redshift, &t, "SELECT 1", true, &grants, &finish());
        let renamed = s.iter().position(|x| x.ends_with(r#"RENAME TO "daily""#)).unwrap();
        assert_eq!(s[renamed + 1], r#"GRANT SELECT ON "public"."daily" TO GROUP "analysts""#);
        assert_eq!(s[renamed + 2], r#"GRANT SELECT ON "public"."daily" TO "IAMR:bi""#);
        assert!(s[renamed + 3].starts_with("DROP TABLE"), "{s:?}");
    }

    #[test]
    fn unload_quotes_the_query_with_backslashes() {
        assert_eq!(unload_quoted(r"WHERE a = 'x\y'"), r"'WHERE a = \'x\\y\''");
    }

    /// Compares with `events/redshift/<name>.sql`; `LANDFALL_UPDATE_GOLDEN=1` rewrites it.
    fn assert_golden(name: &str, sql: &str) {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/redshift").join(format!("{name}.sql"));
        if std::env::var_os("LANDFALL_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, sql).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (LANDFALL_UPDATE_GOLDEN=1 writes it)", path.display()));
        assert!(want == sql, "{} differs from the generated SQL:\n{sql}", path.display());
    }

    fn joined(statements: &[String]) -> String {
        statements.iter().map(|s| format!("{s};\n\n")).collect()
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/landfall-copy";

    #[test]
    fn redshift_job_sql_matches_its_golden_files() {
        let d = Dialect::Redshift;
        let clicks = TableName::new("raw", "partner_clicks");
        let export = unload_export(
            "SELECT partner_id, count(*) AS clicks FROM raw.partner_clicks WHERE dt = '2026-11-30' GROUP BY 1",
            "s3://lf-curated/exports/clicks_report/dt=2026-12-01/20261201T000000Z-0000abcd_",
            ROLE,
            false,
        );
        assert_golden("job_export", &format!("{export};\n"));
        let condition = archive_bounded(d, &archive_condition(d, "dt", "2025-10-27"), Some("2026-12-01T00:00:00.000Z"));
        let prefix = archive_unload_prefix("partner_clicks", "20261201T000000Z-0000abcd");
        let mut archive = vec![unload_archive(&clicks, &condition, &format!("s3://lf-curated/{prefix}"), ROLE)];
        archive.extend(archive_delete(d, &clicks, &condition, 1200));
        archive.push(Finish { rows_sql: "1200".into(), ..finish() }.statement(d));
        assert_golden("job_archive", &joined(&archive));
        let daily = TableName::new("raw", "clicks_daily");
        let analysts = TableGrant { privilege: "SELECT".into(), grantee: "analysts".into(), kind: "group".into() };
        let sql = "SELECT partner_id, dt, count(*) AS clicks FROM raw.partner_clicks GROUP BY 1, 2";
        assert_golden("job_transform_table", &joined(&table_swap(d, &daily, sql, true, &[analysts], &finish())));
        let orders = TableName::new("raw", "orders_latest");
        let inc = incremental(
            d,
            &orders,
            "SELECT order_id, status, updated_at FROM raw.orders",
            "updated_at",
            &["order_id".to_owned()],
            Window { from: None, to: None },
            true,
            &finish(),
        );
        assert_golden("job_transform_incremental", &joined(&inc));
    }
}
