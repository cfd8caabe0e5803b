//! Database sources (`kind: postgres | mysql` under `sources:`): an
//! operational database read incrementally by keyset pagination on a cursor
//! column and a unique key, landed as gzipped NDJSON pages like the HTTP
//! sources. This module is the configuration and the SQL, pure code with no
//! driver types; the run loop and the drivers live in functions/fetch-api.

use serde::Deserialize;

/// Which server the source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Postgres,
    Mysql,
}

impl DatabaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseKind::Postgres => "postgres",
            DatabaseKind::Mysql => "mysql",
        }
    }
}

/// A database source as written in the config file.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDatabaseSource {
    kind: DatabaseKind,
    feed: String,
    url: String,
    #[serde(default)]
    password_secret: Option<String>,
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    query: Option<String>,
    cursor: DatabaseCursor,
    #[serde(default = "default_page_rows")]
    page_rows: u32,
    #[serde(default = "default_statement_timeout")]
    statement_timeout_seconds: u64,
    #[serde(default)]
    time_budget_seconds: Option<u64>,
    #[serde(default)]
    schedule: Option<String>,
}

fn default_page_rows() -> u32 {
    50_000
}
fn default_statement_timeout() -> u64 {
    120
}

/// The incremental position: rows are read in (`column`, `key`...) order
/// and the last row read is the next run's start, so rows that share a
/// cursor value across a page boundary are neither skipped nor repeated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DatabaseCursor {
    /// A column that grows with every insert and update (a timestamp or an integer).
    pub column: String,
    /// Columns that are unique together: the tie-break within one cursor value.
    pub key: Vec<String>,
    /// Rows with a cursor value below this are never read (the first run's start).
    #[serde(default)]
    pub initial: Option<String>,
}

/// What is read: a table's columns, or a query's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    /// A table (`schema.table` allowed) and its columns (empty: all).
    Table { name: String, columns: Vec<String> },
    /// Any SELECT; the cursor and key columns must be among its outputs.
    Query(String),
}

/// A validated database source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSource {
    pub name: String,
    pub kind: DatabaseKind,
    pub feed: String,
    /// The connection URL, without a password.
    pub url: String,
    /// Secrets Manager name of the password (plain, or JSON with `password`).
    pub password_secret: Option<String>,
    pub relation: Relation,
    pub cursor: DatabaseCursor,
    pub page_rows: u32,
    pub statement_timeout_seconds: u64,
    /// Overrides the function's time budget for this source.
    pub time_budget_seconds: Option<u64>,
    pub schedule: Option<String>,
    pub line: u64,
}

/// Checks a raw database source; `feeds` are the configured feed names.
pub(crate) fn validate(name: &str, raw: RawDatabaseSource, feeds: &[&str]) -> Result<DatabaseSource, String> {
    if !feeds.contains(&raw.feed.as_str()) {
        return Err(format!("feed {:?} is not a configured feed (sources land their pages in a feed)", raw.feed));
    }
    check_url(raw.kind, &raw.url)?;
    if matches!(&raw.password_secret, Some(s) if s.trim().is_empty()) {
        return Err("password_secret must name a Secrets Manager secret".into());
    }
    let relation = match (raw.table, raw.query) {
        (Some(table), None) => {
            check_identifier("table", &table, true)?;
            for c in &raw.columns {
                check_identifier("columns", c, false)?;
            }
            Relation::Table { name: table, columns: raw.columns }
        }
        (None, Some(query)) => {
            if !raw.columns.is_empty() {
                return Err("columns belongs to table:; a query names its own columns".into());
            }
            let query = query.trim().trim_end_matches(';').trim().to_owned();
            if query.is_empty() {
                return Err("query must not be empty".into());
            }
            Relation::Query(query)
        }
        _ => return Err("a database source needs exactly one of table: or query:".into()),
    };
    check_identifier("cursor.column", &raw.cursor.column, false)?;
    if raw.cursor.key.is_empty() {
        return Err("cursor.key must name the columns that are unique together (e.g. [id])".into());
    }
    for k in &raw.cursor.key {
        check_identifier("cursor.key", k, false)?;
        if *k == raw.cursor.column {
            return Err(format!("cursor.key {k:?} is the cursor column; name the unique key that breaks its ties"));
        }
    }
    if let Relation::Table { columns, .. } = &relation
        && !columns.is_empty()
    {
        for needed in std::iter::once(&raw.cursor.column).chain(&raw.cursor.key) {
            if !columns.contains(needed) {
                return Err(format!("columns must include the cursor column and key ({needed:?} is missing)"));
            }
        }
    }
    if !(1..=1_000_000).contains(&raw.page_rows) {
        return Err("page_rows must be between 1 and 1000000".into());
    }
    if !(1..=900).contains(&raw.statement_timeout_seconds) {
        return Err("statement_timeout_seconds must be between 1 and 900".into());
    }
    if matches!(raw.time_budget_seconds, Some(s) if !(1..=900).contains(&s)) {
        return Err("time_budget_seconds must be between 1 and 900".into());
    }
    Ok(DatabaseSource {
        name: name.to_owned(),
        kind: raw.kind,
        feed: raw.feed,
        url: raw.url,
        password_secret: raw.password_secret,
        relation,
        cursor: raw.cursor,
        page_rows: raw.page_rows,
        statement_timeout_seconds: raw.statement_timeout_seconds,
        time_budget_seconds: raw.time_budget_seconds,
        schedule: raw.schedule,
        line: 0,
    })
}

