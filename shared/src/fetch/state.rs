//! The cursor state of a source, `_state/<source>.json` in the curated
//! bucket: written with a conditional PUT after every page of a run is
//! durable, so a crash repeats pages and two runs cannot both advance it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::paginate::lookup;
use super::source::IncrementalCursor;

/// The curated key of a source's state.
pub fn state_key(source: &str) -> String {
    format!("_state/{source}.json")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SourceState {
    pub source: String,
    /// The maximum cursor field seen so far (None before the first record).
    pub cursor: Option<Value>,
    pub last_run_id: String,
    pub updated_at: String,
    /// Whether the last run fetched every page (false: stopped at the time budget or max_pages).
    pub complete: bool,
}

/// The larger of two cursor values: numbers numerically, strings (RFC 3339
/// timestamps, ids) lexically; a value of another kind never wins.
pub(crate) fn max_cursor(current: Option<Value>, candidate: &Value) -> Option<Value> {
    let wins = match (&current, candidate) {
        (_, Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_)) => false,
        (None, _) => true,
        (Some(Value::Number(a)), Value::Number(b)) => b.as_f64() > a.as_f64(),
        (Some(Value::String(a)), Value::String(b)) => b > a,
        _ => false,
    };
    if wins { Some(candidate.clone()) } else { current }
}

/// Folds a page's records into the cursor.
pub fn advance(cursor: Option<Value>, records: &[Value], field: &str) -> Option<Value> {
    records.iter().filter_map(|r| lookup(r, field)).fold(cursor, max_cursor)
}

/// `{start}` of a run: the stored cursor less the lag, else the configured initial value.
pub fn start_from(state: Option<&SourceState>, cursor: &IncrementalCursor) -> Option<String> {
    let lag = cursor.lag_seconds;
    match state.and_then(|s| s.cursor.as_ref()) {
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(i.saturating_sub(i64::try_from(lag).unwrap_or(i64::MAX)).to_string()),
            (None, Some(f)) => Some((f - lag as f64).to_string()),
            _ => None,
        },
        Some(Value::String(s)) if lag > 0 => match chrono::DateTime::parse_from_rfc3339(s) {
            // Written back in the cursor's own style ("Z" or "+00:00"), as the API wrote it.
            Ok(t) => Some(
                (t - chrono::Duration::seconds(i64::try_from(lag).unwrap_or(i64::MAX)))
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, s.ends_with('Z')),
            ),
            Err(_) => Some(s.clone()),
        },
        Some(Value::String(s)) => Some(s.clone()),
        _ => cursor.initial.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cursor(lag: u64) -> IncrementalCursor {
        IncrementalCursor { field: "updated_at".into(), initial: Some("2026-01-01T00:00:00Z".into()), lag_seconds: lag }
    }

    #[test]
    fn the_maximum_of_a_field_is_kept_across_pages() {
        let page1 = [json!({"updated_at": "2026-03-01T00:00:00Z"}), json!({"updated_at": "2026-02-01T00:00:00Z"})];
        let page2 = [json!({"updated_at": "2026-02-15T00:00:00Z"}), json!({"other": 1})];
        let c = advance(None, &page1, "updated_at");
        assert_eq!(advance(c, &page2, "updated_at"), Some(json!("2026-03-01T00:00:00Z")));
        assert_eq!(advance(Some(json!(5)), &[json!({"id": 9}), json!({"id": 7})], "id"), Some(json!(9)));
        assert_eq!(advance(None, &[json!({"a": {"b": 3}})], "a.b"), Some(json!(3)));
    }

    #[test]
    fn the_next_start_is_the_cursor_less_the_lag_or_the_initial_value() {
        assert_eq!(start_from(None, &cursor(0)).as_deref(), Some("2026-01-01T00:00:00Z"));
        let state = SourceState { cursor: Some(json!("2026-03-01T10:00:00Z")), ..Default::default() };
        assert_eq!(start_from(Some(&state), &cursor(0)).as_deref(), Some("2026-03-01T10:00:00Z"));
        assert_eq!(start_from(Some(&state), &cursor(3600)).as_deref(), Some("2026-03-01T09:00:00Z"));
        let offset = SourceState { cursor: Some(json!("2026-02-17T09:00:00+00:00")), ..Default::default() };
        assert_eq!(start_from(Some(&offset), &cursor(3600)).as_deref(), Some("2026-02-17T08:00:00+00:00"));
        let numeric = SourceState { cursor: Some(json!(1000)), ..Default::default() };
        assert_eq!(start_from(Some(&numeric), &cursor(60)).as_deref(), Some("940"));
    }
}
