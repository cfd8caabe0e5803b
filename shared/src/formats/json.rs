//! JSON readers: NDJSON, and streams of top-level values (a pretty-printed
//! object, concatenated objects, or arrays of objects).
//!
//! Records are walked with serde visitors that write straight into per-file
//! buffers: no `serde_json::Value` per record, no allocation per field once
//! the file's keys have been seen. serde_json's recursion limit (128) bounds
//! the nesting, so the walk cannot overflow the stack.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::{BufRead, Read};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use keys::{LATE_AFTER, MAX_KEYS, MAX_LATE_KEYS, MapReason, PastReason, looks_like_data};

use super::encoding::is_json_whitespace;
use super::stream::Ctx;
use super::{FormatError, MAX_RAW_BYTES, MAX_RECORD_BYTES, Out, recycle};
use crate::record::{SinkError, StoredValue, Value};

/// Deeper objects are kept whole, as JSON text.
const MAX_PATH_DEPTH: usize = 32;
const ROOT: u32 = 0;
/// Objects with more keys than this get a hash index on top of the key list.
const INDEX_AFTER: usize = 16;

mod capture;
pub(crate) mod keys;
pub(crate) mod records;
pub(crate) mod rows;

use capture::{Capture, CaptureKey, capture_map, capture_seq, write_f64, write_json_str};

pub(crate) fn read_ndjson(src: impl BufRead, map_keys: usize, ctx: &Ctx, out: &mut Out<'_>) -> Result<(), FormatError> {
    let mut st = Records::new(map_keys);
    each_line(src, ctx, out, |line_no, text, out| {
        st.begin();
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = RecordSeed { st: &mut st }.deserialize(&mut de).and_then(|top| de.end().map(|()| top));
        let result = match parsed {
            Ok(Top::Object) => st.emit(line_no, out, Some(text)),
            Ok(Top::NotObject(kind)) => out.reject(line_no, None, &format!("line is {kind}, not a JSON object"), text),
            Err(e) => out.reject(line_no, None, &describe_line_error(&e), text),
        };
        out.keys = st.nodes.len() - 1;
        result
    })
}

/// Calls `f` with each non-blank line of a JSON-lines file and its number;
/// a line too long or not UTF-8 is rejected here.
fn each_line(
    mut src: impl BufRead,
    ctx: &Ctx,
    out: &mut Out<'_>,
    mut f: impl FnMut(u64, &str, &mut Out<'_>) -> Result<(), SinkError>,
) -> Result<(), FormatError> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = src.by_ref().take(MAX_RECORD_BYTES as u64 + 1).read_until(b'\n', &mut buf).map_err(|e| ctx.fail(e))?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        if buf.len() > MAX_RECORD_BYTES && buf.last() != Some(&b'\n') {
            src.skip_until(b'\n').map_err(|e| ctx.fail(e))?;
            let preview = String::from_utf8_lossy(buf.get(..MAX_RAW_BYTES).unwrap_or(&buf));
            let reason = format!("line is longer than {} MiB", MAX_RECORD_BYTES >> 20);
            out.reject(line_no, None, &reason, &preview)?;
            continue;
        }
        let bytes = trim_line_end(&buf);
        if bytes.iter().all(|&b| is_json_whitespace(b)) {
            continue;
        }
        // SIMD validation here lets serde_json read the line with from_str, which validates nothing twice.
        match simdutf8::compat::from_utf8(bytes) {
            Ok(text) => f(line_no, text, out)?,
            Err(e) => {
                let reason = format!(
                    "not valid UTF-8 at byte {} of the line; set format.encoding (for example windows-1252) in the feed",
                    e.valid_up_to()
                );
                out.reject(line_no, None, &reason, &String::from_utf8_lossy(bytes))?;
            }
        }
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// serde_json's message without the "line 1" that every single-line parse has.
fn describe_line_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = msg.replace(" at line 1 column ", " at column ");
    if msg.starts_with("recursion limit exceeded") {
        format!("JSON nested deeper than 128 levels ({msg})")
    } else {
        format!("malformed JSON: {msg}")
    }
}

