//! The `sources:` section: how one third-party API is called, authenticated,
//! paged and landed. Parsed with the rest of the config file and validated
//! before any request is sent.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::paginate::Paginator;

/// A source as written in the config file.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    /// `http`, the default; database kinds are read as [`super::database::RawDatabaseSource`].
    #[serde(default, rename = "kind")]
    _kind: Option<HttpKind>,
    feed: String,
    base_url: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    method: Method,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    auth: Auth,
    #[serde(default)]
    paginator: Paginator,
    #[serde(default)]
    records: String,
    #[serde(default)]
    cursor: Option<IncrementalCursor>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    schedule: Option<String>,
}

/// The one value `kind` takes on an HTTP source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub(crate) enum HttpKind {
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
}

/// How requests are authenticated; every credential is a Secrets Manager name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    #[default]
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer { token_secret: String },
    /// The secret in a header (`header: X-Api-Key`) or a query parameter (`query: apikey`).
    ApiKey {
        secret: String,
        #[serde(default)]
        header: Option<String>,
        #[serde(default)]
        query: Option<String>,
        /// Written before the key, e.g. "Token ".
        #[serde(default)]
        prefix: String,
    },
    /// HTTP basic; the username is not secret, the password is.
    Basic { username: String, password_secret: String },
    /// OAuth2 client credentials: a token fetched from `token_url` and cached until it expires.
    Oauth2 {
        token_url: String,
        client_id_secret: String,
        client_secret_secret: String,
        #[serde(default)]
        scopes: Vec<String>,
    },
}

impl Auth {
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Bearer { .. } => "bearer",
            Auth::ApiKey { .. } => "api_key",
            Auth::Basic { .. } => "basic",
            Auth::Oauth2 { .. } => "oauth2",
        }
    }

    /// The secret names this auth reads, resolved before the first request.
    pub(crate) fn secret_names(&self) -> Vec<&str> {
        match self {
            Auth::None => vec![],
            Auth::Bearer { token_secret } => vec![token_secret],
            Auth::ApiKey { secret, .. } => vec![secret],
            Auth::Basic { password_secret, .. } => vec![password_secret],
            Auth::Oauth2 { client_id_secret, client_secret_secret, .. } => {
                vec![client_id_secret, client_secret_secret]
            }
        }
    }

    /// The query parameter that carries a key, redacted from every URL we log or store.
    pub fn secret_query_param(&self) -> Option<&str> {
        match self {
            Auth::ApiKey { query, .. } => query.as_deref(),
            _ => None,
        }
    }
}

/// A field of the records whose maximum becomes `{start}` of the next run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IncrementalCursor {
    /// Path into each record, e.g. `updated_at` or `attributes.updated-at`.
    pub field: String,
    /// `{start}` of the very first run.
    #[serde(default)]
    pub initial: Option<String>,
    /// Subtracted from the stored cursor (RFC 3339 timestamps or epoch numbers), for late-arriving records.
    #[serde(default)]
    pub lag_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// Attempts after the first on 429, 5xx, timeouts and connection errors.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The first backoff; it doubles per attempt (full jitter), capped at 30 s.
    #[serde(default = "default_backoff")]
    pub backoff_base_ms: u64,
}

fn default_max_pages() -> u32 {
    1000
}
fn default_timeout() -> f64 {
    30.0
}
fn default_retries() -> u32 {
    4
}
fn default_backoff() -> u64 {
    500
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            requests_per_second: None,
            max_pages: default_max_pages(),
            timeout_seconds: default_timeout(),
            retries: default_retries(),
            backoff_base_ms: default_backoff(),
        }
    }
}

/// A validated source.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub feed: String,
    /// `base_url` + `path`, still templated.
    pub url: String,
    pub method: Method,
    pub query: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub headers: BTreeMap<String, String>,
    pub auth: Auth,
    pub paginator: Paginator,
    /// Dotted path to the records array ("" for the whole response).
    pub records: String,
    pub cursor: Option<IncrementalCursor>,
    pub limits: Limits,
    /// An EventBridge schedule expression Terraform may read, e.g. `rate(1 hour)`.
    pub schedule: Option<String>,
    pub line: u64,
}

/// The variables templates may use: `{start}`, `{end}`, `{run_id}`.
pub(crate) const TEMPLATE_VARIABLES: [&str; 3] = ["start", "end", "run_id"];

