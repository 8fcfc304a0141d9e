//! Sends finished spans to an OpenTelemetry collector: OTLP over HTTP with JSON bodies, to
//! `$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `$OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`
//! (or the builder's `otlp_endpoint`), with `$OTEL_EXPORTER_OTLP_HEADERS` and
//! `$OTEL_SERVICE_NAME`. Spans go in batches from a task of its own; a turn never waits for
//! it: a span that finds the queue full is dropped and counted.
//!
//! The spans are the ones the inspector's `traces` route shows, with the same ids, so a trace
//! found in a collector can be followed into the inspector and back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::{ActorAttributes, TurnRecord, attribute, push_spans};

/// Spans waiting to be sent; beyond it they are dropped.
const QUEUE: usize = 4096;
/// Spans in one request.
const MAX_BATCH: usize = 512;
/// How long a batch gathers spans before it goes (OpenTelemetry's default is 5 s; shorter, so a
/// developer sees a turn in the collector about when it happened).
const INTERVAL: Duration = Duration::from_secs(1);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where spans go, from the environment or the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExportConfig {
    /// The full URL of the traces endpoint.
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) service: String,
}

impl ExportConfig {
    /// The standard OpenTelemetry variables, if they name an endpoint.
    pub(crate) fn from_env() -> Option<Self> {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        let url = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
            var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
        })?;
        let mut config = Self::new(url);
        if let Some(headers) = var("OTEL_EXPORTER_OTLP_HEADERS") {
            config.headers = parse_headers(&headers);
        }
        if let Some(service) = var("OTEL_SERVICE_NAME") {
            config.service = service;
        }
        Some(config)
    }

    /// Spans to the collector at `endpoint` (its base URL: `/v1/traces` is added).
    pub(crate) fn new(url: String) -> Self {
        Self {
            url,
            headers: Vec::new(),
            service: "rivet".to_owned(),
        }
    }
}

/// `key=value,key2=value2`, values percent-decoded, as the OpenTelemetry variable is written.
fn parse_headers(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let value = crate::url::percent_decode(v.trim()).unwrap_or_else(|| v.trim().to_owned());
            (k.trim().to_owned(), value)
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// A turn's spans on their way, with the actor they belong to.
#[derive(Debug)]
enum Item {
    Span(TurnRecord, ActorAttributes),
    /// Send what waits now, then answer.
    Flush(oneshot::Sender<()>),
}

/// The handle turns send their spans through; clones share the exporter's task.
#[derive(Debug, Clone)]
pub(crate) struct Exporter {
    tx: mpsc::Sender<Item>,
    dropped: Arc<AtomicU64>,
}

impl Exporter {
    /// Starts the exporter's task on `runtime`.
    pub(crate) fn start(config: ExportConfig, runtime: &tokio::runtime::Handle) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        tracing::info!(url = %config.url, "exporting spans over OTLP");
        runtime.spawn(run(config, rx, Arc::clone(&dropped)));
        Self { tx, dropped }
    }

    /// Queues a finished span of the actor `resource` names; drops it if the queue is full.
    pub(super) fn send(&self, span: TurnRecord, resource: &ActorAttributes) {
        if self
            .tx
            .try_send(Item::Span(span, Arc::clone(resource)))
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends the spans queued so far; returns once they went (or could not), or after `limit`.
    pub(crate) async fn flush(&self, limit: Duration) {
        let (tx, rx) = oneshot::channel();
        let sent = async {
            if self.tx.send(Item::Flush(tx)).await.is_ok() {
                let _ = rx.await;
            }
        };
        if tokio::time::timeout(limit, sent).await.is_err() {
            tracing::warn!("the span exporter did not finish sending in time");
        }
    }
}

/// The exporter's task: gathers a batch for [`INTERVAL`] (or until it is full) after its first
/// span, sends it, and so on until every handle is gone.
async fn run(config: ExportConfig, mut rx: mpsc::Receiver<Item>, dropped: Arc<AtomicU64>) {
    let client = reqwest::Client::new();
    let mut failing = false;
    let mut items = Vec::with_capacity(MAX_BATCH);
    loop {
        if rx.recv_many(&mut items, MAX_BATCH).await == 0 {
            return;
        }
        let deadline = tokio::time::Instant::now() + INTERVAL;
        let mut closed = false;
        while items.len() < MAX_BATCH && !items.iter().any(|i| matches!(i, Item::Flush(_))) {
            let room = MAX_BATCH - items.len();
            let more = rx.recv_many(&mut items, room);
            match tokio::time::timeout_at(deadline, more).await {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let mut spans = Vec::with_capacity(items.len());
        let mut flushed = Vec::new();
        for item in items.drain(..) {
            match item {
                Item::Span(span, resource) => spans.push((span, resource)),
                Item::Flush(answer) => flushed.push(answer),
            }
        }
        if !spans.is_empty() {
            let lost = dropped.swap(0, Ordering::Relaxed);
            if lost > 0 {
                tracing::warn!(lost, "dropped spans: the exporter's queue was full");
            }
            let ok = post(&client, &config, &body(&config.service, &spans)).await;
            match (ok, failing) {
                (Err(error), false) => {
                    tracing::warn!(url = %config.url, %error, "cannot export spans (told once until it works again)");
                    failing = true;
                }
                (Err(error), true) => tracing::debug!(%error, "cannot export spans"),
                (Ok(()), true) => {
                    tracing::info!(url = %config.url, "exporting spans again");
                    failing = false;
                }
                (Ok(()), false) => {}
            }
        }
        for answer in flushed {
            let _ = answer.send(());
        }
        if closed {
            return;
        }
    }
}

async fn post(client: &reqwest::Client, config: &ExportConfig, body: &Value) -> Result<(), String> {
    let mut request = client
        .post(&config.url)
        .timeout(REQUEST_TIMEOUT)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    for (name, value) in &config.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the collector answered {}", response.status()))
    }
}

/// An `ExportTraceServiceRequest` in OTLP's JSON: the service as the resource, each span with
/// its actor's attributes.
fn body(service: &str, spans: &[(TurnRecord, ActorAttributes)]) -> Value {
    let mut out = Vec::with_capacity(spans.len() * 2);
    for (turn, actor) in spans {
        let actor: Vec<Value> = actor
            .iter()
            .map(|(key, v)| attribute(key, json!({ "stringValue": v })))
            .collect();
        push_spans(turn, &mut out, &actor);
    }
    json!({
        "resourceSpans": [{
            "resource": {
                "attributes": [attribute("service.name", json!({ "stringValue": service }))],
            },
            "scopeSpans": [{
                "scope": { "name": "rivet", "version": env!("CARGO_PKG_VERSION") },
                "spans": out,
            }],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headers_variable_is_read_as_opentelemetry_writes_it() {
        assert_eq!(
            parse_headers("api-key=secret%20one, x-team = core ,broken,=no"),
            [
                ("api-key".to_owned(), "secret one".to_owned()),
                ("x-team".to_owned(), "core".to_owned()),
            ]
        );
    }
}