/// Reads whitespace-separated top-level values: each object is a record, each
/// array holds records. Records are numbered 1.. across the whole file.
pub(crate) fn read_json_stream(
    src: impl Read,
    map_keys: usize,
    ctx: &Ctx,
    out: &mut Out<'_>,
) -> Result<(), FormatError> {
    let mut st = Records::new(map_keys);
    let mut de = serde_json::Deserializer::from_reader(src);
    let mut n = 0u64;
    let mut sink_error = None;
    let mut first = true;
    ctx.allow_next_record();
    loop {
        let seed = TopSeed { st: &mut st, out: &mut *out, n: &mut n, sink_error: &mut sink_error, ctx };
        match seed.deserialize(&mut de) {
            Ok(TopValue::Records) => {}
            Ok(TopValue::Scalar(kind)) if first => {
                return Err(FormatError::unreadable(
                    format!("JSON top level is {kind}; expected an object or an array of objects"),
                    Some(1),
                ));
            }
            Ok(TopValue::Scalar(kind)) => {
                n += 1;
                out.reject(n, None, &format!("record is {kind}, not a JSON object"), &st.arena)?;
            }
            Err(e) => return Err(stream_error(e, ctx, sink_error, n)),
        }
        out.keys = st.nodes.len() - 1;
        first = false;
        ctx.allow_next_record();
        match de.end() {
            Ok(()) => return Ok(()),
            Err(e) if e.is_io() => return Err(stream_error(e, ctx, None, n)),
            // Trailing characters: the next top-level value.
            Err(_) => {}
        }
    }
}

fn stream_error(e: serde_json::Error, ctx: &Ctx, sink_error: Option<SinkError>, n: u64) -> FormatError {
    if let Some(sink_error) = sink_error {
        return FormatError::Sink(sink_error);
    }
    let line = Some(e.line() as u64);
    if e.is_io() {
        if let Some(source) = ctx.take_source_error() {
            return FormatError::Source(source);
        }
        if ctx.limit_hit() {
            return FormatError::unreadable(
                format!("JSON record {} is larger than {} MiB", n + 1, MAX_RECORD_BYTES >> 20),
                None,
            );
        }
        return ctx.fail(e.into());
    }
    let msg = e.to_string();
    let reason = if msg.starts_with("recursion limit exceeded") {
        format!("JSON nested deeper than 128 levels after record {n}: {msg}")
    } else {
        format!("malformed JSON after record {n}: {msg}")
    };
    FormatError::unreadable(reason, line)
}

/// A key path seen in this file; node 0 is the record itself.
struct Node {
    key: Box<str>,
    parent: u32,
    column: Option<usize>,
    children: Vec<u32>,
    /// Key -> position in `children`, for objects with many keys.
    index: Option<HashMap<Box<str>, usize>>,
    /// Where the next key is expected: records of one file mostly repeat
    /// their keys in the same order, which makes the lookup one comparison.
    hint: usize,
    /// Record in which this node last got a value, and where it is in
    /// `pending`, so that a repeated key replaces the earlier value.
    stamp: u64,
    slot: usize,
    /// A map: its whole value is one JSON column (see [`keys`]).
    map: bool,
}

impl Node {
    fn new(key: Box<str>, parent: u32) -> Self {
        Self { key, parent, column: None, children: Vec::new(), index: None, hint: 0, stamp: 0, slot: 0, map: false }
    }
}

/// What a key of the record being walked is.
enum Key {
    Child(u32),
    /// Its object just became a map; the key is at the end of `Records::spill`.
    MapFrom,
    /// A new key past [`MAX_KEYS`]: the record is rejected.
    Past,
}

