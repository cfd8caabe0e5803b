//! `landfall doctor`: a read-only preflight of a stack, to run after
//! `terraform apply` (as `dbt debug` is for dbt). Each check prints pass, or
//! what is wrong and the exact fix; `--json` gives the same as typed values;
//! the exit code is 1 when a check fails. Nothing is written anywhere.
//!
//! What it checks, with the operator's credentials (docs/first-deploy.md,
//! section 4, lists each check and its fix):
//! - `config`: the config the functions read (`config_url`) is the
//!   repository's, byte for byte, and valid;
//! - `warehouse`: the configured warehouse answers as the user the CLI
//!   connects as, and that user may create what the loader creates: the
//!   `landfall` schema in the database, tables in the warehouse schema
//!   (`has_database_privilege` / `has_schema_privilege`, which PostgreSQL and
//!   Redshift both have). On PostgreSQL that user is the functions' user;
//! - `grants <function>`: each function's database user holds what it does
//!   (grants.rs);
//!
//! and on a deployment (`--target aws`, functions in the outputs):
//! - `access <function>`: its role's policy simulated for the exact prefixes,
//!   queues, key, Glue tables and secrets it uses (access.rs);
//! - `copy-role`, `s3-route`: the COPY role attached and assumable, a route
//!   from the cluster or workgroup to S3 (redshift.rs);
//! - `log-level <function>`: Lambda's log filter keeps the metric lines
//!   (logging.rs).

mod access;
mod grants;
mod logging;
mod redshift;

use std::sync::Arc;

use std::path::PathBuf;

use landfall::config::Config;
use landfall::layout::parse_s3_url;
use landfall::lineage::LEDGER_SCHEMA;
use landfall::storage::{ObjectStore, StorageError};
use landfall::warehouse::Warehouse;
use landfall::warehouse::sql::{Dialect, TableName};
use serde::Serialize;

use super::deployment::TargetKind;
use super::output::{Table, emit};
use super::{CliError, Deployment};

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// The repository's config, compared with the one the functions read
    /// (default: config/landfall.yaml of the checkout this runs in).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: String,
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to run or change when it failed.
    pub fix: Option<String>,
}

impl Check {
    fn pass(check: impl Into<String>, detail: String) -> Check {
        Check { check: check.into(), verdict: Verdict::Pass, detail, fix: None }
    }

    fn fail(check: impl Into<String>, detail: String, fix: String) -> Check {
        Check { check: check.into(), verdict: Verdict::Fail, detail, fix: Some(fix) }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    target: String,
    checks: Vec<Check>,
    failed: usize,
}

pub async fn run(d: &Deployment, args: &DoctorArgs, json: bool) -> Result<(), CliError> {
    let path = match &args.config {
        Some(p) => Some(p.clone()),
        None => super::checkout_root().map(|r| r.join("config/landfall.yaml")),
    };
    let mut checks = vec![config_check(d, path).await];
    checks.extend(deployed_checks(d).await);
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    let report = Report { target: format!("{:?}", d.kind).to_lowercase(), checks, failed };
    emit(json, &report, |r| {
        let mut t = Table::new(&["check", "result", "detail"]);
        for c in &r.checks {
            let detail = match &c.fix {
                Some(fix) => format!("{}; fix: {fix}", c.detail),
                None => c.detail.clone(),
            };
            t.push(vec![c.check.clone(), format!("{:?}", c.verdict).to_lowercase(), detail]);
        }
        t.render()
    })?;
    if failed > 0 {
        return Err(CliError::Failed(format!("{failed} of {} checks failed", report.checks.len())));
    }
    Ok(())
}

/// The config the functions read at cold start against the repository's.
async fn config_check(d: &Deployment, path: Option<PathBuf>) -> Check {
    const NAME: &str = "config";
    let Some(path) = path else {
        return Check::fail(
            NAME,
            "no repository config to compare with (not in a checkout)".into(),
            "pass --config config/landfall.yaml".into(),
        );
    };
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return Check::fail(NAME, format!("{shown}: {e}"), "pass --config with the config's path".into()),
    };
    if let Err(e) = Config::from_yaml(&text, &shown) {
        return Check::fail(NAME, e.to_string(), format!("correct it (landfall validate-config {shown})"));
    }
    let Some((bucket, key)) = parse_s3_url(&d.config_url) else {
        return Check::fail(NAME, format!("config_url {} is not an s3:// URL", d.config_url), "terraform apply".into());
    };
    let upload = format!("terraform apply (it uploads {shown}), or aws s3 cp {shown} {}", d.config_url);
    match d.store().get_bytes(bucket, key).await {
        Ok(deployed) if deployed == text.as_bytes() => Check::pass(NAME, format!("{} is {shown}", d.config_url)),
        Ok(_) => Check::fail(
            NAME,
            format!("{} differs from {shown}; the functions read it at their next cold start", d.config_url),
            upload,
        ),
        Err(StorageError::NotFound { .. }) => {
            Check::fail(NAME, format!("{} does not exist: the functions cannot start", d.config_url), upload)
        }
        Err(e) => Check::fail(NAME, e.to_string(), format!("the operator needs s3:GetObject on {}", d.config_url)),
    }
}

