//! The apply transaction of a PostgreSQL load, as named steps: lock and
//! decide, evolve, plan the COPY (pure: what to copy, where and which rows
//! a merge needs), copy until no row or file is left to set aside, apply the
//! disposition, write the rejects, record the ledger and the stats.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use tokio_postgres::Transaction;
use tracing::{info, warn};

use super::copy::CopyColumns;
use super::stream::{Attempt, Copied, CopyFailure, PartJob};
use super::{MAX_ROW_RETRIES, PostgresWarehouse, exec, existing_columns, sql_error};
use crate::config::WriteDisposition;
use crate::rejects::{Reject, RejectKind};
use crate::warehouse::bookkeeping::feed_stats::StatsInsert;
use crate::warehouse::bookkeeping::load_ledger::{Counted, LedgerRow, newest_versions};
use crate::warehouse::sql::{self, Dialect, MergeKey, STAGING, SqlType, TableName};
use crate::warehouse::{FileResult, Held, LoadDecision, LoadReport, TableLoad, WarehouseError};

/// Per file, what the load decided.
#[derive(Debug, Default, Clone)]
struct FileState {
    refused: Option<String>,
    rows: u64,
    rejected_at_load: u64,
}

/// When the load commits, in the forms the ledger and COPY take.
struct LoadedAt {
    rfc3339: String,
    /// COPY's text form, and microseconds for its binary form.
    copy: (String, i64),
}

impl LoadedAt {
    fn of(now: DateTime<Utc>) -> Self {
        LoadedAt {
            rfc3339: now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            copy: (now.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string(), now.timestamp_micros()),
        }
    }
}

/// What the COPY sends and where (pure: worked out from the decision).
struct CopyPlan {
    /// Through a staging table: a merge, a partition replacement, or a
    /// monitored append (the stats then read this load's rows from a temp
    /// table the size of the batch, not the target).
    staged: bool,
    data: Vec<String>,
    columns: CopyColumns,
    statement: String,
    /// A merge's key columns, by position: a row without them is set aside.
    required: Vec<usize>,
    parts: Vec<PartJob>,
}

impl CopyPlan {
    fn new(load: &TableLoad, decision: &LoadDecision, states: &[FileState]) -> CopyPlan {
        let staged = load.rules.disposition != WriteDisposition::Append || load.rules.stats.is_some();
        let data = decision.column_names();
        let types: Vec<SqlType> = decision.columns.iter().map(|(_, t)| t.clone()).collect();
        let columns = CopyColumns::new(data.clone(), types, staged);
        let statement =
            if staged { columns.statement(&sql::quote_ident(STAGING)) } else { columns.statement_for(&load.target) };
        let required = match load.rules.disposition {
            WriteDisposition::Merge => {
                load.rules.primary_key.iter().filter_map(|k| data.iter().position(|c| c == k)).collect()
            }
            _ => Vec::new(),
        };
        let mut parts = Vec::new();
        for &i in &decision.fresh {
            let file = &load.files[i];
            if states[i].refused.is_some() || !file.manifest.status.has_rows() {
                continue;
            }
            parts.extend(file.manifest.parts.iter().map(|p| PartJob {
                file: i,
                key: p.key.clone(),
                dt: p.dt.clone(),
                seq: file.seq,
                excluded: BTreeSet::new(),
            }));
        }
        CopyPlan { staged, data, columns, statement, required, parts }
    }

    /// Every fresh file already failed or refused: no COPY, no disposition.
    fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

/// Rows the server refused, by (part key, position): their column and reason.
type RowReasons = BTreeMap<(String, u32), (Option<String>, String)>;

impl PostgresWarehouse {
    pub(super) async fn apply(&self, txn: &Transaction<'_>, load: &TableLoad) -> Result<LoadReport, WarehouseError> {
        let t = &load.target;
        let d = Dialect::Postgres;
        let loaded_at = LoadedAt::of(Utc::now());
        let decision = lock_and_decide(txn, load).await?;
        let mut report = LoadReport {
            load_id: load.load_id.clone(),
            table: t.plain(),
            already_loaded: decision.already_loaded.clone(),
            ..LoadReport::default()
        };
        let mut states: Vec<FileState> =
            decision.refused.iter().map(|r| FileState { refused: r.clone(), ..FileState::default() }).collect();
        report.changes = evolve(txn, t, &decision).await?;

        let mut plan = CopyPlan::new(load, &decision, &states);
        if plan.staged {
            let typed: Vec<(String, SqlType)> =
                plan.data.iter().cloned().zip(decision.columns.iter().map(|(_, t)| t.clone())).collect();
            exec(txn, t, &d.create_staging(STAGING, &typed)).await?;
        }
        let (copied, reasons, attempts) = if plan.is_empty() {
            (Copied::default(), RowReasons::new(), 0)
        } else {
            self.copy_setting_aside(txn, load, &mut plan, &mut states, &loaded_at).await?
        };
        report.attempts = attempts;
        if !plan.is_empty() {
            dispose(txn, load, &plan).await?;
        }

        let rejects = rejects(load, &copied, &reasons, &mut states);
        let refused: Vec<(usize, String)> =
            states.iter().enumerate().filter_map(|(i, st)| st.refused.clone().map(|r| (i, r))).collect();
        report.rejects_key = crate::warehouse::write_load_rejects(
            self.store.as_ref(),
            &self.settings.curated_bucket,
            &self.settings.work_dir,
            load,
            rejects,
            &refused,
        )
        .await?;
        record(txn, load, &decision, &states, &mut report, &loaded_at.rfc3339, !plan.is_empty()).await?;
        Ok(report)
    }

