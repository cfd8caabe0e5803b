//! Reaching PostgreSQL: the URL from the config or the environment, the
//! password from Secrets Manager by name, TLS through rustls.

use std::sync::Arc;

use serde_json::Value;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::WarehouseError;
use crate::config::{WarehouseConfig, redact_url};
use crate::secrets::{SecretError, Secrets};

/// Environment variables that override the config file's `warehouse:` section.
pub const URL_ENV: &str = "LANDFALL_WAREHOUSE_URL";
pub const SECRET_ENV: &str = "LANDFALL_WAREHOUSE_PASSWORD_SECRET";

/// Where and how to connect, resolved once at cold start.
#[derive(Clone)]
pub struct PostgresTarget {
    pub config: tokio_postgres::Config,
    /// For messages: the URL without a password.
    pub display: String,
    tls: MakeRustlsConnect,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTarget").field("display", &self.display).finish_non_exhaustive()
    }
}

/// The URL and secret name, the environment winning over the file.
pub fn connection_settings(
    warehouse: &WarehouseConfig,
    env_url: Option<String>,
    env_secret: Option<String>,
) -> Result<(String, Option<String>), WarehouseError> {
    let url = env_url.or_else(|| warehouse.url.clone()).ok_or_else(|| WarehouseError::Config {
        message: format!("no warehouse URL: set warehouse.url in the config file or {URL_ENV}"),
    })?;
    Ok((url, env_secret.or_else(|| warehouse.password_secret.clone())))
}

/// Applies a secret's value: a plain string is the password; a JSON object
/// (the shape RDS and Redshift secrets have) gives `password` and,
/// if present, `username`.
pub fn apply_secret(config: &mut tokio_postgres::Config, name: &str, value: &str) -> Result<(), WarehouseError> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(map)) => {
            let password = map.get("password").and_then(Value::as_str).ok_or_else(|| WarehouseError::Secret {
                name: name.to_owned(),
                message: "the secret is a JSON object without a \"password\" string".into(),
                retryable: false,
            })?;
            config.password(password);
            if let Some(user) = map.get("username").and_then(Value::as_str) {
                config.user(user);
            }
        }
        _ => {
            config.password(value.trim_end_matches(['\n', '\r']));
        }
    }
    Ok(())
}

impl PostgresTarget {
    /// Parses the URL, fetches the password secret, builds the TLS connector.
    pub async fn resolve(
        url: &str,
        password_secret: Option<&str>,
        secrets: &dyn Secrets,
    ) -> Result<PostgresTarget, WarehouseError> {
        let display = redact_url(url);
        let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
            WarehouseError::Config { message: format!("warehouse URL {display}: {e}") }
        })?;
        if let Some(name) = password_secret {
            let value = secrets.secret_string(name).await.map_err(|e| WarehouseError::Secret {
                name: name.to_owned(),
                retryable: e.retryable(),
                message: match e {
                    SecretError::NotFound { .. } => "it does not exist".into(),
                    other => other.to_string(),
                },
            })?;
            apply_secret(&mut config, name, &value)?;
        }
        config.application_name("landfall-load-warehouse");
        Ok(PostgresTarget { config, display, tls: tls_connector()? })
    }

    pub fn requires_tls(&self) -> bool {
        self.config.get_ssl_mode() == SslMode::Require
    }

    /// Opens a connection; its driver task runs until the client is dropped.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, WarehouseError> {
        let (client, connection) =
            self.config.connect(self.tls.clone()).await.map_err(|e| WarehouseError::Connect {
                retryable: e.as_db_error().is_none_or(|db| super::postgres::retryable_code(db.code().code())),
                message: format!("{}: {}", self.display, error_text(&e)),
            })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %error_text(&e), "warehouse connection closed with an error");
            }
        });
        Ok(client)
    }
}

/// The server's message when there is one (tokio-postgres's Display says only "db error").
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                s.push_str(": ");
                s.push_str(detail);
            }
            if let Some(at) = db.where_() {
                s.push_str("; at ");
                s.push_str(at);
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                source = inner.source();
            }
            s
        }
    }
}

/// rustls with the platform's roots (Lambda's Amazon Linux trust store) and
/// the aws-lc-rs provider the AWS SDK already links.
fn tls_connector() -> Result<MakeRustlsConnect, WarehouseError> {
    let config = rustls_client_config().map_err(|e| WarehouseError::Config { message: format!("TLS setup: {e}") })?;
    Ok(MakeRustlsConnect::new(config))
}

/// The TLS client settings every outbound connection uses (the warehouse, fetch-api's HTTP).
pub fn rustls_client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_over_the_config_file() {
        let file = WarehouseConfig { url: Some("postgres://a@file/db".into()), ..WarehouseConfig::default() };
        let (url, secret) = connection_settings(&file, Some("postgres://b@env/db".into()), None).unwrap();
        assert_eq!((url.as_str(), secret), ("postgres://b@env/db", None));
        let e = connection_settings(&WarehouseConfig::default(), None, None).unwrap_err();
        assert!(e.to_string().contains(URL_ENV), "{e}");
    }

    struct NoSecrets;

    #[async_trait::async_trait]
    impl Secrets for NoSecrets {
        async fn secret_string(&self, name: &str) -> Result<String, SecretError> {
            Err(SecretError::NotFound { name: name.into() })
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_retryable_and_names_the_server_without_its_password() {
        // Port 1 on loopback: nothing listens there, the kernel refuses at once.
        let target =
            PostgresTarget::resolve("postgres://loader:secret@127.0.0.1:1/dw?connect_timeout=5", None, &NoSecrets)
                .await
                .unwrap();
        let e = target.connect().await.unwrap_err();
        assert!(e.retryable(), "{e}");
        assert!(e.to_string().contains("postgres://loader:***@127.0.0.1:1/dw"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_secret_is_refused_before_any_connection() {
        let e =
            PostgresTarget::resolve("postgres://loader@127.0.0.1:1/dw", Some("prod/dw"), &NoSecrets).await.unwrap_err();
        assert!(!e.retryable());
        assert_eq!(e.to_string(), "reading secret prod/dw: it does not exist");
    }

    #[test]
    fn a_json_secret_gives_password_and_user_and_a_plain_one_the_password() {
        let mut c: tokio_postgres::Config = "postgres://loader@db/dw".parse().unwrap();
        apply_secret(&mut c, "s", r#"{"username":"etl","password":"p@ss","engine":"postgres"}"#).unwrap();
        assert_eq!(c.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(c.get_user(), Some("etl"));
        apply_secret(&mut c, "s", "plain\n").unwrap();
        assert_eq!(c.get_password(), Some(&b"plain"[..]));
        let e = apply_secret(&mut c, "s", r#"{"user":"x"}"#).unwrap_err();
        assert!(!e.retryable());
    }
}
