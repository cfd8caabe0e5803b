//! Check `grants <function>`: the database user each function connects as
//! holds what the function does (docs/first-deploy.md section 3), asked of
//! the warehouse with `has_database_privilege` / `has_schema_privilege` /
//! `has_table_privilege` naming that user, which PostgreSQL and Redshift both
//! answer (<https://docs.aws.amazon.com/redshift/latest/dg/r_HAS_TABLE_PRIVILEGE.html>).
//!
//! Which user: on Redshift Serverless without a secret or `db_user`, each
//! function's role is its own user, `IAMR:<role name>`
//! (<https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_GetCredentials.html>);
//! otherwise all functions are the one user the CLI connects as.

use landfall::config::{Config, RedshiftEndpoint, WarehouseDriver};
use landfall::lineage::LEDGER_SCHEMA;
use landfall::warehouse::Warehouse;
use landfall::warehouse::sql::{Dialect, TableName, quote_ident};

use super::Check;

/// A privilege a function needs, and whether it is on the database, a schema or a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum On {
    Database,
    Schema,
    Table,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Privilege {
    pub on: On,
    /// The schema or `schema.table` (empty for the database).
    pub object: String,
    pub privilege: &'static str,
}

fn p(on: On, object: &str, privilege: &'static str) -> Privilege {
    Privilege { on, object: object.to_owned(), privilege }
}

/// What each function does in the warehouse (the functions without one need nothing).
pub(crate) fn needed(function: &str, schema: &str) -> Vec<Privilege> {
    let ledger = format!("{LEDGER_SCHEMA}.load_ledger");
    let stats = format!("{LEDGER_SCHEMA}.feed_stats");
    match function {
        // Creates the landfall schema, owns the tables it loads, stages in temporary tables.
        "load-warehouse" => vec![
            p(On::Database, "", "CREATE"),
            p(On::Database, "", "TEMP"),
            p(On::Schema, schema, "CREATE"),
            p(On::Schema, schema, "USAGE"),
        ],
        // Reads the ledger and stats, creates its alert and digest tables.
        "monitor-feeds" => vec![
            p(On::Schema, LEDGER_SCHEMA, "USAGE"),
            p(On::Schema, LEDGER_SCHEMA, "CREATE"),
            p(On::Table, &ledger, "SELECT"),
            p(On::Table, &stats, "SELECT"),
        ],
        // Its job_runs table, a job's `after:` read of the ledger, transforms in the warehouse schema.
        "run-job" => vec![
            p(On::Database, "", "TEMP"),
            p(On::Schema, LEDGER_SCHEMA, "USAGE"),
            p(On::Schema, LEDGER_SCHEMA, "CREATE"),
            p(On::Table, &ledger, "SELECT"),
            p(On::Schema, schema, "CREATE"),
            p(On::Schema, schema, "USAGE"),
        ],
        _ => Vec::new(),
    }
}

/// The user a function connects as, when it is not the CLI's own: `IAMR:<role>`
/// on Serverless with IAM authentication.
pub(crate) fn user_of(config: &Config, role_name: Option<&str>) -> Option<String> {
    let rs = config.warehouse.redshift.as_ref()?;
    let iam = config.warehouse.driver == WarehouseDriver::Redshift
        && rs.secret_arn.is_none()
        && rs.db_user.is_none()
        && matches!(rs.endpoint, RedshiftEndpoint::Workgroup(_));
    if !iam {
        return None;
    }
    role_name.map(|r| format!("IAMR:{r}"))
}