/// Per-file state of the record walk, reused across records.
struct Records {
    nodes: Vec<Node>,
    /// Text of the current record's strings and JSON-text values.
    arena: String,
    pending: Vec<(u32, StoredValue)>,
    stamp: u64,
    spare: Vec<(usize, Value<'static>)>,
    /// Distinct keys past which a nested object is a map.
    map_keys: usize,
    /// Objects that became maps in the current record, told once in the notes.
    became_maps: Vec<(u32, MapReason)>,
    /// The current record's first key the registry refused, and why.
    past: Option<(Box<str>, PastReason)>,
    /// Top-level keys first seen after record [`LATE_AFTER`].
    late_keys: usize,
    /// The text of an object that became a map midway, as it is rebuilt.
    spill: String,
}

impl Records {
    fn new(map_keys: usize) -> Self {
        Self {
            nodes: vec![Node::new("".into(), ROOT)],
            arena: String::with_capacity(64 * 1024),
            pending: Vec::with_capacity(64),
            stamp: 0,
            spare: Vec::with_capacity(64),
            map_keys: map_keys.max(1),
            became_maps: Vec::new(),
            past: None,
            late_keys: 0,
            spill: String::new(),
        }
    }

    fn begin(&mut self) {
        self.arena.clear();
        self.pending.clear();
        self.stamp += 1;
        self.past = None;
    }

    /// The registry's answer for a key it does not hold yet: a new node, a
    /// map (a nested object with a data-like key or too many keys), or past
    /// the file's bound.
    fn new_key(&mut self, parent: u32, key: &str) -> Key {
        let p = parent as usize;
        if parent != ROOT {
            let reason = if looks_like_data(key) {
                Some(MapReason::DataKey(key.into()))
            } else if self.nodes[p].children.len() >= self.map_keys {
                Some(MapReason::ManyKeys(self.map_keys))
            } else {
                None
            };
            if let Some(reason) = reason {
                self.nodes[p].map = true;
                self.became_maps.push((parent, reason));
                self.spill.clear();
                write_json_str(&mut self.spill, key);
                return Key::MapFrom;
            }
        }
        let refused = if self.nodes.len() > MAX_KEYS {
            Some(PastReason::Registry)
        } else if parent == ROOT && self.stamp > LATE_AFTER {
            self.late_keys += 1;
            (self.late_keys > MAX_LATE_KEYS).then_some(PastReason::Late(self.stamp))
        } else {
            None
        };
        if let Some(why) = refused {
            self.past.get_or_insert_with(|| (key.into(), why));
            return Key::Past;
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node::new(key.into(), parent));
        let node = &mut self.nodes[p];
        node.children.push(id);
        let pos = node.children.len() - 1;
        if let Some(index) = &mut node.index {
            index.insert(key.into(), pos);
        } else if node.children.len() > INDEX_AFTER {
            let children = node.children.clone();
            let index = children.iter().enumerate().map(|(i, &c)| (self.nodes[c as usize].key.clone(), i)).collect();
            self.nodes[p].index = Some(index);
        }
        node_hint(&mut self.nodes[p], pos);
        Key::Child(id)
    }

    fn child(&mut self, parent: u32, key: &str) -> Key {
        let p = parent as usize;
        let hinted = self.nodes[p].children.get(self.nodes[p].hint).copied();
        if let Some(c) = hinted
            && *self.nodes[c as usize].key == *key
        {
            self.nodes[p].hint += 1;
            return Key::Child(c);
        }
        let found = match &self.nodes[p].index {
            Some(index) => index.get(key).copied(),
            None => self.nodes[p].children.iter().position(|&c| *self.nodes[c as usize].key == *key),
        };
        match found {
            Some(pos) => {
                node_hint(&mut self.nodes[p], pos);
                Key::Child(self.nodes[p].children[pos])
            }
            None => self.new_key(parent, key),
        }
    }

    /// Drops the current record's values from `pending[start..]` (their
    /// nodes forget they hold one), after they were rendered into a map.
    fn forget_from(&mut self, start: usize) {
        for i in start..self.pending.len() {
            let node = self.pending[i].0 as usize;
            self.nodes[node].stamp = 0;
        }
        self.pending.truncate(start);
    }

