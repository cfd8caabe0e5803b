//! Sending a notice to its channels: the Slack webhook its secret names and
//! the SNS topic. Each channel is tried on its own (Slack retries 429, 5xx
//! and lost connections with backoff, the SDK retries SNS), and a channel
//! that still fails is logged and counted, never an error of the run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use landfall::config::Channels;
use landfall::notify::Slack;
use landfall::retry::Backoff;
use landfall::secrets::Secrets;
use landfall::telemetry::Metrics;
use tracing::{info, warn};

use crate::messages::Notice;
use crate::sns::Publisher;

/// How a notice fared: channels that took it and channels that did not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    pub sent: u32,
    pub failed: u32,
}

impl Delivery {
    /// Whether no channel took it although one was named.
    pub fn lost(&self) -> bool {
        self.sent == 0 && self.failed > 0
    }
}

impl std::ops::AddAssign for Delivery {
    fn add_assign(&mut self, other: Delivery) {
        self.sent += other.sent;
        self.failed += other.failed;
    }
}

pub struct Notifier {
    secrets: Arc<dyn Secrets>,
    sns: Arc<dyn Publisher>,
    /// One Slack client per webhook secret, built on first use.
    slacks: Mutex<HashMap<String, Slack>>,
    backoff: Option<Backoff>,
    metrics: Metrics,
}

impl Notifier {
    pub fn new(secrets: Arc<dyn Secrets>, sns: Arc<dyn Publisher>, metrics: Metrics) -> Self {
        Notifier { secrets, sns, slacks: Mutex::default(), backoff: None, metrics }
    }

    /// The wait between Slack attempts (tests shorten it).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    fn slack(&self, secret: &str) -> Result<Slack, landfall::notify::NotifyError> {
        let mut slacks = self.slacks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = slacks.get(secret) {
            return Ok(s.clone());
        }
        let mut slack = Slack::new(self.secrets.clone(), secret)?;
        if let Some(b) = self.backoff {
            slack = slack.with_backoff(b);
        }
        slacks.insert(secret.to_owned(), slack.clone());
        Ok(slack)
    }

    fn count(&self, channel: &'static str, notice: &Notice, ok: bool) {
        landfall::telemetry::catalog::NotificationDelivered { channel, what: notice.what, ok }.emit(&self.metrics);
    }

    /// Sends `notice` to the Slack webhook and the topic of `channels`.
    pub async fn send(&self, channels: &Channels, notice: &Notice) -> Delivery {
        let mut d = Delivery::default();
        if let Some(secret) = &channels.slack_secret {
            let posted = match self.slack(secret) {
                Ok(s) => s.post(&notice.slack).await,
                Err(e) => Err(e),
            };
            match posted {
                Ok(()) => d.sent += 1,
                Err(e) => {
                    warn!(channel = "slack", secret = %secret, what = notice.what, error = %e, "notification not delivered");
                    d.failed += 1;
                }
            }
            self.count("slack", notice, d.failed == 0);
        }
        if let Some(topic) = &channels.sns_topic {
            match self.sns.publish(topic, &notice.subject, &notice.text).await {
                Ok(()) => {
                    d.sent += 1;
                    self.count("sns", notice, true);
                }
                Err(e) => {
                    warn!(channel = "sns", topic = %topic, what = notice.what, error = %e, "notification not delivered");
                    d.failed += 1;
                    self.count("sns", notice, false);
                }
            }
        }
        if d.sent + d.failed == 0 {
            info!(what = notice.what, subject = %notice.subject, "no channel configured; nobody told");
            landfall::telemetry::catalog::NotificationUnrouted { what: notice.what }.emit(&self.metrics);
        }
        d
    }
}
