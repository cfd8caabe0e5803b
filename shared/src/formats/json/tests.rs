//! The JSON reader's tests: NDJSON, arrays, nesting, errors with their lines.

use super::super::testutil::*;
use super::super::*;
use std::io::Write;

fn named(sink: &Collect) -> Vec<Vec<(String, V)>> {
    sink.named().into_iter().map(|(_, v)| v).collect()
}

fn nv(pairs: &[(&str, V)]) -> Vec<(String, V)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn ndjson_types_and_lines() {
    let data = b"{\"s\":\"x\",\"i\":-5,\"f\":1.5,\"b\":true,\"n\":null,\"e\":\"a\\\"b\\u00e9\"}\n{\"i\":7}\n";
    let (s, sink) = read_ok(data, "x.jsonl");
    assert_eq!(s.format, DetectedFormat::Ndjson);
    assert_eq!(sink.lines(), vec![1, 2]);
    assert_eq!(
        named(&sink)[0],
        nv(&[
            ("s", t("x")),
            ("i", V::Int(-5)),
            ("f", V::Float(1.5)),
            ("b", V::Bool(true)),
            ("n", V::Null),
            ("e", t("a\"bé"))
        ])
    );
    assert_eq!(sink.records[1].1, vec![(1, V::Int(7))]);
    assert_eq!(sink.raws[1], "{\"i\":7}");
}

#[test]
fn ndjson_malformed_line_in_the_middle() {
    let data = b"{\"a\":1}\n{\"a\":2,,}\n\n[1,2]\n42\n{\"a\":3} x\n{\"a\":4}\n";
    let (s, sink) = read_ok(data, "x.ndjson");
    assert_eq!(s.records, 2);
    assert_eq!(s.rejected, 4);
    assert_eq!(sink.lines(), vec![1, 7]);
    let r: Vec<_> = sink.rejects.iter().map(|r| (r.line, r.reason.as_str(), r.raw.as_str())).collect();
    assert_eq!(r[0], (2, "malformed JSON: key must be a string at column 8", "{\"a\":2,,}"));
    assert_eq!(r[1], (4, "line is an array, not a JSON object", "[1,2]"));
    assert_eq!(r[2], (5, "line is a number, not a JSON object", "42"));
    assert_eq!(r[3].0, 6);
    assert!(r[3].1.starts_with("malformed JSON: trailing characters"), "{}", r[3].1);
}

#[test]
fn ndjson_crlf_and_no_final_newline() {
    let (s, sink) = read_ok(b"{\"a\":\"x\"}\r\n\r\n{\"a\":\"y\"}\r\n{\"a\":\"z\"}", "x.jsonl");
    assert_eq!(s.records, 3);
    assert_eq!(sink.lines(), vec![1, 3, 4]);
    assert_eq!(sink.records[2].1, vec![(0, t("z"))]);
    assert_eq!(sink.raws[0], "{\"a\":\"x\"}");
}

#[test]
fn ndjson_invalid_utf8_line_rejected() {
    let mut data = Vec::new();
    for i in 0..10_000 {
        writeln!(data, "{{\"i\":{i}}}").unwrap();
    }
    data.extend_from_slice(b"{\"s\":\"caf\xe9\"}\n{\"i\":-1}\n");
    let (s, sink) = read_ok(&data, "x.jsonl");
    assert_eq!(s.records, 10_001);
    assert_eq!(sink.rejects[0].line, 10_001);
    assert!(sink.rejects[0].reason.starts_with("not valid UTF-8 at byte 9 of the line"));
}

#[test]
fn nested_objects_flatten_to_paths() {
    let data = br#"{"id":1,"device":{"os":"iOS","screen":{"w":390,"h":844}},"geo":{"country":"DE"}}
{"geo":{"country":"FR","city":"Paris"},"id":2}
"#;
    let (_, sink) = read_ok(data, "x.jsonl");
    assert_eq!(
        sink.columns,
        vec!["id", "device__os", "device__screen__w", "device__screen__h", "geo__country", "geo__city"]
    );
    assert_eq!(named(&sink)[1], nv(&[("geo__country", t("FR")), ("geo__city", t("Paris")), ("id", V::Int(2))]));
}

