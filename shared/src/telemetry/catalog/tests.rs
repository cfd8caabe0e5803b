//! The catalog against itself and against Terraform's alarms and dashboard.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;

#[test]
fn no_metric_is_defined_twice() {
    let mut seen = BTreeSet::new();
    for m in ALL {
        assert!(seen.insert(m.name), "{} is defined twice", m.name);
        assert!(!m.labels.contains(&"function"), "{}: `function` is added to every metric", m.name);
        let labels: BTreeSet<_> = m.labels.iter().collect();
        assert_eq!(labels.len(), m.labels.len(), "{} repeats a label", m.name);
    }
}

/// A metric Terraform reads: its name and, where the reference says, its
/// labels (the SEARCH schema's dimensions but the namespace and `function`).
#[derive(Debug)]
struct Reference {
    file: PathBuf,
    name: String,
    labels: Option<BTreeSet<String>>,
}

fn tf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') {
                tf_files(&path, out);
            }
        } else if name.ends_with(".tf") || name.ends_with(".tftest.hcl") {
            out.push(path);
        }
    }
}

/// The text after `start` up to the first of `ends`.
fn until<'a>(s: &'a str, ends: &[char]) -> &'a str {
    s.find(|c| ends.contains(&c)).map_or(s, |i| &s[..i])
}

/// The inside of the `{namespace,dimension,...}` schema that ends `before`,
/// whose namespace may itself hold braces (`${local.ns}`).
fn schema_before(before: &str) -> Option<&str> {
    let inner = before.trim_end().strip_suffix('}')?;
    let mut depth = 0;
    for (i, c) in inner.char_indices().rev() {
        match c {
            '}' => depth += 1,
            '{' if depth == 0 => return Some(&inner[i + 1..]),
            '{' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Every landfall metric a Terraform line references:
/// - `SEARCH('{ns,dim,...} MetricName="name"', ...)`, with its dimensions;
/// - `metric_name = "name"` and `metric = "name"` (not of an `AWS/` namespace);
/// - Metrics Insights `SELECT SUM(name) FROM "<ns>"`.
fn references(file: &Path, text: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut push = |name: &str, labels: Option<BTreeSet<String>>| {
        out.push(Reference { file: file.to_owned(), name: name.to_owned(), labels })
    };
    for line in text.lines() {
        let mut rest = line;
        while let Some(i) = rest.find("MetricName=") {
            let schema = schema_before(&rest[..i]);
            let labels = schema
                .map(|s| s.split(',').skip(1).map(str::trim).filter(|d| *d != "function").map(str::to_owned).collect());
            let after = rest[i + "MetricName=".len()..].trim_start_matches(['\\', '"']);
            push(until(after, &['\\', '"']), labels);
            rest = after;
        }
        let t = line.trim_start();
        for key in ["metric_name", "metric"] {
            let Some(v) = t.strip_prefix(key).map(str::trim_start).and_then(|v| v.strip_prefix('=')) else { continue };
            let v = v.trim_start();
            if let Some(v) = v.strip_prefix('"')
                && !line.contains("\"AWS/")
            {
                push(until(v, &['"']), None);
            }
        }
        if let Some(i) = line.find("SELECT ") {
            let q = &line[i + "SELECT ".len()..];
            if let Some(open) = q.find('(') {
                push(until(&q[open + 1..], &[')']).trim(), None);
            }
        }
    }
    out
}

fn terraform_references() -> Vec<Reference> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform");
    let mut files = Vec::new();
    tf_files(&root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no Terraform under {}", root.display());
    files.iter().flat_map(|f| references(f, &std::fs::read_to_string(f).unwrap())).collect()
}

#[test]
fn every_metric_terraform_references_is_in_the_catalog_with_its_labels() {
    let refs = terraform_references();
    for expected in ["files_processed", "rows_rejected", "rows_rejected_at_load", "notifications_failed"] {
        assert!(refs.iter().any(|r| r.name == expected), "the parser found no reference to {expected}: {refs:?}");
    }
    for r in &refs {
        let Some(metric) = find(&r.name) else {
            panic!("{} references metric {:?}, which the catalog does not define", r.file.display(), r.name)
        };
        if let Some(labels) = &r.labels {
            let defined: BTreeSet<String> = metric.labels.iter().map(|l| (*l).to_owned()).collect();
            assert_eq!(labels, &defined, "{}: {} is emitted with labels {defined:?}", r.file.display(), r.name);
        }
    }
}

#[test]
fn the_reference_parser_reads_each_form() {
    let tf = r#"
    a = ["{${local.ns},feed,function,outcome} MetricName=\"files_processed\"", "Sum"]
    namespace   = "AWS/SQS", metric = "ApproximateAgeOfOldestMessage", dimensions = {}
    metric_name = "rows_loaded"
    expression  = "SELECT SUM(notifications_failed) FROM \"${local.ns}\""
    "#;
    let refs = references(Path::new("x.tf"), tf);
    let names: Vec<&str> = refs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["files_processed", "rows_loaded", "notifications_failed"]);
    let labels: Vec<&str> = refs[0].labels.as_ref().unwrap().iter().map(String::as_str).collect();
    assert_eq!(labels, vec!["feed", "outcome"]);
}

#[test]
fn a_file_is_counted_under_the_catalogs_labels() {
    let m = Metrics::new("landfall");
    FileMissing { feed: "orders" }.emit(&m);
    ObjectFailed { disposition: Disposition::Retry, error: &"throttled", elapsed: Duration::ZERO }.emit(&m);
    assert_eq!(m.get(FILES_PROCESSED.name, &[("feed", "orders"), ("outcome", "missing")]), 1);
    assert_eq!(m.get(FILES_PROCESSED.name, &[("feed", ANY_FEED), ("outcome", "retry")]), 1);
    assert_eq!(m.observed(PARSE_DURATION.name, &[("outcome", "retry")]), 1);
}
