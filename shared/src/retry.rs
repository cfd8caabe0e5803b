//! One backoff policy for every retry loop landfall runs itself: fetch-api's
//! requests, the Data API's refused submits and its statement polls. The
//! AWS SDK's own retries are set explicitly beside it ([`crate::aws`]), so
//! the two never multiply.

use std::time::Duration;

/// Exponential backoff: attempt `n` (from 0) waits at most `base * 2^n`,
/// never more than `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap }
    }

    /// The longest wait before attempt `attempt + 1`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.base.saturating_mul(1u32 << attempt.min(16)).min(self.cap)
    }

    /// After a refusal (throttling, a 5xx): "full jitter", uniform below the
    /// ceiling, which spreads a herd of clients best.
    pub fn retry_wait(&self, attempt: u32, jitter: &mut Jitter) -> Duration {
        self.ceiling(attempt).mul_f64(jitter.next_unit())
    }

    /// Between two polls of work that is running: between half and all of
    /// the ceiling, so a poll never comes straight back and parallel
    /// pollers still spread out.
    pub fn poll_wait(&self, attempt: u32, jitter: &mut Jitter) -> Duration {
        self.ceiling(attempt).mul_f64(0.5 + jitter.next_unit() / 2.0)
    }
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

    const CAP: Duration = Duration::from_secs(30);

    #[test]
    fn backoff_doubles_its_ceiling_and_stays_under_the_cap() {
        let b = Backoff::new(Duration::from_millis(100), CAP);
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(30), CAP);
        let mut j = Jitter::seeded(7);
        for attempt in 0..20 {
            assert!(b.retry_wait(attempt, &mut j) < b.ceiling(attempt).max(Duration::from_nanos(1)));
        }
    }

    #[test]
    fn a_poll_waits_at_least_half_the_ceiling() {
        let b = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        let mut j = Jitter::seeded(42);
        for attempt in 0..10 {
            let w = b.poll_wait(attempt, &mut j);
            assert!(w >= b.ceiling(attempt) / 2 && w <= b.ceiling(attempt), "attempt {attempt}: {w:?}");
        }
    }

    #[test]
    fn jitter_spreads_over_the_unit_interval() {
        let mut j = Jitter::seeded(42);
        let draws: Vec<f64> = (0..1000).map(|_| j.next_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!(draws.iter().any(|d| *d < 0.1) && draws.iter().any(|d| *d > 0.9));
    }
}
