//! The local stand-in for the Lambda SQS event source mapping.
//!
//! It long-polls each function's queue, gathers a batch (up to the batch size,
//! within the batching window), builds the `SqsEvent` exactly as Lambda does
//! (messageId, receiptHandle, body, attributes, eventSource, eventSourceARN,
//! awsRegion), calls the handler in-process, deletes the messages the handler
//! did not report in `batchItemFailures`, and leaves the failed ones to
//! reappear after their visibility timeout. moto applies the queue's redrive
//! policy, so a message received `maxReceiveCount` times moves to the DLQ, as
//! in AWS.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};

use crate::stack::QueueBinding;
use landfall::lambda::Deadline;
use landfall::pipeline::NoticeHandler;

#[async_trait]
pub trait SqsHandler: Send + Sync {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse;
}

#[async_trait]
impl SqsHandler for parse_file::ParseFile {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_sqs(event, Deadline::never()).await
    }
}

#[async_trait]
impl SqsHandler for register_partitions::RegisterPartitions {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_sqs(event, Deadline::never()).await
    }
}

#[async_trait]
impl SqsHandler for load_warehouse::LoadWarehouse {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_sqs(event, Deadline::never()).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    #[error("SQS {operation} on {queue}: {message}")]
    Sqs { operation: &'static str, queue: String, message: String },
}

/// What a drain delivered, per function.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FunctionReport {
    pub invocations: u64,
    pub messages: u64,
    /// Messages received before (ApproximateReceiveCount above 1): retries
    /// after a failure, or after an invocation that never answered.
    pub redelivered: u64,
    pub failures: u64,
    pub deleted: u64,
}

#[derive(Debug, Default, Clone)]
pub struct PumpReport {
    pub functions: BTreeMap<String, FunctionReport>,
    /// True when every queue was empty (nothing visible, nothing in flight) at the end.
    pub drained: bool,
}

struct Route {
    function: String,
    queue: QueueBinding,
    handler: Arc<dyn SqsHandler>,
}

pub struct Pump {
    sqs: Client,
    region: String,
    routes: Vec<Route>,
}

fn sqs_err(operation: &'static str, queue: &str, e: impl std::error::Error) -> PumpError {
    PumpError::Sqs {
        operation,
        queue: queue.to_owned(),
        message: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
    }
}

impl Pump {
    pub fn new(sqs: Client, region: &str) -> Self {
        Self { sqs, region: region.to_owned(), routes: Vec::new() }
    }

    pub fn route(mut self, function: &str, queue: QueueBinding, handler: Arc<dyn SqsHandler>) -> Self {
        self.routes.push(Route { function: function.to_owned(), queue, handler });
        self
    }

