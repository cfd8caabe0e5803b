//! The monitor's handler against a real PostgreSQL (the local stack's
//! server, one fresh database per test so runs see only their own ledger
//! and stats), a local HTTP server standing in for Slack that records what
//! it receives, and a recording SNS topic.
//!
//! Needs the local stack: `infra/stack up`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use landfall::config::{Channels, Config};
use landfall::lambda::Deadline;
use landfall::retry::Backoff;
use landfall::secrets::{SecretError, Secrets};
use landfall::storage::memory::MemoryStore;
use landfall::telemetry::Metrics;
use landfall::warehouse::postgres::{LoaderSettings, PostgresTarget, PostgresWarehouse, text_rows};
use landfall_infra::{LocalStack, NoSecrets};
use monitor_feeds::sns::{PublishError, Publisher};
use monitor_feeds::{Curated, MonitorFeeds, Notifier};
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const DEFAULT_TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:landfall-alarms";
const GROWTH_TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:growth-alerts";

/// Webhook secrets: name -> the URL of a local server.
#[derive(Default)]
struct Webhooks(HashMap<String, String>);

#[async_trait]
impl Secrets for Webhooks {
    async fn secret_string(&self, name: &str) -> Result<String, SecretError> {
        self.0.get(name).cloned().ok_or_else(|| SecretError::NotFound { name: name.into() })
    }
}

/// An SNS topic that records what is published, or refuses it.
#[derive(Default)]
struct Topic {
    published: Mutex<Vec<(String, String, String)>>,
    down: bool,
}

#[async_trait]
impl Publisher for Topic {
    async fn publish(&self, topic: &str, subject: &str, message: &str) -> Result<(), PublishError> {
        if self.down {
            return Err(PublishError { topic: topic.into(), message: "InternalError: try again".into() });
        }
        self.published.lock().unwrap().push((topic.into(), subject.into(), message.into()));
        Ok(())
    }
}

impl Topic {
    fn subjects(&self, topic: &str) -> Vec<String> {
        self.published.lock().unwrap().iter().filter(|(t, _, _)| t == topic).map(|(_, s, _)| s.clone()).collect()
    }
}

/// A fresh database on the stack's PostgreSQL server; its URL.
async fn fresh_database(name: &str) -> String {
    let stack = LocalStack::discover().unwrap_or_else(|e| panic!("{e}"));
    let (client, connection) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", stack.database_url));
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, query) = match stack.database_url.split_once('?') {
        Some((b, q)) => (b.to_owned(), format!("?{q}")),
        None => (stack.database_url.clone(), String::new()),
    };
    let (server, _) = base.rsplit_once('/').unwrap_or_else(|| panic!("no database in {base}"));
    format!("{server}/{name}{query}")
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn slack_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&server).await;
    server
}

async fn messages(server: &MockServer) -> Vec<String> {
    let received = server.received_requests().await.unwrap_or_default();
    received
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

struct Monitor {
    handler: MonitorFeeds,
    metrics: Metrics,
    db: tokio_postgres::Client,
    /// The curated bucket, where parse-file's failures are.
    curated: Arc<MemoryStore>,
}

async fn monitor(database: &str, yaml: &str, webhooks: &[(&str, &MockServer)], topic: Arc<Topic>) -> Monitor {
    let url = fresh_database(database).await;
    let config = Arc::new(Config::from_yaml(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}")));
    let target = PostgresTarget::resolve(&url, None, &NoSecrets).await.unwrap();
    let work = std::env::temp_dir();
    let warehouse = PostgresWarehouse::new(
        target,
        Arc::new(MemoryStore::default()),
        LoaderSettings { curated_bucket: "curated".into(), work_dir: work },
    );
    let secrets =
        Webhooks(webhooks.iter().map(|(n, s)| ((*n).to_owned(), format!("{}/services/T0/B0/x", s.uri()))).collect());
    let metrics = Metrics::new("landfall");
    let notifier = Notifier::new(Arc::new(secrets), topic, metrics.clone())
        .with_backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(5)));
    let defaults = Channels { slack_secret: Some("landfall/slack".into()), sns_topic: Some(DEFAULT_TOPIC.into()) };
    let curated = Arc::new(MemoryStore::default());
    let records = Curated { store: curated.clone(), bucket: "curated".into() };
    let handler = MonitorFeeds::new(config, Arc::new(warehouse), records, notifier, defaults, metrics.clone());
    Monitor { handler, metrics, db: client(&url).await, curated }
}