#[test]
fn arrays_are_json_text() {
    let data = br#"{"tags":["a","b\"c"],"m":[1,2.5,{"x":null},[]],"e":[],"o":{"list":[true]}}"#;
    let (_, sink) = read_ok(data, "x.json");
    assert_eq!(
        named(&sink)[0],
        nv(&[
            ("tags", V::Json(r#"["a","b\"c"]"#.into())),
            ("m", V::Json(r#"[1,2.5,{"x":null},[]]"#.into())),
            ("e", V::Json("[]".into())),
            ("o__list", V::Json("[true]".into())),
        ])
    );
}

#[test]
fn numbers() {
    let (s, sink) = read_ok(b"{\"a\":1}\n{\"huge\":1e400}\n", "x.jsonl");
    assert_eq!(s.records, 1);
    assert!(sink.rejects[0].reason.contains("number out of range"), "{:?}", sink.rejects);

    let data = br#"{"big":12345678901234567890,"max":9223372036854775807,"min":-9223372036854775808,"neg_big":-9223372036854775809,"f":0.1,"e":1e3,"z":0}"#;
    let (_, sink) = read_ok(data, "x.json");
    assert_eq!(
        named(&sink)[0],
        nv(&[
            ("big", V::Float(12345678901234567890.0)),
            ("max", V::Int(i64::MAX)),
            ("min", V::Int(i64::MIN)),
            ("neg_big", V::Float(-9223372036854775809.0)),
            ("f", V::Float(0.1)),
            ("e", V::Float(1000.0)),
            ("z", V::Int(0)),
        ])
    );
}

#[test]
fn array_streamed_with_rejects_and_raw() {
    let data = br#"[
  {"a": 1, "n": {"x": "q\"", "y": [1]}},
  "oops",
  {"a": 3, "n": {"x": null}, "b": true},
  [1, 2]
]"#;
    let (s, sink) = read_ok(data, "x.json");
    assert_eq!(s.format, DetectedFormat::JsonArray);
    assert_eq!(s.records, 2);
    assert_eq!(sink.lines(), vec![1, 3]);
    assert_eq!(sink.rejects[0].line, 2);
    assert_eq!(sink.rejects[0].reason, "record is a string, not a JSON object");
    assert_eq!(sink.rejects[0].raw, "\"oops\"");
    assert_eq!(sink.rejects[1].line, 4);
    assert_eq!(sink.rejects[1].raw, "[1,2]");
    assert_eq!(sink.raws[0], r#"{"a":1,"n":{"x":"q\"","y":[1]}}"#);
    assert_eq!(sink.raws[1], r#"{"a":3,"n":{"x":null},"b":true}"#);
}

#[test]
fn array_syntax_error_midway() {
    let data = b"[{\"a\":1},\n{\"a\":2},\n{\"a\":3,,},\n{\"a\":4}]";
    let (res, sink) = read_with(data, "x.json", &ReadOptions::default());
    assert_eq!(sink.records.len(), 2);
    match res {
        Err(FormatError::Unreadable { reason, line }) => {
            assert!(reason.starts_with("malformed JSON after record 2: "), "{reason}");
            assert_eq!(line, Some(3));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_array() {
    let (res, sink) = read_with(b"[{\"a\":1},{\"a\":", "x.json", &ReadOptions::default());
    assert_eq!(sink.records.len(), 1);
    let msg = res.unwrap_err().to_string();
    assert!(msg.starts_with("malformed JSON after record 1: EOF while parsing"), "{msg}");
}

#[test]
fn pretty_printed_single_object() {
    let data = b"{\n  \"id\": 7,\n  \"user\": {\n    \"name\": \"Ann\"\n  }\n}\n";
    let (s, sink) = read_ok(data, "x.json");
    assert_eq!(s.format, DetectedFormat::JsonStream);
    assert_eq!(sink.lines(), vec![1]);
    assert_eq!(named(&sink)[0], nv(&[("id", V::Int(7)), ("user__name", t("Ann"))]));
}

#[test]
fn concatenated_objects_and_arrays() {
    let data = b"{\"a\":1}{\"a\":2}\n{\n\"a\":3\n} [{\"a\":4},{\"a\":5}] 6";
    let (s, sink) = read_ok(data, "x.json");
    assert_eq!(s.format, DetectedFormat::JsonStream);
    assert_eq!(sink.lines(), vec![1, 2, 3, 4, 5]);
    assert_eq!(sink.rejects.len(), 1);
    assert_eq!((sink.rejects[0].line, sink.rejects[0].raw.as_str()), (6, "6"));
}

#[test]
fn duplicate_keys_last_wins() {
    let (_, sink) = read_ok(br#"{"a":1,"b":2,"a":3}"#, "x.json");
    assert_eq!(named(&sink)[0], nv(&[("a", V::Int(3)), ("b", V::Int(2))]));
}

#[test]
fn key_order_changes_and_many_keys() {
    let mut data = String::new();
    for r in 0..3 {
        data.push('{');
        let keys: Vec<String> = (0..40).map(|k| format!("\"k{}\":{k}", (k * 7 + r * 13) % 40)).collect();
        data.push_str(&keys.join(","));
        data.push_str("}\n");
    }
    let (_, sink) = read_ok(data.as_bytes(), "x.jsonl");
    assert_eq!(sink.columns.len(), 40);
    for (r, (_, rec)) in sink.named().into_iter().enumerate() {
        assert_eq!(rec.len(), 40);
        for (name, v) in rec {
            let j: usize = name[1..].parse().unwrap();
            let V::Int(k) = v else { panic!("{v:?}") };
            assert_eq!((k as usize * 7 + r * 13) % 40, j);
        }
    }
}

#[test]
fn deep_objects_past_the_path_limit_become_json() {
    let depth = 40;
    let mut data = String::new();
    for _ in 0..depth {
        data.push_str("{\"a\":");
    }
    data.push('1');
    for _ in 0..depth {
        data.push('}');
    }
    let (_, sink) = read_ok(data.as_bytes(), "x.json");
    assert_eq!(sink.columns.len(), 1);
    assert_eq!(sink.columns[0].split("__").count(), 32);
    let V::Json(rest) = &sink.records[0].1[0].1 else { panic!("{:?}", sink.records) };
    let inner = depth - 32;
    assert_eq!(rest, &format!("{}1{}", "{\"a\":".repeat(inner), "}".repeat(inner)));
}

fn deep(open: &str, close: &str, n: usize) -> String {
    format!("{}{}{}", open.repeat(n), "1", close.repeat(n))
}

#[test]
fn deep_nesting_100k_never_crashes() {
    // Runs on a small stack on purpose: the walk must stay within serde_json's recursion limit.
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            let arrays = deep("[", "]", 100_000);
            let objects = deep("{\"a\":", "}", 100_000);
            let at_limit = deep("{\"a\":", "}", 127);

            let nd = format!("{{\"ok\":1}}\n{{\"x\":{arrays}}}\n{objects}\n{arrays}\n{at_limit}\n{{\"ok\":2}}\n");
            let (s, sink) = read_ok(nd.as_bytes(), "x.jsonl");
            assert_eq!(s.format, DetectedFormat::Ndjson);
            assert_eq!(sink.lines(), vec![1, 5, 6]);
            assert_eq!(sink.rejects.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 3, 4]);
            assert!(
                sink.rejects[0].reason.starts_with("JSON nested deeper than 128 levels"),
                "{}",
                sink.rejects[0].reason
            );
            assert!(sink.rejects.iter().all(|r| r.raw.len() <= MAX_RAW_BYTES));

            let arr = format!("[{{\"ok\":1}},{objects}]");
            let (reason, _) = read_err(arr.as_bytes(), "x.json");
            assert!(reason.starts_with("JSON nested deeper than 128 levels after record 1"), "{reason}");

            let (reason, _) = read_err(objects.as_bytes(), "x.json");
            assert!(reason.contains("nested deeper than 128"), "{reason}");
            let (reason, _) = read_err(arrays.as_bytes(), "x.json");
            assert!(reason.contains("nested deeper than 128"), "{reason}");

            let csv_like = format!("a\n{arrays}\n");
            let (s, _) = read_ok(csv_like.as_bytes(), "x.csv");
            assert_eq!(s.records, 1);
        })
        .unwrap();
    handle.join().expect("deep nesting crashed");
}

#[test]
fn raw_text_is_truncated() {
    let long = "x".repeat(100_000);
    let data = format!("{{\"a\":1}}\n[\"{long}\"]\n");
    let (_, sink) = read_ok(data.as_bytes(), "x.jsonl");
    assert_eq!(sink.rejects[0].raw.len(), MAX_RAW_BYTES);
    let data = format!("[\"{long}\"]");
    let (_, sink) = read_ok(format!("[{data}]").as_bytes(), "x.json");
    assert_eq!(sink.rejects[0].raw.len(), MAX_RAW_BYTES);
}

#[test]
fn huge_ndjson_line_is_rejected_and_skipped() {
    let mut data = b"{\"a\":1}\n{\"a\":\"".to_vec();
    data.resize(data.len() + MAX_RECORD_BYTES + 10, b'x');
    data.extend_from_slice(b"\"}\n{\"a\":3}\n");
    let (s, sink) = read_ok(&data, "x.jsonl");
    assert_eq!(s.records, 2);
    assert_eq!(sink.lines(), vec![1, 3]);
    assert_eq!(sink.rejects[0].line, 2);
    assert_eq!(sink.rejects[0].reason, "line is longer than 64 MiB");
}

#[test]
fn huge_array_element_is_unreadable() {
    let mut data = b"[{\"a\":1},{\"a\":\"".to_vec();
    data.resize(data.len() + MAX_RECORD_BYTES + 2 * BUF_SIZE, b'x');
    data.extend_from_slice(b"\"}]");
    let (res, sink) = read_with(&data, "x.json", &ReadOptions::default());
    assert_eq!(sink.records.len(), 1);
    assert_eq!(res.unwrap_err().to_string(), "JSON record 2 is larger than 64 MiB");
}

#[test]
fn escaping_round_trips() {
    let mut s = String::new();
    super::write_json_str(&mut s, "a\"b\\c\nd\u{1}é\u{7f}");
    assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\u{7f}\"");
    let back: String = serde_json::from_str(&s).unwrap();
    assert_eq!(back, "a\"b\\c\nd\u{1}é\u{7f}");
}

#[test]
fn empty_objects_and_array_files() {
    let (s, sink) = read_ok(b"[]", "x.json");
    assert_eq!(s.records, 0);
    assert!(sink.records.is_empty());
    let (s, sink) = read_ok(b"{}\n{\"a\":{}}\n", "x.jsonl");
    assert_eq!(s.records, 2);
    assert!(sink.records.iter().all(|(_, v)| v.is_empty()));
}

#[test]
fn an_object_keyed_by_ids_is_one_json_column_from_the_first_record() {
    let data = "{\"id\":1,\"tier_and_details\":{\"5ca4bbc1a2dd94ee58161cb1\":{\"tier\":\"gold\"}}}\n\
                {\"id\":2,\"tier_and_details\":{\"5ca4bbc1a2dd94ee58161cb2\":{\"tier\":\"silver\"},\"x\":1}}\n";
    let (s, sink) = read_ok(data.as_bytes(), "x.jsonl");
    assert_eq!(sink.columns, vec!["id", "tier_and_details"]);
    assert_eq!(
        named(&sink)[1],
        nv(&[
            ("id", V::Int(2)),
            ("tier_and_details", V::Json("{\"5ca4bbc1a2dd94ee58161cb2\":{\"tier\":\"silver\"},\"x\":1}".into()))
        ])
    );
    assert_eq!(
        s.notes,
        vec![
            "object tier_and_details is kept whole as one JSON column from line 1 on: its key \
             \"5ca4bbc1a2dd94ee58161cb1\" looks like an id or a date"
        ]
    );
}

#[test]
fn an_object_past_map_keys_keeps_the_rest_of_the_record_whole_with_what_was_read_of_it() {
    let opts = ReadOptions { json: JsonOptions { map_keys: 2, ..JsonOptions::default() }, ..ReadOptions::default() };
    let data = "{\"a\":{\"x\":1,\"y\":{\"z\":\"t\"}}}\n{\"a\":{\"x\":2,\"y\":{\"z\":\"u\"},\"w\":[1],\"v\":null},\"b\":3}\n\
                {\"a\":{\"x\":3}}\n";
    let (s, sink) = read_with(data.as_bytes(), "x.jsonl", &opts);
    let s = s.unwrap();
    assert_eq!(sink.columns, vec!["a__x", "a__y__z", "a", "b"]);
    let records = named(&sink);
    assert_eq!(records[0], nv(&[("a__x", V::Int(1)), ("a__y__z", t("t"))]));
    assert_eq!(
        records[1],
        nv(&[("a", V::Json("{\"x\":2,\"y\":{\"z\":\"u\"},\"w\":[1],\"v\":null}".into())), ("b", V::Int(3))])
    );
    assert_eq!(records[2], nv(&[("a", V::Json("{\"x\":3}".into()))]));
    assert!(s.notes[0].starts_with("object a is kept whole as one JSON column from line 2 on"), "{:?}", s.notes);
}

#[test]
fn twenty_thousand_new_keys_stop_the_registry_at_its_bound_and_the_records_past_it_are_rejected_with_the_key() {
    let n = 20_000;
    let data: String = (0..n).map(|i| format!("{{\"id\":{i},\"k{i}\":{i}}}\n")).collect();
    let (s, sink) = read_ok(data.as_bytes(), "x.jsonl");
    let late = super::keys::LATE_AFTER as usize + super::keys::MAX_LATE_KEYS;
    assert_eq!(s.keys, 1 + late, "id, then one key a line until the late bound");
    assert_eq!(sink.records.len() + sink.rejects.len(), n, "every record is loaded or rejected");
    assert_eq!(sink.records.len(), late);
    let first = &sink.rejects[0];
    assert_eq!(first.line, late as u64 + 1);
    assert!(first.reason.starts_with("key \"k1064\" is new at record 1065, after 64 other keys"), "{}", first.reason);
}

#[test]
fn keys_inside_objects_stop_the_registry_at_its_bound() {
    let data: String = (0..5_000).map(|i| format!("{{\"id\":{i},\"o{}\":{{\"k{i}\":{i}}}}}\n", i % 1000)).collect();
    let (s, sink) = read_ok(data.as_bytes(), "x.jsonl");
    assert_eq!(s.keys, super::keys::MAX_KEYS, "the registry holds at most its bound");
    let first = &sink.rejects[0];
    assert!(first.reason.contains("is new past the 3180 distinct keys"), "{}", first.reason);
}

#[test]
fn an_id_keyed_map_per_record_keeps_every_row_and_the_registry_small() {
    let data: String = (0..20_000).map(|i| format!("{{\"id\":{i},\"scores\":{{\"{:024x}\":{i}}}}}\n", i + 1)).collect();
    let (s, sink) = read_ok(data.as_bytes(), "x.jsonl");
    assert_eq!((sink.records.len(), sink.rejects.len()), (20_000, 0));
    assert_eq!(s.keys, 2, "id and scores");
    assert_eq!(sink.columns, vec!["id", "scores"]);
}

fn wrapped(records: &str, keyed_by: Option<&str>) -> ReadOptions {
    let json = JsonOptions { records: records.into(), keyed_by: keyed_by.map(Into::into), ..JsonOptions::default() };
    ReadOptions { json, ..ReadOptions::default() }
}

#[test]
fn records_path_descends_objects_and_array_positions() {
    let data = br#"{"pages": [{"data": {"items": [{"a": 1}]}}, {"data": {"items": [{"a": 2}, {"a": 3}]}}]}"#;
    let (res, sink) = read_with(data, "x.json", &wrapped("pages.1.data.items", None));
    assert_eq!(res.unwrap().records, 2);
    assert_eq!(named(&sink), vec![nv(&[("a", V::Int(2))]), nv(&[("a", V::Int(3))])]);
}

#[test]
fn records_path_reads_every_top_level_value_and_null_as_no_records() {
    let data = b"{\"data\": [{\"a\": 1}]}\n{\"data\": null}\n{\"data\": [{\"a\": 2}]}\n";
    let (res, sink) = read_with(data, "x.jsonl", &wrapped("data", None));
    assert_eq!(res.unwrap().records, 2);
    assert_eq!(sink.lines(), vec![1, 2]);
}

#[test]
fn records_path_holding_a_scalar_refuses_the_file() {
    let (res, _) = read_with(br#"{"data": "none today"}"#, "x.json", &wrapped("data", None));
    match res {
        Err(FormatError::Refused { reason }) => assert_eq!(
            reason,
            "json.records: the path holds a string, not an array of records (json.keyed_by reads an object of them)"
        ),
        other => panic!("expected refused, got {other:?}"),
    }
}

#[test]
fn keyed_by_reads_the_object_at_the_records_path() {
    let data = br#"{"users": {"u1": {"n": 1}, "u2": {"n": 2}}, "total": 2}"#;
    let (res, sink) = read_with(data, "x.json", &wrapped("users", Some("user")));
    assert_eq!(res.unwrap().records, 2);
    assert_eq!(named(&sink)[1], nv(&[("user", t("u2")), ("n", V::Int(2))]));
}

/// A wrapper whose value before the records is larger than one record may
/// be: skipped as it streams, it is never held whole.
#[test]
fn a_skipped_value_larger_than_a_record_streams_past() {
    let filler = format!("[{}0]", "1234567,".repeat((MAX_RECORD_BYTES + (1 << 20)) / 8));
    let data = format!("{{\"meta\": {filler}, \"data\": [{{\"a\": 1}}]}}");
    let (res, sink) = read_with(data.as_bytes(), "x.json", &wrapped("data", None));
    assert_eq!(res.unwrap().records, 1);
    assert_eq!(named(&sink), vec![nv(&[("a", V::Int(1))])]);
}

#[test]
fn arrays_under_a_header_line_are_positional_rows() {
    let data = b"[\"id\",\"tags\"]\n[1,[\"x\"]]\n[2]\n[3,null]\n";
    let (s, sink) = read_ok(data, "x.jsonl");
    assert_eq!(s.format, DetectedFormat::NdjsonArrays);
    assert_eq!(sink.header.clone().unwrap(), vec!["id", "tags"]);
    assert_eq!(sink.lines(), vec![2, 4]);
    assert_eq!(sink.records[0].1, vec![(0, V::Int(1)), (1, V::Json("[\"x\"]".into()))]);
    assert_eq!(sink.rejects[0].reason, "line has 1 values; the header names 2");
}
