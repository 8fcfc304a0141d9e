//! Writes the starting corpus of each target (`fuzz/corpus/<target>/seed-*`) from real
//! messages made by the protocol's own encoders, so the fuzzer starts from valid input in
//! every encoding and both BARE versions. Run from `fuzz/`: `cargo run --bin seeds`.
#![allow(clippy::print_stdout)]

use rivet_client::ActorError;
use rivet_client::protocol::{
    Encoding, Frame, HttpActionRequest, HttpQueueRequest, ToClient, ToServer,
    encode_http_action_response, encode_http_error,
};

const ENCODINGS: [Encoding; 3] = [Encoding::Json, Encoding::Cbor, Encoding::Bare];

fn bytes(frame: Frame) -> Vec<u8> {
    match frame {
        Frame::Text(text) => text.into_bytes(),
        Frame::Binary(bytes) => bytes,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // CBOR: [5], ["a", {"n": -1}], 2^64-1, a tagged bigint.
    let args: [&[u8]; 4] = [
        &[0x81, 0x05],
        &[0x82, 0x61, b'a', 0xa1, 0x61, b'n', 0x20],
        &[0x81, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        &[0x81, 0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    ];
    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
    for encoding in ENCODINGS {
        for arg in args {
            let call = ToServer::ActionRequest {
                id: 7,
                name: "increment".to_owned(),
                args: arg.to_vec().into(),
            };
            seeds.push(("ws_to_server", bytes(call.encode(encoding)?)));
            seeds.push(("http_request", HttpActionRequest::encode(arg, encoding)?));
            let queue = HttpQueueRequest {
                body: arg[1..].to_vec().into(),
                name: Some("jobs".to_owned()),
                wait: true,
                timeout_ms: Some(1000),
                version: 4,
            };
            seeds.push(("http_request", queue.encode(encoding)?));
            for version in [3, 4] {
                let reply = ToClient::ActionResponse {
                    id: 7,
                    output: arg[1..].to_vec().into(),
                };
                seeds.push((
                    "ws_to_client",
                    bytes(reply.encode_versioned(encoding, version)?),
                ));
                seeds.push((
                    "http_response",
                    encode_http_action_response(&arg[1..], encoding, version)?,
                ));
            }
        }
        let subscribe = ToServer::SubscriptionRequest {
            event_name: "newCount".to_owned(),
            subscribe: true,
        };
        seeds.push(("ws_to_server", bytes(subscribe.encode(encoding)?)));
        let error =
            ActorError::new("user", "bad", "no").with_metadata(serde_json::json!({"a": [1]}));
        for version in [3, 4] {
            let messages = [
                ToClient::Init {
                    actor_id: "a1".to_owned(),
                    connection_id: "c1".to_owned(),
                },
                ToClient::Error {
                    error: error.clone(),
                    action_id: Some(3),
                },
                ToClient::Event {
                    name: "newCount".to_owned(),
                    args: vec![0x81, 0x05].into(),
                },
            ];
            for message in messages {
                seeds.push((
                    "ws_to_client",
                    bytes(message.encode_versioned(encoding, version)?),
                ));
            }
            seeds.push((
                "http_response",
                encode_http_error(&error, encoding, version),
            ));
        }
    }
    let json_args = [
        r#"[1,{"$BigInt":"18446744073709551616"},["$Uint8Array","AAE="]]"#,
        r#"{"a":{"$$b":1},"n":-1.5,"s":"\u00e9"}"#,
        r#"["$BigInt","-5"]"#,
    ];
    for text in json_args {
        seeds.push(("compat", text.as_bytes().to_vec()));
        seeds.push(("handshake", text.as_bytes().to_vec()));
    }
    for arg in args {
        seeds.push(("compat", arg.to_vec()));
    }
    let gateways = [
        "counter/action/increment\nrvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=room%2Ca%2Cb&rvt-input=gQU&x=1",
        "counter/connect\nrvt-namespace=default&rvt-method=get&rvt-key=a,b&rvt-token=t&rvt-skip-ready-wait=true",
        "abc123@tok/request/x/y\nq=1&r=%20",
        "abc123/websocket",
        "chatRoom/queue/jobs\nrvt-namespace=default&rvt-method=getOrCreate&rvt-pool=p&rvt-crash-policy=sleep&rvt-region=r",
    ];
    for text in gateways {
        seeds.push(("gateway", text.as_bytes().to_vec()));
    }
    let handshakes = [
        "rivet, rivet_encoding.bare, rivet_conn_params.%7B%22username%22%3A%22ana%22%7D",
        "rivet, rivet_encoding.cbor, rivet_token.t, rivet_actor.abc, rivet_target.actor",
        r#"{"username":"ana","n":{"$BigInt":"1"}}"#,
    ];
    for text in handshakes {
        seeds.push(("handshake", text.as_bytes().to_vec()));
    }
    let mut counts = std::collections::BTreeMap::new();
    for (target, seed) in seeds {
        let dir = std::path::Path::new("corpus").join(target);
        std::fs::create_dir_all(&dir)?;
        let n = counts.entry(target).or_insert(0);
        std::fs::write(dir.join(format!("seed-{n:03}")), seed)?;
        *n += 1;
    }
    println!("{counts:?}");
    Ok(())
}
