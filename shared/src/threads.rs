//! How many threads parsing a file keeps busy: a setting of its own (read
//! by [`crate::env::parse_threads`], used by [`crate::convert`]), so that
//! reading the environment needs nothing of the converter.

/// How many threads a conversion keeps busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    One,
    Two,
}

impl Threads {
    /// Lambda gives a function CPU time in proportion to its memory: one
    /// vCPU's worth at 1,769 MB, whatever number of cores it can see. A
    /// second thread pays only where it has a core's worth of its own.
    const LAMBDA_MB_PER_VCPU: u64 = 1_769;

    /// Two threads where there are two cores to run them: `cores` as the
    /// process sees them and, in Lambda, the memory size that buys the time.
    fn auto(cores: usize, lambda_memory_mb: Option<u64>) -> Self {
        let vcpus = lambda_memory_mb.map_or(cores as u64, |mb| (mb / Self::LAMBDA_MB_PER_VCPU).min(cores as u64));
        if vcpus >= 2 { Threads::Two } else { Threads::One }
    }

    /// [`Threads::auto`] for this process (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`
    /// is set by Lambda).
    pub fn available() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").ok().and_then(|mb| mb.trim().parse().ok());
        Threads::auto(cores, memory)
    }

    /// `1`, `2` or `auto` (what [`Threads::available`] finds).
    pub fn parse(setting: &str) -> Option<Self> {
        match setting.trim() {
            "1" => Some(Threads::One),
            "2" => Some(Threads::Two),
            "auto" | "" => Some(Threads::available()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_threads_where_two_cores_are_paid_for() {
        assert_eq!(Threads::auto(2, None), Threads::Two);
        assert_eq!(Threads::auto(1, None), Threads::One);
        // Lambda: 1,769 MB buys one vCPU's time, though two cores are visible.
        assert_eq!(Threads::auto(2, Some(1_024)), Threads::One);
        assert_eq!(Threads::auto(2, Some(1_769)), Threads::One);
        assert_eq!(Threads::auto(2, Some(3_538)), Threads::Two);
        assert_eq!(Threads::auto(1, Some(10_240)), Threads::One);
    }
}
