//! What a load does with its files, decided from the table as it is and the
//! files the ledger holds: one decision, which both drivers follow.

use std::collections::{HashMap, HashSet};

use super::sql::{self, Change, Dialect, ExistingColumn, SqlType};
use super::{ColumnNeed, LedgerRow, TableLoad, add_needs};
use crate::config::WriteDisposition;
use crate::lineage::{FILE_COLUMN, FILE_URL_MAX_BYTES};
use crate::schema::SchemaContract;

/// What a load does with its files, decided from the table as it is and
/// the files the ledger holds. Both drivers follow it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadDecision {
    /// Indices (into `TableLoad::files`) of files the ledger does not hold, in batch order.
    pub fresh: Vec<usize>,
    /// Ids of files the ledger already holds (duplicate deliveries, retries after a commit).
    pub already_loaded: Vec<String>,
    /// Per file of the load: why it is refused, if it is.
    pub refused: Vec<Option<String>>,
    /// Per file of the load: refused because a newer version of its source
    /// object is in the table (the ledger records it `superseded`).
    pub superseded: Vec<bool>,
    /// What the table needs, in order.
    pub changes: Vec<Change>,
    /// The data columns the load carries, with their types once the changes are made.
    pub columns: Vec<(String, SqlType)>,
}

impl LoadDecision {
    /// Files whose rows are copied: fresh, readable, not refused.
    pub fn copied(&self, load: &TableLoad) -> Vec<usize> {
        self.fresh
            .iter()
            .copied()
            .filter(|&i| {
                self.refused.get(i).is_some_and(Option::is_none)
                    && load.files.get(i).is_some_and(|f| f.manifest.status.has_rows())
            })
            .collect()
    }

    /// File `i`'s ledger row, from its refusal (the decision's, or one the
    /// driver met while copying) and what the load changed.
    pub fn ledger_row(
        &self,
        load: &TableLoad,
        i: usize,
        refused: Option<&str>,
        changes: &[String],
        load_rejects: Option<&str>,
    ) -> Option<LedgerRow> {
        let row = LedgerRow::new(load.files.get(i)?, refused, changes, load_rejects);
        Some(if self.superseded.get(i).copied().unwrap_or(false) { row.superseded() } else { row })
    }

    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// A table created when `_landfall_file` was `varchar(1024)` cannot hold the
/// URL of a file under a long key: widened like any text column, once.
fn widen_file_column(existing: &[ExistingColumn]) -> Option<Change> {
    let column = existing.iter().find(|c| c.name == FILE_COLUMN)?;
    match column.sql_type {
        SqlType::Varchar(n) if n < FILE_URL_MAX_BYTES => Some(Change::Widen {
            column: FILE_COLUMN.to_owned(),
            from: column.sql_type.clone(),
            to: SqlType::Varchar(FILE_URL_MAX_BYTES),
        }),
        _ => None,
    }
}

/// Per file of the load: why it is refused for taking the table past the
/// warehouse's column limit (less the lineage columns), if it would. Files
/// are taken in batch order, each adding the columns it brings to those
/// the table has and those of the files accepted before it, so one wide
/// file is refused and the others still load. A `discard_columns` feed
/// never adds columns to an existing table, so only its first file counts.
pub fn over_budget(
    dialect: Dialect,
    load: &TableLoad,
    existing: &[ExistingColumn],
    fresh: &[usize],
) -> Vec<Option<String>> {
    let lineage = sql::lineage_names();
    let budget = dialect.max_columns() - lineage.len();
    let mut columns: HashSet<&str> =
        existing.iter().map(|c| c.name.as_str()).filter(|n| !lineage.contains(n)).collect();
    let adds_nothing = load.rules.contract == SchemaContract::DiscardColumns && !existing.is_empty();
    let mut refused = vec![None; load.files.len()];
    for &i in fresh {
        let Some(file) = load.files.get(i).filter(|f| f.manifest.status.has_rows()) else { continue };
        if adds_nothing {
            continue;
        }
        let new: Vec<&str> =
            file.manifest.schema.iter().map(|c| c.name.as_str()).filter(|n| !columns.contains(n)).collect();
        if columns.len() + new.len() > budget {
            refused[i] = Some(format!(
                "the file brings {} new columns and the table has {}: past the {budget} data columns {} allows ({} less {} for landfall's lineage); declare the columns the feed needs and set schema_contract: discard_columns, or load the wide part as one json column",
                new.len(),
                columns.len(),
                dialect.name(),
                dialect.max_columns(),
                lineage.len(),
            ));
        } else {
            columns.extend(new);
        }
    }
    refused
}

/// What the ledger holds of a load's files, read under the load's lock.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// The batch's files whose rows are in the table.
    pub settled: HashSet<String>,
    /// The newest version in the table of each of the batch's source
    /// objects: URL -> S3 sequencer ([`newest_versions`](super::bookkeeping::load_ledger::newest_versions)).
    pub newest: HashMap<String, String>,
}

/// Why a file is superseded: the table holds a newer version of its source
/// object, so its rows must not overwrite that version's. A file or a
/// recorded version without a sequencer cannot be ordered, and loads.
fn superseded_by(file: &crate::manifest::Manifest, newest: &HashMap<String, String>) -> Option<String> {
    let mine = file.source.sequencer.as_deref()?;
    let theirs = newest.get(&file.source.url)?;
    crate::manifest::sequencer_newer(theirs, mine).then(|| {
        format!(
            "superseded: the table already holds a newer version of {} (S3 sequencer {theirs}, this one {mine}), so this \
             version's rows are not loaded over it",
            file.source.url
        )
    })
}

