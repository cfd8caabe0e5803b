//! Reaching PostgreSQL: the URL from the config or the environment, the
//! password from Secrets Manager by name, TLS through rustls.

use serde_json::Value;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{URL_ENV, UrlError, WarehouseConfig, names_option};
use crate::secrets::{SecretError, Secrets};
use crate::warehouse::WarehouseError;

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

/// Parses a warehouse URL, in either of libpq's forms (`postgres://...` or
/// `host=... user=...`), and refuses one that carries a password, wherever
/// it sits (`user:pw@`, `?password=`, `password=`): text that holds a
/// password ends up in logs and in Terraform state.
pub(crate) fn parse_url(url: &str) -> Result<tokio_postgres::Config, UrlError> {
    let config: tokio_postgres::Config =
        url.parse().map_err(|e: tokio_postgres::Error| UrlError::Unparseable(e.to_string()))?;
    if config.get_password().is_some() {
        return Err(UrlError::Password);
    }
    Ok(config)
}

/// The connection as messages show it, rebuilt from the parsed settings so
/// that no form of the URL can carry a password into a log.
pub fn describe(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let user = config.get_user().unwrap_or("");
    let secret = if config.get_password().is_some() { ":***" } else { "" };
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let at = if user.is_empty() { String::new() } else { format!("{user}{secret}@") };
    format!("postgres://{at}{}/{}", hosts.join(","), config.get_dbname().unwrap_or(""))
}

/// The URL and secret name, the environment winning over the file. A URL
/// from the environment is held to the same rule as the file's: no password.
pub fn connection_settings(
    warehouse: &WarehouseConfig,
    env_url: Option<String>,
    env_secret: Option<String>,
) -> Result<(String, Option<String>), WarehouseError> {
    if let Some(url) = &env_url {
        parse_url(url).map_err(|e| WarehouseError::Config { message: format!("{URL_ENV}: {e}") })?;
    }
    let url = env_url.or_else(|| warehouse.url.clone()).ok_or_else(|| WarehouseError::Config {
        message: format!("no warehouse URL: set warehouse.url in the config file or {URL_ENV}"),
    })?;
    Ok((url, env_secret.or_else(|| warehouse.password_secret.clone())))
}

