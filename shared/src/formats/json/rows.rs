//! JSON lines that are positional arrays under a header line
//! (`["asin","brand"]` then `["B0001","Acme"]`): read as a CSV file is,
//! each value typed as JSON types it.

use std::io::BufRead;

use serde_json::Value as Json;

use super::super::stream::Ctx;
use super::super::{FormatError, Out};
use super::{describe_line_error, each_line};
use crate::record::Value;

/// Whether `line` is a header of such a file: an array of strings, at least one.
pub(crate) fn is_header_line(line: &[u8]) -> bool {
    serde_json::from_slice::<Vec<String>>(line).is_ok_and(|names| !names.is_empty())
}

pub(crate) fn read_array_lines(src: impl BufRead, ctx: &Ctx, out: &mut Out<'_>) -> Result<(), FormatError> {
    let mut width = None;
    let mut header_error = None;
    each_line(src, ctx, out, |line_no, text, out| {
        let Some(width) = width else {
            match serde_json::from_str::<Vec<String>>(text) {
                Ok(names) => {
                    width = Some(names.len());
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    return out.header(&names);
                }
                Err(e) => {
                    header_error = Some((line_no, describe_line_error(&e)));
                    return Err(crate::record::SinkError::fatal("the header line is not an array of names"));
                }
            }
        };
        let values = match serde_json::from_str::<Vec<Json>>(text) {
            Ok(values) => values,
            Err(e) => return out.reject(line_no, None, &describe_line_error(&e), text),
        };
        if values.len() != width {
            let reason = format!("line has {} values; the header names {width}", values.len());
            return out.reject(line_no, None, &reason, text);
        }
        // Nested arrays and objects are kept whole, as JSON text.
        let nested: Vec<Option<String>> =
            values.iter().map(|v| (v.is_array() || v.is_object()).then(|| v.to_string())).collect();
        let row: Vec<(usize, Value<'_>)> =
            values.iter().zip(&nested).enumerate().map(|(i, (v, json))| (i, value(v, json.as_deref()))).collect();
        out.record(line_no, &row, &|| text.to_owned())
    })
    .map_err(|e| match header_error {
        Some((line, reason)) => {
            FormatError::unreadable(format!("header line is not an array of names: {reason}"), Some(line))
        }
        None => e,
    })
}

fn value<'a>(v: &'a Json, nested: Option<&'a str>) -> Value<'a> {
    match (v, nested) {
        (_, Some(json)) => Value::Json(json),
        (Json::Null, _) => Value::Null,
        (Json::Bool(b), _) => Value::Bool(*b),
        (Json::Number(n), _) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => n.as_f64().map_or(Value::Null, Value::Float),
        },
        (Json::String(s), _) => Value::Text(s),
        (Json::Array(_) | Json::Object(_), None) => Value::Null,
    }
}
