//! Knowing when a feed or a partner goes quiet: the per-dimension stats
//! load-warehouse writes in the same transaction as the rows
//! (`landfall.feed_stats`, see
//! [`crate::warehouse::stats`]), and their evaluation into findings and
//! alerts that open once and resolve once, and the digest of refused and
//! failed files (pure code). The feeds' expectations are config
//! ([`crate::config::Expectations`]).

pub mod alerts;
pub mod digest;
pub mod evaluate;
pub mod query;

pub use evaluate::{AlertKind, Finding, OpenAlert, Reconciled, Series, evaluate, reconcile};

use crate::warehouse::sql::Dialect;

impl Dialect {
    /// What the monitor reads and writes, created where missing: the
    /// `landfall` schema, the ledger and the stats (a monitor may run before
    /// the first load), the alerts and the digests' marks. PostgreSQL takes
    /// the loaders' DDL lock first, so a first load and a monitor run do not
    /// collide on the catalog.
    pub fn create_monitor_tables(self) -> Vec<String> {
        let mut out = Vec::new();
        if self == Dialect::Postgres {
            out.push(format!("SELECT pg_advisory_xact_lock({})", crate::lineage::DDL_LOCK_KEY));
        }
        out.push(self.create_schema(crate::warehouse::ledger::LEDGER_SCHEMA));
        out.push(self.create_ledger());
        out.extend(self.create_feed_stats());
        out.extend(self.create_feed_alerts());
        out.push(self.create_file_digests());
        out
    }
}
