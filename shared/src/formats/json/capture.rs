//! JSON values kept as text: arrays, objects past the path depth or read
//! as maps, and the records that are not objects, written back compactly
//! as they are read.

use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Writes any value as compact JSON text.
pub(super) struct Capture<'a> {
    pub(super) out: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for Capture<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Capture<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let _ = write!(self.out, "{v}");
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let _ = write!(self.out, "{v}");
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        write_f64(self.out, v);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        write_json_str(self.out, v);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.push_str("null");
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        capture_seq(self.out, seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        capture_map(self.out, map)
    }
}

pub(super) fn capture_seq<'de, A: SeqAccess<'de>>(out: &mut String, mut seq: A) -> Result<(), A::Error> {
    out.push('[');
    let mut first = true;
    loop {
        // The separator goes in before we know whether an element follows.
        let mark = out.len();
        if !first {
            out.push(',');
        }
        match seq.next_element_seed(Capture { out: &mut *out })? {
            Some(()) => first = false,
            None => {
                out.truncate(mark);
                break;
            }
        }
    }
    out.push(']');
    Ok(())
}

pub(super) fn capture_map<'de, A: MapAccess<'de>>(out: &mut String, mut map: A) -> Result<(), A::Error> {
    out.push('{');
    let mut first = true;
    loop {
        let mark = out.len();
        if !first {
            out.push(',');
        }
        match map.next_key_seed(CaptureKey { out: &mut *out })? {
            Some(()) => {
                out.push(':');
                map.next_value_seed(Capture { out: &mut *out })?;
                first = false;
            }
            None => {
                out.truncate(mark);
                break;
            }
        }
    }
    out.push('}');
    Ok(())
}

pub(super) struct CaptureKey<'a> {
    pub(super) out: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for CaptureKey<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for CaptureKey<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        write_json_str(self.out, v);
        Ok(())
    }
}

pub(super) fn write_f64(out: &mut String, v: f64) {
    // serde_json's formatting (shortest round-trip, "1.0" not "1").
    match serde_json::Number::from_f64(v) {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push_str("null"),
    }
}

pub(super) fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices are on char boundaries.
        out.push_str(s.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}
