//! What the commands print: an aligned table for people, one JSON document
//! for scripts (`--json`), never both.

use serde::Serialize;

use super::CliError;

/// Columns of text, aligned on their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: &[String]| -> String {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                if i + 1 == cells.len() {
                    out.push_str(cell);
                } else {
                    out.push_str(&format!("{cell:<w$}  "));
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = line(&self.headers);
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row));
        }
        out
    }
}

/// Prints `value` as JSON, or `text(value)` for people.
pub fn emit<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) -> Result<(), CliError> {
    if json {
        println!("{}", serde_json::to_string_pretty(value).map_err(CliError::failed)?);
    } else {
        println!("{}", text(value));
    }
    Ok(())
}

/// An optional value for a table cell.
pub fn cell<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_aligns_its_columns_on_the_widest_cell() {
        let mut t = Table::new(&["feed", "rows"]);
        t.push(vec!["orders".into(), "5".into()]);
        t.push(vec!["clickstream".into(), "120".into()]);
        assert_eq!(t.render(), "feed         rows\norders       5\nclickstream  120");
    }
}
