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

/// A date as written: its two leading parts (a named month is the second,
/// its day the first), the year, and the time of day after it, if any.
struct Written {
    first: u32,
    second: u32,
    year: i32,
    named: bool,
    /// Microseconds into the day.
    time: Option<i64>,
}

/// `P/P/YYYY` (parts of one or two digits, one separator of `/` `.` `-`
/// used twice) or a date with its month named (`Jan 1 2000`, `1 January
/// 2000`, `January 1, 2000`, `01-Jan-2000`), either followed by a time
/// (`14:05`, `14:05:09`, `14:05:09.250`), or `None`.
fn split(s: &str, two_digit_years: bool) -> Option<Written> {
    let (date, time) = match s.trim_end().rsplit_once([' ', 'T']) {
        Some((date, time)) if time.contains(':') => (date.trim_end(), Some(time_of_day(time)?)),
        _ => (s, None),
    };
    let year = |y: &str| -> Option<i32> {
        match (y.len(), y.bytes().all(|c| c.is_ascii_digit())) {
            (4, true) => y.parse().ok(),
            (2, true) if two_digit_years => y.parse::<i32>().ok().map(|yy| if yy < 69 { 2000 + yy } else { 1900 + yy }),
            _ => None,
        }
    };
    let small = |p: &str| -> Option<u32> {
        ((1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit())).then(|| p.parse().ok()).flatten()
    };
    if let Some(Written { first, second, year: y, .. }) = numeric(date, &small, &year) {
        return Some(Written { first, second, year: y, named: false, time });
    }
    let mut parts = date.split([' ', ',', '-']).filter(|p| !p.is_empty());
    let (a, b, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (day, month) = match (month_named(a), month_named(b)) {
        (Some(m), None) => (small(b)?, m),
        (None, Some(m)) => (small(a)?, m),
        _ => return None,
    };
    Some(Written { first: day, second: month, year: year(y)?, named: true, time })
}

fn numeric(date: &str, small: &dyn Fn(&str) -> Option<u32>, year: &dyn Fn(&str) -> Option<i32>) -> Option<Written> {
    let sep = *date.as_bytes().iter().find(|c| !c.is_ascii_digit())?;
    if !matches!(sep, b'/' | b'.' | b'-') {
        return None;
    }
    let mut parts = date.split(sep as char);
    let (first, second, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Written { first: small(first)?, second: small(second)?, year: year(y)?, named: false, time: None })
}

/// `Jan`, `jan.`, `January`, `Sept`: the month's number.
fn month_named(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    if w.len() < 3 || !w.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let at = MONTHS.iter().position(|m| m.starts_with(w.as_str()) && (w.len() == 3 || w.len() == m.len()));
    at.or_else(|| (w == "sept").then_some(8)).map(|i| i as u32 + 1)
}

/// `H:MM`, `HH:MM[:SS[.f]]` as microseconds into the day.
fn time_of_day(t: &str) -> Option<i64> {
    let mut parts = t.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() {
        return None;
    }
    let num = |p: &str, max: i64| -> Option<i64> {
        ((1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
            .filter(|&v| v <= max)
    };
    let (sec, frac) = match sec.map(|s| s.split_once('.').unwrap_or((s, ""))) {
        Some((s, f)) => (num(s, 59)?, f),
        None => (0, ""),
    };
    if m.len() != 2 || !frac.bytes().all(|c| c.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let micros: i64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    Some(((num(h, 23)? * 60 + num(m, 59)?) * 60 + sec) * 1_000_000 + micros)
}

/// `s` as days since the epoch and the time written after it, if any: a
/// named month needs no order, a numeric one is read in `order`.
pub(crate) fn parse_ordered(s: &str, order: Option<DateOrder>, two_digit_years: bool) -> Option<(i32, Option<i64>)> {
    let w = split(s, two_digit_years)?;
    let (d, m) = match (w.named, order) {
        (true, _) | (false, Some(DateOrder::DayFirst)) => (w.first, w.second),
        (false, Some(DateOrder::MonthFirst)) => (w.second, w.first),
        (false, None) => return None,
    };
    let y = w.year;
    ((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)).then(|| (days_from_civil(y, m, d), w.time))
}

/// How a column of dates people write is read: in which order, and as
/// timestamps where a value had a time of day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Settled {
    /// `None`: every month was named.
    pub(super) order: Option<DateOrder>,
    pub(super) time: bool,
    pub(super) why: String,
}

/// What an inferred column's values say about day-month dates.
#[derive(Debug, Clone, Default)]
pub(super) struct Votes {
    dates: u32,
    /// Dates written in numbers only (their order needs settling), and values with a time.
    numeric: u32,
    times: u32,
    others: u32,
    /// The first value with its month named.
    named: Option<String>,
    /// A value whose first part is over 12 (only a day can be), and one whose second is.
    day_first: Option<String>,
    month_first: Option<String>,
}

impl Votes {
    /// Counts one text value the other types did not take.
    pub(super) fn text(&mut self, s: &str, rules: DateRules) {
        match split(s, rules.two_digit_years) {
            Some(w) => {
                self.dates += 1;
                self.times += u32::from(w.time.is_some());
                if w.named {
                    self.named.get_or_insert_with(|| s.to_owned());
                    return;
                }
                self.numeric += 1;
                if w.first > 12 && self.day_first.is_none() {
                    self.day_first = Some(s.to_owned());
                }
                if w.second > 12 && self.month_first.is_none() {
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
    pub(super) fn decide(&self, rules: DateRules) -> Option<Result<Settled, String>> {
        if self.dates == 0 || self.others > 0 {
            return None;
        }
        let time = self.times > 0;
        if self.numeric == 0 {
            let why = self.named.clone().unwrap_or_default();
            return Some(Ok(Settled { order: None, time, why }));
        }
        self.order(rules).map(|r| r.map(|(order, why)| Settled { order: Some(order), time, why }))
    }

    fn order(&self, rules: DateRules) -> Option<Result<(DateOrder, String), String>> {
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

    /// The day a numeric date is in `order`, its time left out.
    fn parse_ordered(s: &str, order: DateOrder, two_digit_years: bool) -> Option<i32> {
        super::parse_ordered(s, Some(order), two_digit_years).map(|(d, _)| d)
    }

    #[test]
    fn named_months_need_no_order() {
        for s in ["Jan 1 2000", "1 January 2000", "January 1, 2000", "01-Jan-2000", "1 jan. 2000", "Sept 1 2000"] {
            let expected = if s.starts_with("Sept") { day(2000, 9, 1) } else { day(2000, 1, 1) };
            assert_eq!(super::parse_ordered(s, None, false).map(|(d, _)| d), expected, "{s}");
        }
        for s in ["Ja 1 2000", "Janu 1 2000", "Jan Feb 2000", "Jan 32 2000", "Jan 1"] {
            assert_eq!(super::parse_ordered(s, None, false), None, "{s}");
        }
    }

    #[test]
    fn a_time_after_the_date_is_kept() {
        let at = |s: &str, o| super::parse_ordered(s, Some(o), false);
        assert_eq!(
            at("28/01/2018 14:05", DateOrder::DayFirst),
            Some((day(2018, 1, 28).unwrap(), Some(50_700_000_000)))
        );
        assert_eq!(at("01/28/2018 9:05:30.25", DateOrder::MonthFirst).and_then(|(_, t)| t), Some(32_730_250_000));
        assert_eq!(at("28/01/2018 24:05", DateOrder::DayFirst), None);
        assert_eq!(
            super::parse_ordered("Jan 1 2000 00:00:01", None, false),
            Some((day(2000, 1, 1).unwrap(), Some(1_000_000)))
        );
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
        v.decide(rules).map(|r| r.map(|s| s.order.unwrap_or(DateOrder::DayFirst)))
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
    fn a_column_of_day_first_times_is_written_as_timestamps() {
        use crate::schema::test_support::{harness, read};
        use arrow_array::cast::AsArray;
        use arrow_array::types::TimestampMicrosecondType;
        let mut h = harness(|o| o.infer_rows = 2);
        h.csv(&["seen"], &[&["03/02/2018 10:00"], &["28/01/2018 14:05:30"], &["1/12/2019"]]);
        let (summary, parts, rejects, _dir, _) = h.finish();
        assert!(rejects.is_empty(), "{rejects:?}");
        assert_eq!(summary.columns[0].data_type, crate::schema::LogicalType::Timestamp);
        let (_, batch) = read(&parts[0].path);
        let micros: Vec<Option<i64>> =
            batch.column_by_name("seen").unwrap().as_primitive::<TimestampMicrosecondType>().iter().collect();
        let at = |y, m, d, secs: i64| Some(day(y, m, d).unwrap() as i64 * 86_400_000_000 + secs * 1_000_000);
        assert_eq!(micros, vec![at(2018, 2, 3, 36_000), at(2018, 1, 28, 50_730), at(2019, 12, 1, 0)]);
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
