//! Paginators as pure state machines: from one response (body, headers) and
//! the records it held to the next request, or the end of the run.

use serde::Deserialize;
use serde_json::Value;

use super::source::Method;

/// Where offset/limit and page parameters go: the query string or the JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ParamLocation {
    #[default]
    Query,
    Body,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Paginator {
    /// One request, one page.
    #[default]
    Single,
    /// The response carries an opaque cursor (`cursor_path`) sent back as the query parameter `param`.
    Cursor { cursor_path: String, param: String },
    /// The response carries the next page's full URL (`path`, e.g. `links.next`).
    NextUrl { path: String },
    /// The `Link: <...>; rel="next"` response header (RFC 8288).
    LinkHeader,
    /// `offset_param`/`limit_param` stepped by `limit` until `total_path` (or a short page).
    Offset {
        offset_param: String,
        limit_param: String,
        limit: u64,
        #[serde(default)]
        total_path: Option<String>,
        #[serde(default)]
        location: ParamLocation,
    },
    /// `param` = 1, 2, ... until an empty page or `total_pages_path`.
    PageNumber {
        param: String,
        #[serde(default = "one")]
        first: u64,
        #[serde(default)]
        size_param: Option<String>,
        #[serde(default)]
        size: Option<u64>,
        #[serde(default)]
        total_pages_path: Option<String>,
        #[serde(default)]
        location: ParamLocation,
    },
}

fn one() -> u64 {
    1
}

/// What the next request changes relative to the first one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PageRequest {
    /// Replaces the URL and its query string (next-URL and Link paginators).
    pub url: Option<String>,
    /// Query parameters set on top of the source's.
    pub query: Vec<(String, String)>,
    /// Top-level JSON body fields set on top of the source's.
    pub body: Vec<(String, Value)>,
}

/// What a paginator sees of one response.
pub struct PageView<'a> {
    pub body: &'a Value,
    /// The `Link` header, if any.
    pub link: Option<&'a str>,
    pub records: usize,
}

/// The state carried between pages.
#[derive(Debug, Clone, Default)]
pub struct PageState {
    pub offset: u64,
    pub page: u64,
}

impl Paginator {
    pub fn kind(&self) -> &'static str {
        match self {
            Paginator::Single => "single",
            Paginator::Cursor { .. } => "cursor",
            Paginator::NextUrl { .. } => "next_url",
            Paginator::LinkHeader => "link_header",
            Paginator::Offset { .. } => "offset",
            Paginator::PageNumber { .. } => "page_number",
        }
    }

    pub(crate) fn validate(&self, method: Method) -> Result<(), String> {
        let body_needs_post = |location: &ParamLocation| {
            if *location == ParamLocation::Body && method != Method::Post {
                Err(format!("paginator {}: location body needs method: POST", self.kind()))
            } else {
                Ok(())
            }
        };
        match self {
            Paginator::Offset { limit: 0, .. } => Err("paginator offset: limit must be at least 1".into()),
            Paginator::Offset { location, .. } => body_needs_post(location),
            Paginator::PageNumber { location, size_param, size, .. } => {
                if size_param.is_some() != size.is_some() {
                    return Err("paginator page_number: size_param and size go together".into());
                }
                body_needs_post(location)
            }
            Paginator::Cursor { cursor_path, param } if cursor_path.is_empty() || param.is_empty() => {
                Err("paginator cursor needs cursor_path and param".into())
            }
            Paginator::NextUrl { path } if path.is_empty() => Err("paginator next_url needs path".into()),
            _ => Ok(()),
        }
    }

    /// The parameters of the first request.
    pub fn first(&self) -> (PageRequest, PageState) {
        match self {
            Paginator::Offset { offset_param, limit_param, limit, location, .. } => {
                let params =
                    vec![(offset_param.clone(), Value::from(0u64)), (limit_param.clone(), Value::from(*limit))];
                (request(*location, params), PageState { offset: 0, page: 0 })
            }
            Paginator::PageNumber { param, first, size_param, size, location, .. } => {
                let mut params = vec![(param.clone(), Value::from(*first))];
                if let (Some(p), Some(s)) = (size_param, size) {
                    params.push((p.clone(), Value::from(*s)));
                }
                (request(*location, params), PageState { offset: 0, page: *first })
            }
            _ => (PageRequest::default(), PageState::default()),
        }
    }

    /// The next request after a page, or None when the page was the last.
    pub fn next(&self, state: &PageState, page: &PageView<'_>) -> Option<(PageRequest, PageState)> {
        match self {
            Paginator::Single => None,
            Paginator::Cursor { cursor_path, param } => {
                let cursor = match lookup(page.body, cursor_path)? {
                    Value::String(s) if !s.is_empty() => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some((PageRequest { query: vec![(param.clone(), cursor)], ..Default::default() }, state.clone()))
            }
            Paginator::NextUrl { path } => match lookup(page.body, path)? {
                Value::String(url) if !url.is_empty() => {
                    Some((PageRequest { url: Some(url.clone()), ..Default::default() }, state.clone()))
                }
                _ => None,
            },
            Paginator::LinkHeader => {
                let url = next_link(page.link?)?;
                Some((PageRequest { url: Some(url), ..Default::default() }, state.clone()))
            }
            Paginator::Offset { offset_param, limit_param, limit, total_path, location } => {
                let offset = state.offset + limit;
                let total = total_path.as_deref().and_then(|p| lookup(page.body, p)).and_then(as_u64);
                let more = match total {
                    Some(total) => offset < total && page.records > 0,
                    None => page.records as u64 >= *limit,
                };
                more.then(|| {
                    let params =
                        vec![(offset_param.clone(), Value::from(offset)), (limit_param.clone(), Value::from(*limit))];
                    (request(*location, params), PageState { offset, page: state.page + 1 })
                })
            }
            Paginator::PageNumber { param, size_param, size, total_pages_path, location, .. } => {
                if page.records == 0 {
                    return None;
                }
                let total = total_pages_path.as_deref().and_then(|p| lookup(page.body, p)).and_then(as_u64);
                if total.is_some_and(|t| state.page >= t) || size.is_some_and(|s| (page.records as u64) < s) {
                    return None;
                }
                let next = state.page + 1;
                let mut params = vec![(param.clone(), Value::from(next))];
                if let (Some(p), Some(s)) = (size_param, size) {
                    params.push((p.clone(), Value::from(*s)));
                }
                Some((request(*location, params), PageState { offset: state.offset, page: next }))
            }
        }
    }
}