const HOURLY_FEED: &str = "feeds:\n  partner_clicks:\n    prefix: partners/\n    monitor_by: [partner_id]\n    \
                           expect: { every: 1h, max_reject_ratio: 0.02, volume_drop: 0.5 }\n";

/// Hourly stats of 50 partners for `hours` hours ending at `now`, loaded 10
/// minutes before each hour: 100 rows each, except `odd` (partner, hours
/// back, rows, rejected; negative rows: no file).
async fn hourly(db: &tokio_postgres::Client, feed: &str, now: DateTime<Utc>, hours: i64, odd: &[(i64, i64, i64, i64)]) {
    let odd: Vec<String> = odd.iter().map(|(p, h, r, x)| format!("({p}, {h}, {r}, {x})")).collect();
    let odd = if odd.is_empty() {
        "(NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint)".to_owned()
    } else {
        odd.join(", ")
    };
    let sql = format!(
        "INSERT INTO landfall.feed_stats (table_name, feed, dt, dims, rows_loaded, files, rows_rejected, first_event, \
         last_event, load_id, loaded_at) \
         SELECT 'public.{feed}', '{feed}', t.at::date, 'partner_id=p' || lpad(p::text, 2, '0'), \
                COALESCE(o.rows_loaded, 100), 1, COALESCE(o.rows_rejected, 0), NULL, NULL, 'L', t.at \
         FROM generate_series(0, 49) p CROSS JOIN generate_series(0, {last}) h \
         CROSS JOIN LATERAL (SELECT TIMESTAMPTZ '{now}' - (h * 3600 + 600) * INTERVAL '1 second' AS at) t \
         LEFT JOIN (VALUES {odd}) o(partner, back, rows_loaded, rows_rejected) ON o.partner = p AND o.back = h \
         WHERE o.rows_loaded IS NULL OR o.rows_loaded >= 0",
        last = hours - 1,
        now = now.to_rfc3339(),
    );
    db.batch_execute(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, hour, minute, 0).unwrap()
}

