//! When to retry an API request and how long to wait: full-jitter
//! exponential backoff, or the server's Retry-After when it sends one.

use std::time::Duration;

pub use crate::retry::{Backoff, Jitter};

/// The longest wait between two attempts, whatever the server asks.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Statuses worth another attempt: throttling and server faults.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || status == 408 || status >= 500
}

/// fetch-api's backoff between attempts of one request (a source sets the base).
pub fn request_backoff(base: Duration) -> Backoff {
    Backoff::new(base, BACKOFF_CAP)
}

/// A Retry-After header: delay seconds or an HTTP date (RFC 9110), capped at [`MAX_WAIT`].
pub fn retry_after(header: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let header = header.trim();
    if let Ok(secs) = header.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_WAIT));
    }
    let at = chrono::DateTime::parse_from_rfc2822(header).ok()?;
    let wait = (at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates_and_is_capped() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z").unwrap().to_utc();
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("Sun, 22 Nov 2026 08:00:05 GMT", now), Some(Duration::from_secs(5)));
        assert_eq!(retry_after("Sun, 22 Nov 2026 07:59:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("86400", now), Some(MAX_WAIT));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn throttling_and_server_faults_are_retryable_client_errors_are_not() {
        assert!(retryable_status(429) && retryable_status(500) && retryable_status(503));
        assert!(!retryable_status(400) && !retryable_status(401) && !retryable_status(404));
    }
}