/// The URL's scheme matches the kind and it carries no password: passwords
/// come from Secrets Manager, so the config file holds none.
fn check_url(kind: DatabaseKind, url: &str) -> Result<(), String> {
    let schemes: &[&str] = match kind {
        DatabaseKind::Postgres => &["postgres://", "postgresql://"],
        DatabaseKind::Mysql => &["mysql://"],
    };
    let Some(rest) = schemes.iter().find_map(|s| url.strip_prefix(s)) else {
        return Err(format!("url must start with {} for kind: {}", schemes.join(" or "), kind.as_str()));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let has_password = authority.rsplit_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':'));
    let query_password = rest.split_once('?').is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("password=")));
    if has_password || query_password {
        return Err("url carries a password: put it in Secrets Manager and name it in password_secret".into());
    }
    Ok(())
}

/// Identifiers are interpolated into SQL (quoted), so they are held to the
/// plain form: letters, digits, `_` and `$`, not starting with a digit.
fn check_identifier(field: &str, ident: &str, qualified: bool) -> Result<(), String> {
    let parts: Vec<&str> = if qualified { ident.split('.').collect() } else { vec![ident] };
    let plain = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    if parts.len() > 2 || !parts.iter().all(|p| plain(p)) {
        return Err(format!("{field} {ident:?} is not a plain identifier (letters, digits, _ and $)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(yaml: &str) -> RawDatabaseSource {
        serde_saphyr::from_str(yaml).unwrap()
    }

    const BASE: &str = "kind: postgres\nfeed: orders\nurl: postgres://reader@db:5432/shop\ncursor: { column: updated_at, key: [id] }\n";

    #[test]
    fn a_table_source_with_a_cursor_and_key_validates() {
        let s = validate(
            "shop",
            raw(&format!("{BASE}table: public.orders\ncolumns: [id, updated_at, total]\n")),
            &["orders"],
        )
        .unwrap();
        assert_eq!(
            s.relation,
            Relation::Table {
                name: "public.orders".into(),
                columns: vec!["id".into(), "updated_at".into(), "total".into()]
            }
        );
        assert_eq!(s.page_rows, 50_000);
    }

    #[test]
    fn a_password_in_the_url_is_refused() {
        let yaml = "kind: mysql\nfeed: orders\nurl: mysql://u:hunter2@db/shop\ntable: orders\ncursor: { column: updated_at, key: [id] }\n";
        let e = validate("shop", raw(yaml), &["orders"]).unwrap_err();
        assert!(e.contains("carries a password") && !e.contains("hunter2"), "{e}");
        let e = validate(
            "shop",
            raw(&BASE.replace("shop\n", "shop?password=x\n").replace("cursor", "table: t\ncursor")),
            &["orders"],
        )
        .unwrap_err();
        assert!(e.contains("carries a password"), "{e}");
    }

    #[test]
    fn the_scheme_must_match_the_kind() {
        let e =
            validate("s", raw(&format!("{}table: t\n", BASE.replace("kind: postgres", "kind: mysql"))), &["orders"])
                .unwrap_err();
        assert!(e.contains("mysql://"), "{e}");
    }

    #[test]
    fn exactly_one_of_table_and_query() {
        let e = validate("s", raw(BASE), &["orders"]).unwrap_err();
        assert!(e.contains("exactly one of table: or query:"), "{e}");
        let both = format!("{BASE}table: t\nquery: select 1\n");
        assert!(validate("s", raw(&both), &["orders"]).is_err());
        let q = validate("s", raw(&format!("{BASE}query: \"select * from o;\"\n")), &["orders"]).unwrap();
        assert_eq!(q.relation, Relation::Query("select * from o".into()));
    }

    #[test]
    fn identifiers_must_be_plain_and_the_key_must_break_ties() {
        let e = validate("s", raw(&format!("{BASE}table: \"o; drop table x\"\n")), &["orders"]).unwrap_err();
        assert!(e.contains("not a plain identifier"), "{e}");
        let same = BASE.replace("key: [id]", "key: [updated_at]");
        let e = validate("s", raw(&format!("{same}table: t\n")), &["orders"]).unwrap_err();
        assert!(e.contains("breaks its ties"), "{e}");
        let e = validate("s", raw(&format!("{BASE}table: t\ncolumns: [id, total]\n")), &["orders"]).unwrap_err();
        assert!(e.contains("\"updated_at\" is missing"), "{e}");
    }
}
