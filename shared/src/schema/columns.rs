//! The columns of the table being written: their names (from the name
//! registry), JSON paths, types and status, and the per-record slots that
//! hold what the current record put in each.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::lineage::RESERVED_NAMES;

use super::coerce::Cell;
use super::naming::{NameRegistry, NamingError};
use super::types::LogicalType;

/// Redshift's 1600-column table limit, leaving room for the lineage and
/// partition columns.
pub(crate) const MAX_COLUMNS: usize = 1590;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    pub source_name: String,
    pub data_type: LogicalType,
    pub nullable: bool,
    /// Longest UTF-8 value seen (string/json only): the warehouse sizes VARCHAR from it.
    pub max_bytes: Option<u32>,
    pub declared: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Active,
    /// Freeze: not in the declared schema; a value here rejects the row.
    Outside,
    /// DiscardColumns: not in the declared schema; values are dropped.
    Discarded,
    /// Stands for every JSON path past MAX_COLUMNS; a value here rejects the row.
    Overflow,
}

pub(super) struct Column {
    pub(super) name: String,
    pub(super) source_name: String,
    /// JSON path segments, to find the column again without allocating.
    pub(super) path: Option<Vec<String>>,
    pub(super) declared: bool,
    pub(super) nullable: bool,
    /// None while only nulls were seen (or before types are decided for a
    /// column with no value yet).
    pub(super) ty: Option<LogicalType>,
    pub(super) status: Status,
    pub(super) max_bytes: Option<u32>,
    /// The order a date column's day-month text is read in (`28/01/2018`).
    pub(super) date_order: Option<super::dates::DateOrder>,
}

impl Column {
    /// An undeclared, nullable, untyped column; the contract decides the rest.
    pub(super) fn new(name: String, source_name: String, path: Option<Vec<String>>) -> Self {
        Column {
            name,
            source_name,
            path,
            declared: false,
            nullable: true,
            ty: None,
            status: Status::Active,
            max_bytes: None,
            date_order: None,
        }
    }

    fn schema(&self, ty: LogicalType) -> ColumnSchema {
        ColumnSchema {
            name: self.name.clone(),
            source_name: self.source_name.clone(),
            data_type: ty,
            nullable: self.nullable,
            max_bytes: self.max_bytes.filter(|_| ty.is_text()),
            declared: self.declared,
        }
    }
}

/// What `check` learnt about one column of the current record. Valid only
/// when `stamp` is the current generation, so nothing is cleared between
/// records.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub(super) stamp: u32,
    /// Index of the value in the record's slice.
    pub(super) pos: u32,
    pub(super) cell: Cell,
}

pub(super) struct Columns {
    registry: NameRegistry,
    list: Vec<Column>,
    paths: HashMap<u64, Vec<usize>>,
    overflow: Option<usize>,
    /// None while buffering for inference.
    schema: Option<Vec<usize>>,

    /// Per-record scratch, indexed by column.
    slots: Vec<Slot>,
    generation: u32,
}

impl Default for Columns {
    fn default() -> Self {
        Columns::new(NameRegistry::new(&RESERVED_NAMES))
    }
}

impl Columns {
    /// Columns named by `registry` (which must reserve the lineage names).
    pub(super) fn new(registry: NameRegistry) -> Self {
        Columns {
            registry,
            list: Vec::new(),
            paths: HashMap::new(),
            overflow: None,
            schema: None,
            slots: Vec::new(),
            generation: 0,
        }
    }
}

impl std::ops::Index<usize> for Columns {
    type Output = Column;

    fn index(&self, idx: usize) -> &Column {
        &self.list[idx]
    }
}

impl Columns {
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(super) fn get(&self, idx: usize) -> Option<&Column> {
        self.list.get(idx)
    }

    pub(super) fn get_mut(&mut self, idx: usize) -> Option<&mut Column> {
        self.list.get_mut(idx)
    }

