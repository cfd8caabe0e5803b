//! A feed's `notify:` in the config, and the channels a notice goes to:
//! a Slack webhook (named by its Secrets Manager secret) and an SNS topic.
//! Pure, so the config can hold them without the HTTP client that posts to
//! Slack ([`crate::notify`]).

/// Where notices go: a Slack webhook (the Secrets Manager secret holding its
/// URL) and an SNS topic (email). The function's defaults come from its
/// environment; a feed's `notify:` replaces either for that feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Channels {
    pub slack_secret: Option<String>,
    pub sns_topic: Option<String>,
}

impl Channels {
    /// These channels, each unset one taken from `default`.
    pub fn or(&self, default: &Channels) -> Channels {
        Channels {
            slack_secret: self.slack_secret.clone().or_else(|| default.slack_secret.clone()),
            sns_topic: self.sns_topic.clone().or_else(|| default.sns_topic.clone()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slack_secret.is_none() && self.sns_topic.is_none()
    }
}

/// A feed's `notify:` as written.
#[derive(Debug, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChannels {
    #[serde(default)]
    slack_secret: Option<String>,
    #[serde(default)]
    sns_topic: Option<String>,
}

/// Validates a feed's `notify:`; the error is quoted with the feed's line.
pub(crate) fn validate_channels(raw: RawChannels) -> Result<Channels, String> {
    let slack_secret = raw.slack_secret.map(|s| s.trim().to_owned());
    if let Some(s) = &slack_secret
        && (s.is_empty() || s.contains(char::is_whitespace) || s.starts_with("https://"))
    {
        return Err(format!(
            "notify.slack_secret {s:?} must name a Secrets Manager secret (name or ARN) holding the webhook URL, not the URL"
        ));
    }
    let sns_topic = raw.sns_topic.map(|s| s.trim().to_owned());
    if let Some(t) = &sns_topic {
        let parts: Vec<&str> = t.split(':').collect();
        let is_arn = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "sns"
            && parts.iter().skip(3).all(|p| !p.is_empty() && !p.contains(char::is_whitespace));
        if !is_arn {
            return Err(format!("notify.sns_topic {t:?} must be a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"));
        }
    }
    let channels = Channels { slack_secret, sns_topic };
    if channels.is_empty() {
        return Err("notify needs slack_secret, sns_topic or both".into());
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn feed_err(yaml: &str) -> String {
        Config::from_yaml(yaml, "landfall.yaml").unwrap_err().to_string()
    }

    #[test]
    fn a_feed_names_its_own_slack_secret_and_topic_and_the_defaults_fill_the_rest() {
        let yaml = "feeds:\n  clicks:\n    prefix: c/\n    notify: { slack_secret: landfall/slack-growth }\n";
        let feed = &Config::from_yaml(yaml, "x").unwrap().feeds[0];
        assert_eq!(feed.notify.slack_secret.as_deref(), Some("landfall/slack-growth"));
        let default = Channels {
            slack_secret: Some("landfall/slack".into()),
            sns_topic: Some("arn:aws:sns:eu-west-1:123456789012:landfall-alarms".into()),
        };
        let used = feed.notify.or(&default);
        assert_eq!(used.slack_secret.as_deref(), Some("landfall/slack-growth"));
        assert_eq!(used.sns_topic, default.sns_topic);
        let plain = Config::from_yaml("feeds:\n  c:\n    prefix: c/\n", "x").unwrap();
        assert_eq!(plain.feeds[0].notify.or(&default), default);
    }

    #[test]
    fn a_bad_channel_override_is_refused_with_the_feeds_line() {
        let e =
            feed_err("feeds:\n  a:\n    prefix: a/\n  b:\n    prefix: b/\n    notify: { sns_topic: growth-alerts }\n");
        assert!(e.starts_with("landfall.yaml:5: feed \"b\": notify.sns_topic"), "{e}");
        let e = feed_err("feeds:\n  b:\n    prefix: b/\n    notify: { slack_secret: \"https://hooks.slack.com/x\" }\n");
        assert!(e.contains("landfall.yaml:3") && e.contains("not the URL"), "{e}");
        let e = feed_err("feeds:\n  b:\n    prefix: b/\n    notify: {}\n");
        assert!(e.contains("notify needs slack_secret, sns_topic or both"), "{e}");
        let e = feed_err("feeds:\n  b:\n    prefix: b/\n    notify: { slack: x }\n");
        assert!(
            e.contains("landfall.yaml:4") && e.contains("unknown field `slack`"),
            "unknown keys are errors, at their line: {e}"
        );
    }
}
