//! An actor's traces: one span per turn, with its commit as a child, continuing the caller's
//! W3C `traceparent`; kept in a bounded ring per activation for the inspector
//! (`GET /inspector/traces`, OTLP JSON as RivetKit answers it), and made as `tracing` spans
//! (`turn`, `commit`) for logs and subscribers. When a `tracing-opentelemetry` layer sees them
//! (`telemetry.rs`, feature `otlp`), each turn's span is placed in OpenTelemetry under the
//! caller's span (or as a root) and the ring keeps OpenTelemetry's ids, so a trace found in a
//! collector can be followed into the inspector and back.

#[cfg(feature = "otlp")]
mod otel;
/// Without the `otlp` feature no layer can export a span: the ring's own ids are used.
#[cfg(not(feature = "otlp"))]
mod otel {
    use super::{ActorAttributes, TraceParent};

    pub(super) fn start(
        _: &tracing::Span,
        _: Option<TraceParent>,
        _: &'static str,
        _: impl FnOnce() -> ActorAttributes,
    ) -> Option<(u128, u64)> {
        None
    }

    pub(super) fn span_id(_: &tracing::Span) -> Option<u64> {
        None
    }

    pub(super) fn end(_: &tracing::Span, _: Option<&str>) {}
}

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};

use crate::ids::{hex, random_u64};
use crate::time::now_ns;

