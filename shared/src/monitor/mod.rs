//! Knowing when a feed or a partner goes quiet: the feeds' expectations
//! (config), and the per-dimension stats load-warehouse writes in the same
//! transaction as the rows (`landfall.feed_stats`, see
//! [`crate::warehouse::stats`]).

pub mod expect;

pub use expect::{Expectations, MAX_MONITOR_BY, parse_duration};
