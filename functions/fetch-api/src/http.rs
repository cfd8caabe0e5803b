//! The HTTP side of a run: credentials from Secrets Manager, the OAuth2
//! token cache, pacing to the source's rate limit, and retries with
//! jittered exponential backoff that honour Retry-After.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use landfall::fetch::retry::{Jitter, request_backoff, retry_after, retryable_status};
use landfall::fetch::{Auth, Method, Source, redact_query};
use landfall::secrets::Secrets;
use landfall::telemetry::Metrics;
use landfall::telemetry::catalog::{RequestRetried, TokenFetched};
use serde_json::Value;
use tracing::debug;

use crate::FetchError;

/// A token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// Error bodies are quoted up to this many characters.
const QUOTE: usize = 200;

/// Redirects followed within one origin before the page fails.
pub const MAX_REDIRECTS: usize = 5;

/// The reqwest client every source shares: rustls with the workspace's
/// aws-lc-rs provider and the platform's roots, following redirects only
/// within the origin a request was sent to.
pub fn http_client() -> Result<reqwest::Client, Box<dyn std::error::Error + Send + Sync>> {
    let tls = landfall::tls::rustls_client_config()?;
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .user_agent("landfall-fetch-api")
        .redirect(same_origin_redirects())
        // A redirect's Referer would repeat the previous URL, a query-string API key included.
        .referer(false)
        .build()?)
}

/// Follows at most `MAX_REDIRECTS` redirects, each within the origin (scheme,
/// host and port) of the request's first URL, and stops at any other.
///
/// reqwest's default follows a redirect anywhere and drops only Authorization
/// and Cookie on the way to another host: a source's API key header, or any
/// configured header that carries a credential, would go wherever the
/// Location points. Following without them is no fix, since nothing says
/// which of a source's headers are secret, so a redirect off the origin is
/// not followed at all. The scheme is part of the origin so that https never
/// turns into plain http with the credentials on it. Stopping hands the 3xx
/// back as the response, which fails the page without retries (a redirect
/// will not go away by asking again) and names where it pointed; a
/// redirect error would be taken for a connection fault and retried.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let followed = attempt.previous().len().saturating_sub(1);
        let same_origin = attempt.previous().first().is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin && followed < MAX_REDIRECTS { attempt.follow() } else { attempt.stop() }
    })
}

/// Why a redirect came back as the response (see `same_origin_redirects`).
fn unfollowed_redirect(sent: &reqwest::Url, last: &reqwest::Url, location: Option<&str>) -> Option<String> {
    let next = last.join(location?).ok()?;
    // Only the origin is named: the rest of a Location may be a signed URL.
    Some(if next.origin() == sent.origin() {
        format!("more than {MAX_REDIRECTS} redirects")
    } else {
        format!(
            "redirected to {}: not followed, so the source's credentials stay with {}",
            next.origin().ascii_serialization(),
            sent.origin().ascii_serialization()
        )
    })
}

struct CachedToken {
    value: String,
    expires: Instant,
}

/// The client and the OAuth2 tokens, kept across invocations of a warm Lambda.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    tokens: Arc<Mutex<HashMap<String, CachedToken>>>,
    metrics: Metrics,
}

impl HttpClient {
    pub fn new(client: reqwest::Client, metrics: Metrics) -> Self {
        HttpClient { client, tokens: Arc::default(), metrics }
    }

    pub(crate) fn session<'a>(&'a self, source: &'a Source, credentials: Credentials) -> Session<'a> {
        Session { http: self, source, credentials, next_slot: None, jitter: Jitter::from_clock() }
    }
}

/// A source's secrets, read once per run. Never printed.
pub enum Credentials {
    None,
    Bearer(String),
    Header { name: String, value: String },
    Query { name: String, value: String },
    Basic { username: String, password: String },
    Oauth2 { token_url: String, client_id: String, client_secret: String, scopes: Vec<String> },
}

