//! The one path an S3 notice takes through an SQS-fed function (parse-file,
//! load-warehouse, register-partitions), from the Lambda payload to the
//! partial batch response. Each function implements [`NoticeHandler`] and
//! keeps only its own step; everything else happens here, once:
//!
//! 1. **Decode** the invocation ([`events::classify`]): an SQS batch, a direct
//!    S3 or EventBridge notice, or a shape no function understands (counted as
//!    `events_invalid{reason="shape"}` and answered with an error).
//! 2. **Identify** the batch's messages. A message without an id cannot be
//!    reported on its own, so the whole batch fails ([`identified`]).
//! 3. **Parse** each body ([`events::parse_body`]). A body that is no notice
//!    is counted (`events_invalid{reason="body"}`) and its message fails for
//!    the dead-letter queue; the records a notice deliberately leaves out
//!    (test events, removals, folder markers) are counted as
//!    `events_skipped{reason}`.
//! 4. **Process**: the handler gets every decoded notice of the batch at once,
//!    each with its message's index, so it may work message by message
//!    (parse-file) or group the batch's work (load-warehouse by table,
//!    register-partitions by table), and answers with a [`Disposition`] per
//!    message it failed ([`Dispositions`]).
//! 5. **Answer**: only the messages that must come back (retry, dead letter)
//!    are named in `batchItemFailures`, each counted as
//!    `messages_failed{disposition}`; SQS deletes the rest. A direct
//!    invocation is answered by the handler ([`NoticeHandler::answer`]),
//!    with an error when any of its work must be retried.
//!
//! ## The deadline rule
//!
//! A handler declares [`NoticeHandler::DEADLINE_MARGIN`]: how long its unit of
//! work (a file, a table's load, a table's partitions) can take. No unit is
//! started with less than that margin left of the invocation
//! ([`Budget::may_start`]); the messages it would have served fail with
//! [`Disposition::Retry`] and SQS delivers them again, rather than Lambda
//! killing the invocation mid-way (which fails every message of the batch,
//! finished or not). The rule is the same for SQS batches and direct
//! invocations.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;
use tracing::{error, info_span};

use crate::disposition::Disposition;
use crate::events::{self, Invocation, Notice};
use crate::lambda::Deadline;
use crate::telemetry::Metrics;
use crate::telemetry::catalog::{EventInvalid, EventSkipped, Invalid, MessageFailed};

/// The message id a direct invocation's single notice carries in logs.
pub(crate) const DIRECT: &str = "direct";

/// One message's notice, decoded, with where it sits in the batch.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    /// The message's index in the batch: what [`Dispositions`] are keyed by.
    pub index: usize,
    /// The SQS message id ([`DIRECT`] for a direct invocation), for logs.
    pub message_id: &'a str,
    pub notice: Notice,
}

/// How much of the invocation is left for new work: the [deadline
/// rule](self#the-deadline-rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    deadline: Deadline,
    margin: Duration,
}

impl Budget {
    /// The budget of handler `H` in an invocation that ends at `deadline`.
    pub fn of<H: NoticeHandler + ?Sized>(deadline: Deadline) -> Self {
        Budget { deadline, margin: H::DEADLINE_MARGIN }
    }

    /// Whether a unit of work may start: at least the margin is left.
    pub fn may_start(&self) -> bool {
        !self.deadline.within(self.margin)
    }

    /// Time left before the deadline, `None` without one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.remaining()
    }

    /// Time left before the deadline (zero without one, for logs).
    pub fn left(&self) -> Duration {
        self.deadline.remaining().unwrap_or_default()
    }
}

/// The messages a handler failed, by index in the batch, with why. A message
/// failed twice keeps the first reason; `Done` leaves it to succeed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dispositions(BTreeMap<usize, Disposition>);

impl Dispositions {
    pub fn fail(&mut self, index: usize, disposition: Disposition) {
        if disposition.fails_message() {
            self.0.entry(index).or_insert(disposition);
        }
    }

    /// Fails every message in `indexes` the same way.
    pub fn fail_all(&mut self, indexes: impl IntoIterator<Item = usize>, disposition: Disposition) {
        for index in indexes {
            self.fail(index, disposition);
        }
    }

    /// Takes in another set; this one's reasons win.
    pub fn extend(&mut self, other: Dispositions) {
        for (index, disposition) in other.0 {
            self.fail(index, disposition);
        }
    }

    pub fn get(&self, index: usize) -> Option<Disposition> {
        self.0.get(&index).copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, Disposition)> + '_ {
        self.0.iter().map(|(i, d)| (*i, *d))
    }
}

/// What a handler did with a batch: the messages it failed, and its own
/// report (for a direct invocation's answer).
#[derive(Debug)]
pub struct Processed<R> {
    pub failed: Dispositions,
    pub report: R,
}

