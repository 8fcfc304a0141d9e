//! Byte-level checks against the examples verified with the official client
//! (`shared/reference/rivetkit-protocol.md`), round trips, and fuzzing of every decoder.

use proptest::prelude::*;
use serde_json::{Value as Json, json};

use super::*;
use crate::codec::to_cbor;
use crate::error::ActorError;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A frame's payload.
fn bytes(frame: Frame) -> Vec<u8> {
    match frame {
        Frame::Text(t) => t.into_bytes(),
        Frame::Binary(b) => b,
    }
}

fn text(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn bare_messages_match_the_official_client() {
    let init = ToClient::Init {
        actor_id: "actor1".into(),
        connection_id: "conn1".into(),
    };
    let init_bytes = |v: &str| {
        hex(&format!(
            "{v}00 00 06{} 05{}",
            text("actor1"),
            text("conn1")
        ))
    };
    assert_eq!(
        init.encode_versioned(Encoding::Bare, 4).unwrap(),
        Frame::Binary(init_bytes("04"))
    );
    // WebSocket frames go out as v3 by default, which rivetkit 2.2 needs and 2.3 accepts.
    assert_eq!(
        init.encode(Encoding::Bare).unwrap(),
        Frame::Binary(init_bytes("03"))
    );
    let response = ToClient::ActionResponse {
        id: 0,
        output: to_cbor(&18).unwrap(),
    };
    assert_eq!(
        response.encode_versioned(Encoding::Bare, 4).unwrap(),
        Frame::Binary(hex("0400 02 00 01 12"))
    );
    let event = ToClient::Event {
        name: "newCount".into(),
        args: to_cbor(&(18,)).unwrap(),
    };
    assert_eq!(
        event.encode_versioned(Encoding::Bare, 4).unwrap(),
        Frame::Binary(hex(&format!("0400 03 08{} 02 81 12", text("newCount"))))
    );

    let request = hex(&format!("0400 00 00 09{} 02 81 01", text("increment")));
    assert_eq!(
        ToServer::decode(&request, Encoding::Bare).unwrap(),
        ToServer::ActionRequest {
            id: 0,
            name: "increment".into(),
            args: to_cbor(&(1,)).unwrap(),
        }
    );
    let subscribe = hex(&format!("0400 01 08{} 01", text("newCount")));
    assert_eq!(
        ToServer::decode(&subscribe, Encoding::Bare).unwrap(),
        ToServer::SubscriptionRequest {
            event_name: "newCount".into(),
            subscribe: true,
        }
    );
}

#[test]
fn bare_error_decodes_the_official_bytes() {
    // cbor-x writes `{why: "test"}` with a 16-bit map header.
    let metadata = format!("b90001 63{} 64{}", text("why"), text("test"));
    let bytes = hex(&format!(
        "0400 01 04{} 07{} 04{} 01 0c{} 01 01 00",
        text("user"),
        text("my_code"),
        text("boom"),
        metadata
    ));
    let decoded = ToClient::decode(&bytes, Encoding::Bare).unwrap();
    let mut expected = ActorError::new("user", "my_code", "boom");
    expected.metadata = Some(json!({"why": "test"}));
    assert_eq!(
        decoded,
        ToClient::Error {
            error: expected.clone(),
            action_id: Some(1),
        }
    );
    // Our encoding of the same error decodes to the same thing.
    let ours = ToClient::Error {
        error: expected,
        action_id: Some(1),
    };
    let Frame::Binary(b) = ours.encode(Encoding::Bare).unwrap() else {
        panic!("binary")
    };
    assert_eq!(ToClient::decode(&b, Encoding::Bare).unwrap(), ours);
}

#[test]
fn json_messages_use_bigint_ids() {
    let response = ToClient::ActionResponse {
        id: 7,
        output: to_cbor(&5).unwrap(),
    };
    let Frame::Text(text) = response.encode(Encoding::Json).unwrap() else {
        panic!("text")
    };
    let json: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json,
        json!({"body":{"tag":"ActionResponse","val":{"id":["$BigInt","7"],"output":5}}})
    );

    let error = ToClient::Error {
        error: ActorError::new("actor", "not_found", "gone"),
        action_id: None,
    };
    let Frame::Text(text) = error.encode(Encoding::Json).unwrap() else {
        panic!("text")
    };
    let json: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(json["body"]["val"]["actionId"], Json::Null);

    let request = br#"{"body":{"tag":"ActionRequest","val":{"id":["$BigInt","0"],"name":"increment","args":[1]}}}"#;
    assert_eq!(
        ToServer::decode(request, Encoding::Json).unwrap(),
        ToServer::ActionRequest {
            id: 0,
            name: "increment".into(),
            args: to_cbor(&(1,)).unwrap(),
        }
    );
}

