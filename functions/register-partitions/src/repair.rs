//! The repair request: which tables and which days to reconcile with the
//! curated bucket.
//!
//! Accepted payloads (the README documents them):
//!
//! ```json
//! {"repair": {"tables": "all", "from": "2026-11-01", "to": "2026-11-30"}}
//! {"repair": {"tables": ["orders", "clickstream"], "days": 3}}
//! {"detail-type": "Scheduled Event", "source": "aws.events", "time": "...", "detail": {"repair": {...}}}
//! ```
//!
//! `tables` defaults to "all" (every `tables/<name>/` prefix in the curated
//! bucket). The days are `from`..=`to`, or the `days` days ending on the
//! day of the event (its `time`, else today, UTC); `days` defaults to 3, so
//! a scheduled event without a detail repairs the last three days of every
//! table.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

pub const DEFAULT_DAYS: u32 = 3;
/// A bound on one request, so a typo cannot make a run list decades.
pub const MAX_DAYS: u32 = 3660;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tables {
    All,
    Named(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairRequest {
    pub tables: Tables,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl RepairRequest {
    pub fn covers(&self, dt: &str) -> bool {
        NaiveDate::parse_from_str(dt, "%Y-%m-%d").is_ok_and(|d| self.from <= d && d <= self.to)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repair request: {0}")]
pub struct RequestError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    tables: Option<RawTables>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTables {
    Keyword(String),
    Named(Vec<String>),
}

/// `None` when the payload is not a repair request (an S3 or SQS event).
pub fn from_payload(payload: &Value, now: DateTime<Utc>) -> Option<Result<RepairRequest, RequestError>> {
    if let Some(raw) = payload.get("repair") {
        return Some(parse(raw, now));
    }
    let scheduled = payload.get("source").and_then(Value::as_str) == Some("aws.events")
        && payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
    if !scheduled {
        return None;
    }
    let at = payload
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| t.with_timezone(&Utc));
    let empty = Value::Object(Default::default());
    Some(parse(payload.get("detail").and_then(|d| d.get("repair")).unwrap_or(&empty), at))
}

fn date(field: &str, raw: &str) -> Result<NaiveDate, RequestError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| RequestError(format!("{field} must be a date like 2026-11-01, got {raw:?}")))
}

fn parse(raw: &Value, now: DateTime<Utc>) -> Result<RepairRequest, RequestError> {
    let raw = Raw::deserialize(raw).map_err(|e| {
        RequestError(format!("{e} (expected {{\"tables\": \"all\" | [names], \"from\", \"to\" | \"days\"}})"))
    })?;
    let tables = match raw.tables {
        None => Tables::All,
        Some(RawTables::Keyword(k)) if k == "all" => Tables::All,
        Some(RawTables::Keyword(k)) => {
            return Err(RequestError(format!("tables must be \"all\" or a list of names, got {k:?}")));
        }
        Some(RawTables::Named(names)) if names.is_empty() => {
            return Err(RequestError("tables is an empty list".into()));
        }
        Some(RawTables::Named(names)) => {
            if let Some(bad) = names.iter().find(|n| !landfall::catalog::valid_table_name(n)) {
                return Err(RequestError(format!("{bad:?} is not a table name (lowercase letters, digits, _)")));
            }
            Tables::Named(names)
        }
    };
    let (from, to) = match (raw.from.as_deref(), raw.to.as_deref(), raw.days) {
        (Some(from), Some(to), None) => (date("from", from)?, date("to", to)?),
        (None, None, days) => {
            let days = days.unwrap_or(DEFAULT_DAYS);
            if days == 0 {
                return Err(RequestError("days must be at least 1".into()));
            }
            let to = now.date_naive();
            let from = to.checked_sub_days(Days::new(u64::from(days - 1))).unwrap_or(NaiveDate::MIN);
            (from, to)
        }
        _ => return Err(RequestError("give both from and to, or days, not a mix".into())),
    };
    if from > to {
        return Err(RequestError(format!("from {from} is after to {to}")));
    }
    if (to - from).num_days() >= i64::from(MAX_DAYS) {
        return Err(RequestError(format!("at most {MAX_DAYS} days per request; split the range")));
    }
    Ok(RepairRequest { tables, from, to })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T04:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_direct_request_names_tables_and_a_date_range() {
        let req =
            from_payload(&json!({"repair": {"tables": ["orders"], "from": "2026-11-01", "to": "2026-11-30"}}), now())
                .unwrap()
                .unwrap();
        assert_eq!(
            req,
            RepairRequest { tables: Tables::Named(vec!["orders".into()]), from: d("2026-11-01"), to: d("2026-11-30") }
        );
        assert!(req.covers("2026-11-30") && !req.covers("2026-12-01") && !req.covers("garbage"));
    }

    #[test]
    fn a_scheduled_event_without_detail_repairs_the_last_three_days_of_every_table() {
        let event = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "time": "2026-11-22T03:00:00Z", "detail": {}});
        let req = from_payload(&event, now()).unwrap().unwrap();
        assert_eq!(req, RepairRequest { tables: Tables::All, from: d("2026-11-20"), to: d("2026-11-22") });
    }

    #[test]
    fn a_scheduled_event_carries_its_request_in_detail() {
        let event = json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-22T03:00:00Z",
            "detail": {"repair": {"tables": "all", "days": 1}}});
        let req = from_payload(&event, now()).unwrap().unwrap();
        assert_eq!((req.from, req.to), (d("2026-11-22"), d("2026-11-22")));
    }

    #[test]
    fn s3_and_sqs_events_are_not_repair_requests() {
        assert!(from_payload(&json!({"Records": []}), now()).is_none());
        assert!(from_payload(&json!({"source": "aws.s3", "detail-type": "Object Created"}), now()).is_none());
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        for (raw, needle) in [
            (json!({"tables": "some"}), "\"all\" or a list"),
            (json!({"tables": []}), "empty"),
            (json!({"tables": ["Orders"]}), "not a table name"),
            (json!({"from": "2026-11-01"}), "both from and to"),
            (json!({"from": "2026-11-02", "to": "2026-11-01"}), "after"),
            (json!({"from": "1.11.2026", "to": "2026-11-01"}), "date like"),
            (json!({"days": 0}), "at least 1"),
            (json!({"from": "1990-01-01", "to": "2026-11-01"}), "split"),
            (json!({"tabels": "all"}), "unknown field"),
        ] {
            let err = from_payload(&json!({ "repair": raw }), now()).unwrap().unwrap_err();
            assert!(err.to_string().contains(needle), "{raw}: {err}");
        }
    }
}