/// Decides a load: leaves out the files the ledger holds, sets aside a
/// version older than one the table holds (`superseded`), applies the
/// feed's schema contract file by file (`freeze` refuses a file that would
/// change a column's type or add one; `discard_columns` loads files without
/// their new columns), and lists the changes the accepted files need.
pub fn decide(dialect: Dialect, load: &TableLoad, existing: &[ExistingColumn], held: &Held) -> LoadDecision {
    let n = load.files.len();
    let mut decision = LoadDecision { refused: vec![None; n], superseded: vec![false; n], ..LoadDecision::default() };
    let mut current = Vec::new();
    for (i, file) in load.files.iter().enumerate() {
        let id = &file.manifest.file_id;
        if held.settled.contains(id) {
            decision.already_loaded.push(id.clone());
            continue;
        }
        decision.fresh.push(i);
        match superseded_by(&file.manifest, &held.newest) {
            Some(reason) if file.manifest.status.has_rows() => {
                decision.refused[i] = Some(reason);
                decision.superseded[i] = true;
            }
            _ => current.push(i),
        }
    }
    let contract = load.rules.contract;
    let budget = over_budget(dialect, load, existing, &current);
    let mut accepted: Vec<ColumnNeed> = Vec::new();
    for &i in &current {
        let file = &load.files[i];
        if !file.manifest.status.has_rows() {
            continue;
        }
        if let Some(reason) = budget.get(i).cloned().flatten() {
            decision.refused[i] = Some(reason);
            continue;
        }
        let needed = sql::changes(dialect, existing, &file.needs());
        let forbidden: Vec<String> = needed
            .iter()
            .filter(|c| contract == SchemaContract::Freeze && c.is_type_change())
            .map(|c| c.describe(dialect))
            .collect();
        let keys: Vec<String> = needed.iter().filter_map(|c| key_retype(dialect, load, c)).collect();
        if !forbidden.is_empty() {
            decision.refused[i] =
                Some(format!("schema_contract freeze forbids changing the table: {}", forbidden.join("; ")));
        } else if !keys.is_empty() {
            decision.refused[i] = Some(keys.join("; "));
        } else {
            add_needs(&mut accepted, file.needs());
        }
    }
    let mut changes = sql::changes(dialect, existing, &accepted);
    if contract == SchemaContract::DiscardColumns {
        changes.retain(|c| !matches!(c, Change::Add { .. }));
    }
    changes.extend(widen_file_column(existing));
    let type_after = |name: &str| -> Option<SqlType> {
        let changed = changes.iter().find_map(|c| match c {
            Change::Add { column, sql_type } if column == name => Some(sql_type.clone()),
            Change::Widen { column, to, .. } if column == name => Some(to.clone()),
            _ => None,
        });
        changed.or_else(|| existing.iter().find(|c| c.name == name).map(|c| c.sql_type.clone()))
    };
    let mut columns: Vec<(String, SqlType)> =
        accepted.iter().filter_map(|n| type_after(&n.name).map(|t| (n.name.clone(), t))).collect();
    if load.rules.disposition == WriteDisposition::Merge {
        // The merge reads its key and ordering columns from staging even
        // when a file lacks them (its rows then have null keys: rejected).
        for c in load.rules.primary_key.iter().chain(load.rules.order_by.as_ref()) {
            if !columns.iter().any(|(n, _)| n == c)
                && let Some(t) = type_after(c)
            {
                columns.push((c.clone(), t));
            }
        }
        let missing: Vec<&str> =
            load.rules.primary_key.iter().map(String::as_str).filter(|k| type_after(k).is_none()).collect();
        if !missing.is_empty() {
            for &i in &decision.fresh {
                if load.files[i].manifest.status.has_rows() && decision.refused[i].is_none() {
                    decision.refused[i] = Some(format!(
                        "the merge key column(s) {} are in neither the file nor the table",
                        missing.join(", ")
                    ));
                }
            }
        }
    }
    decision.changes = changes;
    decision.columns = columns;
    decision
}

/// Why a change cannot be made on Redshift, when it changes the type of the
/// table's distribution or sort key (`dt` when the feed names none): only a
/// varchar grows in place, and the other widenings go through a new column,
/// but Redshift drops no key column (ALTER TABLE, DROP COLUMN:
/// <https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html>). The
/// file is refused with the reason rather than failing every load for good.
fn key_retype(dialect: Dialect, load: &TableLoad, change: &Change) -> Option<String> {
    let Change::Widen { column, from, to } = change else { return None };
    if dialect != Dialect::Redshift || !change.is_type_change() {
        return None;
    }
    let rules = &load.rules;
    let role = if rules.distkey.as_deref() == Some(column.as_str()) {
        "distribution key"
    } else if rules.sortkey.contains(column) || (rules.sortkey.is_empty() && column == crate::lineage::PARTITION_KEY) {
        "sort key"
    } else {
        return None;
    };
    Some(format!(
        "column {column} is the table's {role}, and Redshift cannot change its type from {} to {}: declare it as {} in \
         the feed's schema, or rebuild the table with another key",
        dialect.type_sql(from),
        dialect.type_sql(to),
        dialect.type_sql(from)
    ))
}
