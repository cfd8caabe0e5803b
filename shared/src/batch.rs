//! One SQS batch, answered the same way by every handler: the response's
//! `batchItemFailures` names exactly the messages that must come back
//! ([`Disposition::Retry`] and [`Disposition::DeadLetter`]), and SQS
//! deletes the rest.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::error;

use crate::disposition::Disposition;
use crate::events;
use crate::telemetry::Metrics;

/// The batch's messages with their ids, or, when one has none, the
/// response that fails them all: such a message cannot be reported on its
/// own, and letting the batch succeed would delete it unprocessed.
pub fn identified(event: &SqsEvent) -> Result<Vec<(&str, &SqsMessage)>, SqsBatchResponse> {
    let mut out = Vec::with_capacity(event.records.len());
    for message in &event.records {
        let Some(id) = events::message_id(message) else {
            error!("SQS message without a messageId; failing the whole batch");
            let mut response = SqsBatchResponse::default();
            response.set_failures(event.records.iter().filter_map(|m| m.message_id.clone()));
            return Err(response);
        };
        out.push((id, message));
    }
    Ok(out)
}

/// The failures of a batch so far.
#[derive(Debug, Default)]
pub struct Failures {
    failed: BTreeMap<String, Disposition>,
}

impl Failures {
    /// Records a message's fate; `Done` leaves it to succeed. A message
    /// failed twice keeps the first reason.
    pub fn fail(&mut self, message_id: &str, disposition: Disposition) {
        if disposition.fails_message() {
            self.failed.entry(message_id.to_owned()).or_insert(disposition);
        }
    }

    pub fn contains(&self, message_id: &str) -> bool {
        self.failed.contains_key(message_id)
    }

    pub fn len(&self) -> usize {
        self.failed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.failed.is_empty()
    }

    /// The response for SQS, counting `messages_failed{disposition}`.
    pub fn into_response(self, metrics: &Metrics) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for (id, disposition) in self.failed {
            metrics.incr("messages_failed", &[("disposition", disposition.label())]);
            response.add_failure(id);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ids: &[Option<&str>]) -> SqsEvent {
        let records: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| match id {
                Some(id) => serde_json::json!({"messageId": id, "body": "{}", "eventSource": "aws:sqs"}),
                None => serde_json::json!({"body": "{}", "eventSource": "aws:sqs"}),
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    fn ids(r: &SqsBatchResponse) -> Vec<&str> {
        r.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
    }

    #[test]
    fn a_message_without_an_id_fails_the_whole_batch() {
        let e = event(&[Some("a"), None, Some("b")]);
        let response = identified(&e).unwrap_err();
        assert_eq!(ids(&response), vec!["a", "b"]);
        assert_eq!(identified(&event(&[Some("a")])).unwrap().len(), 1);
    }

    #[test]
    fn only_retried_and_dead_lettered_messages_come_back_and_are_counted() {
        let metrics = Metrics::new("landfall");
        let mut f = Failures::default();
        f.fail("a", Disposition::Retry);
        f.fail("b", Disposition::Done);
        f.fail("c", Disposition::DeadLetter);
        f.fail("a", Disposition::DeadLetter);
        let response = f.into_response(&metrics);
        assert_eq!(ids(&response), vec!["a", "c"]);
        assert_eq!(metrics.get("messages_failed", &[("disposition", "retry")]), 1);
        assert_eq!(metrics.get("messages_failed", &[("disposition", "dead_letter")]), 1);
    }
}
