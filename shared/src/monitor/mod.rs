//! Knowing when a feed or a partner goes quiet: the feeds' expectations
//! (config), the per-dimension stats load-warehouse writes in the same
//! transaction as the rows (`landfall.feed_stats`, see
//! [`crate::warehouse::stats`]), and their evaluation into findings and
//! alerts that open once and resolve once (pure code).

pub mod alerts;
pub mod evaluate;
pub mod expect;
pub mod query;

pub use evaluate::{AlertKind, Finding, OpenAlert, Reconciled, Series, evaluate, reconcile};
pub use expect::{Expectations, MAX_MONITOR_BY, parse_duration};