/// A function fed S3 notices through SQS. See the [module](self) for the
/// steps the pipeline takes around [`NoticeHandler::process`].
#[async_trait]
pub trait NoticeHandler: Send + Sync {
    /// The function's name, for logs.
    const NAME: &'static str;
    /// How long one unit of the handler's work may take: none is started
    /// with less than this left ([the deadline rule](self#the-deadline-rule)).
    const DEADLINE_MARGIN: Duration;
    /// What [`NoticeHandler::process`] reports besides the failures.
    type Report: Send;

    fn metrics(&self) -> &Metrics;

    /// The handler's own step: the batch's decoded notices (never empty of
    /// messages that parsed; a message whose body did not parse is already
    /// failed) become per-message dispositions.
    async fn process(&self, notices: Vec<Decoded<'_>>, budget: Budget) -> Processed<Self::Report>;

    /// The answer to a direct invocation (one notice, index 0): an error
    /// when any of its work failed, so Lambda's async retries apply.
    fn answer(&self, processed: Processed<Self::Report>) -> Result<Value, lambda_runtime::Error>;

    /// A payload the handler answers before it is decoded as a notice
    /// (register-partitions' repair requests); `None` for the rest.
    async fn intercept(&self, _payload: &Value) -> Option<Result<Value, lambda_runtime::Error>> {
        None
    }

    /// The Lambda entry point: an SQS batch gets an `SqsBatchResponse`; a
    /// direct notice the handler's [`answer`](NoticeHandler::answer) (a
    /// direct S3 or EventBridge invocation fails as a whole if any of its
    /// work needs a retry, so Lambda's async retries apply); any other
    /// payload an error.
    async fn handle(&self, payload: Value, deadline: Deadline) -> Result<Value, lambda_runtime::Error>
    where
        Self: Sized,
    {
        dispatch(self, payload, deadline).await
    }

    /// One SQS batch: each message succeeds or fails on its own; near the
    /// deadline, the messages not yet started are failed for a retry.
    async fn handle_sqs(&self, event: SqsEvent, deadline: Deadline) -> SqsBatchResponse
    where
        Self: Sized,
    {
        batch(self, event, deadline).await
    }
}

/// [`NoticeHandler::handle`]: intercepted, an SQS batch, a direct notice
/// or a payload of neither shape.
async fn dispatch<H: NoticeHandler>(
    handler: &H,
    payload: Value,
    deadline: Deadline,
) -> Result<Value, lambda_runtime::Error> {
    if let Some(answer) = handler.intercept(&payload).await {
        return answer;
    }
    match events::classify(payload) {
        Ok(Invocation::Sqs(event)) => Ok(serde_json::to_value(batch(handler, event, deadline).await)?),
        Ok(Invocation::Direct(notice)) => {
            count_skips(handler.metrics(), &notice);
            let decoded = vec![Decoded { index: 0, message_id: DIRECT, notice }];
            handler.answer(handler.process(decoded, Budget::of::<H>(deadline)).await)
        }
        Err(e) => {
            EventInvalid { what: Invalid::Shape, function: H::NAME, error: &e }.emit(handler.metrics());
            Err(Box::new(e))
        }
    }
}

/// [`NoticeHandler::handle_sqs`]: the batch identified, decoded, processed
/// and answered with the messages that must come back.
async fn batch<H: NoticeHandler>(handler: &H, event: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
    let messages = match identified(&event) {
        Ok(m) => m,
        Err(all_failed) => return all_failed,
    };
    let metrics = handler.metrics();
    let mut failed = Dispositions::default();
    let mut decoded = Vec::with_capacity(messages.len());
    for (index, (message_id, message)) in messages.iter().enumerate() {
        let _span = info_span!("message", message_id).entered();
        match events::parse_body(message.body.as_deref().unwrap_or("")) {
            Ok(notice) => {
                count_skips(metrics, &notice);
                decoded.push(Decoded { index, message_id, notice });
            }
            Err(e) => {
                EventInvalid { what: Invalid::Body, function: H::NAME, error: &e }.emit(metrics);
                failed.fail(index, Disposition::DeadLetter);
            }
        }
    }
    failed.extend(handler.process(decoded, Budget::of::<H>(deadline)).await.failed);
    let mut response = SqsBatchResponse::default();
    for (index, disposition) in failed.iter() {
        let Some((message_id, _)) = messages.get(index) else { continue };
        MessageFailed { message_id, disposition }.emit(metrics);
        response.add_failure(*message_id);
    }
    response
}

/// Counts and logs the records a notice deliberately leaves out.
fn count_skips(metrics: &Metrics, notice: &Notice) {
    for skip in &notice.skipped {
        EventSkipped { reason: skip.label(), detail: &format!("{skip:?}") }.emit(metrics);
    }
}

/// The batch's messages with their ids, or, when one has none, the
/// response that fails them all: such a message cannot be reported on its
/// own, and letting the batch succeed would delete it unprocessed.
pub(crate) fn identified(event: &SqsEvent) -> Result<Vec<(&str, &SqsMessage)>, SqsBatchResponse> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures::{failed_ids, s3_notification, sqs_event};
    use crate::telemetry::catalog::{EVENTS_INVALID, EVENTS_SKIPPED, MESSAGES_FAILED};

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