/// Every check that reads the deployed config: the warehouse and each
/// function's grants, and on a deployment each function's access and log
/// level and the Redshift side of COPY.
async fn deployed_checks(d: &Deployment) -> Vec<Check> {
    let config = match d.config().await {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::fail("warehouse", format!("the deployed config: {e}"), "see the config check".into())];
        }
    };
    let mut checks = Vec::new();
    let (check, connected) = warehouse_check(d, &config).await;
    checks.push(check);
    let role_name = |f: &str| {
        d.functions.get(f).and_then(|x| x.role_arn.as_deref()).and_then(access::role_parts).map(|(_, _, n)| n)
    };
    if let Some((warehouse, cli_user)) = connected {
        for f in ["load-warehouse", "monitor-feeds", "run-job"] {
            let user = grants::user_of(&config, role_name(f));
            let schema = &config.warehouse.schema;
            checks.push(grants::check(warehouse.as_ref(), f, user.as_deref(), schema, &cli_user).await);
        }
    }
    if d.kind == TargetKind::Aws {
        checks.extend(aws_checks(d, &config).await);
    }
    checks
}

/// What only a deployment has: roles, Lambda settings, the Redshift side.
async fn aws_checks(d: &Deployment, config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let iam = aws_sdk_iam::Client::new(&d.sdk);
    let lambda = aws_sdk_lambda::Client::new(&d.sdk);
    let secrets = access::warehouse_secrets(d, config).await;
    for (f, deployed) in &d.functions {
        match (&deployed.role_arn, &secrets) {
            (Some(role), Ok(secrets)) => {
                let needs = access::needs(f, role, d, config, secrets);
                checks.push(access::check(&iam, f, role, &needs).await);
            }
            (None, _) => checks.push(Check::fail(
                format!("access {f}"),
                "the outputs name no role for it".into(),
                "terraform output -json > outputs.json with this checkout's terraform/".into(),
            )),
            (_, Err(e)) => checks.push(Check::fail(format!("access {f}"), e.clone(), "create the secret".into())),
        }
        checks.push(logging::check(&lambda, f, &deployed.function_name).await);
    }
    if d.functions.is_empty() {
        checks.push(Check::fail(
            "access",
            "the outputs name no deployed function".into(),
            "terraform apply with create_functions = true, then terraform output -json > outputs.json".into(),
        ));
    }
    checks.extend(redshift::checks(d, config).await);
    checks
}

/// The warehouse answers, and its user may create the landfall schema and
/// tables in the warehouse schema; the driver and that user for the grants.
async fn warehouse_check(d: &Deployment, config: &Config) -> (Check, Option<(Arc<dyn Warehouse>, String)>) {
    const NAME: &str = "warehouse";
    let warehouse = match d.warehouse(config).await {
        Ok(w) => w,
        Err(e) => return (Check::fail(NAME, e.to_string(), "the config's warehouse: section".into()), None),
    };
    let dialect = warehouse.dialect();
    let schema = &config.warehouse.schema;
    let sql = privileges_query(dialect, schema);
    let about = TableName::new(LEDGER_SCHEMA, "load_ledger");
    let rows = match warehouse.fetch(&about, "landfall-doctor-privileges", &sql).await {
        Ok(rows) => rows,
        Err(e) => {
            let check = Check::fail(
                NAME,
                format!("{}: {e}", warehouse.describe()),
                "check the warehouse's address and credentials (warehouse: in the config, its password secret \
                 or LANDFALL_WAREHOUSE_URL; on Redshift the operator's redshift-data permissions)"
                    .into(),
            );
            return (check, None);
        }
    };
    let cell = |i: usize| rows.first().and_then(|r| r.get(i)).cloned().flatten().unwrap_or_default();
    let (user, database) = (cell(0), cell(1));
    let mut missing = Vec::new();
    if cell(2) != "true" {
        missing.push(format!("GRANT CREATE ON DATABASE {} TO {};", quote(&database), quote(&user)));
    }
    // NULL: the schema does not exist yet, and the loader creates it with the database's CREATE.
    if cell(3) == "false" {
        missing.push(format!("GRANT CREATE, USAGE ON SCHEMA {} TO {};", quote(schema), quote(&user)));
    }
    let who = format!("{} as {user}", warehouse.describe());
    let check = if missing.is_empty() {
        Check::pass(NAME, format!("{who}: may create the {LEDGER_SCHEMA} schema and tables in {schema}"))
    } else {
        Check::fail(NAME, format!("{who}: lacks what the loader creates"), missing.join(" "))
    };
    (check, Some((warehouse, user)))
}

/// current_user, the database, CREATE on it, CREATE on `schema` (NULL when
/// it does not exist); booleans as text through CASE, since Redshift casts
/// no boolean to a character type.
fn privileges_query(d: Dialect, schema: &str) -> String {
    let s = d.literal(schema);
    format!(
        "SELECT CAST(current_user AS varchar(128)), CAST(current_database() AS varchar(128)), \
         CASE WHEN has_database_privilege(current_database(), 'CREATE') THEN 'true' ELSE 'false' END, \
         CASE WHEN NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {s}) THEN NULL \
         WHEN has_schema_privilege({s}, 'CREATE') THEN 'true' ELSE 'false' END"
    )
}

/// An identifier in a printed GRANT (the `IAMR:` users need the quotes).
fn quote(name: &str) -> String {
    landfall::warehouse::sql::quote_ident(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_privileges_query_reads_the_schema_only_where_it_exists() {
        let q = privileges_query(Dialect::Postgres, "raw");
        assert!(q.contains("WHERE nspname = 'raw') THEN NULL WHEN has_schema_privilege('raw', 'CREATE')"), "{q}");
    }

    #[test]
    fn a_grant_names_a_database_user_with_a_colon_in_quotes() {
        assert_eq!(quote("IAMR:landfall-prod-run-job"), "\"IAMR:landfall-prod-run-job\"");
    }
}
