//! A table's recorded map from source names (CSV headers, JSON keys and
//! paths) to its columns, kept in the curated bucket at
//! `_columns/<table>.json` (`layout::column_map_key`). parse-file seeds each
//! file's [`super::NameRegistry`] with it, so a header keeps its column in
//! every later file whatever the order of the header, and adds what the file
//! brought with a conditional write.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const COLUMN_MAP_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMap {
    pub version: u32,
    /// Source name -> column. Two source names may share a column (one
    /// header spelt two ways in different files); never within one file.
    pub columns: BTreeMap<String, String>,
}

/// Why a file's new names cannot join a map that changed since it was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column} was recorded for {theirs:?} by another file while this one named {ours:?}")]
pub struct MapConflict {
    pub column: String,
    pub ours: String,
    pub theirs: String,
}

impl ColumnMap {
    pub fn from_json(bytes: &[u8]) -> Result<ColumnMap, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A map of strings always serialises.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Adds the names a file decided against `read` (the map as it was when
    /// the file was named) to `self` (the map as it is now). A name another
    /// file recorded meanwhile for the same column, or a source it gave
    /// another column, is a conflict: the file must be named again.
    pub fn merge(&mut self, read: &ColumnMap, added: &BTreeMap<String, String>) -> Result<(), MapConflict> {
        for (source, column) in added {
            if let Some(theirs) = self.columns.get(source).filter(|c| *c != column) {
                return Err(MapConflict { column: theirs.clone(), ours: source.clone(), theirs: source.clone() });
            }
            let was_free = !read.columns.values().any(|c| c == column);
            let taken_by =
                self.columns.iter().find(|(s, c)| *c == column && *s != source && !read.columns.contains_key(*s));
            if let Some((theirs, _)) = taken_by.filter(|_| was_free) {
                return Err(MapConflict { column: column.clone(), ours: source.clone(), theirs: theirs.clone() });
            }
        }
        self.version = COLUMN_MAP_VERSION;
        self.columns.extend(added.iter().map(|(s, c)| (s.clone(), c.clone())));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(s, c)| ((*s).to_owned(), (*c).to_owned())).collect()
    }

    #[test]
    fn names_added_by_two_files_that_do_not_meet_both_join_the_map() {
        let read = ColumnMap { version: 1, columns: map(&[("Phone", "phone")]) };
        let mut now = read.clone();
        now.merge(&read, &map(&[("Email", "email")])).unwrap();
        now.merge(&read, &map(&[("Name", "name")])).unwrap();
        assert_eq!(now.columns, map(&[("Email", "email"), ("Name", "name"), ("Phone", "phone")]));
    }

    #[test]
    fn a_column_another_file_claimed_meanwhile_is_a_conflict() {
        let read = ColumnMap::default();
        let mut now = ColumnMap { version: 1, columns: map(&[("phone #", "phone")]) };
        let err = now.merge(&read, &map(&[("Phone", "phone")])).unwrap_err();
        assert_eq!((err.column.as_str(), err.theirs.as_str()), ("phone", "phone #"));
    }

    #[test]
    fn a_spelling_joining_a_column_recorded_before_it_was_read_is_no_conflict() {
        let read = ColumnMap { version: 1, columns: map(&[("Phone", "phone")]) };
        let mut now = read.clone();
        now.merge(&read, &map(&[("PHONE", "phone")])).unwrap();
        assert_eq!(now.columns.len(), 2);
    }
}
