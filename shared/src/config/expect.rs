//! A feed's monitoring settings in the config: `monitor_by` (the columns
//! whose values are watched one by one, e.g. `[partner_id, domain]`) and
//! `expect` (what a healthy feed looks like). Validated with the feed's line
//! like the rest of the config.

use std::time::Duration;

use serde::Deserialize;

use crate::lineage::RESERVED_NAMES;

/// `monitor_by` columns at most: each adds a term to the stats key.
pub(crate) const MAX_MONITOR_BY: usize = 4;

/// `expect:` as written.
#[derive(Debug, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    #[serde(default)]
    every: Option<String>,
    #[serde(default)]
    min_rows: Option<u64>,
    #[serde(default)]
    max_reject_ratio: Option<f64>,
    #[serde(default)]
    volume_drop: Option<f64>,
}

/// What a healthy feed looks like, per `monitor_by` value (or for the whole
/// feed without `monitor_by`). Every key is optional; at least one is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectations {
    /// Data arrives at least this often: longer without a load is "quiet".
    pub every: Option<Duration>,
    /// Rows loaded per `every` window at least (needs `every`).
    pub min_rows: Option<u64>,
    /// Rejected / (loaded + rejected) over the last `every` window at most.
    pub max_reject_ratio: Option<f64>,
    /// Alert when the last window's rows fall below (1 - volume_drop) x the
    /// median of the same window on the previous 7 days (needs `every`).
    pub volume_drop: Option<f64>,
}

/// Parses `15m`, `1h`, `2d`, `90s`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(unit_at);
    let n: u64 = digits.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(seconds).filter(|s| *s > 0).map(Duration::from_secs)
}

/// Validates `expect`; the error is the message the feed's line is quoted with.
pub(crate) fn validate_expect(raw: RawExpect) -> Result<Expectations, String> {
    let every = match raw.every.as_deref() {
        None => None,
        Some(text) => {
            let d = parse_duration(text)
                .ok_or_else(|| format!("expect.every {text:?} is not a duration like 15m, 1h or 1d"))?;
            if d < Duration::from_secs(300) || d > Duration::from_secs(7 * 86_400) {
                return Err(format!("expect.every {text:?} must be between 5m and 7d"));
            }
            Some(d)
        }
    };
    if every.is_none() && (raw.min_rows.is_some() || raw.volume_drop.is_some()) {
        return Err("expect.min_rows and expect.volume_drop need expect.every (the window they count over)".into());
    }
    if raw.min_rows == Some(0) {
        return Err("expect.min_rows must be at least 1".into());
    }
    if let Some(r) = raw.max_reject_ratio
        && !(r > 0.0 && r < 1.0)
    {
        return Err(format!("expect.max_reject_ratio must be between 0 and 1 (exclusive), got {r}"));
    }
    if let Some(v) = raw.volume_drop
        && !(v > 0.0 && v < 1.0)
    {
        return Err(format!("expect.volume_drop must be between 0 and 1 (exclusive; 0.5 = half), got {v}"));
    }
    let e = Expectations {
        every,
        min_rows: raw.min_rows,
        max_reject_ratio: raw.max_reject_ratio,
        volume_drop: raw.volume_drop,
    };
    if e == (Expectations { every: None, min_rows: None, max_reject_ratio: None, volume_drop: None }) {
        return Err("expect needs at least one of every, min_rows, max_reject_ratio, volume_drop".into());
    }
    Ok(e)
}

