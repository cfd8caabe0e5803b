//! landfall's own tables, in the `landfall` schema of the warehouse: every
//! statement that creates, writes or reads them, in both dialects, and the
//! typed rows they read back. The loaders, run-job, monitor-feeds and the
//! operator CLI call these instead of writing SQL of their own, so a
//! column is named in one place.
//!
//! | table | written by | module |
//! |---|---|---|
//! | `load_ledger` | load-warehouse, in the load's transaction | [`load_ledger`] |
//! | `feed_stats` | load-warehouse, in the load's transaction | [`feed_stats`] (read: [`feed_series`]) |
//! | `load_rejects` | the Redshift driver, in the apply | [`load_rejects`] |
//! | `feed_alerts` | monitor-feeds | [`feed_alerts`] |
//! | `file_digests` | monitor-feeds | [`file_digests`] |
//! | `job_runs` | run-job | [`job_runs`] |
//! | `failures` | load-warehouse, after a failed load, in its own transaction | [`failures`] |

pub mod failures;
pub mod feed_alerts;
pub mod feed_series;
pub mod feed_stats;
pub mod file_digests;
pub mod job_runs;
pub mod load_ledger;
pub mod load_rejects;

use super::sql::Dialect;
use crate::lineage::LEDGER_SCHEMA;

/// Serialises the creation of landfall's tables and of load targets on
/// PostgreSQL (any fixed key; this is "landfall" in ASCII): concurrent
/// `CREATE ... IF NOT EXISTS` statements collide on the catalog's unique
/// indexes, so every creator takes this transaction-scoped lock first.
pub(crate) const DDL_LOCK_KEY: i64 = 0x6c61_6e64_6661_6c6c;

impl Dialect {
    /// PostgreSQL's DDL lock, first in a transaction that creates tables; nothing on Redshift.
    pub(crate) fn ddl_lock(self) -> Option<String> {
        (self == Dialect::Postgres).then(|| format!("SELECT pg_advisory_xact_lock({DDL_LOCK_KEY})"))
    }

    /// What the monitor reads and writes, created where missing: the
    /// `landfall` schema, the ledger and the stats (a monitor may run before
    /// the first load), the alerts and the digests' marks.
    pub fn create_monitor_tables(self) -> Vec<String> {
        let mut out: Vec<String> = self.ddl_lock().into_iter().collect();
        out.push(self.create_schema(LEDGER_SCHEMA));
        out.push(self.create_ledger());
        out.extend(self.create_feed_stats());
        out.extend(self.create_feed_alerts());
        out.push(self.create_file_digests());
        out
    }

    /// run-job's ledger, created where missing, under the same lock as the loaders' tables.
    pub fn create_job_tables(self) -> Vec<String> {
        let mut out: Vec<String> = self.ddl_lock().into_iter().collect();
        out.push(self.create_schema(LEDGER_SCHEMA));
        out.push(job_runs::create(self));
        out
    }
}
