//! Rows held back because their partition cannot be open now. At most
//! `max_open_partitions` parts are open at once; a row for another day used
//! to close the least recently used part and open a new one, so a file whose
//! dates cycle through more days than that made a part per row. Such rows
//! are kept here instead, grouped by day, within `held_bytes`; each day's
//! rows are written together when the budget is reached (the biggest day
//! first) and at the end of the file, so a day gets a part per release
//! rather than one per row.

use std::collections::BTreeMap;

use crate::record::{LineNo, Value};

use super::infer::InferBuffer;

#[derive(Default)]
pub(super) struct Held {
    days: BTreeMap<i32, InferBuffer>,
    bytes: usize,
}

impl Held {
    pub(super) fn holds(&self, day: i32) -> bool {
        self.days.contains_key(&day)
    }

    /// Keeps a checked row of `day`; true once the held rows take more than `budget` bytes.
    pub(super) fn hold(&mut self, day: i32, line: LineNo, values: &[(usize, Value<'_>)], budget: usize) -> bool {
        let rows = self.days.entry(day).or_default();
        let before = rows.bytes();
        rows.push(line, values);
        self.bytes += rows.bytes() - before;
        self.bytes > budget
    }

    /// The day holding the most bytes, with its rows.
    pub(super) fn take_biggest(&mut self) -> Option<(i32, InferBuffer)> {
        let day = self.days.iter().max_by_key(|(_, rows)| rows.bytes()).map(|(d, _)| *d)?;
        self.take(day)
    }

    /// The earliest day held, with its rows.
    pub(super) fn take_first(&mut self) -> Option<(i32, InferBuffer)> {
        let day = *self.days.keys().next()?;
        self.take(day)
    }

    fn take(&mut self, day: i32) -> Option<(i32, InferBuffer)> {
        let rows = self.days.remove(&day)?;
        self.bytes -= rows.bytes();
        Some((day, rows))
    }
}
