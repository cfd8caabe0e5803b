//! The SQL of a database source's pages, for PostgreSQL and MySQL/MariaDB:
//! keyset pagination on (cursor, key...), each row turned into one JSON
//! text by the server itself so that types stay faithful (numeric and
//! decimal as exact literals, json as nested objects, binary as base64,
//! timestamps with their zone), plus the row's position as text for the
//! next page. Pure: the drivers describe the columns and bind the values.

use super::database::{DatabaseKind, DatabaseSource, Relation};

/// How a column's value is written into the row's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The server's JSON function writes it faithfully as it is.
    Native,
    /// Binary data, as base64 text.
    Base64,
    /// A MySQL JSON column, nested rather than quoted as a string.
    Json,
    /// A MySQL TIMESTAMP (stored in UTC), written as RFC 3339 with `Z`.
    UtcTimestamp,
}

/// A column of the source's rows, as the driver described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub encoding: Encoding,
    /// The type a position value (bound as text) is cast to in the WHERE:
    /// a PostgreSQL type name, or a MySQL CAST target ("" for none).
    pub cast: String,
}

/// Where the last page ended: the text of the cursor and key columns.
pub type Position = Vec<String>;

/// The statement that describes the relation's columns without reading rows.
pub fn describe_sql(source: &DatabaseSource) -> String {
    format!("SELECT * FROM ({}) AS q LIMIT 0", relation_sql(source))
}

/// The rows the source reads, before paging.
pub(crate) fn relation_sql(source: &DatabaseSource) -> String {
    let q = |ident: &str| quote(source.kind, ident);
    match &source.relation {
        Relation::Query(sql) => sql.clone(),
        Relation::Table { name, columns } => {
            let table = name.split('.').map(q).collect::<Vec<_>>().join(".");
            let list = if columns.is_empty() {
                "*".to_owned()
            } else {
                columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
            };
            format!("SELECT {list} FROM {table}")
        }
    }
}

/// The position columns (cursor, then key) in order.
pub fn position_columns(source: &DatabaseSource) -> Vec<&str> {
    std::iter::once(source.cursor.column.as_str()).chain(source.cursor.key.iter().map(String::as_str)).collect()
}

/// Why a page cannot be built from the described columns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysetError {
    #[error("the source's rows have no column {0:?} (the cursor and key must be among them)")]
    MissingColumn(String),
    #[error("column {0:?} is binary or JSON and cannot order the rows")]
    Unorderable(String),
}

