//! Telling people: a Slack incoming webhook (its URL read from a Secrets
//! Manager secret, never from the config), with retries on the refusals
//! that pass. The message for an alert is built here, pure, so its layout
//! is tested without a network.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tracing::warn;

use crate::escape::{Mrkdwn, command};
use crate::monitor::AlertKind;
use crate::retry::{Backoff, Jitter};
use crate::secrets::{SecretError, Secrets};

/// Attempts at one message before it is given up (and logged).
pub(crate) const ATTEMPTS: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("slack webhook secret: {0}")]
    Secret(#[from] SecretError),
    #[error("slack webhook answered {status} after {attempts} attempt(s): {body}")]
    Refused { status: u16, attempts: u32, body: String },
    #[error("slack webhook unreachable after {attempts} attempt(s): {message}")]
    Unreachable { attempts: u32, message: String },
    #[error("building the HTTP client: {0}")]
    Client(String),
}

/// One alert's change of state, as a message says it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertNotice<'a> {
    pub feed: &'a str,
    /// The stats key (`partner_id=p7`; empty for the whole feed).
    pub dims: &'a str,
    pub kind: AlertKind,
    pub detail: &'a str,
    pub since: DateTime<Utc>,
    /// `Some(at)` when the alert resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// The Block Kit message: a header line (plain `text`, what notifications
/// and screen readers show), the facts as fields, and the commands to look.
/// The feed, the series (a value from the data) and the detail are shown as
/// text, never as markup ([`Mrkdwn`]).
pub fn slack_message(n: &AlertNotice<'_>) -> Value {
    let series = if n.dims.is_empty() { "the whole feed" } else { n.dims };
    let (icon, state) = match n.resolved_at {
        None => (":rotating_light:", "open"),
        Some(_) => (":white_check_mark:", "resolved"),
    };
    let (feed, series_shown) = (Mrkdwn(n.feed), Mrkdwn(series));
    let headline = format!("{icon} {feed} {}: {state} ({series_shown})", n.kind.as_str());
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Feed*\n{feed}")}),
        json!({"type": "mrkdwn", "text": format!("*Series*\n{series_shown}")}),
        json!({"type": "mrkdwn", "text": format!("*What*\n{}", Mrkdwn(n.detail))}),
        json!({"type": "mrkdwn", "text": format!("*Since*\n{}", n.since.format("%Y-%m-%d %H:%M UTC"))}),
    ];
    if let Some(at) = n.resolved_at {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Resolved*\n{}", at.format("%Y-%m-%d %H:%M UTC"))}));
    }
    let files = command("landfall files", &["--feed", n.feed, "--since", "1d"]);
    let look = format!("`landfall status` · `{}`", Mrkdwn(&files));
    json!({
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": look}]},
        ]
    })
}

/// Posts messages to a Slack incoming webhook.
#[derive(Clone)]
pub struct Slack {
    http: reqwest::Client,
    secrets: Arc<dyn Secrets>,
    /// The Secrets Manager name or ARN holding the webhook URL.
    secret: String,
    backoff: Backoff,
}

impl Slack {
    pub fn new(secrets: Arc<dyn Secrets>, secret: impl Into<String>) -> Result<Self, NotifyError> {
        let tls = crate::tls::rustls_client_config().map_err(|e| NotifyError::Client(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| NotifyError::Client(e.to_string()))?;
        Ok(Slack {
            http,
            secrets,
            secret: secret.into(),
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(8)),
        })
    }

