//! Logs and metrics.
//!
//! Logs are tracing events with key-value fields (JSON in Lambda, so
//! CloudWatch Logs Insights can query them; [`crate::lambda::init_tracing`]).
//! Metrics are counters and duration distributions named `<noun>_<verb>`
//! with low-cardinality labels (feed, table, outcome, reason; never a key or
//! a file id), flushed once per invocation as CloudWatch Embedded Metric
//! Format documents with a `function` dimension, which CloudWatch turns into
//! metrics without any API call from the function.
//!
//! Hand-written rather than the `metrics` crate with an EMF exporter: each
//! handler owns its [`Metrics`] (the tests and the local stack run four
//! functions in one process, and read their counters back), where the
//! `metrics` facade wants one global recorder per process.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

/// CloudWatch takes at most this many values of one metric in one EMF document.
const MAX_EMF_VALUES: usize = 100;

/// Human-readable logs for the local CLI and tests.
pub fn init_tracing_pretty() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).compact().try_init();
}

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Recorded {
    counters: BTreeMap<(&'static str, Labels), u64>,
    /// Durations in milliseconds.
    durations: BTreeMap<(&'static str, Labels), Vec<f64>>,
}

/// Counters and durations for one function. Cheap to clone (shared inside).
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Recorded>>,
    namespace: Arc<str>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("namespace", &self.namespace).finish()
    }
}

fn owned(labels: &[(&'static str, &str)]) -> Labels {
    labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn matches(have: &Labels, want: &[(&str, &str)]) -> bool {
    want.iter().all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
}

impl Metrics {
    pub fn new(namespace: &str) -> Self {
        Self { inner: Arc::default(), namespace: namespace.into() }
    }

    /// Adds `value` to the counter `name` with these labels.
    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], value: u64) {
        if let Ok(mut r) = self.inner.lock() {
            *r.counters.entry((name, owned(labels))).or_insert(0) += value;
        }
    }

    pub fn incr(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.add(name, labels, 1);
    }

    /// Records one duration of `name` (a distribution: CloudWatch keeps its
    /// percentiles).
    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], elapsed: Duration) {
        if let Ok(mut r) = self.inner.lock() {
            r.durations.entry((name, owned(labels))).or_default().push(elapsed.as_secs_f64() * 1000.0);
        }
    }

    /// The current value of one counter (tests and the local CLI read this).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let Ok(r) = self.inner.lock() else { return 0 };
        r.counters.iter().filter(|((n, l), _)| *n == name && matches(l, labels)).map(|(_, v)| *v).sum()
    }

    /// How many durations of `name` were recorded.
    pub fn observed(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        let Ok(r) = self.inner.lock() else { return 0 };
        r.durations.iter().filter(|((n, l), _)| *n == name && matches(l, labels)).map(|(_, v)| v.len()).sum()
    }

    /// Renders the metrics as EMF documents (one per label set, which is
    /// how EMF expresses dimensions; a distribution of more than 100 values
    /// spans several) with `function` as a dimension of each, and resets them.
    pub fn drain_emf(&self, function: &str, timestamp_ms: i64) -> Vec<Value> {
        let Ok(mut r) = self.inner.lock() else { return vec![] };
        let taken = std::mem::take(&mut *r);
        let mut docs: BTreeMap<Labels, Vec<(&'static str, &'static str, Value)>> = BTreeMap::new();
        for ((name, labels), value) in taken.counters {
            docs.entry(labels).or_default().push((name, "Count", json!(value)));
        }
        let mut extra = Vec::new();
        for ((name, labels), values) in taken.durations {
            let mut chunks = values.chunks(MAX_EMF_VALUES);
            if let Some(first) = chunks.next() {
                docs.entry(labels.clone()).or_default().push((name, "Milliseconds", json!(first)));
            }
            extra.extend(chunks.map(|c| (labels.clone(), vec![(name, "Milliseconds", json!(c))])));
        }
        docs.into_iter()
            .chain(extra)
            .map(|(labels, values)| self.emf_document(function, timestamp_ms, labels, values))
            .collect()
    }

    fn emf_document(
        &self,
        function: &str,
        timestamp_ms: i64,
        labels: Labels,
        values: Vec<(&'static str, &'static str, Value)>,
    ) -> Value {
        let mut doc = Map::new();
        let mut dims: Vec<&str> = vec!["function"];
        dims.extend(labels.iter().map(|(k, _)| *k));
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": &*self.namespace,
                    "Dimensions": [dims],
                    "Metrics": values.iter().map(|(n, unit, _)| json!({"Name": n, "Unit": unit})).collect::<Vec<_>>(),
                }]
            }),
        );
        doc.insert("function".into(), Value::String(function.to_owned()));
        for (k, v) in labels {
            doc.insert(k.to_owned(), Value::String(v));
        }
        for (n, _, v) in values {
            doc.insert(n.to_owned(), v);
        }
        Value::Object(doc)
    }

    /// Writes the EMF documents, one per line, to `out` (stdout in Lambda).
    pub fn flush_emf(&self, function: &str, out: &mut dyn Write) {
        let now = chrono::Utc::now().timestamp_millis();
        for doc in self.drain_emf(function, now) {
            // A metrics line that cannot be written is not worth failing a batch for.
            let _ = writeln!(out, "{doc}");
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_per_label_set() {
        let m = Metrics::new("landfall");
        m.incr("files_processed", &[("feed", "orders"), ("outcome", "parsed")]);
        m.add("files_processed", &[("feed", "orders"), ("outcome", "parsed")], 2);
        m.incr("files_processed", &[("feed", "orders"), ("outcome", "failed")]);
        assert_eq!(m.get("files_processed", &[("outcome", "parsed")]), 3);
        assert_eq!(m.get("files_processed", &[("feed", "orders")]), 4);
    }

    #[test]
    fn emf_documents_carry_dimensions_and_values_and_reset() {
        let m = Metrics::new("landfall");
        m.add("rows_written", &[("feed", "orders")], 10);
        m.add("rows_rejected", &[("feed", "orders")], 2);
        let docs = m.drain_emf("parse-file", 1_700_000_000_000);
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(d["feed"], "orders");
        assert_eq!(d["rows_written"], 10);
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][1], "feed");
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "landfall");
        assert!(m.drain_emf("parse-file", 0).is_empty());
    }

    #[test]
    fn two_functions_write_one_metric_name_into_two_series() {
        let a = Metrics::new("landfall");
        let b = Metrics::new("landfall");
        a.incr("events_skipped", &[("reason", "test_event")]);
        b.incr("events_skipped", &[("reason", "test_event")]);
        let (da, db) = (a.drain_emf("parse-file", 0), b.drain_emf("register-partitions", 0));
        assert_eq!(da[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "function");
        assert_eq!(da[0]["function"], "parse-file");
        assert_eq!(db[0]["function"], "register-partitions");
    }

    #[test]
    fn durations_are_a_distribution_in_milliseconds_split_at_100_values() {
        let m = Metrics::new("landfall");
        for i in 0..150u64 {
            m.observe("load_duration", &[("table", "orders")], Duration::from_millis(i));
        }
        assert_eq!(m.observed("load_duration", &[("table", "orders")]), 150);
        let docs = m.drain_emf("load-warehouse", 0);
        assert_eq!(docs.len(), 2);
        let values: usize = docs.iter().map(|d| d["load_duration"].as_array().map_or(0, Vec::len)).sum();
        assert_eq!(values, 150);
        assert_eq!(docs[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Milliseconds");
        assert_eq!(docs[0]["load_duration"][5], 5.0);
    }
}
