//! Logs and metrics.
//!
//! Logs are tracing events with key-value fields (JSON in Lambda, so
//! CloudWatch Logs Insights can query them). Metrics are counters named
//! `<noun>_<verb>` with low-cardinality labels (feed, outcome, reason; never a
//! key or a file id), flushed once per invocation as one CloudWatch Embedded
//! Metric Format document, which CloudWatch turns into metrics without any
//! API call from the function.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

/// Installs the global tracing subscriber: JSON lines on stdout, level from
/// `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`), `info` by default.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().map(|l| l.to_lowercase()))
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line
        .try_init();
}

/// Human-readable logs for the local CLI and tests.
pub fn init_tracing_pretty() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).compact().try_init();
}

type Labels = Vec<(&'static str, String)>;

/// Counters for one function. Cheap to clone (shared inside).
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<BTreeMap<(&'static str, Labels), u64>>>,
    namespace: Arc<str>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("namespace", &self.namespace).finish()
    }
}

impl Metrics {
    pub fn new(namespace: &str) -> Self {
        Self { inner: Arc::default(), namespace: namespace.into() }
    }

    /// Adds `value` to the counter `name` with these labels.
    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], value: u64) {
        let labels: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        if let Ok(mut map) = self.inner.lock() {
            *map.entry((name, labels)).or_insert(0) += value;
        }
    }

    pub fn incr(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.add(name, labels, 1);
    }

    /// The current value of one counter (tests and the local CLI read this).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let Ok(map) = self.inner.lock() else { return 0 };
        map.iter()
            .filter(|((n, l), _)| *n == name && labels.iter().all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v)))
            .map(|(_, v)| *v)
            .sum()
    }

    /// Renders the counters as EMF documents (one per label set, which is
    /// how EMF expresses dimensions) and resets them.
    pub fn drain_emf(&self, timestamp_ms: i64) -> Vec<Value> {
        let Ok(mut map) = self.inner.lock() else { return vec![] };
        let taken = std::mem::take(&mut *map);
        let mut by_labels: BTreeMap<Labels, Vec<(&'static str, u64)>> = BTreeMap::new();
        for ((name, labels), value) in taken {
            by_labels.entry(labels).or_default().push((name, value));
        }
        by_labels
            .into_iter()
            .map(|(labels, values)| {
                let mut doc = Map::new();
                let dims: Vec<&str> = labels.iter().map(|(k, _)| *k).collect();
                doc.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": &*self.namespace,
                            "Dimensions": [dims],
                            "Metrics": values.iter().map(|(n, _)| json!({"Name": n, "Unit": "Count"})).collect::<Vec<_>>(),
                        }]
                    }),
                );
                for (k, v) in labels {
                    doc.insert(k.to_owned(), Value::String(v));
                }
                for (n, v) in values {
                    doc.insert(n.to_owned(), json!(v));
                }
                Value::Object(doc)
            })
            .collect()
    }

    /// Writes the EMF documents, one per line, to `out` (stdout in Lambda).
    pub fn flush_emf(&self, out: &mut dyn Write) {
        let now = chrono::Utc::now().timestamp_millis();
        for doc in self.drain_emf(now) {
            // A metrics line that cannot be written is not worth failing a batch for.
            let _ = writeln!(out, "{doc}");
        }
        let _ = out.flush();
    }
}

/// The Lambda runtime loop for a handler of JSON payloads, flushing the
/// metrics as EMF after every invocation (what each function's main.rs runs).
pub async fn serve<F, Fut>(metrics: Metrics, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Value) -> Fut,
    Fut: std::future::Future<Output = Result<Value, lambda_runtime::Error>>,
{
    let handler = &handler;
    let metrics = &metrics;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<Value>| async move {
        let result = handler(event.payload).await;
        metrics.flush_emf(&mut std::io::stdout().lock());
        result
    }))
    .await
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
        let docs = m.drain_emf(1_700_000_000_000);
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(d["feed"], "orders");
        assert_eq!(d["rows_written"], 10);
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "feed");
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "landfall");
        assert!(m.drain_emf(0).is_empty());
    }
}