    fn leaf(&mut self, node: u32, slot: StoredValue) {
        let n = &mut self.nodes[node as usize];
        if n.stamp == self.stamp
            && let Some(earlier) = self.pending.get_mut(n.slot)
        {
            earlier.1 = slot;
            return;
        }
        n.stamp = self.stamp;
        n.slot = self.pending.len();
        self.pending.push((node, slot));
    }

    fn text(&mut self, s: &str) -> StoredValue {
        let start = self.arena.len();
        self.arena.push_str(s);
        StoredValue::Text(start, self.arena.len())
    }

    fn path(&self, mut node: u32) -> Vec<&str> {
        let mut path = Vec::new();
        while node != ROOT {
            let n = &self.nodes[node as usize];
            path.push(&*n.key);
            node = n.parent;
        }
        path.reverse();
        path
    }

    /// Pushes the walked record. `raw_line` is its source text when at hand
    /// (NDJSON); otherwise a reject gets a re-rendering.
    fn emit(&mut self, line: u64, out: &mut Out<'_>, raw_line: Option<&str>) -> Result<(), SinkError> {
        for (node, reason) in std::mem::take(&mut self.became_maps) {
            let path = self.path(node).join(".");
            out.note(format!(
                "object {path} is kept whole as one JSON column from line {line} on: {}",
                reason.explain()
            ));
        }
        if let Some((key, why)) = &self.past {
            let reason = why.explain(key);
            return match raw_line {
                Some(text) => out.reject(line, None, &reason, text),
                None => out.reject(line, None, &reason, &self.render()),
            };
        }
        for i in 0..self.pending.len() {
            let node = self.pending[i].0;
            if self.nodes[node as usize].column.is_none() {
                let column = out.column_for_path(&self.path(node));
                self.nodes[node as usize].column = Some(column);
            }
        }
        let mut values = recycle(std::mem::take(&mut self.spare));
        for &(node, slot) in &self.pending {
            if let Some(column) = self.nodes[node as usize].column {
                values.push((column, slot.get(&self.arena)));
            }
        }
        let this = &*self;
        let result = match raw_line {
            Some(text) => out.record(line, &values, &|| text.to_owned()),
            None => out.record(line, &values, &|| this.render()),
        };
        self.spare = recycle(values);
        result
    }

    /// The current record as compact JSON, nesting rebuilt from the paths.
    fn render(&self) -> String {
        let mut s = String::new();
        self.render_into(&mut s, ROOT, &self.pending, MAX_RAW_BYTES);
        s
    }

