//! The BARE payloads the inspector WebSocket carries inside its messages, written from the
//! JSON the inspector's HTTP routes answer (one source for both): a workflow history
//! (RivetKit's transport schema v1) and a window of spans (`@rivetkit/traces`' `ReadRangeWire`,
//! schema v1, with its version in front).

use rivet_client::protocol::bare::Writer;
use rivet_client::protocol::compat::plain_json_to_cbor;
use serde_json::Value;

/// CBOR of a JSON value; `None` for JSON `null` (RivetKit's absent output).
fn cbor(value: &Value) -> Option<Vec<u8>> {
    if value.is_null() {
        return None;
    }
    plain_json_to_cbor(value).ok()
}

fn optional_data(w: &mut Writer, value: Option<Vec<u8>>) {
    w.optional(value, |w, v| {
        w.data(&v);
    });
}

fn optional_str(w: &mut Writer, value: &Value) {
    w.optional(value.as_str(), |w, v| {
        w.str(v);
    });
}

fn u32_of(value: &Value) -> u32 {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(u32::MAX)
}

/// `history` (the `history` of `workflow-history`'s JSON) in RivetKit's workflow transport.
pub(crate) fn workflow_history(history: &Value) -> Vec<u8> {
    let mut w = Writer::default();
    let names = history["nameRegistry"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    w.uint(names.len() as u64);
    for name in names {
        w.str(name.as_str().unwrap_or_default());
    }
    let entries = history["entries"].as_array().map_or(&[][..], Vec::as_slice);
    w.uint(entries.len() as u64);
    for entry in entries {
        w.str(entry["id"].as_str().unwrap_or_default());
        let location = entry["location"].as_array().map_or(&[][..], Vec::as_slice);
        w.uint(location.len() as u64);
        for segment in location {
            if segment["tag"] == "WorkflowLoopIterationMarker" {
                w.uint(1)
                    .u32(u32_of(&segment["val"]["loop"]))
                    .u32(u32_of(&segment["val"]["iteration"]));
            } else {
                w.uint(0).u32(u32_of(&segment["val"]));
            }
        }
        entry_kind(&mut w, &entry["kind"]);
    }
    let metadata = history["entryMetadata"].as_object();
    w.uint(metadata.map_or(0, |m| m.len() as u64));
    for (id, meta) in metadata.into_iter().flatten() {
        w.str(id);
        let status = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "EXHAUSTED"]
            .iter()
            .position(|s| meta["status"] == *s)
            .unwrap_or(0);
        w.uint(status as u64);
        optional_str(&mut w, &meta["error"]);
        w.u32(u32_of(&meta["attempts"]))
            .u64(meta["lastAttemptAt"].as_u64().unwrap_or(0))
            .u64(meta["createdAt"].as_u64().unwrap_or(0));
        for key in ["completedAt", "rollbackCompletedAt"] {
            w.optional(meta[key].as_u64(), |w, at| {
                w.u64(at);
            });
        }
        optional_str(&mut w, &meta["rollbackError"]);
    }
    w.finish()
}

fn entry_kind(w: &mut Writer, kind: &Value) {
    let val = &kind["val"];
    let branches = |w: &mut Writer, branches: &Value| {
        let map = branches.as_object();
        w.uint(map.map_or(0, |m| m.len() as u64));
        for (name, branch) in map.into_iter().flatten() {
            let status = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
                .iter()
                .position(|s| branch["status"] == *s)
                .unwrap_or(0);
            w.str(name).uint(status as u64);
            optional_data(w, cbor(&branch["output"]));
            optional_str(w, &branch["error"]);
        }
    };
    match kind["tag"].as_str().unwrap_or_default() {
        "WorkflowStepEntry" => {
            w.uint(0);
            optional_data(w, cbor(&val["output"]));
            optional_str(w, &val["error"]);
        }
        "WorkflowLoopEntry" => {
            w.uint(1);
            w.data(&cbor(&val["state"]).unwrap_or_else(|| vec![0xf6]));
            w.u32(u32_of(&val["iteration"]));
            optional_data(w, cbor(&val["output"]));
        }
        "WorkflowSleepEntry" => {
            let state = ["PENDING", "COMPLETED", "INTERRUPTED"]
                .iter()
                .position(|s| val["state"] == *s)
                .unwrap_or(0);
            w.uint(2)
                .u64(val["deadline"].as_u64().unwrap_or(0))
                .uint(state as u64);
        }
        "WorkflowMessageEntry" => {
            w.uint(3).str(val["name"].as_str().unwrap_or_default());
            w.data(&cbor(&val["messageData"]).unwrap_or_else(|| vec![0xf6]));
        }
        "WorkflowJoinEntry" => {
            w.uint(5);
            branches(w, &val["branches"]);
        }
        "WorkflowRaceEntry" => {
            w.uint(6);
            optional_str(w, &val["winner"]);
            branches(w, &val["branches"]);
        }
        _ => {
            w.uint(7)
                .str(val["originalType"].as_str().unwrap_or("step"));
            optional_str(w, &val["originalName"]);
        }
    }
}

/// A string table: each string once, by index.
#[derive(Default)]
struct Strings(Vec<String>);