    /// Delivers messages until every routed queue is empty (including
    /// messages in flight, which come back after their visibility timeout)
    /// or `timeout` passes.
    pub async fn drain(&self, timeout: Duration) -> Result<PumpReport, PumpError> {
        let deadline = Instant::now() + timeout;
        let mut report = PumpReport::default();
        loop {
            let mut delivered = false;
            for route in &self.routes {
                let r = report.functions.entry(route.function.clone()).or_default();
                delivered |= self.deliver_one_batch(route, r).await?;
            }
            if delivered {
                continue;
            }
            if self.all_empty().await? {
                report.drained = true;
                return Ok(report);
            }
            if Instant::now() >= deadline {
                return Ok(report);
            }
            // Something is in flight (a failed message waiting out its
            // visibility timeout, or a notification not yet enqueued).
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn all_empty(&self) -> Result<bool, PumpError> {
        for route in &self.routes {
            let waiting = self
                .message_counts(
                    &route.queue.url,
                    &[
                        QueueAttributeName::ApproximateNumberOfMessages,
                        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
                    ],
                )
                .await?;
            if waiting > 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The sum of the named count attributes of a queue.
    async fn message_counts(&self, url: &str, names: &[QueueAttributeName]) -> Result<u64, PumpError> {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| sqs_err("GetQueueAttributes", url, e))?;
        Ok(attrs.attributes().map(|a| a.values().map(|v| v.parse::<u64>().unwrap_or(0)).sum()).unwrap_or(0))
    }

    /// Gathers one batch for a route and invokes its handler. Returns whether
    /// any message was delivered.
    async fn deliver_one_batch(&self, route: &Route, report: &mut FunctionReport) -> Result<bool, PumpError> {
        let batch_size = usize::try_from(route.queue.batch_size.max(1)).unwrap_or(1);
        let window = Duration::from_secs(u64::try_from(route.queue.batching_window_seconds.max(0)).unwrap_or(0));
        let mut first_at: Option<Instant> = None;
        let mut messages: Vec<aws_sdk_sqs::types::Message> = Vec::new();
        loop {
            let want = i32::try_from((batch_size - messages.len()).min(10)).unwrap_or(10);
            let out = self
                .sqs
                .receive_message()
                .queue_url(&route.queue.url)
                .max_number_of_messages(want)
                .wait_time_seconds(if messages.is_empty() { 1 } else { 0 })
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| sqs_err("ReceiveMessage", &route.queue.url, e))?;
            let got = out.messages.unwrap_or_default();
            let empty = got.is_empty();
            messages.extend(got);
            let first = *first_at.get_or_insert_with(Instant::now);
            // Like the event source mapping: invoke when the batch is full or
            // the batching window has passed since the first message.
            if messages.is_empty() || messages.len() >= batch_size || first.elapsed() >= window {
                break;
            }
            if empty {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if messages.is_empty() {
            return Ok(false);
        }

        let redelivered = messages
            .iter()
            .filter(|m| {
                m.attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| n > 1)
            })
            .count() as u64;
        let event = self.to_event(&route.queue, &messages);
        let response = route.handler.handle(event).await;
        let failed: HashSet<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        report.invocations += 1;
        report.messages += messages.len() as u64;
        report.redelivered += redelivered;
        report.failures += failed.len() as u64;
        // One line per invocation, as Lambda's log would have: what a
        // watcher of the pump (landfall-chaos) counts, even if the pump dies next.
        tracing::info!(
            function = %route.function,
            messages = messages.len(),
            redelivered,
            failed = failed.len(),
            "batch delivered"
        );

        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.message_id().is_some_and(|id| failed.contains(id)))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                    .build()
                    .ok()
            })
            .collect();
        for chunk in entries.chunks(10) {
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&route.queue.url)
                .set_entries(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sqs_err("DeleteMessageBatch", &route.queue.url, e))?;
            // A per-entry failure leaves that message to be delivered again,
            // which the handlers tolerate (they are idempotent); say so.
            for f in out.failed() {
                tracing::warn!(queue = %route.queue.url, id = f.id(), code = f.code(), "delete failed; the message will be redelivered");
            }
            report.deleted += out.successful().len() as u64;
        }
        Ok(true)
    }

    fn to_event(&self, queue: &QueueBinding, messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|m| {
                let mut msg = SqsMessage::default();
                msg.message_id = m.message_id().map(str::to_owned);
                msg.receipt_handle = m.receipt_handle().map(str::to_owned);
                msg.body = m.body().map(str::to_owned);
                msg.md5_of_body = m.md5_of_body().map(str::to_owned);
                msg.md5_of_message_attributes = m.md5_of_message_attributes().map(str::to_owned);
                msg.attributes = m
                    .attributes()
                    .map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect())
                    .unwrap_or_default();
                msg.event_source = Some("aws:sqs".into());
                msg.event_source_arn = Some(queue.arn.clone());
                msg.aws_region = Some(self.region.clone());
                msg
            })
            .collect();
        event
    }

    /// Messages waiting in each route's dead-letter queue.
    pub async fn dead_letters(&self) -> Result<BTreeMap<String, u64>, PumpError> {
        let mut out = BTreeMap::new();
        for route in &self.routes {
            let n =
                self.message_counts(&route.queue.dlq_url, &[QueueAttributeName::ApproximateNumberOfMessages]).await?;
            out.insert(route.function.clone(), n);
        }
        Ok(out)
    }
}
