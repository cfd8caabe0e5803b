//! Dates as people write them: `28/01/2018` (day first) and `01/28/2018`
//! (month first), with `/`, `.` or `-` between the parts. Which of the two a
//! column holds is decided from all of its values: one with a first part
//! over 12 settles day-first, one with a second part over 12 month-first.
//! A column where neither appears is ambiguous and stays text unless the
//! feed names the order (`dates: { order: day_first }`). Two-digit years
//! (`28/01/18`) are not dates unless the feed allows them.

use serde::{Deserialize, Serialize};

use super::values::{days_from_civil, days_in_month};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    DayFirst,
    MonthFirst,
}

impl DateOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            DateOrder::DayFirst => "day_first",
            DateOrder::MonthFirst => "month_first",
        }
    }
}

/// A feed's `dates:`: the order of its day-month dates where the values
/// leave it open, and whether two-digit years are dates (`00`-`68` are
/// read as 20xx, `69`-`99` as 19xx, as POSIX `strptime` does).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DateRules {
    #[serde(default)]
    pub order: Option<DateOrder>,
    #[serde(default)]
    pub two_digit_years: bool,
}

/// The two leading parts and the year of `P/P/YYYY`-shaped text (parts of
/// one or two digits, one separator used twice), or `None`.
fn split(s: &str, two_digit_years: bool) -> Option<(u32, u32, i32)> {
    let b = s.as_bytes();
    let sep = *b.iter().find(|c| !c.is_ascii_digit())?;
    if !matches!(sep, b'/' | b'.' | b'-') {
        return None;
    }
    let mut parts = s.split(sep as char);
    let (first, second, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let small = |p: &str| (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit());
    if !small(first) || !small(second) || !year.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let y: i32 = match year.len() {
        4 => year.parse().ok()?,
        2 if two_digit_years => {
            let yy: i32 = year.parse().ok()?;
            if yy < 69 { 2000 + yy } else { 1900 + yy }
        }
        _ => return None,
    };
    Some((first.parse().ok()?, second.parse().ok()?, y))
}

/// `s` as days since the epoch, its parts read in `order`.
pub(crate) fn parse_ordered(s: &str, order: DateOrder, two_digit_years: bool) -> Option<i32> {
    let (a, b, y) = split(s, two_digit_years)?;
    let (d, m) = match order {
        DateOrder::DayFirst => (a, b),
        DateOrder::MonthFirst => (b, a),
    };
    ((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)).then(|| days_from_civil(y, m, d))
}

/// What an inferred column's values say about day-month dates.
#[derive(Debug, Clone, Default)]
pub(super) struct Votes {
    dates: u32,
    others: u32,
    /// A value whose first part is over 12 (only a day can be), and one whose second is.
    day_first: Option<String>,
    month_first: Option<String>,
}

impl Votes {
    /// Counts one text value the other types did not take.
    pub(super) fn text(&mut self, s: &str, rules: DateRules) {
        match split(s, rules.two_digit_years) {
            Some((a, b, _)) => {
                self.dates += 1;
                if a > 12 && self.day_first.is_none() {
                    self.day_first = Some(s.to_owned());
                }
                if b > 12 && self.month_first.is_none() {
                    self.month_first = Some(s.to_owned());
                }
            }
            None => self.others += 1,
        }
    }

    /// Counts a value of another type (a number, a boolean): not a date column.
    pub(super) fn other(&mut self) {
        self.others += 1;
    }

    /// The column's order, with what settled it, when every value it held is
    /// a day-month date; `Err` says why a column of such dates stays text.
    pub(super) fn decide(&self, rules: DateRules) -> Option<Result<(DateOrder, String), String>> {
        if self.dates == 0 || self.others > 0 {
            return None;
        }
        let settled = match (&self.day_first, &self.month_first) {
            (Some(d), Some(m)) => return Some(Err(format!("both {d} and {m} occur, so no order fits"))),
            (Some(d), None) => (DateOrder::DayFirst, format!("{d} has a day over 12")),
            (None, Some(m)) => (DateOrder::MonthFirst, format!("{m} has a day over 12")),
            (None, None) => match rules.order {
                Some(o) => (o, "the feed's dates.order".to_owned()),
                None => {
                    return Some(Err(
                        "no value has a part over 12, so day and month are ambiguous; set dates.order in the feed"
                            .to_owned(),
                    ));
                }
            },
        };
        match rules.order {
            Some(o) if o != settled.0 => {
                Some(Err(format!("{} contradicts the feed's dates.order {}", settled.1, o.as_str())))
            }
            _ => Some(Ok(settled)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Option<i32> {
        Some(days_from_civil(y, m, d))
    }

    #[test]
    fn parts_are_read_in_the_order_given() {
        assert_eq!(parse_ordered("28/01/2018", DateOrder::DayFirst, false), day(2018, 1, 28));
        assert_eq!(parse_ordered("01/28/2018", DateOrder::MonthFirst, false), day(2018, 1, 28));
        assert_eq!(parse_ordered("1.2.2018", DateOrder::DayFirst, false), day(2018, 2, 1));
        assert_eq!(parse_ordered("31-12-1999", DateOrder::DayFirst, false), day(1999, 12, 31));
        assert_eq!(parse_ordered("28/01/2018", DateOrder::MonthFirst, false), None);
        assert_eq!(parse_ordered("30/02/2018", DateOrder::DayFirst, false), None);
        assert_eq!(parse_ordered("28/01-2018", DateOrder::DayFirst, false), None);
        assert_eq!(parse_ordered("2018/01/28", DateOrder::DayFirst, false), None);
    }

    #[test]
    fn two_digit_years_are_dates_only_when_allowed() {
        assert_eq!(parse_ordered("28/01/18", DateOrder::DayFirst, false), None);
        assert_eq!(parse_ordered("28/01/18", DateOrder::DayFirst, true), day(2018, 1, 28));
        assert_eq!(parse_ordered("28/01/69", DateOrder::DayFirst, true), day(1969, 1, 28));
    }

    fn votes(values: &[&str], rules: DateRules) -> Option<Result<DateOrder, String>> {
        let mut v = Votes::default();
        for s in values {
            v.text(s, rules);
        }
        v.decide(rules).map(|r| r.map(|(o, _)| o))
    }

    #[test]
    fn a_value_over_12_settles_the_column() {
        let none = DateRules::default();
        assert_eq!(votes(&["01/02/2018", "28/01/2018"], none), Some(Ok(DateOrder::DayFirst)));
        assert_eq!(votes(&["01/02/2018", "01/28/2018"], none), Some(Ok(DateOrder::MonthFirst)));
        assert!(votes(&["01/02/2018", "03/04/2018"], none).unwrap().is_err(), "ambiguous");
        assert!(votes(&["13/02/2018", "01/28/2018"], none).unwrap().is_err(), "contradictory");
        assert_eq!(votes(&["01/02/2018", "n/a yet"], none), None, "not a date column");
        let month_first = DateRules { order: Some(DateOrder::MonthFirst), two_digit_years: false };
        assert_eq!(votes(&["01/02/2018"], month_first), Some(Ok(DateOrder::MonthFirst)));
        assert!(votes(&["28/01/2018"], month_first).unwrap().is_err());
        assert_eq!(votes(&["28/01/18"], none), None, "two-digit years are text");
    }

    #[test]
    fn a_column_of_day_first_dates_is_written_as_dates() {
        use crate::schema::test_support::{harness, read};
        use arrow_array::cast::AsArray;
        use arrow_array::types::Date32Type;
        let mut h = harness(|o| o.infer_rows = 2);
        // The third value comes after the order is decided.
        h.csv(&["booked"], &[&["03/02/2018"], &["28/01/2018"], &["1/12/2019"]]);
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert!(rejects.is_empty(), "{rejects:?}");
        assert_eq!(summary.columns[0].data_type, crate::schema::LogicalType::Date);
        assert_eq!(summary.date_order, Some(DateOrder::DayFirst));
        let (_, batch) = read(&parts[0].path);
        let days: Vec<Option<i32>> =
            batch.column_by_name("booked").unwrap().as_primitive::<Date32Type>().iter().collect();
        assert_eq!(days, vec![day(2018, 2, 3), day(2018, 1, 28), day(2019, 12, 1)]);
    }
}
