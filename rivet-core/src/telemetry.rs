//! Logs and traces for an app: a `tracing` subscriber that prints logs (`RUST_LOG`, default
//! `info`) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
//! set, sends spans to an OpenTelemetry collector through `tracing-opentelemetry`: every
//! actor turn's span (`trace.rs`), its commit's, and the app's own spans inside them.
//!
//! The exporter is OpenTelemetry's own (OTLP over HTTP with protobuf bodies, batched on a thread
//! of the SDK, configured by the standard `OTEL_*` variables); what is ours is the HTTP client
//! it sends with, which runs on a small runtime of its own so that exporting works whatever
//! runtime the app has, and flushing at shutdown cannot wait on the app's own threads.

use std::time::Duration;

use bytes::Bytes;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How long one export request may take (OpenTelemetry's default).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The OTLP exporter could not be built: an endpoint or header that does not parse, or an
    /// unsupported `OTEL_EXPORTER_OTLP_PROTOCOL`.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// Another global `tracing` subscriber was installed first.
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInstalled(String),
}

/// Span export to an OpenTelemetry collector: a tracer provider with a batching OTLP/HTTP
/// exporter, and the `tracing` layer that feeds it.
///
/// [`init`] sets one up from the environment; build one yourself to add its
/// [`layer`](Self::layer) to a subscriber of your own.
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
///
/// let otlp = rivet_core::telemetry::Otlp::new("http://127.0.0.1:4318")?;
/// tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer())
///     .with(otlp.layer())
///     .init();
/// // ... serve the registry ...
/// otlp.shutdown(); // sends the spans still waiting
/// # Ok::<(), rivet_core::telemetry::TelemetryError>(())
/// ```
#[derive(Debug)]
pub struct Otlp {
    provider: SdkTracerProvider,
}

impl Otlp {
    /// Export as the standard variables say, if `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` names a collector; `Ok(None)` if neither is set.
    ///
    /// The exporter also reads `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT` and
    /// their `_TRACES_` forms; the SDK reads `OTEL_SERVICE_NAME` (default here: `rivet`),
    /// `OTEL_RESOURCE_ATTRIBUTES`, the `OTEL_BSP_*` batch settings and `OTEL_TRACES_SAMPLER`.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::Exporter`] if the variables do not describe a usable exporter.
    pub fn from_env() -> Result<Option<Self>, TelemetryError> {
        let set = |name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
        if !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_ENDPOINT") {
            return Ok(None);
        }
        Self::build(None).map(Some)
    }

    /// Export to the collector at `endpoint`, its base URL (such as `http://127.0.0.1:4318`):
    /// spans go to `<endpoint>/v1/traces`, as with `OTEL_EXPORTER_OTLP_ENDPOINT`.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::Exporter`] if `endpoint` is not a URL.
    pub fn new(endpoint: impl AsRef<str>) -> Result<Self, TelemetryError> {
        let base = endpoint.as_ref().trim_end_matches('/');
        Self::build(Some(format!("{base}/v1/traces")))
    }

    fn build(url: Option<String>) -> Result<Self, TelemetryError> {
        let failed = |e: &dyn std::fmt::Display| TelemetryError::Exporter(e.to_string());
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(Sender::new().map_err(|e| failed(&e))?);
        if let Some(url) = &url {
            exporter = exporter.with_endpoint(url);
        }
        let exporter = exporter.build().map_err(|e| failed(&e))?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        // `rivet` only where the environment names no service (which would be overridden).
        let named = std::env::var_os("OTEL_SERVICE_NAME").is_some()
            || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|attributes| {
                attributes
                    .split(',')
                    .any(|pair| pair.trim_start().starts_with("service.name="))
            });
        if !named {
            resource = resource.with_service_name("rivet");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        Ok(Self { provider })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans for this exporter.
    ///
    /// It leaves out the `actor` span each activation runs in (it lasts as long as the actor is
    /// awake, so a collector would see it only when the actor sleeps); each turn's span is a
    /// root of its own trace, or continues the caller's `traceparent`.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + Send + Sync + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("rivet"))
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                !(meta.is_span()
                    && meta.name() == crate::trace::ACTIVATION_SPAN
                    && meta.target().starts_with("rivet_core"))
            }))
    }

    /// Sends the spans that wait in the batch now; returns once they went (or could not).
    pub fn flush(&self) {
        if let Err(error) = self.provider.force_flush() {
            tracing::warn!(%error, "cannot send the last spans");
        }
    }

    /// Sends the spans that wait and stops the exporter; spans that end later are dropped.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "cannot send the last spans");
        }
    }
}

/// What [`init`] installed; dropping it sends the spans that still wait for the collector.
#[derive(Debug)]
#[must_use = "dropping it stops the span export"]
pub struct Telemetry {
    otlp: Option<Otlp>,
}

impl Telemetry {
    /// Whether spans go to a collector.
    pub fn exporting(&self) -> bool {
        self.otlp.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(otlp) = self.otlp.take() {
            otlp.shutdown();
        }
    }
}

/// Installs the global `tracing` subscriber an app usually wants: logs to stderr (coloured on a
/// terminal), filtered by `RUST_LOG` (default `info`), and span export to an OpenTelemetry
/// collector when `OTEL_EXPORTER_OTLP_ENDPOINT` is set ([`Otlp::from_env`]). Keep the returned
/// value alive while the app runs: dropping it sends the last spans.
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let _telemetry = rivet_core::telemetry::init()?;
///     // ... build and serve the registry ...
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// [`TelemetryError::Exporter`] if the `OTEL_*` variables do not describe a usable exporter;
/// [`TelemetryError::AlreadyInstalled`] if a global subscriber was installed before.
pub fn init() -> Result<Telemetry, TelemetryError> {
    let otlp = Otlp::from_env()?;
    // One filter each: a layer without one would see (and export) every crate's trace spans.
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    tracing_subscriber::registry()
        .with(otlp.as_ref().map(|otlp| otlp.layer().with_filter(filter())))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours for a terminal, not for a file or a log collector.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(filter()),
        )
        .try_init()
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    if let Some(otlp) = &otlp {
        opentelemetry::global::set_tracer_provider(otlp.provider.clone());
        tracing::info!("exporting spans over OTLP");
    }
    Ok(Telemetry { otlp })
}

/// The exporter's HTTP client: reqwest on a current-thread runtime that the SDK's export thread
/// drives while it sends, independent of the app's runtime.
#[derive(Debug)]
struct Sender {
    client: reqwest::Client,
    runtime: std::sync::OnceLock<tokio::runtime::Runtime>,
}

impl Sender {
    fn new() -> Result<Self, reqwest::Error> {
        // An https:// collector, with the `tls` feature.
        rivet_client::tls::ready();
        // No idle connections: nothing drives them between two exports.
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(Self {
            client,
            runtime: std::sync::OnceLock::new(),
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Sender {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        // The SDK exports from its own thread; on a runtime's thread, blocking here would stall it.
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err("the OTLP sender runs only on the exporter's own thread".into());
        }
        let request = reqwest::Request::try_from(request)?;
        // Made here, on the export thread, which is also where it is dropped: a runtime must not
        // be dropped on a thread of another one.
        let runtime = match self.runtime.get() {
            Some(runtime) => runtime,
            None => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                self.runtime.get_or_init(|| runtime)
            }
        };
        runtime.block_on(async {
            let response = self.client.execute(request).await?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                headers.extend(
                    response
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            Ok::<_, opentelemetry_http::HttpError>(answer.body(response.bytes().await?)?)
        })
    }
}
