//! The fuzz targets: each feeds arbitrary bytes to the decoders of one kind of untrusted input.
//! A target passes when nothing panics, whatever the input; errors are the expected answer.
//! `scripts/fuzz` runs them under libFuzzer; `tests/tests/fuzz_corpus.rs` replays the corpus
//! (`fuzz/corpus/<target>/`) on every `cargo test`, and includes this file.

use rivet_client::protocol::{
    Encoding, HttpActionRequest, HttpQueueRequest, HttpQueueResponse, ToClient, ToServer, compat,
    decode_http_action_response, decode_http_error,
};

const ENCODINGS: [Encoding; 3] = [Encoding::Json, Encoding::Cbor, Encoding::Bare];

/// A fuzz target: decodes whatever it is given.
type Target = fn(&[u8]);

/// Every target, by name.
const TARGETS: &[(&str, Target)] = &[
    ("ws_to_server", ws_to_server),
    ("ws_to_client", ws_to_client),
    ("http_request", http_request),
    ("http_response", http_response),
    ("compat", compat_layer),
    ("gateway", gateway),
    ("handshake", handshake),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The names of the targets.
pub fn names() -> Vec<&'static str> {
    TARGETS.iter().map(|(n, _)| *n).collect()
}

/// WebSocket messages from a client, in each encoding (BARE of both protocol versions).
pub fn ws_to_server(data: &[u8]) {
    for encoding in ENCODINGS {
        let _ = ToServer::decode(data, encoding);
    }
}

/// WebSocket messages from a server (the network client's side).
pub fn ws_to_client(data: &[u8]) {
    for encoding in ENCODINGS {
        let _ = ToClient::decode(data, encoding);
    }
}

/// HTTP action and queue bodies from a client.
pub fn http_request(data: &[u8]) {
    for encoding in ENCODINGS {
        let _ = HttpActionRequest::decode(data, encoding);
        let _ = HttpQueueRequest::decode(data, encoding);
    }
}

/// HTTP response and error bodies from a server (the network client's side).
pub fn http_response(data: &[u8]) {
    for encoding in ENCODINGS {
        let _ = decode_http_action_response(data, encoding);
        let _ = HttpQueueResponse::decode(data, encoding);
        let _ = decode_http_error(data, encoding);
    }
}

/// The compat layer: CBOR revival (`rvt-input`, `/actors` input) and JSON to CBOR.
pub fn compat_layer(data: &[u8]) {
    let _ = compat::revive_cbor(data);
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = compat::json_to_cbor(&json);
        let _ = compat::plain_json_to_cbor(&json);
    }
}

/// Gateway paths and queries: the first line is the path after `/gateway/`, the rest the query.
pub fn gateway(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (tail, query) = match text.split_once('\n') {
        Some((tail, query)) => (tail, Some(query)),
        None => (text, None),
    };
    let _ = rivet_core::server::fuzzing::gateway(tail, query);
}

/// A WebSocket handshake's subprotocols and connection parameters (JSON).
pub fn handshake(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = rivet_core::server::fuzzing::handshake(text);
    let _ = rivet_core::server::fuzzing::conn_params(text);
}