    /// COPY attempts under a savepoint: a row the table cannot hold is set
    /// aside and the copy runs again, up to [`MAX_ROW_RETRIES`] times, after
    /// which its whole file is set aside; an unreadable part sets aside its
    /// file. Returns what the clean attempt copied, the rows' reasons and
    /// the number of attempts.
    async fn copy_setting_aside(
        &self,
        txn: &Transaction<'_>,
        load: &TableLoad,
        plan: &mut CopyPlan,
        states: &mut [FileState],
        loaded_at: &LoadedAt,
    ) -> Result<(Copied, RowReasons, u32), WarehouseError> {
        let t = &load.target;
        let mut reasons = RowReasons::new();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            exec(txn, t, "SAVEPOINT landfall_copy").await?;
            let active: Vec<PartJob> =
                plan.parts.iter().filter(|p| states[p.file].refused.is_none()).cloned().collect();
            let attempt = Attempt {
                statement: &plan.statement,
                columns: &plan.columns,
                parts: &active,
                required: &plan.required,
                loaded_at: (loaded_at.copy.0.as_str(), loaded_at.copy.1),
            };
            let failure = match self.copy(txn, t, attempt).await {
                Ok(copied) => {
                    exec(txn, t, "RELEASE SAVEPOINT landfall_copy").await?;
                    return Ok((copied, reasons, attempts));
                }
                Err(f) => f,
            };
            exec(txn, t, "ROLLBACK TO SAVEPOINT landfall_copy").await?;
            let url = |file: usize| load.files[file].manifest.source.url.clone();
            match failure {
                CopyFailure::Fatal(e) => return Err(e),
                CopyFailure::File { file, reason } => {
                    warn!(table = %t.plain(), file = %url(file), %reason, "file set aside");
                    states[file].refused = Some(reason);
                }
                CopyFailure::Row { part, position, column, reason } => {
                    let Some(job) = active.get(part) else {
                        return Err(WarehouseError::Invariant {
                            table: t.plain(),
                            message: format!("COPY reported a row of part {part}, which was not sent"),
                        });
                    };
                    if attempts > MAX_ROW_RETRIES {
                        warn!(table = %t.plain(), file = %url(job.file), %reason, "too many data errors; file set aside");
                        states[job.file].refused =
                            Some(format!("more than {MAX_ROW_RETRIES} rows the table cannot hold; the last: {reason}"));
                    } else {
                        warn!(table = %t.plain(), file = %url(job.file), position, %reason, "row set aside");
                        if let Some(p) = plan.parts.iter_mut().find(|p| p.key == job.key) {
                            p.excluded.insert(position);
                        }
                        reasons.insert((job.key.clone(), position), (column, reason));
                    }
                }
            }
        }
    }
}

/// Locks the target (loaders wait, readers do not), reads which of the
/// batch's files the ledger holds, the newest version in the table of each
/// of their source objects and the table's columns, and decides. Under the
/// lock, so no loader can load a newer version between the read and the commit.
async fn lock_and_decide(txn: &Transaction<'_>, load: &TableLoad) -> Result<LoadDecision, WarehouseError> {
    let t = &load.target;
    let d = Dialect::Postgres;
    exec(txn, t, &d.lock(t)).await?;
    let q = d.select_loaded(t, &load.file_ids());
    let settled: HashSet<String> =
        txn.query(&q, &[]).await.map_err(|e| sql_error(t, &q, &e))?.iter().map(|r| r.get(0)).collect();
    let mut versions = Vec::new();
    for q in d.select_versions(t, &load.sequenced_source_urls()) {
        let rows = txn.query(&q, &[]).await.map_err(|e| sql_error(t, &q, &e))?;
        versions.extend(rows.iter().map(|r| vec![r.get(0), r.get(1)]));
    }
    let held = Held { settled, newest: newest_versions(&versions) };
    let existing = existing_columns(txn, t).await?;
    Ok(crate::warehouse::decide(d, load, &existing, &held))
}

