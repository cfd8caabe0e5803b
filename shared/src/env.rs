//! Environment settings read once at cold start, failing fast with a message
//! that names the variable.

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable {name} is not set ({hint})")]
    Missing { name: &'static str, hint: &'static str },
    #[error("environment variable {name} is invalid: {message}")]
    Invalid { name: &'static str, message: String },
}

fn hint(name: &str) -> &'static str {
    match name {
        "LANDFALL_CONFIG" => "a path or s3:// URL of landfall.yaml; Terraform sets it",
        "LANDFALL_CURATED_BUCKET" => "the curated bucket's name; Terraform sets it",
        "LANDFALL_LANDING_BUCKET" => "the landing bucket's name; Terraform sets it",
        "LANDFALL_GLUE_DATABASE" => "the Glue Data Catalog database's name; Terraform sets it",
        _ => "see the README",
    }
}

pub fn required(name: &'static str) -> Result<String, EnvError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(EnvError::Missing { name, hint: hint(name) }),
    }
}

/// A thread count for parsing: `1`, `2` or `auto` (the default, two where there are two cores).
pub fn parse_threads(name: &'static str) -> Result<crate::threads::Threads, EnvError> {
    let value = optional(name).unwrap_or_else(|| "auto".to_owned());
    crate::threads::Threads::parse(&value)
        .ok_or_else(|| EnvError::Invalid { name, message: format!("{value:?} is not 1, 2 or auto") })
}

pub fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}
