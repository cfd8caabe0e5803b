//! The pure parts of fetch-api: source configuration and its validation
//! (HTTP APIs and databases), templates, paginators, record selection, the
//! keyset SQL of database pages, the cursor state and the retry policy. The
//! HTTP client, the database drivers and the run loops live in
//! functions/fetch-api.

pub mod database;
pub mod keyset;
pub(crate) mod kind;
pub mod paginate;
pub mod retry;
pub mod source;
pub mod state;

pub use database::{DatabaseKind, DatabaseSource};
pub use paginate::{PageRequest, PageState, PageView, Paginator, ParamLocation};
pub use source::{Auth, IncrementalCursor, Limits, Method, Source};
pub use state::{SourceState, state_key};

/// A URL with the values of these query parameters replaced by `***`, for
/// logs, errors and object metadata.
pub fn redact_query(url: &str, secret_params: &[&str]) -> String {
    let Some((base, query)) = url.split_once('?') else { return url.to_owned() };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _))
                if secret_params.iter().any(|s| percent_encoding::percent_decode_str(k).decode_utf8_lossy() == *s) =>
            {
                format!("{k}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn secret_query_parameters_are_redacted_and_others_kept() {
        assert_eq!(
            super::redact_query("https://api/x?apikey=s3cr3t&page=2", &["apikey"]),
            "https://api/x?apikey=***&page=2"
        );
        assert_eq!(super::redact_query("https://api/x", &["apikey"]), "https://api/x");
    }
}
