//! A PostgreSQL connection string checked as text, without the driver, so
//! the config (read by every function, most of which link no database
//! driver) refuses the same URLs wherever it is read. libpq's two forms are
//! recognised (`postgres://...` and `host=... user=...`), each option name
//! checked, and a password refused wherever it sits (`user:pw@`,
//! `?password=`, `password=`): text that holds a password ends up in logs
//! and in Terraform state. The values themselves (a port, an sslmode) are
//! the driver's to check when it connects.

/// Environment variables that override the config file's `warehouse:` section.
pub const URL_ENV: &str = "LANDFALL_WAREHOUSE_URL";
pub const SECRET_ENV: &str = "LANDFALL_WAREHOUSE_PASSWORD_SECRET";

/// The option names the PostgreSQL driver (tokio-postgres) takes.
const OPTIONS: [&str; 19] = [
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslmode",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// Why a warehouse URL is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlError {
    #[error("not a PostgreSQL connection string: {0}")]
    Unparseable(String),
    #[error("it carries a password; name a Secrets Manager secret instead (warehouse.password_secret or {SECRET_ENV})")]
    Password,
}

/// Checks a warehouse URL in either of libpq's forms.
pub(crate) fn check_url(url: &str) -> Result<(), UrlError> {
    let options = match ["postgres://", "postgresql://"].iter().find_map(|p| url.strip_prefix(p)) {
        Some(rest) => uri_options(rest)?,
        None => key_value_options(url)?,
    };
    for name in options {
        if name == "password" {
            return Err(UrlError::Password);
        }
        if !OPTIONS.contains(&name.as_str()) {
            return Err(UrlError::Unparseable(format!("unknown option `{name}`")));
        }
    }
    Ok(())
}

/// Whether the connection string sets `name` itself (`sslmode`: whether
/// the driver's default may be replaced); an unparseable string sets nothing.
#[cfg(feature = "postgres")]
pub(crate) fn names_option(url: &str, name: &str) -> bool {
    let options = match ["postgres://", "postgresql://"].iter().find_map(|p| url.strip_prefix(p)) {
        Some(rest) => uri_options(rest),
        None => key_value_options(url),
    };
    options.is_ok_and(|o| o.iter().any(|n| n == name))
}

/// The option names of a `postgres://` URL's rest, a password in its
/// credentials (before the first `@`, as the driver reads it) named `password`.
fn uri_options(rest: &str) -> Result<Vec<String>, UrlError> {
    let mut names = Vec::new();
    if rest.split_once('@').is_some_and(|(credentials, _)| credentials.contains(':')) {
        names.push("password".to_owned());
    }
    let query = rest.split_once('?').map_or("", |(_, q)| q);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, _) = pair.split_once('=').ok_or_else(|| UrlError::Unparseable(format!("`{pair}` has no `=`")))?;
        let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
        names.push(key.into_owned());
    }
    Ok(names)
}

/// The option names of `key=value` pairs, values bare or single-quoted
/// (with backslash escapes), separated by whitespace.
fn key_value_options(text: &str) -> Result<Vec<String>, UrlError> {
    let mut names = Vec::new();
    let mut chars = text.trim().chars().peekable();
    while chars.peek().is_some() {
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=') {
            key.push(c);
        }
        let key = key.trim().to_owned();
        if chars.next_if_eq(&'=').is_none() || key.is_empty() || key.contains(char::is_whitespace) {
            return Err(UrlError::Unparseable(format!("expected `key=value`, found `{key}`")));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'\'').is_some() {
            skip_quoted(&mut chars).ok_or_else(|| UrlError::Unparseable(format!("unterminated quote in `{key}`")))?;
        } else {
            while chars.next_if(|c| !c.is_whitespace()).is_some() {}
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        names.push(key);
    }
    Ok(names)
}

/// Past a quoted value's closing quote; `None` if there is none.
fn skip_quoted(chars: &mut impl Iterator<Item = char>) -> Option<()> {
    loop {
        match chars.next()? {
            '\\' => {
                chars.next()?;
            }
            '\'' => return Some(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_anywhere_in_the_url_is_refused() {
        for url in [
            "postgres://loader:pw@db/dw",
            "postgresql://loader@db/dw?sslmode=require&password=pw",
            "postgres://loader@db/dw?pass%77ord=pw",
            "host=db user=loader password=pw dbname=dw",
            "host=db password = 'p w\\'' dbname=dw",
        ] {
            assert_eq!(check_url(url), Err(UrlError::Password), "{url}");
        }
    }

    #[test]
    fn both_forms_without_a_password_are_accepted() {
        for url in [
            "postgres://loader@db:5432/dw?sslmode=require",
            "postgresql://db/dw",
            "postgres://loader@db1:5432,db2:5433/dw?target_session_attrs=read-write",
            "host=db user=loader dbname=dw",
            "host=db application_name='landfall loader' sslmode = require",
        ] {
            assert_eq!(check_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn unknown_options_and_broken_pairs_are_not_connection_strings() {
        for (url, says) in [
            ("postgres://db/dw?sslmod=require", "unknown option `sslmod`"),
            ("host=db colour=blue", "unknown option `colour`"),
            ("mysql://db/dw", "expected `key=value`"),
            ("just some words", "expected `key=value`"),
            ("host=db application_name='open", "unterminated quote"),
            ("postgres://db/dw?sslmode", "has no `=`"),
        ] {
            let e = check_url(url).unwrap_err();
            assert!(matches!(e, UrlError::Unparseable(_)) && e.to_string().contains(says), "{url}: {e}");
        }
    }
}
