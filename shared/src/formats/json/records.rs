//! Records that are not at a JSON file's top level: an array under a path
//! of a wrapping object (`json.records`: a GeoJSON FeatureCollection's
//! `features`, `{"statuses": [...]}`, `{"data": {"items": [...]}}`), and an
//! object of records keyed by id (`json.keyed_by`: each value a record, its
//! key the value of that column).
//!
//! The path is read the way an HTTP source's `records:` is (one syntax, in
//! [`path_segments`]). The walk streams: the wrapper's other values are
//! skipped as they are read, a record at a time is buffered, so a 1 GB
//! wrapper costs what a 1 GB array does.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::super::stream::Ctx;
use super::super::{FormatError, JsonOptions, Out};
use super::keys::looks_like_data;
use super::{Key, ROOT, RecordSeed, Records, TopSeed, stream_error};

/// The segments of a dotted records path: dots at either end are ignored,
/// `""` is the value itself, and a number is a position in an array.
pub(crate) fn path_segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('.').filter(|s| !s.is_empty())
}

/// A records path as written in the config, stripped of its outer dots.
pub(crate) fn normalize_path(path: &str) -> String {
    path.trim().trim_matches('.').to_owned()
}

/// Reads the top-level values of a stream, taking the records of each at
/// the feed's `json.records` path (or the value itself), each of them an
/// array of records or, with `json.keyed_by`, an object of them.
pub(crate) fn read_wrapped(
    src: impl std::io::Read,
    opts: &JsonOptions,
    ctx: &Ctx,
    out: &mut Out<'_>,
) -> Result<(), FormatError> {
    let path: Vec<&str> = path_segments(&opts.records).collect();
    let mut st = Records::new(opts.map_keys);
    let mut de = serde_json::Deserializer::from_reader(src);
    let (mut n, mut sink_error, mut found, mut refusal) = (0u64, None, false, None);
    loop {
        ctx.allow_next_record();
        let seed = PathSeed {
            top: TopSeed { st: &mut st, out: &mut *out, n: &mut n, sink_error: &mut sink_error, ctx },
            at: &path,
            keyed_by: opts.keyed_by.as_deref(),
            found: &mut found,
            refusal: &mut refusal,
        };
        if let Err(e) = seed.deserialize(&mut de) {
            return Err(match refusal {
                Some(reason) => FormatError::Refused { reason },
                None => stream_error(e, ctx, sink_error, n),
            });
        }
        out.keys = st.nodes.len() - 1;
        match de.end() {
            Ok(()) => break,
            Err(e) if e.is_io() => return Err(stream_error(e, ctx, None, n)),
            Err(_) => {}
        }
    }
    if !found {
        return Err(FormatError::Refused {
            reason: format!("json.records {:?} is in no top-level value of the file: nothing to load", opts.records),
        });
    }
    Ok(())
}

/// A value on the way to the records: `at` is the rest of the path.
struct PathSeed<'a, 's, 'p> {
    top: TopSeed<'a, 's>,
    at: &'p [&'p str],
    keyed_by: Option<&'p str>,
    found: &'a mut bool,
    /// Why the file is refused, set before the visitor returns an error.
    refusal: &'a mut Option<String>,
}

impl PathSeed<'_, '_, '_> {
    fn refuse<E: de::Error>(self, holds: &str) -> Result<(), E> {
        let reason = match self.at.first() {
            Some(next) => format!("json.records: the path meets {holds} where it goes on to {next:?}"),
            None if self.keyed_by.is_some() => {
                format!("json.records: the path holds {holds}, not an object of records")
            }
            None => format!(
                "json.records: the path holds {holds}, not an array of records (json.keyed_by reads an object of them)"
            ),
        };
        *self.refusal = Some(reason);
        Err(E::custom("refused"))
    }
}

impl<'de> DeserializeSeed<'de> for PathSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PathSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((&next, rest)) = self.at.split_first() else {
            return match self.keyed_by {
                Some(column) => {
                    *self.found = true;
                    keyed_records(self.top, column, map)
                }
                None => self.refuse("an object"),
            };
        };
        let ctx = self.top.ctx;
        let mut this = Some(self);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match this.take() {
                Some(seed) if key == next => map.next_value_seed(PathSeed { at: rest, ..seed })?,
                other => {
                    this = other;
                    map.next_value_seed(Skip { ctx })?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((&next, rest)) = self.at.split_first() else {
            *self.found = true;
            return self.top.visit_seq(seq).map(drop);
        };
        let Ok(index) = next.parse::<usize>() else {
            return self.refuse("an array");
        };
        for _ in 0..index {
            if seq.next_element_seed(Skip { ctx: self.top.ctx })?.is_none() {
                return Ok(());
            }
        }
        let ctx = self.top.ctx;
        seq.next_element_seed(PathSeed { at: rest, ..self })?;
        while seq.next_element_seed(Skip { ctx })?.is_some() {}
        Ok(())
    }

    // An API that omits an empty list writes null, as an HTTP source's `records:` allows.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.at.is_empty() {
            *self.found = true;
        }
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.refuse("a boolean")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.refuse("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.refuse("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.refuse("a number")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.refuse("a string")
    }
}

/// `{"123": {...}, "124": {...}}`: each value a record, with its key as the
/// value of `column` (the record's own field of that name, if any, wins).
fn keyed_records<'de, A: MapAccess<'de>>(mut top: TopSeed<'_, '_>, column: &str, mut map: A) -> Result<(), A::Error> {
    while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
        top.st.begin();
        if let Key::Child(node) = top.st.child(ROOT, column) {
            let slot = top.st.text(&key);
            top.st.leaf(node, slot);
        }
        let record = map.next_value_seed(RecordSeed { st: &mut *top.st })?;
        top.push(record)?;
    }
    Ok(())
}

/// Skips a value without holding it, lifting the record-size bound per
/// element: what is skipped is never buffered, whatever its size.
struct Skip<'a> {
    ctx: &'a Ctx,
}

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.ctx.allow_next_record();
        while seq.next_element_seed(Skip { ctx: self.ctx })?.is_some() {
            self.ctx.allow_next_record();
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.ctx.allow_next_record();
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Skip { ctx: self.ctx })?;
            self.ctx.allow_next_record();
        }
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// How the records of a JSON file read as one record are laid out, for
/// `landfall infer` to suggest: given that record's columns (their source
/// paths, and the value of each JSON column), the one path holding an array
/// of objects, or keys that are all ids or dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonLayout {
    /// `json.records: <path>`.
    Records(String),
    /// `json.keyed_by: id`: the top-level keys are ids, each value a record.
    KeyedById,
}

impl JsonLayout {
    pub fn suggest<'a>(columns: impl IntoIterator<Item = (&'a str, Option<&'a serde_json::Value>)>) -> Option<Self> {
        let mut arrays = Vec::new();
        let mut keys = std::collections::BTreeSet::new();
        for (path, value) in columns {
            keys.insert(path.split('.').next().unwrap_or(path));
            let records = |items: &Vec<serde_json::Value>| !items.is_empty() && items.iter().all(|v| v.is_object());
            if matches!(value, Some(serde_json::Value::Array(items)) if records(items)) {
                arrays.push(path);
            }
        }
        if keys.len() >= 2 && keys.iter().all(|k| looks_like_data(k)) {
            return Some(JsonLayout::KeyedById);
        }
        match arrays.as_slice() {
            [one] => Some(JsonLayout::Records((*one).to_owned())),
            _ => None,
        }
    }
}