impl Credentials {
    /// Reads every secret the source's auth names.
    pub async fn resolve(source: &Source, secrets: &dyn Secrets) -> Result<Credentials, FetchError> {
        let read = |name: &str| {
            let name = name.to_owned();
            async move {
                secrets
                    .secret_string(&name)
                    .await
                    .map_err(|error| FetchError::Secret { name: source.name.clone(), error })
            }
        };
        Ok(match &source.auth {
            Auth::None => Credentials::None,
            Auth::Bearer { token_secret } => Credentials::Bearer(read(token_secret).await?),
            Auth::ApiKey { secret, header: Some(header), prefix, .. } => {
                Credentials::Header { name: header.clone(), value: format!("{prefix}{}", read(secret).await?) }
            }
            Auth::ApiKey { secret, query, prefix, .. } => Credentials::Query {
                name: query.clone().unwrap_or_default(),
                value: format!("{prefix}{}", read(secret).await?),
            },
            Auth::Basic { username, password_secret } => {
                Credentials::Basic { username: username.clone(), password: read(password_secret).await? }
            }
            Auth::Oauth2 { token_url, client_id_secret, client_secret_secret, scopes } => Credentials::Oauth2 {
                token_url: token_url.clone(),
                client_id: read(client_id_secret).await?,
                client_secret: read(client_secret_secret).await?,
                scopes: scopes.clone(),
            },
        })
    }

    /// Text with every secret value replaced, for quoting API error bodies.
    fn scrub(&self, text: &str) -> String {
        let secrets: Vec<&str> = match self {
            Credentials::None => vec![],
            Credentials::Bearer(v) | Credentials::Header { value: v, .. } | Credentials::Query { value: v, .. } => {
                vec![v.as_str()]
            }
            Credentials::Basic { password, .. } => vec![password.as_str()],
            Credentials::Oauth2 { client_id, client_secret, .. } => vec![client_id.as_str(), client_secret.as_str()],
        };
        secrets.iter().filter(|s| s.len() >= 4).fold(text.to_owned(), |t, s| t.replace(s, "***"))
    }
}

/// One successful response.
pub(crate) struct Response {
    /// The request URL without credentials.
    pub url: reqwest::Url,
    pub body: Vec<u8>,
    pub link: Option<String>,
}

/// A failed attempt: the error, and whether (why) to try again.
struct Failure {
    error: FetchError,
    retry: Option<&'static str>,
    wait: Option<Duration>,
}

pub(crate) struct Session<'a> {
    http: &'a HttpClient,
    source: &'a Source,
    credentials: Credentials,
    next_slot: Option<Instant>,
    jitter: Jitter,
}

