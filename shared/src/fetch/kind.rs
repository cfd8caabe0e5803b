//! `sources:` holds HTTP and database sources told apart by `kind`. Each
//! kind is read straight into its own strict struct, so an error names its
//! own fields and keeps its exact line; the kind is learnt in a first, lax
//! pass over the same text and handed to the second by the source's name.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::database::RawDatabaseSource;
use super::source::RawSource;

thread_local! {
    /// The kinds the first pass found, by source name.
    static KINDS: RefCell<BTreeMap<String, String>> = const { RefCell::new(BTreeMap::new()) };
    /// The name of the source being read (a map's key is read before its value).
    static CURRENT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A source's name; reading it tells [`RawAnySource`] which source follows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SourceName(pub String);

impl<'de> Deserialize<'de> for SourceName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        CURRENT.with(|c| c.borrow_mut().clone_from(&name));
        Ok(SourceName(name))
    }
}

#[derive(Debug)]
pub(crate) enum RawAnySource {
    Http(Box<RawSource>),
    Database(Box<RawDatabaseSource>),
}

impl<'de> Deserialize<'de> for RawAnySource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = CURRENT.with(|c| c.borrow().clone());
        let kind = KINDS.with(|k| k.borrow().get(&name).cloned()).unwrap_or_default();
        match kind.as_str() {
            "postgres" | "mysql" => RawDatabaseSource::deserialize(d).map(|s| RawAnySource::Database(Box::new(s))),
            _ => RawSource::deserialize(d).map(|s| RawAnySource::Http(Box::new(s))),
        }
    }
}

#[derive(Deserialize)]
struct KindsOnly {
    #[serde(default)]
    sources: BTreeMap<String, KindOf>,
}

#[derive(Deserialize)]
struct KindOf {
    #[serde(default)]
    kind: Option<String>,
}

/// A source is an HTTP source unless its `kind` names a database: editors
/// are offered both shapes, and `validate-config` picks by the kind.
#[cfg(feature = "json-schema")]
impl schemars::JsonSchema for RawAnySource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Source".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let http = generator.subschema_for::<RawSource>();
        let database = generator.subschema_for::<RawDatabaseSource>();
        schemars::json_schema!({ "anyOf": [http, database] })
    }
}

/// Runs `parse` (the strict pass) with the kinds of `text`'s sources known.
/// A document the lax pass cannot read leaves every source HTTP, and the
/// strict pass reports the error.
pub(crate) fn with_kinds<T>(text: &str, parse: impl FnOnce() -> T) -> T {
    let kinds: BTreeMap<String, String> = serde_saphyr::from_str::<KindsOnly>(text)
        .map(|k| k.sources.into_iter().filter_map(|(name, k)| k.kind.map(|kind| (name, kind))).collect())
        .unwrap_or_default();
    KINDS.with(|k| *k.borrow_mut() = kinds);
    let out = parse();
    KINDS.with(|k| k.borrow_mut().clear());
    out
}
