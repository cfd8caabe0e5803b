//! fetch-api against a local HTTP server (wiremock) replaying API responses,
//! with an in-memory object store: it can decide conditional writes
//! atomically and record metadata, and lets two runs overlap on purpose.

use landfall::disposition::Disposition;
use landfall::lambda::Deadline;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fetch_api::{FetchApi, FetchError, HttpClient, MAX_REDIRECTS, Payload, RunReport, Settings, http_client};
use landfall::config::Config;
use landfall::fetch::{SourceState, state_key};
use landfall::secrets::{SecretError, Secrets};
use landfall::storage::memory::MemoryStore;
use landfall::telemetry::Metrics;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LANDING: &str = "landing";
const CURATED: &str = "curated";

struct FakeSecrets(HashMap<&'static str, &'static str>);

#[async_trait]
impl Secrets for FakeSecrets {
    async fn secret_string(&self, name: &str) -> Result<String, SecretError> {
        self.0.get(name).map(|v| (*v).to_owned()).ok_or_else(|| SecretError::NotFound { name: name.into() })
    }
}

fn secrets() -> FakeSecrets {
    FakeSecrets(HashMap::from([
        ("landfall/mailchimp-api-key", "mc-key-0001-us21"),
        ("landfall/leadfeeder-token", "lf-token-abcdef"),
        ("landfall/ga4-client-id", "ga4-client"),
        ("landfall/ga4-client-secret", "ga4-secret-xyz"),
        ("api/key", "key-123456"),
    ]))
}

struct Rig {
    server: MockServer,
    store: Arc<MemoryStore>,
    metrics: Metrics,
    handler: FetchApi,
}

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/api").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The shipped examples with every real endpoint pointed at the local server.
fn examples(server: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/api/examples.yaml");
    std::fs::read_to_string(path)
        .unwrap()
        .replace("https://us21.api.mailchimp.com/3.0", &format!("{server}/3.0"))
        .replace("https://api.leadfeeder.com", server)
        .replace("https://analyticsdata.googleapis.com/v1beta", &format!("{server}/v1beta"))
        .replace("https://oauth2.googleapis.com/token", &format!("{server}/token"))
}

/// A config with one feed `api` and the given sources (`BASE` is the server's URL).
fn config_with(sources: &str, server: &str) -> String {
    format!("feeds:\n  api:\n    prefix: api/things/\n    format: json\nsources:\n{}", sources.replace("BASE", server))
}

impl Rig {
    async fn new(config: impl FnOnce(&str) -> String) -> Rig {
        Rig::with_budget(config, Duration::from_secs(600)).await
    }

    async fn with_budget(config: impl FnOnce(&str) -> String, time_budget: Duration) -> Rig {
        let server = MockServer::start().await;
        let config = Config::from_yaml(&config(&server.uri()), "test.yaml").unwrap_or_else(|e| panic!("{e}"));
        let store = Arc::new(MemoryStore::default());
        let metrics = Metrics::new("test");
        let http = HttpClient::new(http_client().unwrap(), metrics.clone());
        let settings = Settings { landing_bucket: LANDING.into(), curated_bucket: CURATED.into(), time_budget };
        let handler =
            FetchApi::new(Arc::new(config), store.clone(), Arc::new(secrets()), http, metrics.clone(), settings);
        Rig { server, store, metrics, handler }
    }

    async fn run(&self, source: &str) -> Result<RunReport, FetchError> {
        self.handler.run(&Payload { source: source.into(), start: None, end: None }).await
    }