/// Validates `monitor_by` (already normalised names).
pub(crate) fn validate_monitor_by(columns: &[String]) -> Result<(), String> {
    if columns.len() > MAX_MONITOR_BY {
        return Err(format!("monitor_by takes at most {MAX_MONITOR_BY} columns, got {}", columns.len()));
    }
    for (i, c) in columns.iter().enumerate() {
        if RESERVED_NAMES.contains(&c.as_str()) {
            return Err(format!("monitor_by column {c:?} is one landfall adds; name a column of the data"));
        }
        if columns.iter().skip(i + 1).any(|o| o == c) {
            return Err(format!("monitor_by column {c:?} is named twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(every: Option<&str>, min_rows: Option<u64>, reject: Option<f64>, drop: Option<f64>) -> RawExpect {
        RawExpect { every: every.map(str::to_owned), min_rows, max_reject_ratio: reject, volume_drop: drop }
    }

    #[test]
    fn durations_read_seconds_minutes_hours_and_days() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration(" 1h "), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        for bad in ["", "h", "1", "1w", "0h", "-1h", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_full_expectation_is_accepted() {
        let e = validate_expect(raw(Some("1h"), Some(1000), Some(0.02), Some(0.5))).unwrap();
        assert_eq!(e.every, Some(Duration::from_secs(3600)));
        assert_eq!((e.min_rows, e.max_reject_ratio, e.volume_drop), (Some(1000), Some(0.02), Some(0.5)));
    }

    #[test]
    fn counting_keys_need_a_window() {
        let e = validate_expect(raw(None, Some(10), None, None)).unwrap_err();
        assert!(e.contains("need expect.every"), "{e}");
        assert!(validate_expect(raw(None, None, Some(0.1), None)).is_ok(), "a reject ratio alone is fine");
    }

    #[test]
    fn out_of_range_values_are_refused_with_the_key() {
        for (r, key) in [
            (raw(Some("1m"), None, None, None), "expect.every"),
            (raw(Some("8d"), None, None, None), "expect.every"),
            (raw(Some("hourly"), None, None, None), "expect.every"),
            (raw(Some("1h"), Some(0), None, None), "expect.min_rows"),
            (raw(None, None, Some(1.5), None), "expect.max_reject_ratio"),
            (raw(Some("1h"), None, None, Some(0.0)), "expect.volume_drop"),
        ] {
            let e = validate_expect(r).unwrap_err();
            assert!(e.contains(key), "{e}");
        }
        assert!(validate_expect(RawExpect::default()).unwrap_err().contains("at least one"));
    }

    #[test]
    fn monitor_by_refuses_lineage_columns_repeats_and_too_many() {
        assert!(validate_monitor_by(&["partner_id".into(), "domain".into()]).is_ok());
        assert!(validate_monitor_by(&["dt".into()]).unwrap_err().contains("landfall adds"));
        assert!(validate_monitor_by(&["a".into(), "a".into()]).unwrap_err().contains("twice"));
        let five: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
        assert!(validate_monitor_by(&five).unwrap_err().contains("at most 4"));
    }

    fn err(yaml: &str) -> String {
        crate::config::Config::from_yaml(yaml, "landfall.yaml").unwrap_err().to_string()
    }

    #[test]
    fn monitoring_names_feed_columns_and_expectations() {
        let yaml = "feeds:\n  clicks:\n    prefix: c/\n    monitor_by: [Partner Id, domain]\n    \
                    expect: { every: 1h, min_rows: 1000, max_reject_ratio: 0.02, volume_drop: 0.5 }\n";
        let feed = &crate::config::Config::from_yaml(yaml, "x").unwrap().feeds[0];
        assert_eq!(feed.monitor_by, vec!["partner_id".to_owned(), "domain".to_owned()]);
        let expect = feed.expect.as_ref().unwrap();
        assert_eq!(expect.every, Some(std::time::Duration::from_secs(3600)));
        assert_eq!(expect.volume_drop, Some(0.5));
        assert!(feed.monitored());
        assert!(!crate::config::Config::from_yaml("feeds:\n  c:\n    prefix: c/\n", "x").unwrap().feeds[0].monitored());
    }

    #[test]
    fn a_bad_expectation_is_refused_with_the_feeds_line() {
        let e = err("feeds:\n  a:\n    prefix: a/\n  clicks:\n    prefix: c/\n    expect: { every: 1w }\n");
        assert!(e.starts_with("landfall.yaml:5: feed \"clicks\": expect.every"), "{e}");
        let e = err("feeds:\n  c:\n    prefix: c/\n    expect: { every: 1h, min_row: 5 }\n");
        assert!(e.contains("landfall.yaml:4") && e.contains("min_row"), "unknown keys are errors: {e}");
        let declared = "feeds:\n  c:\n    prefix: c/\n    schema: [{ name: a, type: string }]\n    monitor_by: [b]\n";
        assert!(err(declared).contains("monitor_by column \"b\" is not a column of the declared schema"));
    }
}