fn request(location: ParamLocation, params: Vec<(String, Value)>) -> PageRequest {
    match location {
        ParamLocation::Query => {
            PageRequest { query: params.into_iter().map(|(k, v)| (k, scalar_text(&v))).collect(), ..Default::default() }
        }
        ParamLocation::Body => PageRequest { body: params, ..Default::default() },
    }
}

/// Numbers as APIs write them in either form ("12" or 12).
fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A scalar as query-string text.
pub(crate) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The value at a dotted path ("data.items", "links.next"); "" is the value itself.
pub(crate) fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    crate::formats::path_segments(path).try_fold(value, |v, part| match v {
        Value::Object(map) => map.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// The records of a response at `path`: an array, one object, or none when
/// the path is absent or null (APIs omit empty lists, e.g. GA4's `rows`).
pub fn select_records<'a>(body: &'a Value, path: &str) -> Result<&'a [Value], String> {
    match lookup(body, path) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Object(_)) if path.is_empty() => Ok(std::slice::from_ref(body)),
        Some(other) => Err(format!(
            "records path {:?} holds {}, not an array",
            path,
            match other {
                Value::Object(_) => "an object",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            }
        )),
    }
}

/// The `rel="next"` target of a Link header (RFC 8288), as written: a
/// relative one is resolved by the caller.
pub(crate) fn next_link(header: &str) -> Option<String> {
    link_values(header).into_iter().find(|link| link.has_rel("next")).map(|link| link.target.to_owned())
}

/// One link-value of a Link header: `<target>; name=value; ...`.
#[derive(Debug, PartialEq)]
struct LinkValue<'a> {
    target: &'a str,
    params: Vec<(&'a str, String)>,
}

impl LinkValue<'_> {
    /// Whether the relation types of the first `rel` parameter include `rel`:
    /// RFC 8288 §3.3 has parsers ignore any later `rel`.
    fn has_rel(&self, rel: &str) -> bool {
        self.params
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("rel"))
            .is_some_and(|(_, types)| types.split_ascii_whitespace().any(|t| t.eq_ignore_ascii_case(rel)))
    }
}

/// The link-values of a Link header. A comma ends a link-value only outside
/// `<...>` and quoted strings, since URLs (`?fields=a,b`) and titles hold
/// commas. A malformed link-value is skipped, never the links after it.
fn link_values(header: &str) -> Vec<LinkValue<'_>> {
    let mut links = Vec::new();
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c| c == ',' || is_ows(c));
        if rest.is_empty() {
            return links;
        }
        let Some((target, after)) = rest.strip_prefix('<').and_then(|r| r.split_once('>')) else {
            rest = skip_link_value(rest);
            continue;
        };
        let mut params = Vec::new();
        rest = after;
        while let Some(param) = rest.trim_start_matches(is_ows).strip_prefix(';') {
            let param = param.trim_start_matches(is_ows);
            let (name, after_name) = param.split_at(param.find(|c| !is_tchar(c)).unwrap_or(param.len()));
            let after_name = after_name.trim_start_matches(is_ows);
            let (value, after_value) = match after_name.strip_prefix('=') {
                Some(value) => param_value(value.trim_start_matches(is_ows)),
                None => (String::new(), after_name),
            };
            if !name.is_empty() {
                params.push((name, value));
            }
            rest = after_value;
        }
        links.push(LinkValue { target, params });
        rest = skip_link_value(rest);
    }
}

