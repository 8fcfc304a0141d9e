//! An actor's traces: one span per turn, with its commit as a child, continuing the caller's
//! W3C `traceparent`; kept in a bounded ring per activation for the inspector
//! (`GET /inspector/traces`, OTLP JSON as RivetKit answers it), sent to an OpenTelemetry
//! collector when one is configured (`export.rs`, feature `otlp`), and mirrored as `tracing`
//! spans (`turn`, `commit`) for logs and subscribers.

#[cfg(feature = "otlp")]
mod export;
#[cfg(feature = "otlp")]
pub(crate) use export::{ExportConfig, Exporter};

/// Where finished spans go besides the ring: the exporter (none can exist without the `otlp`
/// feature).
#[cfg(feature = "otlp")]
pub(crate) type SpanExport = Exporter;
/// Where finished spans go besides the ring: the exporter (none can exist without the `otlp`
/// feature).
#[cfg(not(feature = "otlp"))]
pub(crate) type SpanExport = std::convert::Infallible;

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
        field(53..55)?;
        (trace_id != 0 && span_id != 0).then_some(Self { trace_id, span_id })
    }

    /// The trace of a request's `traceparent` header, if it has a valid one.
    pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        Self::parse(headers.get("traceparent")?.to_str().ok()?)
    }
}

/// A finished turn, as the ring keeps it: its span and, if it wrote, its commit's (whose span
/// id is derived from the turn's), in one record with nothing on the heap unless the turn was
/// refused: an awake actor's recent turns cost it 128 bytes each.
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
    /// The commit's storage operations.
    operations: u32,
    /// The refused turn's error code (`group.code`).
    error: Option<Box<str>>,
}

impl TurnRecord {
    /// The commit's span id: derived, so that it costs the record nothing; never 0.
    fn commit_span_id(&self) -> u64 {
        self.span_id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
    }
}

/// What a read of the ring asks for (RivetKit's `startMs`, `endMs` and `limit`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TraceQuery {
    pub(crate) start_ms: u64,
    pub(crate) end_ms: u64,
    pub(crate) limit: usize,
}

/// The attributes that name an actor: its name, key and id.
pub(crate) type ActorAttributes = Arc<[(&'static str, String)]>;

/// An activation's recent spans, oldest first, at most `capacity` of them, and where finished
/// spans are exported; clones share them.
#[derive(Debug, Clone)]
pub(crate) struct Traces {
    ring: Option<Arc<Mutex<Ring>>>,
    /// The exporter, and the actor's attributes it adds to each span.
    #[cfg(feature = "otlp")]
    export: Option<(Exporter, ActorAttributes)>,
}

#[derive(Debug)]
struct Ring {
    turns: VecDeque<TurnRecord>,
    /// In turns (each of which may stand for two spans).
    capacity: usize,
}

impl Traces {
    /// A ring of `capacity` spans (0: none are kept), whose spans also go to the registry's
    /// exporter, if it has one, named by the attributes `actor` makes (only then: an awake
    /// actor without an exporter holds no copy of them).
    pub(crate) fn new(
        capacity: usize,
        exporter: Option<&SpanExport>,
        actor: impl FnOnce() -> ActorAttributes,
    ) -> Self {
        #[cfg(not(feature = "otlp"))]
        let _ = (exporter, actor);
        Self {
            ring: (capacity > 0).then(|| {
                Arc::new(Mutex::new(Ring {
                    turns: VecDeque::new(),
                    capacity,
                }))
            }),
            #[cfg(feature = "otlp")]
            export: exporter.map(|exporter| (exporter.clone(), actor())),
        }
    }

    fn push(&self, record: TurnRecord) {
        #[cfg(feature = "otlp")]
        if let Some((exporter, actor)) = &self.export {
            exporter.send(record.clone(), actor);
        }
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
        let end_ns = query.end_ms.saturating_mul(1_000_000);
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
            "spanId": hex(&turn.commit_span_id().to_be_bytes()),
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
}

impl TurnSpan {
    /// Starts the span of a turn running `kind` `name` (an action's name, a queue's, a hook's;
    /// empty for the rest), under the caller's trace if it sent one.
    pub(crate) fn start(
        kind: &'static str,
        name: &'static str,
        parent: Option<TraceParent>,
    ) -> Self {
        let (trace_id, parent_span) = match parent {
            Some(p) => (p.trace_id, p.span_id),
            None => (
                (u128::from(random_u64()) << 64) | u128::from(random_u64()),
                0,
            ),
        };
        let span_id = random_u64();
        let span = tracing::info_span!(
            "turn",
            kind,
            name,
            trace_id = %format_args!("{trace_id:032x}"),
            span_id = %format_args!("{span_id:016x}"),
            outcome = tracing::field::Empty,
        );
        Self {
            trace_id,
            span_id,
            parent: parent_span,
            kind,
            name,
            start_ns: now_ns(),
            started: Instant::now(),
            span,
        }
    }

    /// The `tracing` span the turn's code runs in.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The turn's batch of `operations` goes to storage now: a commit span starts, if it writes.
    pub(crate) fn commit(self, operations: usize) -> Committing {
        let commit = (operations > 0).then(|| CommitSpan {
            start_ns: self.start_ns + elapsed_ns(self.started),
            span: tracing::info_span!(parent: &self.span, "commit", operations),
            operations: u32::try_from(operations).unwrap_or(u32::MAX),
        });
        Committing { turn: self, commit }
    }
}

#[derive(Debug)]
struct CommitSpan {
    start_ns: u64,
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
        let end_ns = turn.start_ns + elapsed_ns(turn.started);
        let (commit_ns, operations) = match commit {
            Some(commit) => {
                // The `tracing` span closes here, as the commit is durable.
                drop(commit.span);
                let commit_ns = (commit.start_ns, end_ns.max(commit.start_ns + 1));
                (commit_ns, commit.operations)
            }
            None => ((0, 0), 0),
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
        Traces::new(capacity, None, || {
            Arc::from([("actor.name", "counter".to_owned())])
        })
    }

    fn turn(traces: &Traces, parent: Option<TraceParent>, operations: usize, error: Option<&str>) {
        TurnSpan::start("action", "increment", parent)
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
        // A disabled ring keeps nothing.
        let none = ring(0);
        turn(&none, None, 1, None);
        assert_eq!(spans(&none.otlp(&[], all)), 0);
    }
}