#[tokio::test]
async fn fifty_partners_one_stops_one_halves_one_sends_rejects_three_alerts_each_resolved_once_and_a_slack_500_is_retried()
 {
    let slack = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).up_to_n_times(1).mount(&slack).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&slack).await;
    let topic = Arc::new(Topic::default());
    let m = monitor("monitor_feeds_scenario", HOURLY_FEED, &[("landfall/slack", &slack)], topic.clone()).await;
    let now = at(12, 0);
    // Setting up the tables is the handler's: its first run creates them.
    m.handler.run(now - chrono::Duration::days(30), Deadline::never()).await.unwrap();
    // p00 sent nothing for two hours, p01 half its volume, p02 10% rejects.
    hourly(&m.db, "partner_clicks", now, 8 * 24, &[(0, 0, -1, 0), (0, 1, -1, 0), (1, 0, 50, 0), (2, 0, 90, 10)]).await;

    let first = m.handler.run(now, Deadline::never()).await.unwrap();
    assert_eq!((first.series, first.opened, first.resolved), (50, 3, 0));
    let mut opened = messages(&slack).await;
    assert_eq!(opened.len(), 4, "three messages, one of them refused once with a 500 and sent again");
    opened.sort();
    opened.dedup();
    assert_eq!(
        opened,
        vec![
            ":rotating_light: partner_clicks quiet: open (partner_id=p00)",
            ":rotating_light: partner_clicks rejects: open (partner_id=p02)",
            ":rotating_light: partner_clicks volume_drop: open (partner_id=p01)",
        ]
    );
    assert_eq!(topic.subjects(DEFAULT_TOPIC).len(), 3, "and three emails");

    // Fifteen minutes later nothing changed: nobody is told again.
    let again = m.handler.run(now + chrono::Duration::minutes(15), Deadline::never()).await.unwrap();
    assert_eq!((again.opened, again.still_open, again.resolved), (0, 3, 0));
    assert_eq!(messages(&slack).await.len(), 4);

    // An hour later every partner sent its usual file: each alert resolves, once.
    let later = now + chrono::Duration::hours(1);
    hourly(&m.db, "partner_clicks", later, 1, &[]).await;
    let back = m.handler.run(later, Deadline::never()).await.unwrap();
    assert_eq!((back.opened, back.resolved), (0, 3));
    let after = m.handler.run(later + chrono::Duration::minutes(15), Deadline::never()).await.unwrap();
    assert_eq!((after.opened, after.resolved, after.still_open), (0, 0, 0));
    let all = messages(&slack).await;
    let resolved: Vec<&String> = all.iter().filter(|t| t.contains(": resolved")).collect();
    assert_eq!(resolved.len(), 3, "{all:?}");
    assert_eq!(all.len(), 7);
    assert_eq!(m.metrics.get(landfall::telemetry::catalog::ALERTS_OPENED.name, &[]), 3);
    assert_eq!(m.metrics.get(landfall::telemetry::catalog::ALERTS_RESOLVED.name, &[]), 3);
    assert_eq!(m.metrics.get(landfall::telemetry::catalog::NOTIFICATIONS_SENT.name, &[("channel", "slack")]), 6);

    let rows = text_rows(&m.db, "SELECT dims, kind, state FROM landfall.feed_alerts ORDER BY dims").await.unwrap();
    let rows: Vec<Vec<String>> =
        rows.into_iter().map(|r| r.into_iter().map(Option::unwrap_or_default).collect()).collect();
    assert_eq!(
        rows,
        vec![
            vec!["partner_id=p00", "quiet", "resolved"],
            vec!["partner_id=p01", "volume_drop", "resolved"],
            vec!["partner_id=p02", "rejects", "resolved"],
        ]
    );
}

#[tokio::test]
async fn a_feed_with_its_own_channels_gets_its_alerts_and_its_digest_there_and_the_other_feeds_use_the_defaults() {
    let (default_slack, growth_slack) = (slack_server().await, slack_server().await);
    let topic = Arc::new(Topic::default());
    let yaml = format!(
        "{HOURLY_FEED}  growth_clicks:\n    prefix: growth/\n    monitor_by: [partner_id]\n    expect: {{ every: 1h }}\n    \
         notify: {{ slack_secret: landfall/slack-growth, sns_topic: \"{GROWTH_TOPIC}\" }}\n"
    );
    let webhooks = [("landfall/slack", &default_slack), ("landfall/slack-growth", &growth_slack)];
    let m = monitor("monitor_feeds_override", &yaml, &webhooks, topic.clone()).await;
    let now = at(12, 0);
    m.handler.run(now - chrono::Duration::days(30), Deadline::never()).await.unwrap();
    hourly(&m.db, "partner_clicks", now, 8 * 24, &[(0, 0, -1, 0), (0, 1, -1, 0)]).await;
    hourly(&m.db, "growth_clicks", now, 8 * 24, &[(5, 0, -1, 0), (5, 1, -1, 0)]).await;
    refused_files(&m.db, "partner_clicks", 2, now).await;
    refused_files(&m.db, "growth_clicks", 3, now).await;

    let r = m.handler.run(now, Deadline::never()).await.unwrap();
    assert_eq!((r.opened, r.digested), (2, 5));
    assert_eq!(
        messages(&default_slack).await,
        vec![
            ":rotating_light: partner_clicks quiet: open (partner_id=p00)",
            ":warning: 2 files refused or failed since the last digest",
        ]
    );
    assert_eq!(
        messages(&growth_slack).await,
        vec![
            ":rotating_light: growth_clicks quiet: open (partner_id=p05)",
            ":warning: 3 files refused or failed since the last digest",
        ]
    );
    assert_eq!(
        topic.subjects(DEFAULT_TOPIC),
        vec!["landfall: partner_clicks quiet open (partner_id=p00)", "landfall: 2 files refused or failed"]
    );
    assert_eq!(
        topic.subjects(GROWTH_TOPIC),
        vec!["landfall: growth_clicks quiet open (partner_id=p05)", "landfall: 3 files refused or failed"]
    );
}