impl Strings {
    fn id(&mut self, s: &str) -> u32 {
        let index = match self.0.iter().position(|x| x == s) {
            Some(index) => index,
            None => {
                self.0.push(s.to_owned());
                self.0.len() - 1
            }
        };
        u32::try_from(index).unwrap_or(u32::MAX)
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn nanos(value: &Value) -> u64 {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The spans of `traces`' JSON (`{"otlp": {"resourceSpans": ...}, "clamped"}`) as a
/// `ReadRangeWire`: one chunk with a start and an end record per span.
pub(crate) fn trace_range(traces: &Value, start_ms: u64, end_ms: u64, limit: u64) -> Vec<u8> {
    let spans: Vec<&Value> = traces["otlp"]["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|s| s["spans"].as_array().into_iter().flatten())
        .collect();
    let base_ns = spans
        .iter()
        .map(|s| nanos(&s["startTimeUnixNano"]))
        .min()
        .unwrap_or(0);
    let mut strings = Strings::default();
    // Records: time offset, then the union member (0 SpanStart, 3 SpanEnd).
    let mut records: Vec<(u64, Vec<u8>)> = Vec::new();
    for span in &spans {
        let span_id = hex_bytes(span["spanId"].as_str().unwrap_or_default());
        let mut start = Writer::default();
        start
            .uint(0)
            .data(&hex_bytes(span["traceId"].as_str().unwrap_or_default()))
            .data(&span_id);
        start.optional(span["parentSpanId"].as_str(), |w, parent| {
            w.data(&hex_bytes(parent));
        });
        let name = strings.id(span["name"].as_str().unwrap_or_default());
        start.u32(name).u32(u32_of(&span["kind"]));
        // traceState, then flags.
        start.optional(None::<()>, |_, ()| {}).u32(0);
        let attributes = span["attributes"].as_array().map_or(&[][..], Vec::as_slice);
        start.uint(attributes.len() as u64);
        for attribute in attributes {
            let value = &attribute["value"];
            let plain = value
                .get("stringValue")
                .cloned()
                .or_else(|| {
                    value
                        .get("intValue")
                        .and_then(|v| v.as_str()?.parse::<i64>().ok())
                        .map(Value::from)
                })
                .unwrap_or(Value::Null);
            start
                .u32(strings.id(attribute["key"].as_str().unwrap_or_default()))
                .data(&plain_json_to_cbor(&plain).unwrap_or_else(|_| vec![0xf6]));
        }
        // droppedAttributesCount, links, droppedLinksCount.
        start.u32(0).uint(0).u32(0);
        let started = nanos(&span["startTimeUnixNano"]);
        records.push((started - base_ns, start.finish()));

        let mut end = Writer::default();
        end.uint(3).data(&span_id);
        let code = span["status"]["code"].as_u64();
        end.optional(code, |w, code| {
            w.uint(code.min(2));
            w.optional(span["status"]["message"].as_str(), |w, m| {
                w.str(m);
            });
        });
        let ended = nanos(&span["endTimeUnixNano"]).max(started);
        records.push((ended - base_ns, end.finish()));
    }
    records.sort_by_key(|(offset, _)| *offset);

    let mut w = Writer::versioned(1);
    w.u64(start_ms)
        .u64(end_ms)
        .u32(u32::try_from(limit).unwrap_or(u32::MAX))
        .bool(traces["clamped"].as_bool().unwrap_or(false));
    // No base chunks: every span of the window starts in it.
    w.uint(0);
    w.uint(1).u64(base_ns);
    w.uint(strings.0.len() as u64);
    for s in &strings.0 {
        w.str(s);
    }
    w.uint(records.len() as u64);
    let mut out = w.finish();
    for (offset, body) in records {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&body);
    }
    // No active spans: a span is recorded once it ended.
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_history_is_three_empty_lists() {
        let history = json!({ "nameRegistry": [], "entries": [], "entryMetadata": {} });
        assert_eq!(workflow_history(&history), [0, 0, 0]);
    }

    #[test]
    fn a_step_entry_is_written_in_the_transport_layout() {
        let history = json!({
            "nameRegistry": ["fetch"],
            "entries": [{
                "id": "fetch",
                "location": [{ "tag": "WorkflowNameIndex", "val": 0 }],
                "kind": { "tag": "WorkflowStepEntry", "val": { "output": 1, "error": null } },
            }],
            "entryMetadata": {},
        });
        let mut expected = vec![1, 5];
        expected.extend_from_slice(b"fetch");
        expected.extend_from_slice(&[1, 5]);
        expected.extend_from_slice(b"fetch");
        // one segment: name index 0 (u32); step: output CBOR 1, no error; no metadata.
        expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 1, 1, 0x01, 0, 0]);
        assert_eq!(workflow_history(&history), expected);
    }

    #[test]
    fn no_spans_is_an_empty_chunk() {
        let traces = json!({ "otlp": { "resourceSpans": [] }, "clamped": false });
        let bytes = trace_range(&traces, 1, 2, 10);
        // version 1, start, end, limit, clamped, no base chunks, one chunk of nothing.
        let mut expected = vec![1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
        expected.extend_from_slice(&[10, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bytes, expected);
    }
}
