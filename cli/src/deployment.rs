//! Which stack the CLI talks to, and its names. Both targets read the same
//! thing, the Terraform root module's outputs (`terraform output -json`):
//! the local stack keeps them in `.landfall/outputs.json` after applying the
//! module to moto; a deployment gives them from `--outputs FILE` or by
//! running `terraform output -json` in `--terraform-dir`. Past the names,
//! one code path serves both: the local target only differs in its SDK
//! configuration (moto's endpoint and dummy credentials) and its warehouse
//! URL (the stack's PostgreSQL).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use landfall::config::Config;
use landfall::storage::{S3Store, s3_client};
use landfall::warehouse::{self, DriverSettings, Warehouse};
use serde::Deserialize;

use super::CliError;
use landfall_infra::{LocalStack, QueueBinding};

/// Where the commands act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetKind {
    /// The local stack (`infra/stack up`): moto and PostgreSQL on loopback.
    Local,
    /// A deployment in AWS, through the default credential chain.
    Aws,
}

/// How to find a deployment's names and credentials (flags or environment).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// local (the stack under .landfall/, the default inside a checkout that has one) or aws.
    #[arg(long, value_enum, global = true, env = "LANDFALL_TARGET")]
    pub target: Option<TargetKind>,
    /// aws: a file holding `terraform output -json` of the deployment.
    #[arg(long, global = true, env = "LANDFALL_OUTPUTS", value_name = "FILE")]
    pub outputs: Option<PathBuf>,
    /// aws: where to run `terraform output -json` (default: ./terraform, else .).
    #[arg(long, global = true, env = "LANDFALL_TERRAFORM_DIR", value_name = "DIR")]
    pub terraform_dir: Option<PathBuf>,
    /// aws: the named profile (SSO profiles included) instead of the default chain's.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// aws: the region (default: the outputs' region, then the profile's).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

/// One deployed function as the root module outputs it.
#[derive(Debug, Clone, Deserialize)]
pub struct DeployedFunction {
    pub function_name: String,
    /// Its execution role (the doctor simulates its policy and names its database user).
    #[serde(default)]
    pub role_arn: Option<String>,
}

#[derive(Deserialize)]
struct Output<T> {
    value: T,
}

/// The outputs the CLI reads (others are ignored).
#[derive(Deserialize)]
struct Outputs {
    landing_bucket: Output<String>,
    curated_bucket: Output<String>,
    config_url: Output<String>,
    glue_database: Output<String>,
    #[serde(default)]
    region: Option<Output<String>>,
    queues: Output<BTreeMap<String, QueueBinding>>,
    #[serde(default)]
    functions: Option<Output<BTreeMap<String, DeployedFunction>>>,
    #[serde(default)]
    kms_key_arn: Option<Output<Option<String>>>,
}

/// A stack's names and clients.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub kind: TargetKind,
    pub sdk: SdkConfig,
    pub region: String,
    pub landing_bucket: String,
    pub curated_bucket: String,
    pub config_url: String,
    pub glue_database: String,
    /// Function ("parse-file", ...) -> its queue and dead-letter queue.
    pub queues: BTreeMap<String, QueueBinding>,
    /// Function -> its deployed Lambda (empty on the local stack).
    pub functions: BTreeMap<String, DeployedFunction>,
    /// The key encrypting both buckets (None with AES256).
    pub kms_key_arn: Option<String>,
    /// The local stack, for what only it has (the pump, its PostgreSQL URL).
    pub local: Option<LocalStack>,
}

impl Deployment {
    /// The target the flags name, else local where a stack is up here, else aws.
    pub async fn resolve(args: &TargetArgs) -> Result<Deployment, CliError> {
        // Discovered once: it decides the default target and is the local one.
        let found = match args.target {
            Some(TargetKind::Aws) => None,
            _ => Some(LocalStack::discover()),
        };
        match (args.target, found) {
            (Some(TargetKind::Local), Some(stack)) | (None, Some(stack @ Ok(_))) => Deployment::local(stack).await,
            _ => Deployment::aws(args).await,
        }
        .map(|d| d.with_env_overrides())
    }

    async fn local(found: Result<LocalStack, landfall_infra::StackError>) -> Result<Deployment, CliError> {
        let stack = found
            .map_err(|e| CliError::Usage(format!("{e}; run `infra/stack up` in a checkout, or pass --target aws")))?;
        let text = std::fs::read_to_string(stack.dir.join("outputs.json"))
            .map_err(|e| CliError::Usage(format!("{}: {e}", stack.dir.join("outputs.json").display())))?;
        let sdk = stack.sdk_config().await;
        let mut d = Deployment::from_outputs(TargetKind::Local, &text, sdk, Some(stack.region.clone()))?;
        d.local = Some(stack);
        Ok(d)
    }