/// `n` refused ledger rows of `feed`, loaded over the hour before `now`.
async fn refused_files(db: &tokio_postgres::Client, feed: &str, n: u32, now: DateTime<Utc>) {
    let sql = format!(
        "INSERT INTO landfall.load_ledger (table_name, file_id, feed, source_url, etag, manifest_key, status, \
         rows_loaded, rows_rejected, load_id, loaded_at, detail) \
         SELECT 'public.{feed}', '{feed}-' || lpad(i::text, 4, '0'), '{feed}', \
                's3://landing/{feed}/' || lpad(i::text, 4, '0') || '.csv', NULL, '_manifests/{feed}/' || i || '.json', \
                'refused', 0, 0, 'load-' || i, TIMESTAMPTZ '{now}' - (3600 - i) * INTERVAL '1 second' / {n}, \
                '{{\"reason\": \"column amount would change type from bigint to text (schema_contract: freeze)\", \
                \"load_rejects\": \"_rejects/{feed}/load-' || i || '.jsonl.gz\"}}' \
         FROM generate_series(1, {n}) i",
        now = now.to_rfc3339(),
    );
    db.batch_execute(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

#[tokio::test]
async fn a_thousand_refused_files_make_one_digest_message_and_the_next_run_sends_none() {
    let slack = slack_server().await;
    let topic = Arc::new(Topic::default());
    let m = monitor("monitor_feeds_digest", HOURLY_FEED, &[("landfall/slack", &slack)], topic.clone()).await;
    let now = at(12, 0);
    m.handler.run(now - chrono::Duration::days(30), Deadline::never()).await.unwrap();
    refused_files(&m.db, "orders", 1_000, now).await;

    let r = m.handler.run(now, Deadline::never()).await.unwrap();
    assert_eq!(r.digested, 1_000);
    let received = slack.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "one message for 1,000 files");
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["text"], ":warning: 1000 files refused or failed since the last digest");
    let text = body.to_string();
    assert!(text.contains("*orders*\\n1000 refused"), "{text}");
    assert!(text.contains("`landfall file s3://landing/orders/0001.csv`"), "the oldest first: {text}");
    assert!(text.contains("would change type from bigint to text"), "{text}");
    assert!(text.contains("995 more not shown"), "five named per feed: {text}");
    assert_eq!(topic.subjects(DEFAULT_TOPIC), vec!["landfall: 1000 files refused or failed"]);
    assert_eq!(
        m.metrics.get(landfall::telemetry::catalog::FILES_DIGESTED.name, &[("feed", "orders"), ("status", "refused")]),
        1_000
    );

    let next = m.handler.run(now + chrono::Duration::minutes(15), Deadline::never()).await.unwrap();
    assert_eq!(next.digested, 0);
    assert_eq!(slack.received_requests().await.unwrap().len(), 1, "told once");
}