    /// Writes `entries` (values below `base`) as one JSON object, nesting
    /// rebuilt from the paths; stops adding entries once past `limit` bytes.
    fn render_into(&self, s: &mut String, base: u32, entries: &[(u32, StoredValue)], limit: usize) {
        s.push('{');
        let mut open: Vec<u32> = Vec::new();
        let mut need_comma = vec![false];
        let comma = |s: &mut String, need_comma: &mut Vec<bool>| {
            if let Some(last) = need_comma.last_mut() {
                if *last {
                    s.push(',');
                }
                *last = true;
            }
        };
        for &(node, slot) in entries {
            let mut path = Vec::new();
            let mut n = node;
            while n != base {
                path.push(n);
                n = self.nodes[n as usize].parent;
            }
            path.reverse();
            let parents = path.get(..path.len().saturating_sub(1)).unwrap_or_default();
            let common = open.iter().zip(parents).take_while(|(a, b)| a == b).count();
            while open.len() > common {
                open.pop();
                need_comma.pop();
                s.push('}');
            }
            for &p in parents.get(common..).unwrap_or_default() {
                comma(s, &mut need_comma);
                write_json_str(s, &self.nodes[p as usize].key);
                s.push_str(":{");
                open.push(p);
                need_comma.push(false);
            }
            comma(s, &mut need_comma);
            write_json_str(s, &self.nodes[node as usize].key);
            s.push(':');
            match slot.get(&self.arena) {
                Value::Null => s.push_str("null"),
                Value::Bool(b) => s.push_str(if b { "true" } else { "false" }),
                Value::Int(i) => {
                    let _ = write!(s, "{i}");
                }
                Value::Float(f) => write_f64(s, f),
                Value::Text(t) => write_json_str(s, t),
                Value::Json(j) => s.push_str(j),
            }
            if s.len() > limit {
                break;
            }
        }
        for _ in open {
            s.push('}');
        }
        s.push('}');
    }
}

fn node_hint(node: &mut Node, pos: usize) {
    node.hint = pos + 1;
}

fn walk_map<'de, A: MapAccess<'de>>(st: &mut Records, node: u32, depth: usize, mut map: A) -> Result<(), A::Error> {
    let start = st.pending.len();
    while let Some(key) = map.next_key_seed(KeySeed { st: &mut *st, parent: node })? {
        match key {
            Key::Child(child) => map.next_value_seed(FieldSeed { st: &mut *st, node: child, depth: depth + 1 })?,
            Key::Past => map.next_value::<IgnoredAny>().map(drop)?,
            Key::MapFrom => return keep_rest_whole(st, node, start, map),
        }
    }
    Ok(())
}

/// The object at `node` became a map midway through this record: what was
/// read of it is rendered back to JSON, the key just read and the rest are
/// captured after it, and the whole object is one value.
fn keep_rest_whole<'de, A: MapAccess<'de>>(
    st: &mut Records,
    node: u32,
    start: usize,
    mut map: A,
) -> Result<(), A::Error> {
    let key = std::mem::take(&mut st.spill);
    let mut text = String::new();
    st.render_into(&mut text, node, &st.pending[start..], usize::MAX);
    st.forget_from(start);
    text.pop();
    if text.len() > 1 {
        text.push(',');
    }
    text.push_str(&key);
    text.push(':');
    map.next_value_seed(Capture { out: &mut text })?;
    loop {
        let mark = text.len();
        text.push(',');
        if map.next_key_seed(CaptureKey { out: &mut text })?.is_none() {
            text.truncate(mark);
            break;
        }
        text.push(':');
        map.next_value_seed(Capture { out: &mut text })?;
    }
    text.push('}');
    let begin = st.arena.len();
    st.arena.push_str(&text);
    let end = st.arena.len();
    st.leaf(node, StoredValue::Json(begin, end));
    Ok(())
}

struct KeySeed<'a> {
    st: &'a mut Records,
    parent: u32,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(self.st.child(self.parent, key))
    }
}

/// The value of a record field at `node` (path length `depth`).
struct FieldSeed<'a> {
    st: &'a mut Records,
    node: u32,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.st.leaf(self.node, StoredValue::Bool(v));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.st.leaf(self.node, StoredValue::Int(v));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let slot = i64::try_from(v).map_or(StoredValue::Float(v as f64), StoredValue::Int);
        self.st.leaf(self.node, slot);
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.st.leaf(self.node, StoredValue::Float(v));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        let slot = self.st.text(v);
        self.st.leaf(self.node, slot);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.st.leaf(self.node, StoredValue::Null);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let start = self.st.arena.len();
        capture_seq(&mut self.st.arena, seq)?;
        let end = self.st.arena.len();
        self.st.leaf(self.node, StoredValue::Json(start, end));
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        if self.depth >= MAX_PATH_DEPTH || self.st.nodes[self.node as usize].map {
            let start = self.st.arena.len();
            capture_map(&mut self.st.arena, map)?;
            let end = self.st.arena.len();
            self.st.leaf(self.node, StoredValue::Json(start, end));
            Ok(())
        } else {
            walk_map(self.st, self.node, self.depth, map)
        }
    }
}