    /// Waits between attempts (tests shorten them).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Posts one message: 429, 5xx and connection faults are retried up to
    /// [`ATTEMPTS`] times; any other refusal is final.
    pub async fn post(&self, message: &Value) -> Result<(), NotifyError> {
        let url = self.secrets.secret_string(&self.secret).await?;
        let url = url.trim();
        let mut jitter = Jitter::from_clock();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json");
            let retry = match request.body(message.to_string()).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body: String = r.text().await.unwrap_or_default().chars().take(200).collect();
                    if !(status == 429 || status >= 500) || attempt >= ATTEMPTS {
                        return Err(NotifyError::Refused { status, attempts: attempt, body });
                    }
                    format!("status {status}")
                }
                // The error names the URL, which is the secret: say only what kind of fault.
                Err(e) if attempt >= ATTEMPTS => {
                    let message = if e.is_timeout() { "timed out" } else { "connection failed" };
                    return Err(NotifyError::Unreachable { attempts: attempt, message: message.into() });
                }
                Err(_) => "connection".to_owned(),
            };
            warn!(attempt, reason = %retry, "slack webhook refused; retrying");
            tokio::time::sleep(self.backoff.retry_wait(attempt - 1, &mut jitter)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn notice(resolved: bool) -> AlertNotice<'static> {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 11, 50, 0).unwrap();
        AlertNotice {
            feed: "partner_clicks",
            dims: "partner_id=p7",
            kind: AlertKind::Quiet,
            detail: "no data for 70 min (expected every 60 min)",
            since: t,
            resolved_at: resolved.then(|| t + chrono::Duration::hours(2)),
        }
    }

    #[test]
    fn an_open_alert_names_feed_series_what_since_and_how_to_look() {
        let m = slack_message(&notice(false));
        assert_eq!(m["text"], ":rotating_light: partner_clicks quiet: open (partner_id=p7)");
        let fields: Vec<String> = m["blocks"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            fields,
            vec![
                "*Feed*\npartner_clicks",
                "*Series*\npartner_id=p7",
                "*What*\nno data for 70 min (expected every 60 min)",
                "*Since*\n2026-12-01 11:50 UTC",
            ]
        );
        assert!(
            m["blocks"][2]["elements"][0]["text"].as_str().unwrap().contains("landfall files --feed partner_clicks")
        );
    }

    #[test]
    fn a_resolved_alert_says_when() {
        let m = slack_message(&notice(true));
        assert!(m["text"].as_str().unwrap().contains("quiet: resolved"));
        assert_eq!(m["blocks"][1]["fields"][4]["text"], "*Resolved*\n2026-12-01 13:50 UTC");
    }
    #[test]
    fn a_hostile_series_is_shown_as_text_and_its_feed_command_quoted() {
        let mut n = notice(false);
        n.dims = "partner_id=<!channel> <https://x|Click>";
        let m = slack_message(&n);
        let body = m.to_string();
        assert!(!body.contains("<!channel>") && !body.contains("<https://x"), "{body}");
        assert_eq!(
            m["text"],
            ":rotating_light: partner_clicks quiet: open (partner_id=&lt;!channel&gt; &lt;https://x|Click&gt;)"
        );
        assert_eq!(
            m["blocks"][1]["fields"][1]["text"],
            "*Series*\npartner_id=&lt;!channel&gt; &lt;https://x|Click&gt;"
        );
    }

    struct Webhook(String);

    #[async_trait::async_trait]
    impl Secrets for Webhook {
        async fn secret_string(&self, name: &str) -> Result<String, SecretError> {
            match name {
                "landfall/slack" => Ok(self.0.clone()),
                _ => Err(SecretError::NotFound { name: name.into() }),
            }
        }
    }

    async fn slack(server: &wiremock::MockServer) -> Slack {
        let url = format!("{}/services/T0/B0/x", server.uri());
        Slack::new(Arc::new(Webhook(url)), "landfall/slack")
            .unwrap()
            .with_backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(5)))
    }

    #[tokio::test]
    async fn a_500_from_slack_is_retried_and_the_message_arrives_once() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).up_to_n_times(1).mount(&server).await;
        Mock::given(method("POST"))
            .and(path("/services/T0/B0/x"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
        slack(&server).await.post(&slack_message(&notice(false))).await.unwrap();

        let received = server.received_requests().await.unwrap();
        assert_eq!(received.len(), 2, "one refused, one delivered");
        let body: Value = serde_json::from_slice(&received[1].body).unwrap();
        assert_eq!(body["text"], ":rotating_light: partner_clicks quiet: open (partner_id=p7)");
    }

    #[tokio::test]
    async fn a_400_is_final_and_a_lasting_503_gives_up_after_the_attempts() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let bad = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_string("invalid_blocks"))
            .mount(&bad)
            .await;
        let e = slack(&bad).await.post(&json!({"text": "x"})).await.unwrap_err();
        assert!(matches!(e, NotifyError::Refused { status: 400, attempts: 1, .. }), "{e}");

        let down = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&down).await;
        let e = slack(&down).await.post(&json!({"text": "x"})).await.unwrap_err();
        assert!(matches!(e, NotifyError::Refused { status: 503, attempts: ATTEMPTS, .. }), "{e}");
        assert_eq!(down.received_requests().await.unwrap().len(), ATTEMPTS as usize);
    }
}