#[tokio::test]
async fn a_digest_no_channel_took_is_sent_by_the_next_run_and_the_run_still_succeeds() {
    let slack = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).up_to_n_times(4).mount(&slack).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&slack).await;
    let topic = Arc::new(Topic { down: true, ..Topic::default() });
    let m = monitor("monitor_feeds_digest_retry", HOURLY_FEED, &[("landfall/slack", &slack)], topic).await;
    let now = at(12, 0);
    m.handler.run(now - chrono::Duration::days(30), Deadline::never()).await.unwrap();
    refused_files(&m.db, "orders", 3, now).await;

    let lost = m.handler.run(now, Deadline::never()).await.expect("a failed notification never fails the run");
    assert_eq!((lost.delivery.sent, lost.delivery.failed), (0, 2));
    assert_eq!(m.metrics.get(landfall::telemetry::catalog::NOTIFICATIONS_FAILED.name, &[("what", "digest")]), 2);
    assert_eq!(slack.received_requests().await.unwrap().len(), 4, "Slack was tried four times");

    let retried = m.handler.run(now + chrono::Duration::minutes(15), Deadline::never()).await.unwrap();
    assert_eq!((retried.digested, retried.delivery.sent), (3, 1));
    let texts = messages(&slack).await;
    assert_eq!(texts.last().map(String::as_str), Some(":warning: 3 files refused or failed since the last digest"));
}

#[tokio::test]
async fn a_dlq_alarm_from_the_topic_is_forwarded_to_slack_and_the_functions_own_message_is_not() {
    let slack = slack_server().await;
    let topic = Arc::new(Topic::default());
    let m = monitor("monitor_feeds_alarm", HOURLY_FEED, &[("landfall/slack", &slack)], topic.clone()).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/sns/dlq-alarm.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();

    let out = m.handler.handle(event, Deadline::never()).await.unwrap();
    assert_eq!(out["alarms_forwarded"], 1);
    assert_eq!(messages(&slack).await, vec![":rotating_light: landfall-prod-parse-file-dlq-messages is ALARM"]);
    assert!(topic.published.lock().unwrap().is_empty(), "the topic has it already: nothing published back");
    assert_eq!(m.metrics.get(landfall::telemetry::catalog::EVENTS_SKIPPED.name, &[("reason", "own_message")]), 1);
}

/// Every Slack text of the messages the stand-in received, joined.
async fn slack_bodies(server: &MockServer) -> Vec<Value> {
    let received = server.received_requests().await.unwrap_or_default();
    received.iter().map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()).collect()
}

#[tokio::test]
async fn a_partner_value_that_is_slack_markup_and_a_key_that_is_a_command_reach_slack_as_text() {
    let slack = slack_server().await;
    let topic = Arc::new(Topic::default());
    let m = monitor("monitor_feeds_hostile", HOURLY_FEED, &[("landfall/slack", &slack)], topic.clone()).await;
    let now = at(12, 0);
    m.handler.run(now - chrono::Duration::days(30), Deadline::never()).await.unwrap();
    hourly(&m.db, "partner_clicks", now, 8 * 24, &[(0, 0, -1, 0), (0, 1, -1, 0)]).await;
    let hostile = "partner_id=<!channel> <https://x|Click>";
    m.db.execute("UPDATE landfall.feed_stats SET dims = $1 WHERE dims = 'partner_id=p00'", &[&hostile]).await.unwrap();
    let key = "s3://landing/orders/a`id`; rm -rf ~.csv";
    m.db.execute(
        "INSERT INTO landfall.load_ledger (table_name, file_id, feed, source_url, etag, manifest_key, status, \
         rows_loaded, rows_rejected, load_id, loaded_at, detail) \
         VALUES ('public.orders', 'f1', 'orders', $1, NULL, '_manifests/orders/f1.json', 'refused', 0, 0, 'l1', \
                 TIMESTAMPTZ '2026-12-01 11:30:00+00', $2::text::jsonb)",
        &[&key, &r#"{"reason": "column <!here> would change type"}"#],
    )
    .await
    .unwrap();

    let r = m.handler.run(now, Deadline::never()).await.unwrap();
    assert_eq!((r.opened, r.digested), (1, 1));
    let bodies = slack_bodies(&slack).await;
    assert_eq!(bodies.len(), 2);
    for body in &bodies {
        let raw = body.to_string();
        for markup in ["<!channel>", "<https://x", "<!here>"] {
            assert!(!raw.contains(markup), "{markup} reached Slack as markup: {raw}");
        }
    }
    assert_eq!(
        bodies[0]["text"],
        ":rotating_light: partner_clicks quiet: open (partner_id=&lt;!channel&gt; &lt;https://x|Click&gt;)"
    );
    let file = bodies[1]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.contains("landfall file"))
        .unwrap();
    assert_eq!(
        file,
        "`s3://landing/orders/a`id`; rm -rf ~.csv` refused (orders): column &lt;!here&gt; would change type\n\
         `landfall file $'s3://landing/orders/a\\x60id\\x60; rm -rf ~.csv'`"
    );
    let (_, _, email) = topic.published.lock().unwrap()[1].clone();
    assert!(email.contains("  landfall file $'s3://landing/orders/a\\x60id\\x60; rm -rf ~.csv'\n"), "{email}");
}

