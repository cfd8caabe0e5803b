//! What the monitor says, pure: each notice as a Slack Block Kit message and
//! as an email (SNS subject and plain text). Alerts reuse
//! [`landfall::notify::slack_message`]; the digest of refused and failed
//! files and forwarded alarms are built here.

use landfall::escape::{Mrkdwn, command};
use landfall::notify::{AlertNotice, slack_message};
use landfall::warehouse::bookkeeping::file_digests::FeedDigest;
use serde_json::{Value, json};

use crate::alarm::Alarm;

/// Files a digest names one by one (Block Kit allows 50 blocks a message).
pub const DIGEST_FILES_SHOWN: usize = 10;
/// Feeds a digest counts one by one.
const DIGEST_FEEDS_SHOWN: usize = 20;
/// A reason is cut to this many characters (a section holds 3,000).
const REASON_CHARS: usize = 300;

/// One notice, in the shape each channel takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// What it is, for metrics and logs: `alert`, `digest`, `alarm`.
    pub what: &'static str,
    pub slack: Value,
    pub subject: String,
    pub text: String,
}

fn cut(text: &str, n: usize) -> String {
    if text.chars().count() <= n { text.to_owned() } else { format!("{}…", text.chars().take(n).collect::<String>()) }
}

/// An alert opened or resolved.
pub fn alert(n: &AlertNotice<'_>) -> Notice {
    let series = if n.dims.is_empty() { "the whole feed" } else { n.dims };
    let state = if n.resolved_at.is_some() { "resolved" } else { "open" };
    let mut text = format!(
        "Feed: {}\nSeries: {series}\nAlert: {} ({state})\nWhat: {}\nSince: {}\n",
        n.feed,
        n.kind.as_str(),
        n.detail,
        n.since.format("%Y-%m-%d %H:%M UTC")
    );
    if let Some(at) = n.resolved_at {
        text.push_str(&format!("Resolved: {}\n", at.format("%Y-%m-%d %H:%M UTC")));
    }
    let files = command("landfall files", &["--feed", n.feed, "--since", "1d"]);
    text.push_str(&format!("\nLook with: landfall status; {files}\n"));
    Notice {
        what: "alert",
        slack: slack_message(n),
        subject: format!("landfall: {} {} {state} ({series})", n.feed, n.kind.as_str()),
        text,
    }
}

fn counts(f: &FeedDigest) -> String {
    let parts = [(f.refused, "refused"), (f.failed, "failed"), (f.stuck, "stuck")];
    let said: Vec<String> = parts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
    if said.is_empty() { "0 refused".into() } else { said.join(", ") }
}

/// The digest's first line: what is new, then what is still stuck.
fn headline(total: u64, stuck: u64) -> String {
    let noun = |n: u64| if n == 1 { "file" } else { "files" };
    let stuck_text = format!("{stuck} {} stuck (a message failed: retrying or dead-lettered)", noun(stuck));
    match (total, stuck) {
        (_, 0) => format!("{total} {} refused or failed since the last digest", noun(total)),
        (0, _) => stuck_text,
        _ => format!("{total} {} refused or failed since the last digest; {stuck_text}", noun(total)),
    }
}

/// One message for every refused or failed file since the last digest:
/// counts per feed, then the first files with their reasons and the
/// command that shows each one's fate.
pub fn digest(feeds: &[FeedDigest]) -> Notice {
    let total: u64 = feeds.iter().map(FeedDigest::files).sum();
    let stuck: u64 = feeds.iter().map(|f| f.stuck).sum();
    let noun = if total == 1 { "file" } else { "files" };
    let plain = headline(total, stuck);
    let headline = format!(":warning: {plain}");
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": headline}})];
    let fields: Vec<Value> = feeds
        .iter()
        .take(DIGEST_FEEDS_SHOWN)
        .map(|f| json!({"type": "mrkdwn", "text": format!("*{}*\n{}", Mrkdwn(&f.feed), counts(f))}))
        .collect();
    for chunk in fields.chunks(10) {
        blocks.push(json!({"type": "section", "fields": chunk}));
    }
    if feeds.len() > DIGEST_FEEDS_SHOWN {
        let more = feeds.len() - DIGEST_FEEDS_SHOWN;
        blocks.push(
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("and {more} more feeds")}]}),
        );
    }
    let mut text = format!("{plain}.\n\n");
    for f in feeds {
        text.push_str(&format!("{}: {}\n", f.feed, counts(f)));
    }
    text.push('\n');
    let shown: Vec<_> =
        feeds.iter().flat_map(|f| f.samples.iter().map(move |s| (f, s))).take(DIGEST_FILES_SHOWN).collect();
    for (f, s) in &shown {
        let reason = cut(s.reason.as_deref().unwrap_or("no reason recorded"), REASON_CHARS);
        let look = command("landfall file", &[&s.source_url]);
        let mut line = format!(
            "`{}` {} ({}): {}\n`{}`",
            Mrkdwn(&s.source_url),
            s.status.as_str(),
            Mrkdwn(&f.feed),
            Mrkdwn(&reason),
            Mrkdwn(&look)
        );
        text.push_str(&format!("{} {} ({}): {reason}\n  {look}\n", s.source_url, s.status.as_str(), f.feed));
        if let Some(r) = &s.rejects_key {
            line.push_str(&format!(" · rejects `{}`", Mrkdwn(r)));
            text.push_str(&format!("  rejects: {r}\n"));
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": line}}));
    }
    let not_shown = total.saturating_sub(shown.len() as u64);
    let look = if not_shown > 0 {
        format!(
            "{not_shown} more not shown: `landfall files --feed FEED --since 1d` · after the fix, `landfall replay` loads them"
        )
    } else {
        "After the fix, `landfall replay` loads them".to_owned()
    };
    text.push_str(&format!("\n{}\n", look.replace('`', "")));
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": look}]}));
    let stuck_looks: Vec<String> = feeds
        .iter()
        .filter(|f| f.stuck > 0)
        .take(DIGEST_FILES_SHOWN)
        .map(|f| command("landfall files", &["--feed", &f.feed, "--status", "stuck"]))
        .collect();
    if !stuck_looks.is_empty() {
        let each = stuck_looks.iter().map(|c| format!("`{}`", Mrkdwn(c))).collect::<Vec<_>>().join(" · ");
        let line = format!("Stuck files and their errors: {each} · after the fix, `landfall redrive FUNCTION`");
        text.push_str(&format!("Stuck files and their errors: {}\n", stuck_looks.join("; ")));
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
    }
    Notice {
        what: "digest",
        slack: json!({"text": headline, "blocks": blocks}),
        subject: if total == 0 {
            format!("landfall: {plain}")
        } else {
            format!("landfall: {total} {noun} refused or failed")
        },
        text,
    }
}

