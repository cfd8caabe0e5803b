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
//! Every metric is defined once, in [`catalog`]: its name, unit and label
//! names, and the typed events that emit it. An event's one `emit` writes its
//! log line and its metrics together, so a call site cannot spell a name or
//! a label set of its own; [`Metrics`] has no public way to record by name.
//! Tests read values back by the catalog's names
//! (`metrics.get(catalog::FILES_PROCESSED.name, ...)`).
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

pub mod catalog;

use catalog::{Metric, Unit};

/// CloudWatch takes at most this many values of one metric in one EMF document.
const MAX_EMF_VALUES: usize = 100;

/// Human-readable logs for the local CLI and tests, on stderr (stdout
/// carries the CLI's output, `--json` included), coloured only on a
/// terminal and never under `NO_COLOR`.
pub fn init_tracing_pretty() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .compact()
        .try_init();
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

/// The metric's label names paired with these values, in the catalog's order.
fn labelled(metric: &Metric, values: &[&str]) -> Labels {
    debug_assert_eq!(metric.labels.len(), values.len(), "{}: labels {:?}", metric.name, metric.labels);
    debug_assert!(catalog::ALL.iter().any(|m| m.name == metric.name), "{} is not in the catalog", metric.name);
    metric.labels.iter().zip(values).map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn matches(have: &Labels, want: &[(&str, &str)]) -> bool {
    want.iter().all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
}

impl Metrics {
    pub fn new(namespace: &str) -> Self {
        Self { inner: Arc::default(), namespace: namespace.into() }
    }

    /// Adds `value` to a counter of the catalog, with one value per label
    /// (in the order the catalog names them). Only the catalog's events call it.
    pub(crate) fn count(&self, metric: &Metric, values: &[&str], value: u64) {
        debug_assert_eq!(metric.unit, Unit::Count, "{} is not a counter", metric.name);
        let labels = labelled(metric, values);
        if let Ok(mut r) = self.inner.lock() {
            *r.counters.entry((metric.name, labels)).or_insert(0) += value;
        }
    }

    /// Records one duration of a distribution of the catalog (CloudWatch
    /// keeps its percentiles).
    pub(crate) fn time(&self, metric: &Metric, values: &[&str], elapsed: Duration) {
        debug_assert_eq!(metric.unit, Unit::Milliseconds, "{} is not a distribution", metric.name);
        let labels = labelled(metric, values);
        if let Ok(mut r) = self.inner.lock() {
            r.durations.entry((metric.name, labels)).or_default().push(elapsed.as_secs_f64() * 1000.0);
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
    pub(crate) fn drain_emf(&self, function: &str, timestamp_ms: i64) -> Vec<Value> {
        let Ok(mut r) = self.inner.lock() else { return vec![] };
        let taken = std::mem::take(&mut *r);
        let mut docs: BTreeMap<Labels, Vec<(&'static str, &'static str, Value)>> = BTreeMap::new();
        for ((name, labels), value) in taken.counters {
            docs.entry(labels).or_default().push((name, Unit::Count.emf(), json!(value)));
        }
        let mut extra = Vec::new();
        for ((name, labels), values) in taken.durations {
            let mut chunks = values.chunks(MAX_EMF_VALUES);
            if let Some(first) = chunks.next() {
                docs.entry(labels.clone()).or_default().push((name, Unit::Milliseconds.emf(), json!(first)));
            }
            extra.extend(chunks.map(|c| (labels.clone(), vec![(name, Unit::Milliseconds.emf(), json!(c))])));
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
    pub(crate) fn flush_emf(&self, function: &str, out: &mut dyn Write) {
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
    use super::catalog::*;
    use super::*;

    #[test]
    fn counters_add_up_per_label_set() {
        let m = Metrics::new("landfall");
        m.count(&FILES_PROCESSED, &["orders", "parsed"], 1);
        m.count(&FILES_PROCESSED, &["orders", "parsed"], 2);
        m.count(&FILES_PROCESSED, &["orders", "failed"], 1);
        assert_eq!(m.get(FILES_PROCESSED.name, &[("outcome", "parsed")]), 3);
        assert_eq!(m.get(FILES_PROCESSED.name, &[("feed", "orders")]), 4);
    }

    #[test]
    fn emf_documents_carry_dimensions_and_values_and_reset() {
        let m = Metrics::new("landfall");
        m.count(&ROWS_WRITTEN, &["orders"], 10);
        m.count(&ROWS_REJECTED, &["orders"], 2);
        let docs = m.drain_emf("parse-file", 1_700_000_000_000);
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(d["feed"], "orders");
        assert_eq!(d[ROWS_WRITTEN.name], 10);
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][1], "feed");
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "landfall");
        assert!(m.drain_emf("parse-file", 0).is_empty());
    }

    #[test]
    fn two_functions_write_one_metric_name_into_two_series() {
        let a = Metrics::new("landfall");
        let b = Metrics::new("landfall");
        a.count(&EVENTS_SKIPPED, &["test_event"], 1);
        b.count(&EVENTS_SKIPPED, &["test_event"], 1);
        let (da, db) = (a.drain_emf("parse-file", 0), b.drain_emf("register-partitions", 0));
        assert_eq!(da[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "function");
        assert_eq!(da[0]["function"], "parse-file");
        assert_eq!(db[0]["function"], "register-partitions");
    }

    #[test]
    fn durations_are_a_distribution_in_milliseconds_split_at_100_values() {
        let m = Metrics::new("landfall");
        for i in 0..150u64 {
            m.time(&LOAD_DURATION, &["orders", "committed"], Duration::from_millis(i));
        }
        assert_eq!(m.observed(LOAD_DURATION.name, &[("table", "orders")]), 150);
        let docs = m.drain_emf("load-warehouse", 0);
        assert_eq!(docs.len(), 2);
        let values: usize = docs.iter().map(|d| d[LOAD_DURATION.name].as_array().map_or(0, Vec::len)).sum();
        assert_eq!(values, 150);
        assert_eq!(docs[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Milliseconds");
        assert_eq!(docs[0][LOAD_DURATION.name][5], 5.0);
    }
}