/// A refused file triggers the digest; the files stuck in parse-file (its
/// record in the curated bucket) and in the load (`landfall.failures`) are
/// counted per feed in it, the feed name escaped like any other value.
#[tokio::test]
async fn the_digest_counts_each_feeds_files_stuck_in_parse_file_and_in_the_load() {
    let slack = slack_server().await;
    let topic = Arc::new(Topic::default());
    let m = monitor("monitor_feeds_stuck", HOURLY_FEED, &[("landfall/slack", &slack)], topic).await;
    let now = at(12, 0);
    m.handler.run(now - chrono::Duration::days(30), Deadline::never()).await.unwrap();
    refused_files(&m.db, "orders", 1, now).await;
    let d = landfall::warehouse::Dialect::Postgres;
    let failure = landfall::warehouse::bookkeeping::failures::Failure {
        table: "public.orders",
        file_id: "f-load",
        feed: "orders",
        source_url: "s3://landing/orders/x.csv",
        disposition: "dead_letter",
        error: "relation is a view",
    };
    let mut statements = d.create_failures_tables();
    statements.extend(d.record_failures(&[failure], "2026-12-01T11:00:00Z"));
    m.db.batch_execute(&statements.join(";\n")).await.unwrap();
    for (feed, id) in [("orders", "f-parse"), ("<!here>", "f-other")] {
        let record = landfall::parse_failures::ParseFailure {
            file_id: id.into(),
            feed: feed.into(),
            table: "orders".into(),
            source_url: format!("s3://landing/{id}.csv"),
            disposition: "retry".into(),
            error: "throttled".into(),
            attempts: 0,
            failed_at: "2026-12-01T11:00:00Z".into(),
        };
        landfall::parse_failures::record(m.curated.as_ref(), "curated", &record).await.unwrap();
    }

    let r = m.handler.run(now, Deadline::never()).await.unwrap();
    assert_eq!(r.digested, 1, "stuck files are counted, not digested");
    let bodies = slack_bodies(&slack).await;
    let digest = bodies.last().unwrap();
    assert_eq!(
        digest["text"],
        ":warning: 1 file refused or failed since the last digest; 3 files stuck (a message failed: retrying or dead-lettered)"
    );
    let fields: Vec<&str> =
        digest["blocks"][1]["fields"].as_array().unwrap().iter().filter_map(|f| f["text"].as_str()).collect();
    assert_eq!(fields, vec!["*orders*\n1 refused, 2 stuck", "*&lt;!here&gt;*\n1 stuck"]);
    assert!(!digest.to_string().contains("<!here>"), "{digest}");
}