/// A CloudWatch alarm that reached the alerts topic, for Slack (its email
/// subscribers have it already).
pub fn alarm(a: &Alarm) -> Notice {
    let icon = match a.state.as_str() {
        "ALARM" => ":rotating_light:",
        "OK" => ":white_check_mark:",
        _ => ":grey_question:",
    };
    let headline = format!("{icon} {} is {}", Mrkdwn(&a.name), Mrkdwn(&a.state));
    let why = format!("*Why*\n{}", Mrkdwn(&cut(&a.reason, REASON_CHARS)));
    let mut fields = vec![json!({"type": "mrkdwn", "text": why})];
    if let Some(d) = &a.description {
        fields.push(json!({"type": "mrkdwn", "text": format!("*What*\n{}", Mrkdwn(&cut(d, REASON_CHARS)))}));
    }
    if let Some(t) = &a.changed_at {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Since*\n{}", Mrkdwn(t))}));
    }
    let look = "`landfall status` · `landfall redrive FUNCTION` once the cause is fixed";
    Notice {
        what: "alarm",
        slack: json!({
            "text": headline,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
                {"type": "section", "fields": fields},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": look}]},
            ]
        }),
        subject: format!("landfall: {} is {}", a.name, a.state),
        text: format!("{} is {}\n{}\n", a.name, a.state, a.reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use landfall::warehouse::LedgerStatus;
    use landfall::warehouse::bookkeeping::file_digests::DigestFile;

    fn feed(name: &str, refused: u64, samples: usize) -> FeedDigest {
        FeedDigest {
            feed: name.into(),
            refused,
            failed: 0,
            stuck: 0,
            samples: (0..samples)
                .map(|i| DigestFile {
                    status: LedgerStatus::Refused,
                    source_url: format!("s3://landing/{name}/{i}.csv"),
                    reason: Some("column amount would change type from bigint to text".into()),
                    rejects_key: Some(format!("_rejects/{name}/load-{i}.jsonl.gz")),
                })
                .collect(),
        }
    }

    #[test]
    fn a_digest_counts_every_feed_and_names_the_first_files_with_their_command() {
        let n = digest(&[feed("clicks", 998, 5), feed("orders", 2, 2)]);
        assert_eq!(n.slack["text"], ":warning: 1000 files refused or failed since the last digest");
        let blocks = n.slack["blocks"].as_array().unwrap();
        assert_eq!(blocks[1]["fields"][0]["text"], "*clicks*\n998 refused");
        let files: Vec<&str> =
            blocks.iter().filter_map(|b| b["text"]["text"].as_str()).filter(|t| t.contains("landfall file")).collect();
        assert_eq!(files.len(), 7);
        assert!(files[0].contains("`landfall file s3://landing/clicks/0.csv`"), "{}", files[0]);
        assert!(files[0].contains("rejects `_rejects/clicks/load-0.jsonl.gz`"), "{}", files[0]);
        assert!(blocks.last().unwrap()["elements"][0]["text"].as_str().unwrap().starts_with("993 more not shown"));
        assert!(n.text.contains("clicks: 998 refused\norders: 2 refused\n"), "{}", n.text);
        assert!(blocks.len() <= 50);
    }

    #[test]
    fn a_digest_counts_each_feeds_stuck_files_and_says_how_to_see_them() {
        let mut feeds = vec![feed("clicks", 2, 1)];
        FeedDigest::add_stuck(&mut feeds, &[("clicks".to_owned(), 1), ("<!channel>".to_owned(), 3)].into());
        let n = digest(&feeds);
        assert_eq!(
            n.slack["text"],
            ":warning: 2 files refused or failed since the last digest; 4 files stuck (a message failed: retrying or dead-lettered)"
        );
        let blocks = n.slack["blocks"].as_array().unwrap();
        assert_eq!(blocks[1]["fields"][0]["text"], "*clicks*\n2 refused, 1 stuck");
        assert_eq!(blocks[1]["fields"][1]["text"], "*&lt;!channel&gt;*\n3 stuck");
        let look = blocks.last().unwrap()["elements"][0]["text"].as_str().unwrap();
        assert!(look.contains("`landfall files --feed '&lt;!channel&gt;' --status stuck`"), "{look}");
    }

    #[test]
    fn a_digest_of_many_feeds_stays_within_block_kits_limits() {
        let feeds: Vec<FeedDigest> = (0..60).map(|i| feed(&format!("f{i}"), 3, 5)).collect();
        let n = digest(&feeds);
        let blocks = n.slack["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50, "{}", blocks.len());
        assert!(blocks.iter().all(|b| b["fields"].as_array().is_none_or(|f| f.len() <= 10)));
        assert!(n.slack.to_string().contains("and 40 more feeds"));
    }
}