    pub(super) fn iter_mut(&mut self) -> std::slice::IterMut<'_, Column> {
        self.list.iter_mut()
    }

    /// A unique column name for a CSV header (or declared) name.
    pub(super) fn assign_fresh(&mut self, source: &str) -> String {
        self.registry.assign_fresh(source)
    }

    /// Column names for a whole CSV header, or why it cannot be mapped.
    pub(super) fn assign_header(&mut self, names: &[&str]) -> Result<Vec<String>, NamingError> {
        self.registry.assign_header(names)
    }

    /// Source names this file adds to the table's recorded map.
    pub(super) fn added_names(&self) -> std::collections::BTreeMap<String, String> {
        self.registry.added().clone()
    }

    /// A unique column name for a JSON path.
    pub(super) fn assign_path(&mut self, path: &[&str]) -> String {
        self.registry.assign_path(path)
    }

    /// Appends a column (and its slot) and returns its index.
    pub(super) fn push(&mut self, column: Column) -> usize {
        let idx = self.list.len();
        self.list.push(column);
        self.slots.push(Slot { stamp: 0, pos: 0, cell: Cell::Null });
        idx
    }

    /// The column already registered for this JSON path (`hash` is its `path_hash`).
    pub(super) fn find_path(&self, hash: u64, path: &[&str]) -> Option<usize> {
        self.paths.get(&hash)?.iter().copied().find(|&i| {
            self.list
                .get(i)
                .and_then(|c| c.path.as_ref())
                .is_some_and(|p| p.len() == path.len() && p.iter().zip(path).all(|(a, b)| a == b))
        })
    }

    pub(super) fn remember_path(&mut self, hash: u64, idx: usize) {
        self.paths.entry(hash).or_default().push(idx);
    }

    pub(super) fn overflow(&self) -> Option<usize> {
        self.overflow
    }

    pub(super) fn mark_overflow(&mut self, idx: usize) {
        if let Some(c) = self.list.get_mut(idx) {
            c.status = Status::Overflow;
        }
        self.overflow = Some(idx);
    }

    /// Starts a record: every slot from before becomes stale.
    pub(super) fn next_generation(&mut self) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.iter_mut().for_each(|s| s.stamp = 0);
            self.generation = 1;
        }
        self.generation
    }

    pub(super) fn set_slot(&mut self, idx: usize, slot: Slot) {
        self.slots[idx] = slot;
    }

    /// The slot of `idx` if the current record set it.
    pub(super) fn current_slot(&self, idx: usize) -> Option<Slot> {
        self.slots.get(idx).copied().filter(|s| s.stamp == self.generation)
    }

    /// What the current record holds in `idx`; null where it had no value.
    pub(super) fn cell(&self, idx: usize) -> Cell {
        self.current_slot(idx).map_or(Cell::Null, |s| s.cell)
    }

    /// True once types are decided and records go straight to parts.
    pub(super) fn decided(&self) -> bool {
        self.schema.is_some()
    }

    /// The columns parts carry, in order; None while buffering for inference.
    pub(super) fn schema(&self) -> Option<&[usize]> {
        self.schema.as_deref()
    }

    pub(super) fn rebuild_schema(&mut self) {
        let cols: Vec<usize> = (0..self.list.len())
            .filter(|&i| self.list[i].status == Status::Active && self.list[i].ty.is_some())
            .collect();
        self.schema = Some(cols);
    }

    /// The schema of a part opened now; each part measures its own max_bytes.
    pub(super) fn part_schema(&self) -> Vec<ColumnSchema> {
        let cols = self.schema.as_deref().unwrap_or_default();
        cols.iter()
            .filter_map(|&i| {
                let c = &self.list[i];
                c.ty.map(|t| ColumnSchema { max_bytes: None, ..c.schema(t) })
            })
            .collect()
    }

    /// The current schema (lineage columns excluded).
    pub(super) fn schemas(&self) -> Vec<ColumnSchema> {
        self.list.iter().filter(|c| c.status == Status::Active).filter_map(|c| c.ty.map(|t| c.schema(t))).collect()
    }

    /// Folds a closed part's longest value into its column's.
    pub(super) fn note_max_bytes(&mut self, name: &str, max_bytes: Option<u32>) {
        if let Some(col) = self.list.iter_mut().find(|c| c.name == name) {
            col.max_bytes = col.max_bytes.max(max_bytes);
        }
    }

    pub(super) fn source_names(&self) -> Vec<String> {
        self.list.iter().map(|c| c.source_name.clone()).collect()
    }
}

