//! When to retry an API request and how long to wait: full-jitter
//! exponential backoff, or the server's Retry-After when it sends one.

use std::time::Duration;

/// The longest wait between two attempts, whatever the server asks.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Statuses worth another attempt: throttling and server faults.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || status == 408 || status >= 500
}

/// The wait before attempt `attempt + 1` (attempt counts from 0), given a
/// uniform random `jitter` in [0, 1): a random point below base * 2^attempt.
pub fn backoff(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(16)).min(BACKOFF_CAP);
    ceiling.mul_f64(jitter.clamp(0.0, 1.0))
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

/// A small xorshift generator for jitter: unpredictable enough to spread
/// retries, with no dependency for it.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn seeded(seed: u64) -> Self {
        Jitter(seed | 1)
    }

    pub fn from_clock() -> Self {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(1);
        Jitter::seeded(nanos as u64 ^ u64::from(std::process::id()) << 32)
    }

    /// Uniform in [0, 1).
    pub fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_its_ceiling_and_stays_under_the_cap() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff(base, 0, 0.999_999).as_millis(), 99);
        assert_eq!(backoff(base, 3, 0.5), Duration::from_millis(400));
        assert_eq!(backoff(base, 30, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(base, 2, 0.0), Duration::ZERO);
    }

    #[test]
    fn jitter_spreads_over_the_unit_interval() {
        let mut j = Jitter::seeded(42);
        let draws: Vec<f64> = (0..1000).map(|_| j.next_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!(draws.iter().any(|d| *d < 0.1) && draws.iter().any(|d| *d > 0.9));
    }

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