/// The caller's trace, from a W3C `traceparent` header: the turn's span continues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceParent {
    trace_id: u128,
    span_id: u64,
    /// The W3C trace flags (bit 0: the caller sampled its trace).
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` header value (`00-<32 hex>-<16 hex>-<2 hex>`, or a later version
    /// with more after it); `None` for anything malformed, as the W3C rules say to ignore it.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let bytes = value.as_bytes();
        if bytes.len() < 55 || (bytes.len() > 55 && bytes[55] != b'-') {
            return None;
        }
        let field = |range: std::ops::Range<usize>| {
            let text = value.get(range)?;
            text.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                .then_some(text)
        };
        let version = field(0..2)?;
        if version == "ff" || (version == "00" && bytes.len() != 55) {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = u128::from_str_radix(field(3..35)?, 16).ok()?;
        let span_id = u64::from_str_radix(field(36..52)?, 16).ok()?;
        let flags = u8::from_str_radix(field(53..55)?, 16).ok()?;
        (trace_id != 0 && span_id != 0).then_some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The trace of a request's `traceparent` header, if it has a valid one.
    pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        Self::parse(headers.get("traceparent")?.to_str().ok()?)
    }
}

/// A finished turn, as the ring keeps it: its span and, if it wrote, its commit's, in one record
/// with nothing on the heap unless the turn was refused: an awake actor's recent turns cost it
/// 128 bytes each.
#[derive(Debug, Clone)]
struct TurnRecord {
    trace_id: u128,
    span_id: u64,
    /// 0: a root span.
    parent: u64,
    /// What ran: `action`, `queue`, `hook`, `connect`, ...
    kind: &'static str,
    /// Which one: the action's, queue's or hook's name; empty for the rest.
    name: &'static str,
    start_ns: u64,
    end_ns: u64,
    /// The commit's start and end; both 0 when the turn wrote nothing.
    commit_ns: (u64, u64),
    /// The commit's span id.
    commit_span_id: u64,
    /// The commit's storage operations.
    operations: u32,
    /// The refused turn's error code (`group.code`).
    error: Option<Box<str>>,
}

// What the docs of `RegistryBuilder::trace_spans` promise per kept turn (on 64-bit targets).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<TurnRecord>() <= 128);

/// What a read of the ring asks for (RivetKit's `startMs`, `endMs` and `limit`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TraceQuery {
    pub(crate) start_ms: u64,
    pub(crate) end_ms: u64,
    pub(crate) limit: usize,
}

/// The attributes that name an actor: its name, key and id.
pub(crate) type ActorAttributes = [(&'static str, String); 3];

/// The name of the `tracing` span an actor's activation runs in (the turns' spans are inside
/// it); OpenTelemetry export leaves it out (`telemetry.rs`).
pub(crate) const ACTIVATION_SPAN: &str = "actor";

/// An activation's recent spans, oldest first, at most `capacity` of them; clones share them.
#[derive(Debug, Clone)]
pub(crate) struct Traces {
    ring: Option<Arc<Mutex<Ring>>>,
}

#[derive(Debug)]
struct Ring {
    turns: VecDeque<TurnRecord>,
    /// In turns (each of which may stand for two spans).
    capacity: usize,
}

impl Traces {
    /// A ring of `capacity` spans (0: none are kept).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            ring: (capacity > 0).then(|| {
                Arc::new(Mutex::new(Ring {
                    turns: VecDeque::new(),
                    capacity,
                }))
            }),
        }
    }

    fn push(&self, record: TurnRecord) {
        if let Some(ring) = &self.ring {
            let mut ring = crate::sync::lock(ring);
            if ring.turns.len() >= ring.capacity {
                ring.turns.pop_front();
            }
            ring.turns.push_back(record);
        }
    }

    /// The spans that overlap the query's window, oldest first, at most `limit`, as OTLP JSON
    /// (`resourceSpans`) with `clamped` set when more were there; `resource` names the actor.
    pub(crate) fn otlp(&self, resource: &[(&str, String)], query: TraceQuery) -> Value {
        let start_ns = query.start_ms.saturating_mul(1_000_000);
        // The whole of the last millisecond: a turn that started in the millisecond the
        // default end (now) names is in the window.
        let end_ns = query
            .end_ms
            .saturating_mul(1_000_000)
            .saturating_add(999_999);
        let mut spans = Vec::new();
        let mut clamped = false;
        if let Some(ring) = &self.ring {
            let ring = crate::sync::lock(ring);
            for turn in ring
                .turns
                .iter()
                .filter(|t| t.end_ns >= start_ns && t.start_ns <= end_ns)
            {
                if spans.len() == query.limit {
                    clamped = true;
                    break;
                }
                push_spans(turn, &mut spans, &[]);
                // A turn's commit that does not fit is left out, as a later turn would be.
                if spans.len() > query.limit {
                    spans.truncate(query.limit);
                    clamped = true;
                    break;
                }
            }
        }
        let attributes: Vec<Value> = resource
            .iter()
            .map(|(key, value)| attribute(key, json!({ "stringValue": value })))
            .collect();
        json!({
            "otlp": {
                "resourceSpans": [{
                    "resource": { "attributes": attributes },
                    "scopeSpans": [{
                        "scope": { "name": "rivet", "version": env!("CARGO_PKG_VERSION") },
                        "spans": spans,
                    }],
                }],
            },
            "clamped": clamped,
        })
    }
}

fn attribute(key: &str, value: Value) -> Value {
    json!({ "key": key, "value": value })
}

/// OTLP's JSON for a turn's span and its commit's: ids in lowercase hex, times as strings of
/// nanoseconds; `extra` attributes go on both.
fn push_spans(turn: &TurnRecord, out: &mut Vec<Value>, extra: &[Value]) {
    let string = |v: &str| json!({ "stringValue": v });
    let mut attributes = vec![attribute("rivet.kind", string(turn.kind))];
    attributes.extend_from_slice(extra);
    // OTLP status codes: 1 ok, 2 error.
    let status = match &turn.error {
        Some(code) => {
            attributes.push(attribute("rivet.error", string(code)));
            json!({ "code": 2, "message": code })
        }
        None => json!({ "code": 1 }),
    };
    let name = if turn.name.is_empty() {
        turn.kind.to_owned()
    } else {
        format!("{} {}", turn.kind, turn.name)
    };
    let trace_id = hex(&turn.trace_id.to_be_bytes());
    let mut span = json!({
        "traceId": trace_id,
        "spanId": hex(&turn.span_id.to_be_bytes()),
        "name": name,
        // 1: internal.
        "kind": 1,
        "startTimeUnixNano": turn.start_ns.to_string(),
        "endTimeUnixNano": turn.end_ns.to_string(),
        "attributes": attributes,
        "status": status,
    });
    if turn.parent != 0 {
        span["parentSpanId"] = json!(hex(&turn.parent.to_be_bytes()));
    }
    out.push(span);
    if turn.commit_ns.1 > 0 {
        let mut attributes = vec![
            attribute("rivet.kind", string("commit")),
            attribute(
                "rivet.commit.operations",
                json!({ "intValue": turn.operations.to_string() }),
            ),
        ];
        attributes.extend_from_slice(extra);
        out.push(json!({
            "traceId": trace_id,
            "spanId": hex(&turn.commit_span_id.to_be_bytes()),
            "parentSpanId": hex(&turn.span_id.to_be_bytes()),
            "name": "commit",
            "kind": 1,
            "startTimeUnixNano": turn.commit_ns.0.to_string(),
            "endTimeUnixNano": turn.commit_ns.1.to_string(),
            "attributes": attributes,
            "status": { "code": 1 },
        }));
    }
}

/// A turn's span while it runs.
#[derive(Debug)]
pub(crate) struct TurnSpan {
    trace_id: u128,
    span_id: u64,
    parent: u64,
    kind: &'static str,
    name: &'static str,
    start_ns: u64,
    started: Instant,
    span: tracing::Span,
    /// Whether OpenTelemetry has the span (and gave its ids).
    exported: bool,
}

/// A turn's span name: what ran (`action increment`, `connect`).
struct TurnName(&'static str, &'static str);

impl std::fmt::Display for TurnName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            "" => f.write_str(self.0),
            name => write!(f, "{} {name}", self.0),
        }
    }
}

impl TurnSpan {
    /// Starts the span of a turn running `kind` `name` (an action's name, a queue's, a hook's;
    /// empty for the rest), under the caller's trace if it sent one; `actor` names the actor
    /// for OpenTelemetry, asked only if a layer exports the span.
    pub(crate) fn start(
        kind: &'static str,
        name: &'static str,
        parent: Option<TraceParent>,
        actor: impl FnOnce() -> ActorAttributes,
    ) -> Self {
        let span = tracing::info_span!(
            "turn",
            otel.name = %TurnName(kind, name),
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let exported = if span.is_disabled() {
            None
        } else {
            otel::start(&span, parent, kind, actor)
        };
        let (trace_id, span_id) = exported.unwrap_or_else(|| {
            let trace_id = match parent {
                Some(p) => p.trace_id,
                None => (u128::from(random_u64()) << 64) | u128::from(random_u64()),
            };
            (trace_id, random_u64())
        });
        // Looked up by name even on a disabled span: skipped when no subscriber wants it.
        if !span.is_disabled() {
            span.record(
                "trace_id",
                tracing::field::display(format_args!("{trace_id:032x}")),
            );
            span.record(
                "span_id",
                tracing::field::display(format_args!("{span_id:016x}")),
            );
        }
        Self {
            trace_id,
            span_id,
            parent: parent.map_or(0, |p| p.span_id),
            kind,
            name,
            start_ns: now_ns(),
            started: Instant::now(),
            span,
            exported: exported.is_some(),
        }
    }

    /// The `tracing` span the turn's code runs in.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The turn's batch of `operations` goes to storage now: a commit span starts, if it writes.
    pub(crate) fn commit(self, operations: usize) -> Committing {
        let commit = (operations > 0).then(|| {
            let span = tracing::info_span!(parent: &self.span, "commit", operations);
            let exported = if self.exported {
                otel::span_id(&span)
            } else {
                None
            };
            CommitSpan {
                start_ns: self.start_ns + elapsed_ns(self.started),
                // Derived from the turn's when OpenTelemetry gave none: it costs nothing to
                // make, and is never 0.
                span_id: exported
                    .unwrap_or_else(|| self.span_id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
                span,
                operations: u32::try_from(operations).unwrap_or(u32::MAX),
            }
        });
        Committing { turn: self, commit }
    }
}

#[derive(Debug)]
struct CommitSpan {
    start_ns: u64,
    span_id: u64,
    span: tracing::Span,
    operations: u32,
}

/// A turn whose batch is being committed; [`end`](Self::end) it once its reply is released.
#[derive(Debug)]
pub(crate) struct Committing {
    turn: TurnSpan,
    commit: Option<CommitSpan>,
}

impl Committing {
    /// Ends the commit's span and the turn's, `Err` with the error code the turn ended with,
    /// and keeps both in `traces`.
    pub(crate) fn end(self, traces: &Traces, outcome: Result<(), &str>) {
        let Committing { turn, commit } = self;
        let error: Option<Box<str>> = outcome.err().map(Into::into);
        turn.span
            .record("outcome", error.as_deref().unwrap_or("ok"));
        if turn.exported {
            otel::end(&turn.span, error.as_deref());
        }
        let end_ns = turn.start_ns + elapsed_ns(turn.started);
        let (commit_ns, commit_span_id, operations) = match commit {
            Some(commit) => {
                // The `tracing` span closes here, as the commit is durable.
                drop(commit.span);
                let commit_ns = (commit.start_ns, end_ns.max(commit.start_ns + 1));
                (commit_ns, commit.span_id, commit.operations)
            }
            None => ((0, 0), 0, 0),
        };
        traces.push(TurnRecord {
            trace_id: turn.trace_id,
            span_id: turn.span_id,
            parent: turn.parent,
            kind: turn.kind,
            name: turn.name,
            start_ns: turn.start_ns,
            end_ns: end_ns.max(commit_ns.1),
            commit_ns,
            commit_span_id,
            operations,
            error,
        });
    }
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_follows_the_w3c_rules() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parent = TraceParent::parse(good).expect("valid");
        assert_eq!(parent.trace_id, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        assert_eq!(parent.span_id, 0x00f0_67aa_0ba9_02b7);
        // A later version may add fields after a dash.
        assert!(TraceParent::parse(&format!("01{}-later", &good[2..])).is_some());
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01é",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }

    /// A ring of `capacity`, without an exporter.
    fn ring(capacity: usize) -> Traces {
        Traces::new(capacity)
    }

    fn actor() -> ActorAttributes {
        [
            ("actor.name", "counter".to_owned()),
            ("actor.key", "[\"a\"]".to_owned()),
            ("actor.id", "id1".to_owned()),
        ]
    }

    fn turn(traces: &Traces, parent: Option<TraceParent>, operations: usize, error: Option<&str>) {
        TurnSpan::start("action", "increment", parent, actor)
            .commit(operations)
            .end(traces, error.map_or(Ok(()), Err));
    }

    #[test]
    fn a_turn_and_its_commit_are_kept_as_otlp_spans_under_the_callers_trace() {
        let traces = ring(8);
        let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        turn(&traces, parent, 2, None);
        turn(&traces, None, 0, Some("actor.action_timed_out"));
        let all = TraceQuery {
            start_ms: 0,
            end_ms: u64::MAX / 1_000_000,
            limit: 10,
        };
        let answer = traces.otlp(&[("actor.name", "counter".into())], all);
        assert_eq!(answer["clamped"], false);
        let resource = &answer["otlp"]["resourceSpans"][0];
        assert_eq!(resource["resource"]["attributes"][0]["key"], "actor.name");
        let spans = resource["scopeSpans"][0]["spans"]
            .as_array()
            .expect("spans");
        assert_eq!(spans.len(), 3, "{spans:#?}");
        let (first, commit, second) = (&spans[0], &spans[1], &spans[2]);
        assert_eq!(first["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(first["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(first["name"], "action increment");
        assert_eq!(first["status"]["code"], 1);
        assert_eq!(commit["name"], "commit");
        assert_eq!(commit["parentSpanId"], first["spanId"]);
        assert_eq!(commit["traceId"], first["traceId"]);
        assert_eq!(first["spanId"].as_str().map(str::len), Some(16));
        let nanos = |s: &Value, field: &str| {
            s[field]
                .as_str()
                .and_then(|t| t.parse::<u64>().ok())
                .expect("nanoseconds")
        };
        assert!(nanos(first, "startTimeUnixNano") <= nanos(commit, "startTimeUnixNano"));
        assert!(nanos(commit, "endTimeUnixNano") <= nanos(first, "endTimeUnixNano"));
        assert_ne!(commit["spanId"], first["spanId"]);
        // A turn without a caller's trace starts its own; a refused one says why.
        assert!(second.get("parentSpanId").is_none());
        assert_ne!(second["traceId"], first["traceId"]);
        assert_eq!(second["status"]["code"], 2);
        assert_eq!(second["status"]["message"], "actor.action_timed_out");
    }

    #[test]
    fn the_ring_keeps_the_latest_spans_and_a_read_says_when_it_was_clamped() {
        let traces = ring(4);
        for _ in 0..6 {
            turn(&traces, None, 0, None);
        }
        let all = TraceQuery {
            start_ms: 0,
            end_ms: u64::MAX / 1_000_000,
            limit: 10,
        };
        let spans = |answer: &Value| {
            answer["otlp"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .map_or(0, Vec::len)
        };
        assert_eq!(spans(&traces.otlp(&[], all)), 4);
        let clamped = traces.otlp(&[], TraceQuery { limit: 3, ..all });
        assert_eq!((spans(&clamped), &clamped["clamped"]), (3, &json!(true)));
        // A window before every span holds none.
        let before = traces.otlp(
            &[],
            TraceQuery {
                start_ms: 0,
                end_ms: 1,
                limit: 10,
            },
        );
        assert_eq!(spans(&before), 0);
        // A turn that started within the window's last millisecond is in it (the default end
        // is now, in milliseconds: a turn just before the read may start after its whole
        // milliseconds).
        let late = ring(1);
        late.push(TurnRecord {
            trace_id: 1,
            span_id: 1,
            parent: 0,
            kind: "action",
            name: "late",
            start_ns: 5_000_600_000,
            end_ns: 5_000_700_000,
            commit_ns: (0, 0),
            commit_span_id: 0,
            operations: 0,
            error: None,
        });
        let window = |start_ms, end_ms| TraceQuery {
            start_ms,
            end_ms,
            limit: 10,
        };
        assert_eq!(spans(&late.otlp(&[], window(0, 5_000))), 1);
        assert_eq!(spans(&late.otlp(&[], window(0, 4_999))), 0);
        assert_eq!(spans(&late.otlp(&[], window(5_001, 6_000))), 0);
        // A disabled ring keeps nothing.
        let none = ring(0);
        turn(&none, None, 1, None);
        assert_eq!(spans(&none.otlp(&[], all)), 0);
    }

    /// With a `tracing-opentelemetry` layer, each turn is a span of OpenTelemetry's, a root
    /// or the caller's child even inside the activation's span, and the ring keeps its ids.
    #[cfg(feature = "otlp")]
    #[test]
    fn opentelemetry_gets_each_turn_with_the_ids_the_ring_keeps() {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
        use tracing_subscriber::layer::SubscriberExt;

        #[derive(Debug, Clone, Default)]
        struct Collect(Arc<Mutex<Vec<SpanData>>>);
        impl SpanExporter for Collect {
            async fn export(
                &self,
                batch: Vec<SpanData>,
            ) -> opentelemetry_sdk::error::OTelSdkResult {
                crate::sync::lock(&self.0).extend(batch);
                Ok(())
            }
        }
        let collected = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(collected.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let traces = ring(8);
        let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        tracing::subscriber::with_default(subscriber, || {
            let _activation = tracing::info_span!(super::ACTIVATION_SPAN).entered();
            turn(&traces, TraceParent::parse(caller), 2, None);
            turn(&traces, None, 0, Some("actor.action_timed_out"));
            // An app's own span inside a turn's code.
            let work = TurnSpan::start("action", "work", None, actor);
            work.span()
                .in_scope(|| tracing::info_span!("user work").in_scope(|| {}));
            work.commit(0).end(&traces, Ok(()));
        });
        let exported = crate::sync::lock(&collected.0).clone();
        let ring = traces.otlp(
            &[],
            TraceQuery {
                start_ms: 0,
                end_ms: u64::MAX / 1_000_000,
                limit: 10,
            },
        );
        let kept = &ring["otlp"]["resourceSpans"][0]["scopeSpans"][0]["spans"];
        let find = |name: &str, trace: Option<u128>| {
            exported
                .iter()
                .find(|s| {
                    s.name == name
                        && trace
                            .is_none_or(|t| s.span_context.trace_id().to_bytes() == t.to_be_bytes())
                })
                .unwrap_or_else(|| panic!("no {name} in {exported:?}"))
        };
        let hex_id = |id: &[u8]| crate::ids::hex(id);

        // The caller's turn: its child, with a commit under it, the same ids in the ring.
        let called = find(
            "action increment",
            Some(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        );
        assert_eq!(
            hex_id(&called.parent_span_id.to_bytes()),
            "00f067aa0ba902b7"
        );
        assert_eq!(
            kept[0]["spanId"],
            hex_id(&called.span_context.span_id().to_bytes())
        );
        let commit = find("commit", None);
        assert_eq!(commit.parent_span_id, called.span_context.span_id());
        assert_eq!(
            kept[1]["spanId"],
            hex_id(&commit.span_context.span_id().to_bytes())
        );
        let attribute = |span: &SpanData, key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(attribute(called, "actor.id").as_deref(), Some("id1"));
        assert_eq!(attribute(called, "rivet.kind").as_deref(), Some("action"));
        assert_eq!(called.status, opentelemetry::trace::Status::Ok);

        // The refused turn: a root of its own trace, not the activation span's child.
        let refused = exported
            .iter()
            .find(|s| {
                s.name == "action increment"
                    && kept[2]["spanId"] == hex_id(&s.span_context.span_id().to_bytes())
            })
            .expect("the refused turn, with the ring's id");
        assert_eq!(
            refused.parent_span_id,
            opentelemetry::trace::SpanId::INVALID
        );
        assert_eq!(
            kept[2]["traceId"],
            hex_id(&refused.span_context.trace_id().to_bytes())
        );
        assert_eq!(
            refused.status,
            opentelemetry::trace::Status::error("actor.action_timed_out")
        );

        // The app's span is the turn's child, in its trace.
        let work = find("action work", None);
        let user = find("user work", None);
        assert_eq!(user.parent_span_id, work.span_context.span_id());
        assert_eq!(user.span_context.trace_id(), work.span_context.trace_id());
    }
}
