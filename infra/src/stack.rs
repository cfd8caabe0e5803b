//! Reads `.landfall/stack.env` and `.landfall/outputs.json`, which
//! `infra/stack up` writes after applying the Terraform root module to moto.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("the local stack is not up ({path} missing): run `infra/stack up` first")]
    NotUp { path: String },
    #[error("reading {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} has no {key}")]
    Missing { path: String, key: String },
}

/// One function's queue as the Terraform root module wired it.
#[derive(Debug, Clone, Deserialize)]
pub struct QueueBinding {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
    /// Outputs written before the redrive work lack it; redrive then moves by hand.
    #[serde(default)]
    pub dlq_arn: String,
    pub visibility_timeout_seconds: i32,
    pub max_receive_count: i32,
    pub batch_size: i32,
    pub batching_window_seconds: i32,
}

#[derive(Debug, Clone)]
pub struct LocalStack {
    pub dir: PathBuf,
    pub env: BTreeMap<String, String>,
    pub endpoint: String,
    pub region: String,
    pub landing_bucket: String,
    pub curated_bucket: String,
    pub config_url: String,
    /// The local PostgreSQL standing in for the warehouse (`DATABASE_URL`).
    pub database_url: String,
    pub glue_database: String,
    pub queues: BTreeMap<String, QueueBinding>,
}

#[derive(Deserialize)]
struct Output<T> {
    value: T,
}

#[derive(Deserialize)]
struct Outputs {
    queues: Output<BTreeMap<String, QueueBinding>>,
}

/// The repository root (this crate lives in `<root>/infra`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
            let v = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

impl LocalStack {
    /// Finds the stack: `$LANDFALL_STACK_DIR`, else the nearest
    /// `.landfall/stack.env` from the working directory up, so an installed
    /// binary finds the stack of the checkout it runs in.
    pub fn discover() -> Result<LocalStack, StackError> {
        let dir = match std::env::var("LANDFALL_STACK_DIR") {
            Ok(dir) => PathBuf::from(dir),
            Err(_) => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                cwd.ancestors().map(|d| d.join(".landfall")).find(|d| d.join("stack.env").is_file()).ok_or_else(
                    || StackError::NotUp { path: format!("{}/.landfall/stack.env (or above)", cwd.display()) },
                )?
            }
        };
        LocalStack::load(&dir)
    }

    pub fn load(dir: &Path) -> Result<LocalStack, StackError> {
        let env_path = dir.join("stack.env");
        let text = std::fs::read_to_string(&env_path)
            .map_err(|_| StackError::NotUp { path: env_path.display().to_string() })?;
        let env = parse_env_file(&text);
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .ok_or_else(|| StackError::Missing { path: env_path.display().to_string(), key: k.into() })
        };
        let outputs_path = dir.join("outputs.json");
        let outputs_text = std::fs::read_to_string(&outputs_path)
            .map_err(|_| StackError::NotUp { path: outputs_path.display().to_string() })?;
        let outputs: Outputs = serde_json::from_str(&outputs_text)
            .map_err(|e| StackError::Read { path: outputs_path.display().to_string(), message: e.to_string() })?;
        Ok(LocalStack {
            dir: dir.to_path_buf(),
            endpoint: get("AWS_ENDPOINT_URL")?,
            region: get("AWS_REGION")?,
            landing_bucket: get("LANDFALL_LANDING_BUCKET")?,
            curated_bucket: get("LANDFALL_CURATED_BUCKET")?,
            config_url: get("LANDFALL_CONFIG_URL")?,
            database_url: get("DATABASE_URL")?,
            glue_database: get("LANDFALL_GLUE_DATABASE")?,
            queues: outputs.queues.value,
            env,
        })
    }

    /// SDK config pointed at moto with its dummy credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new("test", "test", None, None, "landfall-local"))
            .load()
            .await
    }

    pub fn queue(&self, function: &str) -> Result<&QueueBinding, StackError> {
        self.queues.get(function).ok_or_else(|| StackError::Missing {
            path: self.dir.join("outputs.json").display().to_string(),
            key: format!("queues.{function}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_accept_export_and_quotes() {
        let env = parse_env_file("# c\nexport A=1\nB=\"two words\"\nC='x=y'\n\n");
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "two words");
        assert_eq!(env["C"], "x=y");
    }
}