/// One row per privilege, in order (its position first: a UNION keeps none
/// of its own): 'true', 'false', 'absent' where the object does not exist
/// yet (its creator makes it, and owns it), 'nouser' where the user does not.
pub(crate) fn query(d: Dialect, user: Option<&str>, needs: &[Privilege]) -> String {
    let who = match user {
        Some(u) => format!("{}, ", d.literal(u)),
        None => String::new(),
    };
    let user_exists = match user {
        Some(u) => format!("EXISTS (SELECT 1 FROM pg_user WHERE usename = {})", d.literal(u)),
        None => "TRUE".into(),
    };
    needs
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let (exists, test) = match n.on {
                On::Database => ("TRUE".to_owned(), format!("has_database_privilege({who}current_database(), '{}')", n.privilege)),
                On::Schema => (
                    format!("EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {})", d.literal(&n.object)),
                    format!("has_schema_privilege({who}{}, '{}')", d.literal(&n.object), n.privilege),
                ),
                On::Table => {
                    let (s, t) = n.object.split_once('.').unwrap_or(("public", &n.object));
                    // Without USAGE on its schema the name cannot even be
                    // looked up (PostgreSQL: permission denied for schema),
                    // and the table is out of reach anyway (a CASE, since
                    // AND does not fix the order of evaluation).
                    (
                        format!("EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = {} AND tablename = {})", d.literal(s), d.literal(t)),
                        format!(
                            "CASE WHEN has_schema_privilege({who}{}, 'USAGE') THEN has_table_privilege({who}{}, '{}') ELSE FALSE END",
                            d.literal(s),
                            d.literal(&n.object),
                            n.privilege
                        ),
                    )
                }
            };
            format!(
                "SELECT {i}, CASE WHEN NOT {user_exists} THEN 'nouser' WHEN NOT {exists} THEN 'absent' WHEN {test} THEN 'true' \
                 ELSE 'false' END"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
        + " ORDER BY 1"
}

/// The GRANT that gives `user` the privilege.
fn grant(n: &Privilege, user: &str) -> String {
    let who = quote_ident(user);
    match n.on {
        On::Database => format!("GRANT {} ON DATABASE <database> TO {who};", n.privilege),
        On::Schema => format!("GRANT {} ON SCHEMA {} TO {who};", n.privilege, quote_ident(&n.object)),
        On::Table => format!("GRANT {} ON {} TO {who};", n.privilege, n.object),
    }
}

/// The check of one function. `user` None: the user the CLI connects as.
pub(crate) async fn check(
    w: &dyn Warehouse,
    function: &str,
    user: Option<&str>,
    schema: &str,
    cli_user: &str,
) -> Check {
    let name = format!("grants {function}");
    let needs = needed(function, schema);
    let shown = user.unwrap_or(cli_user);
    let about = TableName::new(LEDGER_SCHEMA, "load_ledger");
    let sql = query(w.dialect(), user, &needs);
    let rows = match w.fetch(&about, "landfall-doctor-grants", &sql).await {
        Ok(r) => r,
        Err(e) => return Check::fail(name, format!("{}: {e}", w.describe()), "see the warehouse check".into()),
    };
    let answers: Vec<String> = rows.into_iter().map(|r| r.get(1).cloned().flatten().unwrap_or_default()).collect();
    if answers.first().map(String::as_str) == Some("nouser") {
        return Check::fail(
            name,
            format!("{shown} does not exist in the warehouse"),
            format!(
                "CREATE USER {} PASSWORD DISABLE; then the grants of docs/first-deploy.md section 3",
                quote_ident(shown)
            ),
        );
    }
    let missing: Vec<String> =
        needs.iter().zip(&answers).filter(|(_, a)| a.as_str() == "false").map(|(n, _)| grant(n, shown)).collect();
    if missing.is_empty() {
        Check::pass(name, format!("{shown} holds what {function} does (objects not created yet are its own)"))
    } else {
        Check::fail(name, format!("{shown} lacks {} privileges {function} needs", missing.len()), missing.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serverless_warehouse_without_a_secret_is_one_user_per_role() {
        let yaml = "version: 1\nwarehouse:\n  driver: redshift\n  workgroup: wg\n  database: dev\n  copy_role_arn: arn:aws:iam::1:role/copy\nfeeds: {}\n";
        let config = Config::from_yaml(yaml, "t").unwrap();
        assert_eq!(user_of(&config, Some("landfall-prod-run-job")).as_deref(), Some("IAMR:landfall-prod-run-job"));
        assert_eq!(user_of(&Config::from_yaml("version: 1\nfeeds: {}\n", "t").unwrap(), Some("r")), None);
    }

    #[test]
    fn the_query_names_the_user_and_tolerates_objects_not_created_yet() {
        let q = query(Dialect::Redshift, Some("IAMR:r"), &needed("monitor-feeds", "public"));
        assert!(q.contains("has_table_privilege('IAMR:r', 'landfall.load_ledger', 'SELECT')"), "{q}");
        assert!(q.contains("WHERE schemaname = 'landfall' AND tablename = 'feed_stats'"), "{q}");
    }
}