/// The decision's column changes, one statement each; returns them described.
async fn evolve(txn: &Transaction<'_>, t: &TableName, decision: &LoadDecision) -> Result<Vec<String>, WarehouseError> {
    let d = Dialect::Postgres;
    let mut described = Vec::new();
    for change in &decision.changes {
        for statement in d.apply_change(t, change) {
            exec(txn, t, &statement).await?;
        }
        info!(table = %t.plain(), change = %change.describe(d), "table evolved");
        described.push(change.describe(d));
    }
    Ok(described)
}

/// The feed's write disposition, from the staging table into the target.
async fn dispose(txn: &Transaction<'_>, load: &TableLoad, plan: &CopyPlan) -> Result<(), WarehouseError> {
    let (t, d, data) = (&load.target, Dialect::Postgres, &plan.data);
    let statements = match load.rules.disposition {
        WriteDisposition::Append if plan.staged => vec![d.insert_from_staging(t, STAGING, data)],
        WriteDisposition::Append => Vec::new(),
        WriteDisposition::ReplacePartition => d.replace_partitions(t, STAGING, data),
        WriteDisposition::Merge => {
            let merge = MergeKey { key: &load.rules.primary_key, order_by: load.rules.order_by.as_deref() };
            d.merge(t, STAGING, data, merge)
        }
    };
    for s in statements {
        exec(txn, t, &s).await?;
    }
    Ok(())
}

/// The rows set aside (by data error or null key), counted per file, and
/// each file's copied rows.
fn rejects(load: &TableLoad, copied: &Copied, reasons: &RowReasons, states: &mut [FileState]) -> Vec<Reject> {
    let mut rejects = Vec::new();
    for (file, key, row) in &copied.skipped {
        let manifest = &load.files[*file].manifest;
        let (column, reason) = match &row.reason {
            Some(reason) => (None, reason.clone()),
            None => reasons
                .get(&(key.clone(), row.position))
                .map(|(c, r)| (c.clone(), format!("the warehouse refused the row: {r}")))
                .unwrap_or((None, "the warehouse refused the row".into())),
        };
        states[*file].rejected_at_load += 1;
        rejects.push(Reject {
            kind: RejectKind::Row,
            file: manifest.source.url.clone(),
            feed: manifest.feed.clone(),
            line: row.line.and_then(|l| u64::try_from(l).ok()),
            column,
            reason,
            raw: Some(row.raw.clone()),
        });
    }
    for (file, rows) in &copied.rows_per_file {
        states[*file].rows = *rows;
    }
    rejects
}

/// Every fresh file's ledger row (replacing a failed or refused one of the
/// same file) and, for a monitored feed that copied rows, its stats.
async fn record(
    txn: &Transaction<'_>,
    load: &TableLoad,
    decision: &LoadDecision,
    states: &[FileState],
    report: &mut LoadReport,
    loaded_at: &str,
    copied: bool,
) -> Result<(), WarehouseError> {
    let (t, d) = (&load.target, Dialect::Postgres);
    let mut rows = Vec::new();
    for &i in &decision.fresh {
        let file = &load.files[i];
        let refused = states[i].refused.as_deref();
        let Some(row) = decision.ledger_row(load, i, refused, &report.changes, report.rejects_key.as_deref()) else {
            continue;
        };
        let counted = Counted {
            rows_loaded: if refused.is_some() { 0 } else { states[i].rows },
            rows_rejected_at_load: states[i].rejected_at_load,
        };
        report.rows_loaded += counted.rows_loaded;
        report.rows_rejected_at_load += counted.rows_rejected_at_load;
        report.files.push(FileResult {
            file_id: row.file_id.clone(),
            manifest_key: row.manifest_key.clone(),
            status: row.status,
            rows_loaded: counted.rows_loaded,
            rows_rejected: row.rows_rejected_at_parse + counted.rows_rejected_at_load,
            reason: LedgerRow::reason(file, refused),
        });
        rows.push((row, counted));
    }
    let recorded: Vec<&str> = rows.iter().map(|(r, _)| r.file_id.as_str()).collect();
    if let Some(s) = d.delete_unsettled(t, &recorded) {
        exec(txn, t, &s).await?;
    }
    if let Some(s) = d.insert_ledger(t, &load.load_id, loaded_at, &rows) {
        exec(txn, t, &s).await?;
    }
    if let (Some(rules), true) = (&load.rules.stats, copied) {
        let stats = d.insert_feed_stats(StatsInsert {
            target: t,
            feed: &load.feed,
            load_id: &load.load_id,
            loaded_at,
            rows_from: STAGING,
            columns: &decision.columns,
            rules,
        });
        exec(txn, t, &stats).await?;
    }
    Ok(())
}
