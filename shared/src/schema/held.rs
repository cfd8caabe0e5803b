//! Rows held back because their partition cannot be open now. At most
//! `max_open_partitions` parts are open at once; a row for another day used
//! to close the least recently used part and open a new one, so a file whose
//! dates cycle through more days than that made a part per row. Such rows
//! are kept here instead, grouped by day, within `held_bytes`; each day's
//! rows are written together when the budget is reached (the biggest day
//! first) and at the end of the file, so a day gets a part per release
//! rather than one per row.

use std::collections::BTreeMap;
use std::path::Path;

use crate::record::{LineNo, SinkError, Value};

use super::infer::InferBuffer;
use super::spill::Runs;

pub(super) struct Held {
    days: BTreeMap<i32, InferBuffer>,
    bytes: usize,
    /// Rows spilled past the memory budget (`spill.rs`).
    pub(super) runs: Option<Runs>,
}

impl Held {
    /// Held rows that spill to `dir`, within `scratch_bytes` on disk.
    pub(super) fn new(dir: &Path, scratch_bytes: u64) -> Self {
        Held { days: BTreeMap::new(), bytes: 0, runs: Some(Runs::new(dir, scratch_bytes)) }
    }

    pub(super) fn holds(&self, day: i32) -> bool {
        self.days.contains_key(&day) || self.runs.as_ref().is_some_and(|r| r.holds(day))
    }

    /// Moves every held row to a sorted run on disk; false (nothing moved)
    /// when the runs' disk budget cannot take them.
    pub(super) fn spill(&mut self) -> Result<bool, SinkError> {
        let Some(runs) = self.runs.as_mut() else { return Ok(false) };
        if !runs.spill(&self.days, self.bytes)? {
            return Ok(false);
        }
        self.days.clear();
        self.bytes = 0;
        Ok(true)
    }

    /// The earliest day held, in memory or on disk.
    pub(super) fn first_day(&self) -> Option<i32> {
        let spilled = self.runs.as_ref().and_then(Runs::first_day);
        [self.days.keys().next().copied(), spilled].into_iter().flatten().min()
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

    /// The rows of `day` held in memory.
    pub(super) fn take(&mut self, day: i32) -> Option<(i32, InferBuffer)> {
        let rows = self.days.remove(&day)?;
        self.bytes -= rows.bytes();
        Some((day, rows))
    }
}
