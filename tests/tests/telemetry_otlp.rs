//! Span export as a user turns it on: a server process started with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (and `rivet_core::telemetry::init`) sends each turn's span and
//! its commit's to the collector over OTLP/HTTP, in the caller's trace, with the ids the
//! inspector shows; stopped with SIGTERM (`Registry::serve_on`), it sends the last ones. Its
//! own binary: it runs a server process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use reqwest::Method;
use rivet_tests::support::net::{http_json, query_url, serve_router};
use rivet_tests::support::process::ServerProcess;
use rivet_tests::support::sync::eventually;
use serde_json::json;

/// A collector: the service name and spans of every export request it received.
#[derive(Debug, Clone, Default)]
struct Collector(Arc<Mutex<Vec<(String, Span)>>>);

impl Collector {
    /// Listens on a free loopback port; returns its base URL.
    async fn start(&self) -> String {
        let sink = self.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: bytes::Bytes| async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP request");
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|kv| kv.key == "service.name")
                        .map(|kv| string(kv.value.as_ref()))
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        let mut spans = sink.0.lock().expect("spans");
                        spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
                    }
                }
                (
                    [(http::header::CONTENT_TYPE, "application/x-protobuf")],
                    Vec::new(),
                )
            }),
        );
        format!("http://{}", serve_router(app).await)
    }

    fn spans(&self) -> Vec<(String, Span)> {
        self.0.lock().expect("spans").clone()
    }
}

fn string(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| string(kv.value.as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A server process (the example actors, SQLite in `dir`) exporting to `collector` with the
/// SDK's batches sent every `batch_ms` (its `OTEL_BSP_SCHEDULE_DELAY`) and the variables of
/// `env`; returns it with its endpoint.
async fn exporting_server(
    collector: &str,
    dir: &std::path::Path,
    batch_ms: u64,
    env: &[(&str, &str)],
) -> (ServerProcess, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_crash_server"));
    command
        .arg(dir)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
        .env("OTEL_BSP_SCHEDULE_DELAY", batch_ms.to_string())
        .envs(env.iter().copied());
    ServerProcess::spawn(command).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_exporter_otlp_endpoint_sends_turns_to_the_collector_with_the_inspectors_ids() {
    let collector = Collector::default();
    let url = collector.start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Batches go every 50 ms rather than 5 s: the test waits for them, not for a delay.
    let service = [("OTEL_SERVICE_NAME", "otlp-test")];
    let (_server, endpoint) = exporting_server(&url, dir.path(), 50, &service).await;

    let caller = "2af7651916cd43dd8448eb211c80319c";
    let traceparent = format!("00-{caller}-d7ad6b7169203331-01");
    let create = query_url(
        &endpoint,
        "counter",
        "exported",
        "getOrCreate",
        "/action/increment",
    );
    let headers = [("traceparent", traceparent.as_str())];
    let answer = http_json(Method::POST, &create, &headers, r#"{"args":[4]}"#).await;
    assert_eq!(answer, (200, json!({ "output": 4 })));

    // The turn's span and its commit's reach the collector, in the caller's trace.
    let (turn, commit) = eventually(|| {
        let spans = collector.spans();
        async move {
            let (service, turn) = spans
                .iter()
                .find(|(_, s)| s.name == "action increment" && hex(&s.trace_id) == caller)?;
            let (_, commit) = spans
                .iter()
                .find(|(_, s)| s.name == "commit" && s.parent_span_id == turn.span_id)?;
            assert_eq!(service, "otlp-test");
            Some((turn.clone(), commit.clone()))
        }
    })
    .await;
    assert_eq!(hex(&turn.parent_span_id), "d7ad6b7169203331");
    assert_eq!(commit.trace_id, turn.trace_id);
    assert_eq!(attribute(&turn, "actor.name").as_deref(), Some("counter"));
    assert_eq!(attribute(&turn, "rivet.kind").as_deref(), Some("action"));
    let id = attribute(&turn, "actor.id").expect("actor.id");

    // The inspector shows the same spans, with the same ids (the server is on loopback and
    // has no inspector token, so its inspector is open).
    let traces = format!("{endpoint}/gateway/{id}/inspector/traces");
    let (status, traces) = http_json(Method::GET, &traces, &[], "").await;
    assert_eq!(status, 200, "{traces}");
    let shown = traces["otlp"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for exported in [&turn, &commit] {
        assert!(
            shown.iter().any(|s| s["spanId"] == hex(&exported.span_id)
                && s["traceId"] == hex(&exported.trace_id)),
            "{} not in {traces}",
            exported.name
        );
    }

    // A refused turn (arguments that do not decode) is exported with its error, as the root of
    // a trace of its own.
    let action = format!("{endpoint}/gateway/{id}/action/increment");
    let (status, _) = http_json(Method::POST, &action, &[], r#"{"args":["three"]}"#).await;
    assert_eq!(status, 400);
    let refused = eventually(|| {
        let spans = collector.spans();
        async move {
            spans
                .into_iter()
                .map(|(_, s)| s)
                .find(|s| attribute(s, "rivet.error").is_some())
        }
    })
    .await;
    assert!(refused.parent_span_id.is_empty(), "{refused:?}");
    assert_eq!(refused.status.map(|s| s.code), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_spans_are_sent_when_the_server_stops_on_sigterm() {
    let collector = Collector::default();
    let url = collector.start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // No batch goes before the process stops: only the flush at exit can send the span.
    let (mut server, endpoint) = exporting_server(&url, dir.path(), 3_600_000, &[]).await;
    let increment = query_url(
        &endpoint,
        "counter",
        "stopping",
        "getOrCreate",
        "/action/increment",
    );
    let answer = http_json(Method::POST, &increment, &[], r#"{"args":[1]}"#).await;
    assert_eq!(answer, (200, json!({ "output": 1 })));
    assert!(collector.spans().is_empty(), "exported before the stop");

    // `serve_on` stops on SIGTERM: the actors sleep, the process exits 0, and dropping
    // `rivet_core::telemetry::init`'s guard sends what waited.
    assert!(server.terminate().await, "a graceful stop exits 0");
    let spans = collector.spans();
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    assert!(names.contains(&"action increment"), "{names:?}");
}