/// A parameter value, quoted (with `\` escapes) or bare, and the text after it.
/// A bare value runs to the next delimiter: servers write `type=text/html`,
/// which is no token but means what it says.
fn param_value(text: &str) -> (String, &str) {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(|c| c == ';' || c == ',' || is_ows(c)).unwrap_or(text.len());
        return (text[..end].to_owned(), &text[end..]);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &quoted[i + 1..]),
            '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
            c => value.push(c),
        }
    }
    (value, "")
}

/// The text from the comma that ends the current link-value (or "").
fn skip_link_value(text: &str) -> &str {
    let (mut quoted, mut escaped, mut bracketed) = (false, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !bracketed => quoted = !quoted,
            '<' if !quoted => bracketed = true,
            '>' if !quoted => bracketed = false,
            ',' if !quoted && !bracketed => return &text[i..],
            _ => {}
        }
    }
    ""
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 9110 token characters (parameter names).
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn view(body: &Value, records: usize) -> PageView<'_> {
        PageView { body, link: None, records }
    }

    #[test]
    fn single_stops_after_the_first_page() {
        assert!(Paginator::Single.next(&PageState::default(), &view(&json!({}), 10)).is_none());
    }

    #[test]
    fn cursor_sends_the_body_cursor_back_until_it_is_empty() {
        let p = Paginator::Cursor { cursor_path: "meta.next_cursor".into(), param: "cursor".into() };
        let body = json!({"meta": {"next_cursor": "abc"}});
        let (req, _) = p.next(&PageState::default(), &view(&body, 2)).unwrap();
        assert_eq!(req.query, vec![("cursor".into(), "abc".into())]);
        for last in [json!({"meta": {"next_cursor": ""}}), json!({"meta": {"next_cursor": null}}), json!({})] {
            assert!(p.next(&PageState::default(), &view(&last, 2)).is_none(), "{last}");
        }
    }

    #[test]
    fn next_url_follows_the_body_link_until_null() {
        let p = Paginator::NextUrl { path: "links.next".into() };
        let body = json!({"links": {"next": "https://api/x?page[number]=2"}});
        let (req, _) = p.next(&PageState::default(), &view(&body, 1)).unwrap();
        assert_eq!(req.url.as_deref(), Some("https://api/x?page[number]=2"));
        assert!(p.next(&PageState::default(), &view(&json!({"links": {"next": null}}), 1)).is_none());
    }

    #[test]
    fn link_header_finds_rel_next_among_other_relations() {
        let h = r#"<https://api/x?page=1>; rel="prev", <https://api/x?page=3>; rel="next", <https://api/x?page=9>; rel="last""#;
        assert_eq!(next_link(h).as_deref(), Some("https://api/x?page=3"));
        assert_eq!(next_link(r#"<https://api/x?page=1>; rel="prev""#), None);
        let body = json!([]);
        let page = PageView { body: &body, link: Some(h), records: 1 };
        assert_eq!(
            Paginator::LinkHeader.next(&PageState::default(), &page).unwrap().0.url.unwrap(),
            "https://api/x?page=3"
        );
    }

    #[test]
    fn link_header_commas_inside_a_target_do_not_split_it() {
        let h = "<https://api/x?fields=id,name,email&page=2>; rel=\"next\", <https://api/x?fields=id,name,email&page=1>; rel=\"first\"";
        assert_eq!(next_link(h).as_deref(), Some("https://api/x?fields=id,name,email&page=2"));
    }

    #[test]
    fn link_header_commas_semicolons_and_escaped_quotes_inside_quoted_params_do_not_split_it() {
        let h = r#"<https://api/x?page=1>; rel="prev"; title="back, to \"page; 1\"", <https://api/x?page=3>; title="on, and on"; rel="next""#;
        assert_eq!(next_link(h).as_deref(), Some("https://api/x?page=3"));
        let links = link_values(h);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].params, vec![("rel", "prev".into()), ("title", r#"back, to "page; 1""#.into())]);
    }

    #[test]
    fn link_header_rel_may_be_bare_in_any_case_and_one_of_several_types() {
        assert_eq!(next_link("<https://api/x?page=2>;rel=next").as_deref(), Some("https://api/x?page=2"));
        assert_eq!(next_link("<https://api/x?page=2> ; REL = \"Next\"").as_deref(), Some("https://api/x?page=2"));
        assert_eq!(next_link(r#"<https://api/x?page=2>; rel="last next""#).as_deref(), Some("https://api/x?page=2"));
        assert_eq!(next_link(r#"<https://api/x?page=2>; rel="nextpage""#), None);
    }

    #[test]
    fn link_header_ignores_a_rel_after_the_first() {
        // RFC 8288 §3.3: occurrences of rel after the first are ignored.
        assert_eq!(next_link(r#"<https://api/x?page=9>; rel="last"; rel="next""#), None);
    }

    #[test]
    fn link_header_skips_a_malformed_link_value_and_reads_the_rest() {
        let h = r#"https://api/x?page=1; rel="prev", <https://api/x?page=2>; rel="next""#;
        assert_eq!(next_link(h).as_deref(), Some("https://api/x?page=2"));
        assert_eq!(next_link("<https://api/x?page=2; rel=next"), None, "an unclosed target is no link");
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn offset_steps_by_limit_until_the_total() {
        let p = Paginator::Offset {
            offset_param: "offset".into(),
            limit_param: "count".into(),
            limit: 2,
            total_path: Some("total_items".into()),
            location: ParamLocation::Query,
        };
        let (first, s0) = p.first();
        assert_eq!(first.query, vec![("offset".into(), "0".into()), ("count".into(), "2".into())]);
        let body = json!({"total_items": 5});
        let (second, s1) = p.next(&s0, &view(&body, 2)).unwrap();
        assert_eq!(second.query[0], ("offset".into(), "2".into()));
        let (_, s2) = p.next(&s1, &view(&body, 2)).unwrap();
        assert_eq!(s2.offset, 4);
        assert!(p.next(&s2, &view(&body, 1)).is_none(), "offset 6 is past the total of 5");
    }

    #[test]
    fn offset_in_the_body_without_a_total_stops_at_a_short_page() {
        let p = Paginator::Offset {
            offset_param: "offset".into(),
            limit_param: "limit".into(),
            limit: 3,
            total_path: None,
            location: ParamLocation::Body,
        };
        let (first, s0) = p.first();
        assert_eq!(first.body, vec![("offset".into(), json!(0)), ("limit".into(), json!(3))]);
        let (next, s1) = p.next(&s0, &view(&json!({}), 3)).unwrap();
        assert_eq!(next.body[0], ("offset".into(), json!(3)));
        assert!(p.next(&s1, &view(&json!({}), 2)).is_none());
    }

    #[test]
    fn offset_reads_totals_written_as_strings() {
        // GA4 rowCount is an integer, some APIs quote theirs.
        let p = Paginator::Offset {
            offset_param: "o".into(),
            limit_param: "l".into(),
            limit: 10,
            total_path: Some("total".into()),
            location: ParamLocation::Query,
        };
        assert!(p.next(&PageState::default(), &view(&json!({"total": "10"}), 10)).is_none());
        assert!(p.next(&PageState::default(), &view(&json!({"total": "11"}), 10)).is_some());
    }

    #[test]
    fn page_number_counts_up_until_an_empty_page_or_the_total() {
        let p = Paginator::PageNumber {
            param: "page".into(),
            first: 1,
            size_param: None,
            size: None,
            total_pages_path: Some("pages".into()),
            location: ParamLocation::Query,
        };
        let (first, s1) = p.first();
        assert_eq!(first.query, vec![("page".into(), "1".into())]);
        let (second, s2) = p.next(&s1, &view(&json!({"pages": 2}), 5)).unwrap();
        assert_eq!(second.query, vec![("page".into(), "2".into())]);
        assert!(p.next(&s2, &view(&json!({"pages": 2}), 5)).is_none());
        assert!(p.next(&s1, &view(&json!({}), 0)).is_none());
    }

    #[test]
    fn records_are_selected_by_path_and_a_missing_list_is_empty() {
        let body = json!({"data": {"items": [1, 2]}, "n": 3});
        assert_eq!(select_records(&body, "data.items").unwrap().len(), 2);
        assert_eq!(select_records(&body, "rows").unwrap().len(), 0);
        assert!(select_records(&body, "n").unwrap_err().contains("a number"));
        assert_eq!(select_records(&json!([1, 2, 3]), "").unwrap().len(), 3);
        assert_eq!(select_records(&json!({"a": 1}), "").unwrap().len(), 1);
    }
}