/// Checks a raw source; `feeds` are the configured feed names.
pub(crate) fn validate(name: &str, raw: RawSource, feeds: &[&str]) -> Result<Source, String> {
    if !feeds.contains(&raw.feed.as_str()) {
        return Err(format!("feed {:?} is not a configured feed (sources land their pages in a feed)", raw.feed));
    }
    let base = raw.base_url.trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        return Err(format!("base_url {:?} must start with https:// or http://", raw.base_url));
    }
    if base.contains('?') {
        return Err("base_url must not carry a query string: use query:".into());
    }
    let path = if raw.path.is_empty() || raw.path.starts_with('/') { raw.path } else { format!("/{}", raw.path) };
    let url = format!("{base}{path}");
    let mut templates: Vec<&str> = vec![&url];
    templates.extend(raw.query.values().map(String::as_str));
    templates.extend(raw.headers.values().map(String::as_str));
    let mut body_strings = Vec::new();
    if let Some(body) = &raw.body {
        collect_strings(body, &mut body_strings);
    }
    templates.extend(body_strings);
    for t in templates {
        check_template(t)?;
    }
    if raw.method == Method::Get && raw.body.is_some() {
        return Err("body needs method: POST".into());
    }
    for header in raw.headers.keys() {
        if header.eq_ignore_ascii_case("authorization") {
            return Err("headers must not set Authorization: use auth: (secrets come from Secrets Manager)".into());
        }
    }
    match &raw.auth {
        Auth::ApiKey { header, query, .. } if header.is_some() == query.is_some() => {
            return Err("auth api_key needs exactly one of header: or query:".into());
        }
        Auth::Oauth2 { token_url, .. } if !token_url.starts_with("https://") && !token_url.starts_with("http://") => {
            return Err(format!("auth.token_url {token_url:?} must be an http(s) URL"));
        }
        _ => {}
    }
    for secret in raw.auth.secret_names() {
        if secret.trim().is_empty() {
            return Err(format!("auth {}: secret names must not be empty", raw.auth.kind()));
        }
    }
    raw.paginator.validate(raw.method)?;
    let l = &raw.limits;
    if matches!(l.requests_per_second, Some(r) if !(r > 0.0 && r.is_finite())) {
        return Err("limits.requests_per_second must be a positive number".into());
    }
    if l.max_pages == 0 {
        return Err("limits.max_pages must be at least 1".into());
    }
    if !(l.timeout_seconds > 0.0 && l.timeout_seconds <= 900.0) {
        return Err("limits.timeout_seconds must be between 0 and 900".into());
    }
    if matches!(&raw.cursor, Some(c) if c.field.trim().is_empty()) {
        return Err("cursor.field must name a field of the records".into());
    }
    Ok(Source {
        name: name.to_owned(),
        feed: raw.feed,
        url,
        method: raw.method,
        query: raw.query,
        body: raw.body,
        headers: raw.headers,
        auth: raw.auth,
        paginator: raw.paginator,
        records: crate::formats::normalize_path(&raw.records),
        cursor: raw.cursor,
        limits: raw.limits,
        schedule: raw.schedule,
        line: 0,
    })
}

fn collect_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Placeholders are `{name}`; `{{` and `}}` are literal braces.
fn check_template(template: &str) -> Result<(), String> {
    render(template, &|name| TEMPLATE_VARIABLES.contains(&name).then(String::new))
        .map(|_| ())
        .map_err(|e| format!("template {template:?}: {e}"))
}

/// Why a template could not be rendered.
#[derive(Debug, PartialEq, Eq)]
pub enum TemplateError {
    Unknown(String),
    Unset(String),
    Unclosed,
    Filter(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Unknown(v) => {
                write!(f, "{{{v}}} is not a template variable (use {})", TEMPLATE_VARIABLES.join(", "))
            }
            TemplateError::Unset(v) => write!(f, "{{{v}}} has no value in this run"),
            TemplateError::Unclosed => write!(f, "a '{{' is not closed"),
            TemplateError::Filter(x) => write!(f, "|{x} is not a template filter (use |date)"),
        }
    }
}

/// Renders `{start}`-style placeholders; `lookup` returns None for an unset variable.
pub fn render(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{{") {
            out.push('{');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("}}") {
            out.push('}');
            rest = t;
        } else if let Some(t) = tail.strip_prefix('{') {
            let end = t.find('}').ok_or(TemplateError::Unclosed)?;
            let (name, filter) = match t[..end].split_once('|') {
                Some((name, filter)) => (name.trim(), Some(filter.trim())),
                None => (t[..end].trim(), None),
            };
            if !TEMPLATE_VARIABLES.contains(&name) {
                return Err(TemplateError::Unknown(name.to_owned()));
            }
            let value = lookup(name).ok_or_else(|| TemplateError::Unset(name.to_owned()))?;
            match filter {
                None => out.push_str(&value),
                // `{end|date}`: the date part of a timestamp, for APIs that take days.
                Some("date") => out.push_str(value.split('T').next().unwrap_or(&value)),
                Some(other) => return Err(TemplateError::Filter(other.to_owned())),
            }
            rest = &t[end + 1..];
        } else {
            out.push('}');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "start" => Some("2026-01-01".into()),
            _ => None,
        }
    }

    #[test]
    fn templates_substitute_variables_and_keep_escaped_braces() {
        assert_eq!(render("since={start}&x={{y}}", &vars).unwrap(), "since=2026-01-01&x={y}");
        let ts = |_: &str| Some("2026-02-03T04:05:06Z".to_owned());
        assert_eq!(render("{start|date}/{end}", &ts).unwrap(), "2026-02-03/2026-02-03T04:05:06Z");
        assert_eq!(render("{start|upper}", &ts), Err(TemplateError::Filter("upper".into())));
    }

    #[test]
    fn templates_name_unknown_and_unset_variables() {
        assert_eq!(render("{tomorrow}", &vars), Err(TemplateError::Unknown("tomorrow".into())));
        assert_eq!(render("{end}", &vars), Err(TemplateError::Unset("end".into())));
        assert_eq!(render("{start", &vars), Err(TemplateError::Unclosed));
    }
}
