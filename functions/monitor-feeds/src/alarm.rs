//! The SNS event Lambda delivers when the alerts topic (where the CloudWatch
//! alarms publish) invokes this function: each record's message read as a
//! CloudWatch alarm state change, to forward to Slack.

use serde::Deserialize;
use serde_json::Value;

use crate::sns::{SOURCE, SOURCE_ATTRIBUTE};

/// A CloudWatch alarm's change of state, as its SNS message says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub name: String,
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
    pub description: Option<String>,
    pub changed_at: Option<String>,
}

/// What one record of the event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Alarm(Alarm),
    /// A message this function published itself (the subscription's filter should have kept it out).
    Own,
    /// Anything else on the topic, with what it was.
    Other(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not an SNS event: {0}")]
    NotSns(String),
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "Records")]
    records: Vec<RawRecord>,
}

#[derive(Deserialize)]
struct RawRecord {
    #[serde(rename = "EventSource", default)]
    source: String,
    #[serde(rename = "Sns")]
    sns: RawSns,
}

#[derive(Deserialize)]
struct RawSns {
    #[serde(rename = "Message", default)]
    message: String,
    #[serde(rename = "MessageAttributes", default)]
    attributes: Value,
}

#[derive(Deserialize)]
struct RawAlarm {
    #[serde(rename = "AlarmName")]
    name: String,
    #[serde(rename = "NewStateValue")]
    state: String,
    #[serde(rename = "NewStateReason", default)]
    reason: String,
    #[serde(rename = "AlarmDescription", default)]
    description: Option<String>,
    #[serde(rename = "StateChangeTime", default)]
    changed_at: Option<String>,
}

/// Whether a payload is an SNS event (rather than the schedule's).
pub fn is_sns_event(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .is_some_and(|records| records.iter().any(|r| r.get("EventSource").and_then(Value::as_str) == Some("aws:sns")))
}

/// The event's records, each read as an alarm where it is one.
pub fn parse_event(payload: &Value) -> Result<Vec<Record>, EventError> {
    let event: RawEvent = serde_json::from_value(payload.clone()).map_err(|e| EventError::NotSns(e.to_string()))?;
    Ok(event
        .records
        .into_iter()
        .map(|r| {
            if r.source != "aws:sns" {
                return Record::Other("not_sns");
            }
            let own = r.sns.attributes.get(SOURCE_ATTRIBUTE).and_then(|a| a.get("Value")).and_then(Value::as_str);
            if own == Some(SOURCE) {
                return Record::Own;
            }
            match serde_json::from_str::<RawAlarm>(&r.sns.message) {
                Ok(a) => Record::Alarm(Alarm {
                    name: a.name,
                    state: a.state,
                    reason: a.reason,
                    description: a.description.filter(|d| !d.trim().is_empty()),
                    changed_at: a.changed_at,
                }),
                Err(_) => Record::Other("not_an_alarm"),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/sns/dlq-alarm.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_dlq_alarm_reads_back_and_the_functions_own_message_is_recognised() {
        let event = fixture();
        assert!(is_sns_event(&event));
        let records = parse_event(&event).unwrap();
        let Record::Alarm(a) = &records[0] else { panic!("{records:?}") };
        assert_eq!((a.name.as_str(), a.state.as_str()), ("landfall-prod-parse-file-dlq-messages", "ALARM"));
        assert!(a.reason.starts_with("Threshold Crossed"));
        assert_eq!(a.changed_at.as_deref(), Some("2026-12-02T01:05:00.000+0000"));
        assert_eq!(records[1], Record::Own);
    }

    #[test]
    fn a_scheduled_event_is_not_an_sns_event_and_a_bad_record_is_not_an_alarm() {
        assert!(!is_sns_event(&serde_json::json!({"source": "aws.scheduler", "detail": {}})));
        let odd = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "hello"}}]});
        assert_eq!(parse_event(&odd).unwrap(), vec![Record::Other("not_an_alarm")]);
        assert!(parse_event(&serde_json::json!({"Records": 3})).is_err());
    }
}
