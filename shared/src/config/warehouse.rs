//! The `warehouse:` section: which driver load-warehouse writes with, and
//! each driver's settings, validated with the section's line.

use serde::Deserialize;

use super::ConfigError;
use crate::schema::normalize_identifier;

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawWarehouse {
    driver: WarehouseDriver,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    password_secret: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    workgroup: Option<String>,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    secret_arn: Option<String>,
    #[serde(default)]
    db_user: Option<String>,
    #[serde(default)]
    copy_role_arn: Option<String>,
}

/// Which warehouse load-warehouse writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum WarehouseDriver {
    #[default]
    Postgres,
    /// Amazon Redshift through the Data API (Serverless workgroup or provisioned cluster).
    Redshift,
}

impl WarehouseDriver {
    /// The longest identifier the warehouse keeps, in bytes: PostgreSQL cuts
    /// longer names to 63 (NAMEDATALEN - 1) silently, Redshift refuses past
    /// 127. Every column name is fitted to it when the file is named.
    pub fn identifier_limit(self) -> usize {
        match self {
            WarehouseDriver::Postgres => 63,
            WarehouseDriver::Redshift => 127,
        }
    }
}

/// Where the Redshift Data API runs statements: a Serverless workgroup or a
/// provisioned cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedshiftEndpoint {
    Workgroup(String),
    Cluster(String),
}

/// The `warehouse:` settings of the redshift driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedshiftConfig {
    pub endpoint: RedshiftEndpoint,
    pub database: String,
    /// Secrets Manager ARN of the database credentials (the Data API reads it).
    pub secret_arn: Option<String>,
    /// Database user for temporary credentials (clusters; a workgroup maps the IAM role).
    pub db_user: Option<String>,
    /// The IAM role Redshift assumes to COPY the curated Parquet.
    pub copy_role_arn: String,
}

impl RedshiftConfig {
    /// For logs: where, never how.
    pub fn display(&self) -> String {
        match &self.endpoint {
            RedshiftEndpoint::Workgroup(w) => format!("redshift-serverless:{w}/{}", self.database),
            RedshiftEndpoint::Cluster(c) => format!("redshift:{c}/{}", self.database),
        }
    }
}

/// The `warehouse:` section. The connection URL and secret name may also
/// come from the environment (`LANDFALL_WAREHOUSE_URL`,
/// `LANDFALL_WAREHOUSE_PASSWORD_SECRET`), which wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseConfig {
    pub driver: WarehouseDriver,
    /// `postgres://user@host:port/db?sslmode=...`, without a password.
    pub url: Option<String>,
    /// Secrets Manager name or ARN holding the password (plain, or JSON with `password`).
    pub password_secret: Option<String>,
    /// Schema of the feed tables (normalised); the ledger lives in `landfall`.
    pub schema: String,
    /// Set when `driver: redshift`.
    pub redshift: Option<RedshiftConfig>,
}

impl Default for WarehouseConfig {
    fn default() -> Self {
        WarehouseConfig {
            driver: WarehouseDriver::Postgres,
            url: None,
            password_secret: None,
            schema: "public".into(),
            redshift: None,
        }
    }
}

pub(super) fn validate_warehouse(raw: RawWarehouse, line: u64, origin: &str) -> Result<WarehouseConfig, ConfigError> {
    let bad = |message: String| ConfigError::Invalid { origin: format!("{origin}:{line}"), message };
    if let Some(url) = &raw.url {
        super::postgres_url::check_url(url).map_err(|e| bad(format!("warehouse.url: {e}")))?;
    }
    let schema = raw.schema.as_deref().map(normalize_identifier).unwrap_or_else(|| "public".into());
    if schema == crate::lineage::LEDGER_SCHEMA {
        return Err(bad(format!("warehouse.schema {schema:?} is reserved for the load ledger")));
    }
    let redshift_fields = [
        ("workgroup", raw.workgroup.is_some()),
        ("cluster", raw.cluster.is_some()),
        ("database", raw.database.is_some()),
        ("secret_arn", raw.secret_arn.is_some()),
        ("db_user", raw.db_user.is_some()),
        ("copy_role_arn", raw.copy_role_arn.is_some()),
    ];
    let redshift = match raw.driver {
        WarehouseDriver::Postgres => {
            if let Some((field, _)) = redshift_fields.iter().find(|(_, set)| *set) {
                return Err(bad(format!("warehouse.{field} belongs to driver: redshift, not postgres")));
            }
            None
        }
        WarehouseDriver::Redshift => {
            for (field, set) in [("url", raw.url.is_some()), ("password_secret", raw.password_secret.is_some())] {
                if set {
                    return Err(bad(format!(
                        "warehouse.{field} belongs to driver: postgres; Redshift takes secret_arn or db_user"
                    )));
                }
            }
            let endpoint = match (raw.workgroup, raw.cluster) {
                (Some(w), None) => RedshiftEndpoint::Workgroup(w),
                (None, Some(c)) => RedshiftEndpoint::Cluster(c),
                _ => {
                    return Err(bad(
                        "driver: redshift needs exactly one of warehouse.workgroup (Serverless) or warehouse.cluster"
                            .into(),
                    ));
                }
            };
            let database = raw.database.ok_or_else(|| bad("driver: redshift needs warehouse.database".into()))?;
            let copy_role_arn = raw.copy_role_arn.ok_or_else(|| {
                bad("driver: redshift needs warehouse.copy_role_arn, the role Redshift assumes to COPY the lake".into())
            })?;
            if !copy_role_arn.starts_with("arn:") {
                return Err(bad(format!("warehouse.copy_role_arn must be an IAM role ARN (got {copy_role_arn:?})")));
            }
            if raw.secret_arn.is_some() && raw.db_user.is_some() {
                return Err(bad("warehouse.secret_arn and warehouse.db_user are alternatives; set one".into()));
            }
            if matches!(endpoint, RedshiftEndpoint::Cluster(_)) && raw.secret_arn.is_none() && raw.db_user.is_none() {
                return Err(bad("a provisioned cluster needs warehouse.secret_arn or warehouse.db_user".into()));
            }
            Some(RedshiftConfig { endpoint, database, secret_arn: raw.secret_arn, db_user: raw.db_user, copy_role_arn })
        }
    };
    Ok(WarehouseConfig { driver: raw.driver, url: raw.url, password_secret: raw.password_secret, schema, redshift })
}
