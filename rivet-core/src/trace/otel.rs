//! A turn's span in OpenTelemetry, when a `tracing-opentelemetry` layer exports it: placed
//! under the caller's span (or as the root of a trace of its own, rather than inside the
//! activation's span), named after the actor, and read back for its ids.

use opentelemetry::trace::{
    SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{ActorAttributes, TraceParent};

/// Starts `span` in OpenTelemetry under `parent` (a root without one), with the turn's `kind`
/// and the actor's attributes; its trace and span ids, or `None` if no layer exports it.
pub(super) fn start(
    span: &tracing::Span,
    parent: Option<TraceParent>,
    kind: &'static str,
    actor: impl FnOnce() -> ActorAttributes,
) -> Option<(u128, u64)> {
    let cx = match parent {
        Some(p) => opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes(p.trace_id.to_be_bytes()),
            SpanId::from_bytes(p.span_id.to_be_bytes()),
            TraceFlags::new(p.flags),
            true,
            TraceState::default(),
        )),
        None => opentelemetry::Context::new(),
    };
    span.set_parent(cx).ok()?;
    let ids = ids(span)?;
    span.set_attribute("rivet.kind", kind);
    for (key, value) in actor() {
        span.set_attribute(key, value);
    }
    Some(ids)
}

/// The span id OpenTelemetry gave `span`, if it has it.
pub(super) fn span_id(span: &tracing::Span) -> Option<u64> {
    ids(span).map(|(_, span_id)| span_id)
}

/// Sets the turn's status: an error with its code, or ok.
pub(super) fn end(span: &tracing::Span, error: Option<&str>) {
    match error {
        Some(code) => {
            span.set_attribute("rivet.error", code.to_owned());
            span.set_status(Status::error(code.to_owned()));
        }
        None => span.set_status(Status::Ok),
    }
}

fn ids(span: &tracing::Span) -> Option<(u128, u64)> {
    let cx = span.context();
    let otel = cx.span();
    let context = otel.span_context();
    context.is_valid().then(|| {
        (
            u128::from_be_bytes(context.trace_id().to_bytes()),
            u64::from_be_bytes(context.span_id().to_bytes()),
        )
    })
}