enum Top {
    Object,
    NotObject(&'static str),
}

/// One record: an object is walked; anything else is captured as text into
/// the arena for the reject.
struct RecordSeed<'a> {
    st: &'a mut Records,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Top;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Top;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Top, A::Error> {
        walk_map(self.st, ROOT, 0, map)?;
        Ok(Top::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Top, A::Error> {
        capture_seq(&mut self.st.arena, seq)?;
        Ok(Top::NotObject("an array"))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Top, E> {
        Capture { out: &mut self.st.arena }.visit_bool::<E>(v)?;
        Ok(Top::NotObject("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Top, E> {
        Capture { out: &mut self.st.arena }.visit_i64::<E>(v)?;
        Ok(Top::NotObject("a number"))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Top, E> {
        Capture { out: &mut self.st.arena }.visit_u64::<E>(v)?;
        Ok(Top::NotObject("a number"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Top, E> {
        Capture { out: &mut self.st.arena }.visit_f64::<E>(v)?;
        Ok(Top::NotObject("a number"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Top, E> {
        Capture { out: &mut self.st.arena }.visit_str::<E>(v)?;
        Ok(Top::NotObject("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
        Capture { out: &mut self.st.arena }.visit_unit::<E>()?;
        Ok(Top::NotObject("null"))
    }
}

enum TopValue {
    /// An object or an array: its records went to the sink.
    Records,
    /// A scalar at the top level, captured in the arena.
    Scalar(&'static str),
}

/// One top-level value of a stream.
struct TopSeed<'a, 's> {
    st: &'a mut Records,
    out: &'a mut Out<'s>,
    /// Records so far.
    n: &'a mut u64,
    /// Set when the sink fails; the visitor can only return a serde error.
    sink_error: &'a mut Option<SinkError>,
    ctx: &'a Ctx,
}

impl TopSeed<'_, '_> {
    fn push<E: de::Error>(&mut self, top: Top) -> Result<(), E> {
        *self.n += 1;
        let result = match top {
            Top::Object => self.st.emit(*self.n, self.out, None),
            Top::NotObject(kind) => {
                self.out.reject(*self.n, None, &format!("record is {kind}, not a JSON object"), &self.st.arena)
            }
        };
        self.ctx.allow_next_record();
        result.map_err(|e| {
            *self.sink_error = Some(e);
            E::custom("the sink failed")
        })
    }

    fn scalar(self, kind: &'static str, write: impl FnOnce(Capture<'_>)) -> TopValue {
        self.st.begin();
        write(Capture { out: &mut self.st.arena });
        TopValue::Scalar(kind)
    }
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_> {
    type Value = TopValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TopValue, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, '_> {
    type Value = TopValue;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<TopValue, A::Error> {
        self.st.begin();
        walk_map(self.st, ROOT, 0, map)?;
        self.push(Top::Object)?;
        Ok(TopValue::Records)
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<TopValue, A::Error> {
        loop {
            self.st.begin();
            match seq.next_element_seed(RecordSeed { st: &mut *self.st })? {
                Some(top) => self.push(top)?,
                None => return Ok(TopValue::Records),
            }
        }
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<TopValue, E> {
        Ok(self.scalar("a boolean", |c| {
            let _ = c.visit_bool::<E>(v);
        }))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<TopValue, E> {
        Ok(self.scalar("a number", |c| {
            let _ = c.visit_i64::<E>(v);
        }))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<TopValue, E> {
        Ok(self.scalar("a number", |c| {
            let _ = c.visit_u64::<E>(v);
        }))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<TopValue, E> {
        Ok(self.scalar("a number", |c| {
            let _ = c.visit_f64::<E>(v);
        }))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<TopValue, E> {
        Ok(self.scalar("a string", |c| {
            let _ = c.visit_str::<E>(v);
        }))
    }
    fn visit_unit<E: de::Error>(self) -> Result<TopValue, E> {
        Ok(self.scalar("null", |c| {
            let _ = c.visit_unit::<E>();
        }))
    }
}

#[cfg(test)]
mod tests;
