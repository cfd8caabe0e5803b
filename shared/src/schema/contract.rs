//! Declared columns and the schema contract: what a feed promises about its
//! columns, and how the writer holds a file to it.

use crate::record::SinkError;

use super::coerce::Cell;
use super::columns::{Column, Columns, Status};
use super::naming::normalize_identifier;
use super::types::LogicalType;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SchemaContract {
    /// Columns outside the declared schema are inferred and added.
    #[default]
    Evolve,
    /// A row with a value in a column outside the declared schema is rejected.
    Freeze,
    /// Columns outside the declared schema are dropped.
    DiscardColumns,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeclaredColumn {
    /// As in the source: the CSV header, or the JSON path joined with ".".
    pub name: String,
    pub data_type: LogicalType,
    /// false = a row with a null (or absent) value here is rejected.
    #[serde(default = "default_true")]
    pub nullable: bool,
}

fn default_true() -> bool {
    true
}

struct DeclaredSlot {
    decl: DeclaredColumn,
    normalized: String,
    column: Option<usize>,
}

/// The declared schema as one file meets it: which column each declared
/// name was bound to, which columns must not be null, which were dropped.
pub(super) struct Contract {
    contract: SchemaContract,
    declared: Vec<DeclaredSlot>,
    /// Columns whose null (or absence) rejects the row.
    required: Vec<usize>,
    discarded: Vec<String>,
}

impl Contract {
    pub(super) fn new(contract: SchemaContract, declared: &[DeclaredColumn]) -> Result<Self, SinkError> {
        let mut slots = Vec::with_capacity(declared.len());
        for d in declared {
            if slots.iter().any(|s: &DeclaredSlot| s.decl.name == d.name) {
                return Err(SinkError::fatal(format!("declared column {:?} appears twice", d.name)));
            }
            slots.push(DeclaredSlot { decl: d.clone(), normalized: normalize_identifier(&d.name), column: None });
        }
        // Freeze and DiscardColumns are about columns outside a declared
        // schema; with nothing declared they would freeze or drop everything.
        let contract = if declared.is_empty() { SchemaContract::Evolve } else { contract };
        Ok(Contract { contract, declared: slots, required: Vec::new(), discarded: Vec::new() })
    }

    /// How many columns are declared.
    pub(super) fn len(&self) -> usize {
        self.declared.len()
    }

    /// The declared slot a source column matches: by exact source name,
    /// then by normalised name. `taken` selects slots already bound to a
    /// column (true) or still free (false).
    pub(super) fn find(&self, source: &str, taken: bool) -> Option<usize> {
        let eligible = |s: &DeclaredSlot| s.column.is_some() == taken;
        self.declared.iter().position(|s| eligible(s) && s.decl.name == source).or_else(|| {
            let norm = normalize_identifier(source);
            self.declared.iter().position(|s| eligible(s) && s.normalized == norm)
        })
    }

    /// The column a declared slot was bound to.
    pub(super) fn column_of(&self, slot: usize) -> Option<usize> {
        self.declared.get(slot).and_then(|s| s.column)
    }

    /// The declared name of a slot no column was bound to yet.
    pub(super) fn unbound_name(&self, slot: usize) -> Option<&str> {
        self.declared.get(slot).filter(|s| s.column.is_none()).map(|s| s.decl.name.as_str())
    }

    /// Sets up a new column, `idx`: bound to declared `slot` it takes that
    /// type and nullability; outside the declared schema, the contract says
    /// what becomes of it.
    pub(super) fn admit(&mut self, idx: usize, slot: Option<usize>, col: &mut Column) {
        match slot.and_then(|s| self.declared.get_mut(s)) {
            Some(s) => {
                s.column = Some(idx);
                col.declared = true;
                col.nullable = s.decl.nullable;
                col.ty = Some(s.decl.data_type);
            }
            None => {
                col.status = match self.contract {
                    SchemaContract::Evolve => Status::Active,
                    SchemaContract::Freeze => Status::Outside,
                    SchemaContract::DiscardColumns => Status::Discarded,
                };
            }
        }
        if col.status == Status::Discarded {
            self.discarded.push(col.name.clone());
        }
        if !col.nullable {
            self.required.push(idx);
        }
    }

    /// The first required column the current record leaves null.
    pub(super) fn missing_required<'a>(&self, columns: &'a Columns) -> Option<&'a str> {
        let idx = self.required.iter().copied().find(|&idx| matches!(columns.cell(idx), Cell::Null))?;
        Some(&columns[idx].name)
    }

    /// Columns dropped under DiscardColumns, in the order they appeared.
    pub(super) fn take_discarded(&mut self) -> Vec<String> {
        std::mem::take(&mut self.discarded)
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, TimestampMicrosecondType};
    use arrow_schema::DataType;

    use super::*;
    use crate::lineage::{FILE_COLUMN, ROW_COLUMN};
    use crate::record::Value;
    use crate::schema::test_support::{col, dtype, harness, ints, read, strings};

    #[test]
    fn declared_schema_rejects_bad_values() {
        let mut h = harness(|o| {
            o.declared = vec![
                DeclaredColumn { name: "id".into(), data_type: LogicalType::Int64, nullable: false },
                DeclaredColumn { name: "Amount".into(), data_type: "decimal(10,2)".parse().unwrap(), nullable: true },
                DeclaredColumn { name: "when".into(), data_type: LogicalType::TimestampTz, nullable: true },
                DeclaredColumn { name: "never there".into(), data_type: LogicalType::Boolean, nullable: true },
            ];
            o.infer_rows = 2;
        });
        h.csv(
            &["id", "amount", "when", "note"],
            &[
                &["1", "10.5", "2026-01-01T00:00:00Z", "x"],
                &["abc", "1", "", "y"],
                &["", "1", "", "z"],
                &["007", "1.234", "", "w"],
                &["4", " 12.30 ", "2026-01-01 10:00", "v"],
                &["5", "1.2e3", "", ""],
            ],
        );
        let (summary, parts, rejects, _dir, records) = h.finish();
        let got: Vec<(u64, Option<&str>, &str)> =
            rejects.iter().map(|r| (r.line, r.column.as_deref(), r.reason.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (3, Some("id"), "value \"abc\" is not a valid int64"),
                (4, Some("id"), "column id is null"),
                (5, Some("amount"), "value \"1.234\" is not a valid decimal(10,2)"),
                (7, Some("amount"), "value \"1.2e3\" is not a valid decimal(10,2)"),
            ]
        );
        assert_eq!(rejects[0].raw, "abc,1,,y");
        assert_eq!(summary.rows_written + summary.rows_rejected, records);
        assert_eq!(summary.rows_written, 2);
        let (schema, batch) = read(&parts[0].path);
        assert_eq!(ints(&batch, "id"), vec![Some(1), Some(4)]);
        assert!(!schema.field_with_name("id").unwrap().is_nullable());
        assert_eq!(dtype(&schema, "amount"), DataType::Decimal128(10, 2));
        let amount: Vec<_> = col(&batch, "amount").as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(amount, vec![Some(1050), Some(1230)]);
        // Declared timestamptz takes a zone-less value as UTC.
        let when = col(&batch, "when").as_primitive::<TimestampMicrosecondType>();
        assert_eq!(when.value(1), 1_767_261_600_000_000);
        assert_eq!(dtype(&schema, "never_there"), DataType::Boolean);
        assert_eq!(col(&batch, "never_there").null_count(), 2);
        let decl: Vec<(&str, bool)> = summary.columns.iter().map(|c| (c.name.as_str(), c.declared)).collect();
        assert_eq!(decl, vec![("id", true), ("amount", true), ("when", true), ("note", false), ("never_there", true)]);
        assert_eq!(summary.columns[1].source_name, "amount");
    }

    #[test]
    fn freeze_rejects_unknown_columns() {
        let mut h = harness(|o| {
            o.declared = vec![DeclaredColumn { name: "id".into(), data_type: LogicalType::Int64, nullable: true }];
            o.contract = SchemaContract::Freeze;
        });
        h.csv(&["id", "extra"], &[&["1", "x"], &["2", ""], &["3", "y"]]);
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].reason, "column extra is not in the declared schema");
        assert_eq!(rejects[0].column.as_deref(), Some("extra"));
        assert_eq!(rejects[1].line, 4);
        let (schema, batch) = read(&parts[0].path);
        assert!(schema.field_with_name("extra").is_err());
        assert_eq!(ints(&batch, "id"), vec![Some(2)]);
        assert_eq!((summary.rows_written, summary.rows_rejected), (1, 2));
    }

    #[test]
    fn discard_columns_drops_values() {
        let mut h = harness(|o| {
            o.declared = vec![DeclaredColumn { name: "id".into(), data_type: LogicalType::Int64, nullable: true }];
            o.contract = SchemaContract::DiscardColumns;
        });
        h.csv(&["id", "Extra Col", "more"], &[&["1", "x", "1"], &["2", "", "2"]]);
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert!(rejects.is_empty());
        assert_eq!(summary.discarded_columns, vec!["extra_col", "more"]);
        let (schema, batch) = read(&parts[0].path);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["id", FILE_COLUMN, ROW_COLUMN]);
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(summary.columns.len(), 1);
    }

    #[test]
    fn empty_declared_schema_makes_freeze_evolve() {
        let mut h = harness(|o| o.contract = SchemaContract::Freeze);
        h.csv(&["a"], &[&["1"]]);
        let (summary, _, rejects, _dir, _) = h.finish();
        assert!(rejects.is_empty());
        assert_eq!(summary.rows_written, 1);
    }

    #[test]
    fn declared_json_path_found_late_is_adopted() {
        let mut h = harness(|o| {
            o.infer_rows = 1;
            o.declared =
                vec![DeclaredColumn { name: "device.os".into(), data_type: LogicalType::String, nullable: true }];
        });
        h.json(1, &[(&["id"], Value::Int(1))]);
        h.json(2, &[(&["id"], Value::Int(2)), (&["device", "os"], Value::Text("android"))]);
        let (summary, parts, _, _dir, _) = h.finish();
        assert_eq!(parts.len(), 1);
        let names: Vec<&str> = summary.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["id", "device_os"]);
        let (_, batch) = read(&parts[0].path);
        assert_eq!(strings(&batch, "device_os"), vec![None, Some("android".into())]);
    }
}