    fn lines(&self, key: &str) -> Vec<Value> {
        let gz = self.store.read(LANDING, key).unwrap_or_else(|| panic!("{key} is not landed"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn all_records(&self, report: &RunReport) -> Vec<Value> {
        report.keys.iter().flat_map(|k| self.lines(k)).collect()
    }

    fn state(&self, source: &str) -> Option<SourceState> {
        self.store.read(CURATED, &state_key(source)).map(|b| serde_json::from_slice(&b).unwrap())
    }

    async fn requests(&self) -> usize {
        self.server.received_requests().await.map(|r| r.len()).unwrap_or(0)
    }
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

const SINGLE: &str = "  things:\n    feed: api\n    base_url: BASE\n    path: /things\n    records: items\n    limits: { backoff_base_ms: 10, timeout_seconds: 0.5 }\n";

#[tokio::test]
async fn a_single_page_lands_as_gzipped_ndjson_under_the_feed_prefix_with_metadata() {
    let rig = Rig::new(|s| config_with(SINGLE, s)).await;
    Mock::given(method("GET"))
        .and(path("/things"))
        .respond_with(ok(json!({"items": [{"id": 1}, {"id": 2}]})))
        .expect(1)
        .mount(&rig.server)
        .await;
    let report = rig.run("things").await.unwrap();
    assert_eq!((report.pages, report.records, report.complete), (1, 2, true));
    let key = &report.keys[0];
    let today = chrono::Utc::now().format("%Y-%m-%d");
    assert!(key.starts_with(&format!("api/things/dt={today}/{}-00001", report.run_id)), "{key}");
    assert!(key.ends_with(".jsonl.gz"), "{key}");
    assert_eq!(rig.lines(key), vec![json!({"id": 1}), json!({"id": 2})]);
    let meta = rig.store.metadata(LANDING, key);
    assert!(meta.contains(&("source", "things".into())), "{meta:?}");
    assert!(meta.contains(&("page", "1".into())), "{meta:?}");
    assert!(meta.contains(&("run-id", report.run_id.clone())), "{meta:?}");
    assert!(meta.iter().any(|(k, v)| *k == "request-url" && v.ends_with("/things")), "{meta:?}");
    assert_eq!(rig.metrics.get(landfall::telemetry::catalog::RUNS_COMPLETED.name, &[("outcome", "complete")]), 1);
    assert_eq!(rig.metrics.get(landfall::telemetry::catalog::RECORDS_FETCHED.name, &[("source", "things")]), 2);
}

#[tokio::test]
async fn the_cursor_paginator_sends_the_body_cursor_back_until_there_is_none() {
    let src = "  things:\n    feed: api\n    base_url: BASE\n    path: /things\n    records: data\n    paginator: { type: cursor, cursor_path: meta.next, param: after }\n";
    let rig = Rig::new(|s| config_with(src, s)).await;
    Mock::given(path("/things"))
        .and(query_param_is_missing("after"))
        .respond_with(ok(json!({"data": [{"id": 1}], "meta": {"next": "c2"}})))
        .mount(&rig.server)
        .await;
    Mock::given(path("/things"))
        .and(query_param("after", "c2"))
        .respond_with(ok(json!({"data": [{"id": 2}], "meta": {"next": null}})))
        .mount(&rig.server)
        .await;
    let report = rig.run("things").await.unwrap();
    assert_eq!(rig.all_records(&report), vec![json!({"id": 1}), json!({"id": 2})]);
    assert_eq!(report.pages, 2);
}

const LINKED: &str =
    "  things:\n    feed: api\n    base_url: BASE\n    path: /things\n    paginator: { type: link_header }\n";

/// The first page of the `LINKED` source: one record, and these Link fields.
async fn mount_first_page(rig: &Rig, links: &[&str]) {
    let response = links.iter().fold(ok(json!([{"id": 1}])), |r, link| r.append_header("link", *link));
    Mock::given(path("/things")).and(query_param_is_missing("page")).respond_with(response).mount(&rig.server).await;
}

#[tokio::test]
async fn the_link_header_paginator_follows_rel_next() {
    let rig = Rig::new(|s| config_with(LINKED, s)).await;
    let next = format!("<{0}/things?page=2>; rel=\"next\", <{0}/things?page=9>; rel=\"last\"", rig.server.uri());
    mount_first_page(&rig, &[&next]).await;
    Mock::given(path("/things"))
        .and(query_param("page", "2"))
        .respond_with(ok(json!([{"id": 2}, {"id": 3}])))
        .mount(&rig.server)
        .await;
    let report = rig.run("things").await.unwrap();
    assert_eq!(report.records, 3);
    assert_eq!(report.pages, 2);
}

#[tokio::test]
async fn the_link_header_paginator_follows_a_next_url_holding_commas() {
    let rig = Rig::new(|s| config_with(LINKED, s)).await;
    let next = format!(
        "<{0}/things?fields=id,name&page=2>; rel=\"next\"; title=\"page 2, of 2\", <{0}/things?fields=id,name&page=1>; rel=\"first\"",
        rig.server.uri()
    );
    mount_first_page(&rig, &[&next]).await;
    Mock::given(path("/things"))
        .and(query_param("fields", "id,name"))
        .and(query_param("page", "2"))
        .respond_with(ok(json!([{"id": 2}])))
        .expect(1)
        .mount(&rig.server)
        .await;
    let report = rig.run("things").await.unwrap();
    assert_eq!((report.pages, report.records), (2, 2));
}

#[tokio::test]
async fn the_link_header_paginator_finds_rel_next_in_any_of_several_link_fields() {
    let rig = Rig::new(|s| config_with(LINKED, s)).await;
    mount_first_page(&rig, &["</things?page=1>; rel=\"first\"", "</things?page=2>; rel=\"next\""]).await;
    Mock::given(path("/things"))
        .and(query_param("page", "2"))
        .respond_with(ok(json!([{"id": 2}])))
        .expect(1)
        .mount(&rig.server)
        .await;
    let report = rig.run("things").await.unwrap();
    assert_eq!(report.pages, 2);
}

#[tokio::test]
async fn the_page_number_paginator_stops_at_an_empty_page() {
    let src = "  things:\n    feed: api\n    base_url: BASE\n    path: /things\n    records: results\n    paginator: { type: page_number, param: p }\n";
    let rig = Rig::new(|s| config_with(src, s)).await;
    for (page, items) in [("1", json!([{"id": 1}])), ("2", json!([{"id": 2}])), ("3", json!([]))] {
        Mock::given(path("/things"))
            .and(query_param("p", page))
            .respond_with(ok(json!({"results": items})))
            .mount(&rig.server)
            .await;
    }
    let report = rig.run("things").await.unwrap();
    assert_eq!((report.pages, report.records), (3, 2));
    assert_eq!(report.keys.len(), 2, "an empty page lands nothing");
}

#[tokio::test]
async fn mailchimp_offset_paging_with_total_items_and_basic_auth() {
    let rig = Rig::new(examples).await;
    let basic = "Basic bGFuZGZhbGw6bWMta2V5LTAwMDEtdXMyMQ=="; // landfall:mc-key-0001-us21
    for offset in ["0", "2"] {
        Mock::given(method("GET"))
            .and(path("/3.0/campaigns"))
            .and(header("authorization", basic))
            .and(query_param("offset", offset))
            .and(query_param("count", "2"))
            .and(query_param("since_send_time", "2026-01-01T00:00:00+00:00"))
            .and(query_param("sort_dir", "ASC"))
            .respond_with(ok(fixture(&format!("mailchimp/campaigns-{offset}.json"))))
            .expect(1)
            .mount(&rig.server)
            .await;
    }
    let report = rig.run("mailchimp_campaigns").await.unwrap();
    assert_eq!((report.pages, report.records), (2, 3));
    assert!(report.keys.iter().all(|k| k.starts_with("api/mailchimp/campaigns/dt=")), "{:?}", report.keys);
    assert_eq!(report.cursor, Some(json!("2026-02-17T09:00:00+00:00")));
}

#[tokio::test]
async fn leadfeeder_json_api_follows_relative_links_next_with_a_bearer_token() {
    let rig = Rig::new(examples).await;
    Mock::given(path("/accounts/123456/leads"))
        .and(header("authorization", "Bearer lf-token-abcdef"))
        .and(query_param("start_date", "2026-01-01"))
        .and(query_param_is_missing("page[number]"))
        .respond_with(ok(fixture("leadfeeder/leads-1.json")))
        .expect(1)
        .mount(&rig.server)
        .await;
    Mock::given(path("/accounts/123456/leads"))
        .and(header("authorization", "Bearer lf-token-abcdef"))
        .and(query_param("page[number]", "2"))
        .respond_with(ok(fixture("leadfeeder/leads-2.json")))
        .expect(1)
        .mount(&rig.server)
        .await;
    let report = rig.run("leadfeeder_leads").await.unwrap();
    assert_eq!((report.pages, report.records), (2, 3));
    assert_eq!(report.cursor, Some(json!("2026-02-05")));
    assert_eq!(rig.all_records(&report)[2]["attributes"]["name"], "Fabrikam");
}

#[tokio::test]
async fn ga4_run_report_posts_offset_and_limit_in_the_body_with_an_oauth2_token_fetched_once() {
    let rig = Rig::new(examples).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("authorization", "Basic Z2E0LWNsaWVudDpnYTQtc2VjcmV0LXh5eg==")) // ga4-client:ga4-secret-xyz
        .and(wiremock::matchers::body_string_contains("grant_type=client_credentials"))
        .respond_with(ok(fixture("ga4/token.json")))
        .expect(1)
        .mount(&rig.server)
        .await;
    for offset in [0, 2] {
        Mock::given(method("POST"))
            .and(path("/v1beta/properties/987654:runReport"))
            .and(header("authorization", "Bearer ya29.test-access-token"))
            .and(body_partial_json(
                json!({"offset": offset, "limit": 2, "metrics": [{"name": "activeUsers"}, {"name": "sessions"}]}),
            ))
            .respond_with(ok(fixture(&format!("ga4/report-{offset}.json"))))
            .expect(2)
            .mount(&rig.server)
            .await;
    }
    let payload = Payload {
        source: "ga4_daily_users".into(),
        start: Some("2026-02-01".into()),
        end: Some("2026-02-03T23:59:59Z".into()),
    };
    let report = rig.handler.run(&payload).await.unwrap();
    assert_eq!((report.pages, report.records), (2, 3));
    // A second run in the same (warm) process reuses the cached token: the token mock expects one call.
    rig.handler.run(&payload).await.unwrap();
    let requests = rig.server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(body["dateRanges"], json!([{"startDate": "2026-02-01", "endDate": "2026-02-03"}]));
}

#[tokio::test]
async fn an_api_key_goes_in_its_header() {
    let src = "  things:\n    feed: api\n    base_url: BASE\n    path: /things\n    auth: { type: api_key, secret: api/key, header: X-Api-Key }\n";
    let rig = Rig::new(|s| config_with(src, s)).await;
    Mock::given(header("x-api-key", "key-123456"))
        .respond_with(ok(json!([{"id": 1}])))
        .expect(1)
        .mount(&rig.server)
        .await;
    rig.run("things").await.unwrap();
}

const KEYED: &str = "  things:\n    feed: api\n    base_url: BASE\n    path: /things\n    auth: { type: api_key, secret: api/key, header: X-Api-Key }\n    limits: { backoff_base_ms: 10 }\n";

/// A second server, another origin on the same loopback address, that must never be asked anything.
async fn elsewhere() -> MockServer {
    let other = MockServer::start().await;
    Mock::given(wiremock::matchers::any()).respond_with(ok(json!([{"id": 666}]))).expect(0).mount(&other).await;
    other
}

/// `/things` on the rig's server answers with a redirect.
async fn mount_redirect(rig: &Rig, status: u16, location: &str) {
    let response = ResponseTemplate::new(status).insert_header("location", location);
    Mock::given(path("/things")).respond_with(response).mount(&rig.server).await;
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed_so_the_api_key_never_reaches_it() {
    let rig = Rig::new(|s| config_with(KEYED, s)).await;
    let other = elsewhere().await;
    mount_redirect(&rig, 302, &format!("{}/things?t=s1gned", other.uri())).await;
    let e = rig.run("things").await.unwrap_err();
    assert!(matches!(e, FetchError::Http { status: 302, retryable: false, .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains(&format!("redirected to {}: not followed", other.uri())), "{text}");
    assert!(!text.contains("s1gned"), "only the origin of the Location is named: {text}");
    assert_eq!(rig.requests().await, 1, "a redirect is not retried");
    assert!(other.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_redirect_within_the_source_host_is_followed_with_the_api_key() {
    let rig = Rig::new(|s| config_with(KEYED, s)).await;
    mount_redirect(&rig, 301, "/v2/things").await;
    Mock::given(path("/v2/things"))
        .and(header("x-api-key", "key-123456"))
        .respond_with(ok(json!([{"id": 1}])))
        .expect(1)
        .mount(&rig.server)
        .await;
    assert_eq!(rig.run("things").await.unwrap().records, 1);
}

#[tokio::test]
async fn a_redirect_loop_within_the_host_stops_after_the_limit_and_fails_the_page() {
    let rig = Rig::new(|s| config_with(KEYED, s)).await;
    mount_redirect(&rig, 307, "/things").await;
    let e = rig.run("things").await.unwrap_err();
    assert!(matches!(e, FetchError::Http { status: 307, retryable: false, .. }), "{e}");
    assert!(e.to_string().contains(&format!("more than {MAX_REDIRECTS} redirects")), "{e}");
    assert_eq!(rig.requests().await, 1 + MAX_REDIRECTS);
}

#[tokio::test]
async fn a_next_page_link_to_another_origin_is_not_followed() {
    let src = KEYED.replace("    limits:", "    paginator: { type: link_header }\n    limits:");
    let rig = Rig::new(|s| config_with(&src, s)).await;
    let other = elsewhere().await;
    let next = format!("<{}/things?page=2>; rel=\"next\"", other.uri());
    Mock::given(path("/things"))
        .respond_with(ok(json!([{"id": 1}])).insert_header("link", next.as_str()))
        .mount(&rig.server)
        .await;
    let e = rig.run("things").await.unwrap_err();
    assert!(matches!(e, FetchError::Config { .. }), "{e}");
    assert!(e.to_string().contains(&format!("next page URL is on {}: not followed", other.uri())), "{e}");
    assert!(rig.state("things").is_none(), "the run is not committed");
    assert!(other.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_api_key_in_the_query_is_sent_but_never_stored_logged_or_quoted() {
    let src = "  things:\n    feed: api\n    base_url: BASE\n    path: /things\n    auth: { type: api_key, secret: api/key, query: apikey }\n    paginator: { type: link_header }\n    limits: { retries: 0 }\n";
    let rig = Rig::new(|s| config_with(src, s)).await;
    Mock::given(query_param("apikey", "key-123456"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(403).set_body_string("invalid apikey key-123456"))
        .mount(&rig.server)
        .await;
    Mock::given(query_param("apikey", "key-123456"))
        .respond_with(ok(json!([{"id": 1}])).insert_header("link", "</things?page=2>; rel=\"next\""))
        .mount(&rig.server)
        .await;
    let report = rig.run("things").await;
    let e = report.unwrap_err();
    assert!(matches!(e, FetchError::Http { status: 403, retryable: false, .. }), "{e}");
    let text = e.to_string();
    assert!(!text.contains("key-123456"), "{text}");
    assert!(text.contains("invalid apikey ***"), "{text}");
    let landed = rig.store.keys(LANDING, "");
    let url = rig.store.metadata(LANDING, &landed[0]).into_iter().find(|(k, _)| *k == "request-url").unwrap().1;
    assert!(!url.contains("key-123456"), "{url}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_the_page_succeeds() {
    let rig = Rig::new(|s| config_with(SINGLE, s)).await;
    Mock::given(path("/things"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&rig.server)
        .await;
    Mock::given(path("/things")).respond_with(ok(json!({"items": [{"id": 1}]}))).mount(&rig.server).await;
    let started = Instant::now();
    let report = rig.run("things").await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured ({:?})", started.elapsed());
    assert_eq!(report.records, 1);
    assert_eq!(rig.metrics.get(landfall::telemetry::catalog::REQUESTS_RETRIED.name, &[("reason", "throttled")]), 1);
}

#[tokio::test]
async fn three_500s_are_retried_with_backoff_then_the_page_succeeds() {
    let rig = Rig::new(|s| config_with(SINGLE, s)).await;
    Mock::given(path("/things"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&rig.server)
        .await;
    Mock::given(path("/things")).respond_with(ok(json!({"items": [{"id": 1}]}))).mount(&rig.server).await;
    let report = rig.run("things").await.unwrap();
    assert_eq!(report.records, 1);
    assert_eq!(rig.requests().await, 4);
    assert_eq!(rig.metrics.get(landfall::telemetry::catalog::REQUESTS_RETRIED.name, &[("reason", "server_error")]), 3);
}

#[tokio::test]
async fn a_timed_out_request_is_retried() {
    let rig = Rig::new(|s| config_with(SINGLE, s)).await;
    Mock::given(path("/things"))
        .respond_with(ok(json!({"items": [{"id": 0}]})).set_delay(Duration::from_secs(3)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&rig.server)
        .await;
    Mock::given(path("/things")).respond_with(ok(json!({"items": [{"id": 1}]}))).mount(&rig.server).await;
    let report = rig.run("things").await.unwrap();
    assert_eq!(rig.all_records(&report), vec![json!({"id": 1})]);
    assert_eq!(rig.metrics.get(landfall::telemetry::catalog::REQUESTS_RETRIED.name, &[("reason", "timeout")]), 1);
}

#[tokio::test]
async fn a_server_that_keeps_failing_fails_the_run_retryably_and_commits_nothing() {
    let rig = Rig::new(|s| config_with(SINGLE, s)).await;
    Mock::given(path("/things")).respond_with(ResponseTemplate::new(503)).mount(&rig.server).await;
    let e = rig.run("things").await.unwrap_err();
    assert!(matches!(e, FetchError::Http { status: 503, .. }) && e.disposition() == Disposition::Retry, "{e}");
    assert_eq!(rig.requests().await, 5, "the first attempt and the default 4 retries");
    assert!(rig.state("things").is_none());
    assert_eq!(rig.metrics.get(landfall::telemetry::catalog::RUNS_COMPLETED.name, &[("outcome", "failed")]), 1);
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let rig = Rig::new(|s| config_with(SINGLE, s)).await;
    Mock::given(path("/things")).respond_with(ResponseTemplate::new(401)).mount(&rig.server).await;
    let e = rig.run("things").await.unwrap_err();
    assert!(matches!(e, FetchError::Http { status: 401, retryable: false, .. }), "{e}");
    assert_eq!(rig.requests().await, 1);
}

#[tokio::test]
async fn a_malformed_json_page_fails_the_run_cleanly_and_commits_no_cursor() {
    let src = "  things:\n    feed: api\n    base_url: BASE\n    path: /things\n    records: items\n    paginator: { type: page_number, param: p }\n    cursor: { field: id }\n";
    let rig = Rig::new(|s| config_with(src, s)).await;
    Mock::given(query_param("p", "1")).respond_with(ok(json!({"items": [{"id": 1}]}))).mount(&rig.server).await;
    Mock::given(query_param("p", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"items\": [{\"id\": 2},"))
        .mount(&rig.server)
        .await;
    let e = rig.run("things").await.unwrap_err();
    assert!(matches!(e, FetchError::Malformed { page: 2, .. }) && e.disposition() != Disposition::Retry, "{e}");
    assert!(e.to_string().contains("/things?p=2"), "{e}");
    assert!(rig.state("things").is_none(), "the cursor did not move, so the next run repeats page 1");
}

const INCREMENTAL: &str = "  things:\n    feed: api\n    base_url: BASE\n    path: /things\n    query: { since: \"{start}\", until: \"{end}\" }\n    records: items\n    cursor: { field: updated_at, initial: \"2026-01-01T00:00:00Z\", lag_seconds: 60 }\n";

#[tokio::test]
async fn the_incremental_cursor_of_one_run_is_the_start_of_the_next_less_the_lag() {
    let rig = Rig::new(|s| config_with(INCREMENTAL, s)).await;
    Mock::given(query_param("since", "2026-01-01T00:00:00Z"))
        .respond_with(ok(
            json!({"items": [{"updated_at": "2026-03-02T10:00:00Z"}, {"updated_at": "2026-03-01T08:00:00Z"}]}),
        ))
        .expect(1)
        .mount(&rig.server)
        .await;
    Mock::given(query_param("since", "2026-03-02T09:59:00Z"))
        .respond_with(ok(json!({"items": []})))
        .expect(1)
        .mount(&rig.server)
        .await;
    let first = rig.run("things").await.unwrap();
    let state = rig.state("things").unwrap();
    assert_eq!(state.cursor, Some(json!("2026-03-02T10:00:00Z")));
    assert_eq!(state.last_run_id, first.run_id);
    let second = rig.run("things").await.unwrap();
    assert_eq!(second.records, 0);
    assert_eq!(
        rig.state("things").unwrap().cursor,
        Some(json!("2026-03-02T10:00:00Z")),
        "an empty run keeps the cursor"
    );
}

#[tokio::test]
async fn a_backfill_window_overrides_the_cursor_and_never_moves_it_back() {
    let rig = Rig::new(|s| config_with(INCREMENTAL, s)).await;
    Mock::given(query_param("since", "2026-01-01T00:00:00Z"))
        .respond_with(ok(json!({"items": [{"updated_at": "2026-03-02T10:00:00Z"}]})))
        .mount(&rig.server)
        .await;
    Mock::given(query_param("since", "2025-06-01T00:00:00Z"))
        .and(query_param("until", "2025-07-01T00:00:00Z"))
        .respond_with(ok(json!({"items": [{"updated_at": "2025-06-15T00:00:00Z"}]})))
        .expect(1)
        .mount(&rig.server)
        .await;
    rig.run("things").await.unwrap();
    let backfill = Payload {
        source: "things".into(),
        start: Some("2025-06-01T00:00:00Z".into()),
        end: Some("2025-07-01T00:00:00Z".into()),
    };
    let report = rig.handler.run(&backfill).await.unwrap();
    assert_eq!(report.records, 1);
    assert_eq!(rig.state("things").unwrap().cursor, Some(json!("2026-03-02T10:00:00Z")));
}

#[tokio::test]
async fn of_two_overlapping_runs_only_one_advances_the_cursor() {
    let rig = Rig::new(|s| config_with(INCREMENTAL, s)).await;
    // Slow responses make both runs read the (absent) state before either commits.
    Mock::given(path("/things"))
        .respond_with(
            ok(json!({"items": [{"updated_at": "2026-03-02T10:00:00Z"}]})).set_delay(Duration::from_millis(300)),
        )
        .mount(&rig.server)
        .await;
    let (a, b) = tokio::join!(rig.run("things"), rig.run("things"));
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("exactly one run must commit: {other:?}"),
    };
    assert!(matches!(lost, FetchError::Conflict { .. }), "{lost}");
    assert_eq!(rig.state("things").unwrap().last_run_id, won.run_id);
    assert_eq!(rig.metrics.get(landfall::telemetry::catalog::RUNS_COMPLETED.name, &[("outcome", "conflict")]), 1);
    // The loser's page is landed too: a repeat, never a gap.
    assert_eq!(rig.store.keys(LANDING, "api/things/").len(), 2);

    // Once committed, a later run moves on from the winner's state.
    let later = rig.run("things").await.unwrap();
    assert_eq!(rig.state("things").unwrap().last_run_id, later.run_id);
}

#[tokio::test]
async fn a_missing_secret_stops_the_run_before_any_request() {
    let src =
        "  things:\n    feed: api\n    base_url: BASE\n    auth: { type: bearer, token_secret: nobody/has-this }\n";
    let rig = Rig::new(|s| config_with(src, s)).await;
    let e = rig.run("things").await.unwrap_err();
    assert!(e.to_string().contains("secret nobody/has-this does not exist"), "{e}");
    assert_eq!(rig.requests().await, 0);
}

#[tokio::test]
async fn an_unknown_source_or_payload_is_refused() {
    let rig = Rig::new(|s| config_with(SINGLE, s)).await;
    assert!(matches!(rig.run("nope").await, Err(FetchError::UnknownSource { .. })));
    let e = rig.handler.handle(json!({"sauce": "things"}), Deadline::never()).await.unwrap_err();
    assert!(e.to_string().contains("invalid payload"), "{e}");
    assert_eq!(rig.requests().await, 0);
}

#[tokio::test]
async fn a_run_out_of_time_stops_at_a_page_boundary_commits_and_says_so() {
    let src = "  things:\n    feed: api\n    base_url: BASE\n    records: items\n    paginator: { type: page_number, param: p }\n    cursor: { field: id }\n";
    let rig = Rig::with_budget(|s| config_with(src, s), Duration::ZERO).await;
    Mock::given(wiremock::matchers::any()).respond_with(ok(json!({"items": [{"id": 7}]}))).mount(&rig.server).await;
    let out = rig.handler.handle(json!({"source": "things"}), Deadline::never()).await.unwrap();
    assert_eq!((out["pages"].as_u64(), out["complete"].as_bool()), (Some(1), Some(false)));
    assert_eq!(out["stopped"], "time budget");
    let state = rig.state("things").unwrap();
    assert_eq!((state.cursor, state.complete), (Some(json!(7)), false));
    assert_eq!(rig.metrics.get(landfall::telemetry::catalog::RUNS_COMPLETED.name, &[("outcome", "partial")]), 1);
}

#[tokio::test]
async fn max_pages_bounds_a_run() {
    let src = "  things:\n    feed: api\n    base_url: BASE\n    records: items\n    paginator: { type: page_number, param: p }\n    limits: { max_pages: 2 }\n";
    let rig = Rig::new(|s| config_with(src, s)).await;
    Mock::given(wiremock::matchers::any()).respond_with(ok(json!({"items": [{"id": 7}]}))).mount(&rig.server).await;
    let report = rig.run("things").await.unwrap();
    assert_eq!((report.pages, report.complete, report.stopped), (2, false, Some("max_pages")));
}

#[tokio::test]
async fn the_rate_limit_spaces_requests() {
    let src = "  things:\n    feed: api\n    base_url: BASE\n    records: items\n    paginator: { type: page_number, param: p }\n    limits: { requests_per_second: 5 }\n";
    let rig = Rig::new(|s| config_with(src, s)).await;
    for p in ["1", "2", "3"] {
        Mock::given(query_param("p", p)).respond_with(ok(json!({"items": [{"id": 1}]}))).mount(&rig.server).await;
    }
    Mock::given(query_param("p", "4")).respond_with(ok(json!({"items": []}))).mount(&rig.server).await;
    let started = Instant::now();
    rig.run("things").await.unwrap();
    // Four requests at 5 per second: three 200 ms gaps.
    assert!(started.elapsed() >= Duration::from_millis(600), "{:?}", started.elapsed());
}