#[test]
fn cbor_ids_are_64_bit_integers() {
    let response = ToClient::ActionResponse {
        id: 1,
        output: to_cbor(&true).unwrap(),
    };
    let Frame::Binary(bytes) = response.encode(Encoding::Cbor).unwrap() else {
        panic!("binary")
    };
    let needle = hex("1b 0000000000000001");
    assert!(
        bytes.windows(needle.len()).any(|w| w == needle),
        "{bytes:02x?}"
    );
    assert_eq!(ToClient::decode(&bytes, Encoding::Cbor).unwrap(), response);
}

#[test]
fn http_bodies_match_the_official_client() {
    let cbor = hex(&format!("b90001 64{} 81 05", text("args")));
    let request = HttpActionRequest::decode(&cbor, Encoding::Cbor).unwrap();
    assert_eq!(request.args, to_cbor(&(5,)).unwrap());
    let bare = hex("0400 02 81 05");
    assert_eq!(
        HttpActionRequest::decode(&bare, Encoding::Bare)
            .unwrap()
            .args,
        to_cbor(&(5,)).unwrap()
    );
    // JSON args normalisation: null is none, a scalar is one.
    assert_eq!(
        HttpActionRequest::decode(br#"{"args":null}"#, Encoding::Json)
            .unwrap()
            .args,
        to_cbor(&[0u8; 0]).unwrap()
    );
    assert_eq!(
        HttpActionRequest::decode(br#"{"args":3}"#, Encoding::Json)
            .unwrap()
            .args,
        to_cbor(&(3,)).unwrap()
    );

    // (The reference document shows one `01` too many before the name; this is the layout of
    // the BARE schema: data, then optional name, wait and timeout.)
    let queue = hex(&format!(
        "0400 06 b90001616101 01 04{} 01 01 01 e803000000000000",
        text("jobs")
    ));
    let decoded = HttpQueueRequest::decode(&queue, Encoding::Bare).unwrap();
    assert_eq!(decoded.name.as_deref(), Some("jobs"));
    assert!(decoded.wait);
    assert_eq!(decoded.timeout_ms, Some(1000));
    let body: serde_json::Value = crate::codec::from_cbor(&decoded.body).unwrap();
    assert_eq!(body, json!({"a": 1}));
    let json = br#"{"body":{"a":1},"name":"jobs","wait":true,"timeout":1000}"#;
    let decoded_json = HttpQueueRequest::decode(json, Encoding::Json).unwrap();
    assert_eq!(decoded_json.timeout_ms, Some(1000));
    let json_body: serde_json::Value = crate::codec::from_cbor(&decoded_json.body).unwrap();
    assert_eq!(json_body, body);
}

#[test]
fn rivetkit_2_2_bare_payloads_are_plain_cbor() {
    // v3 clients send raw cbor-x values: an array that looks like a compat marker is data.
    let args = to_cbor(&(("$BigInt", "5"),)).unwrap();
    let mut body = vec![3, 0];
    body.push(args.len() as u8);
    body.extend_from_slice(&args);
    assert_eq!(
        HttpActionRequest::decode(&body, Encoding::Bare)
            .unwrap()
            .args,
        args
    );
    body[0] = 4;
    assert_eq!(
        HttpActionRequest::decode(&body, Encoding::Bare)
            .unwrap()
            .args,
        to_cbor(&(5,)).unwrap()
    );
    // ...and they read plain CBOR back.
    let output = to_cbor(&("$x", 1)).unwrap();
    let v3 = encode_http_action_response(&output, Encoding::Bare, 3).unwrap();
    assert_eq!(&v3[3..], &output[..]);
}

#[test]
fn bare_http_error_follows_the_request_version() {
    let error = ActorError::new("user", "x", "y");
    let v4 = encode_http_error(&error, Encoding::Bare, 4);
    let v3 = encode_http_error(&error, Encoding::Bare, 3);
    assert_eq!(&v4[..2], &[4, 0]);
    assert_eq!(&v3[..2], &[3, 0]);
    assert_eq!(v4.len(), v3.len() + 1, "v4 adds the absent `actor`");
    assert_eq!(decode_http_error(&v3, Encoding::Bare).unwrap(), error);
    assert_eq!(decode_http_error(&v4, Encoding::Bare).unwrap(), error);
}

#[test]
fn every_message_round_trips_in_every_encoding() {
    let mut error = ActorError::new("user", "code", "msg");
    error.metadata = Some(json!({"n": 1, "list": ["$x", 2]}));
    let client_messages = [
        ToClient::Init {
            actor_id: "a".into(),
            connection_id: "c".into(),
        },
        ToClient::Error {
            error,
            action_id: Some(9),
        },
        ToClient::ActionResponse {
            id: u64::MAX,
            output: to_cbor(&(("$tag", 1), vec![1u8, 2], u64::MAX, "s")).unwrap(),
        },
        ToClient::Event {
            name: "e".into(),
            args: to_cbor(&(1, -2, 3.5)).unwrap(),
        },
    ];
    let server_messages = [
        ToServer::ActionRequest {
            id: 3,
            name: "act".into(),
            args: to_cbor(&(("$$y", 1), 2)).unwrap(),
        },
        ToServer::SubscriptionRequest {
            event_name: "e".into(),
            subscribe: false,
        },
    ];
    for encoding in [Encoding::Json, Encoding::Cbor, Encoding::Bare] {
        for msg in &client_messages {
            let payload = bytes(msg.encode(encoding).unwrap());
            assert_eq!(
                &ToClient::decode(&payload, encoding).unwrap(),
                msg,
                "{encoding:?}"
            );
        }
        for msg in &server_messages {
            let payload = bytes(msg.encode(encoding).unwrap());
            // CBOR requests carry values as they are (no compat markers), like cbor-x does.
            assert_eq!(
                &ToServer::decode(&payload, encoding).unwrap(),
                msg,
                "{encoding:?}"
            );
        }
        let args = to_cbor(&(1, "two")).unwrap();
        let body = HttpActionRequest::encode(&args, encoding).unwrap();
        assert_eq!(
            HttpActionRequest::decode(&body, encoding).unwrap().args,
            args
        );
        let output = to_cbor(&vec![("$k", 1)]).unwrap();
        let body = encode_http_action_response(&output, encoding, PROTOCOL_VERSION).unwrap();
        assert_eq!(
            decode_http_action_response(&body, encoding).unwrap(),
            output
        );
        let queue = HttpQueueRequest {
            body: to_cbor(&json!({"n": 1})).unwrap(),
            name: Some("jobs".into()),
            wait: true,
            timeout_ms: Some(500),
            version: PROTOCOL_VERSION,
        };
        let decoded = HttpQueueRequest::decode(&queue.encode(encoding).unwrap(), encoding).unwrap();
        assert_eq!(decoded, queue);
        let response = HttpQueueResponse {
            status: "completed".into(),
            response: Some(to_cbor(&json!({"total": 3})).unwrap()),
        };
        let body = response.encode(encoding, PROTOCOL_VERSION).unwrap();
        assert_eq!(
            HttpQueueResponse::decode(&body, encoding).unwrap(),
            response
        );
    }
}

#[test]
fn json_errors_name_the_field() {
    use ProtocolError::*;
    let json = |text: &str| ToServer::decode(text.as_bytes(), Encoding::Json);
    let id = json(r#"{"body":{"tag":"ActionRequest","val":{"id":-1,"name":"x"}}}"#).unwrap_err();
    assert_eq!(
        id,
        InvalidField {
            field: "id",
            expected: Expected::NonNegativeInteger
        }
    );
    assert_eq!(id.to_string(), "id must be a non-negative integer");
    assert_eq!(
        json(r#"{"body":{"tag":"Nope","val":{}}}"#),
        Err(UnknownMessage { tag: "Nope".into() })
    );
    assert_eq!(
        json(r#"{"body":{"tag":"SubscriptionRequest","val":{"eventName":"e"}}}"#),
        Err(InvalidField {
            field: "subscribe",
            expected: Expected::Boolean
        })
    );
    assert_eq!(
        json("[1]"),
        Err(InvalidField {
            field: "message",
            expected: Expected::Object
        })
    );
    assert!(matches!(json("{"), Err(InvalidJson { .. })));
}

#[test]
fn cbor_errors_name_the_path() {
    use ProtocolError::*;
    // `{}`, then `{body: {tag: "Init"}}`.
    assert_eq!(
        ToClient::decode(&[0xa0], Encoding::Cbor),
        Err(MissingField { field: "body" })
    );
    let no_val = hex(&format!(
        "a1 64{} a1 63{} 64{}",
        text("body"),
        text("tag"),
        text("Init")
    ));
    let missing = ToClient::decode(&no_val, Encoding::Cbor).unwrap_err();
    assert_eq!(missing, MissingField { field: "body.val" });
    assert_eq!(missing.to_string(), "body.val is missing");
    assert_eq!(
        ToClient::decode(&[0x82, 0x01], Encoding::Cbor),
        Err(Cbor(crate::codec::CborError::Truncated))
    );
}

#[test]
fn bare_errors_say_what_failed() {
    use ProtocolError::*;
    let bare = |bytes: &[u8]| ToServer::decode(bytes, Encoding::Bare);
    assert_eq!(bare(&[9, 0, 0]), Err(UnsupportedVersion { version: 9 }));
    assert_eq!(bare(&[4, 0, 7]), Err(UnknownTag { tag: 7 }));
    assert_eq!(
        bare(&[4, 0, 0, 1]),
        Err(Bare(bare::BareError::Truncated { needed: 1, left: 0 }))
    );
}

#[test]
fn body_errors_say_what_failed() {
    use ProtocolError::*;
    let marker = HttpActionRequest::decode(br#"{"args":[["$Nope",1]]}"#, Encoding::Json);
    assert_eq!(
        marker,
        Err(Compat(compat::CompatError::UnknownMarker {
            marker: "$Nope".into()
        }))
    );
    let timeout = |body: &str| HttpQueueRequest::decode(body.as_bytes(), Encoding::Json);
    assert_eq!(
        timeout(r#"{"timeout":-5}"#),
        Err(InvalidField {
            field: "timeout",
            expected: Expected::NonNegativeNumber
        })
    );
    assert_eq!(
        timeout(r#"{"timeout":"soon"}"#),
        Err(InvalidField {
            field: "timeout",
            expected: Expected::Number
        })
    );
    assert_eq!(timeout(r#"{"timeout":2.5}"#).unwrap().timeout_ms, Some(2));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for encoding in [Encoding::Json, Encoding::Cbor, Encoding::Bare] {
            let _ = ToServer::decode(&bytes, encoding);
            let _ = ToClient::decode(&bytes, encoding);
            let _ = HttpActionRequest::decode(&bytes, encoding);
            let _ = decode_http_action_response(&bytes, encoding);
            let _ = HttpQueueRequest::decode(&bytes, encoding);
            let _ = HttpQueueResponse::decode(&bytes, encoding);
            let _ = decode_http_error(&bytes, encoding);
        }
        let _ = compat::revive_cbor(&bytes);
        let _ = compat::escape_cbor(&bytes);
        let _ = compat::cbor_to_json(&bytes);
        let _ = crate::codec::ArrayDecoder::new(&bytes);
    }

    #[test]
    fn versioned_bare_prefixes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..128), tag in 0u8..4) {
        let mut bytes = vec![4, 0, tag];
        bytes.extend(tail);
        let _ = ToServer::decode(&bytes, Encoding::Bare);
        let _ = ToClient::decode(&bytes, Encoding::Bare);
    }

    /// Every JSON value without a compat marker converts, and comes back unchanged (a user
    /// array that looks like a marker travels escaped, `["$$tag", x]`, both ways). Markers
    /// themselves are checked one by one above.
    #[test]
    fn json_values_survive_the_round_trip(value in arb_json()) {
        let cbor = compat::json_to_cbor(&value);
        prop_assert!(cbor.is_ok(), "{:?} for {}", cbor, value);
        let back = compat::cbor_to_json(&cbor.unwrap_or_default()).unwrap();
        prop_assert_eq!(back, value);
    }
}

fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Json::from),
        // Plain text, or text that an escaped marker-like array starts with.
        prop_oneof!["[a-z]{0,6}", "\\$\\$[a-z]{0,4}"].prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}
