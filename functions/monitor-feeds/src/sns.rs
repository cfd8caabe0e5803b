//! Publishing to an SNS topic (its email subscribers): the narrow trait the
//! handler uses and its aws-sdk-sns implementation. Every message carries
//! the attribute [`SOURCE_ATTRIBUTE`], so the topic's subscription that
//! invokes this function (for alarms) filters out what it published itself.

use async_trait::async_trait;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sns::types::MessageAttributeValue;

/// The message attribute naming the publisher.
pub const SOURCE_ATTRIBUTE: &str = "landfall_source";
/// Its value on this function's messages.
pub const SOURCE: &str = "monitor-feeds";
/// SNS takes a subject of fewer than 100 ASCII characters.
const MAX_SUBJECT: usize = 99;

#[derive(Debug, thiserror::Error)]
#[error("publishing to {topic}: {message}")]
pub struct PublishError {
    pub topic: String,
    pub message: String,
}

#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes one message (the SDK retries what can pass).
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> Result<(), PublishError>;
}

/// A subject SNS accepts: ASCII without control characters, under 100 characters.
pub fn subject(text: &str) -> String {
    let ascii: String = text.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect();
    ascii.chars().take(MAX_SUBJECT).collect::<String>().trim().to_owned()
}

#[derive(Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
}

impl SnsPublisher {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        SnsPublisher { client: aws_sdk_sns::Client::new(sdk) }
    }
}

#[async_trait]
impl Publisher for SnsPublisher {
    async fn publish(&self, topic_arn: &str, subject_text: &str, message: &str) -> Result<(), PublishError> {
        let source = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(SOURCE)
            .build()
            .map_err(|e| PublishError { topic: topic_arn.into(), message: e.to_string() })?;
        self.client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject(subject_text))
            .message(message)
            .message_attributes(SOURCE_ATTRIBUTE, source)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| PublishError {
                topic: topic_arn.into(),
                message: match e.code() {
                    Some(code) => format!("{code}: {}", e.message().unwrap_or_default()),
                    None => DisplayErrorContext(&e).to_string(),
                },
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_ascii_without_line_breaks_and_under_100_characters() {
        assert_eq!(subject("landfall: clicks quiet — open\n"), "landfall: clicks quiet ? open?");
        assert_eq!(subject(&"x".repeat(300)).len(), 99);
    }
}
