//! Knowing when a feed or a partner goes quiet: the per-dimension stats
//! load-warehouse writes in the same transaction as the rows, evaluated into
//! findings and alerts that open once and resolve once (pure code). The
//! feeds' expectations are config ([`crate::config::Expectations`]); the
//! tables the monitor reads and writes, and their SQL, are landfall's
//! bookkeeping ([`crate::warehouse::bookkeeping`]: `feed_series`,
//! `feed_alerts`, `file_digests`).

pub mod evaluate;

pub use evaluate::{AlertKind, Finding, OpenAlert, Reconciled, Series, evaluate, reconcile};