/// One page: rows after `after` (or from the initial cursor value, or all),
/// in position order, at most `limit`. Each result row is
/// (record JSON text, position texts...). Placeholders are `$n` for
/// PostgreSQL and `?` for MySQL, bound in [`page_params`] order.
pub fn page_sql(
    source: &DatabaseSource,
    columns: &[Column],
    after: Option<&Position>,
    limit: u32,
) -> Result<String, KeysetError> {
    let kind = source.kind;
    let q = |ident: &str| quote(kind, ident);
    let positions = position_columns(source);
    let mut casts = Vec::with_capacity(positions.len());
    for name in &positions {
        let col =
            columns.iter().find(|c| c.name == *name).ok_or_else(|| KeysetError::MissingColumn(name.to_string()))?;
        if col.encoding != Encoding::Native && col.encoding != Encoding::UtcTimestamp {
            return Err(KeysetError::Unorderable(name.to_string()));
        }
        casts.push(col.cast.as_str());
    }
    let placeholder = |i: usize, cast: &str| match kind {
        DatabaseKind::Postgres => format!("${}::text::{cast}", i + 1),
        DatabaseKind::Mysql if cast.is_empty() => "?".to_owned(),
        DatabaseKind::Mysql => format!("CAST(? AS {cast})"),
    };
    let qualified = |name: &str| format!("q.{}", q(name));
    let filter = match (after, &source.cursor.initial) {
        (Some(_), _) => {
            let lhs = positions.iter().map(|p| qualified(p)).collect::<Vec<_>>().join(", ");
            let rhs = casts.iter().enumerate().map(|(i, c)| placeholder(i, c)).collect::<Vec<_>>().join(", ");
            format!("\nWHERE ({lhs}) > ({rhs})")
        }
        (None, Some(_)) => format!("\nWHERE {} >= {}", qualified(positions[0]), placeholder(0, casts[0])),
        (None, None) => String::new(),
    };
    let order = positions.iter().map(|p| qualified(p)).collect::<Vec<_>>().join(", ");
    let relation = relation_sql(source);
    Ok(match kind {
        DatabaseKind::Postgres => {
            let outer = |name: &str| format!("s.{}", q(name));
            let data = columns
                .iter()
                .map(|c| match c.encoding {
                    Encoding::Base64 => format!("encode({}, 'base64') AS {}", outer(&c.name), q(&c.name)),
                    _ => outer(&c.name),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let texts = positions.iter().map(|p| format!(", {}::text", outer(p))).collect::<String>();
            let outer_order = positions.iter().map(|p| outer(p)).collect::<Vec<_>>().join(", ");
            // row_to_json keeps the columns' order and writes numeric
            // exactly; the lateral row holds the data columns only.
            format!(
                "SELECT row_to_json(d)::text{texts}\nFROM (SELECT * FROM ({relation}) AS q{filter}\nORDER BY {order}\nLIMIT {limit}) AS s\nCROSS JOIN LATERAL (SELECT {data}) AS d\nORDER BY {outer_order}"
            )
        }
        DatabaseKind::Mysql => {
            let pairs = columns
                .iter()
                .map(|c| {
                    let v = qualified(&c.name);
                    let value = match c.encoding {
                        Encoding::Native => v,
                        Encoding::Base64 => format!("TO_BASE64({v})"),
                        Encoding::Json => format!("JSON_EXTRACT({v}, '$')"),
                        Encoding::UtcTimestamp => format!("DATE_FORMAT({v}, '%Y-%m-%dT%H:%i:%s.%fZ')"),
                    };
                    format!("'{}', {value}", c.name.replace('\'', "''"))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let texts = positions.iter().map(|p| format!(", CAST({} AS CHAR)", qualified(p))).collect::<String>();
            format!(
                "SELECT JSON_OBJECT({pairs}){texts}\nFROM ({relation}) AS q{filter}\nORDER BY {order}\nLIMIT {limit}"
            )
        }
    })
}

/// The values bound to a page's placeholders.
pub fn page_params<'a>(source: &'a DatabaseSource, after: Option<&'a Position>) -> Vec<&'a str> {
    match (after, &source.cursor.initial) {
        (Some(position), _) => position.iter().map(String::as_str).collect(),
        (None, Some(initial)) => vec![initial.as_str()],
        (None, None) => vec![],
    }
}

fn quote(kind: DatabaseKind, ident: &str) -> String {
    match kind {
        DatabaseKind::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
        DatabaseKind::Mysql => format!("`{}`", ident.replace('`', "``")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn source(kind: &str, url: &str, extra: &str) -> DatabaseSource {
        let yaml = format!(
            "feeds:\n  orders:\n    prefix: db/orders/\nsources:\n  shop:\n    kind: {kind}\n    feed: orders\n    url: {url}\n    table: shop.orders\n    cursor: {{ column: updated_at, key: [id]{extra} }}\n"
        );
        Config::from_yaml(&yaml, "t").unwrap().database("shop").unwrap().clone()
    }

    fn columns(ts_cast: &str, ts: Encoding) -> Vec<Column> {
        vec![
            Column { name: "id".into(), encoding: Encoding::Native, cast: "int8".into() },
            Column { name: "updated_at".into(), encoding: ts, cast: ts_cast.into() },
            Column { name: "doc".into(), encoding: Encoding::Base64, cast: "bytea".into() },
        ]
    }

    #[test]
    fn a_postgres_page_after_a_position_orders_by_cursor_then_key() {
        let s = source("postgres", "postgres://r@db/shop", "");
        let after = vec!["2026-12-01 10:00:00+00".to_owned(), "42".to_owned()];
        let sql = page_sql(&s, &columns("timestamptz", Encoding::Native), Some(&after), 500).unwrap();
        assert_eq!(
            sql,
            "SELECT row_to_json(d)::text, s.\"updated_at\"::text, s.\"id\"::text\n\
             FROM (SELECT * FROM (SELECT * FROM \"shop\".\"orders\") AS q\n\
             WHERE (q.\"updated_at\", q.\"id\") > ($1::text::timestamptz, $2::text::int8)\n\
             ORDER BY q.\"updated_at\", q.\"id\"\nLIMIT 500) AS s\n\
             CROSS JOIN LATERAL (SELECT s.\"id\", s.\"updated_at\", encode(s.\"doc\", 'base64') AS \"doc\") AS d\n\
             ORDER BY s.\"updated_at\", s.\"id\""
        );
        assert_eq!(page_params(&s, Some(&after)), vec!["2026-12-01 10:00:00+00", "42"]);
    }

    #[test]
    fn a_mysql_first_page_starts_at_the_initial_cursor_value() {
        let s = source("mysql", "mysql://r@db/shop", ", initial: \"2026-01-01 00:00:00\"");
        let sql = page_sql(&s, &columns("DATETIME(6)", Encoding::UtcTimestamp), None, 10).unwrap();
        assert_eq!(
            sql,
            "SELECT JSON_OBJECT('id', q.`id`, 'updated_at', DATE_FORMAT(q.`updated_at`, '%Y-%m-%dT%H:%i:%s.%fZ'), 'doc', TO_BASE64(q.`doc`)), CAST(q.`updated_at` AS CHAR), CAST(q.`id` AS CHAR)\n\
             FROM (SELECT * FROM `shop`.`orders`) AS q\n\
             WHERE q.`updated_at` >= CAST(? AS DATETIME(6))\n\
             ORDER BY q.`updated_at`, q.`id`\nLIMIT 10"
        );
        assert_eq!(page_params(&s, None), vec!["2026-01-01 00:00:00"]);
    }

    #[test]
    fn a_cursor_the_rows_lack_or_cannot_order_is_an_error() {
        let s = source("postgres", "postgres://r@db/shop", "");
        let mut cols = columns("timestamptz", Encoding::Native);
        cols.retain(|c| c.name != "updated_at");
        assert_eq!(page_sql(&s, &cols, None, 1), Err(KeysetError::MissingColumn("updated_at".into())));
        let binary = vec![
            Column { name: "id".into(), encoding: Encoding::Base64, cast: "bytea".into() },
            Column { name: "updated_at".into(), encoding: Encoding::Native, cast: "int8".into() },
        ];
        assert_eq!(page_sql(&s, &binary, None, 1), Err(KeysetError::Unorderable("id".into())));
    }
}