    /// Fails the messages whose key says so; the work is one unit per message.
    struct Echo {
        metrics: Metrics,
    }

    #[async_trait]
    impl NoticeHandler for Echo {
        const NAME: &'static str = "echo";
        const DEADLINE_MARGIN: Duration = Duration::from_secs(30);
        type Report = Vec<usize>;

        fn metrics(&self) -> &Metrics {
            &self.metrics
        }

        async fn process(&self, notices: Vec<Decoded<'_>>, budget: Budget) -> Processed<Vec<usize>> {
            let mut failed = Dispositions::default();
            let mut seen = Vec::new();
            for d in notices {
                if !budget.may_start() {
                    failed.fail(d.index, Disposition::Retry);
                    continue;
                }
                seen.push(d.index);
                for o in &d.notice.objects {
                    if o.key.starts_with("retry") {
                        failed.fail(d.index, Disposition::Retry);
                    }
                    if o.key.starts_with("dead") {
                        failed.fail(d.index, Disposition::DeadLetter);
                    }
                }
            }
            Processed { failed, report: seen }
        }

        fn answer(&self, processed: Processed<Vec<usize>>) -> Result<Value, lambda_runtime::Error> {
            if processed.failed.is_empty() { Ok(serde_json::json!(processed.report)) } else { Err("failed".into()) }
        }
    }

    fn echo() -> Echo {
        Echo { metrics: Metrics::new("landfall") }
    }

    #[test]
    fn a_message_without_an_id_fails_the_whole_batch() {
        let e = event(&[Some("a"), None, Some("b")]);
        let response = identified(&e).unwrap_err();
        assert_eq!(ids(&response), vec!["a", "b"]);
        assert_eq!(identified(&event(&[Some("a")])).unwrap().len(), 1);
    }

    #[test]
    fn a_message_keeps_its_first_reason_and_done_lets_it_go() {
        let mut f = Dispositions::default();
        f.fail(0, Disposition::Retry);
        f.fail(1, Disposition::Done);
        f.fail(2, Disposition::DeadLetter);
        f.fail(0, Disposition::DeadLetter);
        assert_eq!(f.iter().collect::<Vec<_>>(), vec![(0, Disposition::Retry), (2, Disposition::DeadLetter)]);
    }

    #[tokio::test]
    async fn only_retried_and_dead_lettered_messages_come_back_and_are_counted() {
        let h = echo();
        let bodies = [
            s3_notification("b", "retry.csv"),
            s3_notification("b", "ok.csv"),
            "not json".to_owned(),
            s3_notification("b", "dead.csv"),
        ];
        let response = h.handle_sqs(sqs_event(&bodies), Deadline::never()).await;
        assert_eq!(failed_ids(&response), vec!["m0", "m2", "m3"]);
        assert_eq!(h.metrics.get(MESSAGES_FAILED.name, &[("disposition", "retry")]), 1);
        assert_eq!(h.metrics.get(MESSAGES_FAILED.name, &[("disposition", "dead_letter")]), 2);
        assert_eq!(h.metrics.get(EVENTS_INVALID.name, &[("reason", "body")]), 1);
    }

    #[tokio::test]
    async fn within_the_margin_no_work_starts_and_every_message_comes_back() {
        let h = echo();
        let soon = Deadline::after(Echo::DEADLINE_MARGIN / 2);
        let response = h.handle_sqs(sqs_event(&[s3_notification("b", "ok.csv")]), soon).await;
        assert_eq!(failed_ids(&response), vec!["m0"]);
        assert!(Budget::of::<Echo>(Deadline::after(Echo::DEADLINE_MARGIN * 2)).may_start());
        assert!(Budget::of::<Echo>(Deadline::never()).may_start());
    }

    #[tokio::test]
    async fn a_direct_notice_is_answered_by_the_handler_and_an_unknown_shape_is_counted() {
        let h = echo();
        let ok: Value = serde_json::from_str(&s3_notification("b", "ok.csv")).unwrap();
        assert_eq!(h.handle(ok, Deadline::never()).await.unwrap(), serde_json::json!([0]));
        let retry: Value = serde_json::from_str(&s3_notification("b", "retry.csv")).unwrap();
        assert!(h.handle(retry, Deadline::never()).await.is_err());
        assert!(h.handle(serde_json::json!({"what": 1}), Deadline::never()).await.is_err());
        assert_eq!(h.metrics.get(EVENTS_INVALID.name, &[("reason", "shape")]), 1);
    }

    #[tokio::test]
    async fn skipped_records_are_counted_once() {
        let h = echo();
        let removed = s3_notification("b", "ok.csv").replace("ObjectCreated", "ObjectRemoved");
        let response = h.handle_sqs(sqs_event(&[removed]), Deadline::never()).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(h.metrics.get(EVENTS_SKIPPED.name, &[("reason", "not_object_created")]), 1);
    }
}