impl Session<'_> {
    /// Sends one page's request, retrying 429, 5xx, timeouts and connection errors.
    pub async fn send(
        &mut self,
        page: u32,
        url: reqwest::Url,
        headers: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Response, FetchError> {
        let source = self.source;
        let limits = &source.limits;
        let mut attempt = 0;
        loop {
            self.pace().await;
            let failure = match self.attempt(page, &url, headers, body).await {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            let Some(reason) = failure.retry.filter(|_| attempt < limits.retries) else { return Err(failure.error) };
            let wait = failure.wait.unwrap_or_else(|| {
                request_backoff(Duration::from_millis(limits.backoff_base_ms)).retry_wait(attempt, &mut self.jitter)
            });
            RequestRetried { source: &source.name, reason, page, attempt, wait, error: &failure.error }
                .emit(&self.http.metrics);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Waits for the source's next request slot.
    async fn pace(&mut self) {
        let Some(rps) = self.source.limits.requests_per_second else { return };
        if let Some(slot) = self.next_slot {
            tokio::time::sleep_until(slot.into()).await;
        }
        self.next_slot = Some(Instant::now() + Duration::from_secs_f64(1.0 / rps));
    }

    async fn attempt(
        &self,
        page: u32,
        url: &reqwest::Url,
        headers: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Response, Failure> {
        let source = self.source;
        let shown = redact_query(url.as_str(), &source.auth.secret_query_param().into_iter().collect::<Vec<_>>());
        let mut target = url.clone();
        if let Credentials::Query { name, value } = &self.credentials {
            target.query_pairs_mut().append_pair(name, value);
        }
        let method = match source.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut request = self
            .http
            .client
            .request(method, target)
            .timeout(Duration::from_secs_f64(source.limits.timeout_seconds))
            .header("accept", "application/json");
        for (k, v) in headers {
            request = request.header(k.as_str(), v.as_str());
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        request = match &self.credentials {
            Credentials::Bearer(token) => request.bearer_auth(token),
            Credentials::Header { name, value } => request.header(name.as_str(), value.as_str()),
            Credentials::Basic { username, password } => request.basic_auth(username, Some(password)),
            Credentials::Oauth2 { .. } => request.bearer_auth(self.token(page).await?),
            Credentials::None | Credentials::Query { .. } => request,
        };
        let transport = |e: reqwest::Error| Failure {
            retry: Some(if e.is_timeout() { "timeout" } else { "connection" }),
            wait: None,
            error: FetchError::Transport {
                name: source.name.clone(),
                page,
                url: shown.clone(),
                message: error_chain(&e.without_url()),
            },
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let wait = header("retry-after").and_then(|h| retry_after(&h, chrono::Utc::now()));
        let redirect = (300..400)
            .contains(&status)
            .then(|| unfollowed_redirect(url, response.url(), header("location").as_deref()))
            .flatten();
        // A server may send its links in several Link fields: they are one
        // comma-separated list (RFC 9110 §5.3), and rel="next" may be in any.
        let links: Vec<&str> = response.headers().get_all("link").iter().filter_map(|v| v.to_str().ok()).collect();
        let link = (!links.is_empty()).then(|| links.join(", "));
        let bytes = response.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            debug!(page, status, bytes = bytes.len(), url = %shown, "page fetched");
            return Ok(Response { url: url.clone(), body: bytes.to_vec(), link });
        }
        let retryable = retryable_status(status);
        Err(Failure {
            retry: retryable.then_some(if status == 429 { "throttled" } else { "server_error" }),
            wait,
            error: FetchError::Http {
                name: source.name.clone(),
                page,
                url: shown,
                status,
                message: self.credentials.scrub(&redirect.unwrap_or_else(|| quote(&bytes))),
                retryable,
            },
        })
    }

    /// The cached OAuth2 token, or a new one from the token endpoint.
    async fn token(&self, page: u32) -> Result<String, Failure> {
        let Credentials::Oauth2 { token_url, client_id, client_secret, scopes } = &self.credentials else {
            return Ok(String::new());
        };
        let key = format!("{}\n{token_url}\n{client_id}", self.source.name);
        if let Ok(tokens) = self.http.tokens.lock()
            && let Some(t) = tokens.get(&key).filter(|t| t.expires > Instant::now() + TOKEN_MARGIN)
        {
            return Ok(t.value.clone());
        }
        let name = &self.source.name;
        let fail = |status: u16, message: String, retry: Option<&'static str>| Failure {
            retry,
            wait: None,
            error: FetchError::Http {
                name: name.clone(),
                page,
                url: token_url.clone(),
                status,
                message: format!("token request: {}", self.credentials.scrub(&message)),
                retryable: retry.is_some(),
            },
        };
        let mut form = String::from("grant_type=client_credentials");
        if !scopes.is_empty() {
            let scopes = scopes.join(" ");
            let scope = percent_encoding::utf8_percent_encode(&scopes, percent_encoding::NON_ALPHANUMERIC);
            form.push_str(&format!("&scope={scope}"));
        }
        let response = self
            .http
            .client
            .post(token_url)
            .timeout(Duration::from_secs_f64(self.source.limits.timeout_seconds))
            .basic_auth(client_id, Some(client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| fail(0, error_chain(&e.without_url()), Some("connection")))?;
        let status = response.status().as_u16();
        let bytes =
            response.bytes().await.map_err(|e| fail(status, error_chain(&e.without_url()), Some("connection")))?;
        if !(200..300).contains(&status) {
            let retry = retryable_status(status).then_some(if status == 429 { "throttled" } else { "server_error" });
            return Err(fail(status, quote(&bytes), retry));
        }
        let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let Some(value) = parsed.get("access_token").and_then(Value::as_str).map(str::to_owned) else {
            return Err(fail(status, "the response has no access_token".into(), None));
        };
        let lifetime = parsed.get("expires_in").and_then(Value::as_u64).unwrap_or(3600);
        TokenFetched { source: name, lifetime_s: lifetime }.emit(&self.http.metrics);
        if let Ok(mut tokens) = self.http.tokens.lock() {
            tokens.insert(
                key,
                CachedToken { value: value.clone(), expires: Instant::now() + Duration::from_secs(lifetime) },
            );
        }
        Ok(value)
    }
}

fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut quoted: String = text.chars().take(QUOTE).collect();
    if text.chars().count() > QUOTE {
        quoted.push('…');
    }
    quoted
}

/// An error and its causes on one line (reqwest's own text is just "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
