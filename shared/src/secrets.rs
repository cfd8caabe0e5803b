//! Secrets by name: the narrow trait the functions use, and its AWS Secrets
//! Manager implementation. Secret values never reach logs or error texts.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {name} does not exist")]
    NotFound { name: String },
    #[error("secret {name} has no string value")]
    NotAString { name: String },
    #[error("reading secret {name}: {message}")]
    Request { name: String, message: String, retryable: bool },
}

impl SecretError {
    pub fn retryable(&self) -> bool {
        matches!(self, SecretError::Request { retryable: true, .. })
    }
}

#[async_trait]
pub trait Secrets: Send + Sync {
    /// The current string value of the secret with this name or ARN.
    async fn secret_string(&self, name: &str) -> Result<String, SecretError>;
}

#[derive(Clone)]
pub struct SecretsManager {
    client: Client,
}

impl SecretsManager {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        SecretsManager { client: Client::new(sdk) }
    }
}

#[async_trait]
impl Secrets for SecretsManager {
    async fn secret_string(&self, name: &str) -> Result<String, SecretError> {
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => {
                out.secret_string().map(str::to_owned).ok_or_else(|| SecretError::NotAString { name: name.into() })
            }
            Err(err) => {
                let code = err.code().unwrap_or_default().to_owned();
                if code == "ResourceNotFoundException" {
                    return Err(SecretError::NotFound { name: name.into() });
                }
                Err(SecretError::Request {
                    name: name.into(),
                    message: aws_sdk_secretsmanager::error::DisplayErrorContext(&err).to_string(),
                    retryable: crate::aws::transient(&err),
                })
            }
        }
    }
}