    async fn aws(args: &TargetArgs) -> Result<Deployment, CliError> {
        let text = match &args.outputs {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("--outputs {}: {e}", path.display())))?,
            None => terraform_output(args.terraform_dir.as_deref())?,
        };
        let probe: Outputs = parse_outputs(&text)?;
        let region = args.region.clone().or_else(|| probe.region.map(|r| r.value));
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(p) = &args.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &region {
            loader = loader.region(Region::new(r.clone()));
        }
        let sdk = loader.load().await;
        Deployment::from_outputs(TargetKind::Aws, &text, sdk, region)
    }

    /// A deployment from `terraform output -json` text and an SDK configuration.
    pub fn from_outputs(
        kind: TargetKind,
        text: &str,
        sdk: SdkConfig,
        region: Option<String>,
    ) -> Result<Deployment, CliError> {
        let o = parse_outputs(text)?;
        let region = region
            .or_else(|| o.region.map(|r| r.value))
            .or_else(|| sdk.region().map(|r| r.to_string()))
            .ok_or_else(|| CliError::Usage("no region: pass --region or set AWS_REGION".into()))?;
        Ok(Deployment {
            kind,
            sdk,
            region,
            landing_bucket: o.landing_bucket.value,
            curated_bucket: o.curated_bucket.value,
            config_url: o.config_url.value,
            glue_database: o.glue_database.value,
            queues: o.queues.value,
            functions: o.functions.map(|f| f.value).unwrap_or_default(),
            kms_key_arn: o.kms_key_arn.and_then(|k| k.value),
            local: None,
        })
    }

    /// The functions' own variables, when set, win over the outputs (an
    /// operator pointing one command at another bucket).
    fn with_env_overrides(mut self) -> Deployment {
        for (name, field) in [
            ("LANDFALL_LANDING_BUCKET", &mut self.landing_bucket),
            ("LANDFALL_CURATED_BUCKET", &mut self.curated_bucket),
            ("LANDFALL_CONFIG_URL", &mut self.config_url),
            ("LANDFALL_GLUE_DATABASE", &mut self.glue_database),
        ] {
            if let Some(v) = landfall::env::optional(name) {
                *field = v;
            }
        }
        self
    }

    pub fn store(&self) -> S3Store {
        S3Store::new(s3_client(&self.sdk))
    }

    /// The deployed config, from its S3 URL.
    pub async fn config(&self) -> Result<Config, CliError> {
        Ok(landfall::config::load(&self.config_url, &self.store()).await?)
    }

    /// The configured warehouse driver: the config's `warehouse:` section,
    /// `LANDFALL_WAREHOUSE_URL` / `LANDFALL_WAREHOUSE_PASSWORD_SECRET` over
    /// it, and on the local stack its PostgreSQL by default.
    pub async fn warehouse(&self, config: &Config) -> Result<Arc<dyn Warehouse>, CliError> {
        let default_url = self.local.as_ref().map(|s| s.database_url.clone());
        let settings = DriverSettings::for_tool(self.curated_bucket.clone(), std::env::temp_dir(), default_url);
        Ok(Arc::new(warehouse::from_config(&config.warehouse, &self.sdk, Arc::new(self.store()), settings).await?))
    }

    pub fn queue(&self, function: &str) -> Result<&QueueBinding, CliError> {
        self.queues.get(function).ok_or_else(|| {
            CliError::Usage(format!(
                "no queue for {function:?} in the outputs; functions with queues: {}",
                self.queues.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

fn parse_outputs(text: &str) -> Result<Outputs, CliError> {
    serde_json::from_str(text).map_err(|e| {
        CliError::Usage(format!(
            "the Terraform outputs are not those of landfall's root module ({e}); pass --outputs FILE with \
             `terraform output -json` of the deployment"
        ))
    })
}

/// `terraform output -json` in `dir`, else `./terraform`, else `.`.
fn terraform_output(dir: Option<&Path>) -> Result<String, CliError> {
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| {
        let t = PathBuf::from("terraform");
        if t.join("outputs.tf").is_file() { t } else { PathBuf::from(".") }
    });
    let out = std::process::Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(["output", "-json"])
        .output()
        .map_err(|e| CliError::Usage(format!("running terraform in {}: {e}; or pass --outputs FILE", dir.display())))?;
    if !out.status.success() {
        return Err(CliError::Usage(format!(
            "terraform output -json in {} failed: {}; or pass --outputs FILE",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
