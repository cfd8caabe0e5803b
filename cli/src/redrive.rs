//! `landfall redrive`: move a function's dead-lettered messages back to its
//! queue once the cause is fixed. On AWS, SQS's own StartMessageMoveTask
//! does it; where the service lacks it (moto), messages are received from
//! the dead-letter queue, sent to the queue and only then deleted, so a
//! crash in between duplicates a message (harmless: every stage is
//! idempotent) and never loses one. `--max N` always moves by hand, ten at
//! a time: the move task has no count limit, only a rate.

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use indicatif::ProgressBar;
use serde::Serialize;

use super::output::emit;
use super::{CliError, Deployment, aws_error};

#[derive(Debug, Clone, clap::Args)]
pub struct RedriveArgs {
    /// The function whose dead letters go back: parse-file, register-partitions or load-warehouse.
    pub function: String,
    /// Move at most this many messages (receive, send, delete in batches of ten, on every target).
    #[arg(long)]
    pub max: Option<usize>,
    /// Move by hand (receive, send, delete) even where SQS's move task is available.
    #[arg(long)]
    pub by_hand: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RedriveSummary {
    pub function: String,
    /// "move_task" (SQS moves them in the background) or "by_hand".
    pub method: String,
    /// Messages moved (by hand), or the move task's handle.
    pub moved: usize,
    pub task_handle: Option<String>,
}

pub async fn run(d: &Deployment, args: &RedriveArgs, json: bool) -> Result<(), CliError> {
    let q = d.queue(&args.function)?;
    let sqs = aws_sdk_sqs::Client::new(&d.sdk);
    if uses_move_task(args, &q.dlq_arn) {
        let req = sqs.start_message_move_task().source_arn(&q.dlq_arn).destination_arn(&q.arn);
        match req.send().await {
            Ok(out) => {
                let summary = RedriveSummary {
                    function: args.function.clone(),
                    method: "move_task".into(),
                    moved: 0,
                    task_handle: out.task_handle().map(str::to_owned),
                };
                return emit(json, &summary, |s| {
                    format!(
                        "SQS is moving {}'s dead letters back (task {}); `landfall status` shows the counts fall",
                        s.function,
                        s.task_handle.as_deref().unwrap_or("?")
                    )
                });
            }
            // An emulator without the API; anything else is a real refusal.
            Err(e) if unsupported(&e) => {}
            Err(e) => return Err(aws_error("StartMessageMoveTask", e)),
        }
    }
    let moved = by_hand(&sqs, &q.dlq_url, &q.url, args.max, json).await?;
    let summary =
        RedriveSummary { function: args.function.clone(), method: "by_hand".into(), moved, task_handle: None };
    emit(json, &summary, |s| format!("moved {} dead-lettered message(s) back to {}'s queue", s.moved, s.function))
}

/// SQS's move task moves every message, so only a redrive with no `--max`
/// (and no `--by-hand`) of a queue with a dead-letter ARN uses it.
fn uses_move_task(args: &RedriveArgs, dlq_arn: &str) -> bool {
    args.max.is_none() && !args.by_hand && !dlq_arn.is_empty()
}

/// Whether the endpoint does not implement the move task (an emulator):
/// its answer is not an SQS error at all (moto sends an HTML 500 with no
/// error code). A real refusal carries an SQS error code and is reported.
fn unsupported<E>(e: &aws_sdk_sqs::error::SdkError<E>) -> bool
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_sqs::error::ProvideErrorMetadata as _;
    matches!(e, aws_sdk_sqs::error::SdkError::ServiceError(_)) && e.code().is_none()
}

/// Receive, send, then delete, ten at a time, until the DLQ is empty or `max` moved.
async fn by_hand(
    sqs: &aws_sdk_sqs::Client,
    from: &str,
    to: &str,
    max: Option<usize>,
    quiet: bool,
) -> Result<usize, CliError> {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    let mut moved = 0usize;
    loop {
        let want = max.map_or(10, |m| m.saturating_sub(moved).min(10));
        if want == 0 {
            break;
        }
        let out = sqs
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(i32::try_from(want).unwrap_or(10))
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| aws_error("ReceiveMessage", e))?;
        let messages = out.messages();
        if messages.is_empty() {
            break;
        }
        let mut entries = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body().unwrap_or_default())
                    .build()
                    .map_err(CliError::failed)?,
            );
        }
        let sent = sqs
            .send_message_batch()
            .queue_url(to)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_error("SendMessageBatch", e))?;
        // Only what reached the queue leaves the DLQ; the rest reappears there.
        let mut deletes = Vec::new();
        for ok in sent.successful() {
            let Some(m) = ok.id().parse::<usize>().ok().and_then(|i| messages.get(i)) else { continue };
            if let Some(handle) = m.receipt_handle() {
                deletes.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(ok.id())
                        .receipt_handle(handle)
                        .build()
                        .map_err(CliError::failed)?,
                );
            }
        }
        if deletes.is_empty() {
            return Err(CliError::Failed(format!(
                "none of {} message(s) could be sent back: {:?}",
                messages.len(),
                sent.failed().iter().map(|f| f.message().unwrap_or(f.code())).collect::<Vec<_>>()
            )));
        }
        let n = deletes.len();
        let deleted = sqs
            .delete_message_batch()
            .queue_url(from)
            .set_entries(Some(deletes))
            .send()
            .await
            .map_err(|e| aws_error("DeleteMessageBatch", e))?;
        if let Some(f) = deleted.failed().first() {
            // Sent but still in the DLQ: it will be moved again (a duplicate, never a loss).
            tracing::warn!(id = f.id(), code = f.code(), "a redriven message was not deleted from the DLQ");
        }
        moved += n;
        bar.set_message(format!("{moved} moved"));
        bar.tick();
    }
    bar.finish_and_clear();
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(max: Option<usize>, by_hand: bool) -> RedriveArgs {
        RedriveArgs { function: "load-warehouse".into(), max, by_hand }
    }

    #[test]
    fn a_count_limit_moves_by_hand_even_where_the_move_task_exists() {
        let arn = "arn:aws:sqs:eu-west-1:1:landfall-load-warehouse-dlq";
        assert!(uses_move_task(&args(None, false), arn));
        assert!(!uses_move_task(&args(Some(3), false), arn), "the move task cannot stop at 3");
        assert!(!uses_move_task(&args(None, true), arn));
        assert!(!uses_move_task(&args(None, false), ""));
    }
}
