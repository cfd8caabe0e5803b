//! Knowing when a feed or a partner goes quiet: the feeds' expectations
//! (config) and their evaluation, over the per-dimension stats
//! load-warehouse writes in the same transaction as the rows, into findings
//! and alerts that open once and resolve once (pure code). The tables it
//! reads and writes, and their SQL, are landfall's bookkeeping
//! ([`crate::warehouse::bookkeeping`]: `feed_series`, `feed_alerts`,
//! `file_digests`).

pub mod evaluate;
pub mod expect;

pub use evaluate::{AlertKind, Finding, OpenAlert, Reconciled, Series, evaluate, reconcile};
pub use expect::{Expectations, MAX_MONITOR_BY, parse_duration};
