//! landfall's shared library: everything the functions, the local stack and
//! the tests have in common. Parsing and SQL generation are pure code; each
//! AWS adapter is a narrow trait next to its SDK implementation.

pub mod aws;
pub mod catalog;
pub mod config;
pub mod convert;
pub mod disposition;
pub mod env;
pub mod escape;
pub mod events;
pub mod fetch;
pub mod formats;
pub mod jobs;
pub mod lambda;
pub mod layout;
pub mod lineage;
pub mod manifest;
pub mod monitor;
#[cfg(feature = "http")]
pub mod notify;
pub mod parse_failures;
pub mod pipeline;
pub mod record;
pub mod rejects;
pub mod retry;
pub mod schema;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod storage;
pub mod telemetry;
pub mod threads;
#[cfg(feature = "tls")]
pub mod tls;
pub mod warehouse;