pub(super) fn path_hash(path: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.len().hash(&mut h);
    for seg in path {
        seg.hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use arrow_schema::DataType;

    use super::*;
    use crate::record::{RecordSink, Value};
    use crate::schema::test_support::{dtype, harness, read, strings};

    #[test]
    fn json_columns_keep_metadata_and_paths() {
        let mut h = harness(|o| o.infer_rows = 2);
        h.json(
            1,
            &[(&["id"], Value::Int(1)), (&["tags"], Value::Json("[1,2]")), (&["device", "os"], Value::Text("ios"))],
        );
        h.json(2, &[(&["id"], Value::Int(2)), (&["tags"], Value::Json("[]")), (&["score"], Value::Float(1.5))]);
        h.json(3, &[(&["id"], Value::Int(3)), (&["dt"], Value::Text("2026-01-01"))]);
        h.json(4, &[(&["id"], Value::Int(4)), (&["device", "os"], Value::Int(17))]);
        let (summary, parts, _, _dir, _) = h.finish();
        // The new "dt" column after rows were written starts a new part.
        assert_eq!(parts.len(), 2);
        assert_eq!(summary.widenings, vec!["dt_2: new column (date) at line 3"]);
        let (schema, batch) = read(&parts[0].path);
        let tags = schema.field_with_name("tags").unwrap();
        assert_eq!(tags.data_type(), &DataType::Utf8);
        assert_eq!(tags.metadata().get("landfall.type").map(String::as_str), Some("json"));
        assert_eq!(tags.metadata().get("landfall.source_name").map(String::as_str), Some("tags"));
        let os = schema.field_with_name("device__os").unwrap();
        assert_eq!(os.metadata().get("landfall.source_name").map(String::as_str), Some("device.os"));
        assert_eq!(strings(&batch, "tags"), vec![Some("[1,2]".into()), Some("[]".into())]);
        let (schema1, batch1) = read(&parts[1].path);
        assert_eq!(dtype(&schema1, "dt_2"), DataType::Date32);
        // A string column renders a JSON number as text.
        assert_eq!(strings(&batch1, "device__os"), vec![None, Some("17".into())]);
        let tags = summary.columns.iter().find(|c| c.name == "tags").unwrap();
        assert_eq!((tags.data_type, tags.max_bytes), (LogicalType::Json, Some(5)));
        assert_eq!(
            summary.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            vec!["id", "tags", "device__os", "score", "dt_2"]
        );
    }

    #[test]
    fn too_many_json_fields_reject_rows() {
        let mut h = harness(|o| o.infer_rows = 1);
        let keys: Vec<String> = (0..MAX_COLUMNS + 5).map(|i| format!("k{i}")).collect();
        h.json(1, &[(&["k0"], Value::Int(1))]);
        let fields: Vec<(usize, Value<'_>)> =
            keys.iter().map(|k| (h.writer.column_for_path(&[k.as_str()]), Value::Int(1))).collect();
        h.records_in += 1;
        h.writer.record(2, &fields, &String::new).unwrap();
        h.json(3, &[(&["k1"], Value::Int(3))]);
        let (summary, _, rejects, _dir, records) = h.finish();
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, 2);
        assert_eq!(summary.rows_written + summary.rows_rejected, records);
        assert!(summary.columns.len() <= MAX_COLUMNS);
    }

    #[test]
    fn reserved_names_and_duplicates() {
        let mut h = harness(|_| {});
        h.csv(&["dt", "a", "a", "_landfall_file"], &[&["x", "1", "2", "3"]]);
        let (summary, _, _, _dir, _) = h.finish();
        let names: Vec<&str> = summary.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["dt_2", "a", "a_2", "landfall_file"]);
    }
}
