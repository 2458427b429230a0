//! Prometheus metrics of the service (`GET /metrics`, text format):
//! `deckhand_intents_total{action,status}` for every intent that finished,
//! `deckhand_deployment_duration_seconds` for the deploy step, and
//! `deckhand_http_requests_total{method,route,status}`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntentLabels {
    pub action: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// The registry and its metrics.
pub struct Metrics {
    registry: Registry,
    pub intents: Family<IntentLabels, Counter>,
    pub deployment_duration: Histogram,
    pub http_requests: Family<HttpLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("deckhand");
        let intents = Family::<IntentLabels, Counter>::default();
        registry.register(
            "intents",
            "Intents that finished, by action and final status",
            intents.clone(),
        );
        // 10 ms … about 20 minutes
        let deployment_duration = Histogram::new(exponential_buckets(0.01, 2.5, 14));
        registry.register(
            "deployment_duration_seconds",
            "Time spent applying a plan until ready",
            deployment_duration.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by method, route and status",
            http_requests.clone(),
        );
        Self {
            registry,
            intents,
            deployment_duration,
            http_requests,
        }
    }

    pub fn intent_finished(&self, action: &str, status: &str) {
        self.intents
            .get_or_create(&IntentLabels {
                action: action.to_string(),
                status: status.to_string(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.intent_finished("install", "completed");
        metrics.deployment_duration.observe(0.5);
        metrics
            .http_requests
            .get_or_create(&HttpLabels {
                method: "GET".into(),
                route: "/healthz".into(),
                status: 200,
            })
            .inc();
        let text = metrics.encode();
        assert!(
            text.contains("deckhand_intents_total{action=\"install\",status=\"completed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("deckhand_deployment_duration_seconds_bucket"),
            "{text}"
        );
        assert!(
            text.contains(
                "deckhand_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
            ),
            "{text}"
        );
    }
}