/// Applies a secret's value: a plain string is the password; a JSON object
/// (the shape RDS and Redshift secrets have) gives `password` and,
/// if present, `username`.
pub(crate) fn apply_secret(config: &mut tokio_postgres::Config, name: &str, value: &str) -> Result<(), WarehouseError> {
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
        let value = match password_secret {
            None => None,
            Some(name) => Some(secrets.secret_string(name).await.map_err(|e| WarehouseError::Secret {
                name: name.to_owned(),
                retryable: e.retryable(),
                message: match e {
                    SecretError::NotFound { .. } => "it does not exist".into(),
                    other => other.to_string(),
                },
            })?),
        };
        Self::with_secret(url, password_secret.zip(value.as_deref()), "landfall-load-warehouse").map_err(|e| match e {
            WarehouseError::Config { message } => {
                WarehouseError::Config { message: format!("the warehouse URL is {message}") }
            }
            other => other,
        })
    }

    /// A target from a URL and the (name, value) of its password secret, if
    /// any; `application` names the connection in `pg_stat_activity`.
    pub fn with_secret(
        url: &str,
        secret: Option<(&str, &str)>,
        application: &str,
    ) -> Result<PostgresTarget, WarehouseError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
            WarehouseError::Config { message: format!("not a PostgreSQL connection string: {e}") }
        })?;
        let display = describe(&config);
        if let Some((name, value)) = secret {
            apply_secret(&mut config, name, value)?;
        }
        // The driver's default, `prefer`, falls back to plain text when the
        // server (or whoever is on the path) declines TLS: off this machine,
        // TLS is required unless the URL itself says otherwise.
        if !names_option(url, "sslmode") && !only_loopback(&config) {
            config.ssl_mode(SslMode::Require);
        }
        config.application_name(application);
        Ok(PostgresTarget { config, display, tls: tls_connector()? })
    }

    pub fn requires_tls(&self) -> bool {
        self.config.get_ssl_mode() == SslMode::Require
    }

    /// Opens a connection; its driver task runs until the client is dropped.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, WarehouseError> {
        let (client, connection) =
            self.config.connect(self.tls.clone()).await.map_err(|e| WarehouseError::Connect {
                retryable: e.as_db_error().is_none_or(|db| super::retryable_code(db.code().code())),
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

/// Whether every host is this machine: a Unix socket, `localhost` or a
/// loopback address (no host at all means the local socket).
fn only_loopback(config: &tokio_postgres::Config) -> bool {
    use tokio_postgres::config::Host;
    config.get_hosts().iter().all(|h| match h {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }) && config.get_hostaddrs().iter().all(std::net::IpAddr::is_loopback)
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
    let config = crate::tls::rustls_client_config()
        .map_err(|e| WarehouseError::Config { message: format!("TLS setup: {e}") })?;
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disposition::Disposition;

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

    #[test]
    fn a_password_anywhere_in_the_url_is_refused() {
        for url in [
            "postgres://loader:pw@db/dw",
            "postgres://loader@db/dw?password=pw",
            "host=db user=loader password=pw dbname=dw",
        ] {
            assert_eq!(parse_url(url).err(), Some(UrlError::Password), "{url}");
        }
        assert!(parse_url("host=db user=loader dbname=dw").is_ok());
        assert!(parse_url("postgres://loader@db:5432/dw?sslmode=require").is_ok());
    }

    #[test]
    fn a_password_in_the_environments_url_is_refused_without_echoing_it() {
        let e =
            connection_settings(&WarehouseConfig::default(), Some("postgres://u@db/dw?password=hunter2".into()), None)
                .unwrap_err();
        assert!(e.to_string().contains(URL_ENV) && e.to_string().contains("carries a password"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn the_connection_is_described_from_its_parsed_settings_never_its_text() {
        let parsed: tokio_postgres::Config = "host=db port=6432 user=etl password=hunter2 dbname=dw".parse().unwrap();
        assert_eq!(describe(&parsed), "postgres://etl:***@db:6432/dw");
        let parsed: tokio_postgres::Config = "postgres://etl@db/dw?password=hunter2".parse().unwrap();
        assert!(!describe(&parsed).contains("hunter2"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_retryable_and_names_the_server_without_its_password() {
        // Port 1 on loopback: nothing listens there, the kernel refuses at once.
        let target =
            PostgresTarget::resolve("postgres://loader:secret@127.0.0.1:1/dw?connect_timeout=5", None, &NoSecrets)
                .await
                .unwrap();
        let e = target.connect().await.unwrap_err();
        assert_eq!(e.disposition(), Disposition::Retry, "{e}");
        assert!(e.to_string().contains("postgres://loader:***@127.0.0.1:1/dw"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_secret_is_refused_before_any_connection() {
        let e =
            PostgresTarget::resolve("postgres://loader@127.0.0.1:1/dw", Some("prod/dw"), &NoSecrets).await.unwrap_err();
        assert_eq!(e.disposition(), Disposition::DeadLetter);
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
        assert_eq!(e.disposition(), Disposition::DeadLetter);
    }

    #[test]
    fn a_remote_host_without_sslmode_requires_tls_and_the_url_or_loopback_can_say_otherwise() {
        let target = |url: &str| PostgresTarget::with_secret(url, None, "t").unwrap();
        assert!(target("postgres://loader@dw.example.com:5432/dw").requires_tls());
        assert!(target("host=10.0.0.7 user=loader dbname=dw").requires_tls());
        assert!(!target("postgres://loader@dw.example.com/dw?sslmode=prefer").requires_tls(), "the URL says prefer");
        assert!(!target("host=10.0.0.7 sslmode=disable user=loader").requires_tls());
        for local in ["postgres://loader@127.0.0.1:5432/dw", "postgres://loader@localhost/dw", "host=/tmp/pg user=x"] {
            assert!(!target(local).requires_tls(), "{local}");
        }
    }
}
